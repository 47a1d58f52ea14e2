# The applied record on the real daemon: virt_domain_state and virt_domain_device do not
# fight over a domain, removals from xml are removed, a re-apply makes no defineXML call,
# and the record never carries a secret.
import os
import sys

import libvirt
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain, run_module, step  # noqa: E402
from sysenv import URI, connect, noos_xml, unique  # noqa: E402

DATA_DISK = ("<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
             "<source file='/var/lib/libvirt/images/%s-vdb.img'/><target dev='vdb' bus='virtio'/></disk>")
SOUND = "<sound model='ich6'/>"
TABLET = "<input type='tablet' bus='usb'/>"


@pytest.fixture
def conn():
    connection = connect()
    yield connection
    connection.close()


@pytest.fixture
def defines(monkeypatch):
    """Counts defineXML/defineXMLFlags calls made in this process."""
    calls = []
    for method in ('defineXML', 'defineXMLFlags'):
        real = getattr(libvirt.virConnect, method)

        def counting(self, *args, _real=real, _method=method):
            calls.append(_method)
            return _real(self, *args)
        monkeypatch.setattr(libvirt.virConnect, method, counting)
    return calls


def _disk_image(name):
    path = '/var/lib/libvirt/images/%s-vdb.img' % name
    with open(path, 'wb') as handle:
        handle.truncate(1024 * 1024)
    return path


def test_state_and_device_modules_do_not_fight(conn, defines):
    name = unique('record')
    image = _disk_image(name)
    try:
        xml = noos_xml(name)
        device = dict(name=name, xml=DATA_DISK % name)
        results = []
        for module, args in (('virt_domain_state', dict(xml=xml, state='running')),
                             ('virt_domain_device', device),
                             ('virt_domain_state', dict(xml=xml, state='running')),
                             ('virt_domain_device', device),
                             ('virt_domain_state', dict(xml=xml, state='running'))):
            result = run_module(module, args, URI)
            assert not result['failed'], result['msg']
            results.append(result['changed'])
        assert results == [True, True, False, False, False]
        dom = conn.lookupByName(name)
        for flags in (libvirt.VIR_DOMAIN_XML_INACTIVE, 0):
            assert "dev='vdb'" in dom.XMLDesc(flags), 'the attached disk is still there'
        assert defines.count('defineXMLFlags') + defines.count('defineXML') == 1, defines
    finally:
        remove_domain(conn, name)
        os.unlink(image)


def test_removal_from_xml_is_removed_and_reapply_defines_nothing(conn, defines):
    name = unique('record')
    try:
        full = noos_xml(name, extra=SOUND + TABLET)
        step(conn, name, 'virt_domain_state', dict(xml=full), ['define'])
        del defines[:]
        for check in (True, False):
            again = run_module('virt_domain_state', dict(xml=full), URI, check=check)
            assert not again['changed'] and again['applied_record'] == 'unchanged'
        assert defines == [], 'a re-apply calls no defineXML'
        for removed, gone in ((SOUND, '<sound'), (TABLET, "type='tablet'")):
            full = full.replace(removed, '')
            real = step(conn, name, 'virt_domain_state', dict(xml=full), ['define'])
            assert real['differences'] and real['applied_record'] == 'updated'
            assert gone not in conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    finally:
        remove_domain(conn, name)


def test_domain_made_elsewhere_gets_its_record_on_first_apply(conn):
    name = unique('record')
    xml = noos_xml(name, extra=SOUND)
    try:
        conn.defineXML(xml)  # as virsh define would
        first = step(conn, name, 'virt_domain_state', dict(xml=xml.replace(SOUND, '')), ['define'])
        assert first['applied_record'] == 'written' and first['differences'] == ['(applied record written)']
        assert '<sound' in conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), \
            'the first apply keeps what xml does not mention'
        info = run_module('virt_domain_info', dict(name=name), URI)
        assert info['domains'][0]['applied_record'] is True
    finally:
        remove_domain(conn, name)


def test_graphics_password_in_xml_only_with_security_info(conn):
    name = unique('record')
    secret = 'Rc7pQ2zx'
    try:
        xml = noos_xml(name, extra="<graphics type='vnc' port='-1' autoport='yes' passwd='%s'/>" % secret)
        step(conn, name, 'virt_domain_state', dict(xml=xml), ['define'])
        dom = conn.lookupByName(name)
        assert secret not in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), 'not without --security-info'
        secure = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
        assert secure.count(secret) == 1, 'only the graphics element has it, never the record'
    finally:
        remove_domain(conn, name)
