"""virt_domain_snapshot on the real daemon with the tiny guest and a qcow2 disk.

A marker (a byte pattern in the disk's first sector) shows what a revert brings back:
written with qemu-io on the image of the shut-off guest, and through QEMU's own block
layer (HMP qemu-io) on the running one. Every change runs check, real, check, real.
"""

import os
import subprocess
import sys

import libvirt
import libvirt_qemu

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, 'lib'))
sys.path.insert(0, os.path.join(TESTS, 'guest'))
import guests  # noqa: E402
from modrun import remove_domain, run_module, step  # noqa: E402
from sysenv import URI, connect, tiny_xml, unique  # noqa: E402

SNAPSHOT_METADATA = '/var/lib/libvirt/qemu/snapshot'
DISK = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
        "<target dev='vda' bus='virtio'/></disk>")
HMP = libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP
VDA = '/machine/peripheral/virtio-disk0/virtio-backend'


def _image(tmp_path):
    path = str(tmp_path / 'vda.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', path, '16M'], check=True)
    return path


def _offline(path, command, shared=False):
    # shared: read an image a running QEMU holds (-U: no lock, -r: read-only)
    options = ['-U', '-r'] if shared else []
    proc = subprocess.run(['qemu-io'] + options + ['-f', 'qcow2', '-c', command, path], capture_output=True, text=True,
                          check=False)
    out = proc.stdout + proc.stderr
    # a pattern mismatch exits 1 as well: has_marker reads it from the output
    assert proc.returncode == 0 or 'Pattern verification failed' in out, out
    return out


def _live(dom, command):
    out = libvirt_qemu.qemuMonitorCommand(dom, 'qemu-io -d %s "%s"' % (VDA, command), HMP)
    assert 'Error' not in out, out


def write_marker(where, byte):
    """Write the marker into the image (a path: the guest is shut off) or, through the running
    QEMU's block layer, into the disk of the running domain (flushed to the image)."""
    command = 'write -P 0x%x 0 512' % byte
    if isinstance(where, str):
        _offline(where, command)
    else:
        _live(where, command)
        _live(where, 'flush')


def has_marker(image, byte, running=False):
    out = _offline(image, 'read -P 0x%x 0 512' % byte, shared=running)
    return 'Pattern verification failed' not in out


def names(dom):
    return sorted(s.getName() for s in dom.listAllSnapshots(0))


def info_snapshots(name):
    result = run_module('virt_domain_info', dict(name=name, snapshots=True), URI)
    assert not result['failed'], result['msg']
    return dict((s['name'], s) for s in result['domains'][0]['snapshots'])


def refused(name, args, words, dom):
    before = names(dom), dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    for check in (True, False):
        result = run_module('virt_domain_snapshot', dict(args, name=name), URI, check=check)
        assert result['failed'] and result['actions'] == [], result
        assert '\n' not in result['msg'] and 'nothing was changed' in result['msg'], result['msg']
        for word in words:
            assert word.lower() in result['msg'].lower(), (word, result['msg'])
    assert (names(dom), dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)) == before
    return result['msg']


