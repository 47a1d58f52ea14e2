# The XML engine against the real libvirtd (qemu:///system): every corpus
# document is defined, read back and compared; edits must report exactly the
# expected differences, and merging them must converge (define, compare again:
# nothing left; merge again: nothing changes). libvirt's own test-suite documents
# are the conformance suite (tests/conformance): they cannot ship with the project.
import json
import os
import sys
import uuid

import libvirt
import pytest
from lxml import etree

from ansible_collections.domainops.libvirt.plugins.module_utils import domain_xml as dx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain, step  # noqa: E402


REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROJECT_CORPUS = os.path.join(REPO, 'tests', 'corpus', 'domains')
URI = os.environ.get('DOMAINOPS_SYSTEM_URI', 'qemu:///system')

READ_FLAGS = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
VALIDATE = libvirt.VIR_DOMAIN_DEFINE_VALIDATE
UNDEFINE_FLAGS = 0
for _flag in ('VIR_DOMAIN_UNDEFINE_NVRAM', 'VIR_DOMAIN_UNDEFINE_MANAGED_SAVE',
              'VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA', 'VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA',
              'VIR_DOMAIN_UNDEFINE_TPM'):
    UNDEFINE_FLAGS |= getattr(libvirt, _flag, 0)


def _project_corpus():
    if not os.path.isdir(PROJECT_CORPUS):
        return []
    return sorted(name[:-4] for name in os.listdir(PROJECT_CORPUS)
                  if name.endswith('.xml') and not name.endswith('.edit.xml'))


@pytest.fixture(scope='module')
def conn():
    try:
        connection = libvirt.open(URI)
    except libvirt.libvirtError as exc:
        pytest.fail('cannot connect to %s: %s' % (URI, exc))
    yield connection
    connection.close()


@pytest.fixture(scope='module')
def aliases(conn):
    return dx.machine_aliases(conn.getCapabilities())


def _unique(root, prefix):
    """Give a document a unique name and UUID so runs never collide."""
    root = dx.parse_xml(etree.tostring(root)) if not isinstance(root, (str, bytes)) else dx.parse_xml(root)
    name = root.find('name')
    name.text = '%s-%s' % (prefix, uuid.uuid4().hex[:10])
    uuid_el = root.find('uuid')
    if uuid_el is not None:
        # keep the document's spelling (upper case, no dashes) for rule 16
        fresh = uuid.uuid4()
        upper = uuid_el.text.strip() != uuid_el.text.strip().lower()
        dashed = '-' in uuid_el.text
        uuid_el.text = str(fresh) if dashed else fresh.hex
        uuid_el.text = uuid_el.text.upper() if upper else uuid_el.text
        # libvirt insists that an SMBIOS system UUID equals the domain's
        for entry in root.iterfind("sysinfo/system/entry[@name='uuid']"):
            entry.text = uuid_el.text
    return root


def _define(conn, root, flags=VALIDATE):
    return conn.defineXMLFlags(dx.to_text(root, pretty=False, mask_secrets=False), flags)


def _read(dom):
    return dx.parse_xml(dom.XMLDesc(READ_FLAGS), what='dumped domain XML')


def _undefine(dom):
    try:
        dom.undefineFlags(UNDEFINE_FLAGS)
    except libvirt.libvirtError:
        dom.undefine()


def _matches(expected, actual):
    """An expected difference [path, before, after]: '*' matches any value and
    '<xml>' any element text."""
    def value_ok(pattern, value):
        if pattern == '*':
            return value is not None
        if pattern == '<xml>':
            return value is not None and value.startswith('<')
        return pattern == value
    return (expected[0] == actual.path and value_ok(expected[1], actual.before)
            and value_ok(expected[2], actual.after))


def _assert_expected(expected, differences):
    remaining = list(differences)
    missing = []
    for item in expected:
        found = next((d for d in remaining if _matches(item, d)), None)
        if found is None:
            missing.append(item)
        else:
            remaining.remove(found)
    assert not missing and not remaining, (
        'expected but not reported: %s\nreported but not expected: %s' % (missing, remaining))


def test_project_corpus_is_big_enough():
    assert len(_project_corpus()) >= 30


@pytest.mark.parametrize('name', _project_corpus())
def test_project_corpus_document(conn, aliases, name):
    base = os.path.join(PROJECT_CORPUS, name)
    with open(base + '.xml', 'rb') as handle:
        desired = _unique(handle.read(), 'dxc')
    with open(base + '.edit.xml', 'rb') as handle:
        edit = dx.parse_xml(handle.read())
    with open(base + '.edit.expect') as handle:
        expected = json.load(handle)
    # the edit describes the same domain
    edit.find('name').text = desired.find('name').text
    if edit.find('uuid') is not None:
        edit.find('uuid').text = desired.find('uuid').text

    # defined as virt_domain_state defines a new domain: the document with its applied record
    dom = _define(conn, dx.with_record(desired, aliases))
    try:
        actual = _read(dom)
        assert dx.compare_domain(desired, actual, aliases) == [], 'the document itself'

        differences = dx.compare_domain(edit, actual, aliases)
        _assert_expected(expected, differences)

        merged = dx.Comparison(dx.DOMAIN, edit, actual, aliases, write_record=True).merged
        assert dx.domain_uuid(merged) == dx.domain_uuid(actual), 'the UUID is kept'
        dom = _define(conn, merged)
        after_merge = _read(dom)
        assert dx.compare_domain(edit, after_merge, aliases) == [], 'after merge and define'
        _assert_unexpected_devices_kept(actual, after_merge, edit)

        again = dx.Comparison(dx.DOMAIN, edit, after_merge, aliases, write_record=True)
        assert again.differences == [] and not again.record_changed, 'applying the edit again changes nothing'
        dom = _define(conn, again.merged)
        after_second = _read(dom)
        assert dx.compare_domain(after_merge, after_second, aliases) == []
        assert dx.compare_domain(after_second, after_merge, aliases) == []
    finally:
        _undefine(dom)


def _assert_unexpected_devices_kept(before, after, desired):
    """Devices the edit did not touch keep their MAC and address."""
    desired_devices = desired.find('devices')
    touched = set(el.tag for el in desired_devices) if desired_devices is not None else set()
    for old in before.find('devices'):
        if old.tag in touched or old.tag in ('controller', 'emulator'):
            continue
        new = dx.find_device(after, old)
        assert new is not None, 'untouched device %s kept' % dx.device_identity(old)
        for part in ('address', 'mac'):
            if old.find(part) is not None:
                assert new.find(part) is not None and dict(new.find(part).attrib) == dict(
                    old.find(part).attrib), '%s of %s kept' % (part, dx.device_identity(old))


@pytest.mark.parametrize('name', _project_corpus())
def test_project_corpus_document_through_the_module(conn, name):
    """The document, then its edit, applied by virt_domain_state: each check, real, check,
    real (check mode byte-clean, the replays change nothing and call no defineXML)."""
    base = os.path.join(PROJECT_CORPUS, name)
    with open(base + '.xml', 'rb') as handle:
        desired = _unique(handle.read(), 'dxm')
    with open(base + '.edit.xml', 'rb') as handle:
        edit = dx.parse_xml(handle.read())
    edit.find('name').text = desired.find('name').text
    if edit.find('uuid') is not None:
        edit.find('uuid').text = desired.find('uuid').text
    domain = desired.findtext('name')
    try:
        for document in (desired, edit):
            step(conn, domain, 'virt_domain_state', dict(xml=dx.to_text(document, pretty=False, mask_secrets=False)),
                 ['define'])
    finally:
        remove_domain(conn, domain)
