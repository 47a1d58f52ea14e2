# The applied record and the three-way comparison (xml_record.py, xml_engine.py): tables, no libvirt.
import pytest

from ansible_collections.domainops.libvirt.plugins.module_utils import domain_xml as dx
from ansible_collections.domainops.libvirt.plugins.module_utils import xml_record

ALIASES = {'pc': 'pc-i440fx-7.2', 'q35': 'pc-q35-7.2'}


def dom(body):
    return "<domain type='qemu'><name>t</name>%s</domain>" % body


def applied(previous, actual):
    """The actual document as it is after `previous` was applied by the collection."""
    comparison = dx.Comparison(dx.DOMAIN, previous, actual, ALIASES, write_record=True)
    return comparison.merged


def three_way(previous, desired, actual):
    stored = applied(previous, actual)
    comparison = dx.Comparison(dx.DOMAIN, desired, stored, ALIASES, write_record=True)
    return comparison


BASE = dom("<os><type>hvm</type><bootmenu enable='yes'/></os><memoryBacking><nosharepages/></memoryBacking>"
           "<devices><disk type='file' device='disk'><driver name='qemu' cache='none'/>"
           "<source file='/a'/><target dev='vda'/></disk>"
           "<disk type='file' device='disk'><source file='/b'/><target dev='vdb'/></disk>"
           "<input type='tablet' bus='usb'/><sound model='ich9'/>"
           "<memballoon model='virtio'><stats period='10'/></memballoon></devices>")

# (label, what the new desired document drops, the difference path, what stays away)
REMOVALS = [
    ('attribute', ("<driver name='qemu' cache='none'/>", "<driver name='qemu'/>"),
     'devices/disk[vda]/driver/@cache', "devices/disk/driver[@cache]"),
    ('element', ("<bootmenu enable='yes'/>", ''), 'os/bootmenu', 'os/bootmenu'),
    ('top-level element', ("<memoryBacking><nosharepages/></memoryBacking>", ''), 'memoryBacking', 'memoryBacking'),
    ('nested child', ("<stats period='10'/>", ''), 'devices/memballoon/stats', 'devices/memballoon/stats'),
    ('device', ("<disk type='file' device='disk'><source file='/b'/><target dev='vdb'/></disk>", ''),
     'devices/disk[vdb]', "devices/disk/target[@dev='vdb']"),
    ('device of a kind kept elsewhere', ("<input type='tablet' bus='usb'/>", ''), 'devices/input[tablet,usb]',
     "devices/input[@type='tablet']"),
    ('last device of a kind', ("<sound model='ich9'/>", ''), 'devices/sound[ich9]', 'devices/sound'),
]


@pytest.mark.parametrize('old,new,path,gone', [r[1] + r[2:] for r in REMOVALS], ids=[r[0] for r in REMOVALS])
def test_a_removal_from_the_applied_document_is_removed(old, new, path, gone):
    desired = BASE.replace(old, new)
    comparison = three_way(BASE, desired, BASE)
    assert [d.path for d in comparison.differences] == [path]
    assert comparison.differences[0].after is None
    assert comparison.merged.find(gone) is None
    again = dx.Comparison(dx.DOMAIN, desired, comparison.merged, ALIASES, write_record=True)
    assert again.differences == [] and not again.record_changed, 'applying it again changes nothing'


@pytest.mark.parametrize('old,new,path,gone', [r[1] + r[2:] for r in REMOVALS], ids=[r[0] for r in REMOVALS])
def test_without_a_record_nothing_is_removed(old, new, path, gone):
    comparison = dx.Comparison(dx.DOMAIN, BASE.replace(old, new), BASE, ALIASES, write_record=True)
    assert comparison.differences == []
    assert comparison.record_changed and not comparison.had_record, 'the first apply writes the record'
    assert comparison.merged.find(gone) is not None


