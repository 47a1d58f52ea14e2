# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: which disk images `state: absent` with
# `remove_storage` may delete. An image is deleted only when nothing else uses it:
# no other domain (its persistent and its live definition, in any state), and no
# backing chain of another domain's disk or of another image. Not a public API.

from __future__ import annotations

import os
import stat
import struct
from urllib.parse import urlparse

from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

# qcow2 header (QEMU's docs/interop/qcow2.txt), big-endian: magic, version, then the
# backing file name's offset (u64) and length (u32). QEMU caps the name at 1023 bytes.
_QCOW2_MAGIC = b'QFI\xfb'
_QCOW2_HEADER = struct.Struct('>4sIQI')
_MAX_BACKING_NAME = 1023
# A chain longer than this is broken or a loop; QEMU itself stops far earlier.
_MAX_CHAIN = 64


def _engine():
    # Imported late: the XML engine needs lxml, whose absence LibvirtModule reports.
    from ansible_collections.domainops.libvirt.plugins.module_utils import domain_xml
    return domain_xml


def qcow2_backing_file(path):
    """The backing file a qcow2 image names (absolute), or None (no backing file, not
    qcow2, unreadable, or a backing that is not a local file, like nbd:// or json:)."""
    try:
        if stat.S_ISFIFO(os.stat(path).st_mode) or stat.S_ISSOCK(os.stat(path).st_mode) or os.path.isdir(path):
            return None  # opening a FIFO would block; neither holds an image
        with open(path, 'rb') as handle:
            header = handle.read(_QCOW2_HEADER.size)
            if len(header) < _QCOW2_HEADER.size:
                return None
            magic, _version, offset, size = _QCOW2_HEADER.unpack(header)
            if magic != _QCOW2_MAGIC or not offset or not size or size > _MAX_BACKING_NAME:
                return None
            handle.seek(offset)
            name = handle.read(size).decode('utf-8', 'surrogateescape')
    except OSError:
        return None
    if not name or name.startswith('json:') or '://' in name:
        return None
    # A relative name is relative to the directory of the image that names it.
    return os.path.normpath(os.path.join(os.path.dirname(path), name))


class _Users(object):
    """Who uses which path: {key: description}, first user wins."""

    def __init__(self, key):
        self.key = key
        self.by_path = {}

    def add(self, path, who):
        if path:
            self.by_path.setdefault(self.key(path), who)


