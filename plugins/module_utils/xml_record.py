# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: the applied record (three-way comparison). Not a public API.
#
# A two-way comparison cannot tell "the user deleted this" from "the user never wrote
# it". So every define the collection makes stores, inside the resource's own
# <metadata>, the SHAPE of what the user wrote: a mirror of the desired document with
# every element and attribute name, but no text and no attribute values other than
# identities (a device's identity, the key attributes that pair repeated children).
# No password, cookie or key is ever stored. Next time, what is in the record and not
# in the desired document is removed. docs/comparison-rules.md describes the format.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.domainops.libvirt.plugins.module_utils.xml_pairing import CHILD_KEY_ATTRS
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_secrets import DEFAULT_SECRETS
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_text import etree, local_name, text_of

RECORD_NS = 'https://github.com/domainops/libvirt/applied-record'
RECORD_PREFIX = 'domainops'
RECORD_VERSION = 1
RECORD_TAG = '{%s}applied' % RECORD_NS
# On a mirror element: the device's identity (JSON), and "it had text".
ID_ATTR = '{%s}id' % RECORD_NS
TEXT_ATTR = '{%s}text' % RECORD_NS


class RecordProblem(Exception):
    """A record that cannot be used: damaged, or written by a newer version."""


def _to_tuple(value):
    if isinstance(value, list):
        return tuple(_to_tuple(v) for v in value)
    return value


def identity_text(identity):
    return json.dumps(identity, separators=(',', ':'))


def identity_of_mirror(el):
    """The identity a mirror element carries, or None."""
    text = el.get(ID_ATTR)
    if text is None:
        return None
    try:
        value = _to_tuple(json.loads(text))
    except ValueError:
        raise RecordProblem('the identity %r of a <%s> does not parse' % (text, local_name(el.tag)))
    if not isinstance(value, tuple) or not value:
        raise RecordProblem('the identity %r of a <%s> is not a list' % (text, local_name(el.tag)))
    return value


def _mirror(el, identified, secrets):
    """The shape of one element: tags, attribute names, identities; no values."""
    mirror = etree.Element(el.tag)
    for name, value in el.attrib.items():
        keep = local_name(name) in CHILD_KEY_ATTRS and not secrets.attribute_is_secret(el, name)
        mirror.set(name, value if keep else '')
    if text_of(el) is not None and not len(el):
        mirror.set(TEXT_ATTR, '1')
    key = identified(el)
    if key is not None:
        mirror.set(ID_ATTR, identity_text(key))
    for child in el:
        if isinstance(child.tag, str):
            mirror.append(_mirror(child, identified, secrets))
    return mirror


def build(desired, identified, secrets=DEFAULT_SECRETS):
    """The record of a canonical desired root. identified(el) gives the identity of
    an element that pairs by identity (a device), else None."""
    record = etree.Element(RECORD_TAG, nsmap={RECORD_PREFIX: RECORD_NS})
    record.set('version', str(RECORD_VERSION))
    record.append(_mirror(desired, identified, secrets))
    return record


def find(root):
    """The record element inside root's <metadata>, or None."""
    return root.find('metadata/' + RECORD_TAG)


def read(root):
    """The mirror of the last applied document stored in root, or None when there is
    none. Raises RecordProblem for a record that cannot be used."""
    record = find(root)
    if record is None:
        return None
    version = record.get('version')
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise RecordProblem('its version %r is not a number' % version)
    if number > RECORD_VERSION:
        raise RecordProblem('it was written by a newer version of domainops.libvirt (record version %d, '
                            'this one reads %d)' % (number, RECORD_VERSION))
    mirrors = [child for child in record if isinstance(child.tag, str)]
    if len(mirrors) != 1 or mirrors[0].tag != root.tag:
        raise RecordProblem('it does not hold one <%s> element' % root.tag)
    for el in mirrors[0].iter():
        identity_of_mirror(el)  # every identity must parse
    return mirrors[0]


def strip(root):
    """Remove the record from root (in place); an emptied <metadata> goes too."""
    record = find(root)
    if record is None:
        return
    metadata = record.getparent()
    metadata.remove(record)
    if not len(metadata) and text_of(metadata) is None:
        root.remove(metadata)


def embed(root, record):
    """Put record into root's <metadata> (in place), replacing an older one."""
    strip(root)
    metadata = root.find('metadata')
    if metadata is None:
        metadata = etree.Element('metadata')
        # libvirt writes <metadata> after name/uuid/title/description; its order is free
        anchor = None
        for tag in ('description', 'title', 'uuid', 'name'):
            anchor = root.find(tag)
            if anchor is not None:
                break
        if anchor is not None:
            anchor.addnext(metadata)
        else:
            root.insert(0, metadata)
    metadata.append(record)


def shape(el):
    """A comparable form of a mirror: nested (tag, sorted attributes, children)."""
    return (el.tag, tuple(sorted(el.attrib.items())),
            tuple(shape(child) for child in el if isinstance(child.tag, str)))
