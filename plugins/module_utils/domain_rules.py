# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: how libvirt rewrites domain XML, as ONE rule table.
# Not a public API.
#
# libvirt 9.0 rewrites what it is given (shared/NORMALIZATION.md lists 24 measured
# rules; X rules were found while building and testing this engine). The comparison
# applies the same rewrites to the desired XML (and fills libvirt's omitted defaults
# into the actual XML), so that a document compares equal to what libvirt stored from
# it. docs/comparison-rules.md explains the rules for users.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

from ansible_collections.domainops.libvirt.plugins.module_utils.domain_devices import device_identity
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_pairing import key_matches
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_secrets import SECRET_ATTRIBUTES
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_text import etree, text_of
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_values import (
    canonical_uuid, format_cpuset, next_power_of_two, parse_cpuset, parse_int, to_kib)


class RuleContext(object):
    """What a rule may look at besides the tree it rewrites."""

    def __init__(self, aliases, side, actual=None, desired=None):
        self.aliases = aliases or {}
        self.side = side          # 'desired' or 'actual'
        self.actual = actual      # the canonical actual root (rules 7 and 8 read it)
        self.desired = desired
        # What rules with side 'actual' filled in: (element, attribute or None for the
        # element itself, value). Only for comparing; taken out again before a merged
        # definition is written (unfill).
        self.filled = []

    def fill_attribute(self, el, name, value):
        el.set(name, value)
        self.filled.append((el, name, value))

    def fill_element(self, parent, tag, **attrib):
        el = etree.SubElement(parent, tag, **attrib)
        self.filled.append((el, None, None))
        return el


def unfill(filled):
    """Take out of a tree what RuleContext.fill_* put in and nobody changed since."""
    for el, name, value in filled:
        if name is not None:
            if el.get(name) == value:
                del el.attrib[name]
        elif el.getparent() is not None and not len(el) and all(
                v == '0' for v in el.attrib.values()):
            el.getparent().remove(el)


# Elements holding a scaled size as text with a unit attribute: path -> default unit.
_SCALED_TEXT = (
    ('memory', 'KiB'), ('currentMemory', 'KiB'), ('maxMemory', 'KiB'),
    ('memtune/hard_limit', 'KiB'), ('memtune/soft_limit', 'KiB'),
    ('memtune/swap_hard_limit', 'KiB'), ('memtune/min_guarantee', 'KiB'),
    ('devices/memory/target/size', 'KiB'), ('devices/memory/target/requested', 'KiB'),
    ('devices/memory/target/block', 'KiB'), ('devices/memory/target/label/size', 'KiB'),
    ('devices/memory/target/current', 'KiB'), ('devices/memory/source/pagesize', 'KiB'),
    ('devices/memory/source/alignsize', 'KiB'),
    ('devices/shmem/size', 'b'),
)
# (element path, value attribute, unit attribute, default unit)
_SCALED_ATTRS = (
    ('cpu/numa/cell', 'memory', 'unit', 'KiB'),
    ('memoryBacking/hugepages/page', 'size', 'unit', 'KiB'),
)
# Attributes holding a cpuset / nodeset.
_CPUSET_ATTRS = (
    ('vcpu', 'cpuset'), ('cputune/vcpupin', 'cpuset'), ('cputune/emulatorpin', 'cpuset'),
    ('cputune/iothreadpin', 'cpuset'), ('cputune/vcpusched', 'vcpus'),
    ('cputune/iothreadsched', 'iothreads'), ('cputune/cachetune', 'vcpus'),
    ('cputune/memorytune', 'vcpus'), ('numatune/memory', 'nodeset'),
    ('numatune/memnode', 'nodeset'), ('cpu/numa/cell', 'cpus'),
    ('memoryBacking/hugepages/page', 'nodeset'),
)
# libvirt's channel socket directory (rule 6)
_CHANNEL_DIRS = ('/var/lib/libvirt/qemu/channel/target/', '/run/libvirt/qemu/channel/')
_CHARDEVS = ('serial', 'console', 'parallel', 'channel')


def aliases_for(aliases, arch):
    """The alias table of one arch from a flat or a per-arch table."""
    if not aliases:
        return {}
    values = list(aliases.values())
    if values and isinstance(values[0], dict):
        return aliases.get(arch) or aliases.get('x86_64') or {}
    return aliases


def _remove(el):
    parent = el.getparent()
    if parent is not None:
        parent.remove(el)


