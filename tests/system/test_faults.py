# Faults on the real daemon: libvirtd stopped before a task, libvirtd restarted or stopped
# during a long wait (shutdown, device removal), a guest that ignores shutdown, a device
# the guest never releases, a missing disk image, a screenshot destination that cannot
# be written. For each: the message
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
from modrun import one_line_problems, remove_domain, run_module, snapshot, warnings_of  # noqa: E402
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


def in_thread(module, args):
    """Run a module in a thread; returns (thread, results list, start time)."""
    results = []
    thread = threading.Thread(target=lambda: results.append(run_module(module, args, URI)))
    started = time.monotonic()
    thread.start()
    return thread, results, started


def finished(thread, results, started, timeout):
    """The result; the task must end within its own timeout plus a few seconds, never hang."""
    thread.join(timeout + 30)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), 'the module hangs after libvirtd went away'
    assert elapsed < timeout + 6, 'took %.1f s with a timeout of %s s' % (elapsed, timeout)
    return results[0], elapsed


def qemu_pid(name):
    with open('/run/libvirt/qemu/%s.pid' % name) as handle:
        return int(handle.read().strip())


def test_libvirtd_restarted_during_a_long_wait(noos):
    """The guest ignores the request: the task reconnects, waits out its timeout, says so."""
    thread, results, started = in_thread('virt_domain_state', dict(name=noos, state='shutdown', timeout=10))
    try:
        time.sleep(1.5)  # the module is waiting for a shutdown the guest ignores
        restart_libvirtd()
    finally:
        start_libvirtd()
    result, elapsed = finished(thread, results, started, 10)
    assert one_line_problems(result) == [], result
    msg = result['msg']
    print('restart during wait: %s (%.1f s)' % (msg, elapsed))
    assert 'did not shut down within 10 s' in msg and 'opened again' in msg, msg
    assert 'already done before the failure: shutdown' in msg and result['actions'] == ['shutdown'], msg
    assert result['changed'] is True and elapsed >= 9.5
    after = state_of(noos)
    assert after['state'][0] == libvirt.VIR_DOMAIN_RUNNING, 'the guest did not survive the restart'


def test_the_guest_powers_off_while_libvirtd_is_down(noos):
    """The wait outlives the daemon: libvirtd stops, the guest goes off meanwhile (its QEMU
    ends), libvirtd comes back: the task reconnects, sees the goal met and succeeds."""
    thread, results, started = in_thread('virt_domain_state', dict(name=noos, state='shutdown', timeout=30))
    try:
        time.sleep(1.5)
        pid = qemu_pid(noos)
        stop_libvirtd()
        os.kill(pid, 15)  # QEMU ends as when the guest powers off
        wait_for(lambda: not os.path.exists('/proc/%d' % pid), 10, 'QEMU gone')
    finally:
        start_libvirtd()
    result, elapsed = finished(thread, results, started, 30)
    assert not result['failed'], result['msg']
    print('guest off while libvirtd was down: ok after %.1f s, warnings %s' % (elapsed, warnings_of(result)))
    assert result['changed'] and result['actions'] == ['shutdown'] and result['domain']['state'] == 'shutoff'
    assert any('opened again' in w for w in warnings_of(result)), warnings_of(result)
    assert elapsed < 25


def test_libvirtd_stopped_for_good_during_a_wait(noos):
    """libvirtd does not come back in time: the task ends at its timeout, saying what it did."""
    thread, results, started = in_thread('virt_domain_state', dict(name=noos, state='shutdown', timeout=6))
    try:
        time.sleep(1.5)
        stop_libvirtd()
        result, elapsed = finished(thread, results, started, 6)
    finally:
        start_libvirtd()
    assert one_line_problems(result) == [], result
    msg = result['msg']
    print('libvirtd stopped during wait: %s (%.1f s)' % (msg, elapsed))
    assert 'lost while waiting' in msg and 'could not be opened again' in msg, msg
    assert 'already done before the failure: shutdown' in msg and result['changed'] is True, msg
    assert state_of(noos)['state'][0] == libvirt.VIR_DOMAIN_RUNNING


def test_libvirtd_restarted_during_a_device_removal_wait(noos):
    conn = connect()
    try:
        conn.lookupByName(noos).attachDeviceFlags(NIC, libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    finally:
        conn.close()
    thread, results, started = in_thread('virt_domain_device', dict(name=noos, xml=NIC, state='absent', timeout=14))
    try:
        # libvirt's detach call itself waits 5 s for the guest before it returns; the
        # module's own wait (for DEVICE_REMOVED or the live XML) comes after it.
        time.sleep(7)
        restart_libvirtd()
    finally:
        start_libvirtd()
    result, elapsed = finished(thread, results, started, 14)
    assert one_line_problems(result) == [], result
    msg = result['msg']
    print('restart during device removal wait: %s (%.1f s)' % (msg, elapsed))
    assert 'did not release' in msg and 'within 14 s' in msg and 'opened again' in msg, msg
    assert result['actions'] == ['detach (config)', 'detach (live)'] and result['changed'] is True
    after = state_of(noos)
    assert '52:54:00:4d:00:02' in after['live'] and '52:54:00:4d:00:02' not in after['inactive']


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
