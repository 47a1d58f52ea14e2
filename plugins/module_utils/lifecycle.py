# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_domain_state. Defining a domain
# from XML, the path from every libvirt state to every desired state, the waits,
# and undefining. Not a public API.

from __future__ import annotations

import os
import time


from ansible_collections.domainops.libvirt.plugins.module_utils.domain import (
    canonical_uuid, describe_domain, domain_state, lookup_domain)
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import (
    InputError, LibvirtCallError, WaitTimeout)
from ansible_collections.domainops.libvirt.plugins.module_utils.connection import describe_libvirt_error
from ansible_collections.domainops.libvirt.plugins.module_utils.definition_lock import definition_lock
from ansible_collections.domainops.libvirt.plugins.module_utils.storage_cleanup import (
    check_options as check_storage_options, plan_storage)

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

STATES = ('present', 'running', 'paused', 'shutdown', 'destroyed', 'absent', 'rebooted', 'reset')

# shutdown_mode values and the suffix of their VIR_DOMAIN_SHUTDOWN_* / VIR_DOMAIN_REBOOT_* flags.
SHUTDOWN_MODES = dict(
    acpi='ACPI_POWER_BTN',
    agent='GUEST_AGENT',
    initctl='INITCTL',
    signal='SIGNAL',
    paravirt='PARAVIRT',
)

DEFAULT_TIMEOUT = 120

# States in which the guest executes (nostate only shows up for an active domain).
_RUNNING = ('running', 'blocked', 'nostate')
# After this task woke a guest, how long an ACPI shutdown/reboot request may go without
# effect before it is sent again (see _again_after_wake_up).
_REQUEST_AGAIN_SECONDS = 2.0

# Undefine flags, each with the question "does the domain have it?". Names only:
# older libvirt-python builds lack some of them.
_UNDEFINE_FLAGS = (
    ('VIR_DOMAIN_UNDEFINE_MANAGED_SAVE', 'managed save image'),
    ('VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA', 'snapshot metadata'),
    ('VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA', 'checkpoint metadata'),
    ('VIR_DOMAIN_UNDEFINE_NVRAM', 'NVRAM file'),
    ('VIR_DOMAIN_UNDEFINE_TPM', 'TPM state'),
)

_READ_FLAGS = 0
if libvirt is not None:
    _READ_FLAGS = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE

# How libvirt refuses a flag it does not know: virCheckFlags reports VIR_ERR_INVALID_ARG;
# some drivers and older daemons VIR_ERR_NO_SUPPORT.
_UNSUPPORTED_FLAG_CODES = tuple(getattr(libvirt, name) for name in ('VIR_ERR_INVALID_ARG', 'VIR_ERR_NO_SUPPORT')
                                if libvirt is not None)
# The undefine flags dropped one by one when refused, newest (least supported) first.
_UNDEFINE_DROP_ORDER = ('VIR_DOMAIN_UNDEFINE_TPM', 'VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA',
                        'VIR_DOMAIN_UNDEFINE_NVRAM', 'VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA',
                        'VIR_DOMAIN_UNDEFINE_MANAGED_SAVE')
# How libvirt says a domain is not in the state a call needs ("domain is not running",
# "already running") or is gone: the state is re-read, the goal may be met already.
_NOT_IN_STATE_CODES = tuple(getattr(libvirt, name) for name in ('VIR_ERR_OPERATION_INVALID', 'VIR_ERR_NO_DOMAIN')
                            if libvirt is not None)


def _engine():
    # Imported late: the XML engine needs lxml, whose absence LibvirtModule reports.
    from ansible_collections.domainops.libvirt.plugins.module_utils import domain_xml
    return domain_xml


def mode_flags(modes, kind):
    """OR of VIR_DOMAIN_<kind>_* flags for the shutdown_mode list (kind: SHUTDOWN or REBOOT)."""
    flags = 0
    for mode in modes or ():
        name = 'VIR_DOMAIN_%s_%s' % (kind, SHUTDOWN_MODES[mode])
        value = getattr(libvirt, name, None)
        if value is None:
            raise InputError('shutdown_mode %s needs %s, which this libvirt-python does not have; '
                             'nothing was changed' % (mode, name))
        flags |= value
    return flags


