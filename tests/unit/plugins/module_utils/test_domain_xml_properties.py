# Properties of merge and compare over generated domains and edits (no libvirt):
# merging a desired XML into an actual one leaves no difference, and whatever the
# desired XML does not mention comes through unchanged.
from hypothesis import given, settings, strategies as st

from ansible_collections.domainops.libvirt.plugins.module_utils import domain_xml as dx

ALIASES = {'pc': 'pc-i440fx-7.2', 'q35': 'pc-q35-7.2'}
UNITS = {'KiB': 1, 'MiB': 1024, 'GiB': 1024 * 1024}

disk_names = st.sets(st.sampled_from(['vda', 'vdb', 'vdc', 'vdd', 'sda', 'hdc']), max_size=4)
macs = st.sets(st.integers(min_value=1, max_value=40).map(lambda n: '52:54:00:00:00:%02x' % n), max_size=3)


def disk_xml(dev, path, cache=None):
    driver = "<driver name='qemu' type='raw'%s/>" % (" cache='%s'" % cache if cache else '')
    return ("<disk type='file' device='disk'>%s<source file='%s'/><target dev='%s'/></disk>"
            % (driver, path, dev))


def nic_xml(mac, model, upper=False):
    return ("<interface type='user'><mac address='%s'/><model type='%s'/></interface>"
            % (mac.upper() if upper else mac, model))


@st.composite
def actual_domains(draw):
    """libvirt-like stored definitions (KiB, canonical machine, addresses)."""
    disks = sorted(draw(disk_names))
    nics = sorted(draw(macs))
    body = ''.join(disk_xml(d, '/img/%s.img' % d, draw(st.sampled_from(['none', 'writeback', None])))
                   for d in disks)
    for i, mac in enumerate(nics):
        body += nic_xml(mac, 'virtio').replace(
            '</interface>', "<address type='pci' domain='0x0000' bus='0x%02x' slot='0x00' function='0x0'/>"
                            "</interface>" % (i + 1))
    kib = draw(st.integers(min_value=1, max_value=64)) * 65536
    return ("<domain type='qemu'><name>p</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1899</uuid>"
            "<memory unit='KiB'>%d</memory><currentMemory unit='KiB'>%d</currentMemory>"
            "<vcpu placement='static'>%d</vcpu><os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>"
            "<clock offset='utc'/><devices><emulator>/usr/bin/qemu-system-x86_64</emulator>%s"
            "<input type='mouse' bus='ps2'/></devices></domain>"
            % (kib, kib, draw(st.integers(1, 8)), body))


@st.composite
def desired_edits(draw):
    parts = []
    if draw(st.booleans()):
        unit = draw(st.sampled_from(sorted(UNITS)))
        parts.append("<memory unit='%s'>%d</memory>" % (unit, draw(st.integers(1, 4096))))
    if draw(st.booleans()):
        parts.append("<vcpu>%d</vcpu>" % draw(st.integers(1, 8)))
    if draw(st.booleans()):
        parts.append("<os><type machine='%s'>hvm</type></os>" % draw(st.sampled_from(['q35', 'pc-q35-7.2'])))
    devices = ''
    if draw(st.booleans()):
        devices += ''.join(disk_xml(d, draw(st.sampled_from(['/img/%s.img' % d, '/new/%s.qcow2' % d])),
                                    draw(st.sampled_from(['none', 'default', None])))
                           for d in sorted(draw(disk_names)))
    if draw(st.booleans()):
        devices += ''.join(nic_xml(m, draw(st.sampled_from(['virtio', 'e1000'])), draw(st.booleans()))
                           for m in sorted(draw(macs)))
    if devices:
        parts.append('<devices>%s</devices>' % devices)
    return "<domain type='qemu'><name>p</name>%s</domain>" % ''.join(parts)


@settings(max_examples=300, deadline=None)
@given(actual_domains(), desired_edits())
def test_merge_then_compare_has_no_difference(actual, desired):
    merged = dx.merge_domain(desired, actual, ALIASES)
    assert dx.compare_domain(desired, merged, ALIASES) == []
    # merging again changes nothing
    again = dx.merge_domain(desired, merged, ALIASES)
    assert dx.to_text(again, mask_secrets=False) == dx.to_text(merged, mask_secrets=False)


@settings(max_examples=300, deadline=None)
@given(actual_domains(), desired_edits())
def test_unspecified_parts_never_change(actual, desired):
    merged = dx.merge_domain(desired, actual, ALIASES)
    before = dx.parse_xml(actual)
    wanted = dx.parse_xml(desired)
    assert dx.domain_uuid(merged) == dx.domain_uuid(before)
    assert merged.find('clock').get('offset') == 'utc'
    assert merged.findtext('devices/emulator') == '/usr/bin/qemu-system-x86_64'
    assert merged.find("devices/input[@bus='ps2']") is not None
    for tag in ('disk', 'interface'):
        if wanted.find('devices/' + tag) is None:
            old = [dx.to_text(el, pretty=False) for el in before.iterfind('devices/' + tag)]
            new = [dx.to_text(el, pretty=False) for el in merged.iterfind('devices/' + tag)]
            assert old == new, 'device type %s not mentioned: kept as it was' % tag
    # interfaces kept by MAC keep their addresses
    for nic in merged.iterfind('devices/interface'):
        old = dx.find_device(before, nic)
        if old is not None and old.find('address') is not None:
            assert dict(nic.find('address').attrib) == dict(old.find('address').attrib)
    if wanted.find('vcpu') is None:
        assert merged.findtext('vcpu') == before.findtext('vcpu')


@settings(max_examples=200, deadline=None)
@given(actual_domains(), desired_edits())
def test_unmentioned_top_level_elements_kept_byte_for_byte(actual, desired):
    # Generalises the spot checks above: every top-level element the desired XML does
    # not mention (memory, currentMemory, os, vcpu, clock, ...) comes through unchanged,
    # and the merged document converges in one step (a second compare finds nothing).
    merged = dx.merge_domain(desired, actual, ALIASES)
    before, wanted = dx.parse_xml(actual), dx.parse_xml(desired)
    mentioned = set(child.tag for child in wanted)
    if 'memory' in mentioned:
        mentioned.add('currentMemory')  # follows <memory> (NORMALIZATION.md)
    for child in before:
        if child.tag not in mentioned:
            kept = merged.find(child.tag)
            assert kept is not None, '<%s> disappeared' % child.tag
            assert dx.to_text(kept, pretty=False) == dx.to_text(child, pretty=False), child.tag
    assert dx.compare_domain(desired, dx.parse_xml(dx.to_text(merged, mask_secrets=False)), ALIASES) == []
