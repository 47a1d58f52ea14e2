# Check mode never mutates, and predicts the real run: for every module and every
# state/option combination the test driver (test:///default, in-process) can reach.
#
# Each case: put the domain in its starting state, snapshot it (live and inactive XML
# with secrets, state and reason, persistence, autostart, managed save), run the task
# in check mode (with --diff), snapshot again (must be byte-identical), run the task
# for real and compare: same `changed`, same `actions`, same final state. Paths the
# test driver cannot take (device changes, shutdown of a real guest, reboot events)
# are in tests/system/test_check_mode_system.py against qemu:///system.
import os
import sys

import libvirt
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import run_module, snapshot  # noqa: E402

from conftest import TEST_URI, minimal_domain_xml  # noqa: E402

STATES = ('present', 'running', 'paused', 'shutdown', 'destroyed', 'absent', 'rebooted', 'reset')
STARTS = ('absent', 'shutoff', 'running', 'paused', 'transient', 'managed_save')
XMLS = ('none', 'same', 'changed')


def _put_in_state(conn, name, start):
    if start == 'absent':
        return
    if start == 'transient':
        conn.createXML(minimal_domain_xml(name), 0)
        return
    dom = conn.defineXML(minimal_domain_xml(name))
    if start in ('running', 'paused', 'managed_save'):
        dom.create()
    if start == 'paused':
        dom.suspend()
    if start == 'managed_save':
        dom.managedSave(0)


def _compare(conn, name, module, args, check_diff=True):
    """Check run (must not mutate), then real run; returns (check result, real result)."""
    before = snapshot(conn, name)
    checked = run_module(module, args, TEST_URI, check=True, diff=check_diff)
    assert not checked.get('crashed'), checked.get('traceback')
    assert snapshot(conn, name) == before, 'check mode changed domain %s' % name
    real = run_module(module, args, TEST_URI)
    assert not real.get('crashed'), real.get('traceback')
    assert checked['failed'] == real['failed'], (checked.get('msg'), real.get('msg'))
    assert checked.get('actions') == real.get('actions'), 'check mode predicted %s, the real run did %s' % (
        checked.get('actions'), real.get('actions'))
    if not real['failed']:
        assert checked['changed'] == real['changed']
    return checked, real


STATE_CASES = [(s, w, x) for s in STARTS for w in STATES for x in XMLS
               if not (s == 'transient' and x == 'none' and w == 'present')]


@pytest.mark.parametrize('start,want,xml', STATE_CASES, ids=['%s-%s-xml_%s' % c for c in STATE_CASES])
def test_virt_domain_state(conn, unique_name, start, want, xml):
    _put_in_state(conn, unique_name, start)
    args = dict(name=unique_name, state=want, timeout=10)
    if xml == 'same':
        args['xml'] = minimal_domain_xml(unique_name)
    elif xml == 'changed':
        args['xml'] = minimal_domain_xml(unique_name, memory_mib=96)
    try:
        checked, real = _compare(conn, unique_name, 'virt_domain_state', args)
        if not real['failed']:
            assert checked['domain']['state'] == real['domain']['state']
            assert checked['domain']['persistent'] == real['domain']['persistent']
            assert checked['restart_required'] == real['restart_required']
            assert checked['differences'] == real['differences']
            # rebooted/reset are actions: a change each time. A transient domain that
            # stopped is gone: asking for it again without xml is an error, not a no-op.
            if want not in ('rebooted', 'reset') and (want == 'absent' or real['domain']['state'] != 'absent'):
                again = run_module('virt_domain_state', args, TEST_URI, check=True)
                assert again['actions'] == [] and again['changed'] is False, again
    finally:
        _remove(conn, unique_name)


AUTOSTART_CASES = [(s, a, e) for s in ('shutoff', 'running', 'transient') for a in (False, True)
                   for e in (False, True) if not (s == 'transient' and a)]


@pytest.mark.parametrize('start,autostart,enabled', AUTOSTART_CASES,
                         ids=['%s-autostart_%s-enabled_%s' % c for c in AUTOSTART_CASES])
def test_virt_domain_autostart(conn, unique_name, start, autostart, enabled):
    _put_in_state(conn, unique_name, start)
    try:
        if autostart:
            conn.lookupByName(unique_name).setAutostart(1)
        _compare(conn, unique_name, 'virt_domain_autostart', dict(name=unique_name, enabled=enabled))
    finally:
        _remove(conn, unique_name)