def _is_no_domain(err):
    return err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN


class _NoEvents(object):
    """Stands in for DomainEvents in check mode, where nothing is awaited."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class DomainStateRun(object):
    """One virt_domain_state task: define if asked, then walk to the desired state.

    The current state is tracked in `state`/`active`/`persistent`. In a real run it
    is re-read from libvirt after every action; in check mode each action sets what
    it would have produced, so the next step plans from there exactly as a real run.
    """

    def __init__(self, task):
        self.task = task
        self.conn = task.conn
        self.params = task.params
        self.check = task.check_mode
        self.want = self.params['state']
        self.timeout = self.params['timeout']
        self.deadline = None
        self.dom = None
        self.desired = None
        self.state = 'absent'
        self.state_reason = None
        self.active = False
        self.persistent = False
        self.waited = 0.0
        self.ignored_actions = 0  # actions that turned out to change nothing
        self.restart_required = False
        self.woken = False  # this task woke the guest from pmsuspended
        self.differences = []
        self.live_differences = []
        self.removed_storage = []
        self.reconnect_note = ''  # set when libvirtd went away during a wait
        self.xml_before = None
        self.xml_after = None
        self.name = self.params.get('name')
        self.uuid = None
        self.xml_has_uuid = False
        self.record_status = None  # the applied record: written, updated, unchanged
        self._stored_before = None
        self.address_found = None  # wait_for_address's result

    # -- the task ---------------------------------------------------------------

    def run(self):
        self._check_input()
        self.dom = self._find_domain()
        if self.dom is not None:  # kept for the result, also once the domain is gone
            self.name, self.uuid = self.dom.name(), self.dom.UUIDString()
        self._refresh()
        state_before = self.state
        self.deadline = time.monotonic() + self.timeout

        if self.dom is None and self.want != 'absent' and self.desired is None:
            raise InputError('domain %s not found on %s; give xml to define it; nothing was changed'
                             % (self.task.domain_label, self.task.uri))

        if self.desired is not None and self.want != 'absent':
            self._ensure_definition()

        getattr(self, '_to_' + self.want)()

        if not self.active or set(self.task.actions) & set(('create', 'create_paused')):
            # The guest is off or started fresh: it runs (or will run) the new definition.
            self.restart_required = False
            self.live_differences = []

        return self._result(state_before)

    def _check_input(self):
        if self.timeout < 0:
            raise InputError('timeout must be 0 or more seconds, not %s' % self.timeout)
        check_storage_options(self.params, self.want)
        # Flags first: an unknown one fails before anything is done.
        self.shutdown_flags = mode_flags(self.params['shutdown_mode'], 'SHUTDOWN')
        self.reboot_flags = mode_flags(self.params['shutdown_mode'], 'REBOOT')
        if self.params.get('uuid') is not None:
            self.uuid = canonical_uuid(self.params['uuid'])
        if self.params.get('xml') is None:
            return

        engine = _engine()
        self.desired = engine.parse_xml(self.params['xml'], 'xml', ('domain',))
        xml_name = engine.domain_name(self.desired)
        xml_uuid = engine.domain_uuid(self.desired)
        if xml_uuid is None and self.desired.findtext('uuid') is not None:
            # Check mode would otherwise plan a define that libvirt then refuses.
            raise InputError('invalid <uuid>%s</uuid> in xml: expected 32 hexadecimal digits; nothing was changed'
                             % self.desired.findtext('uuid').strip())
        if not xml_name:
            raise InputError('xml has no <name>; libvirt needs one; nothing was changed')
        if self.name is not None and self.name != xml_name:
            raise InputError("name '%s' does not match <name>%s</name> in xml; renaming a domain is not "
                             "supported; nothing was changed" % (self.name, xml_name))
        self.name = xml_name
        if xml_uuid is not None:
            xml_uuid = canonical_uuid(xml_uuid)
            if self.uuid is not None and self.uuid != xml_uuid:
                raise InputError("uuid '%s' does not match <uuid>%s</uuid> in xml; nothing was changed"
                                 % (self.uuid, xml_uuid))
            self.uuid = xml_uuid
            self.xml_has_uuid = True
        self.task.domain_label = "'%s'" % xml_name

    def _find_domain(self):
        """The domain the task is about, or None; refuses renames and UUID clashes."""
        by_name = by_uuid = None
        if self.name is not None:
            by_name = self._lookup(self.conn.lookupByName, self.name)
        if self.uuid is not None:
            by_uuid = self._lookup(self.conn.lookupByUUIDString, self.uuid)
        if self.desired is None:
            dom = by_uuid if self.uuid is not None else by_name
            if dom is not None:
                self.task.domain_label = "'%s'" % dom.name()
            return dom
        if by_name is not None and self.uuid is not None and by_name.UUIDString() != self.uuid:
            raise InputError("domain '%s' exists with uuid %s, not %s; a domain's uuid cannot change "
                             "(undefine it first); nothing was changed" % (self.name, by_name.UUIDString(), self.uuid))
        if by_uuid is not None and by_uuid.name() != self.name:
            raise InputError("the domain with uuid %s is named '%s', not '%s'; renaming a domain is not "
                             "supported; nothing was changed" % (self.uuid, by_uuid.name(), self.name))
        if by_name is None and by_uuid is None and self.params.get('uuid') is not None and not self.xml_has_uuid:
            raise InputError("uuid %s given but xml has no <uuid>: the new domain would get another uuid; "
                             "add <uuid> to xml; nothing was changed" % self.uuid)
        return by_name or by_uuid

    @staticmethod
    def _lookup(func, key):
        try:
            return func(key)
        except libvirt.libvirtError as err:
            if _is_no_domain(err):
                return None
            raise

    # -- where the domain is now --------------------------------------------------

    def _refresh(self):
        """Re-read state, activity and persistence (real runs; check mode keeps its plan)."""
        if self.check and self.task.actions:
            return
        if self.dom is None:
            self.state, self.state_reason, self.active, self.persistent = 'absent', None, False, False
            return
        try:
            self.state, self.state_reason = domain_state(self.dom)
            self.active = bool(self.dom.isActive())
            self.persistent = bool(self.dom.isPersistent())
        except libvirt.libvirtError as err:
            if not _is_no_domain(err):
                raise
            # A transient domain vanishes when it stops.
            self.dom = None
            self.state, self.state_reason, self.active, self.persistent = 'absent', None, False, False

    def _act(self, action, func, *args, **planned):
        """Do one mutating call (through task.mutate), then learn the new state.

        `func` is a callable or the name of a virDomain method; a name is resolved
        only when called, as in check mode a domain may exist only in the plan.
        `planned` is what check mode assumes the call produces (state, active, persistent).
        """
        if isinstance(func, str):
            func = self._domain_method(func)
        try:
            result = self.task.mutate(action, func, *args)
        except libvirt.libvirtError as err:
            if not self._met_meanwhile(action, err, planned):
                raise
            return None
        if self.check:
            self.state_reason = None
            for key, value in planned.items():
                setattr(self, key, value)
        else:
            self._refresh()
        return result

    def _met_meanwhile(self, action, err, planned):
        """After libvirt refused `action` because the domain is not in the state the call
        needs: True when it reached the goal anyway (the guest powered off before a
        destroy, another task started it first). Never from the message text."""
        if self.check or not planned or err.get_error_code() not in _NOT_IN_STATE_CODES:
            return False
        try:
            self._refresh()
        except libvirt.libvirtError:
            return False  # cannot tell: the original refusal stands
        if 'active' in planned and self.active != planned['active']:
            return False
        if 'persistent' in planned and self.persistent != planned['persistent']:
            return False
        want = planned.get('state')
        if want == 'running' and self.state not in _RUNNING or \
                want == 'shutoff' and self.state not in ('shutoff', 'absent') or \
                want in ('paused', 'absent') and self.state != want:
            return False
        self.task.failed_action = None
        self.task.warn('domain %s was already %s when this task called %s (it changed meanwhile; libvirt said: %s); '
                       'nothing left to do there' % (self.task.domain_label, self.state, action,
                                                     describe_libvirt_error(err)))
        return True

    def _domain_method(self, method):
        def call(*args):
            return getattr(self.dom, method)(*args)
        return call

    def _events(self):
        if self.check or self.dom is None:
            return _NoEvents()
        from ansible_collections.domainops.libvirt.plugins.module_utils.events import DomainEvents
        return DomainEvents(self.conn, self.dom, reconnect=self._reconnect)

    def _reconnect(self, uuid):
        """libvirtd went away during a wait: go on with a new connection (the domain None when gone)."""
        self.conn = self.task.reopen()
        self.dom = lookup_domain(self.conn, uuid=uuid)
        return self.conn, self.dom

    def _wait(self, events, condition):
        """Wait (within the task's timeout) until condition(); True when it was met."""
        if self.check:
            return True
        left = max(0.0, self.deadline - time.monotonic())
        met, seconds = events.wait(condition, left)
        self.waited += seconds
        self.reconnect_note = events.reconnect_note()
        if events.reconnects:
            self.task.warn('domain %s: the connection to libvirtd was lost while waiting and opened again; '
                           'the wait went on' % self.task.domain_label)
        self._refresh()
        return met

    def _gone_or(self, states):
        def condition():
            self._refresh()
            return self.state in states
        return condition

    # -- definition -------------------------------------------------------------

    def _ensure_definition(self):
        engine = _engine()
        aliases = engine.machine_aliases(self.conn.getCapabilities())
        flags = libvirt.VIR_DOMAIN_DEFINE_VALIDATE if self.params['validate'] else 0
        remaining = []  # paths where the stored definition still differs from xml afterwards

        was_persistent = self.persistent
        if self.dom is None:
            self.xml_before = ''
            self.differences = ['(new domain)']
            self.record_status = 'written'
            text = engine.to_text(engine.with_record(self.desired, aliases), pretty=False, mask_secrets=False)
            dom = self._define(text, flags, state='shutoff', active=False, persistent=True)
            if dom is not None:
                self.dom = dom
                self._refresh()
            planned = self.desired
            record = None
        else:
            actual_text = self.dom.XMLDesc(_READ_FLAGS)
            comparison = self._compare(engine, actual_text, aliases)
            record = comparison.record
            self.xml_before = engine.to_text(comparison.actual, pretty=True, mask_secrets=True)
            planned = None
            if self.differences:
                comparison = self._define_merged(engine, comparison, actual_text, aliases, flags)
                planned = comparison.merged

        live_paths = []
        if self.active:
            # What the running guest lacks of xml; removals as the previous record says.
            live = self.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
            live_paths = engine.Comparison(engine.DOMAIN, self.desired, live, aliases, record=record).paths

        if planned is None:
            self.xml_after = self.xml_before
        elif self.check:
            self.xml_after = engine.to_text(planned, pretty=True, mask_secrets=True)
        else:
            readback = engine.parse_xml(self.dom.XMLDesc(_READ_FLAGS), 'the inactive XML', ('domain',))
            self.xml_after = engine.to_text(readback, pretty=True, mask_secrets=True)
            remaining = engine.compare_domain(self.desired, readback, aliases)
            remaining = [d.path for d in remaining]
            if remaining:
                self.task.warn('libvirt normalised or ignored %s of domain %s: the stored definition still '
                               'differs from xml there (a misspelt element or attribute? validate: true '
                               'makes libvirt refuse what its schema does not know)'
                               % (', '.join(remaining), self.task.domain_label))
            if self.xml_before and was_persistent and engine.same_definition(readback, self._stored_before):
                # The last guard against flapping: libvirt stored exactly what it had.
                self.ignored_actions += 1
                self.task.warn('domain %s was defined again but libvirt stored the same definition as before '
                               '(it normalised or ignored %s); reported as no change'
                               % (self.task.domain_label, ', '.join(self.differences)))

        # A restart helps only where the stored definition has what the running guest lacks.
        self.live_differences = [path for path in live_paths if path not in remaining]
        self.restart_required = bool(self.live_differences)

    def _compare(self, engine, actual_text, aliases):
        """Compare xml with the persistent definition; sets differences and the record status."""
        comparison = engine.Comparison(engine.DOMAIN, self.desired, actual_text, aliases,
                                       record='stored', write_record=True)
        self._stored_before = comparison.actual
        if comparison.record_problem:
            self.task.warn('the applied record of domain %s is not used: %s; it is treated as absent '
                           '(nothing is removed this time) and replaced'
                           % (self.task.domain_label, comparison.record_problem))
        self.differences = comparison.paths
        if not self.persistent:
            # Defining a transient domain makes it persistent: a change of its own.
            self.differences.insert(0, '(make persistent)')
        if not comparison.had_record:
            self.record_status = 'written'
        elif comparison.record_changed:
            self.record_status = 'updated'
        else:
            self.record_status = 'unchanged'
        if comparison.record_changed and not self.differences:
            # Only what the user manages changed (an element added that equals the
            # stored value, or the first apply to a domain made elsewhere).
            self.differences.append('(applied record %s)' % self.record_status)
        return comparison

    def _define_merged(self, engine, comparison, actual_text, aliases, flags):
        """Define the merged definition. Right before, the persistent definition is read
        again: when another task changed it since the comparison, compare once more
        (so its change is kept, not overwritten); twice is a clear failure. The re-read
        and the define hold the domain's definition lock (definition_lock.py)."""
        if self.check:
            self._define(comparison.merged_text(), flags, persistent=True)  # recorded, not called
            return comparison
        with definition_lock(self.dom.UUIDString(), self.task.domain_label):
            for attempt in (1, 2):
                text = comparison.merged_text()
                current = self.dom.XMLDesc(_READ_FLAGS)
                if current != actual_text:
                    if attempt == 2:
                        raise LibvirtCallError(
                            'the definition of domain %s on %s was changed by someone else twice during this '
                            'task; nothing was changed, run the task again' % (self.task.domain_label, self.task.uri))
                    actual_text = current
                    self.task.warn('the definition of domain %s was changed by someone else during this task: '
                                   'compared again with the new one, so that change is kept' % self.task.domain_label)
                    comparison = self._compare(engine, actual_text, aliases)
                    self.xml_before = engine.to_text(comparison.actual, pretty=True, mask_secrets=True)
                    if not self.differences:
                        return comparison
                    continue
                self._define(text, flags, persistent=True)
                return comparison
        return comparison

    def _define(self, text, flags, **planned):
        try:
            return self._act('define', self.conn.defineXMLFlags, text, flags, **planned)
        except libvirt.libvirtError as err:
            raise LibvirtCallError('libvirt rejected the definition of domain %s on %s: %s; nothing was changed'
                                   % (self.task.domain_label, self.task.uri, describe_libvirt_error(err)))

    # -- desired states -----------------------------------------------------------

    def _to_present(self):
        pass  # defined (by _ensure_definition) and otherwise left as it is

    def _to_running(self):
        if self.state in _RUNNING:
            return self._wait_for_address()
        if self.state == 'paused':
            self._act('resume', 'resume', state='running')
        elif self.state == 'pmsuspended':
            self._wake_up()
        else:
            self._stop_if_half_dead()
            self._act('create', 'create', state='running', active=True)
        return self._wait_for_address()

    def _wait_for_address(self):
        if self.params.get('wait_for_address'):
            from ansible_collections.domainops.libvirt.plugins.module_utils.address_wait import wait_for_address
            self.address_found = wait_for_address(self)

    def _to_paused(self):
        if self.state == 'paused':
            return
        if self.state == 'pmsuspended':
            self._wake_up()
        if self.state in _RUNNING:
            self._act('suspend', 'suspend', state='paused')
            return
        self._stop_if_half_dead()
        self._act('create_paused', self._create_paused, state='paused', active=True)

    def _to_shutdown(self):
        if not self.active:
            return
        if self.state == 'crashed':
            # A crashed guest runs no code that could react to a shutdown request.
            self._act('destroy', 'destroy', state=self._stopped(), active=False)
            return
        if self.state == 'paused':
            self._act('resume', 'resume', state='running')  # a paused guest cannot react
        elif self.state == 'pmsuspended':
            self._wake_up()
        with self._events() as events:
            if self.state != 'shutdown':  # 'shutdown' = already shutting down: just wait
                self._act('shutdown', 'shutdownFlags', self.shutdown_flags,
                          state=self._stopped(), active=False)
            stopped = self._again_after_wake_up(self._gone_or(('shutoff', 'absent')),
                                                'shutdownFlags', self.shutdown_flags)
            if self._wait(events, stopped):
                return
        if self.params['force']:
            self.task.warn('domain %s did not shut down within %s s (state %s); destroyed it (force)'
                           % (self.task.domain_label, self.timeout, self.state))
            self._act('destroy', 'destroy', state=self._stopped(), active=False)
            return
        raise WaitTimeout('domain %s did not shut down within %s s: it is still %s (reason %s); set force: true '
                          'to destroy it after the timeout%s' % (self.task.domain_label, self.timeout,
                                                                 self.state, self.state_reason, self.reconnect_note),
                          waited=self.waited, domain=describe_domain(self.dom))

    def _to_destroyed(self):
        if self.active:
            self._act('destroy', 'destroy', state=self._stopped(), active=False)

    def _stopped(self):
        """The state check mode plans for a domain that stops: a transient one is gone."""
        return 'shutoff' if self.persistent else 'absent'

    def _to_absent(self):
        if self.dom is None:
            return
        storage = plan_storage(self.task, self.dom, self.persistent) if self.params['remove_storage'] else []
        if self.params['remove_storage']:
            self.task.on_failure['removed_storage'] = self.removed_storage  # also after a failed delete
        if self.active:
            # A transient domain is gone once destroyed.
            self._act('destroy', 'destroy', active=False, state='shutoff' if self.persistent else 'absent')
        if self.dom is not None and self.state != 'absent':
            flags = self._undefine_flags()
            self._act('undefine', self._undefine, flags, state='absent', persistent=False)
        for path, vol in storage:
            if vol is not None:
                self._act('delete_volume', vol.delete, 0)
            else:
                self._act('delete_file', os.remove, path)
            self.removed_storage.append(path)

    def _to_rebooted(self):
        self._restart('reboot', self.reboot_flags)

    def _to_reset(self):
        self._restart('reset', 0)

    def _restart(self, action, flags):
        if not self.active or self.state == 'crashed' or self.state == 'shutdown':
            # Documented choice: a domain that is not running is started, which is
            # the fresh boot the task asks for.
            self._stop_if_half_dead()
            self._act('create', 'create', state='running', active=True)
            return
        if self.state == 'pmsuspended':
            self._wake_up()
        if action == 'reset':
            self._act('reset', 'reset', flags)  # a paused domain stays paused, reset
            return
        if self.state == 'paused':
            self._act('resume', 'resume', state='running')  # a paused guest cannot reboot itself
        with self._events() as events:
            self._act('reboot', 'reboot', flags)
            if self.check or self.conn.getType() == 'TEST':
                # The test driver reboots synchronously and sends no reboot event.
                return
            rebooted = self._again_after_wake_up(lambda: self._rebooted(events), 'reboot', flags)
            if not self._wait(events, rebooted):
                raise WaitTimeout('domain %s did not reboot within %s s after the reboot request (state %s); '
                                  'does the guest react to %s?'
                                  % (self.task.domain_label, self.timeout, self.state,
                                     ', '.join(self.params['shutdown_mode']) or 'ACPI'),
                                  waited=self.waited, domain=describe_domain(self.dom))

    def _rebooted(self, events):
        if events.reboots or any(event == libvirt.VIR_DOMAIN_EVENT_STARTED for event, _detail in events.lifecycle):
            return True
        self._refresh()
        if not self.active:
            raise LibvirtCallError('domain %s shut off instead of rebooting (is on_reboot destroy?)'
                                   % self.task.domain_label, waited=self.waited)
        return False

    # -- helpers for the transitions ----------------------------------------------

    def _stop_if_half_dead(self):
        """Before a start: wait out a shutdown in progress, destroy a preserved crashed guest."""
        if self.state == 'shutdown':
            with self._events() as events:
                if not self._wait(events, self._gone_or(('shutoff', 'absent'))):
                    raise WaitTimeout('domain %s is still shutting down after %s s; cannot start it'
                                      % (self.task.domain_label, self.timeout), waited=self.waited)
        if self.state == 'crashed' and self.active:
            self._act('destroy', 'destroy', state='shutoff', active=False)

    def _wake_up(self):
        with self._events() as events:
            self._act('pm_wakeup', 'pMWakeup', 0, state='running')
            if not self._wait(events, self._gone_or(_RUNNING)):
                raise WaitTimeout('domain %s did not wake up within %s s (state %s)'
                                  % (self.task.domain_label, self.timeout, self.state), waited=self.waited)
        self.woken = True

    def _again_after_wake_up(self, condition, method, flags):
        """condition, sending the request (a virDomain method) again while it stays false.

        Only after this task woke the guest: libvirt reports it running at once, but a
        guest still resuming takes an ACPI button press for the wake-up event and drops
        it (measured with Linux, tests/system/test_guest_caused_states.py). Sent again
        every _REQUEST_AGAIN_SECONDS; a guest already acting on it ignores a repeat.
        """
        if not self.woken:
            return condition
        sent = time.monotonic()

        def met_or_request_again():
            nonlocal sent
            if condition():
                return True
            if time.monotonic() - sent >= _REQUEST_AGAIN_SECONDS:
                sent = time.monotonic()
                try:
                    getattr(self.dom, method)(flags)
                except libvirt.libvirtError:
                    pass  # it stopped meanwhile, or no longer takes requests: condition() tells
            return False
        return met_or_request_again

    def _create_paused(self):
        try:
            return self.dom.createWithFlags(libvirt.VIR_DOMAIN_START_PAUSED)
        except libvirt.libvirtError as err:
            if err.get_error_code() not in (libvirt.VIR_ERR_INVALID_ARG, libvirt.VIR_ERR_NO_SUPPORT):
                raise
        # The driver cannot start paused (the test driver): start, then suspend at once.
        self.task.warn('libvirt at %s cannot start a domain paused; started and suspended it instead'
                       % self.task.uri)
        self.dom.create()
        try:
            return self.dom.suspend()
        except libvirt.libvirtError as err:
            raise LibvirtCallError('domain %s was started but could not be suspended: %s'
                                   % (self.task.domain_label, describe_libvirt_error(err)))

    def _undefine_flags(self):
        """Flags for what the domain has (managed save, snapshots, ...) that libvirt-python knows."""
        engine = _engine()
        root = engine.parse_xml(self.dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), 'the inactive XML', ('domain',))
        has = dict(
            VIR_DOMAIN_UNDEFINE_MANAGED_SAVE=lambda: self.dom.hasManagedSaveImage(0),
            VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA=lambda: self.dom.snapshotNum(0) > 0,
            VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA=lambda: bool(self.dom.listAllCheckpoints(0)),
            VIR_DOMAIN_UNDEFINE_NVRAM=lambda: root.find('os/nvram') is not None or
            root.find('os').get('firmware') == 'efi' or root.find("os/loader[@type='pflash']") is not None,
            VIR_DOMAIN_UNDEFINE_TPM=lambda: root.find("devices/tpm/backend[@type='emulator']") is not None,
        )
        flags = 0
        for name, what in _UNDEFINE_FLAGS:
            try:
                present = has[name]()
            except libvirt.libvirtError:
                present = False  # the driver cannot even list it (checkpoints): it has none
            if not present:
                continue
            value = getattr(libvirt, name, None)
            if value is None:
                self.task.warn('domain %s has a %s but this libvirt-python has no %s; it may be left behind'
                               % (self.task.domain_label, what, name))
                continue
            flags |= value
        return flags

    def _undefine(self, flags):
        # A driver that rejects a cleanup flag (the test driver: NVRAM, TPM, checkpoints;
        # an older daemon: the newest flags) does not keep that thing either. libvirt says
        # so by error code (virCheckFlags: VIR_ERR_INVALID_ARG) but names the flag only in
        # its translatable message: drop the optional flags newest first until it accepts.
        dropped = []
        while True:
            try:
                result = self.dom.undefineFlags(flags)
                break
            except libvirt.libvirtError as err:
                optional = [name for name in _UNDEFINE_DROP_ORDER if getattr(libvirt, name, 0) & flags]
                if err.get_error_code() not in _UNSUPPORTED_FLAG_CODES or not optional:
                    raise
            dropped.append(optional[0])
            flags &= ~getattr(libvirt, optional[0])
        if dropped:
            self.task.warn('libvirt at %s does not support %s; undefined domain %s without'
                           % (self.task.uri, ', '.join(dropped), self.task.domain_label))
        return result

    # -- the result -----------------------------------------------------------------

    def _describe(self):
        if self.dom is None or self.state == 'absent':
            return dict(name=self.name, uuid=self.uuid, id=None, state='absent', state_reason=None,
                        persistent=False, autostart=False)
        if not self.check:
            return describe_domain(self.dom)
        # Check mode: the domain as the real run would leave it.
        described = describe_domain(self.dom) if self.dom is not None else {}
        described.update(state=self.state, persistent=self.persistent)
        if self.task.actions:
            described['state_reason'] = None
            described['id'] = described.get('id') if self.active else None
        return described

    def _result(self, state_before):
        domain = self._describe()
        if self.dom is None and self.state != 'absent':  # check mode, defined only in the plan
            domain = dict(name=self.name, uuid=self.uuid, id=None, state=self.state, state_reason=None,
                          persistent=True, autostart=False)
        result = dict(
            changed=len(self.task.actions) > self.ignored_actions,
            domain=domain,
            waited=round(self.waited, 3),
            restart_required=self.restart_required,
            differences=self.differences,
        )
        if self.record_status is not None:
            result['applied_record'] = self.record_status
        if self.restart_required:
            result['live_differences'] = self.live_differences
        if self.params['remove_storage']:
            result['removed_storage'] = self.removed_storage
        if self.address_found is not None:
            result.update(self.address_found)
        if self.task.module._diff:
            result['diff'] = self._diff(state_before, domain['state'])
        return result

    def _diff(self, state_before, state_after):
        name = self.name or self.task.domain_label
        diff = dict(before_header='domain %s' % name, after_header='domain %s' % name)
        if self.desired is None:
            diff.update(before='state: %s\n' % state_before, after='state: %s\n' % state_after)
            return diff
        if state_after == 'absent':
            self.xml_after = ''
        diff.update(before='<!-- state: %s -->\n%s' % (state_before, self.xml_before or ''),
                    after='<!-- state: %s -->\n%s' % (state_after, self.xml_after or ''))
        return diff


def manage_domain_state(task):
    """Handler for virt_domain_state: returns the module's result dict."""
    return DomainStateRun(task).run()
