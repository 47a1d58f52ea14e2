# virt_domain_state in-process on libvirt's test driver (test:///default).
#
# What the test driver can reach: running, paused, shut off (also with a managed
# save image), transient running/paused. It shuts down at once, rejects every
# shutdown/reboot mode flag and START_PAUSED, has no pmsuspend and sends no
# reboot event; crashed, pmsuspended and "shutdown in progress" are exercised with
# the real daemon (tests/integration/targets/virt_domain_state).
import json

import libvirt
import pytest
from ansible.module_utils import basic

from ansible_collections.domainops.libvirt.plugins.modules import virt_domain_state

from conftest import minimal_domain_xml

INACTIVE_SECURE = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, message, *a, **k: seen.append(message))
    return seen


@pytest.fixture
def run(run_module, warnings):
    def run_state(check=False, diff=False, **args):
        return run_module(virt_domain_state, args, check=check, diff=diff)
    return run_state


def snapshot(conn, name):
    """Everything a check-mode run must leave byte-identical (None: no such domain)."""
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return None
    persistent = dom.isPersistent()
    return dict(
        inactive=dom.XMLDesc(INACTIVE_SECURE) if persistent else None,
        live=dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE),
        state=dom.state(),
        persistent=persistent,
        autostart=dom.autostart() if persistent else None,
        managed_save=dom.hasManagedSaveImage(0),
    )


def four_steps(run, conn, domain_name, expect_actions, **args):
    """check, real, check, real; the first two change (when actions are expected), the last two not."""
    results = []
    for step, check in enumerate((True, False, True, False)):
        before = snapshot(conn, domain_name)
        result = run(check=check, **args)
        assert not result.get('failed'), result['msg']
        results.append(result)
        if check:
            assert snapshot(conn, domain_name) == before, 'check mode changed the domain'
        if step < 2:
            assert result['actions'] == expect_actions
            assert result['changed'] is bool(expect_actions)
        else:
            assert result['actions'] == []
            assert result['changed'] is False
    # check mode predicts the state the real run reaches
    assert results[0]['domain']['state'] == results[1]['domain']['state']
    return results


# -- bring the domain into a start state -------------------------------------------

def make(conn, define_domain, name, start):
    xml = minimal_domain_xml(name)
    if start.startswith('transient'):
        dom = conn.createXML(xml, 0)
        if start == 'transient-paused':
            dom.suspend()
        return dom
    dom = define_domain(xml)
    if start in ('running', 'paused', 'managed-save'):
        dom.create()
    if start == 'paused':
        dom.suspend()
    if start == 'managed-save':
        dom.managedSave(0)
    return dom


# start state -> desired state -> actions (None: the domain is gone afterwards)
TRANSITIONS = {
    'running': dict(present=[], running=[], paused=['suspend'], shutdown=['shutdown'],
                    destroyed=['destroy'], absent=['destroy', 'undefine']),
    'paused': dict(present=[], running=['resume'], paused=[], shutdown=['resume', 'shutdown'],
                   destroyed=['destroy'], absent=['destroy', 'undefine']),
    'shutoff': dict(present=[], running=['create'], paused=['create_paused'], shutdown=[],
                    destroyed=[], absent=['undefine']),
    'managed-save': dict(present=[], running=['create'], shutdown=[], destroyed=[], absent=['undefine']),
}
FINAL = dict(present=None, running='running', paused='paused', shutdown='shutoff', destroyed='shutoff',
             absent='absent')


@pytest.mark.parametrize('start,want,actions', [
    (start, want, actions) for start, table in TRANSITIONS.items() for want, actions in table.items()])
def test_transition_persistent(run, conn, define_domain, unique_name, start, want, actions):
    make(conn, define_domain, unique_name, start)
    results = four_steps(run, conn, unique_name, actions, name=unique_name, state=want)
    if FINAL[want]:
        assert results[-1]['domain']['state'] == FINAL[want]
    assert results[-1]['domain']['name'] == unique_name
    if want == 'absent':
        assert snapshot(conn, unique_name) is None


