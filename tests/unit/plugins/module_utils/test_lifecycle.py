# module_utils/lifecycle.py on libvirt's test driver (test:///default), in-process.
#
# The paths the module tests cannot reach on the test driver are driven here with
# small stand-ins: a guest that ignores shutdown requests, a remote-looking
# connection, an engine that always sees a difference, reboot events.
import types

import libvirt
import pytest

from ansible_collections.domainops.libvirt.plugins.module_utils import domain_xml, lifecycle, storage_cleanup
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import (
    InputError, LibvirtCallError, WaitTimeout)
from ansible_collections.domainops.libvirt.plugins.module_utils.events import start_event_loop
from ansible_collections.domainops.libvirt.plugins.module_utils.module import Task

from conftest import TEST_URI, minimal_domain_xml

DEFAULTS = dict(uri=TEST_URI, name=None, uuid=None, xml=None, state='present', timeout=5, force=False,
                shutdown_mode=[], remove_storage=False, keep_storage=[], validate=True)


class Proxy(object):
    """Wraps a libvirt object; attributes given as keywords replace the real ones."""

    def __init__(self, wrapped, **overrides):
        self._wrapped = wrapped
        self.__dict__.update(overrides)

    def __getattr__(self, name):
        return getattr(self._wrapped, name)


@pytest.fixture
def events_conn(conn):
    # Events need the loop registered before the connection opens; the `conn`
    # fixture keeps the test driver's state alive meanwhile.
    start_event_loop()
    connection = libvirt.open(TEST_URI)
    yield connection
    connection.close()


def make_task(conn, check=False, **params):
    module = types.SimpleNamespace(params=dict(DEFAULTS, **params), check_mode=check, _diff=False)
    task = Task(module)
    task.conn = conn
    return task


def run_state(conn, check=False, dom=None, **params):
    task = make_task(conn, check=check, **params)
    run = lifecycle.DomainStateRun(task)
    if dom is not None:  # hand the run a wrapped domain instead of looking it up
        run._find_domain = lambda: dom
    return task, run.run()


def test_mode_flags():
    assert lifecycle.mode_flags([], 'SHUTDOWN') == 0
    assert lifecycle.mode_flags(['acpi', 'agent'], 'SHUTDOWN') == (
        libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN | libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT)
    assert lifecycle.mode_flags(['signal', 'initctl', 'paravirt'], 'REBOOT') == (
        libvirt.VIR_DOMAIN_REBOOT_SIGNAL | libvirt.VIR_DOMAIN_REBOOT_INITCTL | libvirt.VIR_DOMAIN_REBOOT_PARAVIRT)


def test_mode_flags_missing_constant(monkeypatch):
    monkeypatch.delattr(libvirt, 'VIR_DOMAIN_SHUTDOWN_PARAVIRT')
    with pytest.raises(InputError, match='VIR_DOMAIN_SHUTDOWN_PARAVIRT'):
        lifecycle.mode_flags(['paravirt'], 'SHUTDOWN')


def test_undefine_flags_follow_what_the_domain_has(conn, define_domain, unique_name):
    dom = define_domain(minimal_domain_xml(unique_name))
    task = make_task(conn, name=unique_name)
    run = lifecycle.DomainStateRun(task)
    run.dom = dom
    assert run._undefine_flags() == 0
    dom.create()
    dom.managedSave(0)
    dom.snapshotCreateXML('<domainsnapshot><name>s1</name></domainsnapshot>', 0)
    assert run._undefine_flags() == (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                                     | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)


def test_undefine_drops_rejected_flags_and_warns(conn, define_domain, unique_name):
    dom = define_domain(minimal_domain_xml(unique_name).replace(
        '</os>', '<loader readonly="yes" type="pflash">/usr/share/OVMF/OVMF_CODE.fd</loader>'
                 '<nvram>/tmp/%s_VARS.fd</nvram></os>' % unique_name))
    task = make_task(conn, name=unique_name)
    run = lifecycle.DomainStateRun(task)
    run.dom = dom
    flags = run._undefine_flags()
    assert flags == libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    run._undefine(flags)
    assert task.warnings and 'VIR_DOMAIN_UNDEFINE_NVRAM' in task.warnings[0]
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(unique_name)


def test_undefine_other_errors_are_not_swallowed(conn, define_domain, unique_name):
    def refuse(_flags):
        raise libvirt.libvirtError('refused')
    dom = define_domain(minimal_domain_xml(unique_name))
    run = lifecycle.DomainStateRun(make_task(conn, name=unique_name))
    run.dom = Proxy(dom, undefineFlags=refuse)
    with pytest.raises(libvirt.libvirtError):
        run._undefine(0)


