# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: the compare-then-act engine for libvirt XML resources.
# Not a public API.
#
# One Comparison canonicalises the desired and the actual document once and gives
# everything a task needs: the differences (what the user wrote that the actual
# document lacks, and what the applied record says the user removed), the merged
# definition (the actual document with the desired parts laid over it and the
# removals made, so libvirt's additions, addresses and MACs stay), the new record,
# and masked text for results and --diff. A resource kind (domain_xml.DOMAIN, ...)
# says what is special about its documents: identities, rules, merge fix-ups.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import copy

from ansible_collections.domainops.libvirt.plugins.module_utils import xml_record
from ansible_collections.domainops.libvirt.plugins.module_utils.domain_rules import RuleContext, unfill
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_pairing import (
    child_groups, child_key, key_matches, pair_by_identity, pair_children)
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_secrets import DEFAULT_SECRETS
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_text import (
    as_element, compact, local_name, text_of, to_text)
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_values import values_equal

Difference = collections.namedtuple('Difference', ['path', 'before', 'after'])
Difference.__doc__ = ("One difference between desired and actual. 'before' is the actual value "
                      "(None: absent), 'after' the desired one (None: to be removed). Element "
                      "values are compact XML text.")


class ResourceKind(object):
    """What is special about one kind of libvirt XML document. Subclasses set:

    root_tag     the document's root element
    what         how messages name the document
    collection   the child of the root whose children pair by identity (devices)
    ordered      (parent tag, child tag) pairs whose children are one sequence
    containers   elements that hold what several owners write (<metadata>): removing
                 one from the desired document removes only what the record holds
    """
    root_tag = None
    what = 'XML'
    collection = None
    ordered = frozenset()
    containers = frozenset()

    def canonicalise(self, root, ctx):
        """Apply the kind's rules to root for ctx.side (in place)."""
        return root

    def identity(self, el):
        """The identity of a child of the collection (raises InputError without one)."""
        return (el.tag,)

    def identity_like(self, el, like):
        return self.identity(el)

    def loosen(self, key):
        return key

    def label(self, desired, actual=None):
        return local_name(desired.tag)

    def is_implicit(self, el, desired):
        """A collection child that libvirt re-creates from what the (canonical)
        desired document says: never removed."""
        return False

    def pairs_by_identity(self, tag):
        """Whether children of the collection with this tag pair by identity."""
        return True

    def merge_fixups(self, merged, desired, before):
        """Resolve what the overlay combined and libvirt would refuse (in place)."""

    def before_merge(self, actual):
        """What merge_fixups needs to know of the actual document before the merge."""
        return None


def build_record(kind, canonical_desired):
    """The applied record of a canonical desired document."""
    def identified(el):
        parent = el.getparent()
        if (parent is not None and parent.tag == kind.collection and parent.getparent() is not None
                and parent.getparent().getparent() is None and kind.pairs_by_identity(el.tag)):
            return kind.identity(el)
        return None
    return xml_record.build(canonical_desired, identified)


def with_record(kind, desired, canonical_desired):
    """A copy of the desired document (as written) carrying its applied record."""
    document = copy.deepcopy(desired)
    xml_record.strip(document)
    xml_record.embed(document, build_record(kind, canonical_desired))
    return document


def same_definition(first, second):
    """Whether two documents are the same text (secrets included)."""
    return to_text(first, pretty=False, mask_secrets=False) == to_text(second, pretty=False, mask_secrets=False)


def _join(path, part):
    return '%s/%s' % (path, part) if path else part


def _child_label(el, siblings):
    if len(siblings) <= 1:
        return local_name(el.tag)
    key = child_key(el)
    if key is not None:
        return '%s[%s]' % (local_name(el.tag), key[1])
    return '%s[%d]' % (local_name(el.tag), siblings.index(el))


def _copy_for(parent, el):
    new = copy.deepcopy(el)
    new.tail = None
    parent.append(new)
    return new


