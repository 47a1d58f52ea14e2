# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: what is special about DOMAIN XML. Not a public API.
#
# The engine is generic (xml_engine.Comparison: compare, merge, applied record);
# this file is the domain resource kind: devices paired by identity
# (domain_devices.py), libvirt's rewrites (domain_rules.py), the merge fix-ups, the
# machine aliases from the capabilities, and the functions the modules call.
#
#   xml_secrets -> xml_text -> xml_values -> xml_pairing -> domain_devices
#   -> domain_rules -> xml_record -> xml_engine -> domain_xml

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.domainops.libvirt.plugins.module_utils import domain_devices, domain_rules
from ansible_collections.domainops.libvirt.plugins.module_utils.domain_rules import RULES, RuleContext
from ansible_collections.domainops.libvirt.plugins.module_utils import xml_engine, xml_record
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_engine import (
    Comparison, Difference, ResourceKind, same_definition)
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_pairing import pair_by_identity
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_text import (
    MAX_XML_BYTES, as_element, etree, parse_xml, to_text)
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_values import canonical_uuid

# What the modules (and the tests) use: the engine's names they need come from here,
# so a caller imports one file for domain XML.
__all__ = ('DOMAIN', 'Comparison', 'Difference', 'MAX_XML_BYTES', 'RULES', 'canonical_copy', 'canonical_uuid',
           'compare_domain', 'compare_element', 'device_identity', 'differences_as_dicts', 'domain_name',
           'domain_uuid', 'etree', 'find_device', 'has_record', 'machine_aliases', 'machine_aliases_by_arch',
           'merge_device', 'merge_domain', 'parse_xml', 'same_definition', 'to_text', 'with_record')


class DomainKind(ResourceKind):
    root_tag = 'domain'
    what = 'domain XML'
    collection = 'devices'
    # Children whose order is meaningful: compared and replaced as a whole sequence.
    ordered = frozenset((('os', 'boot'), ('os', 'initarg')))
    # <metadata> holds one element per application (libosinfo, this collection's record, ...)
    containers = frozenset(('metadata',))

    def canonicalise(self, root, ctx):
        return domain_rules.canonicalise(root, ctx)

    def identity(self, el):
        return domain_devices.device_identity(el)

    def identity_like(self, el, like):
        return domain_devices.identity_like(el, like)

    def loosen(self, key):
        return domain_devices.loosen_identity(key)

    def label(self, desired, actual=None):
        return domain_devices.device_label(desired, actual)

    def is_implicit(self, el, desired):
        return domain_devices.is_implicit(el, desired)

    def pairs_by_identity(self, tag):
        return tag != 'emulator'

    def before_merge(self, actual):
        return domain_rules.memory_values(actual)

    def merge_fixups(self, merged, desired, before):
        domain_rules.merge_fixups(merged, desired, before)


DOMAIN = DomainKind()


# ---------------------------------------------------------------------------
# Capabilities, names
# ---------------------------------------------------------------------------

def machine_aliases(capabilities_xml_text):
    """Machine aliases from the capabilities XML: a flat dict alias -> canonical
    name ({'pc': 'pc-i440fx-7.2', ...}); the first arch listed wins when two arches
    define the same alias differently (machine_aliases_by_arch has the per-arch view)."""
    flat = {}
    for arch_aliases in machine_aliases_by_arch(capabilities_xml_text).values():
        for alias, canonical in arch_aliases.items():
            flat.setdefault(alias, canonical)
    return flat


def machine_aliases_by_arch(capabilities_xml_text):
    """{arch: {alias: canonical}} from the capabilities XML."""
    root = as_element(capabilities_xml_text, what='capabilities XML', root_tags=('capabilities',))
    result = {}
    for arch in root.iterfind('guest/arch'):
        name = arch.get('name')
        # machines are listed per arch and again per <domain type>; merge them
        for machine in arch.iter('machine'):
            canonical = machine.get('canonical')
            alias = (machine.text or '').strip()
            if canonical and alias:
                result.setdefault(name, {}).setdefault(alias, canonical)
    return result


