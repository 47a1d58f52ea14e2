"""The test bench itself: the tiny real guest and the no-OS guest behave as tests assume.

Runs against the real daemon (qemu:///system). Builds the tiny guest on first use
(tests/guest/build.sh, about 7 s cold, cached afterwards).
"""

import os
import sys
import time
import uuid

import libvirt
import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, 'guest'))
sys.path.insert(0, os.path.join(TESTS, 'lib'))
import guests  # noqa: E402
import network  # noqa: E402
from modrun import remove_domain  # noqa: E402

URI = 'qemu:///system'


@pytest.fixture(scope='module')
def conn():
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    try:
        c = libvirt.open(URI)
    except libvirt.libvirtError as exc:
        pytest.fail('cannot connect to %s (did scripts/setup.sh run?): %s' % (URI, exc))
    yield c
    c.close()


@pytest.fixture(scope='module')
def tiny_guest_built():
    return guests.build()


def _name(kind):
    return 'domainops-test-%s-%s' % (kind, uuid.uuid4().hex[:10])


def _cleanup(dom):
    if dom is not None:
        remove_domain(dom.connect(), dom.name())


def _disk_targets(dom):
    from xml.etree import ElementTree
    root = ElementTree.fromstring(dom.XMLDesc(0))
    return [t.get('dev') for t in root.findall('./devices/disk/target')]


def test_tiny_guest_boots_shuts_down_and_reboots(conn, tiny_guest_built, tmp_path):
    log = str(tmp_path / 'serial.log')
    dom = None
    try:
        dom = conn.defineXML(guests.tiny_guest_xml(_name('tiny'), log))
        dom.create()
        guests.wait_for_ready(log, timeout=90)
        assert guests.count_ready(log) == 1

        # graceful shutdown: ACPI power button -> acpid -> poweroff -f
        dom.shutdown()
        waited = guests.wait_for_state(dom, libvirt.VIR_DOMAIN_SHUTOFF, timeout=10)
        assert waited < 10

        # start again (QEMU truncates the serial log), then reboot: a second READY
        dom.create()
        guests.wait_for_ready(log, timeout=90)
        before = guests.count_ready(log)
        assert before == 1
        dom.reboot(0)
        guests.wait_for_ready(log, timeout=90, count=before + 1)
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    finally:
        _cleanup(dom)


def test_tiny_guest_releases_hot_unplugged_disk(conn, tiny_guest_built, tmp_path):
    log = str(tmp_path / 'serial.log')
    img = tmp_path / 'disk.raw'
    with open(img, 'wb') as f:
        f.truncate(1024 * 1024)
    disk = ("<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
            "<source file='%s'/><target dev='vdb' bus='virtio'/></disk>" % img)
    live = libvirt.VIR_DOMAIN_AFFECT_LIVE
    dom = None
    try:
        dom = conn.defineXML(guests.tiny_guest_xml(_name('hotplug'), log))
        dom.create()
        guests.wait_for_ready(log, timeout=90)
        dom.attachDeviceFlags(disk, live)
        assert 'vdb' in _disk_targets(dom)
        time.sleep(0.5)  # let the guest's virtio_blk bind the new device
        dom.detachDeviceFlags(disk, live)
        deadline = time.monotonic() + 10
        while 'vdb' in _disk_targets(dom) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert 'vdb' not in _disk_targets(dom), 'the guest did not release the disk'
    finally:
        _cleanup(dom)


def test_tiny_guest_powers_off_on_key_power(conn, tiny_guest_built, tmp_path):
    log = str(tmp_path / 'serial.log')
    dom = None
    try:
        dom = conn.defineXML(guests.tiny_guest_xml(_name('sendkey'), log))
        dom.create()
        guests.wait_for_ready(log, timeout=90)
        key_power = 116  # linux keycode KEY_POWER
        dom.sendKey(libvirt.VIR_KEYCODE_SET_LINUX, 0, [key_power], 1, 0)
        guests.wait_for_state(dom, libvirt.VIR_DOMAIN_SHUTOFF, timeout=10)
    finally:
        _cleanup(dom)


def test_tiny_guest_gets_a_lease_and_runs_the_agent(conn, tiny_guest_built, tmp_path):
    """With a NIC on an isolated network and the agent channel: a DHCP lease libvirt
    sees, an agent that answers and connects (agent lifecycle), and that powers the
    guest off (shutdown_mode agent)."""
    log = str(tmp_path / 'serial.log')
    net_name = _name('net')
    dom = None
    net = network.create_isolated_network(conn, net_name)
    try:
        dom = conn.defineXML(guests.tiny_guest_xml(_name('net'), log, network=net_name, agent=True))
        started = time.monotonic()
        dom.create()
        guests.wait_for_lease(log, timeout=90)
        to_lease = time.monotonic() - started
        interface, address, uptime = guests.leases(log)[0]
        assert interface == 'eth0'
        ip = address.split('/')[0]
        assert ip.startswith(net['subnet'].rsplit('.', 1)[0] + '.'), (address, net)
        sys.stderr.write('start to lease %.1f s (guest uptime %.1f s)\n' % (to_lease, uptime))

        lease = dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0)
        assert [a['addr'] for iface in lease.values() for a in iface['addrs']] == [ip]

        deadline = time.monotonic() + 30
        while "state='connected'" not in dom.XMLDesc(0) and time.monotonic() < deadline:
            time.sleep(0.2)
        agent = dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0)
        assert ip in [a['addr'] for a in agent['eth0']['addrs']]
        assert agent['eth0']['hwaddr'] == list(lease.values())[0]['hwaddr']

        dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_GUEST_AGENT)
        guests.wait_for_state(dom, libvirt.VIR_DOMAIN_SHUTOFF, timeout=20)
        with open(log) as f:
            assert 'guest agent -> shutdown' in f.read()
    finally:
        _cleanup(dom)
        network.destroy_network(conn, net_name)


def test_noos_guest_ignores_shutdown(conn):
    dom = None
    try:
        dom = conn.defineXML(guests.noos_guest_xml(_name('noos')))
        dom.create()
        dom.shutdown()
        time.sleep(3)
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        dom.destroy()
        assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    finally:
        _cleanup(dom)
