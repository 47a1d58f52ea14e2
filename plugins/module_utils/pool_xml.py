# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: what is special about storage POOL and VOLUME XML.
# Not a public API.
#
# libvirt 9.0 keeps no <metadata> in pool or volume XML (it accepts the element and
# drops it, measured), so these documents are compared two-way: what the XML says
# is compared and changed, nothing is removed. The rewrites libvirt makes (measured
# on the daemon, see docs/comparison-rules.md "Pools and volumes") are applied to
# both sides.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.domainops.libvirt.plugins.module_utils.xml_engine import ResourceKind
import re

from ansible_collections.domainops.libvirt.plugins.module_utils.xml_values import canonical_uuid

# What libvirt measures, never what a user defines: taken out of the desired XML
# (a document copied from pool-dumpxml compares equal to the pool it came from).
_RUNTIME = ('capacity', 'allocation', 'available')


def _path(text):
    text = (text or '').strip()
    return text.rstrip('/') or text


def _mode(text):
    try:
        return '%04o' % int(text.strip(), 8)
    except (AttributeError, ValueError):
        return text


class PoolKind(ResourceKind):
    root_tag = 'pool'
    what = 'pool XML'

    def canonicalise(self, root, ctx):
        if ctx is None or ctx.side == 'desired':
            for tag in _RUNTIME:
                for el in root.findall(tag):
                    root.remove(el)
        for el in root.iter('path'):
            el.text = _path(el.text)
        for el in root.iterfind('source/dir'):
            if el.get('path'):
                el.set('path', _path(el.get('path')))
        for el in root.iter('mode'):
            el.text = _mode(el.text)
        uuid = root.find('uuid')
        if uuid is not None and canonical_uuid(uuid.text):
            uuid.text = canonical_uuid(uuid.text)
        return root


POOL = PoolKind()


# libvirt's scaled units (formatstorage.html): K/M/G/T/P/E and KiB... are powers of 1024,
# KB/MB/... powers of 1000; b/bytes is one
_UNITS = dict(b=1, bytes=1)
for _power, _letter in enumerate('kmgtpe', 1):
    _UNITS[_letter] = _UNITS[_letter + 'ib'] = 1024 ** _power
    _UNITS[_letter + 'b'] = 1000 ** _power


def to_bytes(value, unit=None):
    """'10G', '512 MiB', '1048576' (or a number with a separate unit) as bytes; None if
    it is not a size."""
    match = re.match(r'^\s*([0-9]+)\s*([A-Za-z]*)\s*$', str(value))
    if not match:
        return None
    unit = (match.group(2) or unit or 'b').lower()
    if unit not in _UNITS:
        return None
    return int(match.group(1)) * _UNITS[unit]


def size_bytes(el):
    """A <capacity>/<allocation> element's value in bytes."""
    if el is None or el.text is None:
        return None
    return to_bytes(el.text, el.get('unit'))


class VolumeKind(ResourceKind):
    """A volume cannot be redefined: its XML is compared to see whether an existing volume
    is the one asked for (name, capacity, format, backing store)."""
    root_tag = 'volume'
    what = 'volume XML'

    def canonicalise(self, root, ctx):
        if ctx is None or ctx.side == 'desired':
            # measured or chosen by libvirt, never part of what is asked
            for path in ('key', 'allocation', 'physical', 'target/path', 'target/timestamps',
                         'backingStore/timestamps', 'backingStore/permissions'):
                for el in root.findall(path):
                    el.getparent().remove(el)
        for el in root.iter('capacity', 'allocation', 'physical'):
            value = size_bytes(el)
            if value is not None:
                el.text, el.attrib['unit'] = str(value), 'bytes'
        for el in root.iter('path'):
            el.text = _path(el.text)
        for el in root.iter('mode'):
            el.text = _mode(el.text)
        return root


VOLUME = VolumeKind()
