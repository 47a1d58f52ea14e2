# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_domain_snapshot, and the snapshot
# list virt_domain_info returns. Not a public API.
#
# libvirt's snapshot calls on QEMU (createXML, revert, delete) return when the job is
# done: there is nothing to wait for afterwards, except the domain state a revert
# leaves, which is read back.

from __future__ import annotations

from ansible_collections.domainops.libvirt.plugins.module_utils.domain import describe_domain, domain_state
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError, LibvirtCallError
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_text import etree, to_text

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

# The domain state a revert leaves when the task does not ask for one, by the
# snapshot's <state>.
_STATE_AFTER_REVERT = {'running': 'running', 'paused': 'paused', 'shutoff': 'shutoff',
                       'disk-snapshot': 'shutoff', 'shutdown': 'shutoff', 'crashed': 'shutoff'}
_AGENT_CHANNEL = 'org.qemu.guest_agent.0'
# libvirt reverts external snapshots from this version on (9.9.0).
_EXTERNAL_REVERT_VERSION = 9009000


def _flag(name):
    return getattr(libvirt, name, 0)


def check_snapshot_name(name):
    """InputError for a name libvirt refuses (or that cannot name a snapshot file)."""
    if not name or not name.strip():
        raise InputError('snapshot name is empty; nothing was changed')
    bad = [c for c in name if c == '/' or ord(c) < 32 or ord(c) == 127]
    if bad or name.startswith('.'):
        raise InputError("invalid snapshot name %r: libvirt refuses '/', control characters and a leading '.'; "
                         "nothing was changed" % name)


def lookup_snapshot(dom, name):
    try:
        return dom.snapshotLookupByName(name, 0)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT:
            return None
        raise


def _xml_of(snap, secure=True):
    # SECURE (secrets of the domain XML inside) needs a read-write connection; a
    # redefine must send them back.
    flags = _flag('VIR_DOMAIN_SNAPSHOT_XML_SECURE') if secure else 0
    return etree.fromstring(snap.getXMLDesc(flags).encode('utf-8'))


def snapshot_kind(root):
    """'external' when a disk or the memory is saved to a file of its own, else 'internal'."""
    if root.find("memory[@snapshot='external']") is not None or \
            root.find("disks/disk[@snapshot='external']") is not None:
        return 'external'
    return 'internal'


def describe_snapshot(root, current):
    """The dict a task returns for one snapshot (also the entries of virt_domain_info)."""
    memory = root.find('memory')
    created = root.findtext('creationTime')
    return dict(
        name=root.findtext('name'),
        parent=root.findtext('parent/name'),
        kind=snapshot_kind(root),
        state=root.findtext('state'),
        memory=memory is not None and memory.get('snapshot') in ('internal', 'external'),
        description=root.findtext('description'),
        creation_time=int(created) if created and created.isdigit() else None,
        current=bool(current),
        disks=[dict(name=d.get('name'), snapshot=d.get('snapshot'), file=d.find('source').get('file')
                    if d.find('source') is not None else None)
               for d in root.iterfind('disks/disk')],
    )


def list_snapshots(dom):
    """Every snapshot of a domain, oldest first (one listing plus one XML read each)."""
    entries = []
    for snap in dom.listAllSnapshots(0):
        entries.append(describe_snapshot(_xml_of(snap, secure=False), snap.isCurrent(0)))
    entries.sort(key=lambda e: (e['creation_time'] or 0, e['name']))
    return entries