def domain_name(root):
    name = as_element(root).findtext('name')
    return name.strip() if name and name.strip() else None


def domain_uuid(root):
    return canonical_uuid(as_element(root).findtext('uuid'))


def device_identity(device_element):
    """A hashable identity of a device element (see domain_devices.device_identity)."""
    return domain_devices.device_identity(as_element(device_element, what='device XML', root_tags=None))


# ---------------------------------------------------------------------------
# Whole documents and single devices
# ---------------------------------------------------------------------------

def compare_domain(desired_root, actual_root, aliases=None, record='stored'):
    """Differences between the desired domain XML and the actual (inactive) one.

    Empty when everything the desired XML says is in the actual XML after
    canonicalisation and nothing the applied record holds was removed from it.
    """
    return Comparison(DOMAIN, desired_root, actual_root, aliases, record=record).differences


def merge_domain(desired_root, actual_root, aliases=None, record='stored'):
    """A new domain root: the actual definition with the desired parts overlaid
    (and the removals the applied record asks for made). No record is written."""
    return Comparison(DOMAIN, desired_root, actual_root, aliases, record=record).merged


def with_record(desired_root, aliases=None):
    """The desired document as written, carrying its applied record (a first define)."""
    desired_root = as_element(desired_root)
    canonical = canonical_copy(desired_root, aliases=aliases)
    xml_record.strip(canonical)
    return xml_engine.with_record(DOMAIN, desired_root, canonical)


def has_record(root):
    """Whether a domain's XML carries an applied record of this collection."""
    return xml_record.find(as_element(root)) is not None


def canonical_copy(root, side='desired', aliases=None, actual=None):
    """A canonical deep copy of a domain root (for tests and tooling)."""
    clone = copy.deepcopy(as_element(root))
    ctx = RuleContext(aliases, side, actual=actual, desired=clone if side == 'desired' else None)
    return domain_rules.canonicalise(clone, ctx)


def _wrap_device(device):
    domain = etree.Element('domain')
    etree.SubElement(domain, 'devices').append(copy.deepcopy(device))
    return domain


def compare_element(desired_el, actual_el, aliases=None):
    """Differences for one device: desired vs actual, paths starting with its label."""
    desired_el = as_element(desired_el, what='device XML', root_tags=None)
    actual_el = as_element(actual_el, what='device XML', root_tags=None)
    if desired_el.tag == 'domain':
        return compare_domain(desired_el, actual_el, aliases)
    if desired_el.tag != actual_el.tag:
        return [Difference('', actual_el.tag, desired_el.tag)]
    return Comparison(DOMAIN, _wrap_device(desired_el), _wrap_device(actual_el), aliases,
                      record=None, one_child=True).differences


def merge_device(desired_el, actual_el, aliases=None):
    """The actual device with the desired one laid over it."""
    comparison = Comparison(DOMAIN, _wrap_device(desired_el), _wrap_device(actual_el), aliases,
                            record=None, one_child=True)
    return comparison.merged.find('devices')[0]


def find_device(domain_root, device_element):
    """The device in domain_root paired with device_element by identity, or None."""
    domain_root = as_element(domain_root)
    device_element = as_element(device_element, what='device XML', root_tags=None)
    devices = domain_root.find('devices')
    if devices is None:
        return None
    wrapped = _wrap_device(device_element)
    domain_rules.canonicalise(wrapped, RuleContext({}, 'desired', actual=domain_root, desired=wrapped))
    desired = wrapped.find('devices')[0]
    candidates = devices.findall(device_element.tag)
    pairs = pair_by_identity([(desired, DOMAIN.identity(desired))], candidates,
                             DOMAIN.identity_like, DOMAIN.loosen)[0]
    return pairs[0][1] if pairs else None


def differences_as_dicts(differences):
    """Differences as plain dicts, for module results."""
    return [{'path': d.path, 'before': d.before, 'after': d.after} for d in differences]
