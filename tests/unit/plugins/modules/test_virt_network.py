# virt_network in-process on test:///default (real libvirt code, no daemon). The test
# driver has one definition per network (no INACTIVE flag), so in-place changes of a
# running network are tested on the real daemon (tests/system/test_network_system.py).
import libvirt
import pytest

from ansible_collections.domainops.libvirt.plugins.modules import virt_network

XML = """<network><name>{name}</name><bridge name='{bridge}'/>
<ip address='10.213.5.1' netmask='255.255.255.0'><dhcp><range start='10.213.5.100' end='10.213.5.150'/>{hosts}
</dhcp></ip></network>"""
HOST = "<host mac='52:54:00:16:00:0A' name='web' ip='10.213.5.10'/>"


def run4(run_module, args):
    return [run_module(virt_network, args, check=check, diff=True) for check in (True, False, True, False)]


@pytest.fixture
def network_name(conn, unique_name):
    yield unique_name
    try:
        net = conn.networkLookupByName(unique_name)
    except libvirt.libvirtError:
        return
    if net.isActive():
        net.destroy()
    net.undefine()


def xml(name, hosts=''):
    return XML.format(name=name, bridge='br' + name[-8:], hosts=hosts)


def test_define_change_remove_on_an_inactive_network(run_module, conn, network_name):
    results = run4(run_module, dict(xml=xml(network_name, HOST)))
    assert [r['changed'] for r in results] == [True, True, False, False]
    assert results[0]['actions'] == results[1]['actions'] == ['define']
    assert results[1]['applied_record'] == 'written' and results[3]['applied_record'] == 'unchanged'
    assert results[0]['diff']['before'].startswith('<!-- state: absent -->')
    net = conn.networkLookupByName(network_name)
    assert 'applied' in net.XMLDesc(0)  # the record is kept in <metadata>

    # the host removed from xml is removed from the network (the record says it was ours)
    results = run4(run_module, dict(xml=xml(network_name)))
    assert [r['changed'] for r in results] == [True, True, False, False]
    assert results[1]['actions'] == ['define'] and results[1]['differences'] == ['ip/dhcp/host']
    assert '52:54:00:16:00' not in net.XMLDesc(0).lower()

    results = run4(run_module, dict(name=network_name, state='running', autostart=True))
    assert results[1]['actions'] == ['create', 'set_autostart(true)']
    assert results[1]['network']['active'] and results[1]['network']['autostart']
    assert [r['changed'] for r in results] == [True, True, False, False]

    results = run4(run_module, dict(name=network_name, state='absent'))
    assert results[1]['actions'] == ['destroy', 'undefine']
    assert [r['changed'] for r in results] == [True, True, False, False]
    assert results[1]['network']['uuid'] is None


def test_mac_case_and_libvirt_additions_are_no_change(run_module, conn, network_name):
    assert run_module(virt_network, dict(xml=xml(network_name, HOST)))['changed']
    same = xml(network_name, HOST.lower()).replace('<network>', "<network>\n  ")
    result = run_module(virt_network, dict(xml=same))
    assert not result['changed'] and result['differences'] == []


def test_bad_input(run_module, conn, network_name):
    result = run_module(virt_network, dict(name=network_name, state='running'))
    assert result['failed'] and 'not found' in result['msg'] and 'nothing was changed' in result['msg']
    result = run_module(virt_network, dict(name='other', xml=xml(network_name)))
    assert result['failed'] and 'differ' in result['msg']
    result = run_module(virt_network, dict(xml='<network><bridge/></network>'))
    assert result['failed'] and 'no <name>' in result['msg']
    result = run_module(virt_network, dict(xml='<domain><name>x</name></domain>'))
    assert result['failed'] and result['actions'] == []
