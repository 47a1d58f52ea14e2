"""Run a module of the collection in-process, the way Ansible runs it, and snapshot domains.

Shared by the reliability tests (tests/unit/test_check_mode_matrix.py, test_bad_input.py,
tests/system/test_*). Unlike tests/unit/conftest.py's fixture, the module's real
exit_json/fail_json run: the result is the JSON the controller would receive, after
Ansible's own no_log masking and with the invocation injected, so tests can assert what
a user would really see. An exception escaping the module is returned as
``{'crashed': True, 'traceback': ...}`` instead of raised, so a table can report it.

    from modrun import run_module, snapshot
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import traceback

import libvirt
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

MODULES = ('virt_domain_state', 'virt_domain_device', 'virt_domain_autostart', 'virt_domain_info',
           'virt_domain_screenshot', 'virt_domain_send_key', 'virt_domain_migrate',
           'virt_domain_snapshot', 'virt_domain_clone')


def _reset_globals():
    # Warnings and deprecations are process-global in ansible-core: one run's must not
    # show up in the next run's result.
    for name in ('_global_warnings', '_global_deprecations'):
        store = getattr(ansible_warnings, name, None)
        if store is not None:
            store.clear()


def run_module(module, args, uri, check=False, diff=False):
    """The module's result dict (failed=True on failure; crashed=True on an exception)."""
    mod = importlib.import_module('ansible_collections.domainops.libvirt.plugins.modules.%s' % module)
    args = dict(args)
    if uri is not None:
        args.setdefault('uri', uri)
    args.update(_ansible_check_mode=check, _ansible_diff=diff, _ansible_inject_invocation=True)
    _reset_globals()
    out = io.StringIO()
    with patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            mod.main()
        except SystemExit:
            pass
        except Exception:  # noqa: BLE001  a crash is a result the tests assert on
            return dict(crashed=True, failed=True, msg='module crashed', traceback=traceback.format_exc(),
                        stdout=out.getvalue())
    text = out.getvalue().strip()
    if not text:
        return dict(crashed=True, failed=True, msg='module printed nothing', traceback='', stdout='')
    result = json.loads(text.splitlines()[-1])
    result.setdefault('failed', False)
    result['stdout'] = text
    return result


def snapshot(conn, name):
    """Everything a task could change about one domain, as comparable values (None: absent)."""
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise
    persistent = bool(dom.isPersistent())
    active = bool(dom.isActive())
    return dict(
        uuid=dom.UUIDString(),
        state=dom.state(),
        active=active,
        persistent=persistent,
        autostart=bool(dom.autostart()) if persistent else None,
        live=dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE) if active else None,
        inactive=dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
        if persistent else None,
        managed_save=bool(dom.hasManagedSaveImage(0)) if persistent else None,
    )


def snapshot_all(conn, names=None):
    """{name: snapshot} of the named domains, or of every domain (names None)."""
    if names is None:
        names = sorted(d.name() for d in conn.listAllDomains(0))
    return dict((name, snapshot(conn, name)) for name in names)


def one_line_problems(result):
    """Why a failed result's message is not a clean one-line error ([] when it is)."""
    problems = []
    msg = result.get('msg')
    if result.get('crashed'):
        return ['module crashed: %s' % result.get('traceback')]
    if not result.get('failed'):
        return ['did not fail']
    if not isinstance(msg, str) or not msg.strip():
        problems.append('empty message')
    elif '\n' in msg or '\r' in msg:
        problems.append('message has a newline: %r' % msg)
    if 'Traceback' in str(msg) or 'exception' in result or 'module_stderr' in result:
        problems.append('traceback in the result')
    return problems


def remove_domain(conn, name):
    """Destroy and undefine `name` if it exists (cleanup; never raises for a missing domain)."""
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    try:
        if dom.isActive():
            dom.destroy()
    except libvirt.libvirtError:
        pass
    try:
        if not dom.isPersistent():
            return
    except libvirt.libvirtError:
        return  # a transient domain is gone once destroyed
    # Everything libvirt refuses a plain undefine for; a driver that does not know a
    # flag (the test driver: checkpoints, NVRAM, TPM) gets fewer, then none.
    every = ('VIR_DOMAIN_UNDEFINE_MANAGED_SAVE', 'VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA',
             'VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA', 'VIR_DOMAIN_UNDEFINE_NVRAM', 'VIR_DOMAIN_UNDEFINE_TPM')
    for names in (every, every[:2], ()):
        try:
            dom.undefineFlags(sum(getattr(libvirt, flag, 0) for flag in names))
            return
        except libvirt.libvirtError:
            continue


def warnings_of(result):
    """The warning texts of a result (ansible-core 2.19+ returns them as event dicts)."""
    texts = []
    for warning in result.get('warnings') or []:
        if isinstance(warning, dict):
            warning = (warning.get('event') or {}).get('msg', warning.get('msg', ''))
        texts.append(warning)
    return texts


def step(conn, name, module, args, expect_actions, again=True, snap=None):
    """One change shown four times, on the real daemon: a check run (with --diff) leaves the
    domain byte-identical (live and inactive XML, state, autostart); the real run does
    the same actions and reports changed; then (unless `again` is false: reboot and
    reset act on every run) a check run and a real run again change nothing. Returns
    the first real result. `name` is added to `args` unless a
    virt_domain_state task names the domain in its xml. `snap(conn, name)` snapshots
    what check mode must leave alone (default: the domain `name`)."""
    snap = snap or snapshot
    args = dict(args, name=name) if 'xml' not in args or module != 'virt_domain_state' else dict(args)
    uri = conn.getURI()
    before = snap(conn, name)
    checked = run_module(module, args, uri, check=True, diff=True)
    assert not checked['failed'], checked['msg']
    assert snap(conn, name) == before, 'check mode changed %s (%s %s)' % (name, module, args)
    real = run_module(module, args, uri)
    assert not real['failed'], real['msg']
    assert checked['actions'] == real['actions'] == expect_actions, (checked['actions'], real['actions'])
    assert checked['changed'] == real['changed'] == bool(expect_actions)
    if again:
        for check in (True, False):
            replay = run_module(module, args, uri, check=check)
            assert not replay['failed'], replay['msg']
            assert replay['actions'] == [] and not replay['changed'], replay
    return real
