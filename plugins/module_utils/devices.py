# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_domain_device (attach, update and
# detach one device, live and/or in the persistent definition). Not a public API.

from __future__ import annotations

import contextlib
import copy
import re
import time

from ansible_collections.domainops.libvirt.plugins.module_utils.connection import describe_libvirt_error
from ansible_collections.domainops.libvirt.plugins.module_utils.definition_lock import definition_lock
from ansible_collections.domainops.libvirt.plugins.module_utils.domain import describe_domain, lookup_domain
from ansible_collections.domainops.libvirt.plugins.module_utils.domain_xml import (
    Difference, compare_element, device_identity, etree, find_device, merge_device, parse_xml, to_text)
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import (
    InputError, LibvirtCallError, WaitTimeout)
from ansible_collections.domainops.libvirt.plugins.module_utils.events import DomainEvents

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

DEVICE_ARGUMENT_SPEC = dict(
    xml=dict(type='str', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    affect=dict(type='list', elements='str', choices=['live', 'config', 'current']),
    timeout=dict(type='float', default=30.0),
)

# Every element libvirt accepts as a child of <devices>.
DEVICE_TAGS = (
    'disk', 'controller', 'lease', 'filesystem', 'interface', 'input', 'sound', 'hostdev',
    'graphics', 'video', 'audio', 'redirdev', 'redirfilter', 'smartcard', 'serial', 'parallel',
    'console', 'channel', 'tpm', 'memballoon', 'rng', 'watchdog', 'nvram', 'panic', 'shmem',
    'memory', 'iommu', 'vsock', 'crypto', 'hub',
)

LIVE = 'live'
CONFIG = 'config'
# Persistent definition first: when the live part then fails (a guest that keeps a
# device, a field that cannot change live), the message can say what is already saved.
SCOPE_ORDER = (CONFIG, LIVE)

# Drives whose <source> is the inserted medium: no <source> means an empty drive.
REMOVABLE_MEDIA = ('cdrom', 'floppy')


def _flag(scope):
    return libvirt.VIR_DOMAIN_AFFECT_LIVE if scope == LIVE else libvirt.VIR_DOMAIN_AFFECT_CONFIG


def _xml_flags(scope):
    # SECURE: graphics passwords are part of the comparison (and masked in results).
    flags = libvirt.VIR_DOMAIN_XML_SECURE
    if scope == CONFIG:
        flags |= libvirt.VIR_DOMAIN_XML_INACTIVE
    return flags


def resolve_scopes(affect, active, persistent, label):
    """The scopes ('config', 'live') a task changes, from `affect` and the domain's state."""
    if not affect:
        # Default: persist the change, and apply it to the running guest too.
        scopes = set()
        if persistent:
            scopes.add(CONFIG)
        if active:
            scopes.add(LIVE)
        return [s for s in SCOPE_ORDER if s in scopes]
    wanted = set(affect)
    if 'current' in wanted:
        if len(wanted) > 1:
            raise InputError("affect 'current' cannot be combined with 'live' or 'config' "
                             "(got %s); nothing was changed" % ', '.join(affect))
        # libvirt's AFFECT_CURRENT: the running guest if there is one, else the definition.
        wanted = {LIVE} if active else {CONFIG}
    if LIVE in wanted and not active:
        raise InputError('domain %s is not running: affect live needs a running domain '
                         '(use affect config to change its persistent definition); '
                         'nothing was changed' % label)
    if CONFIG in wanted and not persistent:
        raise InputError('domain %s is transient: it has no persistent definition for affect config; '
                         'nothing was changed' % label)
    return [s for s in SCOPE_ORDER if s in wanted]


def device_label(el):
    """How messages name a device: its tag and what identifies it."""
    for path, attr in (('target', 'dev'), ('target', 'dir'), ('mac', 'address'), ('alias', 'name'),
                       ('target', 'name')):
        child = el.find(path)
        if child is not None and child.get(attr):
            return "%s '%s'" % (el.tag, child.get(attr))
    kind = el.get('type') or (el.find('model').get('type') if el.find('model') is not None else None)
    return '%s (%s)' % (el.tag, kind) if kind else el.tag


def _is_removable(el):
    return el.tag == 'disk' and el.get('device') in REMOVABLE_MEDIA


def _media_differences(desired, actual):
    """An empty cdrom/floppy asked for while one has a medium: the eject that
    "unspecified = keep" would otherwise miss."""
    if _is_removable(desired) and desired.find('source') is None:
        source = actual.find('source')
        # After an eject the live XML keeps an empty <source index='N'/>.
        inserted = None if source is None else (
            source.get('file') or source.get('dev') or source.get('name') or source.get('volume'))
        if inserted is not None:
            return [Difference('disk/source', inserted, None)]
    return []


def differences(desired, actual):
    """What the desired device changes in the actual one (empty when they match)."""
    return list(compare_element(desired, actual, {})) + _media_differences(desired, actual)


def overlay(actual, desired):
    """The actual device with what the desired one says laid over it.

    Addresses, aliases and everything the user left out stay as libvirt has them,
    so an update changes only what was asked.
    """
    base = copy.deepcopy(actual)
    if base.tag == 'disk' and (desired.find('source') is not None or _is_removable(desired)):
        # A new medium or image replaces the old source whole: its attributes
        # (index, the other source type's keys) and the backing chain describe
        # the previous image.
        for old in base.findall('source') + base.findall('backingStore'):
            base.remove(old)
    return merge_device(desired, base)


class DeviceTask(object):
    """One virt_domain_device run: decide per scope, act, wait, report."""

    def __init__(self, task):
        self.task = task
        self.params = task.params
        if self.params['timeout'] < 0:
            raise InputError('timeout must be 0 or more seconds, not %s; nothing was changed'
                             % _seconds(self.params['timeout']))
        self.desired = parse_device(self.params['xml'])
        self.label = device_label(self.desired)
        self.before = {}
        self.after = {}
        self.waited = 0.0
        self.saved = []  # actions done on the persistent definition, for messages

    # -- reading the domain -------------------------------------------------------
    def domain_root(self, scope):
        what = 'live XML' if scope == LIVE else 'persistent XML'
        return parse_xml(self.dom.XMLDesc(_xml_flags(scope)), what, ('domain',))

    def actual_device(self, scope):
        return find_device(self.domain_root(scope), self.desired)

    # -- the run ----------------------------------------------------------------
    def run(self):
        self.dom = self.task.lookup()
        scopes = resolve_scopes(self.params.get('affect'), bool(self.dom.isActive()),
                                bool(self.dom.isPersistent()), self.task.domain_label)
        for scope in scopes:
            actual = self.actual_device(scope)
            self.before[scope] = actual
            if self.params['state'] == 'present':
                self.after[scope] = self.make_present(scope, actual)
            else:
                self.after[scope] = self.make_absent(scope, actual)
        return self.result()

    def make_present(self, scope, actual):
        if actual is None:
            device = self.to_attach()
            self.call('attach', scope, self.dom.attachDeviceFlags, device)
            return self.read_back(scope, device)
        changes = differences(self.desired, actual)
        if not changes:
            return actual
        update = overlay(actual, self.desired)
        refused = None
        if scope == LIVE:
            def refused(err):
                return self.live_update_refused(changes, err) + self.stale_tray_note(err)
        self.call('update', scope, self.dom.updateDeviceFlags, update, refused)
        after = self.read_back(scope, update)
        if scope == LIVE and not self.task.check_mode and _tray_open(after):
            after = self.tray_settled(after)
        return after

    def stale_tray_note(self, err):
        """How to recover when QEMU refused a medium change because libvirt's view of the
        tray is stale (read now: it may have gone stale during this very change)."""
        if not _TRAY_NOT_OPEN.search(err.get_error_message() or ''):
            return ''
        try:
            live = self.actual_device(LIVE)
        except libvirt.libvirtError:
            return ''  # the original refusal is what matters
        if not _tray_open(live):
            return ''
        return '. libvirt reports the tray open, QEMU has it closed: ' + _STALE_TRAY

    def tray_settled(self, after):
        """The live drive once libvirt has seen its tray close (it closes the tray after
        every medium change, the event may lag); a tray still open is a warning."""
        deadline = time.monotonic() + _TRAY_SETTLE
        while _tray_open(after) and time.monotonic() < deadline:
            time.sleep(0.1)
            after = self.actual_device(LIVE)
        if _tray_open(after):
            self.task.warn(
                'libvirt still reports the tray of %s of domain %s open after the medium change, '
                'although the change closes it: %s The next medium change of this drive will fail '
                'until then.' % (self.label, self.task.domain_label, _STALE_TRAY))
        return after

    def to_attach(self):
        """The device to attach: as desired, except that an interface without a MAC
        takes the one the other scope already has, so that libvirt does not give the
        running guest and the definition two different MACs."""
        if self.desired.tag != 'interface' or self.desired.find('mac') is not None:
            return self.desired
        for known in list(self.after.values()) + list(self.before.values()):
            mac = known.find('mac') if known is not None else None
            if mac is not None:
                device = copy.deepcopy(self.desired)
                device.insert(0, etree.Element('mac', address=mac.get('address')))
                return device
        return self.desired

    def make_absent(self, scope, actual):
        if actual is None:
            return None
        # The device as libvirt describes it (with its address and alias): the XML the
        # user wrote may lack what libvirt needs to pick the device (and a disk without
        # <target> once crashed libvirtd).
        if scope == CONFIG:
            self.call('detach', scope, self.dom.detachDeviceFlags, actual)
            return None if self.task.check_mode else self.actual_device(scope)
        return self.detach_live(actual)

    def detach_live(self, actual):
        if self.task.check_mode:
            self.call('detach', LIVE, self.dom.detachDeviceFlags, actual)
            return None
        alias_el = actual.find('alias')
        alias = alias_el.get('name') if alias_el is not None else None
        timeout = self.params['timeout']
        state = {}

        # Listening starts before the detach call: qemu may report the removal
        # before the call returns.
        with DomainEvents(self.task.conn, self.dom, reconnect=self._reconnect) as events:
            started = time.monotonic()
            self.call('detach', LIVE, self.dom.detachDeviceFlags, actual)

            def released():
                if alias is not None and alias in events.removal_failed:
                    self.waited = round(time.monotonic() - started, 3)
                    self.after[LIVE] = actual
                    raise LibvirtCallError(
                        'the guest refused to release %s (alias %s): libvirt reported '
                        'DEVICE_REMOVAL_FAILED; it is still attached to the running domain%s'
                        % (self.label, alias, self.saved_note()), **self.details())
                if alias is not None and alias in events.removed_aliases:
                    return True
                if self.dom is None or not self.dom.isActive():  # no running guest, no live device
                    return True
                state['left'] = self.actual_device(LIVE)
                return state['left'] is None

            left = max(0.0, timeout - (time.monotonic() - started))
            released_in_time = events.wait(released, left)[0]
            self.waited = round(time.monotonic() - started, 3)
        if not released_in_time:
            self.after[LIVE] = state.get('left', actual)
            raise WaitTimeout(
                'the guest did not release %s within %s s: the detach request was sent '
                '(detach (live)) but the device is still in the live XML of domain %s%s%s'
                % (self.label, _seconds(timeout), self.task.domain_label, self.saved_note(),
                   events.reconnect_note()),
                **self.details())
        return None

    def _reconnect(self, uuid):
        """libvirtd went away during the wait: go on with a new connection (dom None when gone)."""
        conn = self.task.reopen()
        self.dom = lookup_domain(conn, uuid=uuid)
        return conn, self.dom

    # -- helpers ----------------------------------------------------------------
    def call(self, verb, scope, func, device_el, refused=None):
        """One mutating libvirt call through task.mutate, its failure as a clear message."""
        action = '%s (%s)' % (verb, scope)
        xml = to_text(device_el, pretty=False, mask_secrets=False)
        # a change of the definition waits for a virt_domain_state define in progress
        hold = definition_lock(self.dom.UUIDString(), self.task.domain_label) \
            if scope == CONFIG and not self.task.check_mode else contextlib.nullcontext()
        try:
            with hold:
                self.task.mutate(action, func, xml, _flag(scope))
        except libvirt.libvirtError as err:
            msg = refused(err) if refused else self.refusal(verb, scope, err)
            raise LibvirtCallError(msg, **self.details())
        if scope == CONFIG:
            self.saved.append(action)

    def refusal(self, verb, scope, err):
        where = 'running domain' if scope == LIVE else 'persistent definition of domain'
        if err.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
            reason = 'the libvirt driver at %s does not support it' % self.task.uri
        elif not _alive(self.task.conn):
            reason = 'the connection to libvirtd was lost during the call (libvirtd stopped or restarted)'
        else:
            reason = 'libvirt refused it'
        msg = 'cannot %s %s (%s) in the %s %s: %s: %s' % (
            verb, self.label, scope, where, self.task.domain_label, reason, describe_libvirt_error(err))
        return msg + self.done_note()

    def done_note(self):
        if not self.task.actions:
            return '; nothing was changed'
        done = 'would have been done' if self.task.check_mode else 'already done'
        return '; %s: %s' % (done, ', '.join(self.task.actions))

    def live_update_refused(self, changes, err):
        paths = ', '.join(sorted(set(c.path for c in changes)))
        msg = ('cannot change %s of %s on the running domain %s: %s'
               % (paths, self.label, self.task.domain_label, describe_libvirt_error(err)))
        if self.saved:
            msg += ('; the persistent definition was updated (%s), the running guest gets '
                    'the change when the domain is next started' % ', '.join(self.saved))
        else:
            msg += '; nothing was changed'
        return msg

    def saved_note(self):
        if self.saved:
            return '; the persistent definition was changed (%s)' % ', '.join(self.saved)
        return '; the persistent definition was not changed'

    def read_back(self, scope, predicted):
        """The device after a change: predicted in check mode, read from libvirt otherwise."""
        if self.task.check_mode:
            return predicted
        return self.actual_device(scope)

    def device_result(self):
        def text(el):
            return None if el is None else to_text(el, pretty=True, mask_secrets=True)
        return dict(before=dict((s, text(el)) for s, el in self.before.items()),
                    after=dict((s, text(el)) for s, el in self.after.items()))

    def details(self):
        """Result keys a failure still reports (its message already says what was done)."""
        return dict(device=self.device_result(), waited=self.waited,
                    actions=list(self.task.actions), changed=bool(self.task.actions))

    def result(self):
        device = self.device_result()
        result = dict(
            changed=bool(self.task.actions),
            device=device,
            waited=self.waited,
            domain=describe_domain(self.dom),
        )
        if self.task.module._diff:
            result['diff'] = [
                dict(before=device['before'][scope] or '', after=device['after'][scope] or '',
                     before_header='%s %s (%s)' % (self.task.domain_label, self.label, scope),
                     after_header='%s %s (%s)' % (self.task.domain_label, self.label, scope))
                for scope in SCOPE_ORDER if scope in device['before']
            ]
        return result


def _seconds(value):
    return ('%g' % value)


# QEMU's words when it finds a drive's tray closed that libvirt believes open.
_TRAY_NOT_OPEN = re.compile(r'Tray of (the )?device .*is not open')
_TRAY_SETTLE = 1.0
# Measured on libvirt 9.0 / QEMU 7.2 (docs/troubleshooting.md): a guest that resets its
# IDE channel while libvirt changes a medium (firmware and OS drivers do so while they
# probe the bus at boot) closes the tray without a QEMU event. libvirt keeps the tray as
# open and skips opening it for every later change, which QEMU then refuses.
_STALE_TRAY = ('libvirt lost track of the tray (the guest reset the drive during a medium change, '
               'as firmware and OS drivers do while they probe the IDE bus at boot). Restarting '
               'libvirtd (it re-reads the tray state from QEMU) or the domain clears this.')


def _alive(conn):
    if conn is None:
        return True  # nothing to tell
    try:
        return conn.isAlive() == 1
    except libvirt.libvirtError:
        return False


def _tray_open(device):
    target = device.find('target') if device is not None else None
    return target is not None and target.get('tray') == 'open'


def parse_device(text):
    """The desired device element; InputError when it is not one device with its identity."""
    el = parse_xml(text, 'device xml', DEVICE_TAGS)
    # libvirt must never get a device without its identity key (libvirtd 9.0
    # crashed on a disk detach without <target>).
    try:
        device_identity(el)
    except InputError as err:
        raise InputError('device xml: %s; nothing was changed' % err.msg)
    return el


def manage_device(task):
    """The virt_domain_device handler for LibvirtModule.run."""
    return DeviceTask(task).run()
