# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: canonical values in libvirt XML. Not a public API.
#
# Sizes with units, integers in decimal or hex, cpusets, UUIDs: the value forms
# libvirt rewrites (shared/NORMALIZATION.md rules 2, 10, 12, 16, 20) and the
# equality the comparison uses.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# NORMALIZATION.md rule 2: unit names are case-insensitive.
_UNIT_BYTES = {
    'b': 1, 'bytes': 1,
    'kb': 1000, 'k': 1024, 'kib': 1024,
    'mb': 1000 ** 2, 'm': 1024 ** 2, 'mib': 1024 ** 2,
    'gb': 1000 ** 3, 'g': 1024 ** 3, 'gib': 1024 ** 3,
    'tb': 1000 ** 4, 't': 1024 ** 4, 'tib': 1024 ** 4,
    'pb': 1000 ** 5, 'p': 1024 ** 5, 'pib': 1024 ** 5,
    'eb': 1000 ** 6, 'e': 1024 ** 6, 'eib': 1024 ** 6,
}

# Text of these elements is a string even when it looks like a number.
STRING_TEXT_TAGS = frozenset(('name', 'title', 'description', 'serial', 'wwn', 'vendor',
                              'product', 'entry', 'label', 'imagelabel', 'baselabel',
                              'cmdline', 'uuid'))
# Attributes that are strings even when they look like numbers.
STRING_ATTRIBUTES = frozenset(('passwd', 'password', 'name', 'value', 'serial', 'keymap'))


def to_kib(value, unit, default_unit='KiB'):
    """A scaled size as whole KiB, rounded up like libvirt; None when unparsable."""
    try:
        number = int((value or '').strip(), 10)
    except ValueError:
        return None
    scale = _UNIT_BYTES.get((unit or default_unit).strip().lower())
    if scale is None or number < 0:
        return None
    return -(-number * scale // 1024)


def parse_int(value):
    """Decimal or 0x-hex integer text as int, else None (rules 12, 20)."""
    if value is None:
        return None
    text = value.strip()
    if re.match(r'^[+-]?[0-9]+$', text):
        return int(text, 10)
    if re.match(r'^0[xX][0-9a-fA-F]+$', text):
        return int(text, 16)
    return None


def int_or_text(value):
    """An integer when the text is one, else the text lower-cased (identity parts)."""
    number = parse_int(value)
    return number if number is not None else (value.strip().lower() if value else None)


def parse_cpuset(value):
    """A libvirt cpuset/nodeset ('0-3,^2,8') as a frozenset of ints, or None."""
    if value is None:
        return None
    include, exclude = set(), set()
    for part in value.replace(' ', '').split(','):
        if not part:
            continue
        target = include
        if part.startswith('^'):
            target, part = exclude, part[1:]
        bounds = part.split('-')
        try:
            if len(bounds) == 1:
                target.add(int(bounds[0]))
            elif len(bounds) == 2:
                target.update(range(int(bounds[0]), int(bounds[1]) + 1))
            else:
                return None
        except ValueError:
            return None
    return frozenset(include - exclude)


def format_cpuset(cpus):
    """A set of ints in libvirt's own range notation ('0-3,5')."""
    ranges = []
    for cpu in sorted(cpus):
        if ranges and ranges[-1][1] == cpu - 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ','.join('%d' % a if a == b else '%d-%d' % (a, b) for a, b in ranges)


def next_power_of_two(number):
    power = 1
    while power < number:
        power *= 2
    return power


def canonical_uuid(value):
    """Lower-case dashed UUID, or None when value is not 32 hex digits (dashes ignored)."""
    if value is None:
        return None
    digits = value.strip().replace('-', '').lower()
    if not re.match(r'^[0-9a-f]{32}$', digits):
        return None
    return '%s-%s-%s-%s-%s' % (digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:])


def values_equal(tag, attr, desired, actual):
    """Whether two canonical values are equal; numbers compare as integers."""
    if desired == actual:
        return True
    if desired is None or actual is None:
        return False
    numeric = (attr not in STRING_ATTRIBUTES) if attr else (tag not in STRING_TEXT_TAGS)
    if numeric:
        d_int, a_int = parse_int(desired), parse_int(actual)
        if d_int is not None and d_int == a_int:
            return True
    return False
