# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_domain_migrate. Two connections (the
# source is the task's own, the target a second one), the desired state "on the target,
# gone from the source", libvirt's migration flags and typed parameters, and the wait
# for the migration job with its events. Not a public API.

from __future__ import annotations

import re
import threading
import time

from ansible_collections.domainops.libvirt.plugins.module_utils.connection import describe_libvirt_error
from ansible_collections.domainops.libvirt.plugins.module_utils.domain import (
    canonical_uuid, describe_domain, domain_state, lookup_domain)
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import (
    InputError, LibvirtCallError, WaitTimeout)

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

DEFAULT_TIMEOUT = 600
# copy_storage values and their VIR_MIGRATE_* flags.
COPY_STORAGE = dict(all='NON_SHARED_DISK', incremental='NON_SHARED_INC')
COMPRESSION_METHODS = ('xbzrle', 'mt')
# Options that act on a running guest's memory or disks: a shut-off domain moves
# without them (its definition only).
_LIVE_ONLY_OPTIONS = ('bandwidth', 'max_downtime', 'compression', 'auto_converge', 'postcopy', 'copy_storage',
                      'migration_uri', 'listen_address', 'unsafe')
# How soon a switch to post-copy is tried again when QEMU was not ready for it yet.
_RECHECK_SECONDS = 0.5
# After an abort or a failure, how long to wait for libvirt to finish the job and for
# a restarting source daemon to answer again before saying where the domain is.
_SETTLE_SECONDS = 60
# How long the job-completed event (the job's figures) may lag behind the call's return.
_STATS_SECONDS = 3
_HOST_UUID_RE = re.compile(r'<host>\s*<uuid>([^<]+)</uuid>')


def _flag(suffix):
    name = 'VIR_MIGRATE_' + suffix
    value = getattr(libvirt, name, None)
    if value is None:
        raise InputError('this libvirt-python has no %s, which the task needs; nothing was changed' % name)
    return value


def _param(suffix):
    return _flag('PARAM_' + suffix)


def _on(uri, dom):
    """'on URI (state)' for messages."""
    state, _reason = domain_state(dom)
    return '%s (%s)' % (uri, state)


class _MigrationWatch(object):
    """The source domain's migration events and the migration call's end, for the main thread to wait on."""

    def __init__(self, conn, dom):
        self.conn = conn
        self.dom = dom
        self.cond = threading.Condition()
        self.done = False
        self.error = None
        self.new_dom = None
        self.completed_stats = None
        self.iterations = 0
        self.postcopy_running = False
        self._ids = []

    def __enter__(self):
        register = self.conn.domainEventRegisterAny
        self._ids = [
            register(self.dom, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None),
            register(self.dom, libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, self._on_job_completed, None),
            register(self.dom, libvirt.VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION, self._on_iteration, None),
        ]
        return self

    def __exit__(self, *exc):
        for callback_id in self._ids:
            try:
                self.conn.domainEventDeregisterAny(callback_id)
            except libvirt.libvirtError:
                pass  # the connection is gone (source daemon restarted): nothing to deregister
        return False

    def _notify(self):
        with self.cond:
            self.cond.notify_all()

    def _on_lifecycle(self, _conn, _dom, event, detail, _opaque):
        if event == libvirt.VIR_DOMAIN_EVENT_SUSPENDED and \
                detail == getattr(libvirt, 'VIR_DOMAIN_EVENT_SUSPENDED_POSTCOPY', -1):
            self.postcopy_running = True
        self._notify()

    def _on_job_completed(self, _conn, _dom, stats, _opaque):
        self.completed_stats = dict(stats)
        self._notify()

    def _on_iteration(self, _conn, _dom, iteration, _opaque):
        self.iterations = iteration
        self._notify()

    def finished(self, new_dom=None, error=None):
        with self.cond:
            self.done, self.new_dom, self.error = True, new_dom, error
            self.cond.notify_all()

    def wait(self, seconds):
        """Until the call ended, an event came, or `seconds` passed."""
        with self.cond:
            if not self.done and seconds > 0:
                self.cond.wait(seconds)

    def wait_for_stats(self, seconds):
        """The job-completed event can follow the call's return (post-copy): wait for it a little."""
        with self.cond:
            self.cond.wait_for(lambda: self.completed_stats is not None, seconds)


