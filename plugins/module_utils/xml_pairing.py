# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: pairing the children of two XML elements. Not a public API.
#
# Two trees are compared element by element, so every child of the desired element
# needs its counterpart in the actual one. Plain children pair by tag (and a key
# attribute when a tag repeats); identified children (a domain's devices) pair by an
# identity the resource kind computes, where None inside an identity is a wildcard:
# the desired XML did not say, so any actual value matches.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

# Repeated child elements are paired by the first of these attributes they carry.
CHILD_KEY_ATTRS = ('name', 'id', 'dev', 'vcpu', 'cellid', 'iothread', 'path', 'type', 'model',
                   'level', 'vcpus')


def child_groups(parent):
    """{tag: [children]} in document order (elements only)."""
    groups = collections.OrderedDict()
    for child in parent:
        if isinstance(child.tag, str):
            groups.setdefault(child.tag, []).append(child)
    return groups


def child_key(el):
    for attr in CHILD_KEY_ATTRS:
        if el.get(attr) is not None:
            return (attr, el.get(attr))
    return None


def pair_children(desired_list, actual_list, strict=False):
    """Pair same-tag children: a single one with a single one, else by key
    attribute, else in order. Returns (pairs, unpaired desired, unpaired actual).
    strict: two single children with different keys are not a pair (used to find
    what a removal means, where a wrong pair would remove the wrong element)."""
    if len(desired_list) == 1 and len(actual_list) == 1:
        keys = child_key(desired_list[0]), child_key(actual_list[0])
        if not strict or None in keys or keys[0] == keys[1]:
            return [(desired_list[0], actual_list[0])], [], []
    pairs, used, missing = [], set(), []
    for position, dev in enumerate(desired_list):
        key = child_key(dev)
        match = None
        if key is not None:
            match = next((j for j, a in enumerate(actual_list)
                          if j not in used and child_key(a) == key), None)
        elif position < len(actual_list) and position not in used:
            match = position
        if match is None:
            missing.append(dev)
        else:
            used.add(match)
            pairs.append((dev, actual_list[match]))
    extra = [a for j, a in enumerate(actual_list) if j not in used]
    return pairs, missing, extra


def key_matches(wanted, actual):
    """Whether an identity with wildcards (None) matches an actual identity."""
    if wanted == actual:
        return True
    if not isinstance(wanted, tuple) or not isinstance(actual, tuple) or len(wanted) != len(actual):
        return False
    return all(w is None or key_matches(w, a) for w, a in zip(wanted, actual))


def has_wildcard(identity):
    return any(part is None or (isinstance(part, tuple) and has_wildcard(part)) for part in identity)


def pair_by_identity(wanted, actual_list, identity_of, loosen=None):
    """Pair wanted identities with actual elements.

    `wanted` is a list of (item, identity); identity_of(actual_element, like)
    gives an actual element's identity in the same form as `like`. Exact
    identities pair first, then those with wildcards, each in document order; an
    exact match is preferred over a wildcard one, and that over a match of
    loosen(identity) (the identity with the parts that may change set to None).
    Returns (pairs of (item,
    actual), unpaired items, unpaired actual elements).
    """
    used, pairs, missing = set(), [], []
    order = sorted(range(len(wanted)), key=lambda i: has_wildcard(wanted[i][1]))
    for i in order:
        item, identity = wanted[i]
        candidates = [(j, identity_of(a, identity)) for j, a in enumerate(actual_list) if j not in used]
        exact = [j for j, key in candidates if key == identity]
        loose = [j for j, key in candidates if key_matches(identity, key)]
        looser = []
        if not exact and not loose and loosen is not None:
            looser = [j for j, key in candidates if key_matches(loosen(identity), key)]
        choice = (exact or loose or looser or [None])[0]
        if choice is None:
            missing.append(item)
        else:
            used.add(choice)
            pairs.append((item, actual_list[choice]))
    extra = [a for j, a in enumerate(actual_list) if j not in used]
    # pairs in the order of `wanted`, for stable difference lists
    position = dict((id(item), n) for n, (item, _key) in enumerate(wanted))
    pairs.sort(key=lambda pair: position[id(pair[0])])
    missing.sort(key=lambda item: position[id(item)])
    return pairs, missing, extra
