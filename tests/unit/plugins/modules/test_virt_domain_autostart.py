# virt_domain_autostart in-process on test:///default (real libvirt code, no daemon).
from ansible_collections.domainops.libvirt.plugins.modules import virt_domain_autostart


def run4(run_module, args):
    """check, real, check, real: the four runs of the idempotence pattern."""
    return [run_module(virt_domain_autostart, args, check=check, diff=True) for check in (True, False, True, False)]


def test_enable_then_disable_is_idempotent(run_module, define_domain, unique_name, minimal_domain_xml):
    dom = define_domain(minimal_domain_xml(unique_name))
    assert dom.autostart() == 0

    first_check, real, second_check, again = run4(run_module, dict(name=unique_name, enabled=True))
    assert [r['changed'] for r in (first_check, real, second_check, again)] == [True, True, False, False]
    assert first_check['actions'] == real['actions'] == ['set_autostart(true)']
    assert second_check['actions'] == again['actions'] == []
    assert first_check['diff'] == dict(before=dict(autostart=False), after=dict(autostart=True))
    assert again['diff'] == dict(before=dict(autostart=True), after=dict(autostart=True))
    assert real['autostart'] is True and real['domain']['autostart'] is True
    assert dom.autostart() == 1

    results = run4(run_module, dict(uuid=dom.UUIDString().replace('-', '').upper(), enabled=False))
    assert [r['changed'] for r in results] == [True, True, False, False]
    assert results[1]['actions'] == ['set_autostart(false)']
    assert results[1]['domain']['name'] == unique_name
    assert dom.autostart() == 0


def test_check_mode_changes_nothing(run_module, define_domain, unique_name, minimal_domain_xml):
    dom = define_domain(minimal_domain_xml(unique_name))
    result = run_module(virt_domain_autostart, dict(name=unique_name, enabled=True), check=True)
    assert result['changed'] is True and result['autostart'] is True
    assert result['domain']['autostart'] is False  # the domain as it still is
    assert dom.autostart() == 0


def test_transient_domain_cannot_autostart(run_module, conn, unique_name, minimal_domain_xml):
    dom = conn.createXML(minimal_domain_xml(unique_name), 0)
    try:
        result = run_module(virt_domain_autostart, dict(name=unique_name, enabled=True))
        assert result['failed'] is True
        assert 'transient' in result['msg'] and 'nothing was changed' in result['msg']
        assert result['actions'] == []

        # Not autostarting is what a transient domain does anyway.
        result = run_module(virt_domain_autostart, dict(name=unique_name, enabled=False))
        assert result.get('failed') is not True and result['changed'] is False
    finally:
        dom.destroy()


def test_missing_domain_and_bad_input(run_module, unique_name):
    result = run_module(virt_domain_autostart, dict(name=unique_name, enabled=True))
    assert result['failed'] is True and 'not found' in result['msg']
    result = run_module(virt_domain_autostart, dict(uuid='not-a-uuid', enabled=True))
    assert result['failed'] is True and 'invalid uuid' in result['msg']
    result = run_module(virt_domain_autostart, dict(enabled=True))
    assert result['failed'] is True and 'name' in result['msg']
