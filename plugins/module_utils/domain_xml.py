# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: the domain XML engine. Not a public API.
#
# Pure Python on lxml, no libvirt calls: callers pass XML text or elements and
# the host's machine aliases (from the capabilities XML).
#
# The comparison answers one question: "is what the user wrote contained in
# what libvirt stored, once both are in the same canonical form?" What the
# user did not write is never compared. libvirt 9.0 rewrites what it is given
# (shared/NORMALIZATION.md lists 24 measured rules); every rule this module
# applies is in the RULES table below, one row per rule, numbered like that
# document. docs/comparison-rules.md explains the result for users.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import copy
import re

try:
    from lxml import etree
    HAS_LXML = True
    LXML_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - the modules report it with missing_required_lib
    etree = None
    HAS_LXML = False
    LXML_IMPORT_ERROR = exc

from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError


MAX_XML_BYTES = 10 * 1024 * 1024
SECRET_MASK = '********'
# Attributes whose values are secrets: masked in output and in differences.
SECRET_ATTRIBUTES = frozenset(('passwd', 'password'))

Difference = collections.namedtuple('Difference', ['path', 'before', 'after'])
Difference.__doc__ = ("One difference between desired and actual. 'before' is the actual value "
                      "(None: absent), 'after' the desired one (None: to be removed). Element "
                      "values are compact XML text.")


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------

# A document type declaration is never needed in domain XML; refusing it
# outright closes entity expansion (billion laughs) and external entities (XXE).
_DTD_RE = re.compile(r'<!(DOCTYPE|ENTITY)', re.IGNORECASE)


def _line_col(text, offset):
    line = text.count('\n', 0, offset) + 1
    col = offset - (text.rfind('\n', 0, offset) + 1) + 1
    return line, col


def parse_xml(text, what='domain XML', root_tags=('domain',)):
    """Parse untrusted XML text into an lxml element, or raise InputError.

    No DTD, no entities, no network; comments and processing instructions are
    dropped (libvirt drops them too, NORMALIZATION.md rule 19).
    """
    if etree is None:  # pragma: no cover
        raise InputError('the lxml Python library is required to handle %s' % what)
    if text is None:
        raise InputError('%s is missing' % what)
    if isinstance(text, bytes):
        raw = text
        try:
            text_str = text.decode('utf-8')
        except UnicodeDecodeError:
            text_str = text.decode('latin-1')
    else:
        text_str = text
        raw = text.encode('utf-8')
    if len(raw) > MAX_XML_BYTES:
        raise InputError('%s is too large: %d bytes, at most %d are accepted'
                         % (what, len(raw), MAX_XML_BYTES))
    if not text_str.strip():
        raise InputError('%s is empty' % what)
    match = _DTD_RE.search(text_str)
    if match:
        line, col = _line_col(text_str, match.start())
        raise InputError('%s must not contain a document type or entity declaration (<!%s) '
                         '(line %d, column %d)' % (what, match.group(1).upper(), line, col))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True,
                             remove_pis=True, strip_cdata=True)
    try:
        # bytes, so that an XML declaration with an encoding is accepted
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        entry = exc.error_log.last_error if exc.error_log else None
        message = (entry.message if entry is not None else str(exc)).strip()
        line, col = exc.position if exc.position else (0, 0)
        if entry is not None:
            line, col = entry.line, entry.column
        raise InputError('%s is not well-formed: %s (line %d, column %d)'
                         % (what, message, line, col))
    if root.getroottree().docinfo.doctype:
        raise InputError('%s must not contain a document type declaration' % what)
    for node in root.iter():
        if not isinstance(node.tag, str):
            # entity references or anything that is not a plain element
            raise InputError('%s must not contain entity references (line %s)'
                             % (what, getattr(node, 'sourceline', '?')))
    if root_tags and root.tag not in root_tags:
        raise InputError('%s must have the root element %s, found <%s>'
                         % (what, ' or '.join('<%s>' % t for t in root_tags), root.tag))
    return root


def _as_element(value, what='domain XML', root_tags=('domain',)):
    if isinstance(value, (str, bytes)):
        return parse_xml(value, what=what, root_tags=root_tags)
    return value


# ---------------------------------------------------------------------------
# Capabilities, names
# ---------------------------------------------------------------------------

