# Conformance: the XML engine against libvirt's own test-suite documents on the real
# daemon (qemu:///system). Each document INDEX.tsv marks as defining on qemu:///system
# is defined, read back and compared: the engine must see no difference except what
# libvirt 9.0 is known to drop (KNOWN_DRIFT).
#
# libvirt's test XML cannot ship with the project: it lives in shared/corpus/libvirt-tests
# beside the clone (or where DOMAINOPS_SHARED points; CI sets it). Without it this file
# is skipped as a whole, and scripts/test.sh reports the conformance suite as not run;
# with DOMAINOPS_SHARED set, a missing corpus fails.
import os
import sys
import uuid

import libvirt
import pytest

from ansible_collections.domainops.libvirt.plugins.module_utils import domain_xml as dx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain, step  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.environ.get('DOMAINOPS_SHARED') or os.path.join(os.path.dirname(REPO), 'shared')
LIBVIRT_TESTS = os.path.join(SHARED, 'corpus', 'libvirt-tests')
INDEX = os.path.join(LIBVIRT_TESTS, 'INDEX.tsv')
URI = os.environ.get('DOMAINOPS_SYSTEM_URI', 'qemu:///system')

READ_FLAGS = libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
UNDEFINE_FLAGS = 0
for _flag in ('VIR_DOMAIN_UNDEFINE_NVRAM', 'VIR_DOMAIN_UNDEFINE_MANAGED_SAVE',
              'VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA', 'VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA',
              'VIR_DOMAIN_UNDEFINE_TPM'):
    UNDEFINE_FLAGS |= getattr(libvirt, _flag, 0)

if not os.path.isfile(INDEX) and not os.environ.get('DOMAINOPS_SHARED'):
    pytest.skip('libvirt test XML not found at %s (it cannot ship with the project; put shared/ beside the '
                'clone or set DOMAINOPS_SHARED): conformance not run' % LIBVIRT_TESTS, allow_module_level=True)

# NORMALIZATION.md rule 4: these documents use attributes newer than libvirt 9.0's
# schema; they define only without VALIDATE, and libvirt drops the unknown parts.
# That is permanent drift the comparison must keep reporting.
KNOWN_DRIFT = {
    'cpu-hotplug-startup.x86_64-latest.xml': ['cpu/topology/@clusters'],
    'hostdev-vfio.x86_64-latest.xml': ['devices/hostdev[pci:0000:06:12.3]/driver',
                                       'devices/hostdev[pci:0000:06:12.4]/driver/@model'],
    'sound-device.x86_64-latest.xml': ['devices/sound[usb]/@multichannel'],
}


def documents():
    """Files INDEX.tsv says define on qemu:///system (a missing index: one failing entry)."""
    if not os.path.isfile(INDEX):
        return ['MISSING:' + INDEX]
    names = []
    with open(INDEX) as handle:
        header = handle.readline().rstrip('\n').split('\t')
        column = header.index('qemu_system')
        for line in handle:
            fields = line.rstrip('\n').split('\t')
            if len(fields) > column and fields[column] == 'ok':
                names.append(fields[0])
    return names


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


def unique(text):
    """The document with a unique name and UUID (the UUID spelt as the document spells it)."""
    root = dx.parse_xml(text)
    root.find('name').text = 'dxt-%s' % uuid.uuid4().hex[:10]
    uuid_el = root.find('uuid')
    if uuid_el is not None:
        fresh = uuid.uuid4()
        upper = uuid_el.text.strip() != uuid_el.text.strip().lower()
        uuid_el.text = str(fresh) if '-' in uuid_el.text else fresh.hex
        uuid_el.text = uuid_el.text.upper() if upper else uuid_el.text
        for entry in root.iterfind("sysinfo/system/entry[@name='uuid']"):
            entry.text = uuid_el.text  # libvirt insists the SMBIOS UUID is the domain's
    return root


def test_the_corpus_is_there():
    names = documents()
    assert not names[0].startswith('MISSING:'), (
        'DOMAINOPS_SHARED=%s has no corpus/libvirt-tests/INDEX.tsv' % os.environ.get('DOMAINOPS_SHARED'))
    assert len(names) >= 30, '%d documents define on qemu:///system' % len(names)


@pytest.mark.parametrize('name', [n for n in documents() if not n.startswith('MISSING:')])
def test_libvirt_test_suite_document_compares_equal(conn, aliases, name):
    with open(os.path.join(LIBVIRT_TESTS, name), 'rb') as handle:
        desired = unique(handle.read())
    text = dx.to_text(desired, pretty=False, mask_secrets=False)
    try:
        dom = conn.defineXMLFlags(text, libvirt.VIR_DOMAIN_DEFINE_VALIDATE)
    except libvirt.libvirtError as exc:
        if 'schema' not in str(exc):
            raise
        # INDEX.tsv measured these with flags 0; a few only define that way.
        dom = conn.defineXMLFlags(text, 0)
    try:
        actual = dx.parse_xml(dom.XMLDesc(READ_FLAGS), what='dumped domain XML')
        differences = dx.compare_domain(desired, actual, aliases)
        assert sorted(d.path for d in differences) == sorted(KNOWN_DRIFT.get(name, []))
        assert all(d.before is None for d in differences), 'drift is only what libvirt dropped'
    finally:
        try:
            dom.undefineFlags(UNDEFINE_FLAGS)
        except libvirt.libvirtError:
            dom.undefine()


@pytest.mark.parametrize('name', [n for n in documents() if not n.startswith('MISSING:') and n not in KNOWN_DRIFT])
def test_libvirt_test_suite_document_through_the_module(conn, name):
    """Defined by virt_domain_state: check mode changes nothing, the real run defines, and
    the check and real runs again change nothing and call no defineXML (actions == [])."""
    with open(os.path.join(LIBVIRT_TESTS, name), 'rb') as handle:
        desired = unique(handle.read())
    domain = desired.findtext('name')
    try:
        step(conn, domain, 'virt_domain_state', dict(xml=dx.to_text(desired, pretty=False, mask_secrets=False)),
             ['define'])
    finally:
        remove_domain(conn, domain)
