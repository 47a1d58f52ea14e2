# virt_domain_state on the documents users really have (tests/corpus/generated, made by
# scripts/gen-corpus.py with virt-install, virsh and virt-xml), in-process against
# qemu:///system. Every document: (a) applying it defines it (changed); (b) applying it
# again changes nothing and calls no defineXML at all. Every edit of the document, on a
# domain in the document's state: (c) applying it is a change, and the domain's
# inactive definition then equals what libvirt makes of the edited document on its own;
# (d) applying it again changes nothing, with no defineXML. (e) Before each real run a
# check run leaves the domain byte-identical and predicts the same `changed`.
# One test per document (its edits inside), so failures are listed by document.
#
# Each test collects all its problems before failing, so one run measures every check;
# with DOMAINOPS_CORPUS_RESULTS=FILE each test also appends its findings to FILE (JSON
# lines) for tests/lib/corpus_report.py. DOMAINOPS_CORPUS_VALIDATE=false|true passes
# `validate` to the module (by default nothing is passed: the module's default applies).
import copy
import difflib
import json
import os
import sys
import uuid

import libvirt
import pytest
from lxml import etree

from ansible_collections.domainops.libvirt.plugins.module_utils import domain_xml as dx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain, run_module, snapshot, warnings_of  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.environ.get('DOMAINOPS_CORPUS_DIR') or os.path.join(REPO, 'tests', 'corpus', 'generated')
URI = os.environ.get('DOMAINOPS_SYSTEM_URI', 'qemu:///system')
RESULTS = os.environ.get('DOMAINOPS_CORPUS_RESULTS')
VALIDATE = os.environ.get('DOMAINOPS_CORPUS_VALIDATE')
READ_FLAGS = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE

# What the collection stores in a domain's <metadata> (its applied record): left out of
# the comparison with libvirt's own define, which has none. One place to adapt.
ENGINE_NAMESPACES = ('https://github.com/domainops',)


def _manifest():
    with open(os.path.join(CORPUS, 'manifest.json')) as handle:
        return json.load(handle)['documents']


DOCUMENTS = _manifest()
EDITS = [(doc, edit) for doc in DOCUMENTS for edit in doc['edits']]


def _read_text(rel):
    with open(os.path.join(CORPUS, rel)) as handle:
        return handle.read()


def _declaration(text):
    """The document's XML declaration line ('' when it has none): kept as written."""
    return text[:text.index('?>') + 2] + '\n' if text.startswith('<?xml') else ''


def _renamed(text, name, uuid_text):
    """text with another name and UUID (and the SMBIOS UUID that must equal it)."""
    root = etree.fromstring(text.encode())
    root.find('name').text = name
    uuid_el = root.find('uuid')
    if uuid_el is None:
        uuid_el = etree.SubElement(root, 'uuid')
    uuid_el.text = uuid_text
    for entry in root.iterfind("sysinfo/system/entry[@name='uuid']"):
        entry.text = uuid_text
    return _declaration(text) + etree.tostring(root, encoding='unicode')


def _unique_name():
    return 'gcx-%s' % uuid.uuid4().hex[:10]


def _with_macs(text, conn, name):
    """The edited document with the MACs of the module's domain on the interfaces
    that have none (added by the edit without one)."""
    root = etree.fromstring(text.encode())
    actual = etree.fromstring(conn.lookupByName(name).XMLDesc(READ_FLAGS).encode())
    written = set(m.get('address', '').lower() for m in root.iterfind('devices/interface/mac'))
    spare = [m.get('address') for m in actual.iterfind('devices/interface/mac') if m.get('address') not in written]
    for iface in root.iterfind('devices/interface'):
        if iface.find('mac') is None and spare:
            etree.SubElement(iface, 'mac', address=spare.pop(0))
    return _declaration(text) + etree.tostring(root, encoding='unicode')


def _controller_kinds(*texts):
    kinds = set()
    for text in texts:
        for el in etree.fromstring(text.encode()).iterfind('devices/controller'):
            kinds.add((el.get('type'), el.get('model')))
    return kinds


