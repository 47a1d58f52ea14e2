# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: waiting for a guest with libvirt events instead of
# sleep loops (lifecycle changes, reboots, device removal). Not a public API.

from __future__ import annotations

import threading
import time

from ansible_collections.domainops.libvirt.plugins.module_utils.errors import DomainOpsError, LibvirtCallError

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

_loop_lock = threading.Lock()
_loop_started = False

# Events only wake a waiter up; the condition is always re-read from libvirt. The
# re-read also runs this often without an event, so a wait survives an event lost
# while libvirtd restarts.
_RECHECK_SECONDS = 2.0
# How often a lost connection is tried again while libvirtd restarts.
_REOPEN_SECONDS = 0.5
# A libvirtd that hangs (stopped, deadlocked) keeps its socket open: a call then blocks
# until keepalive gives up on the connection, after about interval x (count + 1)
# seconds (libvirt's own default, 5 x 6 = 30 s, would hold a wait that long past its
# timeout). A daemon that is only busy still answers keepalive from its event loop.
KEEPALIVE_INTERVAL = 1
KEEPALIVE_COUNT = 3


def start_event_loop():
    """Register libvirt's default event loop and run it in a daemon thread (once per process).

    libvirt requires this before the connection whose events are wanted is opened.
    """
    global _loop_started
    with _loop_lock:
        if _loop_started:
            return
        libvirt.virEventRegisterDefaultImpl()
        thread = threading.Thread(target=_run_event_loop, name='libvirt-events')
        thread.daemon = True
        thread.start()
        _loop_started = True


def keep_alive(conn):
    """Short keepalive on a connection whose waits must end (needs the event loop running)."""
    try:
        conn.setKeepAlive(KEEPALIVE_INTERVAL, KEEPALIVE_COUNT)
    except libvirt.libvirtError:
        pass  # a driver without keepalive (test://, a local in-process driver): nothing to detect


def _call_until(deadline, func, *args):
    """func(*args), given up (TimeoutError) at the deadline: opening a connection to a
    libvirtd that accepts on its socket but never answers blocks with no timeout of its
    own. The call goes on in a daemon thread that the process does not wait for."""
    outcome = {}

    def call():
        try:
            outcome['value'] = func(*args)
        except BaseException as err:  # noqa: BLE001  handed over to the waiting thread
            outcome['error'] = err
    thread = threading.Thread(target=call, name='libvirt-reopen')
    thread.daemon = True
    thread.start()
    thread.join(max(0.0, deadline - time.monotonic()))
    if thread.is_alive():
        raise TimeoutError('libvirtd accepted the connection but did not answer')
    if 'error' in outcome:
        raise outcome['error']
    return outcome['value']


def _run_event_loop():
    while True:
        libvirt.virEventRunDefaultImpl()