def test_parts_in_neither_document_are_kept():
    # a disk attached by virt_domain_device, a controller libvirt added
    actual = BASE.replace('</devices>', "<disk type='file' device='disk'><source file='/c'/><target dev='vdc'/>"
                                        "</disk><controller type='usb' index='0' model='piix3-uhci'/></devices>")
    stored = applied(BASE, actual)
    comparison = dx.Comparison(dx.DOMAIN, BASE, stored, ALIASES, write_record=True)
    assert comparison.differences == [] and not comparison.record_changed
    assert comparison.merged.find("devices/disk/target[@dev='vdc']") is not None


def test_record_holds_the_shape_never_values():
    desired = dom("<description>secret plans</description><devices>"
                  "<graphics type='vnc' passwd='hunter2' port='5901' autoport='no'/>"
                  "<disk type='network' device='disk'><source protocol='http' name='/x'>"
                  "<cookies><cookie name='token'>c00kie</cookie></cookies></source><target dev='vda'/></disk>"
                  "</devices>")
    stored = applied(desired, desired)
    text = dx.to_text(xml_record.find(stored), mask_secrets=False)
    for secret in ('hunter2', 'c00kie', 'secret plans', '5901'):
        assert secret not in text
    assert 'passwd=""' in text and '"vda"' in text and 'dev' in text


def test_record_removed_attribute_reappears_only_through_libvirt():
    previous = dom("<devices><graphics type='vnc' port='5901' autoport='no'/></devices>")
    desired = dom("<devices><graphics type='vnc'/></devices>")
    comparison = three_way(previous, desired, previous)
    assert sorted(d.path for d in comparison.differences) == [
        'devices/graphics[vnc]/@autoport', 'devices/graphics[vnc]/@port']


def test_interfaces_without_mac_are_removed_by_count():
    nic = "<interface type='network'><source network='default'/><model type='virtio'/></interface>"
    actual = dom("<devices>%s%s</devices>" % (
        nic.replace('<source', "<mac address='52:54:00:00:00:01'/><source"),
        nic.replace('<source', "<mac address='52:54:00:00:00:02'/><source")))
    stored = applied(dom('<devices>%s%s</devices>' % (nic, nic)), actual)
    comparison = dx.Comparison(dx.DOMAIN, dom('<devices>%s</devices>' % nic), stored, ALIASES)
    assert len(comparison.differences) == 1 and comparison.differences[0].after is None
    assert len(comparison.merged.findall('devices/interface')) == 1


def test_a_record_copied_into_the_desired_document_is_ignored():
    stored = applied(BASE, BASE)
    dumped = dx.to_text(stored, mask_secrets=False)  # what virsh dumpxml gives
    assert '<sound model="ich9"/>' in dumped
    comparison = dx.Comparison(dx.DOMAIN, dumped.replace('<sound model="ich9"/>', ''), stored, ALIASES)
    assert [d.path for d in comparison.differences] == ['devices/sound[ich9]']


@pytest.mark.parametrize('record,problem', [
    ("<domainops:applied xmlns:domainops='%s' version='99'><domain/></domainops:applied>" % xml_record.RECORD_NS,
     'newer version'),
    ("<domainops:applied xmlns:domainops='%s' version='x'><domain/></domainops:applied>" % xml_record.RECORD_NS,
     'not a number'),
    ("<domainops:applied xmlns:domainops='%s' version='1'><network/></domainops:applied>" % xml_record.RECORD_NS,
     'one <domain>'),
    ("<domainops:applied xmlns:domainops='%s' version='1'><domain><devices><disk domainops:id='{'/></devices>"
     "</domain></domainops:applied>" % xml_record.RECORD_NS, 'does not parse'),
], ids=['newer', 'bad version', 'wrong root', 'bad identity'])
def test_a_damaged_or_newer_record_is_reported_and_treated_as_absent(record, problem):
    actual = BASE.replace('<os>', '<metadata>%s</metadata><os>' % record)
    comparison = dx.Comparison(dx.DOMAIN, BASE.replace("<sound model='ich9'/>", ''), actual, ALIASES,
                               write_record=True)
    assert problem in comparison.record_problem
    assert comparison.differences == [] and comparison.record_changed
    assert xml_record.read(comparison.merged) is not None, 'replaced by a good one'