@pytest.mark.parametrize('start,want,actions', [
    ('transient', 'running', []),
    ('transient', 'paused', ['suspend']),
    ('transient', 'present', []),
    ('transient-paused', 'running', ['resume']),
    ('transient-paused', 'paused', []),
])
def test_transition_transient_stays(run, conn, define_domain, unique_name, start, want, actions):
    dom = make(conn, define_domain, unique_name, start)
    try:
        results = four_steps(run, conn, unique_name, actions, name=unique_name, state=want)
        assert results[-1]['domain']['persistent'] is False
    finally:
        dom.destroy()


@pytest.mark.parametrize('start,want,actions', [
    ('transient', 'shutdown', ['shutdown']),
    ('transient', 'destroyed', ['destroy']),
    ('transient', 'absent', ['destroy']),
    ('transient-paused', 'shutdown', ['resume', 'shutdown']),
    ('transient-paused', 'destroyed', ['destroy']),
    ('transient-paused', 'absent', ['destroy']),
])
def test_transition_transient_goes(run, conn, define_domain, unique_name, start, want, actions):
    """A transient domain vanishes when it stops: after that it is not found (absent: no change)."""
    make(conn, define_domain, unique_name, start)
    before = snapshot(conn, unique_name)
    checked = run(check=True, name=unique_name, state=want)
    assert snapshot(conn, unique_name) == before
    done = run(name=unique_name, state=want)
    assert checked['actions'] == done['actions'] == actions
    assert checked['changed'] and done['changed']
    assert snapshot(conn, unique_name) is None
    assert done['domain']['state'] == 'absent'
    again = run(name=unique_name, state=want)
    if want == 'absent':
        assert again['changed'] is False and again['actions'] == []
    else:
        assert again['failed'] and 'not found' in again['msg']


@pytest.mark.parametrize('start', ['running', 'paused', 'shutoff'])
@pytest.mark.parametrize('want', ['rebooted', 'reset'])
def test_reboot_and_reset_always_act(run, conn, define_domain, unique_name, start, want):
    make(conn, define_domain, unique_name, start)
    expected = {
        ('running', 'rebooted'): ['reboot'], ('paused', 'rebooted'): ['resume', 'reboot'],
        ('shutoff', 'rebooted'): ['create'], ('running', 'reset'): ['reset'],
        ('paused', 'reset'): ['reset'], ('shutoff', 'reset'): ['create'],
    }[(start, want)]
    first = expected
    for check in (True, False, True, False):
        before = snapshot(conn, unique_name)
        result = run(check=check, name=unique_name, state=want)
        if check:
            assert snapshot(conn, unique_name) == before
        assert result['changed'] is True
        assert result['actions'] == first
        # after the first real run the domain runs (or stays paused after a reset)
        if not check:
            first = ['reset'] if want == 'reset' else ['reboot']
    assert snapshot(conn, unique_name)['state'][0] in (libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_PAUSED)


def test_start_paused_falls_back_on_the_test_driver(run, conn, define_domain, unique_name, warnings):
    make(conn, define_domain, unique_name, 'shutoff')
    result = run(name=unique_name, state='paused')
    assert result['actions'] == ['create_paused']
    assert conn.lookupByName(unique_name).state()[0] == libvirt.VIR_DOMAIN_PAUSED
    assert any('cannot start a domain paused' in w for w in warnings)


def test_shutdown_mode_flag_the_driver_rejects(run, conn, define_domain, unique_name):
    make(conn, define_domain, unique_name, 'running')
    before = snapshot(conn, unique_name)
    result = run(name=unique_name, state='shutdown', shutdown_mode=['acpi'])
    assert result['failed']
    assert 'unsupported flags' in result['msg'] and 'VIR_ERR_INVALID_ARG' in result['msg']
    assert result['actions'] == []
    assert snapshot(conn, unique_name) == before


def test_reboot_mode_flags_are_passed(run, conn, define_domain, unique_name):
    make(conn, define_domain, unique_name, 'running')
    result = run(name=unique_name, state='rebooted', shutdown_mode=['acpi', 'agent'])
    assert result['changed'] and result['actions'] == ['reboot']


def test_select_by_uuid(run, conn, define_domain, unique_name):
    dom = make(conn, define_domain, unique_name, 'shutoff')
    four_steps(run, conn, unique_name, ['create'], uuid=dom.UUIDString().replace('-', '').upper(),
               state='running')