def test_shutdown_timeout_names_the_state(events_conn, define_domain, unique_name):
    # A guest that ignores the request (like one without an OS).
    dom = define_domain(minimal_domain_xml(unique_name))
    dom.create()
    deaf = Proxy(events_conn.lookupByName(unique_name), shutdownFlags=lambda flags: 0)
    with pytest.raises(WaitTimeout, match="did not shut down within 1 s: it is still running") as failure:
        run_state(events_conn, dom=deaf, name=unique_name, state='shutdown', timeout=1)
    assert failure.value.details['waited'] >= 0.9
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_shutdown_timeout_with_force_destroys(events_conn, define_domain, unique_name):
    dom = define_domain(minimal_domain_xml(unique_name))
    dom.create()
    deaf = Proxy(events_conn.lookupByName(unique_name), shutdownFlags=lambda flags: 0)
    task, result = run_state(events_conn, dom=deaf, name=unique_name, state='shutdown', timeout=1, force=True)
    assert result['changed'] and task.actions == ['shutdown', 'destroy']
    assert result['domain']['state'] == 'shutoff'
    assert result['waited'] >= 0.9
    assert any('destroyed it (force)' in w for w in task.warnings)


def test_shutdown_waits_for_the_event(events_conn, define_domain, unique_name):
    dom = define_domain(minimal_domain_xml(unique_name))
    dom.create()
    task, result = run_state(events_conn, name=unique_name, state='shutdown', timeout=5)
    assert task.actions == ['shutdown'] and result['domain']['state'] == 'shutoff'
    assert result['waited'] < 5


def test_reboot_condition():
    run = lifecycle.DomainStateRun(make_task(None))
    run.task.domain_label = "'x'"
    seen = types.SimpleNamespace(reboots=0, lifecycle=[])
    run._refresh = lambda: None
    run.active = True
    assert run._rebooted(seen) is False
    seen.reboots = 1
    assert run._rebooted(seen) is True
    seen.reboots, seen.lifecycle = 0, [(libvirt.VIR_DOMAIN_EVENT_STARTED, 0)]
    assert run._rebooted(seen) is True
    seen.lifecycle = [(libvirt.VIR_DOMAIN_EVENT_STOPPED, 0)]
    run.active = False
    with pytest.raises(LibvirtCallError, match='shut off instead of rebooting'):
        run._rebooted(seen)


def test_define_guard_reports_no_change(conn, unique_name, monkeypatch):
    # An engine that always sees a difference: libvirt stores the same again.
    first_task, first = run_state(conn, xml=minimal_domain_xml(unique_name))
    assert first_task.actions == ['define'] and first['applied_record'] == 'written'
    real_paths = domain_xml.Comparison.paths

    def always_different(comparison):
        return real_paths.fget(comparison) + ['on_crash']
    monkeypatch.setattr(domain_xml.Comparison, 'paths', property(always_different))
    task, result = run_state(conn, xml=minimal_domain_xml(unique_name))
    assert task.actions == ['define']
    assert result['changed'] is False
    assert any('normalised or ignored on_crash' in w for w in task.warnings)
    assert any('reported as no change' in w for w in task.warnings)


def test_check_mode_plans_on_a_domain_that_does_not_exist_yet(conn, unique_name):
    task, result = run_state(conn, check=True, xml=minimal_domain_xml(unique_name), state='paused')
    assert task.actions == ['define', 'create_paused']
    assert result['changed'] and result['domain']['state'] == 'paused'
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(unique_name)


def test_remove_storage_refused_on_a_remote_connection(conn, define_domain, unique_name, tmp_path):
    image = tmp_path / 'disk.img'
    image.write_bytes(b'x')
    disk = "<disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk>" % image
    define_domain(minimal_domain_xml(unique_name, extra=disk))
    remote = Proxy(conn, getURI=lambda: 'qemu+ssh://root@hv1.example.com/system')
    with pytest.raises(InputError, match='not a local connection'):
        run_state(remote, name=unique_name, state='absent', remove_storage=True)
    assert image.exists()
    assert conn.lookupByName(unique_name).isPersistent()


