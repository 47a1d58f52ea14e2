# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: what virt_network and virt_pool share. A libvirt
# object defined from XML, found by name, that is active or not, persistent or not,
# and autostarts or not: define it with the compare-then-act engine, walk it to
# present/running/stopped/absent, set autostart, and report the result the same way
# virt_domain_state does. Subclasses (network.py, pool.py) say which libvirt calls
# do each step. Not a public API.

from __future__ import annotations

from ansible_collections.domainops.libvirt.plugins.module_utils.connection import describe_libvirt_error
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError, LibvirtCallError

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

STATES = ('present', 'running', 'stopped', 'absent')


def engine():
    # Imported late: the XML engine needs lxml, whose absence LibvirtModule reports.
    from ansible_collections.domainops.libvirt.plugins.module_utils import xml_engine, xml_text
    return xml_engine, xml_text


class ResourceRun(object):
    """One task on one named object. Subclasses set `noun`, `kind` (a ResourceKind),
    `no_object` (libvirt's error code for "not found"), `keeps_record` (whether the
    XML has a <metadata> for the applied record) and implement the libvirt calls."""

    noun = None
    kind = None
    no_object = None
    keeps_record = True

    def __init__(self, task):
        self.task = task
        self.conn = task.conn
        self.params = task.params
        self.check = task.check_mode
        self.want = self.params['state']
        self.obj = None
        self.exists = self.active = self.persistent = self.autostart = False
        self.desired = None
        self.name = self.params.get('name')
        self.differences = []
        self.live_differences = []
        self.restart_required = False
        self.record_status = None
        self.xml_before = self.xml_after = None
        self.ignored_actions = 0  # actions that change nothing (a refresh)
        self.planned_updates = False  # check mode: in-place changes planned for the live object
        task.domain_label = None  # libvirt errors name the object, not a domain

    # -- libvirt calls a subclass provides ---------------------------------------------

    def lookup(self, name):
        raise NotImplementedError

    def define_xml(self, text):
        raise NotImplementedError

    def read_inactive(self):
        raise NotImplementedError

    def read_live(self):
        raise NotImplementedError

    def describe(self):
        raise NotImplementedError

    def apply_definition(self, comparison, actual_text):
        """Make the stored definition the merged one (a subclass may do it in place)."""
        self.define(comparison.merged_text())

    def before_start(self):
        """Called before the object is started (a pool builds its target here)."""

    def before_undefine(self):
        """Called once the object is inactive, before it is undefined."""

    # -- the task -------------------------------------------------------------------------

    @property
    def label(self):
        return "%s '%s'" % (self.noun, self.name)

    def run(self):
        xml_engine, xml_text = engine()
        if self.params.get('xml'):
            self.desired = xml_text.parse_xml(self.params['xml'], self.kind.what, (self.kind.root_tag,))
            xml_name = (self.desired.findtext('name') or '').strip()
            if not xml_name:
                raise InputError('the %s has no <name>; nothing was changed' % self.kind.what)
            if self.name and self.name != xml_name:
                raise InputError("name '%s' and the <name> '%s' in xml differ; nothing was changed"
                                 % (self.name, xml_name))
            self.name = xml_name
        if not self.name:
            raise InputError('give name or xml; nothing was changed')
        self.obj = self.lookup(self.name)
        self._refresh()
        state_before = self._state()
        if not self.exists and self.want != 'absent' and self.desired is None:
            raise InputError('%s not found on %s; give xml to define it; nothing was changed'
                             % (self.label, self.task.uri))
        if self.desired is not None and self.want != 'absent':
            self._ensure_definition(xml_engine, xml_text)
        getattr(self, '_to_' + self.want)()
        if self.want != 'absent' and self.params.get('autostart') is not None:
            self._set_autostart(self.params['autostart'])
        self.after_state()
        return self._result(state_before)

    def after_state(self):
        """Called once the object is in the desired state (a pool refreshes here)."""

    def _refresh(self):
        if self.obj is None:
            return
        try:
            self.exists = True
            self.active = bool(self.obj.isActive())
            self.persistent = bool(self.obj.isPersistent())
            self.autostart = bool(self.obj.autostart()) if self.persistent else False
        except libvirt.libvirtError as err:
            if err.get_error_code() != self.no_object:
                raise
            self.obj, self.exists, self.active, self.persistent, self.autostart = None, False, False, False, False

    def _state(self):
        if not self.exists:
            return 'absent'
        return 'running' if self.active else 'stopped'

    def act(self, action, func, *args, **planned):
        """task.mutate, then the state re-read (real run) or set as planned (check mode)."""
        result = self.task.mutate(action, func, *args)
        if self.check:
            for key, value in planned.items():
                setattr(self, key, value)
        else:
            self._refresh()
        return result

    def define(self, text):
        try:
            obj = self.act('define', self.define_xml, text, exists=True, persistent=True)
        except libvirt.libvirtError as err:
            raise LibvirtCallError('libvirt rejected the definition of %s on %s: %s; nothing was changed'
                                   % (self.label, self.task.uri, describe_libvirt_error(err)))
        if obj is not None:
            self.obj = obj
            self._refresh()

    def _ensure_definition(self, xml_engine, xml_text):
        kind = self.kind
        if not self.exists:
            self.xml_before = ''
            self.differences = ['(new %s)' % self.noun]
            if self.keeps_record:
                self.record_status = 'written'
                canonical = xml_engine.Comparison(kind, self.desired, self.desired, record=None).desired
                text = xml_text.to_text(xml_engine.with_record(kind, self.desired, canonical),
                                        pretty=False, mask_secrets=False)
            else:
                text = xml_text.to_text(self.desired, pretty=False, mask_secrets=False)
            self.define(text)
            self.xml_after = xml_text.to_text(self.desired, pretty=True)
            return
        actual_text = self.read_inactive()
        comparison = xml_engine.Comparison(kind, self.desired, actual_text,
                                           record='stored' if self.keeps_record else None,
                                           write_record=self.keeps_record)
        if comparison.record_problem:
            self.task.warn('the applied record of %s is not used: %s; it is treated as absent '
                           '(nothing is removed this time) and replaced' % (self.label, comparison.record_problem))
        self.differences = comparison.paths
        if not self.persistent:
            self.differences.insert(0, '(make persistent)')
        if self.keeps_record:
            if not comparison.had_record:
                self.record_status = 'written'
            elif comparison.record_changed:
                self.record_status = 'updated'
            else:
                self.record_status = 'unchanged'
            if comparison.record_changed and not self.differences:
                self.differences.append('(applied record %s)' % self.record_status)
        self.xml_before = xml_text.to_text(comparison.actual, pretty=True)
        self.xml_after = self.xml_before
        if self.differences:
            self.apply_definition(comparison, actual_text)
            if self.check:
                self.xml_after = comparison.merged_text(pretty=True, mask_secrets=True)
            else:
                self.xml_after = xml_text.to_text(xml_text.parse_xml(self.read_inactive(), kind.what,
                                                                     (kind.root_tag,)), pretty=True)
        self.check_live(xml_engine)

    def check_live(self, xml_engine):
        """What the running object still lacks of xml, also when its definition has it."""
        if not self.active or self.restart_required or (self.check and self.planned_updates) \
                or 'destroy' in self.task.actions:
            return
        record = None
        if self.keeps_record and not self.check:
            record = xml_engine.Comparison(self.kind, self.desired, self.read_inactive()).record
        self.restart_for(xml_engine.Comparison(self.kind, self.desired, self.read_live(), record=record).paths)

    def restart_for(self, live_paths):
        if not live_paths:
            return
        if self.params['restart']:
            self.act('destroy', self.obj_call('destroy'), active=False)
            self.start()
            return
        self.restart_required = True
        self.live_differences = live_paths
        self.task.warn('%s is running and %s cannot change while it runs; the definition is changed and takes '
                       'effect when it restarts (restart: true does it)' % (self.label, ', '.join(live_paths)))

    # -- states -------------------------------------------------------------------------------

    def _to_present(self):
        pass

    def _to_running(self):
        if not self.active:
            self.before_start()
            self.start()

    def start(self):
        try:
            self.act('create', self.obj_call('create'), active=True)
        except libvirt.libvirtError as err:
            raise LibvirtCallError('libvirt could not start %s on %s: %s'
                                   % (self.label, self.task.uri, describe_libvirt_error(err)))

    def _to_stopped(self):
        self.restart_required, self.live_differences = False, []
        if self.active:
            self.act('destroy', self.obj_call('destroy'), active=False,
                     exists=self.persistent)

    def _to_absent(self):
        if not self.exists:
            return
        persistent = self.persistent
        self._to_stopped()
        if not persistent:
            return  # a transient object is gone once stopped
        self.before_undefine()
        self.act('undefine', self.obj_call('undefine'), exists=False, persistent=False, autostart=False)

    def _set_autostart(self, enabled):
        if self.autostart == enabled or not self.exists:
            return
        if not self.persistent:
            raise InputError('%s is transient and cannot autostart; give xml to define it' % self.label)
        self.act('set_autostart(%s)' % str(enabled).lower(), self.obj_call('setAutostart'), 1 if enabled else 0,
                 autostart=enabled)

    def obj_call(self, method):
        """A call of one of the object's methods; in check mode the object may not exist yet."""
        def call(*args):
            return getattr(self.obj, method)(*args)
        return call

    # -- the result ----------------------------------------------------------------------------

    def _result(self, state_before):
        described = self.describe()
        result = dict(
            changed=len(self.task.actions) > self.ignored_actions,
            differences=self.differences,
            restart_required=self.restart_required,
        )
        result[self.noun] = described
        if self.record_status is not None:
            result['applied_record'] = self.record_status
        if self.restart_required:
            result['live_differences'] = self.live_differences
        if self.task.module._diff:
            state_after = self._state()
            header = '%s %s' % (self.noun, self.name)
            diff = dict(before_header=header, after_header=header)
            if self.desired is None:
                diff.update(before='state: %s\n' % state_before, after='state: %s\n' % state_after)
            else:
                after = '' if state_after == 'absent' else self.xml_after
                if self.xml_before is None:  # xml given with state absent
                    self.xml_before = self.read_inactive() if self.obj is not None and state_before != 'absent' else ''
                diff.update(before='<!-- state: %s -->\n%s' % (state_before, self.xml_before or ''),
                            after='<!-- state: %s -->\n%s' % (state_after, after or ''))
            result['diff'] = diff
        return result

    def base_description(self):
        """name, uuid, active, persistent, autostart as the task leaves them."""
        if not self.exists:
            return dict(name=self.name, uuid=None, active=False, persistent=False, autostart=False)
        uuid = self.obj.UUIDString() if self.obj is not None else None
        return dict(name=self.name, uuid=uuid, active=self.active, persistent=self.persistent,
                    autostart=self.autostart)