class StoragePlan(object):
    """The images one domain's removal deletes, decided before anything changes."""

    def __init__(self, task, dom, persistent):
        self.task = task
        self.conn = task.conn
        self.dom = dom
        self.persistent = persistent
        self.local = not urlparse(self.conn.getURI()).hostname
        self.keep = task.params.get('keep_storage') or []

    def key(self, path):
        """How two paths are compared: the file they resolve to where that can be known."""
        if self.local:
            return os.path.realpath(path)
        return os.path.normpath(path)

    # -- the domain's own disks ----------------------------------------------------

    def plan(self):
        """[(path, volume or None)] to delete after undefine; InputError when another
        domain or image uses one of them (then nothing is deleted)."""
        engine = _engine()
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if self.persistent else 0
        root = engine.parse_xml(self.dom.XMLDesc(flags), 'the domain XML', ('domain',))
        keep = self._keep_keys(root)
        paths = []
        for disk in root.findall('devices/disk'):
            source = disk.find('source')
            if disk.get('type') != 'file' or disk.get('device', 'disk') != 'disk' or source is None \
                    or not source.get('file'):
                continue
            path = source.get('file')
            if self.key(path) in keep:
                continue
            if disk.find('shareable') is not None or disk.find('readonly') is not None:
                self.task.warn('kept %s: the disk is shareable or read-only' % path)
                continue
            if path not in paths:
                paths.append(path)
        plan = [(path, vol) for path, vol in ((p, self._deletable(p)) for p in paths) if vol is not False]
        self._refuse_shared([path for path, _vol in plan])
        return plan

    def _keep_keys(self, root):
        sources = set()
        for source in root.findall('devices/disk/source'):
            for attribute in ('file', 'dev'):
                if source.get(attribute):
                    sources.add(self.key(source.get(attribute)))
        keys = set()
        for path in self.keep:
            if self.key(path) not in sources:
                raise InputError('keep_storage lists %s, which is no disk image of domain %s; nothing was changed'
                                 % (path, self.task.domain_label))
            keys.add(self.key(path))
        return keys

    def _deletable(self, path):
        """The path's storage volume, None for a plain local file, False to keep it."""
        vol = self._volume(path)
        if vol is not None:
            if vol.info()[0] != libvirt.VIR_STORAGE_VOL_FILE:
                self.task.warn('kept %s: it is not a plain file' % path)
                return False
            return vol
        if not self.local:
            raise InputError('cannot remove %s: it is in no libvirt storage pool and %s is not a local '
                             'connection; nothing was changed' % (path, self.task.uri))
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            self.task.warn('%s does not exist; nothing to remove there' % path)
            return False
        if not stat.S_ISREG(mode):
            self.task.warn('kept %s: it is not a plain file' % path)
            return False
        return None

    def _volume(self, path):
        try:
            return self.conn.storageVolLookupByPath(path)
        except libvirt.libvirtError:
            return None  # not in any pool (or the driver has no storage)

    # -- everything else that may use them -------------------------------------------

    def _refuse_shared(self, paths):
        if not paths:
            return
        users = self.users(paths)
        shared = [(path, users[self.key(path)]) for path in paths if self.key(path) in users]
        if not shared:
            return
        raise InputError(
            'remove_storage: %s; no disk image of domain %s was removed and nothing was changed. List the shared '
            'images in keep_storage to remove the domain and its other images'
            % ('; '.join('%s is used by %s' % (path, who) for path, who in shared), self.task.domain_label))

    def users(self, own_paths):
        """{key: who} of every path another domain or image uses (directly or as a backing file)."""
        users = _Users(self.key)
        own = set(self.key(path) for path in own_paths)
        uuid = self.dom.UUIDString()
        for other in self.conn.listAllDomains(0):
            try:
                if other.UUIDString() == uuid:
                    continue
                self._domain_users(other, users)
            except libvirt.libvirtError as err:
                if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
                # it vanished meanwhile: it uses nothing any more
        for image in self._other_images(own):
            self._chain(image, "image %s" % image, users)
        return users.by_path

    def _domain_users(self, other, users):
        engine = _engine()
        name = "domain '%s'" % other.name()
        flag_sets = []
        if other.isPersistent():
            flag_sets.append(libvirt.VIR_DOMAIN_XML_INACTIVE)
        if other.isActive():
            flag_sets.append(0)  # the live definition: hot-plugged disks, libvirt's backingStore
        for flags in flag_sets:
            root = engine.parse_xml(other.XMLDesc(flags), 'the XML of %s' % name, ('domain',))
            for disk in root.findall('devices/disk'):
                top = self._disk_path(disk)
                if top is None:
                    continue
                users.add(top, name)
                for store in disk.iter('backingStore'):
                    source = store.find('source')
                    if source is not None:
                        users.add(source.get('file') or source.get('dev'), '%s (backing file of %s)' % (name, top))
                self._chain(top, name, users)

    def _disk_path(self, disk):
        source = disk.find('source')
        if source is None:
            return None
        if disk.get('type') == 'volume' and source.get('pool') and source.get('volume'):
            try:
                return self.conn.storagePoolLookupByName(source.get('pool')).storageVolLookupByName(
                    source.get('volume')).path()
            except libvirt.libvirtError:
                return None
        return source.get('file') or source.get('dev')

    def _chain(self, top, who, users):
        """Every backing file below `top`, as a use by `who`: read from the image headers
        on a local connection, else from libvirt's storage volume XML."""
        seen = set()
        path = top
        while len(seen) < _MAX_CHAIN:
            below = qcow2_backing_file(path) if self.local else self._volume_backing(path)
            if below is None or self.key(below) in seen:
                return
            seen.add(self.key(below))
            users.add(below, '%s (backing file of %s)' % (who, top))
            path = below

    def _volume_backing(self, path):
        vol = self._volume(path)
        if vol is None:
            return None
        root = _engine().parse_xml(vol.XMLDesc(0), 'the volume XML', ('volume',))
        return root.findtext('backingStore/path') or None

    def _other_images(self, own):
        """Images that may have one of ours as backing file: the volumes of libvirt's storage
        pools and, locally, the files beside each of our images."""
        images = []
        try:
            pools = self.conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE)
        except libvirt.libvirtError:
            pools = []  # a driver without storage
        for pool in pools:
            try:
                images.extend(vol.path() for vol in pool.listAllVolumes(0))
            except libvirt.libvirtError:
                continue  # the pool went away or cannot be listed: its images are not ours to judge
        if self.local:
            for directory in sorted(set(os.path.dirname(path) for path in own)):
                try:
                    names = sorted(os.listdir(directory))
                except OSError:
                    continue
                images.extend(os.path.join(directory, name) for name in names)
        result = []
        for image in images:
            if self.key(image) not in own and image not in result:
                result.append(image)
        return result


def check_options(params, want):
    """remove_storage and keep_storage go with state absent only."""
    if params.get('remove_storage') and want != 'absent':
        raise InputError('remove_storage works with state absent only, not with state %s; '
                         'nothing was changed' % want)
    if params.get('keep_storage') and not params.get('remove_storage'):
        raise InputError('keep_storage needs remove_storage: true (it lists images not to delete); '
                         'nothing was changed')


def plan_storage(task, dom, persistent):
    """[(path, volume or None)]: the images `state: absent` deletes after undefine."""
    return StoragePlan(task, dom, persistent).plan()