def test_storage_plan_skips_what_is_not_a_plain_file(conn, define_domain, unique_name, tmp_path):
    image = tmp_path / 'disk.img'
    image.write_bytes(b'x')
    (tmp_path / 'link.img').symlink_to(image)
    dom = define_domain(minimal_domain_xml(unique_name, extra=(
        "<disk type='file' device='disk'><source file='%s'/><target dev='vda'/></disk>"
        "<disk type='file' device='disk'><source file='%s'/><target dev='vdb'/></disk>"
        "<disk type='block' device='disk'><source dev='/dev/null'/><target dev='vdc'/></disk>")
        % (image, tmp_path / 'link.img')))
    task = make_task(conn, name=unique_name, state='absent', remove_storage=True)
    assert storage_cleanup.plan_storage(task, dom, True) == [(str(image), None)]
    assert any('link.img' in w and 'not a plain file' in w for w in task.warnings)


def test_requests_are_sent_again_only_after_this_task_woke_the_guest(monkeypatch):
    # A guest resuming from pmsuspended drops an ACPI button press (measured on the tiny
    # guest, tests/system/test_guest_caused_states.py); the fake clock here makes the
    # repeat deterministic.
    clock = [100.0]
    monkeypatch.setattr(lifecycle.time, 'monotonic', lambda: clock[0])
    requests = []
    run = lifecycle.DomainStateRun(make_task(None))
    run.dom = types.SimpleNamespace(shutdownFlags=requests.append)
    stopped = [False]

    def condition():
        return stopped[0]
    assert run._again_after_wake_up(condition, 'shutdownFlags', 0) is condition  # not woken: as is

    run.woken = True
    check = run._again_after_wake_up(condition, 'shutdownFlags', 4)
    assert check() is False and requests == []
    clock[0] += lifecycle._REQUEST_AGAIN_SECONDS
    assert check() is False and requests == [4]
    clock[0] += 1
    assert check() is False and requests == [4]  # not before the interval
    stopped[0] = True
    clock[0] += 5
    assert check() is True and requests == [4]  # met: nothing more is sent


def shutting_down(events_conn, dom, seconds):
    """The domain as seen while its guest shuts down (libvirt's 'shutdown' state, which
    QEMU passes through in milliseconds): it goes off `seconds` later."""
    import threading
    threading.Timer(seconds, dom.destroy).start()
    seen = events_conn.lookupByName(dom.name())
    stopped = []

    def state(*args):
        if not stopped and seen.isActive():
            return [libvirt.VIR_DOMAIN_SHUTDOWN, libvirt.VIR_DOMAIN_SHUTDOWN_USER]
        stopped.append(True)
        return seen.state(*args)
    return Proxy(seen, state=state)


def test_running_from_a_shutdown_in_progress_waits_then_starts(events_conn, define_domain, unique_name):
    dom = define_domain(minimal_domain_xml(unique_name))
    dom.create()
    task, result = run_state(events_conn, dom=shutting_down(events_conn, dom, 0.5), name=unique_name,
                             state='running', timeout=10)
    assert task.actions == ['create'] and result['changed']
    assert result['domain']['state'] == 'running'
    assert 0.4 <= result['waited'] < 5


def test_shutdown_from_a_shutdown_in_progress_only_waits(events_conn, define_domain, unique_name):
    dom = define_domain(minimal_domain_xml(unique_name))
    dom.create()
    task, result = run_state(events_conn, dom=shutting_down(events_conn, dom, 0.5), name=unique_name,
                             state='shutdown', timeout=10)
    assert task.actions == [] and not result['changed']  # the guest was already on its way
    assert result['domain']['state'] == 'shutoff'
    assert 0.4 <= result['waited'] < 5


# -- races: the domain changes between the read and the call ---------------------------

def changed_just_before(conn, dom, method, change):
    """The domain as this task sees it, where `method` first lets someone else `change` it."""
    seen = conn.lookupByName(dom.name())

    def call(*args):
        change()
        return getattr(seen, method)(*args)
    return Proxy(seen, **{method: call})


def test_destroy_of_a_guest_that_powered_off_meanwhile(conn, define_domain, unique_name):
    dom = define_domain(minimal_domain_xml(unique_name))
    dom.create()
    raced = changed_just_before(conn, dom, 'destroy', dom.destroy)
    task, result = run_state(conn, dom=raced, name=unique_name, state='destroyed')
    assert task.actions == [] and not result['changed'] and task.failed_action is None
    assert result['domain']['state'] == 'shutoff'
    assert any('already shutoff when this task called destroy' in w and 'VIR_ERR_OPERATION_INVALID' in w
               for w in task.warnings), task.warnings