def _rule_strip_comments(root, ctx):
    for node in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        parent = node.getparent()
        if parent is None:
            continue
        if node.tail and node.tail.strip():
            prev = node.getprevious()
            if prev is not None:
                prev.tail = (prev.tail or '') + node.tail
            else:
                parent.text = (parent.text or '') + node.tail
        parent.remove(node)


def _rule_machine_alias(root, ctx):
    os_type = root.find('os/type')
    if os_type is not None and os_type.get('machine'):
        table = aliases_for(ctx.aliases, os_type.get('arch') or 'x86_64')
        os_type.set('machine', table.get(os_type.get('machine'), os_type.get('machine')))


def _rule_units_to_kib(root, ctx):
    for path, default_unit in _SCALED_TEXT:
        for el in root.iterfind(path):
            kib = to_kib(el.text, el.get('unit'), default_unit)
            if kib is not None:
                el.text = str(kib)
                el.set('unit', 'KiB')
    for path, attr, unit_attr, default_unit in _SCALED_ATTRS:
        for el in root.iterfind(path):
            if el.get(attr) is None:
                continue
            kib = to_kib(el.get(attr), el.get(unit_attr), default_unit)
            if kib is not None:
                el.set(attr, str(kib))
                el.set(unit_attr, 'KiB')


def _effective(ctx, path):
    """Elements from the desired root when it has them, else from actual."""
    found = ctx.desired.findall(path) if ctx.desired is not None else []
    if not found and ctx.actual is not None:
        found = ctx.actual.findall(path)
    return found


def _rule_numa_memory(root, ctx):
    memory = root.find('memory')
    if memory is None:
        return
    cells = _effective(ctx, 'cpu/numa/cell')
    if not cells:
        return
    total = 0
    for cell in cells:
        kib = to_kib(cell.get('memory'), cell.get('unit'))
        if kib is None:
            return
        total += kib
    for dimm in _effective(ctx, 'devices/memory'):
        size = dimm.find('target/size')
        if size is not None:
            total += to_kib(size.text, size.get('unit')) or 0
    memory.text = str(total)
    memory.set('unit', 'KiB')


def _rule_current_memory(root, ctx):
    current = root.find('currentMemory')
    if current is None:
        return
    memory = root.find('memory')
    if memory is None and ctx.actual is not None:
        memory = ctx.actual.find('memory')
    if memory is None:
        return
    cur, mem = parse_int(current.text), parse_int(memory.text)
    if cur is not None and mem is not None and cur > mem:
        current.text = str(mem)


def _rule_cpusets(root, ctx):
    for path, attr in _CPUSET_ATTRS:
        for el in root.iterfind(path):
            cpus = parse_cpuset(el.get(attr))
            if cpus is not None and el.get(attr) is not None:
                el.set(attr, format_cpuset(cpus))


def _rule_unix_channel_bind(root, ctx):
    for channel in root.iterfind('devices/channel'):
        source = channel.find('source')
        if channel.get('type') != 'unix' or source is None or source.get('mode') != 'bind':
            continue
        path = source.get('path')
        if not path or path.startswith(_CHANNEL_DIRS):
            channel.remove(source)


def _rule_console_mirrors_serial(root, ctx):
    # With a <serial>, libvirt makes the first console whose target is a serial
    # port (or unset) a copy of serial 0, whatever its own type; what the user
    # wrote for it never shows, so it is not compared.
    devices = root.find('devices')
    if devices is None or devices.find('serial') is None:
        return
    console = devices.find('console')
    if console is None:
        return
    target = console.find('target')
    target_type = target.get('type') if target is not None else None
    port = parse_int(target.get('port')) if target is not None else None
    if target_type in (None, 'serial') and port in (None, 0):
        devices.remove(console)


def _rule_default_values(root, ctx):
    # libvirt omits these values when they are the default. Filling the default
    # into the actual tree (instead of dropping it from the desired one) keeps
    # "desired says default, actual has another value" a difference.
    for driver in root.iterfind('devices/disk/driver'):
        if driver.get('cache') is None:
            ctx.fill_attribute(driver, 'cache', 'default')
    for driver in root.iterfind('devices/interface/driver'):
        if driver.get('queues') is None:
            ctx.fill_attribute(driver, 'queues', '1')
    for memballoon in root.iterfind('devices/memballoon'):
        if memballoon.find('stats') is None:
            ctx.fill_element(memballoon, 'stats', period='0')


