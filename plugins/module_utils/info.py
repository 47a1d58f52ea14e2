# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: listing domains for virt_domain_info. Not a public API.
#
# Cost model: the number of libvirt calls does not grow with the number of domains,
# except one XML read per domain (disks and interfaces live only in the XML). Names,
# UUIDs and IDs come with the listing; state, memory, vCPUs and CPU time come from
# one bulk statistics call; autostart and persistence from two filtered listings.
# Addresses (when asked) cost one call per source per running domain with interfaces,
# made side by side (addresses.py). The inventory plugin lists through describe_domains too.

from __future__ import annotations

from ansible_collections.domainops.libvirt.plugins.module_utils import addresses
from ansible_collections.domainops.libvirt.plugins.module_utils.domain import canonical_uuid, lookup_domain, state_names
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_record import RECORD_NS

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

try:
    from lxml import etree
except ImportError:  # reported by LibvirtModule through missing_required_lib
    etree = None

# option -> (flag when true, flag when false), libvirt's own list filters.
_BOOLEAN_FILTERS = (
    ('active', 'VIR_CONNECT_LIST_DOMAINS_ACTIVE', 'VIR_CONNECT_LIST_DOMAINS_INACTIVE'),
    ('persistent', 'VIR_CONNECT_LIST_DOMAINS_PERSISTENT', 'VIR_CONNECT_LIST_DOMAINS_TRANSIENT'),
    ('autostart', 'VIR_CONNECT_LIST_DOMAINS_AUTOSTART', 'VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART'),
    ('has_snapshot', 'VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT', 'VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT'),
    ('has_managed_save', 'VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE', 'VIR_CONNECT_LIST_DOMAINS_NO_MANAGEDSAVE'),
)
STATE_FILTERS = {
    'running': 'VIR_CONNECT_LIST_DOMAINS_RUNNING',
    'paused': 'VIR_CONNECT_LIST_DOMAINS_PAUSED',
    'shutoff': 'VIR_CONNECT_LIST_DOMAINS_SHUTOFF',
    'other': 'VIR_CONNECT_LIST_DOMAINS_OTHER',
}
XML_FLAGS = {
    'inactive': 'VIR_DOMAIN_XML_INACTIVE',
    'secure': 'VIR_DOMAIN_XML_SECURE',
    'update_cpu': 'VIR_DOMAIN_XML_UPDATE_CPU',
    'migratable': 'VIR_DOMAIN_XML_MIGRATABLE',
}
_STATS_GROUPS = ('VIR_DOMAIN_STATS_STATE', 'VIR_DOMAIN_STATS_CPU_TOTAL', 'VIR_DOMAIN_STATS_BALLOON',
                 'VIR_DOMAIN_STATS_VCPU')
# XML reads run side by side: libvirtd serves a connection's calls on several worker
# threads, so a big host's listing is not a thousand round trips in a row.
_XML_READERS = 4


def _flag(name):
    return getattr(libvirt, name)


def list_filter_flags(params):
    """libvirt listing flags for the task's filters (0 = every domain)."""
    flags = 0
    for option, when_true, when_false in _BOOLEAN_FILTERS:
        if params.get(option) is True:
            flags |= _flag(when_true)
        elif params.get(option) is False:
            flags |= _flag(when_false)
    for state in params.get('states') or []:
        flags |= _flag(STATE_FILTERS[state])
    return flags


def xml_flags(names):
    flags = 0
    for name in names or []:
        flags |= _flag(XML_FLAGS[name])
    return flags


def _uuids(conn, flag_name):
    return set(dom.UUIDString() for dom in conn.listAllDomains(_flag(flag_name)))


def gather(task):
    """The `domains` list for the task's selector or filters."""
    conn, params = task.conn, task.params
    if params.get('name') is not None or params.get('uuid') is not None:
        uuid = params.get('uuid')
        dom = lookup_domain(conn, name=params.get('name'), uuid=canonical_uuid(uuid) if uuid else None)
        domains = [dom] if dom is not None else []
    else:
        domains = conn.listAllDomains(list_filter_flags(params))
    want_xml = params.get('xml')
    # Disks and interfaces always come from the persistent-or-live XML as libvirt
    # reports it by default; the user's flags apply to the returned `xml` only.
    read_flags = xml_flags(params.get('xml_flags')) if want_xml else 0
    # secure: the user asked for the secrets, so the result is not masked either
    task.reveal_secrets = bool(want_xml and 'secure' in (params.get('xml_flags') or []))
    described = describe_domains(conn, domains, read_flags, keep_xml=want_xml)
    if params.get('snapshots'):
        for dom, entry, _root in described:
            entry['snapshots'] = _snapshots(dom)
    notes = add_addresses(described, params.get('address_source'), params.get('address_include_local'))
    failed = [(entry['name'], notes[entry['uuid']]) for _dom, entry, _root in described
              if any(note.startswith('error') for note in notes.get(entry['uuid'], {}).values())]
    if failed:
        task.warn('no addresses for %d running domain(s), as an address source failed: %s'
                  % (len(failed), failed_summary(failed)))
    return [entry for _dom, entry, _root in described]


