# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: what identifies a device of a domain. Not a public API.
#
# DESIGN.md, "Devices are paired by identity": a disk is its target dev, an interface
# its MAC (else a ua- alias, else type + source), a controller its type + index, ...
# An identity is a tuple starting with the device's tag; None inside it is a wildcard.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_values import (
    canonical_uuid, int_or_text, parse_int)

# Interface source attributes that name what it connects to, per interface type.
_INTERFACE_SOURCE_KEYS = {
    'network': ('network', 'portgroup'),
    'bridge': ('bridge',),
    'direct': ('dev',),
    'vhostuser': ('path',),
    'vdpa': ('dev',),
    'server': ('address', 'port'),
    'client': ('address', 'port'),
    'mcast': ('address', 'port'),
    'udp': ('address', 'port'),
    'user': (),
    'ethernet': (),
}


def hostdev_source_key(dev):
    """The host-side address of a hostdev (or interface type='hostdev'), or None."""
    source = dev.find('source')
    if source is None:
        return None
    address = source.find('address')
    mdev_uuid = address.get('uuid') if address is not None else None
    if mdev_uuid:
        return ('mdev', canonical_uuid(mdev_uuid) or mdev_uuid.lower())
    vendor, product = source.find('vendor'), source.find('product')
    if vendor is not None and product is not None:
        key = ('usb', int_or_text(vendor.get('id')), int_or_text(product.get('id')))
        if address is not None:
            key += (int_or_text(address.get('bus')), int_or_text(address.get('device')))
        return key
    adapter = source.find('adapter')
    if adapter is not None and address is not None:
        return ('scsi', adapter.get('name'), int_or_text(address.get('bus')),
                int_or_text(address.get('target')), int_or_text(address.get('unit')))
    if source.get('protocol') and source.get('name'):  # iSCSI hostdev
        return ('iscsi', source.get('protocol'), source.get('name'))
    if source.get('wwpn'):  # scsi_host (vhost-scsi)
        return ('scsi_host', source.get('wwpn').lower())
    if address is not None:
        if address.get('type') == 'usb' or (address.get('device') and not address.get('slot')):
            return ('usb', int_or_text(address.get('bus')), int_or_text(address.get('device')))
        if address.get('slot') is not None:
            return ('pci', parse_int(address.get('domain') or '0'), int_or_text(address.get('bus')),
                    int_or_text(address.get('slot')), int_or_text(address.get('function') or '0'))
    for tag in ('block', 'char', 'interface'):  # mode='capabilities'
        found = source.findtext(tag)
        if found:
            return (tag, found.strip())
    return None


def interface_keys(dev):
    """All the identities of an interface: {'mac': ..., 'alias': ..., 'source': ...}."""
    keys = {}
    mac = dev.find('mac')
    if mac is not None and mac.get('address'):
        keys['mac'] = mac.get('address').strip().lower()
    alias = dev.find('alias')
    if alias is not None and (alias.get('name') or '').startswith('ua-'):
        keys['alias'] = alias.get('name')
    kind = dev.get('type')
    if kind == 'hostdev':
        source_key = hostdev_source_key(dev)
    else:
        source = dev.find('source')
        names = _INTERFACE_SOURCE_KEYS.get(kind)
        if source is None:
            source_key = ()
        elif names is None:
            source_key = tuple(sorted(source.attrib.items()))
        else:
            source_key = tuple(source.get(name) for name in names)
    keys['source'] = (kind,) + tuple(source_key or ())
    return keys


def _serial_like_key(dev):
    target = dev.find('target')
    port = parse_int(target.get('port')) if target is not None else None
    return (port,)


def _console_key(dev):
    # A domain can have a serial console (target type serial, the copy of serial 0)
    # and virtio consoles, each numbered from 0: the target type tells them apart.
    target = dev.find('target')
    if target is None:
        return (None, None)
    return (target.get('type'), parse_int(target.get('port')))


def _channel_key(dev):
    target = dev.find('target')
    if target is None:
        return (None,)
    if target.get('name'):
        return (target.get('name'),)
    if target.get('address') or target.get('port'):  # guestfwd
        return (target.get('address'), parse_int(target.get('port')))
    return (target.get('type'),)


def _model_type(dev, child='model', attr='type'):
    model = dev.find(child)
    return model.get(attr) if model is not None else None


def _controller_key(dev):
    if not dev.get('type'):
        raise InputError('a <controller> device needs a type attribute')
    # USB companion controllers (ich9-uhci1..3 beside ich9-ehci1) share one index:
    # the model tells them apart; None (no model written) matches any of them.
    model = dev.get('model') if dev.get('type') == 'usb' else None
    return (dev.get('type'), parse_int(dev.get('index')), model)


def _required(value, message):
    if not value or (isinstance(value, str) and not value.strip()):
        raise InputError(message)
    return value


def _target_attr(dev, attr):
    target = dev.find('target')
    return target.get(attr) if target is not None else None


