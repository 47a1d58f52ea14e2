# virt_domain_state wait_for_address on the test driver, which answers every address
# source at once with made-up addresses; the real wait (a DHCP lease that takes
# seconds, the agent connecting) runs against the tiny guest in tests/system.
import time

import libvirt
import pytest

from ansible_collections.domainops.libvirt.plugins.modules import virt_domain_state

from conftest import minimal_domain_xml

NIC = "<interface type='network'><mac address='52:54:00:bb:00:01'/><source network='default'/></interface>"


@pytest.fixture
def run(run_module):
    def run_state(check=False, **args):
        return run_module(virt_domain_state, args, check=check)
    return run_state


def test_start_and_wait_check_real_check_real(run, conn, define_domain, unique_name):
    define_domain(minimal_domain_xml(unique_name, extra=NIC))
    args = dict(name=unique_name, state='running', wait_for_address=True)
    results = [run(check=check, **args) for check in (True, False, True, False)]
    assert [r['actions'] for r in results] == [['create'], ['create'], [], []]
    assert [r['changed'] for r in results] == [True, True, False, False]
    # check mode before the start: nothing runs, so no address yet
    assert results[0]['address'] is None and results[0]['interfaces'] == []
    lease = conn.lookupByName(unique_name).interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0)
    expected = list(lease.values())[0]['addrs'][0]['addr']
    for result in results[1:]:
        assert result['address'] == expected
        assert result['interfaces'][0]['mac'] == '52:54:00:bb:00:01'
        assert result['interfaces'][0]['addresses'] == [
            dict(address=expected, prefix=24, family='ipv4', source='lease')]


@pytest.mark.parametrize('source', ['lease', 'arp', 'agent'])
def test_each_source(run, conn, define_domain, unique_name, source):
    channel = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
    define_domain(minimal_domain_xml(unique_name, extra=NIC + channel)).create()
    result = run(name=unique_name, state='running', wait_for_address=True, address_source=source,
                 address_interface='default')
    assert not result.get('failed'), result
    assert result['interfaces'][0]['addresses'][0]['source'] == source
    assert result['changed'] is False and result['waited'] == 0


def test_timeout_says_what_it_saw(run, define_domain, unique_name):
    define_domain(minimal_domain_xml(unique_name, extra=NIC)).create()
    started = time.monotonic()
    result = run(name=unique_name, state='running', wait_for_address=True, address_family='ipv6', timeout=2)
    assert 2 <= time.monotonic() - started < 5
    assert result['failed']
    msg = result['msg']
    assert 'has no IPv6 address from source any after 2.' in msg, msg
    seen = result['interfaces'][0]['addresses'][0]
    assert seen['family'] == 'ipv4'
    assert 'last seen: 52:54:00:bb:00:01 on default: %s/24 (lease)' % seen['address'] in msg, msg
    assert '\n' not in msg
    assert 1.5 <= result['waited'] < 2.5  # the timeout covers the start too


def test_no_interfaces_fails_at_once(run, define_domain, unique_name):
    define_domain(minimal_domain_xml(unique_name))
    result = run(name=unique_name, state='running', wait_for_address=True, timeout=60)
    assert result['failed'] and 'has no network interface, so no address to wait for' in result['msg']
    assert 'already done before the failure: create' in result['msg']


def test_unknown_interface_fails_at_once(run, define_domain, unique_name):
    define_domain(minimal_domain_xml(unique_name, extra=NIC)).create()
    result = run(name=unique_name, state='running', wait_for_address=True, address_interface='br9')
    assert result['failed']
    assert "no interface with MAC address or source 'br9' (it has: 52:54:00:bb:00:01 on default)" in result['msg']


def test_only_with_state_running(run, conn, define_domain, unique_name):
    dom = define_domain(minimal_domain_xml(unique_name, extra=NIC))
    dom.create()
    result = run(name=unique_name, state='paused', wait_for_address=True)
    assert result['failed'] and 'wait_for_address works with state running only' in result['msg']
    assert result['actions'] == [] and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