def machine_aliases(capabilities_xml_text):
    """Machine aliases from the capabilities XML.

    Returns a flat dict alias -> canonical name (``{'pc': 'pc-i440fx-7.2', ...}``),
    built from every ``guest/arch/machine[@canonical]``; the first arch listed wins
    when two arches define the same alias differently. ``machine_aliases_by_arch``
    gives the per-arch view; compare_domain accepts either.
    """
    flat = {}
    for arch_aliases in machine_aliases_by_arch(capabilities_xml_text).values():
        for alias, canonical in arch_aliases.items():
            flat.setdefault(alias, canonical)
    return flat


def machine_aliases_by_arch(capabilities_xml_text):
    """{arch: {alias: canonical}} from the capabilities XML."""
    root = _as_element(capabilities_xml_text, what='capabilities XML', root_tags=('capabilities',))
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


def _aliases_for(aliases, arch):
    if not aliases:
        return {}
    values = list(aliases.values())
    if values and isinstance(values[0], dict):
        return aliases.get(arch) or aliases.get('x86_64') or {}
    return aliases


def domain_name(root):
    root = _as_element(root)
    name = root.findtext('name')
    return name.strip() if name and name.strip() else None


def canonical_uuid(value):
    """Lower-case dashed UUID, or None when value is not 32 hex digits (dashes ignored)."""
    if value is None:
        return None
    digits = value.strip().replace('-', '').lower()
    if not re.match(r'^[0-9a-f]{32}$', digits):
        return None
    return '%s-%s-%s-%s-%s' % (digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:])


def domain_uuid(root):
    root = _as_element(root)
    return canonical_uuid(root.findtext('uuid'))


# ---------------------------------------------------------------------------
# Value helpers
# ---------------------------------------------------------------------------

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


def _next_power_of_two(number):
    power = 1
    while power < number:
        power *= 2
    return power


# Text of these elements is a string even when it looks like a number.
_STRING_TEXT_TAGS = frozenset(('name', 'title', 'description', 'serial', 'wwn', 'vendor',
                               'product', 'entry', 'label', 'imagelabel', 'baselabel',
                               'cmdline', 'uuid'))
# Attributes that are strings even when they look like numbers.
_STRING_ATTRIBUTES = frozenset(('passwd', 'password', 'name', 'value', 'serial', 'keymap'))


def _values_equal(tag, attr, desired, actual):
    """Whether two canonical values are equal; numbers compare as integers."""
    if desired == actual:
        return True
    if desired is None or actual is None:
        return False
    numeric = (attr not in _STRING_ATTRIBUTES) if attr else (tag not in _STRING_TEXT_TAGS)
    if numeric:
        d_int, a_int = parse_int(desired), parse_int(actual)
        if d_int is not None and d_int == a_int:
            return True
    return False


def _text(el):
    """Element text when it carries a value (whitespace-only text is layout)."""
    text = el.text
    if text is None or not text.strip():
        return None
    return text


def _local(tag):
    if isinstance(tag, str) and tag.startswith('{'):
        return tag.split('}', 1)[1]
    return tag


def _compact(el):
    clone = copy.deepcopy(el)
    clone.tail = None
    for node in clone.iter():
        if node is not clone and node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    if clone.text is not None and not clone.text.strip() and len(clone):
        clone.text = None
    _mask_tree(clone)
    return etree.tostring(clone, encoding='unicode')


def _mask_tree(root):
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        for name in list(node.attrib):
            if _local(name) in SECRET_ATTRIBUTES:
                node.set(name, SECRET_MASK)


def _mask_value(attr, value):
    if attr in SECRET_ATTRIBUTES and value is not None:
        return SECRET_MASK
    return value


# ---------------------------------------------------------------------------
# Device identity (DESIGN.md, "Devices are paired by identity")
# ---------------------------------------------------------------------------

# Interface source attribute that names what it connects to, per interface type.
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


def _int_or_none(value):
    number = parse_int(value)
    return number if number is not None else (value.strip().lower() if value else None)