DISK = "<disk type='file' device='disk'><source file='/tmp/x.img'/><target dev='vda' bus='virtio'/></disk>"
DEVICE_CASES = [(s, st, d) for s in ('shutoff', 'running') for st in ('present', 'absent')
                for d in ('vda', 'vdb') if (st, d) != ('present', 'vdb')]


@pytest.mark.parametrize('start,state,dev', DEVICE_CASES, ids=['%s-%s-%s' % c for c in DEVICE_CASES])
def test_virt_domain_device_no_change_paths(conn, unique_name, start, state, dev):
    """The test driver cannot attach or detach: only the paths that need no call here."""
    dom = conn.defineXML(minimal_domain_xml(unique_name, extra=DISK))
    if start == 'running':
        dom.create()
    try:
        args = dict(name=unique_name, state=state, xml=DISK.replace("'vda'", "'%s'" % dev))
        if (state, dev) == ('absent', 'vda'):
            # A detach the test driver refuses: check mode plans it, the real run fails
            # clearly having done nothing; both leave the domain as it was.
            before = snapshot(conn, unique_name)
            checked = run_module('virt_domain_device', args, TEST_URI, check=True, diff=True)
            expected = ['detach (config)'] + (['detach (live)'] if start == 'running' else [])
            assert checked['changed'] and checked['actions'] == expected
            assert snapshot(conn, unique_name) == before
            real = run_module('virt_domain_device', args, TEST_URI)
            assert real['failed'] and 'does not support' in real['msg'] and real['actions'] == []
            assert snapshot(conn, unique_name) == before
            return
        checked, real = _compare(conn, unique_name, 'virt_domain_device', args)
        assert real['actions'] == [] and not real['changed']
    finally:
        _remove(conn, unique_name)


@pytest.mark.parametrize('existing', ('none', 'other', 'same'))
def test_virt_domain_screenshot(conn, unique_name, tmp_path, existing):
    _put_in_state(conn, unique_name, 'running')
    dest = tmp_path / 'shot.png'
    try:
        if existing == 'other':
            dest.write_bytes(b'not this picture')
        elif existing == 'same':
            assert not run_module('virt_domain_screenshot', dict(name=unique_name, dest=str(dest)), TEST_URI)['failed']
        content = dest.read_bytes() if dest.exists() else None
        args = dict(name=unique_name, dest=str(dest))
        before = snapshot(conn, unique_name)
        checked = run_module('virt_domain_screenshot', args, TEST_URI, check=True)
        assert snapshot(conn, unique_name) == before
        assert (dest.read_bytes() if dest.exists() else None) == content, 'check mode wrote dest'
        assert [p for p in os.listdir(tmp_path) if p != 'shot.png'] == [], 'check mode left files behind'
        real = run_module('virt_domain_screenshot', args, TEST_URI)
        assert checked['actions'] == real['actions'] == ([] if existing == 'same' else ['write %s' % dest])
        assert checked['changed'] == real['changed'] and checked['sha256'] == real['sha256']
    finally:
        _remove(conn, unique_name)


@pytest.mark.parametrize('start', ('running', 'paused'))
@pytest.mark.parametrize('keys', (dict(keys=['KEY_A']), dict(sequence=[['KEY_LEFTCTRL', 'KEY_C'], 'KEY_ENTER']),
                                  dict(text='hi'), dict(keys=[30], codeset='linux', holdtime=10)),
                         ids=('keys', 'sequence', 'text', 'keycode'))
def test_virt_domain_send_key(conn, unique_name, start, keys):
    _put_in_state(conn, unique_name, start)
    try:
        checked, real = _compare(conn, unique_name, 'virt_domain_send_key', dict(name=unique_name, **keys))
        assert real['actions'] and real['changed']
    finally:
        _remove(conn, unique_name)


@pytest.mark.parametrize('args', (dict(), dict(xml=True, xml_flags=['inactive', 'secure']), dict(states=['running']),
                                  dict(active=False, persistent=True)), ids=('all', 'xml', 'states', 'filters'))
def test_virt_domain_info(conn, unique_name, args):
    _put_in_state(conn, unique_name, 'running')
    try:
        before = snapshot(conn, unique_name)
        checked = run_module('virt_domain_info', args, TEST_URI, check=True)
        assert not checked['failed'] and not checked['changed']
        assert snapshot(conn, unique_name) == before
    finally:
        _remove(conn, unique_name)


def _remove(conn, name):
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    if dom.isActive():
        dom.destroy()
    try:
        if dom.isPersistent():
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
    except libvirt.libvirtError:
        pass
