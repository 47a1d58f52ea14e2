# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_domain_clone. Not a public API.
#
# The clone's XML is the source's persistent definition with a new name, UUID and
# MACs and new disk paths; the task's `xml` overrides are laid over it by the domain
# engine (domain_xml.Comparison), which also writes the applied record, so later
# virt_domain_state runs on the clone compare three-way. A small <metadata> element
# says which domain it was cloned from: that is how a second run knows its clone.

from __future__ import annotations

import json
import os
import shutil
import uuid as uuidlib

from ansible_collections.domainops.libvirt.plugins.module_utils.domain import describe_domain, domain_state, lookup_domain
from ansible_collections.domainops.libvirt.plugins.module_utils.domain_xml import (
    DOMAIN, Comparison, differences_as_dicts, parse_xml, to_text)
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError, LibvirtCallError
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_text import etree

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

CLONE_NS = 'https://github.com/domainops/libvirt/clone'
_CLONE_TAG = '{%s}clone' % CLONE_NS
_NVRAM_DIR = '/var/lib/libvirt/qemu/nvram'
_SWTPM_DIR = '/var/lib/libvirt/swtpm'
_UNDEFINE_FLAGS = ('VIR_DOMAIN_UNDEFINE_MANAGED_SAVE', 'VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA',
                   'VIR_DOMAIN_UNDEFINE_NVRAM', 'VIR_DOMAIN_UNDEFINE_TPM')


def _flag(name):
    return getattr(libvirt, name, 0)


def _inactive_root(dom):
    flags = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
    return etree.fromstring(dom.XMLDesc(flags).encode('utf-8'))


def clone_origin(root):
    """(source uuid, mode) from a clone's metadata, or None for a domain this module did not clone."""
    el = root.find('metadata/' + _CLONE_TAG)
    return (el.get('source-uuid'), el.get('mode')) if el is not None else None


def _is_local(conn):
    uri = conn.getURI()
    return '://' not in uri or uri.split('://', 1)[1].startswith('/')


