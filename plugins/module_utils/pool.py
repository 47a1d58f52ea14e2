# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_pool. A storage pool is defined
# from XML (compared two-way: libvirt keeps no <metadata> for pools), built (its
# directory, volume group, ... made) when asked, started, refreshed, stopped, its
# storage deleted when asked, and undefined. Not a public API.

from __future__ import annotations

from ansible_collections.domainops.libvirt.plugins.module_utils.connection import describe_libvirt_error
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import LibvirtCallError
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_resource import ResourceRun, engine

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None


_FORMATTING = ('fs', 'logical', 'disk')


def _pool_xml():
    from ansible_collections.domainops.libvirt.plugins.module_utils import pool_xml
    return pool_xml


def lookup_pool(conn, name):
    """The pool called name, or None."""
    try:
        return conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            return None
        raise


class PoolRun(ResourceRun):
    noun = 'pool'
    keeps_record = False

    def __init__(self, task):
        self.kind = _pool_xml().POOL
        self.no_object = libvirt.VIR_ERR_NO_STORAGE_POOL
        super(PoolRun, self).__init__(task)
        self.defined_now = False

    def lookup(self, name):
        return lookup_pool(self.conn, name)

    def define_xml(self, text):
        self.defined_now = True
        return self.conn.storagePoolDefineXML(text, 0)

    def define(self, text):
        new = not self.exists
        super(PoolRun, self).define(text)
        if new and self.params['build']:
            self._build()

    def read_live(self):
        return self.obj.XMLDesc(0)

    def read_inactive(self):
        if not self.persistent:
            return self.obj.XMLDesc(0)
        try:
            return self.obj.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE)
        except libvirt.libvirtError as err:
            if err.get_error_code() != libvirt.VIR_ERR_INVALID_ARG:  # the test driver knows no flags
                raise
            return self.obj.XMLDesc(0)

    def _build(self):
        # Types whose build formats a device never overwrite one that holds data; for the
        # others (dir: mkdir) libvirt refuses the flag.
        pool_type = self.desired.get('type') if self.desired is not None else None
        if pool_type is None and self.obj is not None:
            _xml_engine, xml_text = engine()
            pool_type = xml_text.parse_xml(self.obj.XMLDesc(0), self.kind.what, ('pool',)).get('type')
        flags = libvirt.VIR_STORAGE_POOL_BUILD_NO_OVERWRITE if pool_type in _FORMATTING else 0
        try:
            self.act('build', self.obj_call('build'), flags)
        except libvirt.libvirtError as err:
            raise LibvirtCallError('libvirt could not build %s on %s: %s'
                                   % (self.label, self.task.uri, describe_libvirt_error(err)))

    def before_start(self):
        # a pool defined by this task was built right after its define
        if self.params['build'] and 'build' not in self.task.actions:
            self._build()

    def start(self):
        try:
            self.act('create', self.obj_call('create'), 0, active=True)
        except libvirt.libvirtError as err:
            hint = '' if self.params['build'] else ' (build: true makes its target, e.g. the directory of a dir pool)'
            raise LibvirtCallError('libvirt could not start %s on %s: %s%s'
                                   % (self.label, self.task.uri, describe_libvirt_error(err), hint))

    def after_state(self):
        if self.params['refresh'] and self.active and 'create' not in self.task.actions:
            # re-reads the volumes; changes nothing the task manages
            self.act('refresh', self.obj_call('refresh'), 0)
            self.ignored_actions += 1

    def before_undefine(self):
        if self.params['delete']:
            try:
                self.act('delete', self.obj_call('delete'), 0)
            except libvirt.libvirtError as err:
                raise LibvirtCallError('libvirt could not delete the storage of %s on %s: %s'
                                       % (self.label, self.task.uri, describe_libvirt_error(err)))

    def describe(self):
        described = self.base_description()
        described.update(type=None, path=None, capacity=None, allocation=None, available=None)
        if not self.exists:
            return described
        _xml_engine, xml_text = engine()
        pool_xml = _pool_xml()
        if self.obj is None:  # check mode, defined only in the plan
            root = self.desired
        else:
            root = xml_text.parse_xml(self.obj.XMLDesc(0), self.kind.what, ('pool',))
        described.update(type=root.get('type'), path=root.findtext('target/path'))
        if self.obj is not None and self.active:
            for key in ('capacity', 'allocation', 'available'):
                described[key] = pool_xml.size_bytes(root.find(key))
        return described


def manage_pool(task):
    """Handler for virt_pool: returns the module's result dict."""
    return PoolRun(task).run()
