# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the connection options every module shares, and
# opening/closing one libvirt connection per task. Not a public API.

from __future__ import annotations

import os

from ansible_collections.domainops.libvirt.plugins.module_utils.errors import LibvirtCallError

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

DEFAULT_URI = 'qemu:///system'

# Mirrored by plugins/doc_fragments/connection.py; keep the two in step.
CONNECTION_ARGUMENT_SPEC = dict(
    uri=dict(type='str'),
    username=dict(type='str'),
    password=dict(type='str', no_log=True),
)


def resolve_uri(params):
    """The URI a task uses: the option, else LIBVIRT_DEFAULT_URI, else qemu:///system."""
    return params.get('uri') or os.environ.get('LIBVIRT_DEFAULT_URI') or DEFAULT_URI


def _silence_libvirt_stderr():
    # libvirt's default handler prints every error to stderr as well as raising it;
    # the module reports the error once, in its result.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def error_code_name(code):
    """VIR_ERR_* name for a libvirt error code, for messages a user can search."""
    for name in dir(libvirt):
        # VIR_ERR_NONE/WARNING/ERROR are error levels that share the code numbers.
        if name.startswith('VIR_ERR_') and name not in ('VIR_ERR_NONE', 'VIR_ERR_WARNING', 'VIR_ERR_ERROR') \
                and getattr(libvirt, name) == code:
            return name
    return 'unknown'


def describe_libvirt_error(err):
    """libvirt's own message plus its code, on one line."""
    message = (err.get_error_message() or str(err)).strip().replace('\n', ' ')
    code = err.get_error_code()
    return '%s (libvirt error %s %s)' % (message, code, error_code_name(code))


def open_connection(params, readonly=False, uri=None):
    """Open the task's connection (or, with `uri`, another one with the same credentials).

    With username/password it authenticates through openAuth.
    """
    _silence_libvirt_stderr()
    uri = uri or resolve_uri(params)
    try:
        if params.get('username') is not None or params.get('password') is not None:
            return _open_with_credentials(uri, params.get('username'), params.get('password'), readonly)
        if readonly:
            return libvirt.openReadOnly(uri)
        return libvirt.open(uri)
    except libvirt.libvirtError as err:
        raise LibvirtCallError('cannot connect to libvirt at %s: %s' % (uri, describe_libvirt_error(err)))


def _open_with_credentials(uri, username, password, readonly):
    def answer(credentials, _opaque):
        for cred in credentials:
            if cred[0] in (libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_USERNAME):
                cred[4] = username or cred[3]
            elif cred[0] == libvirt.VIR_CRED_PASSPHRASE:
                cred[4] = password or ''
            else:  # a prompt this task has no answer for: let libvirt refuse it
                return -1
        return 0

    auth = [[libvirt.VIR_CRED_AUTHNAME, libvirt.VIR_CRED_USERNAME, libvirt.VIR_CRED_PASSPHRASE], answer, None]
    flags = libvirt.VIR_CONNECT_RO if readonly else 0
    return libvirt.openAuth(uri, auth, flags)


def close_connection(conn):
    """Close without letting a failing close hide the task's real outcome."""
    if conn is None:
        return
    try:
        conn.close()
    except libvirt.libvirtError:
        pass
