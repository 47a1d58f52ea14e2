# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the AnsibleModule every module of the collection uses.
# It adds the connection options, opens one connection per task, and funnels every
# expected failure into one fail_json. Not a public API.

from __future__ import annotations

import re
import importlib.util


from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.domainops.libvirt.plugins.module_utils.connection import (
    CONNECTION_ARGUMENT_SPEC, close_connection, describe_libvirt_error, open_connection, resolve_uri)
from ansible_collections.domainops.libvirt.plugins.module_utils.domain import (
    SELECTOR_ARGUMENT_SPEC, canonical_uuid, lookup_domain, selector_label)
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import DomainOpsError, InputError
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_secrets import DEFAULT_SECRETS, parse_secret_paths

try:
    import libvirt
except ImportError:
    libvirt = None

# Only whether lxml is there: the XML code imports it where it is used.
HAS_LXML = importlib.util.find_spec('lxml') is not None


# passwd='...' / password="..." attributes (graphics, ...) in an XML option: their values
# are secrets Ansible must mask everywhere in the result, the returned invocation included.
_XML_SECRET_RE = re.compile(r'''\b(?:passwd|password)\s*=\s*(?:"([^"]*)"|'([^']*)')''')

# The option of every module whose result can hold XML; documented once in
# plugins/doc_fragments/secrets.py. Paths, not secrets: no_log is false on purpose.
SECRET_PATHS_ARGUMENT_SPEC = dict(
    secret_paths=dict(type='list', elements='str', default=[], no_log=False),
)


class Task(object):
    """What a module's handler works with: parameters, the connection and the actions taken."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.check_mode = module.check_mode
        self.uri = resolve_uri(module.params)
        self.conn = None
        self.other_connections = []  # more than one host in a task (migration); closed with conn
        self.domain_label = selector_label(module.params.get('name'), module.params.get('uuid'))
        self.actions = []
        self.failed_action = None  # the step that raised, when a mutation failed
        self.on_failure = {}  # result keys a handler wants reported also when the task fails
        self.warnings = []
        self.reports_actions = True  # false for a module that never changes anything
        self.readonly = False  # the connection is read-only
        self.keepalive = False  # short keepalive: the module waits on events (a hung libvirtd ends a wait)
        self.reveal_secrets = False  # the user asked for secrets (virt_domain_info xml_flags: [secure])

    def mutate(self, action, func, *args):
        """Call `func(*args)` unless in check mode; record `action` once it succeeded.

        Every call that changes something goes through here, so check mode reports
        the very actions a real run takes, and a failure can say which step failed
        and exactly which were done before it.
        """
        if not self.check_mode:
            try:
                result = func(*args)
            except Exception:
                self.failed_action = action  # attempted, not done
                raise
        else:
            result = None
        self.failed_action = None
        self.actions.append(action)
        return result

    def reopen(self):
        """A new connection in place of one libvirtd dropped (it restarted); the old one is closed."""
        close_connection(self.conn)
        self.conn = None
        self.conn = self._opened(open_connection(self.params, readonly=self.readonly))
        return self.conn

    def _opened(self, conn):
        if self.keepalive:
            from ansible_collections.domainops.libvirt.plugins.module_utils.events import keep_alive
            keep_alive(conn)
        return conn

    def connect(self, uri):
        """Another connection for this task (same credentials), closed when the task ends."""
        conn = self._opened(open_connection(self.params, readonly=self.readonly, uri=uri))
        self.other_connections.append(conn)
        return conn

    def lookup(self, required=True):
        """The domain the task's name/uuid selects (None if absent and not required)."""
        name, uuid = self.params.get('name'), self.params.get('uuid')
        if uuid is not None:
            uuid = canonical_uuid(uuid)
        dom = lookup_domain(self.conn, name=name, uuid=uuid)
        if dom is None and required:
            raise InputError('domain %s not found on %s; nothing was changed' % (self.domain_label, self.uri))
        if dom is not None:
            self.domain_label = "'%s'" % dom.name()
        return dom

    def warn(self, message):
        self.warnings.append(message)


