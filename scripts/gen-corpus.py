#!/usr/bin/env python
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generate tests/corpus/generated/: real-world domain XML made by the real tools.

    scripts/gen-corpus.py [--count N] [--out DIR] [--jobs N]

Needs root, the system libvirtd (qemu:///system), `virtinst` (virt-install, virt-xml),
`qemu-utils` and `ovmf`. It writes, for each of N virt-install command lines
(scripts/lib/corpus_options.py):
  virt-install/NAME.xml        what `virt-install --print-xml` prints
  dumpxml-inactive/NAME.xml    `virsh dumpxml --inactive` after a plain define of it
  dumpxml-running/NAME.xml     `virsh dumpxml` while it runs (a subset: no network or
                               bridge it would need, no virtiofsd)
  quirk/NAME.xml               other generators' quirks written on a virt-install document
  edits/KIND/NAME.EDIT.xml     virt-xml edits (of the dumpxml-inactive document) and
                               deletions made here with lxml (scripts/lib/corpus_edits.py)
  manifest.json                every document: kind, base, edits, VALIDATE or not
Every domain, disk image and storage pool it makes is removed at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

import libvirt
from lxml import etree

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lib'))
import corpus_edits  # noqa: E402  (scripts/lib is not a package)
import corpus_options  # noqa: E402

URI = 'qemu:///system'
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DISKDIR = corpus_options.DISKDIR
UNDEFINE_FLAGS = 0
for _flag in ('VIR_DOMAIN_UNDEFINE_NVRAM', 'VIR_DOMAIN_UNDEFINE_MANAGED_SAVE', 'VIR_DOMAIN_UNDEFINE_TPM',
              'VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA', 'VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA'):
    UNDEFINE_FLAGS |= getattr(libvirt, _flag, 0)

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(argv):
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode:
        raise RuntimeError('%s: %s' % (' '.join(argv[:3]), done.stderr.strip().splitlines()[-1:]))
    return done.stdout


def versions(conn):
    def package(name):
        return run(['dpkg-query', '-W', '-f', '${Version}', name]).strip()
    lib = conn.getLibVersion()
    return {'virt-install': run(['virt-install', '--version']).strip(),
            'libvirt': '%d.%d.%d' % (lib // 1000000, lib // 1000 % 1000, lib % 1000),
            'qemu': run(['qemu-system-x86_64', '--version']).splitlines()[0],
            'osinfo-db': package('osinfo-db'), 'ovmf': package('ovmf')}


def renamed(text, name):
    """text with another name and UUID (a probe define next to the real one)."""
    root = etree.fromstring(text.encode() if isinstance(text, str) else text)
    root.find('name').text = name
    uuid_el = root.find('uuid')
    if uuid_el is not None:
        uuid_el.text = str(uuid.uuid4())
    return etree.tostring(root, encoding='unicode')


class DaemonGone(Exception):
    """libvirtd went away (other tests on this host restart it): the document is made again."""


class Daemon:
    """The connection all jobs share, opened again once libvirtd is back after a restart."""

    def __init__(self):
        self.lock = threading.Lock()
        self.conn = libvirt.open(URI)

    def alive(self):
        try:
            self.conn.getLibVersion()
            return True
        except libvirt.libvirtError:
            return False

    def reconnect(self):
        with self.lock:
            if self.alive():
                return  # another job did it
            deadline = time.monotonic() + 180
            while True:
                try:
                    self.conn = libvirt.open(URI)
                    self.conn.listAllDomains(0)
                    return
                except libvirt.libvirtError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(1)

    def accepted(self, text, flags):
        """True when libvirt defines text (renamed) with flags; nothing stays defined."""
        try:
            dom = self.conn.defineXMLFlags(renamed(text, 'gen-corpus-probe-%s' % uuid.uuid4().hex[:8]), flags)
        except libvirt.libvirtError as err:
            return False, err.get_error_message()
        dom.undefineFlags(UNDEFINE_FLAGS)
        return True, ''

    def undefine(self, name):
        try:
            dom = self.conn.lookupByName(name)
        except libvirt.libvirtError:
            return
        if dom.isActive():
            dom.destroy()
        dom.undefineFlags(UNDEFINE_FLAGS)


def write(out, rel, text):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text if text.endswith('\n') else text + '\n')
    return rel


def to_text(root):
    return etree.tostring(root, encoding='unicode') + '\n'


def parse(text):
    return etree.fromstring(text.encode())


class Generator:
    """Makes the documents of one virt-install command line (or the quirks)."""

    def __init__(self, daemon, out):
        self.daemon = daemon
        self.out = out
        self.documents = []
        self.dropped = []
        self.conn = daemon.conn  # the connection this attempt started with

    def check(self):
        """Called after any failure: raise DaemonGone when libvirtd restarted since the
        attempt started (another job may have reconnected already)."""
        if self.daemon.conn is not self.conn or not self.daemon.alive():
            raise DaemonGone()

    def drop(self, **entry):
        self.check()  # a failure because libvirtd restarted is no reason to drop
        self.dropped.append(entry)
        log('  dropped %s' % ', '.join('%s' % v for v in entry.values()))
        return False

    def probe(self, text):
        """validate: True/False; raises ValueError when even flags 0 refuses it."""
        ok, err = self.daemon.accepted(text, 0)
        if not ok:
            self.check()
            raise ValueError(err)
        ok, _err = self.daemon.accepted(text, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
        if not ok:
            self.check()
        return ok

    def add(self, kind, stem, text, base=None, extra=None):
        rel = write(self.out, '%s/%s.xml' % (kind, stem), text)
        doc = dict(id='%s/%s' % (kind, stem), file=rel, kind=kind, base=base, validate=self.probe(text), edits=[])
        doc.update(extra or {})
        self.documents.append(doc)
        return doc

    def add_edit(self, doc, label, text, **how):
        stem = doc['id'].split('/', 1)[1]
        try:
            validate = self.probe(text)
        except ValueError as err:
            return self.drop(document=doc['id'], edit=label, reason=str(err))
        rel = write(self.out, 'edits/%s/%s.%s.xml' % (doc['kind'], stem, label), text)
        doc['edits'].append(dict(dict(id=label, file=rel, validate=validate), **how))
        return True

    def deletion(self, doc, text, turn):
        """One deletion edit of doc: kind by turn, the first path that fits."""
        root = parse(text)
        for k in range(len(corpus_edits.KINDS)):
            kind = corpus_edits.KINDS[(turn + k) % len(corpus_edits.KINDS)]
            candidates = [d for d in corpus_edits.DELETIONS if d[0] == kind]
            for c in range(len(candidates)):
                _kind, label, path = candidates[(turn + c) % len(candidates)]
                if any(e['id'] == 'del-%s-%s' % (kind, label) for e in doc['edits']):
                    continue
                edited = corpus_edits.apply_deletion(root, kind, path)
                if edited is not None and self.add_edit(doc, 'del-%s-%s' % (kind, label), to_text(edited),
                                                        tool='lxml', deletes=kind, path=path):
                    return

    def virt_xml_edits(self, doc, name, count, turn):
        root = parse(open(os.path.join(self.out, doc['file'])).read())
        disks = [t.get('dev') for t in root.iterfind("devices/disk[@device='disk']/target")]
        fields = dict(extra='%s/%s-extra.qcow2' % (DISKDIR, name), mac=corpus_options.fixed_mac(name, 9),
                      boot_dev=disks[0] if disks else '', disk_dev=disks[0] if disks else '')
        if not os.path.exists(fields['extra']):
            run(['qemu-img', 'create', '-q', '-f', 'qcow2', fields['extra'], '64M'])
        edits = corpus_edits.VIRT_XML_EDITS
        # document i starts at edit i of the list: every edit gets its turns
        candidates = [edits[(turn + k) % len(edits)] for k in range(len(edits))]
        candidates = [e for e in candidates if e[2](root)]
        made = 0
        for label, args, _applies in candidates:
            if made == count:
                break
            argv = ['virt-xml', '--connect', URI, name] + corpus_options.split_args(args.format(**fields)) + [
                '--print-xml']
            try:
                text = run(argv)
            except RuntimeError as err:
                self.drop(document=doc['id'], edit=label, reason=str(err))
                continue
            made += self.add_edit(doc, label, text, tool='virt-xml', command=args.format(**fields))

    def one(self, i, spec):
        """All documents of spec; made again from the start when libvirtd restarts meanwhile."""
        for attempt in range(30):  # other suites on a shared host may restart libvirtd again and again
            self.documents, self.dropped, self.conn = [], [], self.daemon.conn
            try:
                return self._one(i, spec)
            except (DaemonGone, libvirt.libvirtError, RuntimeError):
                if (self.daemon.conn is self.conn and self.daemon.alive()) or attempt == 29:
                    raise
                time.sleep(2)
                log('libvirtd went away while making %s: again' % spec['name'])
                self.daemon.reconnect()
                self.daemon.undefine(spec['name'])

    def _one(self, i, spec):
        name = spec['name']
        log('[%d] %s' % (i + 1, name))
        argv = corpus_options.command_line(spec)
        for image in corpus_options.images_of(argv):
            if not os.path.exists(image):
                run(['qemu-img', 'create', '-q', '-f', 'qcow2', image, '64M'])
        try:
            text = run(['virt-install'] + argv)
            base = self.add('virt-install', name, text, extra=dict(
                command='virt-install ' + ' '.join(argv), osinfo=spec['osinfo'], machine=spec['machine'],
                options=spec['tags']))
        except (RuntimeError, ValueError) as err:
            return self.drop(document=name, reason=str(err))
        self.deletion(base, text, i)

        flags = libvirt.VIR_DOMAIN_DEFINE_VALIDATE if base['validate'] else 0
        dom = self.conn.defineXMLFlags(text, flags)
        try:
            inactive_text = run(['virsh', '--connect', URI, 'dumpxml', '--inactive', name])
            inactive = self.add('dumpxml-inactive', name, inactive_text, base=base['id'])
            self.virt_xml_edits(inactive, name, 1, i)
            if i % 6 == 2:
                self.deletion(inactive, inactive_text, i + 1)
            if self.can_run(argv) and i % 2 == 0:
                self.running(i, base, dom, name)
        finally:
            if self.daemon.conn is self.conn and self.daemon.alive():
                self.daemon.undefine(name)
        return True

    @staticmethod
    def can_run(argv):
        joined = ' '.join(argv)
        # nothing here provides the 'default' network, a br0 bridge or virtiofsd
        return 'network=default' not in joined and 'bridge=' not in joined and 'virtiofs' not in joined

    def running(self, i, base, dom, name):
        try:
            dom.create()
        except libvirt.libvirtError as err:
            return self.drop(document='dumpxml-running/' + name, reason=err.get_error_message())
        try:
            time.sleep(0.5)  # let QEMU open its chardevs (console tty, channel state)
            text = run(['virsh', '--connect', URI, 'dumpxml', name])
        finally:
            dom.destroy()
        try:
            running = self.add('dumpxml-running', name, text, base=base['id'])
        except ValueError as err:  # e.g. firmware features expanded to a loader: libvirt refuses its own dump
            return self.drop(document='dumpxml-running/' + name, reason=str(err))
        if i % 4 == 0:
            self.deletion(running, text, i + 3)

    def quirks(self):
        bases = [d for d in self.documents if d['kind'] == 'virt-install']
        for k, (label, wants, change, declaration) in enumerate(corpus_edits.QUIRKS):
            fits = [d for d in bases if wants is None or wants in d['options']]
            base = fits[(k * 7) % len(fits)]
            root = parse(open(os.path.join(self.out, base['file'])).read())
            name = 'q-%s' % label
            root.find('name').text = name
            root.find('uuid').text = corpus_options.fixed_uuid(name)
            if change is not None:
                change(root)
            text = declaration + to_text(root)
            try:
                self.add('quirk', name, text, base=base['id'], extra=dict(quirk=label))
            except ValueError as err:
                self.drop(document='quirk/' + name, reason=str(err))


def storage_pools(conn):
    return set(p.name() for p in conn.listAllStoragePools(0))


def remove_new_pools(conn, before):
    """virt-install makes a pool for every directory it is given disks in: remove those."""
    for pool in conn.listAllStoragePools(0):
        if pool.name() in before:
            continue
        path = etree.fromstring(pool.XMLDesc(0).encode()).findtext('target/path') or ''
        if path.startswith(DISKDIR) or path == '/var/lib/libvirt/images':
            if pool.isActive():
                pool.destroy()
            pool.undefine()


def remove_unlisted(out, documents):
    """Files a failed attempt wrote and the manifest does not list."""
    listed = set(d['file'] for d in documents) | set(e['file'] for d in documents for e in d['edits'])
    for top in ('virt-install', 'dumpxml-inactive', 'dumpxml-running', 'quirk', 'edits'):
        for folder, _dirs, files in os.walk(os.path.join(out, top)):
            for name in files:
                rel = os.path.relpath(os.path.join(folder, name), out)
                if rel not in listed:
                    os.remove(os.path.join(out, rel))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=120, help='virt-install documents (default 120)')
    parser.add_argument('--out', default=os.path.join(REPO, 'tests', 'corpus', 'generated'))
    parser.add_argument('--jobs', type=int, default=3, help='documents made at the same time (default 3)')
    args = parser.parse_args()
    for tool in ('virt-install', 'virt-xml', 'virsh', 'qemu-img'):
        if shutil.which(tool) is None:
            sys.exit('%s not found: apt-get install virtinst qemu-utils libvirt-clients' % tool)
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit('terminated'))  # clean up on kill too
    daemon = Daemon()
    pools = storage_pools(daemon.conn)
    for sub in ('virt-install', 'dumpxml-inactive', 'dumpxml-running', 'quirk', 'edits'):
        shutil.rmtree(os.path.join(args.out, sub), ignore_errors=True)
    os.makedirs(os.path.join(DISKDIR, 'share'), exist_ok=True)
    specs = corpus_options.document_specs(args.count)
    jobs = [Generator(daemon, args.out) for _spec in specs]
    gen = Generator(daemon, args.out)
    started = time.time()
    pool = concurrent.futures.ThreadPoolExecutor(args.jobs)
    try:
        futures = []
        for i, (job, spec) in enumerate(zip(jobs, specs)):
            futures.append(pool.submit(job.one, i, spec))
            if i == 0:
                futures[0].result()  # the first one alone: virt-install makes its storage pools, not in a race
        for future in futures:
            future.result()  # a job's exception is the generator's
        for job in jobs:
            gen.documents.extend(job.documents)
            gen.dropped.extend(job.dropped)
        gen.quirks()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if not daemon.alive():
            daemon.reconnect()
        ours = set(spec['name'] for spec in specs)
        for dom in daemon.conn.listAllDomains(0):
            # ours, also those a restart of libvirtd cut short (a probe, a job's domain)
            if dom.name() in ours or dom.name().startswith('gen-corpus-probe-'):
                daemon.undefine(dom.name())
        remove_new_pools(daemon.conn, pools)
        shutil.rmtree(DISKDIR, ignore_errors=True)
    remove_unlisted(args.out, gen.documents)
    conn = daemon.conn
    manifest = dict(generated_by='scripts/gen-corpus.py --count %d' % args.count, tools=versions(conn),
                    documents=gen.documents, dropped=gen.dropped)
    with open(os.path.join(args.out, 'manifest.json'), 'w') as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
        handle.write('\n')
    kinds = {}
    for doc in gen.documents:
        kinds[doc['kind']] = kinds.get(doc['kind'], 0) + 1
    log('%d documents %s, %d edits, %d dropped, %.0f s' % (
        len(gen.documents), kinds, sum(len(d['edits']) for d in gen.documents), len(gen.dropped),
        time.time() - started))


if __name__ == '__main__':
    main()
