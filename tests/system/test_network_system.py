"""virt_network on the real daemon: an isolated network with DHCP (no <forward>, a private
range, never routed), defined, started, a DHCP host added and removed in place while the
tiny real guest holds a lease on it (the bridge keeps its ifindex, the guest's tap stays on
it, the guest keeps the same lease and still answers), DNS entries, a DHCP range, a port
group and a forward interface changed in place, a change that needs a restart, bad input,
and removal. Every change: check, real, check, real.
"""

import os
import socket
import sys
import uuid

import libvirt
import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, 'lib'))
from modrun import one_line_problems, remove_domain, run_module, step  # noqa: E402
from sysenv import URI, connect, tiny_xml  # noqa: E402

import guests  # noqa: E402  (tests/guest, put on sys.path by sysenv)

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def network_snapshot(conn, name):
    try:
        net = conn.networkLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_NETWORK:
            return None
        raise
    persistent = bool(net.isPersistent())
    return dict(active=bool(net.isActive()), persistent=persistent,
                autostart=bool(net.autostart()) if persistent else None,
                live=net.XMLDesc(0) if net.isActive() else None,
                inactive=net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE) if persistent else None)


def remove_network(conn, name):
    try:
        net = conn.networkLookupByName(name)
    except libvirt.libvirtError:
        return
    if net.isActive():
        net.destroy()
    try:
        net.undefine()
    except libvirt.libvirtError:
        pass


def network_xml(name, bridge, hosts='', domain=''):
    # 10.213.x.0/24: private, isolated (no <forward>), one subnet per test run
    subnet = '10.213.%d' % (int(uuid.uuid4().hex[:4], 16) % 200 + 20)
    return subnet, """<network>
  <name>{name}</name>
  <bridge name='{bridge}'/>{domain}
  <ip address='{s}.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='{s}.100' end='{s}.150'/>{hosts}
    </dhcp>
  </ip>
</network>""".format(name=name, bridge=bridge, s=subnet, hosts=hosts, domain=domain)


def ifindex(dev):
    with open('/sys/class/net/%s/ifindex' % dev) as handle:
        return int(handle.read())


def bridge_ports(bridge):
    return sorted(os.listdir('/sys/class/net/%s/brif' % bridge))


def leases_of(conn, name, mac):
    """The network's DHCP leases of `mac` (address, expiry, client id...), as libvirt reads them from dnsmasq."""
    return [lease for lease in conn.networkLookupByName(name).DHCPLeases() if lease['mac'] == mac]


def answers(address, timeout=10):
    """Whether the guest's network stack answers a TCP connection from this host: a
    refusal (RST from a closed port of the guest) is an answer; silence is not."""
    try:
        socket.create_connection((address, 9), timeout=timeout).close()
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    return True


@pytest.fixture
def conn():
    connection = connect()
    yield connection
    connection.close()