def failed_summary(failed, most=5):
    """"'web1' (lease: error: ...); 'web2' (...)" for up to `most` (name, notes) pairs."""
    shown = ["'%s' (%s)" % (name, describe_notes(notes)) for name, notes in failed[:most]]
    return '; '.join(shown) + ('; ...' if len(failed) > most else '')


def describe_notes(notes):
    """'lease: error: ...; agent: skipped: ...' for a message."""
    return '; '.join('%s: %s' % (source, note) for source, note in notes.items())


def describe_domains(conn, domains, read_flags=0, keep_xml=False):
    """[(dom, entry, lxml root)] for the listed domains, in their order.

    A domain undefined by someone else since the listing is left out. Constant
    libvirt calls (two filtered listings, one bulk statistics call) plus one XML read
    per domain, side by side.
    """
    if not domains:
        return []
    stats = _bulk_stats(conn, domains)
    autostart = _uuids(conn, 'VIR_CONNECT_LIST_DOMAINS_AUTOSTART')
    persistent = _uuids(conn, 'VIR_CONNECT_LIST_DOMAINS_PERSISTENT')

    def read(dom):
        try:
            return dom.XMLDesc(read_flags)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None  # undefined by someone else since the listing
            raise

    if len(domains) > 1:
        # Imported here: one domain (lookup by name or uuid) needs no thread pool.
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=_XML_READERS) as pool:
            documents = list(pool.map(read, domains))
    else:
        documents = [read(domains[0])]

    result = []
    for dom, xml_text in zip(domains, documents):
        if xml_text is None:
            continue
        uuid = dom.UUIDString()
        root = etree.fromstring(xml_text.encode('utf-8'))
        entry = describe_root(dom, stats.get(uuid, {}), root, uuid in autostart, uuid in persistent)
        if keep_xml:
            entry['xml'] = xml_text
        result.append((dom, entry, root))
    return result


def _snapshots(dom):
    # Imported here: the default listing never reads snapshots.
    from ansible_collections.domainops.libvirt.plugins.module_utils.snapshot import list_snapshots
    try:
        return list_snapshots(dom)
    except libvirt.libvirtError as err:
        if err.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT):
            return []  # gone since the listing
        raise


def add_addresses(described, source, include_local=False, timeout=None):
    """Give every interface entry its `addresses` (empty for inactive domains and source none).

    Returns {uuid: notes} for the running domains whose sources gave nothing (see
    addresses.domain_addresses).
    """
    jobs = []
    for dom, entry, root in described:
        for iface in entry['interfaces']:
            iface['addresses'] = []
        if entry['id'] is not None and entry['interfaces'] and addresses.sources_for(source):
            jobs.append((entry['uuid'], dom, root))
    notes = {}
    answers = addresses.query_many(jobs, source, include_local, timeout)
    for _dom, entry, root in described:
        if entry['uuid'] not in answers:
            continue
        found, entry_notes = answers[entry['uuid']]
        addresses.attach(entry['interfaces'], _interface_macs(root), found)
        if entry_notes and not found:
            notes[entry['uuid']] = entry_notes
    return notes


def _interface_macs(root):
    macs = []
    for iface in root.iterfind('devices/interface'):
        mac = iface.find('mac')
        macs.append(mac.get('address').lower() if mac is not None and mac.get('address') else None)
    return macs


def _bulk_stats(conn, domains):
    """Statistics of all listed domains in one call, keyed by UUID."""
    groups = 0
    for group in _STATS_GROUPS:
        groups |= _flag(group)
    # NOWAIT: a domain busy with a long job must not hold up the whole listing.
    nowait = getattr(libvirt, 'VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT', 0)
    try:
        pairs = conn.domainListGetStats(domains, groups, nowait)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
            raise
        # A listed domain vanished meanwhile: ask for whatever exists now instead.
        pairs = conn.getAllDomainStats(groups, nowait)
    return dict((dom.UUIDString(), values) for dom, values in pairs)


_RECORD_PATH = 'metadata/{%s}applied' % RECORD_NS


def describe_entry(dom, stats, xml_text, autostart, persistent):
    return describe_root(dom, stats, etree.fromstring(xml_text.encode('utf-8')), autostart, persistent)