class DomainEvents(object):
    """Listens to one domain's events while a task waits for it.

    Use as a context manager, opened *before* the call whose effect is awaited, so
    that no event can slip past between the call and the wait.
    """

    def __init__(self, conn, dom, reconnect=None):
        self.conn = conn
        self.dom = dom
        # reconnect(uuid) -> (conn, dom or None): a new connection after libvirtd went away
        # (the owner keeps using what it returns). Without it a lost connection ends the wait.
        self._reconnect = reconnect
        self._uuid = dom.UUIDString()
        self.reconnects = 0
        self._cond = threading.Condition()
        self.removed_aliases = []
        self.removal_failed = []
        self.reboots = 0
        self.lifecycle = []  # (event name, detail) in order of arrival
        self.connection_lost = False
        self.close_reason = None
        self._callback_ids = []
        self._close_registered = False
        self._generation = 0

    def __enter__(self):
        self._register()
        return self

    def _register(self):
        """Register every callback; when one fails, the ones already registered are
        deregistered again (nothing may keep calling into a finished task)."""
        self._callback_ids = []
        self._close_registered = False
        if self.dom is None:  # gone (after a reconnect): no domain events to wait for
            return
        try:
            for event_id, callback in (
                    (libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle),
                    (libvirt.VIR_DOMAIN_EVENT_ID_REBOOT, self._on_reboot),
                    (libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, self._on_device_removed),
                    (libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED, self._on_removal_failed)):
                self._callback_ids.append(self.conn.domainEventRegisterAny(self.dom, event_id, callback, None))
        except BaseException:
            self._deregister()
            raise
        try:
            self.conn.registerCloseCallback(self._on_close, None)
            self._close_registered = True
        except libvirt.libvirtError:  # test:// and some drivers have no close callback
            self._close_registered = False

    def __exit__(self, *exc):
        self._deregister()
        return False

    def _deregister(self):
        callback_ids, self._callback_ids = self._callback_ids, []
        for callback_id in callback_ids:
            try:
                self.conn.domainEventDeregisterAny(callback_id)
            except libvirt.libvirtError:
                pass  # connection already gone; nothing left to deregister
        if self._close_registered:
            self._close_registered = False
            try:
                self.conn.unregisterCloseCallback()
            except libvirt.libvirtError:
                pass

    def _notify(self):
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def _on_lifecycle(self, _conn, _dom, event, detail, _opaque):
        self.lifecycle.append((event, detail))
        self._notify()

    def _on_reboot(self, _conn, _dom, _opaque):
        self.reboots += 1
        self._notify()

    def _on_device_removed(self, _conn, _dom, alias, _opaque):
        self.removed_aliases.append(alias)
        self._notify()

    def _on_removal_failed(self, _conn, _dom, alias, _opaque):
        self.removal_failed.append(alias)
        self._notify()

    def _on_close(self, _conn, reason, _opaque):
        self.close_reason = reason
        self.connection_lost = True
        self._notify()

    def wait(self, condition, timeout):
        """Wait until condition() is true or `timeout` seconds pass; returns (met, seconds waited).

        condition() re-reads libvirt; it is evaluated at once, after every event and at
        least every few seconds. When the connection to libvirtd is lost (the daemon
        restarted), a new one is opened within the same timeout and the wait goes on;
        without `reconnect`, or when none can be opened in time, the wait ends with an error.
        """
        started = time.monotonic()
        deadline = started + timeout
        while True:
            seen = self._generation
            if self.connection_lost:
                self._reopen(started, deadline)
                continue
            # Evaluated without the lock: it calls libvirt, and the event thread must
            # stay free to deliver events meanwhile.
            try:
                met = condition()
            except libvirt.libvirtError:
                if self._alive():
                    raise
                self.connection_lost = True  # the close event may come later than the failed call
                continue
            if met:
                return True, round(time.monotonic() - started, 3)
            left = deadline - time.monotonic()
            if left <= 0:
                return False, round(time.monotonic() - started, 3)
            with self._cond:
                if self._generation == seen:  # nothing arrived since the check
                    self._cond.wait(min(left, _RECHECK_SECONDS))

    def _alive(self):
        try:
            return self.conn.isAlive() == 1
        except libvirt.libvirtError:
            return False

    def _reopen(self, started, deadline):
        """A new connection and the same domain, tried until the deadline."""
        lost_after = time.monotonic() - started
        if self._reconnect is None:
            raise LibvirtCallError('the connection to libvirtd was lost while waiting (%.1f s); the guest was '
                                   'left as it was' % lost_after)
        self._deregister()
        last = None
        while True:
            try:
                self.conn, self.dom = _call_until(deadline, self._reconnect, self._uuid)
                break
            except (libvirt.libvirtError, DomainOpsError, TimeoutError) as err:
                last = err
            if time.monotonic() + _REOPEN_SECONDS > deadline:
                hung = '; libvirtd stopped answering' if self.close_reason == getattr(
                    libvirt, 'VIR_CONNECT_CLOSE_REASON_KEEPALIVE', -1) else ''
                raise LibvirtCallError(
                    'the connection to libvirtd was lost while waiting (after %.1f s%s) and could not be opened again '
                    'within the timeout (%.1f s in all): %s' % (
                        lost_after, hung, time.monotonic() - started,
                        _describe(last)))
            time.sleep(_REOPEN_SECONDS)
        self.connection_lost = False
        self.reconnects += 1
        self._register()

    def reconnect_note(self):
        """For messages: that the wait survived libvirtd going away."""
        if not self.reconnects:
            return ''
        return '; the connection to libvirtd was lost during the wait and opened again (%d time%s)' % (
            self.reconnects, '' if self.reconnects == 1 else 's')


def _describe(err):
    if err is None:
        return 'no answer'
    if isinstance(err, libvirt.libvirtError):
        return err.get_error_message()
    return getattr(err, 'msg', None) or str(err)
