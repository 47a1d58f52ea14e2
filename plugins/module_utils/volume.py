# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_volume. Everything goes through
# libvirt's storage API (create, createXMLFrom, upload and download streams, resize,
# wipe, delete), so it works the same on a remote URI where no qemu-img runs.
#
# Whether an uploaded source is already there: libvirt volumes have no metadata and
# a sidecar file does not exist on a remote or non-file pool, so nothing is stored.
# The volume's content is read back through the download stream and compared with the
# source, stopping at the first differing block (a different size stops at once).
# Not a public API.

from __future__ import annotations

import hashlib
import json
import os
import tempfile

from ansible_collections.domainops.libvirt.plugins.module_utils.connection import describe_libvirt_error
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError, LibvirtCallError
from ansible_collections.domainops.libvirt.plugins.module_utils.pool import lookup_pool

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

CHUNK = 1024 * 1024


def _engine():
    from ansible_collections.domainops.libvirt.plugins.module_utils import pool_xml, xml_engine, xml_text
    return pool_xml, xml_engine, xml_text


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(CHUNK), b''):
            digest.update(block)
    return digest.hexdigest()


def _recv_exactly(stream, count):
    data = b''
    while len(data) < count:
        block = stream.recv(count - len(data))
        if block in (-2, None):  # would block: not on a blocking stream
            continue
        if not block:
            break
        data += block
    return data


def same_content(conn, vol, path):
    """Whether the volume holds exactly the file's bytes (read back through the download
    stream; stops at the first difference)."""
    size = os.path.getsize(path)
    stream = conn.newStream(0)
    vol.download(stream, 0, 0, 0)
    same = True
    try:
        with open(path, 'rb') as handle:
            offset = 0
            while True:
                want = handle.read(CHUNK)
                got = _recv_exactly(stream, len(want) if want else 1)
                if want != got:
                    same = False
                    break
                if not want:
                    break
                offset += len(want)
        if same and offset != size:
            same = False
    finally:
        try:
            if same:
                stream.finish()
            else:
                stream.abort()
        except libvirt.libvirtError:
            pass
    return same


def upload(conn, vol, path):
    size = os.path.getsize(path)
    stream = conn.newStream(0)
    vol.upload(stream, 0, size, 0)
    with open(path, 'rb') as handle:
        try:
            stream.sendAll(lambda _stream, count, fh: fh.read(count), handle)
            stream.finish()
        except Exception:
            stream.abort()
            raise