def _comparable(xml_text, name, written_controllers):
    """libvirt's inactive XML without what may rightly differ between the module's
    domain and libvirt's own define of the same document: name, UUID, the engine's own
    metadata, device addresses, controllers of a kind neither document wrote, and the
    domain name inside the NVRAM path libvirt derives from it."""
    root = etree.fromstring(xml_text.encode())
    for tag in ('name', 'uuid'):
        for el in root.findall(tag):
            root.remove(el)
    for entry in root.findall("sysinfo/system/entry[@name='uuid']"):
        entry.getparent().remove(entry)
    metadata = root.find('metadata')
    if metadata is not None:
        for child in list(metadata):
            if etree.QName(child).namespace and etree.QName(child).namespace.startswith(ENGINE_NAMESPACES):
                metadata.remove(child)
        if len(metadata) == 0:
            root.remove(metadata)
    for address in root.findall('devices/*/address'):
        address.getparent().remove(address)
    for controller in root.findall('devices/controller'):
        if (controller.get('type'), controller.get('model')) not in written_controllers:
            controller.getparent().remove(controller)
    # libvirt numbers virtio consoles itself, and not stably (a console defined as port
    # 0 beside the serial console is port 1 on the next define): rule X6.
    for target in root.findall("devices/console/target[@type='virtio']"):
        target.attrib.pop('port', None)
    nvram = root.find('os/nvram')
    if nvram is not None and nvram.text:
        nvram.text = nvram.text.replace(name, 'NAME')
    for el in root.iter():
        el.tail = None
        if el.text is not None and not el.text.strip():
            el.text = None
    return root


def _canonical(root):
    return etree.tostring(root, method='c14n').decode()


def _sorted_devices(root):
    root = copy.deepcopy(root)
    devices = root.find('devices')
    if devices is not None:
        children = sorted(devices, key=lambda el: (el.tag, _canonical(el)))
        devices[:] = children
    return root


def _pretty(root):
    text = etree.tostring(root, encoding='unicode')
    return etree.tostring(etree.fromstring(text, etree.XMLParser(remove_blank_text=True)),
                          encoding='unicode', pretty_print=True).splitlines()


class Defines:
    """Counts defineXML / defineXMLFlags calls made in this process."""

    def __init__(self, monkeypatch):
        self.count = 0
        for method in ('defineXML', 'defineXMLFlags'):
            original = getattr(libvirt.virConnect, method)

            def counted(conn_self, *args, _original=original):
                self.count += 1
                return _original(conn_self, *args)
            monkeypatch.setattr(libvirt.virConnect, method, counted)


class Findings:
    """The problems of one test, by check, and what the module warned."""

    def __init__(self, test_id, doc, edit=None):
        self.record = dict(test=test_id, doc=doc['id'], kind=doc['kind'], validate=doc['validate'],
                           edit=edit['id'] if edit else None, edit_tool=(edit or {}).get('tool'),
                           deletes=(edit or {}).get('deletes'), edit_validate=(edit or {}).get('validate'),
                           problems=[], warnings=[], passed=[])

    def problem(self, check, message):
        self.record['problems'].append(dict(check=check, msg=message))

    def ok(self, check):
        self.record['passed'].append(check)

    def save(self):
        if RESULTS:
            with open(RESULTS, 'a') as handle:
                handle.write(json.dumps(self.record) + '\n')


def _args(text):
    args = dict(xml=text, state='present')
    if VALIDATE is not None:
        args['validate'] = VALIDATE.lower() in ('1', 'true', 'yes')
    return args


def _apply(conn, name, text, defines, findings, step, check=True):
    """Check run (byte-clean, same prediction), then the real run. Returns the real
    result and the number of defines it made (None when the real run failed)."""
    checked = None
    if check:
        before = snapshot(conn, name)
        checked = run_module('virt_domain_state', _args(text), URI, check=True, diff=True)
        after = snapshot(conn, name)
        if checked['failed']:
            findings.problem('check-failed', '%s: %s' % (step, checked['msg']))
        elif after != before:
            findings.problem('check-mode-changed-domain', step)
        else:
            findings.ok('check-clean')
    start = defines.count
    real = run_module('virt_domain_state', _args(text), URI)
    made = defines.count - start
    findings.record['warnings'].extend('%s: %s' % (step, w) for w in warnings_of(real))
    if real['failed']:
        return real, None
    if checked is not None and not checked['failed']:
        if checked['changed'] != real['changed']:
            findings.problem('check-mode-prediction', '%s: check mode said changed=%s, the real run %s (%s)' % (
                step, checked['changed'], real['changed'], ', '.join(warnings_of(real)) or 'no warning'))
        else:
            findings.ok('check-prediction')
    return real, made