def _rule_vcpu_current(root, ctx):
    # libvirt drops current when it equals the count: absent means "all of them".
    vcpu = root.find('vcpu')
    if vcpu is not None and vcpu.get('current') is None and text_of(vcpu):
        ctx.fill_attribute(vcpu, 'current', vcpu.text.strip())


def _rule_reserved_target_dev(root, ctx):
    for target in root.iterfind('devices/interface/target'):
        if (target.get('dev') or '').startswith(('vnet', 'macvtap')):
            del target.attrib['dev']
            if not target.attrib and not len(target):
                _remove(target)


def _rule_uuids(root, ctx):
    uuid = root.find('uuid')
    if uuid is not None and canonical_uuid(uuid.text):
        uuid.text = canonical_uuid(uuid.text)
    for el in root.iter():
        if isinstance(el.tag, str) and el.get('uuid') and canonical_uuid(el.get('uuid')):
            el.set('uuid', canonical_uuid(el.get('uuid')))


def _rule_vram(root, ctx):
    for model in root.iterfind('devices/video/model'):
        vram = parse_int(model.get('vram'))
        if vram is not None and vram > 0:
            model.set('vram', str(next_power_of_two(vram)))


def _rule_user_alias_only(root, ctx):
    devices = root.find('devices')
    if devices is None:
        return
    for dev in devices:
        for alias in dev.findall('alias'):
            if not (alias.get('name') or '').startswith('ua-'):
                dev.remove(alias)


def _rule_mac_lower(root, ctx):
    for mac in root.iterfind('devices/interface/mac'):
        if mac.get('address'):
            mac.set('address', mac.get('address').strip().lower())


def _rule_metadata_one_per_namespace(root, ctx):
    metadata = root.find('metadata')
    if metadata is None:
        return
    seen = set()
    for child in list(metadata):
        namespace = etree.QName(child).namespace
        if namespace in seen:
            metadata.remove(child)
        seen.add(namespace)


def _rule_graphics_ports(root, ctx):
    # A port of -1 asks libvirt to pick one (autoport): libvirt stores no SPICE
    # port/tlsPort then, and with autoport='yes' any written port is ignored.
    for graphics in root.iterfind('devices/graphics'):
        for attr in ('port', 'tlsPort'):
            value = graphics.get(attr)
            if value is not None and (graphics.get('autoport') == 'yes' or value.strip() == '-1'):
                del graphics.attrib[attr]


def _rule_vnc_gl(root, ctx):
    # VNC has no OpenGL: libvirt 9.0 drops a <gl> under VNC graphics.
    for graphics in root.iterfind("devices/graphics[@type='vnc']"):
        for gl in graphics.findall('gl'):
            graphics.remove(gl)


def _rule_empty_values(root, ctx):
    # Generators write empty values where they mean "none" (an empty disk source file,
    # an interface <model type=''/>, empty sysinfo sections): libvirt reads an empty
    # attribute as absent and drops what is left empty.
    for el in list(root.iter()):
        if not isinstance(el.tag, str) or el is root:
            continue
        emptied = False
        for name, value in list(el.attrib.items()):
            if value == '' and name not in SECRET_ATTRIBUTES:
                del el.attrib[name]
                emptied = True
        if emptied and not el.attrib and not len(el) and text_of(el) is None:
            _remove(el)
    for entry in root.iterfind('sysinfo/*/entry'):
        if text_of(entry) is None:
            _remove(entry)
    for section in root.iterfind('sysinfo/*'):
        if not len(section) and text_of(section) is None:
            _remove(section)


def _rule_runtime_only(root, ctx):
    # Values that only a running domain shows (virsh dumpxml of it): libvirt
    # ignores them on define, so a document dumped from a running guest compares
    # equal to its definition.
    if root.get('id') is not None:  # the live domain id
        del root.attrib['id']
    for tag in _CHARDEVS:
        for dev in root.iterfind('devices/' + tag):
            if dev.get('tty') is not None:
                del dev.attrib['tty']
            source = dev.find('source')
            if dev.get('type') == 'pty' and source is not None and set(source.attrib) <= {'path'}:
                dev.remove(source)  # the pty the running QEMU was given
            target = dev.find('target')
            if tag == 'channel' and target is not None and target.get('state') is not None:
                del target.attrib['state']  # agent connected / disconnected
    for disk in root.iterfind('devices/disk'):
        for el in disk.iter('source', 'backingStore'):
            if el.get('index') is not None:
                del el.attrib['index']
    for seclabel in root.iter('seclabel'):
        if seclabel.get('type') == 'dynamic':
            for child in seclabel.findall('label') + seclabel.findall('imagelabel'):
                seclabel.remove(child)