class VolumeRun(object):
    def __init__(self, task):
        self.task = task
        self.conn = task.conn
        self.params = task.params
        self.check = task.check_mode
        self.name = self.params.get('name')
        self.pool = None
        self.vol = None
        self.exists = False
        self.differences = []
        self.planned = {}  # check mode: what the volume would be
        self.desired = None
        self.xml_before = ''
        task.domain_label = None

    @property
    def label(self):
        return "volume '%s' in pool '%s'" % (self.name, self.params['pool'])

    # -- the task -----------------------------------------------------------------------

    def run(self):
        pool_xml, _xml_engine, xml_text = _engine()
        if self.params.get('xml'):
            self.desired = xml_text.parse_xml(self.params['xml'], 'volume XML', ('volume',))
            xml_name = (self.desired.findtext('name') or '').strip()
            if self.name and xml_name and xml_name != self.name:
                raise InputError("name '%s' and the <name> '%s' in xml differ; nothing was changed"
                                 % (self.name, xml_name))
            self.name = self.name or xml_name
        if not self.name:
            raise InputError('give name or an xml with a <name>; nothing was changed')
        self.pool = lookup_pool(self.conn, self.params['pool'])
        if self.pool is None or not self.pool.isActive():
            raise InputError("pool '%s' %s on %s; nothing was changed" % (
                self.params['pool'], 'is not running' if self.pool is not None else 'not found', self.task.uri))
        self.vol = self._lookup(self.name)
        self.exists = self.vol is not None
        if self.exists:
            self.xml_before = self.vol.XMLDesc(0)
        if self.params['state'] == 'absent':
            if self.exists:
                if self.params['wipe']:
                    self._act('wipe', self.vol.wipe, 0)
                self._act('delete', self.vol.delete, 0)
                self.differences = ['(delete volume)']
            return self._result()
        source = self.params.get('upload')
        if self.params.get('cloud_init') is not None:
            source = self._seed_file(self.params['cloud_init'])
        elif source is not None:
            self._check_source(source)
        if not self.exists:
            self._create(pool_xml, xml_text, source)
        else:
            self._update(pool_xml, source)
        return self._result()

    def _lookup(self, name):
        try:
            return self.pool.storageVolLookupByName(name)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
                return None
            raise

    def _act(self, action, func, *args):
        try:
            return self.task.mutate(action, func, *args)
        except libvirt.libvirtError as err:
            raise LibvirtCallError('libvirt could not %s %s on %s: %s'
                                   % (action, self.label, self.task.uri, describe_libvirt_error(err)))

    def _check_source(self, source):
        if not os.path.isfile(source):
            raise InputError('upload source %s is not a file on the host this task runs on; nothing was changed'
                             % source)
        expected = self.params.get('checksum')
        if expected:
            expected = expected.split(':', 1)[1] if expected.lower().startswith('sha256:') else expected
            actual = sha256_of(source)
            if actual != expected.strip().lower():
                raise InputError('upload source %s has sha256 %s, not the checksum %s given; nothing was changed'
                                 % (source, actual, expected))

    def _seed_file(self, seed):
        """A NoCloud seed ISO (label cidata) of the cloud_init option, in a temporary file."""
        from ansible_collections.domainops.libvirt.plugins.module_utils import iso9660

        def text(value, header=''):
            if isinstance(value, (dict, list)):
                value = header + json.dumps(value, indent=2, sort_keys=True) + '\n'
            return value.encode('utf-8')

        user_data = text(seed.get('user_data') or '#cloud-config\n', '#cloud-config\n')
        network = seed.get('network_config')
        files = {'user-data': user_data}
        if network is not None:
            files['network-config'] = text(network)
        meta = seed.get('meta_data')
        if meta is None:
            # a new instance-id when the content changes: cloud-init applies it again
            digest = hashlib.sha256(user_data + files.get('network-config', b'')).hexdigest()[:12]
            meta = 'instance-id: %s-%s\n' % (self.name, digest)
        files['meta-data'] = text(meta)
        handle = tempfile.NamedTemporaryFile(prefix='domainops-seed-', suffix='.iso', delete=False,
                                             dir=getattr(self.task.module, 'tmpdir', None))
        with handle:
            handle.write(iso9660.build(files, label='cidata'))
        return handle.name

    # -- sizes, backing, xml ------------------------------------------------------------

    def _size(self, pool_xml):
        if self.params.get('size') is None:
            return None
        size = pool_xml.to_bytes(self.params['size'])
        if size is None:
            raise InputError("size '%s' is not a size (a number of bytes, or with a unit: 10G, 512MiB); "
                             "nothing was changed" % self.params['size'])
        return size

    def _other_volume(self, name, what):
        if name.startswith('/'):
            return None, name
        vol = self._lookup(name)
        if vol is None:
            raise InputError("%s '%s' is not a volume in pool '%s' (give a volume name or an absolute path); "
                             "nothing was changed" % (what, name, self.params['pool']))
        return vol, vol.path()

    def _new_xml(self, pool_xml, xml_text, size, backing_path, clone=None, backing_format=None):
        if self.desired is not None:
            root = self.desired
            if root.find('name') is None:
                xml_text.etree.SubElement(root, 'name').text = self.name
            return root
        etree = xml_text.etree
        root = etree.Element('volume')
        etree.SubElement(root, 'name').text = self.name
        capacity = etree.SubElement(root, 'capacity', unit='bytes')
        capacity.text = str(size or 0)
        # sparse: libvirt would otherwise write every byte of a raw volume now
        etree.SubElement(root, 'allocation', unit='bytes').text = '0'
        fmt = self.params.get('format') or ('qcow2' if backing_path else 'raw')
        if clone is not None and not self.params.get('format'):
            source = xml_text.parse_xml(clone.XMLDesc(0), 'volume XML', ('volume',)).find('target/format')
            fmt = source.get('type') if source is not None else fmt
        etree.SubElement(etree.SubElement(root, 'target'), 'format', type=fmt)
        if backing_path:
            store = etree.SubElement(root, 'backingStore')
            etree.SubElement(store, 'path').text = backing_path
            etree.SubElement(store, 'format', type=self.params.get('backing_format') or backing_format or 'qcow2')
        return root

    # -- create -------------------------------------------------------------------------

    def _create(self, pool_xml, xml_text, source):
        size = self._size(pool_xml)
        backing_path, clone, backing_format = None, None, None
        if self.params.get('backing'):
            backing_vol, backing_path = self._other_volume(self.params['backing'], 'backing')
            if backing_vol is not None:  # a volume of the pool: its own format
                found = xml_text.parse_xml(backing_vol.XMLDesc(0), 'volume XML', ('volume',)).find('target/format')
                backing_format = found.get('type') if found is not None else None
        if self.params.get('clone_from'):
            clone, _path = self._other_volume(self.params['clone_from'], 'clone_from')
        if source is not None:
            size = os.path.getsize(source)  # the content decides; created raw, probed after upload
        if size is None and not backing_path and clone is None and self.desired is None:
            raise InputError('%s does not exist: give size, backing, clone_from, upload or xml to create it; '
                             'nothing was changed' % self.label)
        pool_capacity = self.pool.info()[1]
        if size and pool_capacity and size > pool_capacity:
            raise InputError('%s would be %d bytes, larger than the whole pool (%d bytes); nothing was changed'
                             % (self.label, size, pool_capacity))
        root = self._new_xml(pool_xml, xml_text, size, backing_path, clone, backing_format)
        if source is not None:
            root.find('target/format').set('type', 'raw')
        text = xml_text.to_text(root, pretty=False, mask_secrets=False)
        self.differences = ['(new volume)']
        if clone is not None:
            vol = self._act('create_from(%s)' % clone.name(), self.pool.createXMLFrom, text, clone, 0)
        else:
            vol = self._act('create', self.pool.createXML, text, 0)
        self.planned = dict(capacity=size, backing=backing_path)
        if vol is not None:
            self.vol = vol
        if source is not None:
            try:
                self._act('upload', self._upload_call(), source)
                self._act('refresh_pool', self.pool.refresh, 0)  # libvirt probes the uploaded format
            except LibvirtCallError as err:
                raise LibvirtCallError('%s (the volume was created and is left in place; state: absent removes it)'
                                       % err.msg)
            if vol is not None:
                self.vol = self._lookup(self.name)
        self.exists = True

    def _upload_call(self):
        def call(path):
            upload(self.conn, self.vol, path)
        return call

    # -- an existing volume --------------------------------------------------------------

    def _update(self, pool_xml, source):
        _pool_xml, xml_engine, _xml_text = _engine()
        actual = self.vol.XMLDesc(0)
        actual_root = xml_engine.Comparison(pool_xml.VOLUME, actual, actual, record=None).merged
        capacity = pool_xml.size_bytes(actual_root.find('capacity'))
        if self.desired is not None:
            comparison = xml_engine.Comparison(pool_xml.VOLUME, self.desired, actual, record=None)
            others = [p for p in comparison.paths if p != 'capacity']
            if others:
                raise InputError('%s exists and differs from xml at %s, which libvirt cannot change on a volume; '
                                 'nothing was changed (state: absent first to recreate it)'
                                 % (self.label, ', '.join(others)))
        if self.params.get('backing'):
            _vol, path = self._other_volume(self.params['backing'], 'backing')
            have = actual_root.findtext('backingStore/path')
            if have != path:
                raise InputError('%s exists with backing store %s, not %s; nothing was changed'
                                 % (self.label, have or '(none)', path))
        if source is not None and not same_content(self.conn, self.vol, source):
            self.differences.append('(content differs from %s)' % source)
            size = os.path.getsize(source)
            physical = actual_root.find('physical')
            if size != pool_xml.size_bytes(physical if physical is not None else actual_root.find('capacity')):
                # a different size: a new raw volume of the source's size
                self._act('delete', self.vol.delete, 0)
                self.exists = False
                self.vol = None
                _p, _e, xml_text = _engine()
                saved, self.desired = self.desired, None
                self._create(pool_xml, xml_text, source)
                self.desired = saved
                return
            self._act('upload', self._upload_call(), source)
            self._act('refresh_pool', self.pool.refresh, 0)
            return
        size = self._size(pool_xml)
        if size is None and self.desired is not None:
            size = pool_xml.size_bytes(
                xml_engine.Comparison(pool_xml.VOLUME, self.desired, self.desired, record=None).desired.find('capacity'))
        if size is not None and size != capacity:
            flags = 0
            if size < capacity:
                if not self.params['allow_shrink']:
                    raise InputError('%s is %d bytes; shrinking it to %d bytes loses data and is refused '
                                     '(allow_shrink: true allows it); nothing was changed'
                                     % (self.label, capacity, size))
                flags = libvirt.VIR_STORAGE_VOL_RESIZE_SHRINK
            self.differences.append('capacity')
            user = self._running_user(actual_root.findtext('target/path'))
            if user is None:
                self._act('resize(%d)' % size, self.vol.resize, size, flags)
            elif flags:
                raise InputError("%s is a disk (%s) of the running domain '%s', which is not shrunk; nothing was changed"
                                 % (self.label, user[1], user[0].name()))
            else:
                # QEMU holds the image: it grows it, and the guest sees the new size at once
                self._act('block_resize(%s/%s, %d)' % (user[0].name(), user[1], size), user[0].blockResize,
                          user[1], size, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
            self.planned = dict(capacity=size)

    def _running_user(self, path):
        """(domain, disk target) of a running domain whose disk is this volume, or None."""
        _p, _e, xml_text = _engine()
        for dom in self.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
            try:
                root = xml_text.parse_xml(dom.XMLDesc(0), 'domain XML', ('domain',))
            except (libvirt.libvirtError, InputError):
                continue  # gone meanwhile
            for disk in root.findall('devices/disk'):
                source, target = disk.find('source'), disk.find('target')
                if source is None or target is None:
                    continue
                if path in (source.get('file'), source.get('dev')) or (
                        source.get('pool') == self.params['pool'] and source.get('volume') == self.name):
                    return dom, target.get('dev')
        return None

    # -- the result ----------------------------------------------------------------------

    def _describe(self):
        pool_xml, _xml_engine, xml_text = _engine()
        base = dict(name=self.name, pool=self.params['pool'], path=None, format=None, capacity=None,
                    allocation=None, backing=None)
        if not self.exists or self.params['state'] == 'absent':
            return base
        if self.vol is None or (self.check and self.task.actions):
            base.update(self.planned)
            if self.vol is not None:
                base['path'] = self.vol.path()
            return base
        root = xml_text.parse_xml(self.vol.XMLDesc(0), 'volume XML', ('volume',))
        base.update(path=root.findtext('target/path'), format=root.find('target/format').get('type')
                    if root.find('target/format') is not None else None,
                    capacity=pool_xml.size_bytes(root.find('capacity')),
                    allocation=pool_xml.size_bytes(root.find('allocation')),
                    backing=root.findtext('backingStore/path'))
        return base

    def _result(self):
        changed = bool(self.task.actions)
        result = dict(changed=changed, volume=self._describe(), differences=self.differences)
        if self.task.module._diff:
            header = 'volume %s/%s' % (self.params['pool'], self.name)
            if self.params['state'] == 'absent' or not self.exists:
                after = ''
            elif self.check or self.vol is None:
                after = self.xml_before if not self.task.actions else '(%s)\n' % ', '.join(self.task.actions)
            else:
                after = self.vol.XMLDesc(0)
            result['diff'] = dict(before_header=header, after_header=header, before=self.xml_before, after=after)
        return result


def manage_volume(task):
    """Handler for virt_volume: returns the module's result dict."""
    return VolumeRun(task).run()