def test_dhcp_host_added_and_removed_in_place_with_a_guest_attached(conn, tmp_path):
    tag = uuid.uuid4().hex[:6]
    log = str(tmp_path / 'serial.log')
    name, bridge, guest = 'i16-net-%s' % tag, 'i16br%s' % tag, 'i16-guest-%s' % tag
    subnet, base = network_xml(name, bridge)
    host = "\n      <host mac='52:54:00:16:00:01' name='web' ip='%s.10'/>" % subnet
    with_host = base.replace("'/>\n    </dhcp>", "'/>%s\n    </dhcp>" % host)
    assert with_host != base
    snap = network_snapshot
    try:
        result = step(conn, name, 'virt_network', dict(xml=base, state='running'), ['define', 'create'], snap=snap)
        assert result['network']['active'] and result['network']['bridge'] == bridge
        assert result['applied_record'] == 'written'
        # the tiny real guest on the network, with a DHCP lease (busybox udhcpc)
        dom = conn.defineXML(tiny_xml(guest, log, network=name))
        dom.create()
        address = guests.wait_for_lease(log, timeout=240)[1].split('/')[0]
        mac = dom.XMLDesc(0).split("<mac address='", 1)[1].split("'", 1)[0]
        lease = leases_of(conn, name, mac)
        assert [entry['ipaddr'] for entry in lease] == [address] and lease[0]['expirytime'] > 0, lease
        assert answers(address), 'the guest %s does not answer on %s' % (address, bridge)
        assert not answers('%s.99' % subnet, timeout=5)  # an address nobody holds is silent
        ports = bridge_ports(bridge)
        assert len(ports) == 1, ports
        index = ifindex(bridge)

        def kept():
            """Nothing the guest sees changed: bridge, tap, lease (address, expiry, client id), no new
            DHCP exchange (the guest prints every lease it gets), and it still answers."""
            assert ifindex(bridge) == index and bridge_ports(bridge) == ports
            assert leases_of(conn, name, mac) == lease
            assert len(guests.leases(log)) == 1, guests.leases(log)
            assert answers(address), 'the guest %s no longer answers on %s' % (address, bridge)

        result = step(conn, name, 'virt_network', dict(xml=with_host, state='running'),
                      ['update(add ip[0]/dhcp/host mac=52:54:00:16:00:01)', 'define'], snap=snap)
        assert not result['restart_required']
        live = conn.networkLookupByName(name).XMLDesc(0)
        assert "mac='52:54:00:16:00:01'" in live
        kept()

        result = step(conn, name, 'virt_network', dict(xml=base, state='running'),
                      ['update(delete ip[0]/dhcp/host mac=52:54:00:16:00:01)', 'define'], snap=snap)
        net = conn.networkLookupByName(name)
        assert "52:54:00:16:00:01" not in net.XMLDesc(0)
        assert "52:54:00:16:00:01" not in net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE)
        kept()

        # not changeable in place: defined, reported, not restarted
        changed = base.replace("<bridge name='%s'/>" % bridge,
                               "<bridge name='%s'/>\n  <domain name='i16.test'/>" % bridge)
        result = step(conn, name, 'virt_network', dict(xml=changed, state='running'), ['define'], snap=snap)
        assert result['restart_required'] and result['live_differences'] == ['domain']
        assert ifindex(bridge) == index
        again = run_module('virt_network', dict(xml=changed, state='running'), URI)
        assert not again['changed'] and again['restart_required']
        # allowed: restarted
        result = run_module('virt_network', dict(xml=changed, state='running', restart=True), URI)
        assert result['actions'] == ['destroy', 'create'] and not result['restart_required']
        assert "i16.test" in conn.networkLookupByName(name).XMLDesc(0)

        step(conn, name, 'virt_network', dict(state='stopped', autostart=True),
             ['destroy', 'set_autostart(true)'], snap=snap)
        step(conn, name, 'virt_network', dict(state='absent'), ['undefine'], snap=snap)
        assert network_snapshot(conn, name) is None
    finally:
        remove_domain(conn, guest)
        remove_network(conn, name)


def test_duplicate_bridge_is_a_clear_error_and_nothing_is_made(conn):
    tag = uuid.uuid4().hex[:6]
    first, second, bridge = 'i16-net-%s' % tag, 'i16-dup-%s' % tag, 'i16br%s' % tag
    try:
        _subnet, xml = network_xml(first, bridge)
        assert not run_module('virt_network', dict(xml=xml), URI)['failed']
        result = run_module('virt_network', dict(xml=xml.replace(first, second), state='running'), URI)
        assert one_line_problems(result) == []
        assert "network '%s'" % second in result['msg'] and 'already in use' in result['msg']
        assert 'nothing was changed' in result['msg'] and result['actions'] == []
        assert network_snapshot(conn, second) is None
    finally:
        remove_network(conn, first)
        remove_network(conn, second)