# -- absent: undefine flags and storage ----------------------------------------------

def test_absent_with_managed_save_and_snapshot(run, conn, define_domain, unique_name):
    dom = make(conn, define_domain, unique_name, 'managed-save')
    dom.snapshotCreateXML('<domainsnapshot><name>s1</name></domainsnapshot>', 0)
    four_steps(run, conn, unique_name, ['undefine'], name=unique_name, state='absent')


def test_absent_drops_flags_the_driver_rejects(run, conn, define_domain, unique_name, warnings):
    # The test driver keeps no NVRAM or TPM state and rejects those undefine flags.
    define_domain(
        "<domain type='test'><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
        "<os><type arch='i686'>hvm</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>"
        "<nvram>/tmp/%s_VARS.fd</nvram></os><devices><tpm model='tpm-tis'><backend type='emulator' version='2.0'/>"
        "</tpm></devices></domain>" % (unique_name, unique_name))
    four_steps(run, conn, unique_name, ['undefine'], name=unique_name, state='absent')
    assert any('VIR_DOMAIN_UNDEFINE_NVRAM' in w and 'VIR_DOMAIN_UNDEFINE_TPM' in w for w in warnings)


def _disk(kind, device, path, target, extra=''):
    return ("<disk type='%s' device='%s'><source file='%s'/><target dev='%s'/>%s</disk>"
            % (kind, device, path, target, extra))


def test_absent_remove_storage(run, conn, define_domain, unique_name, tmp_path, warnings):
    files = dict((n, tmp_path / n) for n in ('root.img', 'data.img', 'install.iso', 'shared.img', 'ro.img'))
    for path in files.values():
        path.write_bytes(b'x')
    disks = (_disk('file', 'disk', files['root.img'], 'vda') + _disk('file', 'disk', files['data.img'], 'vdb')
             + _disk('file', 'cdrom', files['install.iso'], 'hdc') + _disk('file', 'disk', files['shared.img'], 'vdc')
             + _disk('file', 'disk', files['ro.img'], 'vdd', '<readonly/>')
             + _disk('file', 'disk', tmp_path / 'missing.img', 'vde'))
    define_domain(minimal_domain_xml(unique_name, extra=disks))
    define_domain(minimal_domain_xml(unique_name + '-other', extra=_disk('file', 'disk', files['shared.img'], 'vda')))
    conn.lookupByName(unique_name).create()
    before = snapshot(conn, unique_name)

    # Another domain uses shared.img: refused before anything changes, naming it.
    for check in (True, False):
        refused = run(check=check, name=unique_name, state='absent', remove_storage=True)
        assert refused['failed'] and refused['actions'] == [] and not refused['changed']
        assert "%s is used by domain '%s-other'" % (files['shared.img'], unique_name) in refused['msg']
        assert 'nothing was changed' in refused['msg'] and 'keep_storage' in refused['msg']
    assert snapshot(conn, unique_name) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)

    results = four_steps(run, conn, unique_name, ['destroy', 'undefine', 'delete_file', 'delete_file'],
                         name=unique_name, state='absent', remove_storage=True, keep_storage=[str(files['shared.img'])])
    expected = [str(files['root.img']), str(files['data.img'])]
    assert results[0]['removed_storage'] == results[1]['removed_storage'] == expected
    assert results[3]['removed_storage'] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ['install.iso', 'ro.img', 'shared.img']
    assert any('missing.img' in w for w in warnings)


def test_keep_storage_must_name_a_disk_of_the_domain(run, conn, define_domain, unique_name, tmp_path):
    image = tmp_path / 'root.img'
    image.write_bytes(b'x')
    define_domain(minimal_domain_xml(unique_name, extra=_disk('file', 'disk', image, 'vda')))
    result = run(name=unique_name, state='absent', remove_storage=True, keep_storage=[str(tmp_path / 'typo.img')])
    assert result['failed'] and 'typo.img' in result['msg'] and 'no disk image' in result['msg']
    assert result['actions'] == [] and image.exists() and conn.lookupByName(unique_name)
    result = run(name=unique_name, state='absent', keep_storage=[str(image)])
    assert result['failed'] and 'keep_storage needs remove_storage' in result['msg']


# -- define ---------------------------------------------------------------------------