class SnapshotTask(object):
    def __init__(self, task):
        self.task = task
        self.params = task.params
        self.name = task.params['snapshot']
        self.before_xml = None
        self.after_xml = None

    def run(self):
        check_snapshot_name(self.name)
        self.dom = self.task.lookup()
        self.snap = lookup_snapshot(self.dom, self.name)
        if self.snap is not None:
            self.before_xml = to_text(_xml_of(self.snap))
        handler = getattr(self, '_to_' + self.params['state'])
        result = handler()
        result.setdefault('changed', bool(self.task.actions))
        result['domain'] = describe_domain(self.dom)
        if self.task.module._diff:
            result['diff'] = dict(before=self.before_xml or '', after=self.after_xml or '',
                                  before_header='snapshot %s' % self.name, after_header='snapshot %s' % self.name)
        return result

    def _label(self):
        return "snapshot '%s' of domain %s" % (self.name, self.task.domain_label)

    # -- present ----------------------------------------------------------------------

    def _to_present(self):
        if self.snap is None:
            return self._create()
        root = _xml_of(self.snap)
        have = describe_snapshot(root, self.snap.isCurrent(0))
        wanted_kind, wanted_memory = self.params['kind'], self.params['memory']
        if wanted_kind is not None and wanted_kind != have['kind']:
            raise InputError('%s exists as an %s snapshot, not an %s one; delete it first (state absent) to '
                             'take it again; nothing was changed' % (self._label(), have['kind'], wanted_kind))
        if wanted_memory is not None and wanted_memory != have['memory']:
            raise InputError('%s exists %s memory; delete it first (state absent) to take it again %s memory; '
                             'nothing was changed' % (self._label(), 'with' if have['memory'] else 'without',
                                                      'with' if wanted_memory else 'without'))
        description = self.params['description']
        if description is not None and description != (have['description'] or ''):
            self._redefine(root, description, have['current'])
            have['description'] = description
        self.after_xml = to_text(root)
        return dict(snapshot=have)

    def _redefine(self, root, description, current):
        el = root.find('description')
        if el is None:
            el = etree.Element('description')
            root.insert(1, el)  # after <name>
        el.text = description
        if not description:
            root.remove(el)
        flags = _flag('VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE')
        if current:
            flags |= _flag('VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT')
        text = etree.tostring(root, encoding='unicode')
        self.task.mutate('redefine_snapshot(description)', self.dom.snapshotCreateXML, text, flags)

    def _create(self):
        running = self.dom.isActive()
        kind = self.params['kind'] or 'internal'
        memory = self.params['memory']
        memory_file = self.params['memory_file']
        state = domain_state(self.dom)[0]
        if memory is None:
            memory = bool(memory_file) or (kind == 'internal' and running)
        if memory and not running:
            raise InputError('domain %s is %s: there is no memory to save in %s; nothing was changed'
                             % (self.task.domain_label, state, self._label()))
        if kind == 'internal':
            if running and not memory:
                raise InputError('QEMU takes an internal snapshot of a running domain only with its memory; '
                                 'use kind external for a disk-only snapshot of domain %s; nothing was changed'
                                 % self.task.domain_label)
            if memory_file or self.params['disks']:
                raise InputError('memory_file and disks name the files of an external snapshot, not of an '
                                 'internal one (kind internal); nothing was changed')
        elif memory and not memory_file:
            raise InputError('an external snapshot with memory needs memory_file (where to save it); '
                             'nothing was changed')
        if self.params['quiesce']:
            self._check_agent(running, state)

        root = etree.Element('domainsnapshot')
        etree.SubElement(root, 'name').text = self.name
        if self.params['description']:
            etree.SubElement(root, 'description').text = self.params['description']
        flags = _flag('VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC')
        if kind == 'external':
            if memory:
                etree.SubElement(root, 'memory', snapshot='external', file=memory_file)
            else:
                etree.SubElement(root, 'memory', snapshot='no')
                flags |= _flag('VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY')
            self._disks(root)
        if self.params['quiesce']:
            flags |= _flag('VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE')
        self.after_xml = to_text(root)
        action = 'create_snapshot(%s%s)' % (kind, ', memory' if memory else '')
        snap = self.task.mutate(action, self.dom.snapshotCreateXML, etree.tostring(root, encoding='unicode'), flags)
        if snap is None:  # check mode: what it would be
            return dict(snapshot=dict(name=self.name, parent=None, kind=kind, state=state, memory=bool(memory),
                                      description=self.params['description'], creation_time=None, current=True,
                                      disks=[]))
        created = _xml_of(snap)
        self.after_xml = to_text(created)
        return dict(snapshot=describe_snapshot(created, True))

    def _check_agent(self, running, state):
        if not running:
            raise InputError('quiesce needs the guest agent of a running domain; domain %s is %s; '
                             'nothing was changed' % (self.task.domain_label, state))
        live = etree.fromstring(self.dom.XMLDesc(0).encode('utf-8'))
        if live.find("devices/channel/target[@name='%s']" % _AGENT_CHANNEL) is None:
            raise InputError('quiesce needs the QEMU guest agent, and domain %s has no %s channel; '
                             'nothing was changed' % (self.task.domain_label, _AGENT_CHANNEL))

    def _disks(self, root):
        disks = self.params['disks'] or []
        if not disks:
            return
        element = etree.SubElement(root, 'disks')
        for disk in disks:
            if disk.get('snapshot') == 'no':
                etree.SubElement(element, 'disk', name=disk['name'], snapshot='no')
                continue
            el = etree.SubElement(element, 'disk', name=disk['name'], snapshot='external')
            if disk.get('file'):
                etree.SubElement(el, 'source', file=disk['file'])

    # -- absent -----------------------------------------------------------------------

    def _to_absent(self):
        if self.snap is None:
            return dict(deleted=[])
        root = _xml_of(self.snap)
        kind = snapshot_kind(root)
        children = self.params['children']
        deleted = [self.name]
        if children:
            deleted += [s.getName() for s in self.snap.listAllChildren(_flag('VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS'))]
        flags = _flag('VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN') if children else 0
        metadata_only = self.params['metadata_only']
        if metadata_only:
            flags |= _flag('VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY')
        elif kind == 'external' or children:
            self._check_external_delete(root, kind, children)
        action = 'delete_snapshot(%s%s%s)' % (kind, ', children' if children else '',
                                              ', metadata only' if metadata_only else '')
        try:
            self.task.mutate(action, self.snap.delete, flags)
        except libvirt.libvirtError as err:
            if err.get_error_code() not in (libvirt.VIR_ERR_OPERATION_UNSUPPORTED, libvirt.VIR_ERR_CONFIG_UNSUPPORTED,
                                            libvirt.VIR_ERR_OPERATION_INVALID):
                raise
            raise LibvirtCallError('libvirt %s cannot delete %s: %s; metadata_only: true forgets the snapshot '
                                   'and leaves its files as they are; nothing was changed'
                                   % (_version(self.task.conn), self._label(), err.get_error_message()))
        return dict(deleted=deleted)

    def _check_external_delete(self, root, kind, children):
        """What libvirt 9.x refuses for external snapshots, said before anything is done
        (so check mode says it too)."""
        if children:
            external = [s.getName() for s in self.snap.listAllChildren(_flag('VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS'))
                        if snapshot_kind(_xml_of(s, secure=False)) == 'external']
            if external:
                raise InputError('libvirt %s cannot delete %s with its children: it deletes external snapshots '
                                 '(%s) one at a time, the newest first; nothing was changed'
                                 % (_version(self.task.conn), self._label(), ', '.join(sorted(external))))
        parent = root.findtext('parent/name')
        if parent is not None and kind == 'external':
            parent_snap = lookup_snapshot(self.dom, parent)
            if parent_snap is not None and snapshot_kind(_xml_of(parent_snap)) == 'internal':
                raise InputError('libvirt %s cannot delete %s (merge its overlay into the disks) because its parent '
                                 "'%s' is an internal snapshot; metadata_only: true forgets it and leaves its "
                                 'files in use; nothing was changed' % (_version(self.task.conn), self._label(), parent))

    # -- current ----------------------------------------------------------------------

    def _to_current(self):
        if self.snap is None:
            raise InputError('%s not found; cannot revert to it; nothing was changed' % self._label())
        root = _xml_of(self.snap)
        have = describe_snapshot(root, self.snap.isCurrent(0))
        self.after_xml = self.before_xml
        wanted = self.params['domain_state']
        if wanted == 'snapshot':
            wanted = _STATE_AFTER_REVERT.get(have['state'], 'shutoff')
        now = domain_state(self.dom)[0]
        if have['current'] and now == wanted:
            return dict(snapshot=have)
        if have['kind'] == 'external' and self.task.conn.getLibVersion() < _EXTERNAL_REVERT_VERSION:
            raise InputError('libvirt %s cannot revert to %s: it reverts to external snapshots from 9.9.0 on; '
                             'nothing was changed' % (_version(self.task.conn), self._label()))
        flags = dict(running=_flag('VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING'),
                     paused=_flag('VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED')).get(wanted, 0)
        if self.params['force']:
            flags |= _flag('VIR_DOMAIN_SNAPSHOT_REVERT_FORCE')
        self.task.mutate('revert_to_snapshot(%s)' % wanted, self.dom.revertToSnapshot, self.snap, flags)
        if wanted == 'shutoff' and (self.task.check_mode and have['state'] in ('running', 'paused')
                                    or not self.task.check_mode and self.dom.isActive()):
            self.task.mutate('destroy', self.dom.destroy)
        have['current'] = True
        return dict(snapshot=have)


def _version(conn):
    number = conn.getLibVersion()
    return '%d.%d.%d' % (number // 1000000, number // 1000 % 1000, number % 1000)


def manage_snapshot(task):
    """virt_domain_snapshot's handler."""
    return SnapshotTask(task).run()
