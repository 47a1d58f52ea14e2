# The address helpers that need no guest: which addresses are local, which sources
# 'any' tries, which address a rule picks, the agent channel's state in the XML.
import pytest
from lxml import etree

from ansible_collections.domainops.libvirt.plugins.module_utils import addresses


@pytest.mark.parametrize('address, local', [
    ('127.0.0.1', True), ('127.3.2.1', True), ('::1', True),
    ('169.254.10.20', True), ('fe80::5054:ff:fe68:89c5', True), ('fe80::1%eth0', True),
    ('192.168.122.5', False), ('10.0.0.1', False), ('2001:db8::5', False), ('fd00::5', False),
])
def test_local_addresses(address, local):
    assert addresses.is_local(address) is local


@pytest.mark.parametrize('source, tried', [
    ('any', ('lease', 'agent', 'arp')), ('lease', ('lease',)), ('agent', ('agent',)), ('arp', ('arp',)),
    ('none', ()), (None, ()),
])
def test_sources_tried(source, tried):
    assert addresses.sources_for(source) == tried
    assert addresses.needs_read_write(source) is ('agent' in tried)


def _root(channel):
    return etree.fromstring('<domain><devices>%s</devices></domain>' % channel)


@pytest.mark.parametrize('channel, connected', [
    ("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel>", True),
    ("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='disconnected'/></channel>",
     False),
    ("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>", None),
    ("<channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0' state='connected'/></channel>", False),
    ('', False),
])
def test_agent_channel_state(channel, connected):
    assert addresses.agent_connected(_root(channel)) is connected


def _addr(address, family='ipv4', source='lease'):
    return dict(address=address, prefix=24 if family == 'ipv4' else 64, family=family, source=source)


INTERFACES = [
    dict(mac='52:54:00:00:00:01', source='default', addresses=[_addr('2001:db8::1', 'ipv6')]),
    dict(mac='52:54:00:00:00:02', source='br0', addresses=[_addr('10.0.0.2'), _addr('2001:db8::2', 'ipv6')]),
]


@pytest.mark.parametrize('family, interface, expect', [
    ('any', None, '2001:db8::1'),
    ('ipv4', None, '10.0.0.2'),
    ('ipv6', 'br0', '2001:db8::2'),
    ('any', '52:54:00:00:00:02', '10.0.0.2'),
    ('any', '52:54:00:00:00:02'.upper(), '10.0.0.2'),
    ('ipv4', 'default', None),
    ('any', 'nosuchnet', None),
])
def test_first_address(family, interface, expect):
    found = addresses.first_address(INTERFACES, family, interface)
    assert (found['address'] if found else None) == expect