def test_define_new_then_idempotent(run, conn, unique_name):
    xml = minimal_domain_xml(unique_name, memory_mib=64)
    try:
        results = four_steps(run, conn, unique_name, ['define'], xml=xml)
        assert results[1]['differences'] == ['(new domain)']
        assert results[1]['domain']['state'] == 'shutoff'
        assert results[1]['domain']['persistent'] is True
        assert results[3]['differences'] == []
    finally:
        run(name=unique_name, state='absent')


def test_define_and_start_new(run, conn, unique_name):
    xml = minimal_domain_xml(unique_name)
    try:
        results = four_steps(run, conn, unique_name, ['define', 'create'], xml=xml, state='running')
        assert results[0]['domain']['state'] == 'running'
        assert results[1]['restart_required'] is False
    finally:
        run(name=unique_name, state='absent')


def test_redefine_shut_off_domain(run, conn, define_domain, unique_name):
    define_domain(minimal_domain_xml(unique_name, memory_mib=64))
    uuid_before = conn.lookupByName(unique_name).UUIDString()
    results = four_steps(run, conn, unique_name, ['define'], xml=minimal_domain_xml(unique_name, memory_mib=128))
    assert results[1]['differences'] == ['memory']
    assert results[1]['restart_required'] is False
    dom = conn.lookupByName(unique_name)
    assert dom.UUIDString() == uuid_before
    assert "<memory unit='KiB'>131072</memory>" in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)


def test_redefine_running_domain_requires_restart(run, conn, define_domain, unique_name):
    make(conn, define_domain, unique_name, 'running')
    xml = minimal_domain_xml(unique_name, memory_mib=128)
    results = four_steps(run, conn, unique_name, ['define'], xml=xml, state='running')
    # the persistent definition is updated, the live domain not; nothing restarted, and
    # later runs still say that the running guest differs
    for result in results:
        assert result['restart_required'] is True
        assert result['live_differences'] == ['memory']
    assert conn.lookupByName(unique_name).state()[0] == libvirt.VIR_DOMAIN_RUNNING
    # a stop and start brings the new definition live: no restart needed any more
    run(name=unique_name, state='destroyed')
    started = run(xml=xml, state='running')
    assert started['actions'] == ['create'] and started['restart_required'] is False


def test_define_transient_domain_makes_it_persistent(run, conn, define_domain, unique_name):
    dom = make(conn, define_domain, unique_name, 'transient')
    try:
        results = four_steps(run, conn, unique_name, ['define'], xml=minimal_domain_xml(unique_name),
                             state='running')
        assert results[1]['domain']['persistent'] is True
        assert results[1]['restart_required'] is False
    finally:
        dom.destroy()
        dom.undefine()


def test_diff_shows_state_and_masked_xml(run, conn, define_domain, unique_name):
    graphics = "<graphics type='vnc' port='-1' autoport='yes' passwd='s3cret-pw'/>"
    define_domain(minimal_domain_xml(unique_name, memory_mib=64, extra=graphics))
    result = run(diff=True, xml=minimal_domain_xml(unique_name, memory_mib=96, extra=graphics), state='running')
    assert result['changed']
    diff = result['diff']
    assert diff['before'].startswith('<!-- state: shutoff -->')
    assert diff['after'].startswith('<!-- state: running -->')
    assert '65536' in diff['before'] and '98304' in diff['after']
    assert 's3cret-pw' not in json.dumps(result)
    lifecycle_only = run(diff=True, name=unique_name, state='paused')
    assert lifecycle_only['diff']['before'] == 'state: running\n'
    assert lifecycle_only['diff']['after'] == 'state: paused\n'


# -- bad input: one clear line, the domain exactly as it was -------------------------------