class Comparison(object):
    """Desired vs actual document of one resource, canonicalised once.

    record: 'stored' reads the applied record from the actual document; None
    compares two-way; an element is used as the record (a live comparison uses
    the record of the persistent definition). write_record: the merged
    document carries the record of this desired document. one_child: both
    documents hold one child in the collection (a device wrapped in a domain),
    compared with each other whatever their identities.
    """

    def __init__(self, kind, desired, actual, aliases=None, record='stored', write_record=False,
                 secrets=DEFAULT_SECRETS, one_child=False):
        self.kind = kind
        self.secrets = secrets
        desired = as_element(desired, kind.what, (kind.root_tag,))
        actual = as_element(actual, kind.what, (kind.root_tag,))
        self.actual = actual
        self.record_problem = None
        self.record = None
        if record == 'stored':
            try:
                self.record = xml_record.read(actual)
            except xml_record.RecordProblem as exc:
                self.record_problem = str(exc)
        elif record is not None:
            self.record = record
        self.had_record = self.record is not None

        merged = copy.deepcopy(actual)
        xml_record.strip(merged)
        actual_ctx = RuleContext(aliases, 'actual')
        kind.canonicalise(merged, actual_ctx)
        before = kind.before_merge(merged)
        self.desired = copy.deepcopy(desired)
        xml_record.strip(self.desired)  # a record copied from a dump is not the user's
        kind.canonicalise(self.desired, RuleContext(aliases, 'desired', actual=merged, desired=self.desired))
        collection = self.desired.find(kind.collection) if kind.collection else None
        if collection is not None:
            for child in collection:  # no device without its identity reaches libvirt
                if isinstance(child.tag, str) and kind.pairs_by_identity(child.tag):
                    kind.identity(child)

        # libvirt's defaults the rules filled in: compared, but never "removed"
        self._filled = set((id(el), name) for el, name, _value in actual_ctx.filled)
        self.differences = []
        if self.desired.tag != merged.tag:
            self.differences.append(Difference('', merged.tag, self.desired.tag))
        elif one_child:
            d_child, a_child = self.desired.find(kind.collection)[0], merged.find(kind.collection)[0]
            self._walk(d_child, a_child, None, kind.label(d_child, a_child), merge=True, is_device=True)
        else:
            self._walk(self.desired, merged, self.record, '', merge=True)
        unfill(actual_ctx.filled)
        self._filled = None
        kind.merge_fixups(merged, self.desired, before)

        self._new_record = None
        if write_record:
            xml_record.embed(merged, self.new_record)
        self.merged = merged

    # -- results ---------------------------------------------------------------------

    @property
    def new_record(self):
        """The applied record of this desired document (built when first asked for)."""
        if self._new_record is None:
            self._new_record = build_record(self.kind, self.desired)
        return self._new_record

    @property
    def record_changed(self):
        """Whether the stored record (None: there is none) differs from the new one."""
        return self.record is None or xml_record.shape(self.record) != xml_record.shape(self.new_record[0])

    @property
    def paths(self):
        return [d.path for d in self.differences]

    def merged_text(self, pretty=False, mask_secrets=False):
        return to_text(self.merged, pretty=pretty, mask_secrets=mask_secrets, secrets=self.secrets)

    # -- the walk: compare and merge in one pass ---------------------------------------

    def _add(self, path, before, after):
        self.differences.append(Difference(path, before, after))

    def _walk(self, d, a, r, path, merge, is_device=False):
        """Differences of desired d vs actual a (r: d's record counterpart or None);
        with merge, a becomes the merged element."""
        tag = local_name(d.tag)
        type_changed = (d.get('type') is not None and a.get('type') is not None
                        and d.get('type') != a.get('type'))
        if type_changed and not is_device and merge and a.getparent() is not None:
            # The schema of an element depends on its type: take the desired one whole.
            self._walk(d, a, r, path, merge=False)
            new = copy.deepcopy(d)
            new.tail = a.tail
            a.getparent().replace(a, new)
            return
        self._attributes(d, a, r, tag, path, merge)
        self._text(d, a, r, tag, path, merge)
        a_groups, r_groups = child_groups(a), child_groups(r) if r is not None else {}
        d_groups = child_groups(d)
        at_collection = self.kind.collection is not None and path == self.kind.collection
        for child_tag in list(d_groups) + [t for t in r_groups if t not in d_groups]:
            d_list = d_groups.get(child_tag, [])
            a_list = a_groups.get(child_tag, [])
            r_list = r_groups.get(child_tag, [])
            if at_collection and self.kind.pairs_by_identity(child_tag):
                self._devices(d_list, a_list, r_list, a, path, merge)
            elif (tag, local_name(child_tag)) in self.kind.ordered:
                self._sequence(d_list, a_list, r_list, a, _join(path, local_name(child_tag)), merge)
            elif is_device and type_changed and local_name(child_tag) == 'source':
                self._walk_children(d_list, a_list, r_list, a, path, merge=False)
                if merge:
                    for old in a_list:
                        a.remove(old)
                    for child in d_list:
                        _copy_for(a, child)
            else:
                self._walk_children(d_list, a_list, r_list, a, path, merge)
        if is_device and type_changed and merge and not d.findall('source'):
            for old in a.findall('source'):
                a.remove(old)

    def _attributes(self, d, a, r, tag, path, merge):
        for name, value in d.attrib.items():
            attr = local_name(name)
            actual_value = a.get(name)
            if not values_equal(tag, attr, value, actual_value):
                self._add(_join(path, '@' + attr), self.secrets.attribute_value(a, name, actual_value),
                          self.secrets.attribute_value(d, name, value))
                if merge:
                    a.set(name, value)
        if r is None:
            return
        for name in r.attrib:
            if name in (xml_record.ID_ATTR, xml_record.TEXT_ATTR) or name in d.attrib:
                continue
            if a.get(name) is not None and (id(a), name) not in self._filled:  # written before, not now
                self._add(_join(path, '@' + local_name(name)),
                          self.secrets.attribute_value(a, name, a.get(name)), None)
                if merge:
                    del a.attrib[name]

    def _text(self, d, a, r, tag, path, merge):
        d_text, a_text = text_of(d), text_of(a)
        if d_text is not None and not values_equal(tag, None, d_text, a_text):
            self._add(path or tag, self.secrets.text_value(a, a_text), self.secrets.text_value(d, d_text))
            if merge:
                a.text = d_text
        elif (d_text is None and r is not None and r.get(xml_record.TEXT_ATTR) and a_text is not None
              and not len(d) and not len(a)):
            self._add(path or tag, self.secrets.text_value(a, a_text), None)
            if merge:
                a.text = None

    def _walk_children(self, d_list, a_list, r_list, a_parent, path, merge):
        pairs, missing, extra = pair_children(d_list, a_list)
        record_of = {}
        removed = list(r_list)
        if r_list and d_list:
            r_pairs, removed, _unused = pair_children(r_list, d_list)
            record_of = dict((id(d_child), r_child) for r_child, d_child in r_pairs)
        for d_child, a_child in pairs:
            self._walk(d_child, a_child, record_of.get(id(d_child)),
                       _join(path, _child_label(d_child, d_list)), merge)
        for d_child in missing:
            self._add(_join(path, _child_label(d_child, d_list)), None, compact(d_child, self.secrets))
            if merge:
                _copy_for(a_parent, d_child)
        extra = [el for el in extra if (id(el), None) not in self._filled]
        if removed and extra:
            for r_child, a_child in pair_children(removed, extra, strict=True)[0]:
                if r_child.tag in self.kind.containers:
                    empty = a_child.makeelement(a_child.tag)
                    self._walk(empty, a_child, r_child, _join(path, _child_label(a_child, a_list)), merge)
                    continue
                self._add(_join(path, _child_label(a_child, a_list)), compact(a_child, self.secrets), None)
                if merge:
                    a_parent.remove(a_child)

    def _sequence(self, d_list, a_list, r_list, a_parent, path, merge):
        if not d_list and not r_list:
            return
        d_seq = [compact(el, self.secrets) for el in d_list]
        a_seq = [compact(el, self.secrets) for el in a_list]
        if d_seq == a_seq:
            return
        self._add(path, ''.join(a_seq) or None, ''.join(d_seq) or None)
        if merge:
            anchor = a_list[0] if a_list else None
            for child in d_list:
                new = copy.deepcopy(child)
                new.tail = None
                if anchor is not None:
                    anchor.addprevious(new)
                else:
                    a_parent.append(new)
            for old in a_list:
                a_parent.remove(old)

    def _devices(self, d_list, a_list, r_list, a_parent, path, merge):
        kind = self.kind
        wanted = [(dev, kind.identity(dev)) for dev in d_list]
        pairs, missing, extra = pair_by_identity(wanted, a_list, kind.identity_like, kind.loosen)
        # Which recorded devices the desired ones are (same identity), and which
        # were removed from the desired XML since the record was written.
        # (The same identity first; else one the desired device leaves open, as
        # a tpm whose model the user no longer writes.)
        record_of, removed = {}, []
        unused = list(wanted)
        recorded = [(r_dev, xml_record.identity_of_mirror(r_dev)) for r_dev in r_list]
        for exact in (True, False):
            left = []
            for r_dev, key in recorded:
                match = next((n for n, (_dev, d_key) in enumerate(unused)
                              if d_key == key or (not exact and key_matches(d_key, key))), None)
                if match is None:
                    left.append((r_dev, key))
                else:
                    record_of[id(unused.pop(match)[0])] = r_dev
            recorded = left
        removed = recorded
        for d_dev, a_dev in pairs:
            self._walk(d_dev, a_dev, record_of.get(id(d_dev)), _join(path, kind.label(d_dev, a_dev)),
                       merge, is_device=True)
        for d_dev in missing:
            self._add(_join(path, kind.label(d_dev)), None, compact(d_dev, self.secrets))
            if merge:
                _copy_for(a_parent, d_dev)
        if removed and extra:
            for _r_dev, a_dev in pair_by_identity(removed, extra, kind.identity_like)[0]:
                if kind.is_implicit(a_dev, self.desired):
                    continue
                self._add(_join(path, kind.label(a_dev)), compact(a_dev, self.secrets), None)
                if merge:
                    a_parent.remove(a_dev)