def _hostdev_source_key(dev):
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
        key = ('usb', _int_or_none(vendor.get('id')), _int_or_none(product.get('id')))
        if address is not None:
            key += (_int_or_none(address.get('bus')), _int_or_none(address.get('device')))
        return key
    adapter = source.find('adapter')
    if adapter is not None and address is not None:
        return ('scsi', adapter.get('name'), _int_or_none(address.get('bus')),
                _int_or_none(address.get('target')), _int_or_none(address.get('unit')))
    if source.get('protocol') and source.get('name'):  # iSCSI hostdev
        return ('iscsi', source.get('protocol'), source.get('name'))
    if source.get('wwpn'):  # scsi_host (vhost-scsi)
        return ('scsi_host', source.get('wwpn').lower())
    if address is not None:
        if address.get('type') == 'usb' or (address.get('device') and not address.get('slot')):
            return ('usb', _int_or_none(address.get('bus')), _int_or_none(address.get('device')))
        if address.get('slot') is not None:
            return ('pci', parse_int(address.get('domain') or '0'), _int_or_none(address.get('bus')),
                    _int_or_none(address.get('slot')), _int_or_none(address.get('function') or '0'))
    for tag in ('block', 'char', 'interface'):  # mode='capabilities'
        found = source.findtext(tag)
        if found:
            return (tag, found.strip())
    return None


def _interface_keys(dev):
    """All the identities of an interface: mac, user alias, type + source."""
    keys = {}
    mac = dev.find('mac')
    if mac is not None and mac.get('address'):
        keys['mac'] = mac.get('address').strip().lower()
    alias = dev.find('alias')
    if alias is not None and (alias.get('name') or '').startswith('ua-'):
        keys['alias'] = alias.get('name')
    kind = dev.get('type')
    if kind == 'hostdev':
        source_key = _hostdev_source_key(dev)
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
    return (dev.get('type'), parse_int(dev.get('index')))


def _required(value, message):
    if not value or (isinstance(value, str) and not value.strip()):
        raise InputError(message)
    return value


