# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: virt_domain_state's wait_for_address. After the domain
# runs, wait until one of its interfaces has an address the task's rule accepts. The
# guest agent connecting (VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE) and the domain stopping
# (lifecycle) wake the wait up at once; DHCP leases and ARP entries have no libvirt
# event, so the sources are also polled every second. Not a public API.

from __future__ import annotations

import threading
import time

from ansible_collections.domainops.libvirt.plugins.module_utils import addresses
from ansible_collections.domainops.libvirt.plugins.module_utils.domain import describe_domain
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError, LibvirtCallError, WaitTimeout

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

# Mirrored by virt_domain_state's documentation.
WAIT_ARGUMENT_SPEC = dict(
    wait_for_address=dict(type='bool', default=False),
    address_source=dict(type='str', choices=[s for s in addresses.SOURCE_CHOICES if s != 'none'], default='any'),
    address_family=dict(type='str', choices=list(addresses.FAMILIES), default='any'),
    address_interface=dict(type='str'),
    address_include_local=dict(type='bool', default=False),
)

_POLL_SECONDS = 1.0


def check_wait_input(params):
    """wait_for_address only makes sense where the task leaves the guest running."""
    if params.get('wait_for_address') and params.get('state') != 'running':
        raise InputError('wait_for_address works with state running only, not with state %s; nothing was changed'
                         % params.get('state'))


class _Wakeups(object):
    """Wakes the wait up when the guest agent connects or the domain stops."""

    def __init__(self, conn, dom):
        self.conn = conn
        self.dom = dom
        self.stopped = False
        self._event = threading.Event()
        self._ids = []

    def __enter__(self):
        for event_id, callback in (('VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE', self._on_agent),
                                   ('VIR_DOMAIN_EVENT_ID_LIFECYCLE', self._on_lifecycle)):
            try:
                self._ids.append(self.conn.domainEventRegisterAny(self.dom, getattr(libvirt, event_id),
                                                                  callback, None))
            except (libvirt.libvirtError, AttributeError):
                pass  # a driver (or binding) without that event: polling alone
        return self

    def __exit__(self, *exc):
        for callback_id in self._ids:
            try:
                self.conn.domainEventDeregisterAny(callback_id)
            except libvirt.libvirtError:
                pass  # connection already gone
        return False

    def _on_agent(self, _conn, _dom, _state, _reason, _opaque):
        self._event.set()

    def _on_lifecycle(self, _conn, _dom, event, _detail, _opaque):
        if event in (libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_CRASHED):
            self.stopped = True
        self._event.set()

    def sleep(self, seconds):
        self._event.wait(max(0.0, seconds))
        self._event.clear()


def read_interfaces(dom, source, include_local, timeout=None):
    """(interface entries as virt_domain_info has them, notes per source) of the domain now.

    With `timeout`, the sources' answer is awaited that long at most: a guest agent
    that hangs would otherwise hold the wait for libvirt's own agent timeout (~5 s).
    """
    from ansible_collections.domainops.libvirt.plugins.module_utils.info import _interface, _interface_macs
    from lxml import etree
    root = etree.fromstring(dom.XMLDesc(0).encode('utf-8'))
    interfaces = [_interface(el) for el in root.iterfind('devices/interface')]
    for entry in interfaces:
        entry['addresses'] = []
    if not dom.isActive():
        return interfaces, {}
    found, notes = addresses.query_many([(None, dom, root)], source, include_local, timeout)[None]
    addresses.attach(interfaces, _interface_macs(root), found)
    return interfaces, notes


def _rule(params):
    """'IPv4 address on interface default from source any' for messages."""
    family = dict(any='IP', ipv4='IPv4', ipv6='IPv6')[params['address_family']]
    text = '%s address' % family
    if params.get('address_interface'):
        text += " on interface '%s'" % params['address_interface']
    return text + ' from source %s' % params['address_source']


def _seen(interfaces, notes):
    """What the last look found, for the timeout message."""
    shown = []
    for entry in interfaces:
        found = ', '.join('%s/%s (%s)' % (a['address'], a['prefix'], a['source']) for a in entry['addresses'])
        shown.append('%s on %s: %s' % (entry.get('mac'), entry.get('source'), found or 'no address'))
    shown.extend('%s: %s' % (source, note) for source, note in sorted(notes.items()))
    return '; '.join(shown) or 'no interfaces'


def _found(interfaces, params):
    found = addresses.first_address(interfaces, params['address_family'], params.get('address_interface'))
    return found['address'] if found else None


def wait_for_address(run):
    """For a DomainStateRun whose domain now runs: {'interfaces': [...], 'address': str or None}.

    Waits within the task's deadline (real runs); check mode only looks once, at a
    domain that already runs. Adds the seconds waited to run.waited.
    """
    params, task = run.params, run.task
    source, include_local = params['address_source'], params['address_include_local']
    dom = run.dom
    if dom is None or (run.check and not dom.isActive()):
        return dict(interfaces=[], address=None)  # check mode: only started in the plan
    interfaces, notes = read_interfaces(dom, source, include_local)
    if not interfaces:
        raise InputError('domain %s has no network interface, so no address to wait for' % task.domain_label)
    if not addresses.select_interfaces(interfaces, params.get('address_interface')):
        raise InputError("domain %s has no interface with MAC address or source '%s' (it has: %s)"
                         % (task.domain_label, params['address_interface'],
                            ', '.join('%s on %s' % (e.get('mac'), e.get('source')) for e in interfaces) or 'none'))
    if run.check or _found(interfaces, params) is not None:
        return dict(interfaces=interfaces, address=_found(interfaces, params))

    started = time.monotonic()
    try:
        with _Wakeups(run.conn, dom) as wakeups:
            while True:
                wakeups.sleep(min(_POLL_SECONDS, run.deadline - time.monotonic()))
                if wakeups.stopped or not dom.isActive():
                    run.waited += time.monotonic() - started
                    raise LibvirtCallError('domain %s stopped while waiting for an %s (after %.1f s); last seen: %s'
                                           % (task.domain_label, _rule(params), time.monotonic() - started,
                                              _seen(interfaces, notes)), waited=round(run.waited, 3))
                interfaces, notes = read_interfaces(dom, source, include_local,
                                                    timeout=max(0.1, run.deadline - time.monotonic()))
                address = _found(interfaces, params)
                if address is not None:
                    run.waited += time.monotonic() - started
                    return dict(interfaces=interfaces, address=address)
                if time.monotonic() >= run.deadline:
                    run.waited += time.monotonic() - started
                    # The timeout is the whole task's (the start included): say how long that took.
                    raise WaitTimeout('domain %s runs but has no %s after %.1f s (timeout %s s); last seen: %s'
                                      % (task.domain_label, _rule(params),
                                         time.monotonic() - (run.deadline - run.timeout), run.timeout,
                                         _seen(interfaces, notes)),
                                      waited=round(run.waited, 3), interfaces=interfaces,
                                      domain=describe_domain(dom))
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN or _alive(run.conn):
            raise
        run.waited += time.monotonic() - started
        raise LibvirtCallError('the connection to libvirtd was lost while waiting for an %s (after %.1f s); the '
                               'domain was left running' % (_rule(params), time.monotonic() - started),
                               waited=round(run.waited, 3))


def _alive(conn):
    try:
        return bool(conn.isAlive())
    except libvirt.libvirtError:
        return False
