# virt_domain_device in-process on test:///default. The test driver cannot attach,
# detach or update devices (VIR_ERR_NO_SUPPORT), so these tests cover what needs no
# mutating call: input checks, decisions, check-mode predictions and the error message
# for an unsupported operation. tests/integration/targets/virt_domain_device runs the
# real changes against QEMU.
import libvirt
import pytest

from ansible_collections.domainops.libvirt.plugins.module_utils import devices
from ansible_collections.domainops.libvirt.plugins.modules import virt_domain_device

DATA_DISK = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
             "<source file='/var/lib/images/data.qcow2'/><target dev='vdb' bus='virtio'/></disk>")
CDROM_WITH_MEDIUM = ("<disk type='file' device='cdrom'><source file='/var/lib/images/a.iso'/>"
                     "<target dev='hdc' bus='ide'/><readonly/></disk>")
NIC = ("<interface type='network'><mac address='52:54:00:aa:bb:01'/><source network='default'/>"
       "<link state='up'/></interface>")


def domain_xml(name, devices_xml=''):
    return ("<domain type='test'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='i686'>hvm</type></os><devices>%s</devices></domain>" % (name, devices_xml))


@pytest.fixture
def stopped(define_domain, unique_name):
    """A shut-off persistent domain with a data disk, a cdrom with a medium and a NIC."""
    return define_domain(domain_xml(unique_name, DATA_DISK + CDROM_WITH_MEDIUM + NIC))


@pytest.fixture
def running(stopped):
    stopped.create()
    return stopped


def run(run_module, dom, xml, **args):
    check = args.pop('check', False)
    diff = args.pop('diff', False)
    args.update(name=dom.name(), xml=xml)
    return run_module(virt_domain_device, args, check=check, diff=diff)


# -- input ------------------------------------------------------------------------

@pytest.mark.parametrize('xml, message', [
    ("<disk type='file' device='disk'><source file='/x.img'/></disk>", 'lacks the element that identifies it'),
    ("<disk type='file' device='disk'><target bus='virtio'/></disk>", 'needs <target dev='),
    ("<filesystem type='mount'><source dir='/srv'/></filesystem>", 'lacks the element'),
    ("<hostdev mode='subsystem' type='pci'/>", 'needs a <source>'),
    ("<controller index='0'/>", 'needs a type attribute'),
])
@pytest.mark.parametrize('state', ['present', 'absent'])
def test_device_without_identity_is_rejected_before_libvirt(run_module, running, xml, message, state):
    result = run(run_module, running, xml, state=state)
    assert result['failed']
    assert message in result['msg']
    assert 'nothing was changed' in result['msg']
    assert result['actions'] == []


@pytest.mark.parametrize('xml, message', [
    ('<disk><target dev="vdb"/>', 'not well-formed'),
    ('<domain><name>x</name></domain>', 'must have the root element'),
    ('', 'is empty'),
])
def test_malformed_or_non_device_xml(run_module, stopped, xml, message):
    result = run(run_module, stopped, xml)
    assert result['failed'] and message in result['msg']


def test_current_cannot_be_combined(run_module, stopped):
    result = run(run_module, stopped, DATA_DISK, affect=['current', 'config'])
    assert result['failed']
    assert "affect 'current' cannot be combined" in result['msg']


def test_live_on_a_shut_off_domain_is_a_clear_error(run_module, stopped):
    result = run(run_module, stopped, DATA_DISK, affect=['live'])
    assert result['failed']
    assert 'is not running: affect live needs a running domain' in result['msg']
    assert result['actions'] == []


def test_missing_domain(run_module, unique_name):
    result = run_module(virt_domain_device, dict(name=unique_name, xml=DATA_DISK))
    assert result['failed'] and 'not found' in result['msg']


def test_name_or_uuid_is_required(run_module):
    result = run_module(virt_domain_device, dict(xml=DATA_DISK))
    assert result['failed'] and 'name' in result['msg'] and 'uuid' in result['msg']


# -- decisions that need no change --------------------------------------------------