def _rule_controller_index(root, ctx):
    # A controller without index gets the lowest free index of its type, in
    # document order, as libvirt numbers them; a USB companion controller (one with
    # <master>) shares the index of the USB controller before it (its EHCI master).
    devices = root.find('devices')
    if devices is None:
        return
    taken = collections.defaultdict(set)
    for ctl in devices.findall('controller'):
        index = parse_int(ctl.get('index'))
        if index is not None:
            taken[ctl.get('type')].add(index)
    master_index = None
    for ctl in devices.findall('controller'):
        is_companion = ctl.get('type') == 'usb' and ctl.find('master') is not None
        if ctl.get('index') is None and ctl.get('type'):
            if is_companion and master_index is not None:
                ctl.set('index', str(master_index))
                continue
            index = 0
            while index in taken[ctl.get('type')]:
                index += 1
            taken[ctl.get('type')].add(index)
            ctl.set('index', str(index))
        if ctl.get('type') == 'usb' and not is_companion:
            master_index = parse_int(ctl.get('index'))


def _rule_virtio_console_port(root, ctx):
    # libvirt numbers virtio consoles itself, and not stably: next to the serial
    # console it adds, a virtio console defined as port 0 is port 1 after the next
    # define of the same XML. They pair in order instead.
    for target in root.iterfind("devices/console/target[@type='virtio']"):
        if target.get('port') is not None:
            del target.attrib['port']


Rule = collections.namedtuple('Rule', ['number', 'sides', 'apply', 'summary'])

# The canonicalisation rules, in the order they are applied. "number" is the
# rule's number in shared/NORMALIZATION.md (X = found while building this
# engine). sides: which trees the rewrite runs on ('desired', 'actual' or 'both');
# rules with apply=None are handled by the comparison itself (pairing, numbers) or
# cannot be canonicalised, and are listed so that the table is complete.
RULES = (
    Rule('19', 'both', _rule_strip_comments, 'comments and processing instructions are dropped'),
    Rule('X1', 'desired', _rule_runtime_only,
         'runtime-only values of a running domain (domain id, pty paths and tty, channel state, '
         'disk source index, dynamic seclabel labels) are not part of a definition'),
    Rule('1', 'both', _rule_machine_alias, 'machine alias -> canonical machine (capabilities)'),
    Rule('2', 'both', _rule_units_to_kib, 'scaled sizes -> KiB, rounded up, unit="KiB"'),
    Rule('7', 'desired', _rule_numa_memory, '<memory> = sum of NUMA cells + memory devices'),
    Rule('8', 'desired', _rule_current_memory, '<currentMemory> = min(currentMemory, memory)'),
    Rule('10', 'both', _rule_cpusets, 'cpusets/nodesets -> sorted ranges, exclusions applied'),
    Rule('6', 'desired', _rule_unix_channel_bind,
         'unix channel bind source without path (or in the channel dir) -> absent'),
    Rule('14', 'actual', _rule_default_values,
         "values libvirt drops as default (disk cache='default', interface driver queues='1', "
         "memballoon stats period='0') are filled into the actual tree for comparing"),
    Rule('15', 'desired', _rule_reserved_target_dev, 'interface target dev vnet*/macvtap* -> absent'),
    Rule('16', 'both', _rule_uuids, 'UUIDs lower case with dashes'),
    Rule('17', 'desired', _rule_vram, 'video vram rounded up to a power of two'),
    Rule('18', 'desired', _rule_user_alias_only, 'device aliases without ua- prefix -> absent'),
    Rule('21', 'both', _rule_mac_lower, 'MAC addresses lower case'),
    Rule('22', 'desired', _rule_metadata_one_per_namespace, 'one <metadata> child per namespace'),
    Rule('23', 'actual', _rule_vcpu_current,
         'vcpu current absent in actual means current = count (libvirt drops it when equal)'),
    Rule('24', 'desired', _rule_graphics_ports,
         "graphics port/tlsPort ignored when autoport='yes' or -1 (libvirt picks them; "
         "SPICE stores none)"),
    Rule('X3', 'desired', _rule_console_mirrors_serial,
         'the first serial-type console is a copy of serial 0 when there is a serial'),
    Rule('X2', 'desired', _rule_controller_index,
         'controller without index gets the lowest free index of its type, as libvirt does; a USB '
         'companion (with <master>) the index of its master'),
    Rule('X6', 'desired', _rule_virtio_console_port,
         'virtio console ports are numbered by libvirt (unstably): not compared, consoles pair in order'),
    Rule('X4', 'desired', _rule_vnc_gl, 'a <gl> under VNC graphics is dropped'),
    Rule('X5', 'desired', _rule_empty_values,
         "empty attributes (source file='', model type='') -> absent, an element left empty by "
         "that, sysinfo entries without text and empty sysinfo sections -> absent"),
    Rule('3', 'both', None, 'devices order across classes ignored: devices are paired by identity'),
    Rule('5', 'both', None, 'disk/controller order ignored: paired by target dev / type+index'),
    Rule('9', 'both', None, 'top-level element order ignored: children paired by tag'),
    Rule('11', 'both', None, 'child order ignored except os/boot (children paired by tag + key)'),
    Rule('12', 'both', None, 'PCI address fields compared as integers (hex or decimal)'),
    Rule('20', 'both', None, 'decimal numbers compared as integers (leading zeros)'),
    Rule('4', 'both', None, 'unknown attributes dropped with flags 0: not canonicalisable; the '
                            'read-back after a define names them in a warning'),
    Rule('13', 'both', None, "graphics autoport on/off: refused with VALIDATE, yes/no and on/off "
                             "are compared literally"),
)


