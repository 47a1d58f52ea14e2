# Faults on the real daemon: libvirtd stopped before a task, libvirtd restarted during a
# long wait, a guest that ignores shutdown, a device the guest never releases, a missing
# disk image, a screenshot destination that cannot be written. For each: the message
# (one line, names the problem) and the state the domain is left in.
#
# Stops and restarts the system libvirtd (briefly; always restarted in `finally`), so
# it lives in its own file and pytest runs it serially, like the whole system suite.
import os
import sys
import threading
import time

import libvirt
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import one_line_problems, remove_domain, run_module, snapshot  # noqa: E402
from sysenv import (URI, answers, connect, noos_xml, restart_libvirtd, start_libvirtd,  # noqa: E402
                    stop_libvirtd, unique, wait_for)

NIC = "<interface type='user'><mac address='52:54:00:4d:00:02'/><model type='virtio'/></interface>"


@pytest.fixture
def noos():
    """A running no-OS guest (ignores ACPI, never releases hot-unplugged devices)."""
    conn = connect()
    name = unique('fault')
    try:
        conn.defineXML(noos_xml(name)).create()
    finally:
        conn.close()
    yield name
    # A fresh connection: the test may have restarted libvirtd, which ends the old ones.
    start_libvirtd()
    conn = connect()
    try:
        remove_domain(conn, name)
    finally:
        conn.close()


def state_of(name):
    conn = connect()
    try:
        return snapshot(conn, name)
    finally:
        conn.close()


def test_libvirtd_stopped_before_the_task(noos):
    before = state_of(noos)
    try:
        stop_libvirtd()
        for module, args in (('virt_domain_state', dict(name=noos, state='destroyed')),
                             ('virt_domain_info', dict(name=noos)),
                             ('virt_domain_device', dict(name=noos, xml=NIC))):
            result = run_module(module, args, URI)
            assert one_line_problems(result) == []
            assert 'cannot connect to libvirt at %s' % URI in result['msg'], result['msg']
            assert result.get('actions', []) == []
    finally:
        start_libvirtd()
    after = state_of(noos)
    assert after['state'][0] == libvirt.VIR_DOMAIN_RUNNING, 'the guest did not survive the outage'
    assert after['inactive'] == before['inactive'] and after['live'] == before['live']


def test_libvirtd_restarted_during_a_long_wait(noos):
    results = []
    thread = threading.Thread(target=lambda: results.append(run_module(
        'virt_domain_state', dict(name=noos, state='shutdown', timeout=20), URI)))
    started = time.monotonic()
    thread.start()
    try:
        time.sleep(1.5)  # the module is waiting for a shutdown the guest ignores
        restart_libvirtd()
    finally:
        start_libvirtd()
    thread.join(40)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), 'the module hangs after the daemon restarted'
    result = results[0]
    assert one_line_problems(result) == [], result
    # It fails clearly at once (the connection is gone), naming what was already done.
    assert elapsed < 15, 'took %.1f s: the lost connection was not noticed' % elapsed
    msg = result['msg']
    print('restart during wait: %s (%.1f s)' % (msg, elapsed))
    assert 'shutdown' in msg and ('connection' in msg.lower() or 'libvirtd' in msg), msg
    assert result['actions'] == ['shutdown']
    after = state_of(noos)
    assert after['state'][0] == libvirt.VIR_DOMAIN_RUNNING, 'the guest did not survive the restart'


def test_guest_ignores_shutdown(noos):
    before = state_of(noos)
    started = time.monotonic()
    result = run_module('virt_domain_state', dict(name=noos, state='shutdown', timeout=2), URI)
    assert one_line_problems(result) == []
    assert "did not shut down within 2 s: it is still running" in result['msg'], result['msg']
    assert 'force' in result['msg'] and result['actions'] == ['shutdown']
    assert 1.9 < time.monotonic() - started < 10
    after = state_of(noos)
    assert after['state'][0] == libvirt.VIR_DOMAIN_RUNNING and after['inactive'] == before['inactive']
    assert result['domain']['state'] == 'running'


def test_device_the_guest_never_releases(noos):
    conn = connect()
    try:
        dom = conn.lookupByName(noos)
        dom.attachDeviceFlags(NIC, libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        result = run_module('virt_domain_device', dict(name=noos, xml=NIC, state='absent', timeout=2), URI)
        assert one_line_problems(result) == []
        msg = result['msg']
        assert 'did not release' in msg and '52:54:00:4d:00:02' in msg and 'still in the live XML' in msg, msg
        assert 'persistent definition was changed (detach (config))' in msg, msg
        assert result['actions'] == ['detach (config)', 'detach (live)'] and result['changed']
        assert '52:54:00:4d:00:02' in dom.XMLDesc(0), 'the device left the running guest after all'
        assert '52:54:00:4d:00:02' not in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    finally:
        conn.close()


def test_missing_disk_image(tmp_path):
    conn = connect()
    name = unique('fault-disk')
    image = str(tmp_path / 'gone' / 'missing.qcow2')
    disk = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
            "<target dev='vda' bus='virtio'/></disk>" % image)
    try:
        result = run_module('virt_domain_state', dict(xml=noos_xml(name, extra=disk), state='running'), URI)
        assert one_line_problems(result) == []
        assert image in result['msg'], result['msg']
        assert 'failed step: create; already done before the failure: define' in result['msg'], result['msg']
        assert result['actions'] == ['define'] and result['failed_action'] == 'create'
        assert result['changed'] is True, 'the define was a change, whatever failed after it'
        dom = conn.lookupByName(name)
        assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF and dom.isPersistent()
        # started again on an existing definition: nothing to define, the start fails the same way
        again = run_module('virt_domain_state', dict(name=name, state='running'), URI)
        assert one_line_problems(again) == [] and image in again['msg'] and again['actions'] == []
        assert again['changed'] is False and again['failed_action'] == 'create'
        assert 'nothing' not in again['msg'] or 'already done' not in again['msg']
    finally:
        remove_domain(conn, name)
        conn.close()


@pytest.mark.parametrize('where,words', (
    ('parent-is-file', ['not a directory']),
    ('parent-missing', ['does not exist']),
    ('proc', ['cannot create a file in /proc']),
))
def test_screenshot_dest_cannot_be_written(noos, tmp_path, where, words):
    blocker = tmp_path / 'a-file'
    blocker.write_text('x')
    dest = dict(proc='/proc/domainops-%s.png' % noos, **{
        'parent-is-file': str(blocker / 'shot.png'), 'parent-missing': str(tmp_path / 'nope' / 'shot.png')})[where]
    before = state_of(noos)
    result = run_module('virt_domain_screenshot', dict(name=noos, dest=dest), URI)
    assert one_line_problems(result) == []
    for word in words:
        assert word in result['msg'], result['msg']
    assert 'nothing was written' in result['msg'] and result['actions'] == []
    assert not os.path.exists(dest) and sorted(os.listdir(tmp_path)) == ['a-file']
    assert state_of(noos)['state'] == before['state']


def teardown_module(_module):
    # Whatever happened above, leave a daemon that answers for the suites after this one.
    start_libvirtd()
    wait_for(answers, 30, 'libvirtd answering')