def test_user_metadata_beside_the_record_is_kept_and_compared():
    mine = "<metadata><my:app xmlns:my='urn:my'>1</my:app></metadata>"
    stored = applied(dom(mine), dom(mine))
    assert stored.find('metadata/{urn:my}app') is not None and xml_record.find(stored) is not None
    comparison = dx.Comparison(dx.DOMAIN, dom(''), stored, ALIASES)
    assert [d.path for d in comparison.differences] == ['metadata/app']


def test_usb2_companion_controllers_pair_by_model():
    usb2 = ("<controller type='usb' index='0' model='ich9-ehci1'/>"
            "<controller type='usb' index='0' model='ich9-uhci1'><master startport='0'/></controller>"
            "<controller type='usb' index='0' model='ich9-uhci2'><master startport='2'/></controller>"
            "<controller type='usb' index='0' model='ich9-uhci3'><master startport='4'/></controller>")
    desired = dom('<devices>%s</devices>' % usb2)
    assert dx.compare_domain(desired, desired, ALIASES) == []
    merged = dx.merge_domain(desired, desired, ALIASES)
    assert [c.get('model') for c in merged.findall('devices/controller')] == [
        'ich9-ehci1', 'ich9-uhci1', 'ich9-uhci2', 'ich9-uhci3']


def test_switch_to_per_device_boot_order_drops_os_boot():
    actual = dom("<os><type>hvm</type><boot dev='hd'/></os><devices><disk device='disk'><target dev='vda'/>"
                 "</disk></devices>")
    desired = dom("<os><type>hvm</type></os><devices><disk device='disk'><target dev='vda'/>"
                  "<boot order='1'/></disk></devices>")
    merged = dx.merge_domain(desired, actual, ALIASES, record=None)
    assert merged.find('os/boot') is None and merged.find('devices/disk/boot').get('order') == '1'


def test_graphics_listen_attribute_change_follows_into_listen_element():
    actual = dom("<devices><graphics type='vnc' listen='127.0.0.1'><listen type='address' address='127.0.0.1'/>"
                 "</graphics></devices>")
    merged = dx.merge_domain(dom("<devices><graphics type='vnc' listen='0.0.0.0'/></devices>"), actual, ALIASES)
    assert merged.find('devices/graphics/listen').get('address') == '0.0.0.0'


QEMU = 'http://libvirt.org/schemas/domain/qemu/1.0'


@pytest.mark.parametrize('before,after,secret', [
    ("<devices><disk type='network' device='disk'><source protocol='http' name='/i'><cookies>"
     "<cookie name='session'>%s</cookie></cookies></source><target dev='vda'/></disk></devices>", None, 'Ck1e'),
    ("<sysinfo type='smbios'><oemStrings><entry>%s</entry></oemStrings></sysinfo>", None, 'io.systemd.credential'),
    ("<qemu:commandline xmlns:qemu='%s'><qemu:arg value='%%s'/></qemu:commandline>" % QEMU, None, '-secretarg'),
    ("<qemu:commandline xmlns:qemu='%s'><qemu:env name='TOKEN' value='%%s'/></qemu:commandline>" % QEMU, None,
     'tok3n'),
], ids=['cookie', 'oemStrings', 'qemu arg', 'qemu env'])
def test_secrets_found_by_path_are_masked(before, after, secret):
    old, new = dom(before % (secret + '-old')), dom(before % (secret + '-new'))
    differences = dx.compare_domain(new, old, ALIASES)
    assert differences, 'the new value is a difference'
    shown = repr(differences) + dx.to_text(new) + dx.to_text(dx.merge_domain(new, old, ALIASES))
    assert secret not in shown and '********' in shown
    assert secret + '-new' in dx.to_text(new, mask_secrets=False), 'defined unmasked'
