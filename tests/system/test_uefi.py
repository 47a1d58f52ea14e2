# UEFI guests on the real daemon: libvirt picks the OVMF firmware (package ovmf,
# installed by scripts/setup.sh) from <os firmware='efi'>, creates the guest's NVRAM
# file at its first start, and then refuses a plain undefine ("cannot undefine domain
# with nvram"). virt_domain_state must define such a guest idempotently and remove it,
# NVRAM included, with state absent. Every change runs check, real, check, real.
import os
import sys

import libvirt
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain, step  # noqa: E402
from sysenv import connect, unique  # noqa: E402

UEFI_XML = """<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='q35'>hvm</type>
    <firmware><feature enabled='no' name='secure-boot'/></firmware>
  </os>
  <features><acpi/><apic/></features>
  <devices><video><model type='vga'/></video></devices>
</domain>"""


@pytest.fixture
def conn():
    connection = connect()
    yield connection
    connection.close()


def nvram_path(dom):
    """The guest's NVRAM file as libvirt reports it in the live XML."""
    from lxml import etree
    return etree.fromstring(dom.XMLDesc(0).encode()).findtext('os/nvram')


def test_uefi_guest_defined_started_and_removed_with_its_nvram(conn):
    assert os.path.isdir('/usr/share/qemu/firmware'), 'OVMF firmware descriptors missing: run scripts/setup.sh'
    name = unique('uefi')
    xml = UEFI_XML % name
    try:
        step(conn, name, 'virt_domain_state', dict(xml=xml, state='running'), ['define', 'create'])
        dom = conn.lookupByName(name)
        nvram = nvram_path(dom)
        assert nvram and os.path.isfile(nvram), 'libvirt made no NVRAM file for the UEFI guest'
        # Running, the definition still matches: the firmware libvirt picked is not a change.
        step(conn, name, 'virt_domain_state', dict(xml=xml, state='running'), [])
        step(conn, name, 'virt_domain_state', dict(state='destroyed'), ['destroy'])

        # A plain undefine is refused because of the NVRAM file: the module picks the flag.
        with pytest.raises(libvirt.libvirtError, match='nvram'):
            dom.undefine()
        step(conn, name, 'virt_domain_state', dict(state='absent'), ['undefine'])
        assert not os.path.exists(nvram), 'the NVRAM file was left behind'
    finally:
        remove_domain(conn, name)