class MigrationRun(object):
    """One virt_domain_migrate task."""

    def __init__(self, task):
        self.task = task
        self.params = task.params
        self.src = task.conn
        self.src_uri = task.uri
        self.dest_uri = self.params['dest_uri']
        self.dest = None
        self.dom = None  # on the source
        self.dest_dom = None
        self.mode = None  # live, paused or offline
        self.flags = 0
        self.migrate_params = {}
        self.job = {}
        self.waited = 0.0

    # -- the task ---------------------------------------------------------------------

    def run(self):
        self._check_input()
        self.dom = self.task.lookup(required=False)
        self.dest = self._connect_dest()
        done = self._already_done()
        before = self._where()
        if done:
            return self._result(before, changed=False)
        self._plan()
        self._check_hosts_differ()
        self._migrate('migrate(%s)' % self.mode)
        return self._result(before, changed=True)

    @property
    def check_mode(self):
        return self.task.check_mode

    def _check_input(self):
        p = self.params
        if p['timeout'] <= 0:
            raise InputError('timeout must be more than 0 seconds, not %s; nothing was changed' % p['timeout'])
        for option in ('bandwidth', 'max_downtime'):
            if p.get(option) is not None and p[option] <= 0:
                raise InputError('%s must be more than 0, not %s; nothing was changed' % (option, p[option]))
        if p['tunnelled'] and not p['p2p']:
            raise InputError('tunnelled needs p2p: true (libvirt tunnels the data through its own peer-to-peer '
                             'connection); nothing was changed')
        if p['tunnelled'] and p.get('migration_uri'):
            raise InputError('migration_uri cannot be used with tunnelled: the data goes through the libvirt '
                             'connection; nothing was changed')
        if p.get('postcopy_after') is not None:
            if not p['postcopy']:
                raise InputError('postcopy_after needs postcopy: true; nothing was changed')
            if p['postcopy_after'] < 0:
                raise InputError('postcopy_after must be 0 or more seconds, not %s; nothing was changed'
                                 % p['postcopy_after'])
        if self.dest_uri == self.src_uri:
            raise InputError('dest_uri is the source uri %s: a domain migrates to another host; nothing was changed'
                             % self.src_uri)

    def _connect_dest(self):
        try:
            return self.task.connect(self.dest_uri)
        except LibvirtCallError as err:
            stays = ' (the domain stays on %s)' % _on(self.src_uri, self.dom) if self.dom is not None else ''
            raise LibvirtCallError('target unreachable: %s%s; nothing was changed' % (err.msg, stays))

    # -- where the domain is, and is it there already ------------------------------------

    def _lookup_dest(self, name=None, uuid=None):
        try:
            return lookup_domain(self.dest, name=name, uuid=uuid)
        except libvirt.libvirtError as err:
            raise LibvirtCallError('cannot look up the domain on the target %s: %s; nothing was changed'
                                   % (self.dest_uri, describe_libvirt_error(err)))

    def _already_done(self):
        """True when the domain is where the task wants it; refuses name/UUID clashes."""
        p = self.params
        label = self.task.domain_label
        if self.dom is None:
            uuid = canonical_uuid(p['uuid']) if p.get('uuid') else None
            self.dest_dom = self._lookup_dest(name=p.get('name'), uuid=uuid)
            if self.dest_dom is None:
                raise InputError('domain %s is neither on %s nor on %s; nothing was changed'
                                 % (label, self.src_uri, self.dest_uri))
            self.task.domain_label = "'%s'" % self.dest_dom.name()
            return True

        name, uuid = self.dom.name(), self.dom.UUIDString()
        by_name = self._lookup_dest(name=name)
        by_uuid = self._lookup_dest(uuid=uuid)
        if by_name is not None and by_name.UUIDString() != uuid:
            raise InputError("another domain named '%s' (uuid %s) is on the target %s; the domain to migrate has "
                             "uuid %s and stays on %s; nothing was changed"
                             % (name, by_name.UUIDString(), self.dest_uri, uuid, _on(self.src_uri, self.dom)))
        if by_uuid is not None and by_uuid.name() != name:
            raise InputError("the target %s has this domain's uuid %s under another name, '%s'; nothing was changed"
                             % (self.dest_uri, uuid, by_uuid.name()))
        if by_uuid is None:
            return False
        self.dest_dom = by_uuid
        # A move that kept the source definition (undefine_source false) leaves it
        # there, shut off: that is the desired state, not a clash.
        if not self.params['undefine_source'] and not self.dom.isActive():
            return True
        raise InputError("domain '%s' (uuid %s) is on both hosts: %s and %s; remove the copy that should not be "
                         "there (virt_domain_state state=absent) and run again; nothing was changed"
                         % (name, uuid, _on(self.src_uri, self.dom), _on(self.dest_uri, by_uuid)))

    def _check_hosts_differ(self):
        # libvirt refuses a migration to the host itself; check mode says so too.
        try:
            ids = [_HOST_UUID_RE.search(conn.getCapabilities()) for conn in (self.src, self.dest)]
        except libvirt.libvirtError:
            return  # a driver without capabilities: libvirt will judge
        if ids[0] and ids[1] and ids[0].group(1) == ids[1].group(1):
            raise InputError('%s and %s are the same host (host uuid %s): a domain migrates to another host; '
                             'nothing was changed' % (self.src_uri, self.dest_uri, ids[0].group(1)))

    # -- flags and parameters ------------------------------------------------------------

    def _plan(self):
        p = self.params
        active = bool(self.dom.isActive())
        if not active:
            self.mode = 'offline'
        else:
            self.mode = 'live' if p['live'] else 'paused'
        flags = 0
        if p['persistent']:
            flags |= _flag('PERSIST_DEST')
        if p['undefine_source']:
            flags |= _flag('UNDEFINE_SOURCE')
        if p['p2p']:
            flags |= _flag('PEER2PEER')
        if p['tunnelled']:
            flags |= _flag('TUNNELLED')
        if self.mode == 'offline':
            if not p['persistent']:
                raise InputError('domain %s is shut off: only its definition can move (offline), and that needs '
                                 'persistent: true; nothing was changed' % self.task.domain_label)
            if p.get('copy_storage'):
                raise InputError('domain %s is shut off: libvirt copies storage only while the guest runs; copy '
                                 'its disk images to the target yourself, or start it first; nothing was changed'
                                 % self.task.domain_label)
            given = [o for o in _LIVE_ONLY_OPTIONS if p.get(o) not in (None, False, [])]
            if given:
                self.task.warn('domain %s is shut off: its definition moves offline, and %s do not apply'
                               % (self.task.domain_label, ', '.join(given)))
            self.flags = flags | _flag('OFFLINE')
            return
        if self.mode == 'live':
            flags |= _flag('LIVE')
        if p['unsafe']:
            flags |= _flag('UNSAFE')
        if p.get('copy_storage'):
            flags |= _flag(COPY_STORAGE[p['copy_storage']])
        if p.get('compression'):
            flags |= _flag('COMPRESSED')
            self.migrate_params[_param('COMPRESSION')] = list(p['compression'])
        if p['auto_converge']:
            flags |= _flag('AUTO_CONVERGE')
        if p['postcopy']:
            flags |= _flag('POSTCOPY')
        if p.get('migration_uri'):
            self.migrate_params[_param('URI')] = p['migration_uri']
        if p.get('listen_address'):
            self.migrate_params[_param('LISTEN_ADDRESS')] = p['listen_address']
        if p.get('bandwidth') is not None:
            self.migrate_params[_param('BANDWIDTH')] = p['bandwidth']
        self.flags = flags

    # -- the migration and the wait ------------------------------------------------------

    def _migrate(self, action):
        p = self.params
        if self.mode != 'offline' and p.get('max_downtime') is not None:
            # Set on the source QEMU before the job: it applies to the next migration.
            self.task.mutate('set_max_downtime(%d)' % p['max_downtime'], self.dom.migrateSetMaxDowntime,
                             p['max_downtime'], 0)
        if self.check_mode:
            # Recorded, not called, in the order a real run records them: an action is
            # recorded once it succeeded, and the switch to post-copy succeeds while the
            # migration still runs (a real run switches when it lasts that long).
            if p.get('postcopy_after') is not None:
                self.task.mutate('start_postcopy', self.dom.migrateStartPostCopy)
            self.task.mutate(action, self.dom.migrate3)
            return
        started = time.monotonic()
        with _MigrationWatch(self.src, self.dom) as watch:
            thread = threading.Thread(target=self._call, args=(action, watch), name='migration')
            thread.daemon = True
            thread.start()
            timed_out = self._wait(watch, started)
            thread.join(_SETTLE_SECONDS)
            self.waited = round(time.monotonic() - started, 3)
            if not watch.done:
                raise LibvirtCallError('migration of %s to %s: libvirt did not end the job within %d s after it '
                                       'was aborted; look at both hosts'
                                       % (self.task.domain_label, self.dest_uri, _SETTLE_SECONDS))
            if watch.error is not None:
                self._failed(watch.error, timed_out)
            self.job = self._job_figures(watch) if self.mode != 'offline' else {}  # offline: no job
            self.dest_dom = watch.new_dom or self._lookup_dest(uuid=self.dom.UUIDString())

    def _call(self, action, watch):
        """The blocking migration call (in its own thread): managed by this task, or peer to peer."""
        try:
            if self.params['p2p']:
                self.task.mutate(action, self.dom.migrateToURI3, self.dest_uri, self.migrate_params, self.flags)
                watch.finished()
            else:
                new_dom = self.task.mutate(action, self.dom.migrate3, self.dest, self.migrate_params, self.flags)
                watch.finished(new_dom=new_dom)
        except Exception as err:  # noqa: BLE001  libvirt's or any other: the main thread reports it
            watch.finished(error=err)

    def _wait(self, watch, started):
        """Wait for the call to end; switch to post-copy when asked; abort on timeout. True if it timed out."""
        p = self.params
        deadline = started + p['timeout']
        switch_at = started + p['postcopy_after'] if p.get('postcopy_after') is not None else None
        switched = False
        while not watch.done:
            now = time.monotonic()
            if switch_at is not None and now >= switch_at and not watch.postcopy_running:
                if self._start_postcopy():
                    switch_at, switched = None, True
            if now >= deadline:
                if watch.postcopy_running or switched:
                    # The guest runs on the target already: an abort would lose it.
                    self.task.warn('migration of %s passed its timeout (%s s) in post-copy mode, which cannot '
                                   'be aborted; waited for it to finish' % (self.task.domain_label, p['timeout']))
                    watch.wait(_SETTLE_SECONDS)
                    continue
                self._abort()
                return True
            limit = deadline - now
            if switch_at is not None:
                limit = min(limit, max(switch_at - now, _RECHECK_SECONDS))
            watch.wait(limit)
        return False

    def _start_postcopy(self):
        try:
            self.task.mutate('start_postcopy', self.dom.migrateStartPostCopy, 0)
            return True
        except libvirt.libvirtError:
            return False  # the job has not reached the point where QEMU can switch: again soon

    def _abort(self):
        try:
            self.task.mutate('abort_job', self.dom.abortJob)
        except libvirt.libvirtError as err:
            self.task.warn('aborting the migration job of %s failed: %s'
                           % (self.task.domain_label, describe_libvirt_error(err)))

    def _failed(self, error, timed_out):
        label = self.task.domain_label
        where = self._locate()
        if timed_out:
            raise WaitTimeout('migration of %s to %s did not finish within %s s: aborted the job; %s'
                              % (label, self.dest_uri, self.params['timeout'], where))
        if not isinstance(error, libvirt.libvirtError):
            raise LibvirtCallError('migration of %s to %s failed: %s; %s' % (label, self.dest_uri, error, where))
        if error.get_error_code() == getattr(libvirt, 'VIR_ERR_MIGRATE_UNSAFE', None):
            raise LibvirtCallError('libvirt refused to migrate %s: %s. %s; %s'
                                   % (label, describe_libvirt_error(error), self._unsafe_advice(), where))
        lost = '' if self._source_alive() else ' (the connection to the source libvirtd was lost)'
        raise LibvirtCallError('migration of %s to %s failed%s: %s; %s'
                               % (label, self.dest_uri, lost, describe_libvirt_error(error), where))

    def _source_alive(self):
        try:
            return bool(self.src.isAlive())
        except libvirt.libvirtError:
            return False

    def _unsafe_advice(self):
        disks = self._unshared_disks()
        what = 'its writable disk%s %s' % ('s' if len(disks) > 1 else '', ', '.join(disks)) if disks \
            else 'a writable disk'
        return ('libvirt does not see %s on storage the target shares: set copy_storage (all or incremental) '
                'to copy it to the target, or unsafe: true when the target really uses the same storage '
                '(a cluster file system libvirt does not recognise)' % what)

    def _unshared_disks(self):
        """'vda (/path)' for each writable disk that is neither network storage nor uncached."""
        from ansible_collections.domainops.libvirt.plugins.module_utils.domain_xml import parse_xml
        try:
            root = parse_xml(self.dom.XMLDesc(0), 'the domain XML', ('domain',))
        except libvirt.libvirtError:
            return []
        disks = []
        for disk in root.findall('devices/disk'):
            source, target = disk.find('source'), disk.find('target')
            driver = disk.find('driver')
            if source is None or disk.get('type') == 'network' or disk.find('readonly') is not None \
                    or disk.find('shareable') is not None:
                continue
            if driver is not None and driver.get('cache') in ('none', 'directsync'):
                continue
            path = source.get('file') or source.get('dev') or source.get('volume') or '?'
            disks.append('%s (%s)' % (target.get('dev') if target is not None else '?', path))
        return disks

    def _locate(self):
        """Where the domain is now, for a failure message (reconnects to a restarted source)."""
        uuid = self.dom.UUIDString()
        places = []
        src = self.src if self._source_alive() else self._reconnect_source()
        for uri, conn in ((self.src_uri, src), (self.dest_uri, self.dest)):
            if conn is None:
                places.append('%s does not answer' % uri)
                continue
            try:
                dom = lookup_domain(conn, uuid=uuid)
            except libvirt.libvirtError as err:
                places.append('%s: %s' % (uri, describe_libvirt_error(err)))
                continue
            if dom is not None:
                places.append('it is on %s' % _on(uri, dom))
        if not places:
            return 'it is on neither %s nor %s: look at both hosts' % (self.src_uri, self.dest_uri)
        return '; '.join(places)

    def _reconnect_source(self):
        # A restarted libvirtd needs a moment before it answers; it keeps its guests.
        deadline = time.monotonic() + _SETTLE_SECONDS
        while True:
            try:
                return self.task.connect(self.src_uri)
            except LibvirtCallError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.5)

    def _job_figures(self, watch):
        """libvirt's statistics of the completed job: from its event, else from the target."""
        watch.wait_for_stats(_STATS_SECONDS)
        stats = watch.completed_stats
        if stats is None and watch.new_dom is not None:
            try:
                stats = watch.new_dom.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
            except libvirt.libvirtError:
                stats = None
        if not stats or stats.get('type') == getattr(libvirt, 'VIR_DOMAIN_JOB_NONE', 0):
            return {}
        return dict(stats)

    # -- the result ------------------------------------------------------------------------

    def _where(self):
        where = {}
        for key, dom in (('source', self.dom), ('target', self.dest_dom)):
            where[key] = domain_state(dom)[0] if dom is not None else 'absent'
        return where

    def _after(self):
        if not self.check_mode:
            self.dest_dom = self.dest_dom or self._lookup_dest(uuid=self.dom.UUIDString())
            source_left = self.dom is not None and lookup_domain(self.src, uuid=self.dom.UUIDString()) is not None
            return dict(source='shutoff' if source_left else 'absent', target=domain_state(self.dest_dom)[0])
        # Check mode: as the migration would leave it.
        state = domain_state(self.dom)[0]
        keeps = not self.params['undefine_source'] and self.dom.isPersistent()
        return dict(source='shutoff' if keeps else 'absent', target=state)

    def _describe_target(self):
        if self.dest_dom is not None:
            return describe_domain(self.dest_dom)
        # Check mode: the domain as the migration would put it on the target.
        described = describe_domain(self.dom)
        described.update(id=None, state_reason=None, autostart=False,
                         persistent=self.mode == 'offline' or bool(self.params['persistent']))
        if self.mode == 'offline':
            described['state'] = 'shutoff'
        return described

    def _result(self, before, changed):
        if changed:
            after = self._after()
        else:
            after = before
        result = dict(changed=changed, domain=self._describe_target(), mode=self.mode, job=self.job,
                      waited=self.waited, source_uri=self.src_uri, dest_uri=self.dest_uri)
        if self.task.module._diff:
            text = 'source %s: %s\ntarget %s: %s\n'
            result['diff'] = dict(
                before_header='domain %s' % self.task.domain_label, after_header='domain %s' % self.task.domain_label,
                before=text % (self.src_uri, before['source'], self.dest_uri, before['target']),
                after=text % (self.src_uri, after['source'], self.dest_uri, after['target']))
        return result


def migrate_domain(task):
    """Handler for virt_domain_migrate: returns the module's result dict."""
    return MigrationRun(task).run()