def _reapply(conn, name, text, defines, findings, step):
    real, made = _apply(conn, name, text, defines, findings, step)
    if made is None:
        findings.problem('%s-failed' % step, real['msg'])
        return
    if real['changed']:
        findings.problem('%s-changed' % step, 'reported a change: %s; differences: %s' % (
            real.get('actions'), ', '.join(real.get('differences') or [])))
    elif made:
        findings.problem('%s-defines' % step, '%d defineXML call(s) on a no-change run (%s)' % (
            made, ', '.join(warnings_of(real)) or 'no warning'))
    else:
        findings.ok(step)


@pytest.fixture(scope='module')
def _connection():
    try:
        holder = [libvirt.open(URI)]
    except libvirt.libvirtError as exc:
        pytest.fail('cannot connect to %s: %s' % (URI, exc))
    yield holder
    holder[0].close()


@pytest.fixture
def conn(_connection):
    """The module's connection, opened again if libvirtd restarted since the last test
    (other suites on a shared host restart it)."""
    try:
        _connection[0].getLibVersion()
    except libvirt.libvirtError:
        _connection[0] = libvirt.open(URI)
    return _connection[0]


def test_corpus_is_big_enough():
    kinds = {}
    for doc in DOCUMENTS:
        kinds[doc['kind']] = kinds.get(doc['kind'], 0) + 1
    assert kinds.get('virt-install', 0) >= 100 and kinds.get('dumpxml-inactive', 0) >= 100, kinds
    assert kinds.get('dumpxml-running', 0) >= 20 and kinds.get('quirk', 0) >= 5, kinds
    deletions = {}
    for _doc, edit in EDITS:
        if edit.get('deletes'):
            deletions[edit['deletes']] = deletions.get(edit['deletes'], 0) + 1
    assert all(deletions.get(kind, 0) >= 10 for kind in (
        'attribute', 'element', 'nested-child', 'device', 'last-device')), deletions


# Measured limits, each a libvirt behaviour the module cannot undo (docs/comparison-rules.md):
# (test, check) -> why. The test still fails when any other problem shows up.
KNOWN = {
    ('dumpxml-running/vi-freebsd123-q35-vga-bootorder:del-nested-child-console-target', 'edit-not-changed'):
        'the console copy of serial 0 is re-created by libvirt with the same target: nothing to change',
    ('dumpxml-inactive/vi-fedora-unknown-q35v72-memtune-redirdev-virtio-ich9:del-nested-child-console-target',
     'edit-not-changed'): 'as above',
    ('dumpxml-inactive/vi-rhel91-pc-panic-twodisks-nosound:disk-cache', 'edit-not-changed'):
        'the edit writes the value the definition already has',
    ('virt-install/vi-win7-q35-tpmtis-topology-localtime-usere1000:del-last-device-interface',
     'edit-result-differs'): 'the pcie-root-port libvirt added for the removed NIC stays (libvirt keeps '
                             'controllers it added; a fresh define never makes it)',
    ('virt-install/vi-ubuntu2004-i440fx72-uefi-twoheads-ide:del-attribute-tpm-model', 'edit-result-differs'):
        "the TPM backend version libvirt chose for the old model stays (a default that depends on another "
        "value: the stored value is kept, as for any part the XML does not write)",
}


@pytest.mark.parametrize('doc', DOCUMENTS, ids=[d['id'] for d in DOCUMENTS])
def test_document(conn, monkeypatch, doc):
    """The document, then each of its edits: the first on the same domain (in the
    document's state after the re-apply), the others on a fresh one."""
    defines = Defines(monkeypatch)
    name, domain_uuid = _unique_name(), str(uuid.uuid4())
    try:
        records = [_document(conn, defines, doc, name, domain_uuid)]
        fresh = records[0].record['problems'] != []
        for edit in doc['edits']:
            records.append(_edit(conn, defines, doc, edit, name, domain_uuid, fresh))
            fresh = True
    finally:
        remove_domain(conn, name)
    problems = []
    for findings in records:
        findings.save()
        problems.extend('%s: %s: %s' % (findings.record['test'], p['check'], p['msg'])
                        for p in findings.record['problems']
                        if (findings.record['test'], p['check']) not in KNOWN)
    assert not problems, '\n'.join(problems)