class LibvirtModule(AnsibleModule):
    """AnsibleModule with the shared connection options (and, if asked, the name/uuid selector)."""

    def __init__(self, argument_spec, with_selector=True, hidden_unless=None, **kwargs):
        # {option: flag}: the option's value is never echoed unless the flag option is true.
        # Set first: AnsibleModule.__init__ already logs its arguments and may fail.
        self._hidden_unless = dict(hidden_unless or {})
        spec = dict(CONNECTION_ARGUMENT_SPEC)
        mutually_exclusive = list(kwargs.pop('mutually_exclusive', []))
        if with_selector:
            spec.update(SELECTOR_ARGUMENT_SPEC)
            mutually_exclusive.append(('name', 'uuid'))
        spec.update(argument_spec)
        super(LibvirtModule, self).__init__(argument_spec=spec, mutually_exclusive=mutually_exclusive, **kwargs)
        if libvirt is None:
            self.fail_json(msg=missing_required_lib('libvirt-python'))
        if not HAS_LXML:
            self.fail_json(msg=missing_required_lib('lxml'))
        try:
            parse_secret_paths(self.params.get('secret_paths'))
        except ValueError as err:
            self.fail_json(msg='%s; nothing was changed' % err)
        self._hide_xml_secrets()

    def _hide_xml_secrets(self):
        # The task's secret paths for every masking in this process (one task per
        # process; set again by each module, so in-process tests start afresh).
        try:
            DEFAULT_SECRETS.use_paths(parse_secret_paths(self.params.get('secret_paths')))
        except ValueError:
            DEFAULT_SECRETS.use_paths(())  # refused in __init__, once Ansible has set up
        text = self.params.get('xml')
        if not isinstance(text, str):
            return
        for match in _XML_SECRET_RE.finditer(text):
            value = match.group(1) if match.group(1) is not None else match.group(2)
            if value:
                self.no_log_values.add(value)
        if HAS_LXML:
            # Path secrets (cookies, OEM strings, QEMU arguments, the task's own paths)
            # in the echo of the arguments, in messages and in the host's log.
            from ansible_collections.domainops.libvirt.plugins.module_utils.xml_text import secret_values
            self.no_log_values.update(secret_values(text))

    def hidden_values(self):
        """{option: placeholder} of the values this task must not echo (see hidden_unless).

        Not no_log: Ansible masks a no_log value wherever it appears in the output, even
        inside other words, so a one-letter text would garble every message. The modules
        never put such a value in their results; only the echoes of the arguments need it.
        """
        params = getattr(self, 'params', None) or {}
        hidden = {}
        for name, flag in self._hidden_unless.items():
            value = params.get(name)
            if isinstance(value, str) and value and not boolean(params.get(flag), strict=False):
                hidden[name] = 'VALUE_HIDDEN (%d characters; %s: true shows it)' % (len(value), flag)
        return hidden

    def _log_invocation(self):
        # AnsibleModule logs its arguments to syslog/journald on the managed host.
        self._hide_xml_secrets()
        hidden = self.hidden_values()
        saved = dict((name, self.params[name]) for name in hidden)
        self.params.update(hidden)
        try:
            super(LibvirtModule, self)._log_invocation()
        finally:
            self.params.update(saved)

    def _echo_hidden(self, result):
        # The invocation echo (module_args) that Ansible adds to every result.
        hidden = self.hidden_values()
        if hidden and 'invocation' not in result:
            result['invocation'] = dict(module_args=dict(self.params, **hidden))

    def exit_json(self, **result):
        self._echo_hidden(result)
        super(LibvirtModule, self).exit_json(**result)

    def fail_json(self, msg, **result):
        self._echo_hidden(result)
        super(LibvirtModule, self).fail_json(msg, **result)

    def run(self, handler, readonly=False, events=False, changes=None):
        """Open the connection, call handler(task) -> result dict, report it; always close.

        `readonly` opens a read-only connection; a module that never changes anything
        (`changes` false, the default for readonly) reports no `actions`, whatever its
        connection (virt_domain_info needs a read-write one for secure XML).
        """
        task = Task(self)
        task.reports_actions = (not readonly) if changes is None else changes
        task.readonly = readonly
        try:
            if events:
                from ansible_collections.domainops.libvirt.plugins.module_utils.events import start_event_loop
                start_event_loop()
                task.keepalive = True
            task.conn = task._opened(open_connection(self.params, readonly=readonly))
            result = handler(task)
        except DomainOpsError as err:
            self._fail(task, err.msg, err.details)
        except libvirt.libvirtError as err:
            where = 'on %s' % task.uri
            if task.domain_label:
                where += ' for domain %s' % task.domain_label
            self._fail(task, 'libvirt failed %s: %s' % (where, describe_libvirt_error(err)), {})
        except Exception as err:  # noqa: BLE001  OSError and anything else: one line, never a traceback
            self._fail(task, describe_exception(task, err), {})
        finally:
            for conn in [task.conn] + task.other_connections:
                close_connection(conn)
        result = self._mask_secrets(task, result)
        for message in task.warnings:
            self.warn(message)
        result.setdefault('changed', False)
        if task.reports_actions:
            result.setdefault('actions', task.actions)
        self.exit_json(**result)

    def _mask_secrets(self, task, result):
        """Every XML text in the result with its secrets masked, and each secret found
        also hidden by Ansible wherever else it appears (messages, warnings)."""
        if task.reveal_secrets:
            return result
        from ansible_collections.domainops.libvirt.plugins.module_utils.xml_text import mask_xml_string
        masked = _map_strings(result, mask_xml_string)
        # a value of one or two characters would garble every number in the output
        self.no_log_values.update(value for value in DEFAULT_SECRETS.found if len(value.strip()) > 2)
        return masked

    def _fail(self, task, msg, details):
        details = self._mask_secrets(task, details)
        for message in task.warnings:
            self.warn(message)
        if task.reports_actions:  # a module that changes nothing has no actions to report
            # A handler that reports `actions` itself has said in its message what was done.
            if 'actions' not in details:
                msg += _done_note(task)
            details.setdefault('actions', list(task.actions))
            details.setdefault('failed_action', task.failed_action)
            # A step that succeeded changed something, whatever failed after it.
            details.setdefault('changed', bool(details['actions']))
            for key, value in task.on_failure.items():
                details.setdefault(key, value)
        self.fail_json(msg=msg, **details)


def _map_strings(value, func):
    """value with func applied to every string inside (dicts, lists, tuples)."""
    if isinstance(value, str):
        return func(value)
    if isinstance(value, dict):
        return dict((key, _map_strings(item, func)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_map_strings(item, func) for item in value)
    return value


def _done_note(task):
    """' (failed step: X; already done before the failure: A, B)' for the message."""
    done = 'would have been done' if task.check_mode else 'already done'
    before = '%s before the failure: %s' % (done, ', '.join(task.actions)) if task.actions else ''
    if task.failed_action is not None:
        return ' (failed step: %s; %s)' % (task.failed_action, before or 'nothing was done before it')
    return ' (%s)' % before if before else ''


def describe_exception(task, err):
    """One line for an exception nobody expected (OSError, a bug): what, where, why."""
    text = ' '.join(str(err).split()) or 'no message'
    where = ' for domain %s' % task.domain_label if task.domain_label else ''
    return 'the task failed%s on %s: %s: %s' % (where, task.uri, type(err).__name__, text)