# tag -> function(device) -> tuple; None inside a tuple is a wildcard (the
# desired XML did not say) that matches any actual value. Keys that repeat
# (two qxl videos) are paired in document order.
_IDENTITY = {
    'disk': lambda d: (_required(d.find('target') is not None and d.find('target').get('dev'),
                                 'a <disk> device lacks the element that identifies it: it needs '
                                 '<target dev="..."/> (libvirt cannot safely detach a disk without it)'),),
    'controller': _controller_key,
    'filesystem': lambda d: (_required(d.find('target') is not None and d.find('target').get('dir'),
                                       'a <filesystem> device lacks the element that identifies it: '
                                       'it needs <target dir="..."/>'),),
    'hostdev': lambda d: (_required(_hostdev_source_key(d),
                                    'a <hostdev> device needs a <source> with an address, '
                                    'vendor/product or adapter to be identified'),),
    'serial': _serial_like_key,
    'parallel': _serial_like_key,
    'console': _serial_like_key,
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


def device_identity(device_element):
    """A hashable identity of a device element: a tuple starting with its tag.

    Raises InputError when a device lacks the part that identifies it (a disk
    without <target dev>, a filesystem without <target dir>, a hostdev without a
    source address). An interface is identified by its MAC (lower case), else a
    ``ua-`` alias, else its type and source (paired in order).
    """
    device_element = _as_element(device_element, what='device XML', root_tags=None)
    tag = device_element.tag
    if tag == 'interface':
        keys = _interface_keys(device_element)
        for kind in ('mac', 'alias', 'source'):
            if kind in keys:
                return (tag, kind, keys[kind])
    func = _IDENTITY.get(tag)
    if func is None:
        # unknown device class: its type or model names it, else one of a kind
        return (tag, device_element.get('type') or device_element.get('model'))
    return (tag,) + tuple(func(device_element))


def _identity_label(key):
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


def _key_matches(desired_key, actual_key):
    if len(desired_key) != len(actual_key):
        return False
    for d_part, a_part in zip(desired_key, actual_key):
        if d_part is not None and d_part != a_part:
            return False
    return True


def _pair_devices(desired_devs, actual_devs):
    """Pair desired with actual devices of one tag by identity.

    Returns (pairs, unpaired_desired, unpaired_actual). Exact keys pair first,
    then keys with wildcards, each in document order; interfaces pair by MAC or
    ua- alias first, then by type + source.
    """
    pairs, used = [], set()
    desired_left = []
    if desired_devs and desired_devs[0].tag == 'interface':
        actual_keys = [_interface_keys(a) for a in actual_devs]
        later = []
        for dev in desired_devs:
            keys = _interface_keys(dev)
            kind = 'mac' if 'mac' in keys else ('alias' if 'alias' in keys else None)
            if kind is None:
                later.append(dev)
                continue
            match = next((i for i, a in enumerate(actual_keys)
                          if i not in used and a.get(kind) == keys[kind]), None)
            if match is None:
                desired_left.append(dev)
            else:
                used.add(match)
                pairs.append((dev, actual_devs[match]))
        for dev in later:
            wanted = _interface_keys(dev)['source']
            match = next((i for i, a in enumerate(actual_keys)
                          if i not in used and _key_matches(wanted, a['source'])), None)
            if match is None:
                desired_left.append(dev)
            else:
                used.add(match)
                pairs.append((dev, actual_devs[match]))
    else:
        actual_ids = [device_identity(a) for a in actual_devs]
        desired_ids = [device_identity(d) for d in desired_devs]
        order = sorted(range(len(desired_devs)), key=lambda i: None in desired_ids[i])
        for i in order:
            exact = [j for j, a in enumerate(actual_ids) if j not in used and a == desired_ids[i]]
            loose = [j for j, a in enumerate(actual_ids)
                     if j not in used and _key_matches(desired_ids[i], a)]
            choice = (exact or loose or [None])[0]
            if choice is None:
                desired_left.append(desired_devs[i])
            else:
                used.add(choice)
                pairs.append((desired_devs[i], actual_devs[choice]))
    actual_left = [a for j, a in enumerate(actual_devs) if j not in used]
    return pairs, desired_left, actual_left


def _assign_controller_indexes(devices):
    """Give desired controllers without an index the one libvirt would: the
    lowest free index of their type, in document order."""
    if devices is None:
        return
    taken = collections.defaultdict(set)
    for ctl in devices.findall('controller'):
        index = parse_int(ctl.get('index'))
        if index is not None:
            taken[ctl.get('type')].add(index)
    for ctl in devices.findall('controller'):
        if ctl.get('index') is None and ctl.get('type'):
            index = 0
            while index in taken[ctl.get('type')]:
                index += 1
            taken[ctl.get('type')].add(index)
            ctl.set('index', str(index))


def _is_implicit(dev, desired_devices):
    """Actual devices libvirt creates by itself, so never removed even when their
    device type is managed: removing them would only make libvirt add them again."""
    tag = dev.tag
    if tag == 'input':
        return dev.get('bus') == 'ps2'  # x86 machines always have PS/2 mouse and keyboard
    if tag == 'controller':
        kind = dev.get('type')
        if kind == 'pci':  # the PCI topology that device addresses refer to
            return True
        # A controller type the desired XML does not list is not managed.
        return not any(c.get('type') == kind for c in desired_devices.findall('controller'))
    if tag == 'audio':
        return True
    if tag == 'console' and desired_devices.find('serial') is not None:
        target = dev.find('target')  # the copy of serial 0 (rule X3)
        return (target is not None and target.get('type') == 'serial'
                and parse_int(target.get('port')) in (None, 0))
    return False


def find_device(domain_root, device_element):
    """The device in domain_root paired with device_element by identity, or None."""
    domain_root = _as_element(domain_root)
    device_element = _as_element(device_element, what='device XML', root_tags=None)
    devices = domain_root.find('devices')
    if devices is None:
        return None
    desired = copy.deepcopy(device_element)
    _canonicalise(_wrap_device(desired), _Context({}, 'desired', domain_root))
    desired = _unwrap_device(desired)
    candidates = devices.findall(device_element.tag)
    pairs = _pair_devices([desired], candidates)[0]
    return pairs[0][1] if pairs else None


# ---------------------------------------------------------------------------
# Canonicalisation rules (NORMALIZATION.md). ONE table: RULES, below.
# ---------------------------------------------------------------------------

class _Context(object):
    def __init__(self, aliases, side, actual=None, desired=None, fill_defaults=True):
        self.aliases = aliases or {}
        self.side = side          # 'desired' or 'actual'
        # Rules with sides='actual' write libvirt's implicit defaults into the
        # actual tree; only for comparing, never into a definition (merge).
        self.fill_defaults = fill_defaults
        self.actual = actual      # the canonical actual root, for rules 7 and 8
        self.desired = desired


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


def _rule_strip_comments(root, ctx):
    for node in list(root.iter(etree.Comment, etree.ProcessingInstruction)):
        parent = node.getparent()
        if parent is not None:
            _remove_keep_tail(node)


def _remove_keep_tail(node):
    parent = node.getparent()
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
        table = _aliases_for(ctx.aliases, os_type.get('arch') or 'x86_64')
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


def _effective(ctx, path_in_desired, path_in_actual=None):
    """Elements from the desired root when it has them, else from actual."""
    found = ctx.desired.findall(path_in_desired) if ctx.desired is not None else []
    if not found and ctx.actual is not None:
        found = ctx.actual.findall(path_in_actual or path_in_desired)
    return found


def _rule_numa_memory(root, ctx):
    memory = root.find('memory')
    if ctx.side != 'desired' or memory is None:
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
    desired_dimms = root.findall('devices/memory')
    dimms = desired_dimms if desired_dimms else (
        ctx.actual.findall('devices/memory') if ctx.actual is not None else [])
    for dimm in dimms:
        size = dimm.find('target/size')
        if size is not None:
            total += to_kib(size.text, size.get('unit')) or 0
    memory.text = str(total)
    memory.set('unit', 'KiB')


def _rule_current_memory(root, ctx):
    current = root.find('currentMemory')
    if ctx.side != 'desired' or current is None:
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
    # Measured here: with a <serial>, libvirt makes the first console whose
    # target is a serial port (or unset) a copy of serial 0, whatever its own
    # type; what the user wrote for it never shows, so it is not compared.
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
            driver.set('cache', 'default')
    for driver in root.iterfind('devices/interface/driver'):
        if driver.get('queues') is None:
            driver.set('queues', '1')
    for memballoon in root.iterfind('devices/memballoon'):
        if memballoon.find('stats') is None:
            etree.SubElement(memballoon, 'stats').set('period', '0')


def _rule_reserved_target_dev(root, ctx):
    for target in root.iterfind('devices/interface/target'):
        if (target.get('dev') or '').startswith(('vnet', 'macvtap')):
            del target.attrib['dev']
            if not target.attrib and not len(target):
                target.getparent().remove(target)


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
            model.set('vram', str(_next_power_of_two(vram)))


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


def _rule_vcpu_current(root, ctx):
    # libvirt drops current when it equals the count: absent means "all of them".
    vcpu = root.find('vcpu')
    if vcpu is not None and vcpu.get('current') is None and _text(vcpu):
        vcpu.set('current', vcpu.text.strip())


def _rule_graphics_autoport(root, ctx):
    for graphics in root.iterfind('devices/graphics'):
        if graphics.get('autoport') == 'yes' and graphics.get('port') is not None:
            del graphics.attrib['port']


def _rule_live_only(root, ctx):
    # Measured here, not in NORMALIZATION.md: the inactive XML never carries
    # the live domain id; a desired id="..." would differ on every run.
    if root.get('id') is not None:
        del root.attrib['id']


def _rule_controller_index(root, ctx):
    _assign_controller_indexes(root.find('devices'))


Rule = collections.namedtuple('Rule', ['number', 'sides', 'apply', 'summary'])

# The canonicalisation rules, in the order they are applied. "number" is the
# rule's number in shared/NORMALIZATION.md (X = found while building this
# engine). sides: which trees the rewrite runs on ('desired' or 'both'); rules
# with apply=None are handled by the comparison itself (pairing, numbers) or
# cannot be canonicalised, and are listed so that the table is complete.
RULES = (
    Rule('19', 'both', _rule_strip_comments, 'comments and processing instructions are dropped'),
    Rule('X1', 'desired', _rule_live_only, 'the live domain id is not part of a definition'),
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
    Rule('24', 'desired', _rule_graphics_autoport, "graphics port ignored when autoport='yes'"),
    Rule('X3', 'desired', _rule_console_mirrors_serial,
         'the first serial-type console is a copy of serial 0 when there is a serial'),
    Rule('X2', 'desired', _rule_controller_index,
         'controller without index gets the lowest free index of its type, as libvirt does'),
    Rule('3', 'both', None, 'devices order across classes ignored: devices are paired by identity'),
    Rule('5', 'both', None, 'disk/controller order ignored: paired by target dev / type+index'),
    Rule('9', 'both', None, 'top-level element order ignored: children paired by tag'),
    Rule('11', 'both', None, 'child order ignored except os/boot (children paired by tag + key)'),
    Rule('12', 'both', None, 'PCI address fields compared as integers (hex or decimal)'),
    Rule('20', 'both', None, 'decimal numbers compared as integers (leading zeros)'),
    Rule('4', 'both', None, 'unknown attributes dropped with flags 0: not canonicalisable, '
                            'define with VALIDATE'),
    Rule('13', 'both', None, "graphics autoport on/off: refused with VALIDATE, yes/no and on/off "
                             "are compared literally"),
)


def _canonicalise(root, ctx):
    for rule in RULES:
        if rule.apply is None:
            continue
        if rule.sides == 'actual' and not ctx.fill_defaults:
            continue
        if rule.sides == 'both' or rule.sides == ctx.side:
            rule.apply(root, ctx)
    return root


def canonical_copy(root, side='desired', aliases=None, actual=None):
    """A canonical deep copy of a domain root (mainly for tests and tooling)."""
    clone = copy.deepcopy(_as_element(root))
    ctx = _Context(aliases, side, actual=actual, desired=clone if side == 'desired' else None)
    return _canonicalise(clone, ctx)


def _wrap_device(device):
    domain = etree.Element('domain')
    devices = etree.SubElement(domain, 'devices')
    devices.append(device)
    return domain


def _unwrap_device(device):
    parent = device.getparent()
    if parent is not None:
        parent.remove(device)
    return device


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

# Repeated child elements are paired by the first of these attributes they carry.
_CHILD_KEY_ATTRS = ('name', 'id', 'dev', 'vcpu', 'cellid', 'iothread', 'path', 'type', 'model',
                    'level', 'vcpus')
# Children whose order is meaningful: compared as a whole sequence and replaced
# as a whole on merge.
_ORDERED_CHILDREN = frozenset((('os', 'boot'), ('os', 'initarg')))


def _child_groups(parent):
    groups = collections.OrderedDict()
    for child in parent:
        if isinstance(child.tag, str):
            groups.setdefault(child.tag, []).append(child)
    return groups


def _child_key(el):
    for attr in _CHILD_KEY_ATTRS:
        if el.get(attr) is not None:
            return (attr, el.get(attr))
    return None


def _pair_children(desired_list, actual_list):
    """Pair same-tag children: a single one with a single one, else by key
    attribute, else in order."""
    if len(desired_list) == 1 and len(actual_list) == 1:
        return [(desired_list[0], actual_list[0])], []
    pairs, used, missing = [], set(), []
    for position, dev in enumerate(desired_list):
        key = _child_key(dev)
        match = None
        if key is not None:
            match = next((j for j, a in enumerate(actual_list)
                          if j not in used and _child_key(a) == key), None)
        elif position < len(actual_list) and position not in used:
            match = position
        if match is None:
            missing.append(dev)
        else:
            used.add(match)
            pairs.append((dev, actual_list[match]))
    return pairs, missing


def _child_label(el, siblings):
    if len(siblings) <= 1:
        return _local(el.tag)
    key = _child_key(el)
    if key is not None:
        return '%s[%s]' % (_local(el.tag), key[1])
    return '%s[%d]' % (_local(el.tag), siblings.index(el))


def _join(path, part):
    return '%s/%s' % (path, part) if path else part


class _Comparer(object):
    def __init__(self):
        self.differences = []

    def add(self, path, before, after):
        self.differences.append(Difference(path, before, after))

    def element(self, desired, actual, path):
        """Differences where desired is not contained in actual."""
        tag = _local(desired.tag)
        for name, value in desired.attrib.items():
            attr = _local(name)
            actual_value = actual.get(name)
            if not _values_equal(tag, attr, value, actual_value):
                self.add(_join(path, '@' + attr), _mask_value(attr, actual_value), _mask_value(attr, value))
        d_text = _text(desired)
        if d_text is not None and not _values_equal(tag, None, d_text, _text(actual)):
            self.add(path or tag, _text(actual), d_text)
        actual_groups = _child_groups(actual)
        for child_tag, children in _child_groups(desired).items():
            candidates = actual_groups.get(child_tag, [])
            if tag == 'devices':
                self.devices(child_tag, children, candidates, path, desired)
                continue
            if (tag, child_tag) in _ORDERED_CHILDREN:
                self.sequence(children, candidates, _join(path, _local(child_tag)))
                continue
            pairs, missing = _pair_children(children, candidates)
            for d_child, a_child in pairs:
                self.element(d_child, a_child, _join(path, _child_label(d_child, children)))
            for d_child in missing:
                self.add(_join(path, _child_label(d_child, children)), None, _compact(d_child))

    def sequence(self, desired_list, actual_list, path):
        d_seq = [_compact(el) for el in desired_list]
        a_seq = [_compact(el) for el in actual_list]
        if d_seq != a_seq:
            self.add(path, ''.join(a_seq) or None, ''.join(d_seq))

    def devices(self, tag, desired_list, actual_list, path, desired_devices):
        if tag == 'emulator' or not desired_list:
            pairs, missing = _pair_children(desired_list, actual_list)
            for d_child, a_child in pairs:
                self.element(d_child, a_child, _join(path, _local(tag)))
            for d_child in missing:
                self.add(_join(path, _local(tag)), None, _compact(d_child))
            return
        pairs, missing, extra = _pair_devices(desired_list, actual_list)
        for d_dev, a_dev in pairs:
            self.element(d_dev, a_dev, _join(path, _device_label(d_dev, a_dev)))
        for d_dev in missing:
            self.add(_join(path, _device_label(d_dev)), None, _compact(d_dev))
        for a_dev in extra:
            if not _is_implicit(a_dev, desired_devices):
                self.add(_join(path, _device_label(a_dev)), _compact(a_dev), None)


def _device_label(desired, actual=None):
    """Label for a device: its identity as the desired XML gives it, with the
    parts it left open taken from the paired actual device."""
    key = device_identity(desired)
    if actual is not None and None in key and desired.tag != 'interface':
        other = device_identity(actual)
        if len(other) == len(key):
            key = tuple(o if k is None else k for k, o in zip(key, other))
    return _identity_label(key)


def _prepare(desired_root, actual_root, aliases, for_merge=False):
    desired_root = _as_element(desired_root)
    actual_root = _as_element(actual_root)
    actual = copy.deepcopy(actual_root)
    _canonicalise(actual, _Context(aliases, 'actual', fill_defaults=not for_merge))
    desired = copy.deepcopy(desired_root)
    _canonicalise(desired, _Context(aliases, 'desired', actual=actual, desired=desired))
    # Identity keys are required in desired devices: raise before comparing.
    devices = desired.find('devices')
    if devices is not None:
        for dev in devices:
            if isinstance(dev.tag, str) and dev.tag != 'emulator':
                device_identity(dev)
    return desired, actual


def compare_domain(desired_root, actual_root, aliases=None):
    """Differences between the desired domain XML and the actual (inactive) one.

    Empty when everything the desired XML says is in the actual XML after
    canonicalisation. Accepts elements or XML text.
    """
    desired, actual = _prepare(desired_root, actual_root, aliases)
    if desired.tag != actual.tag:
        return [Difference('', actual.tag, desired.tag)]
    comparer = _Comparer()
    comparer.element(desired, actual, '')
    return comparer.differences


def compare_element(desired_el, actual_el, aliases=None):
    """Differences for one element (normally a device): desired vs actual."""
    desired_el = _as_element(desired_el, what='device XML', root_tags=None)
    actual_el = _as_element(actual_el, what='device XML', root_tags=None)
    desired = copy.deepcopy(desired_el)
    actual = copy.deepcopy(actual_el)
    if desired.tag == 'domain':
        return compare_domain(desired, actual, aliases)
    _canonicalise(_wrap_device(actual), _Context(aliases, 'actual'))
    _canonicalise(_wrap_device(desired), _Context(aliases, 'desired'))
    comparer = _Comparer()
    if desired.tag != actual.tag:
        return [Difference('', actual.tag, desired.tag)]
    comparer.element(_unwrap_device(desired), _unwrap_device(actual),
                     _device_label(desired, actual) if desired.tag in _IDENTITY or
                     desired.tag == 'interface' else desired.tag)
    return comparer.differences


# ---------------------------------------------------------------------------
# Merge: the actual definition with the desired parts overlaid
# ---------------------------------------------------------------------------

def _append_child(parent, child):
    child = copy.deepcopy(child)
    child.tail = None
    parent.append(child)
    return child


def _replace(old, new):
    new = copy.deepcopy(new)
    new.tail = old.tail
    old.getparent().replace(old, new)
    return new


def _overlay(desired, actual, is_device=False):
    """Write into actual every desired value that differs (in place)."""
    tag = _local(desired.tag)
    type_changed = (desired.get('type') is not None and actual.get('type') is not None
                    and desired.get('type') != actual.get('type'))
    if type_changed and not is_device:
        # The schema of an element depends on its type: take the desired one whole.
        _replace(actual, desired)
        return
    for name, value in desired.attrib.items():
        if not _values_equal(tag, _local(name), value, actual.get(name)):
            actual.set(name, value)
    d_text = _text(desired)
    if d_text is not None and not _values_equal(tag, None, d_text, _text(actual)):
        actual.text = d_text
    actual_groups = _child_groups(actual)
    for child_tag, children in _child_groups(desired).items():
        candidates = actual_groups.get(child_tag, [])
        if tag == 'devices' and child_tag != 'emulator':
            _overlay_devices(children, candidates, actual, desired)
            continue
        if (tag, child_tag) in _ORDERED_CHILDREN:
            if [_compact(c) for c in children] != [_compact(c) for c in candidates]:
                anchor = candidates[0] if candidates else None
                for child in children:
                    new = copy.deepcopy(child)
                    new.tail = None
                    if anchor is not None:
                        anchor.addprevious(new)
                    else:
                        actual.append(new)
                for old in candidates:
                    actual.remove(old)
            continue
        if is_device and type_changed and child_tag == 'source':
            for old in candidates:
                actual.remove(old)
            for child in children:
                _append_child(actual, child)
            continue
        pairs, missing = _pair_children(children, candidates)
        for d_child, a_child in pairs:
            _overlay(d_child, a_child)
        for d_child in missing:
            _append_child(actual, d_child)
    if is_device and type_changed and not len(desired.findall('source')):
        for old in actual.findall('source'):
            actual.remove(old)


def _overlay_devices(desired_list, actual_list, actual_devices, desired_devices):
    pairs, missing, extra = _pair_devices(desired_list, actual_list)
    for d_dev, a_dev in pairs:
        _overlay(d_dev, a_dev, is_device=True)
    for d_dev in missing:
        _append_child(actual_devices, d_dev)
    for a_dev in extra:
        if not _is_implicit(a_dev, desired_devices):
            actual_devices.remove(a_dev)


def merge_domain(desired_root, actual_root, aliases=None):
    """A new domain root: the actual definition with the desired parts overlaid.

    Unchanged devices keep their addresses and MACs, the UUID is kept, desired
    devices that are missing are added and actual devices of a type the desired
    XML manages but does not list are dropped.
    """
    desired, actual = _prepare(desired_root, actual_root, aliases, for_merge=True)
    result = actual
    old_memory = result.findtext('memory')
    old_current = result.findtext('currentMemory')
    _overlay(desired, result)
    # libvirt treats an absent <currentMemory> as equal to <memory>. When the
    # balloon was not in use (current == memory) and the desired XML changes
    # <memory> without saying currentMemory, follow the new size instead of
    # keeping the old one, as a fresh define of the desired XML would.
    if (desired.find('memory') is not None and desired.find('currentMemory') is None
            and old_current is not None and parse_int(old_current) == parse_int(old_memory)
            and parse_int(result.findtext('memory')) != parse_int(old_memory)):
        current = result.find('currentMemory')
        current.text = result.findtext('memory')
        current.set('unit', result.find('memory').get('unit', 'KiB'))
    return result


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def to_text(root, pretty=True, mask_secrets=True):
    """Serialise an element; secret attributes (passwd, password) masked."""
    clone = copy.deepcopy(_as_element(root, root_tags=None))
    if mask_secrets:
        _mask_tree(clone)
    if pretty:
        for node in clone.iter():
            if len(node) and node.text is not None and not node.text.strip():
                node.text = None
            if node.tail is not None and not node.tail.strip():
                node.tail = None
        etree.indent(clone, space='  ')
    return etree.tostring(clone, encoding='unicode', pretty_print=pretty)


def differences_as_dicts(differences):
    """Differences as plain dicts, for module results."""
    return [{'path': d.path, 'before': d.before, 'after': d.after} for d in differences]