def canonicalise(root, ctx):
    """Apply every rule for ctx.side to root, in place."""
    for rule in RULES:
        if rule.apply is not None and rule.sides in ('both', ctx.side):
            rule.apply(root, ctx)
    return root


# --- merge rules: what a merged definition must not combine --------------------

def _merge_boot_order(merged, desired):
    # Per-device <boot order> and <os><boot dev> exclude each other: libvirt
    # refuses a definition with both. The form the desired XML uses wins.
    os_boots = desired.findall('os/boot')
    if desired.findall('devices/*/boot') and not os_boots:
        for boot in merged.findall('os/boot'):
            _remove(boot)
    elif os_boots:
        # devices keep a boot order only where the desired XML gives them one
        wanted = [device_identity(boot.getparent()) for boot in desired.findall('devices/*/boot')]
        for boot in merged.findall('devices/*/boot'):
            if not any(key_matches(key, device_identity(boot.getparent())) for key in wanted):
                _remove(boot)


def _merge_graphics_listen(merged, desired):
    # graphics/@listen mirrors the first <listen type='address'>: when the desired
    # XML changes one form only, the other (kept from the actual XML) would
    # contradict it, and libvirt refuses the definition.
    for graphics in merged.iterfind('devices/graphics'):
        listens = [el for el in graphics.findall('listen') if el.get('type') == 'address']
        if graphics.get('listen') is None or not listens:
            continue
        if graphics.get('listen') != listens[0].get('address'):
            wrote_attribute = any(g.get('listen') == graphics.get('listen')
                                  for g in desired.iterfind('devices/graphics'))
            if wrote_attribute:
                listens[0].set('address', graphics.get('listen'))
            else:
                graphics.set('listen', listens[0].get('address') or '')


def _merge_current_memory(merged, desired, actual_before):
    # libvirt treats an absent <currentMemory> as equal to <memory>. When the
    # balloon was not in use (current == memory) and the desired XML changes
    # <memory> without saying currentMemory, follow the new size, as a fresh
    # define of the desired XML would.
    old_memory = parse_int(actual_before.get('memory'))
    old_current = parse_int(actual_before.get('currentMemory'))
    if (desired.find('memory') is None or desired.find('currentMemory') is not None
            or old_current is None or old_current != old_memory):
        return
    memory, current = merged.find('memory'), merged.find('currentMemory')
    if current is not None and memory is not None and parse_int(memory.text) != old_memory:
        current.text = memory.text
        current.set('unit', memory.get('unit', 'KiB'))


def merge_fixups(merged, desired, actual_before):
    """Resolve what the overlay combined and libvirt would refuse (in place)."""
    _merge_boot_order(merged, desired)
    _merge_graphics_listen(merged, desired)
    _merge_current_memory(merged, desired, actual_before)


def memory_values(root):
    """{'memory': text, 'currentMemory': text} of a root, before a merge."""
    return dict((tag, root.findtext(tag)) for tag in ('memory', 'currentMemory'))