# tag -> function(device) -> tuple; keys that repeat (two qxl videos) pair in order.
_IDENTITY = {
    'disk': lambda d: (_required(_target_attr(d, 'dev'),
                                 'a <disk> device lacks the element that identifies it: it needs '
                                 '<target dev="..."/> (libvirt cannot safely detach a disk without it)'),),
    'controller': _controller_key,
    'filesystem': lambda d: (_required(_target_attr(d, 'dir'),
                                       'a <filesystem> device lacks the element that identifies it: '
                                       'it needs <target dir="..."/>'),),
    'hostdev': lambda d: (_required(hostdev_source_key(d),
                                    'a <hostdev> device needs a <source> with an address, '
                                    'vendor/product or adapter to be identified'),),
    'serial': _serial_like_key,
    'parallel': _serial_like_key,
    'console': _console_key,
    'channel': _channel_key,
    'graphics': lambda d: (d.get('type'),),
    'video': lambda d: (_model_type(d),),
    'sound': lambda d: (d.get('model'),),
    'audio': lambda d: (parse_int(d.get('id')),),
    'watchdog': lambda d: (d.get('model'),),
    'rng': lambda d: (d.get('model'),),
    'tpm': lambda d: (d.get('model'),),
    'memballoon': lambda d: (),
    'input': lambda d: (d.get('type'), d.get('bus')),
    'redirdev': lambda d: (d.get('bus'), d.get('type')),
    'smartcard': lambda d: (d.get('mode'),),
    'hub': lambda d: (d.get('type'),),
    'panic': lambda d: (d.get('model'),),
    'shmem': lambda d: (d.get('name'),),
    'memory': lambda d: (d.get('model'),),
    'iommu': lambda d: (d.get('model'),),
    'vsock': lambda d: (d.get('model'),),
    'lease': lambda d: (d.findtext('lockspace'), d.findtext('key')),
    'nvram': lambda d: (),
    'crypto': lambda d: (d.get('model'), d.get('type')),
}

_INTERFACE_KINDS = ('mac', 'alias', 'source')


def device_identity(dev):
    """A hashable identity of a device element: a tuple starting with its tag.

    Raises InputError when a device lacks the part that identifies it (a disk
    without <target dev>, a filesystem without <target dir>, a hostdev without a
    source address). An interface is identified by its MAC (lower case), else a
    ``ua-`` alias, else its type and source: ('interface', kind, key).
    """
    tag = dev.tag
    if tag == 'interface':
        keys = interface_keys(dev)
        for kind in _INTERFACE_KINDS:
            if kind in keys:
                return (tag, kind, keys[kind])
    func = _IDENTITY.get(tag)
    if func is None:
        # unknown device class: its type or model names it, else one of a kind
        return (tag, dev.get('type') or dev.get('model'))
    return (tag,) + tuple(func(dev))


def identity_like(dev, like):
    """The identity of an actual device in the form of `like` (interfaces have three)."""
    if dev.tag == 'interface' and like and like[0] == 'interface':
        return ('interface', like[1], interface_keys(dev).get(like[1]))
    return device_identity(dev)


def loosen_identity(key):
    """The identity with its changeable parts open: a USB controller's model can
    change (it is in the identity only to tell companion controllers apart)."""
    if key[0] == 'controller' and len(key) == 4:
        return key[:3] + (None,)
    return key


def identity_label(key):
    """Human-readable form of an identity for difference paths: disk[vdb]."""
    tag, rest = key[0], key[1:]
    if tag == 'interface':
        rest = rest[1] if rest[0] == 'source' else (rest[1],)
        if not isinstance(rest, tuple):
            rest = (rest,)
    parts = []
    for part in rest:
        if isinstance(part, tuple):
            part = _source_label(part)
        if part is not None and part != '':
            parts.append('%s' % part)
    return '%s[%s]' % (tag, ','.join(parts)) if parts else tag


def _source_label(key):
    """A hostdev/interface source key as text: pci:0000:06:12.3, usb:0x046d:0xc077."""
    if len(key) == 5 and key[0] == 'pci' and all(isinstance(p, int) for p in key[1:]):
        return 'pci:%04x:%02x:%02x.%x' % key[1:]
    if key and key[0] == 'usb' and len(key) >= 3 and all(isinstance(p, int) for p in key[1:3]):
        return 'usb:0x%04x:0x%04x' % key[1:3]
    return ':'.join('%s' % p for p in key if p is not None)


def device_label(desired, actual=None):
    """Label for a device: its identity as the desired XML gives it, with the
    parts it left open taken from the paired actual device."""
    key = device_identity(desired)
    if actual is not None and None in key and desired.tag != 'interface':
        other = device_identity(actual)
        if len(other) == len(key):
            key = tuple(o if k is None else k for k, o in zip(key, other))
    return identity_label(key)


def is_implicit(dev, desired):
    """Devices libvirt creates by itself from what the (canonical) desired domain
    says: removing them would only make libvirt add them again."""
    if dev.tag == 'console' and desired.find('devices/serial') is not None:
        target = dev.find('target')  # the copy of serial 0 (rule X3)
        return (target is not None and target.get('type') in (None, 'serial')
                and parse_int(target.get('port')) in (None, 0))
    if dev.tag == 'input':
        return dev.get('bus') == 'ps2'  # x86 machines always have PS/2 mouse and keyboard
    if dev.tag == 'controller':
        # the root of the PCI topology that every device address refers to
        return dev.get('type') == 'pci' and parse_int(dev.get('index')) == 0
    return False