def test_identical_device_is_no_change_in_both_scopes(run_module, running):
    result = run(run_module, running, DATA_DISK)
    assert result['changed'] is False
    assert result['actions'] == []
    assert set(result['device']['before']) == {'config', 'live'}
    assert '/var/lib/images/data.qcow2' in result['device']['after']['live']
    assert result['domain']['state'] == 'running'


def test_unspecified_parts_are_kept(run_module, stopped):
    # Only the identity: everything else is "keep what is there".
    result = run(run_module, stopped, "<disk device='disk'><target dev='vdb'/></disk>")
    assert result['changed'] is False
    assert list(result['device']['before']) == ['config']


def test_absent_device_is_no_change(run_module, running):
    result = run(run_module, running, "<disk type='file' device='disk'><target dev='vdz'/></disk>", state='absent')
    assert result['changed'] is False
    assert result['actions'] == []
    assert result['device']['after'] == {'config': None, 'live': None}
    assert result['waited'] == 0


def test_interface_found_by_mac_in_any_case(run_module, stopped):
    result = run(run_module, stopped, "<interface type='network'><mac address='52:54:00:AA:BB:01'/></interface>")
    assert result['changed'] is False


def test_uuid_selector(run_module, stopped):
    result = run_module(virt_domain_device, dict(uuid=stopped.UUIDString().replace('-', ''), xml=DATA_DISK))
    assert result['changed'] is False and result['domain']['name'] == stopped.name()


# -- check mode predictions ---------------------------------------------------------

