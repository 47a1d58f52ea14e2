# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: what is special about NETWORK XML. Not a public API.
#
# The compare-then-act engine (xml_engine.Comparison) compares a desired network
# document with the stored one; this file says what is special about networks:
# the few rewrites libvirt 9.0 makes (measured on the daemon, see
# docs/comparison-rules.md "Networks"), and which parts of a network libvirt can
# change on a running network with virNetworkUpdate (the "sections"), with the
# identity that tells two entries of one section apart.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.domainops.libvirt.plugins.module_utils import xml_engine, xml_record
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_engine import ResourceKind
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_text import as_element, compact
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_values import canonical_uuid


class NetworkKind(ResourceKind):
    root_tag = 'network'
    what = 'network XML'
    # <metadata> holds one element per application; the record is one of them
    containers = frozenset(('metadata',))

    def canonicalise(self, root, ctx):
        # libvirt keeps MAC addresses as written; two spellings are one address
        for el in root.iter('mac', 'host'):
            attr = 'address' if el.tag == 'mac' else 'mac'
            if el.get(attr):
                el.set(attr, el.get(attr).lower())
        uuid = root.find('uuid')
        if uuid is not None and canonical_uuid(uuid.text):
            uuid.text = canonical_uuid(uuid.text)
        return root


NETWORK = NetworkKind()


# The parts of a network virNetworkUpdate changes in place (libvirt 9.0):
# (section constant suffix, path of the parent from the root, child tag).
# A parent path starting with 'ip' means every <ip> element (parentIndex).
SECTIONS = (
    ('IP_DHCP_HOST', 'ip/dhcp', 'host'),
    ('IP_DHCP_RANGE', 'ip/dhcp', 'range'),
    ('DNS_HOST', 'dns', 'host'),
    ('DNS_TXT', 'dns', 'txt'),
    ('DNS_SRV', 'dns', 'srv'),
    ('PORTGROUP', '.', 'portgroup'),
    ('FORWARD_INTERFACE', 'forward', 'interface'),
)


def entry_key(section, el):
    """What tells two entries of one section apart: a DHCP host by its MAC (or its
    DHCPv6 id, else name), a port group by name, a forward interface by device;
    anything else (ranges, DNS entries) by its whole content."""
    if section == 'IP_DHCP_HOST':
        for attr in ('mac', 'id', 'name'):
            if el.get(attr):
                return (attr, el.get(attr).lower() if attr == 'mac' else el.get(attr))
    if section == 'PORTGROUP':
        return ('name', el.get('name'))
    if section == 'FORWARD_INTERFACE':
        return ('dev', el.get('dev'))
    return ('xml', compact(el))


def _parents(root, path):
    """[(parentIndex, parent element or None)] for one section's parent path."""
    if path == '.':
        return [(-1, root)]
    if path.startswith('ip/'):
        return [(index, ip.find(path[3:])) for index, ip in enumerate(root.findall('ip'))]
    return [(-1, root.find(path))]


def _skeleton(root):
    """root without the in-place sections, its record and empty containers they leave."""
    bare = copy.deepcopy(root)
    xml_record.strip(bare)
    for _section, path, tag in SECTIONS:
        for _index, parent in _parents(bare, path):
            if parent is None:
                continue
            for child in parent.findall(tag):
                parent.remove(child)
    for ip in bare.findall('ip'):
        dhcp = ip.find('dhcp')
        if dhcp is not None and not len(dhcp) and not dhcp.attrib:
            ip.remove(dhcp)
    for tag in ('dns', 'forward'):
        el = bare.find(tag)
        if el is not None and not len(el) and not el.attrib:
            bare.remove(el)
    return bare


def in_place_updates(actual, merged):
    """The virNetworkUpdate calls that turn actual into merged, or None when merged
    differs from actual elsewhere too (then only a new definition and a restart do).
    Each call is (command, section, parent index, entry element)."""
    actual, merged = as_element(actual), as_element(merged)
    if not xml_engine.same_definition(_skeleton(actual), _skeleton(merged)):
        return None
    calls = []
    for section, path, tag in SECTIONS:
        a_parents, m_parents = _parents(actual, path), _parents(merged, path)
        for (index, a_parent), (_same, m_parent) in zip(a_parents, m_parents):
            a_list = a_parent.findall(tag) if a_parent is not None else []
            m_list = m_parent.findall(tag) if m_parent is not None else []
            a_keys = dict((entry_key(section, el), el) for el in a_list)
            m_keys = dict((entry_key(section, el), el) for el in m_list)
            for key, el in a_keys.items():
                if key not in m_keys:
                    calls.append(('DELETE', section, index, el))
            for key, el in m_keys.items():
                if key not in a_keys:
                    calls.append(('ADD_LAST', section, index, el))
                elif compact(el) != compact(a_keys[key]):
                    calls.append(('MODIFY', section, index, el))
    return calls


def describe_update(call):
    """One update call as an action text: update(add ip[0]/dhcp/host mac=...)."""
    command, section, index, el = call
    _name, path, tag = next(s for s in SECTIONS if s[0] == section)
    where = path.replace('ip/', 'ip[%d]/' % index) if path.startswith('ip/') else path
    where = tag if where == '.' else '%s/%s' % (where, tag)
    key = entry_key(section, el)
    label = compact(el) if key[0] == 'xml' else '%s=%s' % key
    return 'update(%s %s %s)' % (command.lower().replace('add_last', 'add'), where, label)
