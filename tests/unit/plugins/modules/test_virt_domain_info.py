# virt_domain_info in-process on test:///default (real libvirt code, no daemon).
import libvirt
import pytest

from ansible_collections.domainops.libvirt.plugins.modules import virt_domain_info


DISK_AND_NIC = (
    "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
    "<source file='/var/lib/images/a.qcow2'/><target dev='vda' bus='virtio'/></disk>"
    "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>"
    "<interface type='network'><mac address='52:54:00:12:34:56'/><source network='default'/>"
    "<model type='virtio'/></interface>"
)


def by_name(result, name):
    return [d for d in result['domains'] if d['name'] == name]


def test_lists_every_domain_with_fields(run_module, define_domain, unique_name, minimal_domain_xml):
    define_domain(minimal_domain_xml(unique_name, memory_mib=128, extra=DISK_AND_NIC))
    result = run_module(virt_domain_info, {})
    assert result['changed'] is False
    names = [d['name'] for d in result['domains']]
    assert 'test' in names and unique_name in names
    entry = by_name(result, unique_name)[0]
    assert entry['state'] == 'shutoff'
    assert entry['id'] is None and entry['cpu_time_ns'] is None
    assert entry['persistent'] is True and entry['autostart'] is False
    assert entry['max_memory_kib'] == 131072 and entry['memory_kib'] == 131072
    assert entry['vcpus'] == 1
    assert entry['disks'] == [
        dict(target='vda', bus='virtio', device='disk', type='file', source='/var/lib/images/a.qcow2', format='qcow2'),
        dict(target='hdc', bus='ide', device='cdrom', type='file', source=None, format=None),
    ]
    assert entry['interfaces'] == [dict(mac='52:54:00:12:34:56', type='network', source='default', model='virtio',
                                        addresses=[])]
    assert 'xml' not in entry


def test_running_domain_has_id_and_cpu_time(run_module, conn):
    entry = by_name(run_module(virt_domain_info, {'name': 'test'}), 'test')[0]
    assert entry['state'] == 'running' and entry['id'] == conn.lookupByName('test').ID()
    assert entry['cpu_time_ns'] > 0


@pytest.mark.parametrize('filters, expect_test, expect_new', [
    ({'active': True}, True, False),
    ({'active': False}, False, True),
    ({'states': ['shutoff']}, False, True),
    ({'states': ['running', 'paused']}, True, False),
    ({'states': ['other']}, False, False),
    ({'persistent': True}, True, True),
    ({'persistent': False}, False, False),
    ({'autostart': True}, False, True),
    ({'autostart': False}, True, False),
    ({'has_snapshot': False}, True, True),
    ({'has_managed_save': True}, False, False),
])
def test_filters_are_libvirts(run_module, define_domain, unique_name, minimal_domain_xml, filters, expect_test, expect_new):
    define_domain(minimal_domain_xml(unique_name)).setAutostart(1)
    names = [d['name'] for d in run_module(virt_domain_info, filters)['domains']]
    assert ('test' in names) is expect_test
    assert (unique_name in names) is expect_new


def test_lookup_by_uuid_any_spelling(run_module, define_domain, unique_name, minimal_domain_xml):
    dom = define_domain(minimal_domain_xml(unique_name))
    spelled = dom.UUIDString().replace('-', '').upper()
    result = run_module(virt_domain_info, {'uuid': spelled})
    assert [d['uuid'] for d in result['domains']] == [dom.UUIDString()]


def test_missing_domain_is_empty_not_failure(run_module, unique_name):
    assert run_module(virt_domain_info, {'name': unique_name}) == dict(changed=False, domains=[])


def test_xml_with_flags(run_module, conn):
    dom = conn.lookupByName('test')
    result = run_module(virt_domain_info, {'name': 'test', 'xml': True, 'xml_flags': ['inactive', 'secure']})
    assert result['domains'][0]['xml'] == dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)


def test_transient_domain(run_module, conn, unique_name, minimal_domain_xml):
    dom = conn.createXML(minimal_domain_xml(unique_name), 0)
    try:
        entry = run_module(virt_domain_info, {'persistent': False})['domains']
        assert [(d['name'], d['persistent'], d['autostart']) for d in entry] == [(unique_name, False, False)]
    finally:
        dom.destroy()