NEW_DISK = ("<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            "<source file='/var/lib/images/new.img'/><target dev='vdc' bus='virtio'/></disk>")


def test_check_mode_attach_running_defaults_to_both_scopes(run_module, running):
    result = run(run_module, running, NEW_DISK, check=True)
    assert result['changed'] is True
    assert result['actions'] == ['attach (config)', 'attach (live)']
    assert result['device']['before'] == {'config': None, 'live': None}
    assert "dev=\"vdc\"" in result['device']['after']['live']
    # nothing happened
    assert 'vdc' not in running.XMLDesc(0)


def test_check_mode_attach_shut_off_defaults_to_config(run_module, stopped):
    result = run(run_module, stopped, NEW_DISK, check=True)
    assert result['actions'] == ['attach (config)']


@pytest.mark.parametrize('affect, expected', [
    (['live'], ['attach (live)']),
    (['config'], ['attach (config)']),
    (['current'], ['attach (live)']),
    (['live', 'config'], ['attach (config)', 'attach (live)']),
])
def test_check_mode_affect(run_module, running, affect, expected):
    result = run(run_module, running, NEW_DISK, affect=affect, check=True)
    assert result['actions'] == expected
    assert sorted(result['device']['before']) == sorted(a.split('(')[1][:-1] for a in expected)


def test_check_mode_current_on_shut_off_is_config(run_module, stopped):
    result = run(run_module, stopped, NEW_DISK, affect=['current'], check=True)
    assert result['actions'] == ['attach (config)']


def test_check_mode_media_change_is_an_update_keeping_address(run_module, running):
    xml = "<disk type='file' device='cdrom'><source file='/var/lib/images/b.iso'/><target dev='hdc'/></disk>"
    result = run(run_module, running, xml, check=True, diff=True)
    assert result['changed'] is True
    assert result['actions'] == ['update (config)', 'update (live)']
    after = result['device']['after']['config']
    assert 'b.iso' in after and 'a.iso' not in after
    assert '<address' in after  # the update XML starts from the actual device
    assert [d['before_header'].endswith('(config)') for d in result['diff']] == [True, False]
    assert 'a.iso' in result['diff'][0]['before'] and 'b.iso' in result['diff'][0]['after']


def test_check_mode_eject(run_module, running):
    xml = "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>"
    result = run(run_module, running, xml, check=True)
    assert result['actions'] == ['update (config)', 'update (live)']
    assert '<source' not in result['device']['after']['live']


def test_check_mode_link_state(run_module, stopped):
    xml = "<interface type='network'><mac address='52:54:00:aa:bb:01'/><link state='down'/></interface>"
    result = run(run_module, stopped, xml, check=True)
    assert result['actions'] == ['update (config)']
    assert "state=\"down\"" in result['device']['after']['config']


def test_check_mode_detach(run_module, running):
    # The identity is enough: the detach would use the device as libvirt has it.
    result = run(run_module, running, "<disk device='disk'><target dev='vdb'/></disk>", state='absent', check=True)
    assert result['changed'] is True
    assert result['actions'] == ['detach (config)', 'detach (live)']
    assert 'data.qcow2' in result['device']['before']['live']
    assert result['device']['after'] == {'config': None, 'live': None}
    assert result['waited'] == 0
    assert 'vdb' in running.XMLDesc(0)


def test_graphics_password_is_masked(run_module, define_domain, unique_name):
    dom = define_domain(domain_xml(unique_name, "<graphics type='vnc' port='-1' passwd='old-secret'/>"))
    result = run(run_module, dom, "<graphics type='vnc' passwd='new-secret'/>", check=True, diff=True)
    assert result['actions'] == ['update (config)']
    text = repr(result)
    assert 'old-secret' not in text and 'new-secret' not in text


def test_same_graphics_password_is_no_change(run_module, define_domain, unique_name):
    dom = define_domain(domain_xml(unique_name, "<graphics type='vnc' port='-1' passwd='same'/>"))
    result = run(run_module, dom, "<graphics type='vnc' passwd='same'/>")
    assert result['changed'] is False


# -- the test driver's refusal --------------------------------------------------------

@pytest.mark.parametrize('xml, state, verb', [
    (NEW_DISK, 'present', 'attach'),
    ("<disk type='file' device='cdrom'><target dev='hdc'/></disk>", 'present', 'update'),
    (DATA_DISK, 'absent', 'detach'),
])
def test_unsupported_operation_is_a_clear_message(run_module, stopped, xml, state, verb):
    result = run(run_module, stopped, xml, state=state)
    assert result['failed']
    msg = result['msg']
    assert msg.startswith('cannot %s disk ' % verb)
    assert 'persistent definition of domain' in msg
    assert 'does not support it' in msg and 'VIR_ERR_NO_SUPPORT' in msg
    assert 'nothing was changed' in msg
    assert result['actions'] == []


def test_failure_after_a_persistent_change_says_what_was_done(run_module, running, monkeypatch):
    # Pretend the config attach worked; the live attach then fails on the test driver.
    calls = []
    original = devices.DeviceTask.call

    def fake_call(self, verb, scope, func, device_el, refused=None):
        if scope == 'config':
            calls.append(scope)
            self.task.actions.append('%s (%s)' % (verb, scope))
            self.saved.append('%s (%s)' % (verb, scope))
            return
        return original(self, verb, scope, func, device_el, refused)
    monkeypatch.setattr(devices.DeviceTask, 'call', fake_call)
    monkeypatch.setattr(devices.DeviceTask, 'read_back', lambda self, scope, predicted: predicted)
    result = run(run_module, running, NEW_DISK)
    assert result['failed']
    assert result['msg'].endswith('; already done: attach (config)')
    assert result['changed'] is True
    assert result['actions'] == ['attach (config)']


# -- pure helpers -----------------------------------------------------------------------

@pytest.mark.parametrize('affect, active, persistent, expected', [
    (None, True, True, ['config', 'live']),
    (None, False, True, ['config']),
    (None, True, False, ['live']),
    (['current'], True, True, ['live']),
    (['current'], False, True, ['config']),
    (['live', 'config'], True, True, ['config', 'live']),
])
def test_resolve_scopes(affect, active, persistent, expected):
    assert devices.resolve_scopes(affect, active, persistent, "'x'") == expected


def test_config_on_transient_domain_is_refused():
    with pytest.raises(devices.InputError, match='transient'):
        devices.resolve_scopes(['config'], True, False, "'x'")


def test_overlay_replaces_the_medium_and_keeps_the_rest():
    actual = devices.parse_xml(
        "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/a.iso' index='3'/>"
        "<backingStore/><target dev='hdc' bus='ide'/><readonly/><alias name='ide0-1-0'/>"
        "<address type='drive' controller='0' bus='1' target='0' unit='0'/></disk>", 'x', None)
    desired = devices.parse_device("<disk type='file' device='cdrom'><source file='/b.iso'/><target dev='hdc'/></disk>")
    merged = devices.overlay(actual, desired)
    assert merged.find('source').attrib == {'file': '/b.iso'}
    assert merged.find('backingStore') is None
    assert merged.find('alias').get('name') == 'ide0-1-0'
    assert merged.find('address').get('bus') == '1'
    assert devices.differences(desired, merged) == []


# -- the live detach wait, with a fake domain (the test driver cannot detach) ------------

class FakeEvents(devices.DomainEvents):
    """The real wait logic without registering callbacks with libvirt."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


LIVE_DISK = ("<disk type='file' device='disk'><source file='/d.qcow2' index='1'/>"
             "<target dev='vdb' bus='virtio'/><alias name='virtio-disk1'/></disk>")


class FakeDomain(object):
    """A running transient domain whose guest reacts to a detach as `guest` says."""

    def __init__(self, guest):
        self.guest = guest  # 'releases', 'keeps', 'refuses', 'event-only'
        self.attached = True
        self.events = None
        self.detached_xml = []

    def XMLDesc(self, flags):
        disk = LIVE_DISK if self.attached else ''
        return "<domain type='qemu'><name>fake</name><devices>%s</devices></domain>" % disk

    def isActive(self):
        return True

    def isPersistent(self):
        return False

    def UUIDString(self):
        return '00000000-0000-4000-8000-000000000001'

    def detachDeviceFlags(self, xml, flags):
        self.detached_xml.append(xml)
        if self.guest == 'releases':
            self.attached = False
        elif self.guest == 'refuses':
            self.events.removal_failed.append('virtio-disk1')
        elif self.guest == 'event-only':
            self.events.removed_aliases.append('virtio-disk1')


class FakeTask(object):
    def __init__(self, dom, timeout):
        self.params = dict(xml="<disk device='disk'><target dev='vdb'/></disk>", state='absent',
                           affect=None, timeout=timeout)
        self.check_mode = False
        self.actions = []
        self.conn = None
        self.uri = 'qemu:///system'
        self.domain_label = "'fake'"
        self.dom = dom

    def mutate(self, action, func, *args):
        self.actions.append(action)
        return func(*args)

    def lookup(self):
        return self.dom


def detach(monkeypatch, guest, timeout=1.0):
    dom = FakeDomain(guest)

    def events(conn, domain, reconnect=None):
        dom.events = FakeEvents(conn, domain)
        return dom.events
    monkeypatch.setattr(devices, 'DomainEvents', events)
    monkeypatch.setattr(devices, 'describe_domain', lambda d: dict(name='fake'))
    task = FakeTask(dom, timeout)
    work = devices.DeviceTask(task)
    work.dom = dom
    return dom, task, work


def test_detach_sends_the_actual_device_and_waits_for_release(monkeypatch):
    dom, task, work = detach(monkeypatch, 'releases')
    assert work.make_absent('live', work.actual_device('live')) is None
    assert task.actions == ['detach (live)']
    # The actual device, with its alias and source, not the two-line XML the user gave.
    assert 'virtio-disk1' in dom.detached_xml[0] and '/d.qcow2' in dom.detached_xml[0]


def test_removed_event_ends_the_wait(monkeypatch):
    dom, task, work = detach(monkeypatch, 'event-only', timeout=10)
    assert work.make_absent('live', work.actual_device('live')) is None
    assert work.waited < 1


def test_a_device_the_guest_keeps_is_a_failure(monkeypatch):
    dom, task, work = detach(monkeypatch, 'keeps', timeout=0.3)
    with pytest.raises(devices.WaitTimeout) as caught:
        work.make_absent('live', work.actual_device('live'))
    msg = caught.value.msg
    assert "the guest did not release disk 'vdb' within 0.3 s" in msg
    assert 'the persistent definition was not changed' in msg
    assert caught.value.details['changed'] is True
    assert 'virtio-disk1' in caught.value.details['device']['after']['live']
    assert caught.value.details['waited'] >= 0.3


def test_removal_failed_event_is_a_failure(monkeypatch):
    dom, task, work = detach(monkeypatch, 'refuses', timeout=10)
    with pytest.raises(devices.LibvirtCallError, match='DEVICE_REMOVAL_FAILED'):
        work.make_absent('live', work.actual_device('live'))


def _qemu_error(message):
    err = libvirt.libvirtError(message)
    err.err = (libvirt.VIR_ERR_INTERNAL_ERROR, 0, message, 0, None, None, None, 0, 0)
    return err


# -- a medium change while libvirt's view of the tray is stale --------------------------
# The state comes from a race with the guest's IDE reset at boot (measured, see
# docs/troubleshooting.md) and cannot be produced on demand, so a fake drive plays
# libvirt's side: its live XML says tray='open' and QEMU refuses the change.

def _drive(source='', tray=None):
    return ("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>%s"
            "<target dev='hdc' bus='ide'%s/><readonly/><alias name='ide0-1-0'/></disk>"
            % (source, " tray='%s'" % tray if tray else ''))


class FakeDrive(FakeDomain):
    """A running domain with a cdrom drive whose tray libvirt reports as `tray`."""

    def __init__(self, tray, refuse=None):
        FakeDomain.__init__(self, 'releases')
        self.tray, self.refuse, self.updates = tray, refuse, []

    def XMLDesc(self, flags):
        source = "<source file='/m.iso'/>" if self.updates else ''
        return "<domain type='qemu'><name>fake</name><devices>%s</devices></domain>" % _drive(source, self.tray)

    def updateDeviceFlags(self, xml, flags):
        if self.refuse:
            raise _qemu_error(self.refuse)
        self.updates.append(xml)
        return 0


def change_medium(monkeypatch, dom):
    monkeypatch.setattr(devices, 'describe_domain', lambda d: dict(name='fake'))
    monkeypatch.setattr(devices, '_TRAY_SETTLE', 0.2)
    task = FakeTask(dom, 1.0)
    task.params = dict(task.params, xml=_drive("<source file='/m.iso'/>"), state='present')
    task.warnings = []
    task.warn = task.warnings.append
    work = devices.DeviceTask(task)
    work.dom = dom
    return task, work


def test_a_refused_change_on_a_stale_tray_says_how_to_recover(monkeypatch):
    dom = FakeDrive('open', refuse="internal error: unable to execute QEMU command 'blockdev-remove-medium': "
                                   "Tray of device 'ide0-1-0' is not open")
    task, work = change_medium(monkeypatch, dom)
    with pytest.raises(devices.LibvirtCallError) as caught:
        work.make_present('live', work.actual_device('live'))
    msg = caught.value.msg
    assert "cannot change disk[hdc]/source of disk 'hdc' on the running domain 'fake'" in msg
    assert 'libvirt reports the tray open, QEMU has it closed' in msg
    assert 'Restarting libvirtd' in msg
    assert task.actions == ['update (live)']


def test_a_refusal_with_a_closed_tray_has_no_tray_note(monkeypatch):
    for tray, error in ((None, "Tray of device 'ide0-1-0' is not open"),
                        ('open', "Operation not supported: cannot modify field 'cache' of the disk")):
        task, work = change_medium(monkeypatch, FakeDrive(tray, refuse=error))
        with pytest.raises(devices.LibvirtCallError) as caught:
            work.make_present('live', work.actual_device('live'))
        assert 'libvirt reports the tray open' not in caught.value.msg, caught.value.msg


def test_a_tray_left_open_after_a_change_is_a_warning(monkeypatch):
    task, work = change_medium(monkeypatch, FakeDrive('open'))
    after = work.make_present('live', work.actual_device('live'))
    assert after.find('source').get('file') == '/m.iso'
    assert len(task.warnings) == 1
    assert "libvirt still reports the tray of disk 'hdc' of domain 'fake' open" in task.warnings[0]
    assert 'next medium change of this drive will fail' in task.warnings[0]


def test_a_tray_that_closes_gives_no_warning(monkeypatch):
    dom = FakeDrive('open')
    task, work = change_medium(monkeypatch, dom)
    real_update = dom.updateDeviceFlags

    def update(xml, flags):
        dom.tray = None  # libvirt saw the close event
        return real_update(xml, flags)
    dom.updateDeviceFlags = update
    work.make_present('live', work.actual_device('live'))
    assert task.warnings == []