def _document(conn, defines, doc, name, domain_uuid):
    findings = Findings(doc['id'], doc)
    text = _renamed(_read_text(doc['file']), name, domain_uuid)
    real, made = _apply(conn, name, text, defines, findings, 'define')
    if made is None:
        findings.problem('define-failed', real['msg'])
    elif not real['changed']:
        findings.problem('define-not-changed', 'a new domain reported no change')
    else:
        findings.ok('define')
        _reapply(conn, name, text, defines, findings, 'reapply')
    return findings


def _edit(conn, defines, doc, edit, name, domain_uuid, fresh):
    findings = Findings('%s:%s' % (doc['id'], edit['id']), doc, edit)
    own_name = _unique_name()
    base = _renamed(_read_text(doc['file']), name, domain_uuid)
    edited = _renamed(_read_text(edit['file']), name, domain_uuid)
    try:
        if fresh:
            remove_domain(conn, name)
            real, made = _apply(conn, name, base, defines, findings, 'base', check=False)
            if made is None:
                findings.problem('base-failed', real['msg'])
                return findings
        real, made = _apply(conn, name, edited, defines, findings, 'edit')
        if made is None:
            findings.problem('edit-failed', real['msg'])
            return findings
        if not real['changed']:
            findings.problem('edit-not-changed', 'the edit reported no change (%s)' % (
                ', '.join(warnings_of(real)) or 'no warning'))
        else:
            findings.ok('edit')
        _compare_with_own_define(conn, name, own_name, edited, base, findings)
        _reapply(conn, name, edited, defines, findings, 'edit-reapply')
    finally:
        remove_domain(conn, own_name)
    return findings


def _compare_with_own_define(conn, name, own_name, edited, base, findings):
    """The module's result against libvirt's own define of the edited document.

    Both sides are libvirt's own inactive XML, written by one formatter in one order, so
    after removing what may rightly differ (_comparable) they are compared as canonical
    trees (C14N text). That is stricter than compare_domain() both ways: compare_domain
    is the engine under test, and its rules ignore things by design (runtime-only values,
    defaults) that an exact comparison must still see. compare_domain paths are added to
    the message to name the parts. A result whose devices differ only in order is
    reported as its own check (edit-result-order)."""
    own_text = _with_macs(_renamed(edited, own_name, str(uuid.uuid4())), conn, name)
    try:
        own = conn.defineXMLFlags(own_text, 0)
    except libvirt.libvirtError as err:
        findings.problem('own-define-failed', err.get_error_message())
        return
    kinds = _controller_kinds(base, edited)
    mine_text = conn.lookupByName(name).XMLDesc(READ_FLAGS)
    mine = _comparable(mine_text, name, kinds)
    theirs = _comparable(own.XMLDesc(READ_FLAGS), own_name, kinds)
    if _canonical(mine) == _canonical(theirs):
        findings.ok('edit-exact')
        return
    if _canonical(_sorted_devices(mine)) == _canonical(_sorted_devices(theirs)):
        findings.problem('edit-result-order', 'the devices are the same but in another order')
        return
    aliases = dx.machine_aliases(conn.getCapabilities())
    paths = ['module has, libvirt not: %s' % d.path for d in dx.compare_domain(mine, theirs, aliases)]
    paths += ['libvirt has, module not: %s' % d.path for d in dx.compare_domain(theirs, mine, aliases)]
    lines = difflib.unified_diff(_pretty(theirs), _pretty(mine), 'libvirt define', 'module', n=1, lineterm='')
    diff = [line for line in lines if not line.startswith(('---', '+++'))]
    named = '; '.join(paths) or 'compare_domain sees no difference'
    findings.problem('edit-result-differs', '%s\n%s' % (named, '\n'.join(diff[:40])))