@pytest.mark.parametrize('args, message', [
    ({'uuid': 'not-a-uuid'}, "invalid uuid 'not-a-uuid'"),
    ({'name': 'a', 'uuid': '6695eb01-f6a4-8304-79aa-97f2502e193f'}, 'mutually exclusive: name|uuid'),
    ({'xml_flags': ['bogus']}, 'value of xml_flags must be one or more of'),
    ({'states': ['sleeping']}, 'value of states must be one or more of'),
    ({'name': 'test', 'active': True}, 'filters (active) cannot be combined with name or uuid'),
    ({'uri': 'qemu+unix:///system?socket=/nonexistent/sock'}, 'cannot connect to libvirt at qemu+unix:///system?socket=/nonexistent/sock'),
    ({'uri': 'test:///default', 'name': 'test', 'xml': True, 'xml_flags': ['update_cpu']}, 'libvirt failed on test:///default for domain'),
])
def test_bad_input_is_one_clear_line(run_module, args, message):
    result = run_module(virt_domain_info, args)
    assert result['failed'] is True
    assert message in result['msg']
    assert '\n' not in result['msg']
    assert 'Traceback' not in result['msg']


def test_check_mode_same_answer(run_module):
    def without_cpu_time(result):  # the running test domain's clock moves on
        return [dict(d, cpu_time_ns=None) for d in result['domains']]
    assert without_cpu_time(run_module(virt_domain_info, {'name': 'test'}, check=True)) == \
        without_cpu_time(run_module(virt_domain_info, {'name': 'test'}))


@pytest.mark.parametrize('args', [
    dict(), dict(xml=True), dict(xml=True, xml_flags=['secure']), dict(xml=True, xml_flags=['inactive', 'secure']),
    dict(xml=True, xml_flags=['inactive']), dict(states=['running']), dict(name='test', xml=True, xml_flags=['secure']),
], ids=['plain', 'xml', 'secure', 'inactive-secure', 'inactive', 'filter', 'one-secure'])
def test_one_result_shape_whatever_the_flags(run_module, args):
    for check in (False, True):
        result = run_module(virt_domain_info, args, check=check)
        assert sorted(result) == ['changed', 'domains'] and result['changed'] is False, result
        assert all(('xml' in entry) is bool(args.get('xml')) for entry in result['domains'])


def test_xml_flags_without_xml_is_an_error(run_module):
    result = run_module(virt_domain_info, dict(xml_flags=['secure']))
    assert result['failed'] and 'give xml: true' in result['msg'] and 'actions' not in result


# -- addresses (the test driver answers every source with made-up addresses) ---------

TWO_NICS_AND_AGENT = (
    "<interface type='network'><mac address='52:54:00:aa:00:01'/><source network='default'/></interface>"
    "<interface type='bridge'><mac address='52:54:00:aa:00:02'/><source bridge='br0'/></interface>"
    "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
)


def _addresses(entry):
    return [[(a['address'], a['prefix'], a['family'], a['source']) for a in iface['addresses']]
            for iface in entry['interfaces']]


@pytest.mark.parametrize('source, expect', [
    ('lease', 'lease'), ('agent', 'agent'), ('arp', 'arp'), ('any', 'lease'), ('none', None)])
def test_addresses_of_a_running_domain_by_source(run_module, conn, define_domain, unique_name,
                                                 minimal_domain_xml, source, expect):
    dom = define_domain(minimal_domain_xml(unique_name, extra=TWO_NICS_AND_AGENT))
    dom.create()
    answer = dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0)
    by_mac = dict((v['hwaddr'], v['addrs'][0]['addr']) for v in answer.values())
    result = run_module(virt_domain_info, {'name': unique_name, 'address_source': source})
    assert not result.get('failed'), result
    got = _addresses(result['domains'][0])
    if expect is None:
        assert got == [[], []]
    else:
        # agent needs a read-write connection: that it answered shows the module opened one
        assert got == [[(by_mac['52:54:00:aa:00:01'], 24, 'ipv4', expect)],
                       [(by_mac['52:54:00:aa:00:02'], 24, 'ipv4', expect)]]


def test_default_source_is_lease_and_shut_off_domains_have_none(run_module, define_domain, unique_name,
                                                                minimal_domain_xml):
    define_domain(minimal_domain_xml(unique_name, extra=TWO_NICS_AND_AGENT))
    result = run_module(virt_domain_info, {})
    assert _addresses(by_name(result, unique_name)[0]) == [[], []]
    test = by_name(result, 'test')[0]
    assert [a['source'] for iface in test['interfaces'] for a in iface['addresses']] == ['lease']


def test_agent_source_skips_a_domain_without_agent_channel(run_module):
    # 'test' has no guest agent channel: not asked, no addresses, no warning
    result = run_module(virt_domain_info, {'name': 'test', 'address_source': 'agent'})
    assert _addresses(result['domains'][0]) == [[]]
    assert not result.get('warnings')