BAD_INPUT = [
    ('malformed xml', lambda n: dict(xml="<domain type='test'>\n<name>%s</name>\n<memory>" % n),
     ['line 3', 'column']),
    ('name differs from xml', lambda n: dict(name=n + '-other', xml=minimal_domain_xml(n)),
     ['does not match', 'renaming']),
    ('uuid differs from xml', lambda n: dict(
        uuid='c7a5fdbd-edaf-9455-926a-d65c16db1809',
        xml=minimal_domain_xml(n).replace('</name>', '</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1810</uuid>')),
     ['does not match']),
    ('existing domain has another uuid', lambda n: dict(xml=minimal_domain_xml(n).replace(
        '</name>', '</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1811</uuid>')), ['exists with uuid']),
    ('libvirt validation refuses', lambda n: dict(xml=minimal_domain_xml(n).replace('<vcpu>', '<bogus/><vcpu>'),
                                                  validate=True),
     ['rejected the definition', 'nothing was changed']),
    ('invalid uuid', lambda n: dict(uuid='not-a-uuid', state='running'), ['invalid uuid']),
    ('remove_storage without absent', lambda n: dict(name=n, state='running', remove_storage=True),
     ['state absent only']),
    ('negative timeout', lambda n: dict(name=n, state='shutdown', timeout=-1), ['timeout']),
    ('xml without name', lambda n: dict(xml="<domain type='test'><memory>1</memory></domain>"), ['no <name>']),
    ('not a domain', lambda n: dict(xml="<network><name>%s</name></network>" % n), ['domain']),
]


@pytest.mark.parametrize('label,args,words', BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
def test_bad_input(run, conn, define_domain, unique_name, label, args, words):
    make(conn, define_domain, unique_name, 'running')
    before = snapshot(conn, unique_name)
    # libvirt validates a definition only when defining, which check mode never does.
    modes = (False,) if label == 'libvirt validation refuses' else (True, False)
    for check in modes:
        result = run(check=check, **args(unique_name))
        assert result.get('failed'), result
        assert '\n' not in result['msg']
        for word in words:
            assert word in result['msg']
        assert result['actions'] == []
        assert snapshot(conn, unique_name) == before


def test_validation_refusal_leaves_no_new_domain(run, conn, unique_name):
    result = run(xml=minimal_domain_xml(unique_name).replace('<vcpu>', '<bogus/><vcpu>'), state='running',
                 validate=True)
    assert result['failed'] and 'rejected the definition' in result['msg']
    assert snapshot(conn, unique_name) is None


def test_without_validation_what_libvirt_dropped_is_a_warning(run, conn, unique_name, warnings):
    xml = minimal_domain_xml(unique_name).replace('<vcpu>', '<bogus/><vcpu>')
    result = run(xml=xml)
    assert result['changed'] and not result.get('failed')
    assert any('bogus' in w and 'ignored' in w for w in warnings), warnings


def test_running_missing_domain_without_xml(run, conn, unique_name):
    result = run(name=unique_name, state='running')
    assert result['failed'] and 'not found' in result['msg'] and 'give xml' in result['msg']


def test_absent_with_xml_for_missing_domain_is_no_change(run, conn, unique_name):
    for check in (True, False):
        result = run(check=check, xml=minimal_domain_xml(unique_name), state='absent')
        assert result['changed'] is False and result['actions'] == []
        assert result['domain']['state'] == 'absent'
    assert snapshot(conn, unique_name) is None


def test_without_validate_libvirt_drops_unknown_and_warns(run, conn, unique_name, warnings):
    xml = minimal_domain_xml(unique_name).replace('<vcpu>', '<bogus/><vcpu>')
    try:
        first = run(xml=xml, validate=False)
        assert first['changed'] and first['actions'] == ['define']
        assert any('normalised or ignored' in w and 'bogus' in w for w in warnings)
    finally:
        run(name=unique_name, state='absent')


def test_a_damaged_record_is_a_warning_and_replaced(run, conn, unique_name, warnings):
    damaged = ("<metadata><domainops:applied xmlns:domainops='https://github.com/domainops/libvirt/applied-record' "
               "version='7'><domain/></domainops:applied></metadata>")
    xml = minimal_domain_xml(unique_name)
    conn.defineXML(xml.replace('</name>', '</name>' + damaged))
    for check in (True, False):
        result = run(xml=xml, check=check)
        assert not result.get('failed') and result['changed'] and result['applied_record'] == 'written', result
    assert any('newer version' in w and 'treated as absent' in w for w in warnings), warnings
    again = run(xml=xml)
    assert not again['changed'] and again['applied_record'] == 'unchanged'
    assert "version='7'" not in conn.lookupByName(unique_name).XMLDesc(0)