def test_snapshots_of_the_shut_off_guest(tmp_path):
    conn = connect()
    name = unique('snap-off')
    image = _image(tmp_path)
    try:
        dom = conn.defineXML(tiny_xml(name, str(tmp_path / 'serial.log'), extra=DISK % image))
        M = 'virt_domain_snapshot'
        write_marker(image, 0x41)
        real = step(conn, name, M, dict(snapshot='s1', description='first'), ['create_snapshot(internal)'])
        assert real['snapshot']['kind'] == 'internal' and real['snapshot']['state'] == 'shutoff'
        assert real['snapshot']['memory'] is False and real['snapshot']['current'] is True

        # a later change, then a second snapshot (which becomes the current one)
        write_marker(image, 0x42)
        assert not has_marker(image, 0x41)
        step(conn, name, M, dict(snapshot='s2', description='one'), ['create_snapshot(internal)'])
        listed = info_snapshots(name)
        assert sorted(listed) == ['s1', 's2'] and listed['s2']['parent'] == 's1' and listed['s2']['current']
        assert listed['s1']['creation_time'] > 0 and listed['s1']['kind'] == 'internal'
        # the default listing reads no snapshot
        plain = run_module('virt_domain_info', dict(name=name), URI)
        assert 'snapshots' not in plain['domains'][0]

        # a different description: updated in place; the snapshot stays current
        step(conn, name, M, dict(snapshot='s2', description='two'), ['redefine_snapshot(description)'])
        assert dom.snapshotLookupByName('s2').isCurrent() and info_snapshots(name)['s2']['description'] == 'two'
        refused(name, dict(snapshot='s2', kind='external'), ['internal', 'external', 's2'], dom)

        # back to s1: the marker written before it is back
        step(conn, name, M, dict(snapshot='s1', state='current'), ['revert_to_snapshot(shutoff)'])
        assert has_marker(image, 0x41)
        assert dom.snapshotLookupByName('s1').isCurrent()

        # delete without children: s2 goes, s1 stays
        real = step(conn, name, M, dict(snapshot='s2', state='absent'), ['delete_snapshot(internal)'])
        assert real['deleted'] == ['s2'] and names(dom) == ['s1']
        # s3 child of s1, s4 child of s3; deleting s3 with its children leaves s1
        step(conn, name, M, dict(snapshot='s3'), ['create_snapshot(internal)'])
        step(conn, name, M, dict(snapshot='s4'), ['create_snapshot(internal)'])
        real = step(conn, name, M, dict(snapshot='s3', state='absent', children=True),
                    ['delete_snapshot(internal, children)'])
        assert sorted(real['deleted']) == ['s3', 's4'] and names(dom) == ['s1']
        step(conn, name, M, dict(snapshot='s1', state='absent'), ['delete_snapshot(internal)'])
        assert names(dom) == []

        # external disk-only: an overlay file the domain now writes to
        overlay = str(tmp_path / 'vda-e1.qcow2')
        real = step(conn, name, M, dict(snapshot='e1', kind='external', disks=[dict(name='vda', file=overlay)]),
                    ['create_snapshot(external)'])
        assert real['snapshot']['kind'] == 'external' and real['snapshot']['disks'][0]['file'] == overlay
        assert os.path.exists(overlay) and "file='%s'" % overlay in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        # an internal child of an external snapshot; libvirt 9.0 cannot revert to e1
        step(conn, name, M, dict(snapshot='e2', kind='external', disks=[dict(name='vda', file=overlay + '.2')]),
             ['create_snapshot(external)'])
        msg = refused(name, dict(snapshot='e1', state='current'), ['cannot revert', 'external', '9.9.0'], dom)
        assert 'e1' in msg
        # libvirt 9.0 deletes external snapshots one by one, newest first (merging each overlay)
        refused(name, dict(snapshot='e1', state='absent', children=True), ['one at a time', 'e2'], dom)
        step(conn, name, M, dict(snapshot='e2', state='absent'), ['delete_snapshot(external)'])
        assert "file='%s'" % overlay in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        step(conn, name, M, dict(snapshot='e1', state='absent'), ['delete_snapshot(external)'])
        assert names(dom) == [] and "file='%s'" % image in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert has_marker(image, 0x41)

        # a snapshot left on the domain: state absent removes its metadata with the domain
        step(conn, name, M, dict(snapshot='last'), ['create_snapshot(internal)'])
        assert os.path.isdir(os.path.join(SNAPSHOT_METADATA, name))
        result = run_module('virt_domain_state', dict(name=name, state='absent'), URI)
        assert not result['failed'] and result['changed'], result['msg']
        assert not os.path.exists(os.path.join(SNAPSHOT_METADATA, name, 'last.xml'))
    finally:
        cleanup = connect()  # a fresh connection: a daemon restart must not leak the guest
        remove_domain(cleanup, name)
        cleanup.close()


def test_snapshot_of_the_running_guest_with_memory(tmp_path):
    conn = connect()
    name = unique('snap-run')
    image = _image(tmp_path)
    log = str(tmp_path / 'serial.log')
    try:
        dom = conn.defineXML(tiny_xml(name, log, extra=DISK % image))
        dom.create()
        guests.wait_for_ready(log, timeout=240)
        M = 'virt_domain_snapshot'
        write_marker(dom, 0x51)
        real = step(conn, name, M, dict(snapshot='r1'), ['create_snapshot(internal, memory)'])
        assert real['snapshot']['memory'] is True and real['snapshot']['state'] == 'running'
        write_marker(dom, 0x52)
        assert not has_marker(image, 0x51, running=True)
        # bad input on a running guest: disk-only internal, quiesce without an agent
        refused(name, dict(snapshot='r2', memory=False), ['internal', 'memory', 'external'], dom)
        refused(name, dict(snapshot='q1', kind='external', quiesce=True), ['agent', 'quiesce'], dom)
        step(conn, name, M, dict(snapshot='r2'), ['create_snapshot(internal, memory)'])

        # back to r1: running again, the marker of before is back
        step(conn, name, M, dict(snapshot='r1', state='current'), ['revert_to_snapshot(running)'])
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        assert has_marker(image, 0x51, running=True)
        # the same snapshot, asked to end shut off
        step(conn, name, M, dict(snapshot='r1', state='current', domain_state='shutoff'),
             ['revert_to_snapshot(shutoff)', 'destroy'])
        assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
        refused(name, dict(snapshot='nosuch', state='current'), ['nosuch', 'not found'], dom)
        refused(name, dict(snapshot='a/b'), ['invalid snapshot name', 'a/b'], dom)
    finally:
        cleanup = connect()  # a fresh connection: a daemon restart must not leak the guest
        remove_domain(cleanup, name)
        cleanup.close()
