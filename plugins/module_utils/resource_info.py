# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_network_info and virt_pool_info.
# Read-only listings of networks, and of pools with the volumes in them. Not a public API.

from __future__ import annotations

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None


def _engine():
    from ansible_collections.domainops.libvirt.plugins.module_utils import pool_xml, xml_record, xml_text
    return pool_xml, xml_record, xml_text


def _common(obj):
    persistent = bool(obj.isPersistent())
    return dict(name=obj.name(), uuid=obj.UUIDString(), active=bool(obj.isActive()), persistent=persistent,
                autostart=bool(obj.autostart()) if persistent else False)


def _selected(objects, name):
    return [obj for obj in objects if name is None or obj.name() == name]


def _leases(net):
    try:
        return net.DHCPLeases() or []
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:  # the test driver
            return []
        raise


def list_networks(task):
    """virt_network_info's handler."""
    _pool_xml, xml_record, xml_text = _engine()
    task.domain_label = None
    found = []
    for net in sorted(_selected(task.conn.listAllNetworks(0), task.params.get('name')), key=lambda n: n.name()):
        entry = _common(net)
        text = net.XMLDesc(0)
        root = xml_text.parse_xml(text, 'network XML', ('network',))
        bridge = root.find('bridge')
        entry.update(bridge=bridge.get('name') if bridge is not None else None,
                     forward=root.find('forward').get('mode') if root.find('forward') is not None else None,
                     applied_record=xml_record.find(root) is not None)
        leases = []
        for lease in _leases(net) if entry['active'] else []:
            leases.append(dict(mac=lease.get('mac'), ip=lease.get('ipaddr'), hostname=lease.get('hostname'),
                               expires=lease.get('expirytime')))
        entry['leases'] = leases
        if task.params.get('xml'):
            entry['xml'] = text
        found.append(entry)
    return dict(changed=False, networks=found)


def _volume(pool_xml, xml_text, vol):
    root = xml_text.parse_xml(vol.XMLDesc(0), 'volume XML', ('volume',))
    fmt = root.find('target/format')
    return dict(name=vol.name(), path=vol.path(), format=fmt.get('type') if fmt is not None else None,
                capacity=pool_xml.size_bytes(root.find('capacity')),
                allocation=pool_xml.size_bytes(root.find('allocation')),
                backing=root.findtext('backingStore/path'))


def list_pools(task):
    """virt_pool_info's handler."""
    pool_xml, _xml_record, xml_text = _engine()
    task.domain_label = None
    found = []
    for pool in sorted(_selected(task.conn.listAllStoragePools(0), task.params.get('name')), key=lambda p: p.name()):
        entry = _common(pool)
        text = pool.XMLDesc(0)
        root = xml_text.parse_xml(text, 'pool XML', ('pool',))
        entry.update(type=root.get('type'), path=root.findtext('target/path'))
        for key in ('capacity', 'allocation', 'available'):
            entry[key] = pool_xml.size_bytes(root.find(key)) if entry['active'] else None
        if task.params['volumes'] and entry['active']:
            entry['volumes'] = sorted((_volume(pool_xml, xml_text, vol) for vol in pool.listAllVolumes(0)),
                                      key=lambda v: v['name'])
        else:
            entry['volumes'] = []
        if task.params.get('xml'):
            entry['xml'] = text
        found.append(entry)
    return dict(changed=False, pools=found)