def test_undefine_of_a_domain_someone_removed_meanwhile(conn, define_domain, unique_name):
    dom = define_domain(minimal_domain_xml(unique_name))
    raced = changed_just_before(conn, dom, 'undefineFlags', dom.undefine)
    task, result = run_state(conn, dom=raced, name=unique_name, state='absent')
    assert task.actions == [] and not result['changed'] and result['domain']['state'] == 'absent'
    assert any('VIR_ERR_NO_DOMAIN' in w for w in task.warnings)


def refused(code):
    err = libvirt.libvirtError('refused')
    err.err = (code, 0, 'refused', 2, None, None, None, 0, 0)
    return err


def test_a_refusal_whose_goal_is_not_met_still_fails(conn, define_domain, unique_name):
    define_domain(minimal_domain_xml(unique_name)).create()
    task = make_task(conn, name=unique_name, state='paused')
    run = lifecycle.DomainStateRun(task)
    run.dom = conn.lookupByName(unique_name)
    run._refresh()

    def suspend():
        raise refused(libvirt.VIR_ERR_OPERATION_INVALID)
    with pytest.raises(libvirt.libvirtError):
        run._act('suspend', suspend, state='paused')  # it still runs: not met
    assert task.failed_action == 'suspend' and task.actions == [] and task.warnings == []


def translated(method, message):
    """`method`, but its libvirt errors carry another message (a translated libvirt) and the same code."""
    def call(*args):
        try:
            return method(*args)
        except libvirt.libvirtError as err:
            err.err = (err.err[0], err.err[1], message) + tuple(err.err[3:])
            raise err
    return call


def test_undefine_flags_are_dropped_by_error_code_not_by_message(conn, define_domain, unique_name):
    dom = define_domain(minimal_domain_xml(unique_name).replace(
        '</os>', '<loader readonly="yes" type="pflash">/usr/share/OVMF/OVMF_CODE.fd</loader>'
                 '<nvram>/tmp/%s_VARS.fd</nvram></os>' % unique_name))
    seen = conn.lookupByName(unique_name)
    german = translated(seen.undefineFlags, 'Nicht unterstützte Flags in der Funktion testDomainUndefineFlags')
    task = make_task(conn, name=unique_name)
    run = lifecycle.DomainStateRun(task)
    run.dom = Proxy(seen, undefineFlags=german)
    flags = libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_TPM | \
        libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
    run._undefine(flags)
    assert len(task.warnings) == 1, task.warnings
    assert 'does not support VIR_DOMAIN_UNDEFINE_TPM, VIR_DOMAIN_UNDEFINE_NVRAM;' in task.warnings[0]
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(unique_name)
    assert dom.name() == unique_name


def test_undefine_refused_for_another_reason_is_not_retried(conn, define_domain, unique_name):
    calls = []

    def refuse(flags):
        calls.append(flags)
        raise refused(libvirt.VIR_ERR_OPERATION_INVALID)
    dom = define_domain(minimal_domain_xml(unique_name))
    run = lifecycle.DomainStateRun(make_task(conn, name=unique_name))
    run.dom = Proxy(dom, undefineFlags=refuse)
    with pytest.raises(libvirt.libvirtError):
        run._undefine(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    assert calls == [libvirt.VIR_DOMAIN_UNDEFINE_NVRAM]


def test_a_failed_event_registration_leaves_no_callback_behind(events_conn, define_domain, unique_name):
    from ansible_collections.domainops.libvirt.plugins.module_utils.events import DomainEvents
    dom = define_domain(minimal_domain_xml(unique_name))
    registered, deregistered = [], []

    def register(*args):
        if len(registered) == 2:  # the third registration fails
            raise refused(libvirt.VIR_ERR_NO_SUPPORT)
        registered.append(events_conn.domainEventRegisterAny(*args))
        return registered[-1]

    def deregister(callback_id):
        deregistered.append(callback_id)
        return events_conn.domainEventDeregisterAny(callback_id)
    flaky = Proxy(events_conn, domainEventRegisterAny=register, domainEventDeregisterAny=deregister)
    with pytest.raises(libvirt.libvirtError):
        with DomainEvents(flaky, events_conn.lookupByName(dom.name())):
            pass
    assert len(registered) == 2 and sorted(deregistered) == sorted(registered)
    for callback_id in registered:  # really gone from libvirt: deregistering again fails
        with pytest.raises(libvirt.libvirtError):
            events_conn.domainEventDeregisterAny(callback_id)