def test_dns_range_portgroup_and_forward_interface_changes_are_made_in_place(conn):
    tag = uuid.uuid4().hex[:6]
    name, bridge, macvtap = 'i16-net-%s' % tag, 'i16br%s' % tag, 'i16-mv-%s' % tag
    subnet, base = network_xml(name, bridge, domain="\n  <dns>\n    <host ip='10.213.0.5'><hostname>h5</hostname></host>\n  </dns>")
    changed = (base.replace('<hostname>h5</hostname>', '<hostname>h6</hostname>')
               .replace('  </dns>', "    <txt name='i16' value='kept'/>\n"
                                    "    <srv service='ldap' protocol='tcp' target='h6' port='389'/>\n  </dns>")
               .replace("%s.150'" % subnet, "%s.160'" % subnet)
               .replace('</network>', "  <portgroup name='web'/>\n</network>"))
    snap = network_snapshot
    try:
        step(conn, name, 'virt_network', dict(xml=base, state='running'), ['define', 'create'], snap=snap)
        index = ifindex(bridge)
        result = step(conn, name, 'virt_network', dict(xml=changed, state='running'), [
            "update(delete ip[0]/dhcp/range <range start=\"{s}.100\" end=\"{s}.150\"/>)".format(s=subnet),
            "update(add ip[0]/dhcp/range <range start=\"{s}.100\" end=\"{s}.160\"/>)".format(s=subnet),
            "update(delete dns/host <host ip=\"10.213.0.5\"><hostname>h5</hostname></host>)",
            "update(add dns/host <host ip=\"10.213.0.5\"><hostname>h6</hostname></host>)",
            "update(add dns/txt <txt name=\"i16\" value=\"kept\"/>)",
            "update(add dns/srv <srv service=\"ldap\" protocol=\"tcp\" target=\"h6\" port=\"389\"/>)",
            'update(add portgroup name=web)', 'define'], snap=snap)
        assert not result['restart_required'] and ifindex(bridge) == index
        net = conn.networkLookupByName(name)
        for xml in (net.XMLDesc(0), net.XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE)):
            for text in ('h6', "value='kept'", "service='ldap'", "%s.160'" % subnet, "portgroup name='web'"):
                assert text in xml, (text, xml)
        # and back: every entry the first XML did not have is removed again, in place
        result = step(conn, name, 'virt_network', dict(xml=base, state='running'), [
            "update(delete ip[0]/dhcp/range <range start=\"{s}.100\" end=\"{s}.160\"/>)".format(s=subnet),
            "update(add ip[0]/dhcp/range <range start=\"{s}.100\" end=\"{s}.150\"/>)".format(s=subnet),
            "update(delete dns/host <host ip=\"10.213.0.5\"><hostname>h6</hostname></host>)",
            "update(add dns/host <host ip=\"10.213.0.5\"><hostname>h5</hostname></host>)",
            "update(delete dns/txt <txt name=\"i16\" value=\"kept\"/>)",
            "update(delete dns/srv <srv service=\"ldap\" protocol=\"tcp\" target=\"h6\" port=\"389\"/>)",
            'update(delete portgroup name=web)', 'define'], snap=snap)
        assert not result['restart_required'] and ifindex(bridge) == index
        live = conn.networkLookupByName(name).XMLDesc(0)
        assert 'kept' not in live and 'ldap' not in live and 'web' not in live and 'h6' not in live

        # a macvtap network (no bridge of its own): a forward interface added and removed in place
        pool = "<network><name>%s</name><forward mode='bridge'><interface dev='i16d0'/>%s</forward></network>"
        step(conn, macvtap, 'virt_network', dict(xml=pool % (macvtap, ''), state='running'),
             ['define', 'create'], snap=snap)
        step(conn, macvtap, 'virt_network', dict(xml=pool % (macvtap, "<interface dev='i16d1'/>"), state='running'),
             ['update(add forward/interface dev=i16d1)', 'define'], snap=snap)
        assert "dev='i16d1'" in conn.networkLookupByName(macvtap).XMLDesc(0)
        result = step(conn, macvtap, 'virt_network', dict(xml=pool % (macvtap, ''), state='running'),
                      ['update(delete forward/interface dev=i16d1)', 'define'], snap=snap)
        assert not result['restart_required'] and "i16d1" not in conn.networkLookupByName(macvtap).XMLDesc(0)
    finally:
        remove_network(conn, name)
        remove_network(conn, macvtap)
