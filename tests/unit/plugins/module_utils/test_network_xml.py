# network_xml: which changes of a network virNetworkUpdate can make in place.
from ansible_collections.domainops.libvirt.plugins.module_utils import network_xml
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_text import parse_xml

BASE = """<network><name>n</name><uuid>0b7e6f0e-8b8a-4c39-9d2a-56c5b5d5f001</uuid><bridge name='b0'/>
<dns><host ip='10.0.0.5'><hostname>h5</hostname></host></dns>
<ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.100' end='10.0.0.150'/>%s</dhcp></ip>
<portgroup name='pg'/></network>"""
A = "<host mac='52:54:00:00:00:01' name='a' ip='10.0.0.10'/>"


def doc(text):
    return parse_xml(text, 'network XML', ('network',))


def calls(before, after):
    found = network_xml.in_place_updates(doc(before), doc(after))
    return None if found is None else [network_xml.describe_update(c) for c in found]


def test_dhcp_host_add_modify_delete():
    assert calls(BASE % '', BASE % A) == ['update(add ip[0]/dhcp/host mac=52:54:00:00:00:01)']
    assert calls(BASE % A, BASE % '') == ['update(delete ip[0]/dhcp/host mac=52:54:00:00:00:01)']
    assert calls(BASE % A, BASE % A.replace('.10', '.11')) == ['update(modify ip[0]/dhcp/host mac=52:54:00:00:00:01)']
    assert calls(BASE % A, BASE % A) == []


def test_dns_range_and_portgroup_in_place():
    after = (BASE % '').replace("<hostname>h5</hostname>", "<hostname>h6</hostname>")
    assert calls(BASE % '', after) == [
        "update(delete dns/host <host ip=\"10.0.0.5\"><hostname>h5</hostname></host>)",
        "update(add dns/host <host ip=\"10.0.0.5\"><hostname>h6</hostname></host>)"]
    assert calls(BASE % '', (BASE % '').replace("<portgroup name='pg'/>", '')) == ['update(delete portgroup name=pg)']
    assert len(calls(BASE % '', (BASE % '').replace('.150', '.160'))) == 2


def test_other_changes_need_a_new_definition():
    assert calls(BASE % '', (BASE % '').replace("name='b0'", "name='b1'")) is None
    assert calls(BASE % '', (BASE % '').replace("prefix='24'", "prefix='16'")) is None


def test_mac_addresses_compare_in_any_case():
    root = doc(BASE % A.upper().replace('HOST', 'host').replace('MAC', 'mac').replace('NAME', 'name')
               .replace('IP=', 'ip='))
    network_xml.NETWORK.canonicalise(root, None)
    assert root.find('ip/dhcp/host').get('mac') == '52:54:00:00:00:01'
