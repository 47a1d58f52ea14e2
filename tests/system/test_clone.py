"""virt_domain_clone on the real daemon: linked and full clones of the tiny guest boot next
to their source with their own UUID and MAC; second runs change nothing; removing a clone
keeps the source's disk. Every change runs check, real, check, real."""

import os
import subprocess
import sys

import libvirt

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, 'lib'))
sys.path.insert(0, os.path.join(TESTS, 'guest'))
import guests  # noqa: E402
from modrun import remove_domain, run_module, snapshot_all, step  # noqa: E402
from sysenv import URI, connect, tiny_xml, unique  # noqa: E402

from ansible_collections.domainops.libvirt.plugins.module_utils.domain_xml import has_record  # noqa: E402

DEVICES = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
           "<target dev='vda' bus='virtio'/></disk><interface type='user'><model type='virtio'/></interface>")
SERIAL = "<domain><devices><serial type='file'><source path='%s'/><target port='0'/></serial></devices>%s</domain>"
M = 'virt_domain_clone'


def _mac(dom):
    from xml.etree import ElementTree
    return ElementTree.fromstring(dom.XMLDesc(0)).find('devices/interface/mac').get('address')


def _refused(conn, args, words, names):
    before = snapshot_all(conn, names)
    for check in (True, False):
        result = run_module(M, args, URI, check=check)
        assert result['failed'] and result['actions'] == [], result
        assert '\n' not in result['msg'] and 'nothing was changed' in result['msg'], result['msg']
        for word in words:
            assert word.lower() in result['msg'].lower(), (word, result['msg'])
    assert snapshot_all(conn, names) == before


def test_linked_and_full_clones_boot_next_to_their_source(tmp_path):
    conn = connect()
    src, linked, full = unique('clone-src'), unique('clone-lnk'), unique('clone-full')
    image = str(tmp_path / 'src.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', image, '16M'], check=True)
    logs = dict((n, str(tmp_path / ('%s.log' % n))) for n in (src, linked, full))
    try:
        source = conn.defineXML(tiny_xml(src, logs[src], extra=DEVICES % image))
        real = step(conn, linked, M, dict(source=src, mode='linked', xml=SERIAL % (logs[linked], '')),
                    ['linked_copy(vda)', 'define'])
        overlay = real['disks'][0]
        assert overlay == str(tmp_path / ('%s-vda.qcow2' % linked)) and os.path.exists(overlay)
        info = subprocess.run(['qemu-img', 'info', '-U', overlay], capture_output=True, text=True, check=True).stdout
        assert image in info  # backed by the source's image
        memory = "<memory unit='MiB'>96</memory>"
        step(conn, full, M, dict(source=src, xml=SERIAL % (logs[full], memory)), ['full_copy(vda)', 'define'])
        clone_l, clone_f = conn.lookupByName(linked), conn.lookupByName(full)
        assert has_record(clone_f.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        assert clone_f.maxMemory() == 96 * 1024

        # a different xml: an error, unless converge
        names = [src, linked, full]
        other = SERIAL % (logs[full], "<memory unit='MiB'>112</memory>")
        _refused(conn, dict(name=full, source=src, xml=other), ['differs', 'converge', 'memory'], names)
        step(conn, full, M, dict(source=src, xml=other, converge=True), ['define'])
        assert clone_f.maxMemory() == 112 * 1024

        # the full clone boots next to its source; the linked one next to the full one (QEMU
        # locks the base image of a linked clone against a running source writing to it)
        for dom in (source, clone_f):
            dom.create()
        for name in (src, full):
            guests.wait_for_ready(logs[name], timeout=300)
        _refused(conn, dict(name=unique('clone-x'), source=src), ['running', 'allow_running'], names)
        _refused(conn, dict(name=src, source=full), ['exists', 'not a clone'], names)
        source.destroy()
        clone_l.create()
        guests.wait_for_ready(logs[linked], timeout=300)
        assert clone_f.isActive() and clone_l.isActive()
        assert len(set(d.UUIDString() for d in (source, clone_l, clone_f))) == 3
        assert len(set(_mac(d) for d in (source, clone_l, clone_f))) == 3
        clone_l.destroy()

        # removing the clones deletes their images, never the source's
        step(conn, linked, M, dict(state='absent'), ['undefine', 'delete_file(%s)' % overlay])
        copy = str(tmp_path / ('%s-vda.qcow2' % full))
        step(conn, full, M, dict(state='absent'), ['destroy', 'undefine', 'delete_file(%s)' % copy])
        assert not os.path.exists(overlay) and not os.path.exists(copy)
        subprocess.run(['qemu-img', 'check', '-q', image], check=True)
    finally:
        cleanup = connect()  # a fresh connection: a daemon restart must not leak the guests
        for name in (linked, full, src):
            remove_domain(cleanup, name)
        cleanup.close()
