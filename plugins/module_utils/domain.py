# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: finding a domain by name or UUID, naming its state
# and reason, and the `domain` dict every module returns. Not a public API.

from __future__ import annotations

import re

from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

# Selector options every domain module takes (mutually exclusive).
SELECTOR_ARGUMENT_SPEC = dict(
    name=dict(type='str'),
    uuid=dict(type='str'),
)

_STATE_CONSTANTS = (
    ('VIR_DOMAIN_NOSTATE', 'nostate'),
    ('VIR_DOMAIN_RUNNING', 'running'),
    ('VIR_DOMAIN_BLOCKED', 'blocked'),
    ('VIR_DOMAIN_PAUSED', 'paused'),
    ('VIR_DOMAIN_SHUTDOWN', 'shutdown'),
    ('VIR_DOMAIN_SHUTOFF', 'shutoff'),
    ('VIR_DOMAIN_CRASHED', 'crashed'),
    ('VIR_DOMAIN_PMSUSPENDED', 'pmsuspended'),
)

# VIR_DOMAIN_SHUTDOWN_* mixes the shutdown state's reasons with shutdown() flags
# (DEFAULT, ACPI_POWER_BTN, ...); only these two are reasons.
_SHUTDOWN_REASONS = ('VIR_DOMAIN_SHUTDOWN_UNKNOWN', 'VIR_DOMAIN_SHUTDOWN_USER')

_UUID_RE = re.compile(r'^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$')


def _state_tables():
    states, reasons = {}, {}
    for constant, state_name in _STATE_CONSTANTS:
        value = getattr(libvirt, constant)
        states[value] = state_name
        prefix = constant + '_'
        names = _SHUTDOWN_REASONS if state_name == 'shutdown' else \
            [n for n in dir(libvirt) if n.startswith(prefix) and not n.endswith('_LAST')]
        reasons[value] = dict((getattr(libvirt, n), n[len(prefix):].lower()) for n in names)
    return states, reasons


_TABLES = None


def state_names(state, reason):
    """(state name, reason name) for libvirt's numeric state and reason."""
    global _TABLES
    if _TABLES is None:
        _TABLES = _state_tables()
    states, reasons = _TABLES
    return states.get(state, 'unknown'), reasons.get(state, {}).get(reason, 'unknown')


def canonical_uuid(text):
    """Lower-case dashed UUID, or InputError: libvirt accepts it with or without dashes."""
    if not isinstance(text, str) or not _UUID_RE.match(text.strip()):
        raise InputError("invalid uuid %r: expected 32 hexadecimal digits, for example "
                         "'c7a5fdbd-edaf-9455-926a-d65c16db1809'" % (text,))
    digits = text.strip().replace('-', '').lower()
    return '-'.join((digits[:8], digits[8:12], digits[12:16], digits[16:20], digits[20:]))


def lookup_domain(conn, name=None, uuid=None):
    """The domain with that name or UUID, or None when there is none."""
    try:
        if uuid is not None:
            return conn.lookupByUUIDString(canonical_uuid(uuid))
        return conn.lookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def selector_label(name=None, uuid=None):
    """How a message names the domain a task is about."""
    if uuid is not None:
        return "uuid '%s'" % uuid
    if name is not None:
        return "'%s'" % name
    return None


def domain_state(dom):
    """(state name, reason name) of a domain as it is now."""
    state, reason = dom.state()
    return state_names(state, reason)


def describe_domain(dom):
    """The `domain` dict every module returns: who it is and what state it is in now."""
    state, reason = domain_state(dom)
    persistent = bool(dom.isPersistent())
    return dict(
        name=dom.name(),
        uuid=dom.UUIDString(),
        id=dom.ID() if dom.isActive() else None,
        state=state,
        state_reason=reason,
        persistent=persistent,
        # A transient domain has no autostart setting; libvirt refuses to read it.
        autostart=bool(dom.autostart()) if persistent else False,
    )