def describe_root(dom, stats, root, autostart, persistent):
    """The entry of one domain from its bulk statistics and its parsed XML."""
    state, reason = state_names(stats.get('state.state'), stats.get('state.reason'))
    active = dom.ID() >= 0
    memory_kib = _int_text(root, 'memory')
    current_kib = stats.get('balloon.current') if active else None
    vcpus = stats.get('vcpu.current')
    cpu_time = stats.get('cpu.time')
    if 'state.state' not in stats or (active and cpu_time is None):
        # Drivers without bulk statistics (the test driver): one info() call instead.
        info_state, max_kib, cur_kib, info_vcpus, info_cpu_time = dom.info()
        if 'state.state' not in stats:
            state, reason = state_names(*dom.state())
        current_kib = current_kib if current_kib is not None else cur_kib
        vcpus = vcpus if vcpus is not None else info_vcpus
        cpu_time = cpu_time if cpu_time is not None else info_cpu_time
    if current_kib is None:
        current_kib = _int_text(root, 'currentMemory') or memory_kib
    if vcpus is None:
        vcpus = _vcpu_count(root)
    return dict(
        name=dom.name(),
        uuid=dom.UUIDString(),
        id=dom.ID() if active else None,
        state=state,
        state_reason=reason,
        persistent=persistent,
        autostart=autostart,
        vcpus=vcpus,
        memory_kib=current_kib,
        max_memory_kib=memory_kib,
        cpu_time_ns=cpu_time if active else None,
        disks=[_disk(disk) for disk in root.iterfind('devices/disk')],
        interfaces=[_interface(iface) for iface in root.iterfind('devices/interface')],
        applied_record=_has_record(dom, root, active, persistent),
    )


def _has_record(dom, root, active, persistent):
    """Whether virt_domain_state's applied record is in the persistent definition."""
    if root.find(_RECORD_PATH) is not None:
        return True
    if not (active and persistent):
        return False
    # A running guest's live XML keeps the metadata it started with: ask the definition.
    inactive = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    return etree.fromstring(inactive.encode('utf-8')).find(_RECORD_PATH) is not None


_KIB_PER_UNIT = {'b': 1.0 / 1024, 'bytes': 1.0 / 1024, 'kb': 1000.0 / 1024, 'k': 1, 'kib': 1,
                 'mb': 1e6 / 1024, 'm': 1024, 'mib': 1024, 'gb': 1e9 / 1024, 'g': 1024 ** 2, 'gib': 1024 ** 2}


def _int_text(root, path):
    el = root.find(path)
    if el is None or not (el.text or '').strip():
        return None
    # libvirt always reports KiB, but be exact if another unit appears.
    factor = _KIB_PER_UNIT.get((el.get('unit') or 'KiB').lower(), 1)
    return int(round(int(el.text.strip()) * factor))


def _vcpu_count(root):
    el = root.find('vcpu')
    if el is None:
        return None
    return int(el.get('current') or el.text.strip())


def _source(el, attributes):
    source = el.find('source')
    if source is None:
        return None
    for attribute in attributes:
        if source.get(attribute):
            return source.get(attribute)
    return None


def _disk(disk):
    driver = disk.find('driver')
    target = disk.find('target')
    source = _source(disk, ('file', 'dev', 'dir', 'volume', 'name'))
    if source is not None and disk.get('type') == 'network':
        protocol = disk.find('source').get('protocol')
        source = '%s:%s' % (protocol, source) if protocol else source
    if source is not None and disk.get('type') == 'volume':
        source = '%s/%s' % (disk.find('source').get('pool'), source)
    return dict(
        target=target.get('dev') if target is not None else None,
        bus=target.get('bus') if target is not None else None,
        device=disk.get('device', 'disk'),
        type=disk.get('type'),
        source=source,
        format=driver.get('type') if driver is not None else None,
    )


def _interface(iface):
    mac = iface.find('mac')
    model = iface.find('model')
    return dict(
        mac=mac.get('address') if mac is not None else None,
        type=iface.get('type'),
        source=_source(iface, ('network', 'bridge', 'dev', 'path', 'address')),
        model=model.get('type') if model is not None else None,
    )


def validate_filters(params):
    """Filters make no sense with a selector: say so rather than ignore them."""
    if params.get('name') is None and params.get('uuid') is None:
        return
    used = [option for option, _t, _f in _BOOLEAN_FILTERS if params.get(option) is not None]
    if params.get('states'):
        used.append('states')
    if used:
        raise InputError('filters (%s) cannot be combined with name or uuid' % ', '.join(used))