class CloneTask(object):
    def __init__(self, task):
        self.task = task
        self.params = task.params
        self.conn = task.conn
        self.name = task.params['name']
        self.task.domain_label = "'%s'" % self.name

    def run(self):
        self.target = lookup_domain(self.conn, name=self.name)
        if self.params['state'] == 'absent':
            result = self._absent()
        else:
            result = self._present()
        result.setdefault('changed', bool(self.task.actions))
        return result

    # -- present ----------------------------------------------------------------------

    def _source(self):
        source = lookup_domain(self.conn, name=self.params['source'])
        if source is None:
            raise InputError("source domain '%s' not found on %s; nothing was changed"
                             % (self.params['source'], self.task.uri))
        if not source.isPersistent():
            raise InputError("source domain '%s' is transient; a clone copies a persistent definition; "
                             "nothing was changed" % self.params['source'])
        return source

    def _override(self):
        text = self.params['xml']
        if not text:
            root = etree.Element('domain')
        else:
            root = parse_xml(text)
        name = root.findtext('name')
        if name is not None and name.strip() != self.name:
            raise InputError("the name in xml ('%s') is not the clone's name '%s'; nothing was changed"
                             % (name.strip(), self.name))
        if root.find('uuid') is not None:
            raise InputError('xml must not set a <uuid>: the clone gets a new one; nothing was changed')
        if name is None:
            etree.SubElement(root, 'name').text = self.name
        return root

    def _present(self):
        source = self._source()
        override = self._override()
        src_root = _inactive_root(source)
        if self.target is not None:
            return self._existing(source, src_root, override)
        state = domain_state(source)[0]
        mode = self.params['mode']
        if state not in ('shutoff', 'paused') and not self.params['allow_running']:
            raise InputError("source domain '%s' is %s; clone a shut-off or paused domain, or set allow_running "
                             "(the copy is then crash-consistent); nothing was changed" % (source.name(), state))
        if state != 'shutoff' and mode == 'linked':
            raise InputError("a linked clone needs a shut-off source: '%s' is %s and would write to the disks the "
                             "clone's overlays are based on; nothing was changed" % (source.name(), state))

        root = etree.fromstring(etree.tostring(src_root))
        root.find('name').text = self.name
        new_uuid = str(uuidlib.uuid4())
        root.find('uuid').text = new_uuid
        for mac in root.findall('devices/interface/mac'):
            mac.getparent().remove(mac)  # libvirt makes a new one
        for el in root.findall('devices/graphics'):
            if el.get('autoport') == 'yes' and el.get('port'):
                del el.attrib['port']
        copies = self._plan_disks(root, mode, running=state != 'shutoff')
        nvram = self._plan_nvram(root)

        merged = Comparison(DOMAIN, override, root, record=None, write_record=True).merged
        metadata = merged.find('metadata')
        if metadata is None:
            metadata = etree.SubElement(merged, 'metadata')
        etree.SubElement(metadata, _CLONE_TAG, {'source-uuid': source.UUIDString(), 'mode': mode},
                         nsmap={'domainops-clone': CLONE_NS})

        for action, func, args, _new in copies + nvram:
            self.task.mutate(action, func, *args)
        text = to_text(merged, pretty=False, mask_secrets=False)
        dom = self.task.mutate('define', self.conn.defineXML, text)
        self._copy_tpm(source, src_root, new_uuid)
        result = dict(disks=[new for _action, _func, _args, new in copies])
        if dom is not None:
            result['domain'] = describe_domain(dom)
        if self.task.module._diff:
            result['diff'] = dict(before='', after=to_text(merged), after_header='domain %s' % self.name)
        return result

    def _existing(self, source, src_root, override):
        root = _inactive_root(self.target)
        origin = clone_origin(root)
        if origin is None or origin[0] != source.UUIDString():
            raise InputError("domain '%s' exists and is not a clone of '%s' made by this module; choose another "
                             "name or remove it; nothing was changed" % (self.name, source.name()))
        if origin[1] != self.params['mode']:
            raise InputError("domain '%s' is a %s clone of '%s', not a %s one; nothing was changed"
                             % (self.name, origin[1], source.name(), self.params['mode']))
        comparison = Comparison(DOMAIN, override, root, write_record=True)
        result = dict(domain=describe_domain(self.target), disks=[])
        if not comparison.differences:
            return result
        paths = [d.path for d in comparison.differences]
        if not self.params['converge']:
            raise InputError("clone '%s' differs from the task's xml (%s); set converge to apply the xml to it; "
                             "nothing was changed" % (self.name, ', '.join(paths)), differences=differences_as_dicts(
                                 comparison.differences))
        self.task.mutate('define', self.conn.defineXML, comparison.merged_text())
        result['differences'] = differences_as_dicts(comparison.differences)
        if self.task.module._diff:
            result['diff'] = dict(before=to_text(root), after=to_text(comparison.merged))
        return result

    # -- disks, NVRAM, TPM ------------------------------------------------------------

    def _plan_disks(self, root, mode, running):
        copies = []
        for disk in root.findall('devices/disk'):
            if disk.get('device') in ('cdrom', 'floppy') or disk.find('readonly') is not None \
                    or disk.find('shareable') is not None:
                continue  # media and shared disks are shared, not copied
            target = disk.find('target').get('dev')
            source = disk.find('source')
            if source is None:
                continue
            if disk.get('type') == 'volume':
                pool = self.conn.storagePoolLookupByName(source.get('pool'))
                vol = pool.storageVolLookupByName(source.get('volume'))
                new = self._volume_copy(disk, vol, target, mode)
                copies.append(new)
                source.set('volume', new[3])
                continue
            if disk.get('type') != 'file':
                raise InputError("disk %s of '%s' is of type %s: the module clones file and pool-volume disks "
                                 "only; nothing was changed" % (target, self.params['source'], disk.get('type')))
            path = source.get('file')
            vol = self._volume_of(path)
            if vol is not None:
                new = self._volume_copy(disk, vol, target, mode)
                copies.append(new)
                source.set('file', os.path.join(os.path.dirname(path), new[3]))
                continue
            if not _is_local(self.conn):
                raise InputError("disk %s (%s) is a plain file, not a volume of a storage pool, and %s is remote: "
                                 "the module copies plain files only on the local host; put the image in a pool "
                                 "(virsh pool-refresh); nothing was changed" % (target, path, self.task.uri))
            new_path = self._new_path(path, target, mode)
            fmt = (disk.find('driver').get('type') if disk.find('driver') is not None else None) or 'raw'
            if mode == 'linked':
                argv = ['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', fmt, '-b', path, new_path]
                disk.find('driver').set('type', 'qcow2')
            else:
                argv = ['qemu-img', 'convert', '-q'] + (['-U'] if running else []) + ['-O', fmt, path, new_path]
            copies.append(('%s_copy(%s)' % (mode, target), self._run, (argv, new_path), new_path))
            source.set('file', new_path)
        return copies

    def _new_path(self, path, target, mode):
        base, ext = os.path.splitext(os.path.basename(path))
        ext = '.qcow2' if mode == 'linked' else (ext or '.img')
        new_path = os.path.join(os.path.dirname(path), '%s-%s%s' % (self.name, target, ext))
        if os.path.exists(new_path):
            raise InputError('%s exists already: the clone would overwrite it; nothing was changed' % new_path)
        return new_path

    def _volume_of(self, path):
        try:
            return self.conn.storageVolLookupByPath(path)
        except libvirt.libvirtError:
            return None

    def _volume_copy(self, disk, vol, target, mode):
        pool = vol.storagePoolLookupByVolume()
        vol_root = etree.fromstring(vol.XMLDesc(0).encode('utf-8'))
        fmt_el = vol_root.find('target/format')
        fmt = fmt_el.get('type') if fmt_el is not None else 'raw'
        new_name = '%s-%s.%s' % (self.name, target, 'qcow2' if mode == 'linked' else fmt)
        if new_name in pool.listVolumes():
            raise InputError("volume '%s' exists already in pool '%s'; nothing was changed" % (new_name, pool.name()))
        new = etree.Element('volume')
        etree.SubElement(new, 'name').text = new_name
        etree.SubElement(new, 'capacity', unit='bytes').text = vol_root.findtext('capacity')
        etree.SubElement(etree.SubElement(new, 'target'), 'format', type='qcow2' if mode == 'linked' else fmt)
        if mode == 'linked':
            backing = etree.SubElement(new, 'backingStore')
            etree.SubElement(backing, 'path').text = vol.path()
            etree.SubElement(backing, 'format', type=fmt)
            if disk.find('driver') is not None:
                disk.find('driver').set('type', 'qcow2')
            text = etree.tostring(new, encoding='unicode')
            return ('linked_volume(%s)' % target, pool.createXML, (text, 0), new_name)
        text = etree.tostring(new, encoding='unicode')
        return ('full_volume(%s)' % target, pool.createXMLFrom, (text, vol, 0), new_name)

    def _run(self, argv, new_path):
        rc, _out, err = self.task.module.run_command(argv)
        if rc != 0:
            if os.path.exists(new_path):
                os.unlink(new_path)
            raise LibvirtCallError('%s failed: %s' % (' '.join(argv[:2]), err.strip().replace('\n', ' ')))

    def _plan_nvram(self, root):
        nvram = root.find('os/nvram')
        if nvram is None or not (nvram.text or '').strip():
            return []
        path = nvram.text.strip()
        new_path = os.path.join(_NVRAM_DIR, '%s_VARS.fd' % self.name)
        nvram.text = new_path
        if not os.path.exists(path):
            return []  # never started: libvirt makes the clone's from the template
        return [('copy_nvram', shutil.copyfile, (path, new_path), new_path)]

    def _copy_tpm(self, source, src_root, new_uuid):
        if src_root.find("devices/tpm/backend[@type='emulator']") is None:
            return
        state = os.path.join(_SWTPM_DIR, source.UUIDString())
        if os.path.isdir(state):
            self.task.mutate('copy_tpm_state', shutil.copytree, state, os.path.join(_SWTPM_DIR, new_uuid))

    # -- absent -----------------------------------------------------------------------

    def _absent(self):
        if self.target is None:
            return dict(disks=[])
        root = _inactive_root(self.target)
        if clone_origin(root) is None:
            raise InputError("domain '%s' was not cloned by this module; remove it with virt_domain_state "
                             "state=absent; nothing was changed" % self.name)
        owned = self._owned_disks(root)
        if self.target.isActive():
            self.task.mutate('destroy', self.target.destroy)
        flags = 0
        for name in _UNDEFINE_FLAGS:
            flags |= _flag(name)
        self.task.mutate('undefine', self.target.undefineFlags, flags)
        for path, vol in owned:
            if vol is not None:
                self.task.mutate('delete_volume(%s)' % path, vol.delete, 0)
            else:
                self.task.mutate('delete_file(%s)' % path, os.unlink, path)
        return dict(disks=[path for path, _vol in owned])

    def _owned_disks(self, root):
        """The clone's disk images that no other domain uses, directly or as a backing file."""
        used = set()
        for dom in self.conn.listAllDomains(0):
            if dom.UUIDString() == self.target.UUIDString():
                continue
            for path in _disk_paths(_inactive_root(dom)):
                used.update(_backing_chain(self.task.module, path))
        owned = []
        for disk in root.findall('devices/disk'):
            if disk.get('device') in ('cdrom', 'floppy'):
                continue
            for path in _disk_paths_of(disk):
                if path in used:
                    continue
                vol = self._volume_of(path)
                if vol is not None or (_is_local(self.conn) and os.path.exists(path)):
                    owned.append((path, vol))
        return owned


def _disk_paths_of(disk):
    source = disk.find('source')
    if source is None:
        return []
    return [p for p in (source.get('file'), source.get('dev')) if p]


def _disk_paths(root):
    paths = []
    for disk in root.findall('devices/disk'):
        paths.extend(_disk_paths_of(disk))
    return paths


def _backing_chain(module, path):
    """path and the files it is based on (read with qemu-img; just path when it cannot be read)."""
    chain = [path]
    if not os.path.exists(path):
        return chain
    rc, out, _err = module.run_command(['qemu-img', 'info', '-U', '--backing-chain', '--output=json', path])
    if rc == 0:
        for image in json.loads(out):
            for key in ('filename', 'full-backing-filename', 'backing-filename'):
                if image.get(key):
                    chain.append(image[key])
    return chain


def manage_clone(task):
    """virt_domain_clone's handler."""
    return CloneTask(task).run()
