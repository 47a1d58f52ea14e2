# state: absent on a domain that carries everything libvirt refuses a plain undefine
# for, made for real on the tiny guest: a managed save image, an internal snapshot
# (with memory, in its qcow2 disk), a checkpoint (a bitmap in that disk) and a TPM
# emulator's state (swtpm, installed by scripts/setup.sh). The module picks the
# undefine flags from what the domain has; afterwards none of libvirt's files is left.
import glob
import os
import subprocess
import sys

import libvirt
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain, step  # noqa: E402
from sysenv import connect, tiny_xml, unique  # noqa: E402

import guests  # noqa: E402  (tests/guest, put on sys.path by sysenv)

DISK = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
        "<target dev='vdb' bus='virtio'/></disk>")
TPM = "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>"


@pytest.fixture
def conn():
    connection = connect()
    yield connection
    connection.close()


def leftovers(name, uuid):
    """libvirt's files for the domain: managed save, snapshot and checkpoint metadata, TPM state."""
    return (glob.glob('/var/lib/libvirt/qemu/save/%s.save' % name)
            + glob.glob('/var/lib/libvirt/qemu/snapshot/%s/*' % name)
            + glob.glob('/var/lib/libvirt/qemu/checkpoint/%s/*' % name)
            + glob.glob('/var/lib/libvirt/swtpm/%s' % uuid))


def test_absent_removes_managed_save_snapshots_checkpoints_and_tpm_state(conn, tmp_path):
    assert os.path.exists('/usr/bin/swtpm'), 'swtpm missing: run scripts/setup.sh'
    name = unique('absent')
    log = str(tmp_path / 'serial.log')
    disk = str(tmp_path / 'data.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '16M'], check=True)
    try:
        dom = conn.defineXML(tiny_xml(name, log, extra=DISK % disk + TPM))
        uuid = dom.UUIDString()
        dom.create()
        guests.wait_for_ready(log, timeout=90)
        dom.checkpointCreateXML('<domaincheckpoint><name>cp1</name></domaincheckpoint>', 0)
        dom.snapshotCreateXML('<domainsnapshot><name>s1</name></domainsnapshot>', 0)
        dom.managedSave(0)
        assert dom.hasManagedSaveImage(0) and dom.snapshotNum(0) == 1 and len(dom.listAllCheckpoints(0)) == 1
        found = leftovers(name, uuid)
        assert len(found) == 4, found
        with pytest.raises(libvirt.libvirtError):
            dom.undefine()  # what a plain undefine says to all this

        step(conn, name, 'virt_domain_state', dict(state='absent'), ['undefine'])
        assert leftovers(name, uuid) == []
        assert os.path.exists(disk), 'the disk image is removed only with remove_storage'
    finally:
        remove_domain(conn, name)
