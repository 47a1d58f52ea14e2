# Unit tests of the XML engine: tables, one row per rule or case. No libvirt.
import pytest

from ansible_collections.domainops.libvirt.plugins.module_utils import domain_xml as dx
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError

ALIASES = {'pc': 'pc-i440fx-7.2', 'q35': 'pc-q35-7.2'}

CAPS = """<capabilities><host><cpu><arch>x86_64</arch></cpu></host>
<guest><os_type>hvm</os_type><arch name='x86_64'>
<machine maxCpus='255'>pc-i440fx-7.2</machine>
<machine canonical='pc-i440fx-7.2' maxCpus='255'>pc</machine>
<machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>
<domain type='qemu'/>
<domain type='kvm'><machine canonical='pc-q35-7.2'>q35</machine></domain>
</arch></guest>
<guest><os_type>hvm</os_type><arch name='aarch64'>
<machine canonical='virt-7.2'>virt</machine></arch></guest>
</capabilities>"""


def dom(body, head="<name>t</name>"):
    return "<domain type='qemu'>%s%s</domain>" % (head, body)


def devs(body):
    return dom('<devices>%s</devices>' % body)


def diffs(desired, actual):
    return [tuple(d) for d in dx.compare_domain(desired, actual, ALIASES)]


# ---------------------------------------------------------------- parsing

PARSE_ERRORS = [
    ('malformed', "<domain type='qemu'>\n<name>x</name>\n<memory>1</domain>",
     'domain XML is not well-formed: Opening and ending tag mismatch: memory line 3 and domain '
     '(line 3, column'),
    ('doctype', "<?xml version='1.0'?><!DOCTYPE domain><domain/>",
     'must not contain a document type or entity declaration (<!DOCTYPE) (line 1, column 22)'),
    ('billion laughs', "<!DOCTYPE lolz [<!ENTITY lol 'lol'><!ENTITY lol2 '&lol;&lol;'>]>"
                       "<domain>&lol2;</domain>", 'document type or entity declaration'),
    ('external entity', "<!DOCTYPE d [<!ENTITY xxe SYSTEM 'file:///etc/passwd'>]><domain>&xxe;</domain>",
     'document type or entity declaration'),
    ('undeclared entity', "<domain>&xxe;</domain>", 'not well-formed: Entity \'xxe\' not defined'),
    ('wrong root', "<network><name>x</name></network>",
     'domain XML must have the root element <domain>, found <network>'),
    ('namespaced root', "<domain xmlns='http://example.org/x'/>",
     'must have the root element <domain>, found <{http://example.org/x}domain>'),
    ('empty', "   ", 'domain XML is empty'),
    ('huge', "<domain>" + "x" * (dx.MAX_XML_BYTES + 1) + "</domain>", 'domain XML is too large'),
]


@pytest.mark.parametrize('text,message', [r[1:] for r in PARSE_ERRORS], ids=[r[0] for r in PARSE_ERRORS])
def test_parse_errors(text, message):
    with pytest.raises(InputError) as info:
        dx.parse_xml(text)
    assert message in info.value.msg
    assert '\n' not in info.value.msg


def test_parse_strips_comments_and_pis_and_accepts_declaration():
    root = dx.parse_xml("<?xml version='1.0' encoding='UTF-8'?><domain><!-- c --><?pi x?>"
                        "<name>a</name></domain>")
    assert [c.tag for c in root] == ['name']


def test_parse_other_root_tags():
    assert dx.parse_xml('<disk/>', what='device XML', root_tags=('disk', 'interface')).tag == 'disk'
    with pytest.raises(InputError, match='device XML must have the root element <disk> or <interface>'):
        dx.parse_xml('<foo/>', what='device XML', root_tags=('disk', 'interface'))


def test_machine_aliases():
    assert dx.machine_aliases(CAPS) == {'pc': 'pc-i440fx-7.2', 'q35': 'pc-q35-7.2', 'virt': 'virt-7.2'}
    assert dx.machine_aliases_by_arch(CAPS)['aarch64'] == {'virt': 'virt-7.2'}


def test_names_and_uuid():
    root = dx.parse_xml(dom('<uuid>C7A5FDBDEDAF9455926AD65C16DB1899</uuid>'))
    assert dx.domain_name(root) == 't'
    assert dx.domain_uuid(root) == 'c7a5fdbd-edaf-9455-926a-d65c16db1899'
    assert dx.domain_uuid(dx.parse_xml(dom(''))) is None


# ---------------------------------------------------------------- canonicalisation rules
# (rule, desired, actual): desired must compare equal to libvirt's actual form.

EQUAL_AFTER_CANONICALISATION = [
    ('1 machine alias', dom("<os><type arch='x86_64' machine='q35'>hvm</type></os>"),
     dom("<os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>")),
    ('1 versioned kept', dom("<os><type machine='pc-i440fx-6.2'>hvm</type></os>"),
     dom("<os><type machine='pc-i440fx-6.2'>hvm</type></os>")),
    ('2 GiB', dom("<memory unit='GiB'>1</memory>"), dom("<memory unit='KiB'>1048576</memory>")),
    ('2 no unit is KiB', dom("<memory>1024</memory>"), dom("<memory unit='KiB'>1024</memory>")),
    ('2 MB', dom("<memory unit='MB'>256</memory>"), dom("<memory unit='KiB'>250000</memory>")),
    ('2 GB rounded up', dom("<memory unit='GB'>1</memory>"), dom("<memory unit='KiB'>976563</memory>")),
    ('2 bytes rounded up', dom("<memory unit='b'>1000000</memory>"), dom("<memory unit='KiB'>977</memory>")),
    ('2 case-insensitive', dom("<memory unit='mib'>1</memory>"), dom("<memory unit='KiB'>1024</memory>")),
    ('2 numa cell', dom("<cpu><numa><cell id='0' cpus='0' memory='2' unit='GiB'/></numa></cpu>"),
     dom("<cpu><numa><cell id='0' cpus='0' memory='2097152' unit='KiB'/></numa></cpu>")),
    ('2 memtune', dom("<memtune><hard_limit unit='G'>2</hard_limit></memtune>"),
     dom("<memtune><hard_limit unit='KiB'>2097152</hard_limit></memtune>")),
    ('2 shmem in M', devs("<shmem name='s'><size unit='KiB'>4096</size></shmem>"),
     devs("<shmem name='s'><size unit='M'>4</size></shmem>")),
    ('3 device class order', devs("<video/><graphics type='vnc'/><serial type='pty'/>"),
     devs("<serial type='pty'/><graphics type='vnc'/><video/>")),
    ('5 disk order', devs("<disk><target dev='vdb'/></disk><disk><target dev='vda'/></disk>"),
     devs("<disk><target dev='vda'/></disk><disk><target dev='vdb'/></disk>")),
    ('5 controller order', devs("<controller type='virtio-serial' index='1'/><controller type='usb' index='0'/>"
                                "<controller type='virtio-serial' index='0'/>"),
     devs("<controller type='virtio-serial' index='0'/><controller type='virtio-serial' index='1'/>"
          "<controller type='usb' index='0'/>")),
    ('6 unix channel bind without path', devs(
        "<channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/>"
        "</channel>"), devs("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>"
                            "</channel>")),
    ('6 unix channel in channel dir', devs(
        "<channel type='unix'><source mode='bind' path='/var/lib/libvirt/qemu/channel/target/x.sock'/>"
        "<target type='virtio' name='a'/></channel>"),
     devs("<channel type='unix'><target type='virtio' name='a'/></channel>")),
    ('7 numa memory sum', dom("<memory unit='MiB'>512</memory><cpu><numa>"
                              "<cell id='0' cpus='0' memory='256' unit='MiB'/></numa></cpu>"),
     dom("<memory unit='KiB'>262144</memory><cpu><numa>"
         "<cell id='0' cpus='0' memory='262144' unit='KiB'/></numa></cpu>")),
    ('8 currentMemory lowered', dom("<memory unit='MiB'>256</memory><currentMemory unit='MiB'>512</currentMemory>"),
     dom("<memory unit='KiB'>262144</memory><currentMemory unit='KiB'>262144</currentMemory>")),
    ('9 top-level order', "<domain type='qemu'><on_crash>destroy</on_crash><vcpu>1</vcpu><name>t</name></domain>",
     dom("<vcpu>1</vcpu><on_crash>destroy</on_crash>")),
    ('10 cpuset list', dom("<vcpu cpuset='0,1,2,3'>2</vcpu>"), dom("<vcpu cpuset='0-3'>2</vcpu>")),
    ('10 cpuset exclusion', dom("<vcpu cpuset='3,1-2,^2'>2</vcpu>"), dom("<vcpu cpuset='1,3'>2</vcpu>")),
    ('10 nodeset duplicate', dom("<numatune><memory nodeset='0,0'/></numatune>"),
     dom("<numatune><memory nodeset='0'/></numatune>")),
    ('11 child order', devs("<disk><target dev='vda'/><source file='/a'/><driver name='qemu'/></disk>"),
     devs("<disk><driver name='qemu'/><source file='/a'/><target dev='vda'/></disk>")),
    ('12 pci address decimal', devs("<disk><target dev='vda'/><address type='pci' domain='0' bus='0' "
                                    "slot='7' function='0'/></disk>"),
     devs("<disk><target dev='vda'/><address type='pci' domain='0x0000' bus='0x00' slot='0x07' "
          "function='0x0'/></disk>")),
    ('12 pci upper hex', devs("<disk><target dev='vda'/><address type='pci' slot='0x0A'/></disk>"),
     devs("<disk><target dev='vda'/><address type='pci' slot='0x0a'/></disk>")),
    ('14 cache default', devs("<disk><driver cache='default'/><target dev='vda'/></disk>"),
     devs("<disk><driver name='qemu'/><target dev='vda'/></disk>")),
    ('14 queues 1', devs("<interface type='user'><mac address='52:54:00:00:00:01'/>"
                         "<driver name='vhost' queues='1'/></interface>"),
     devs("<interface type='user'><mac address='52:54:00:00:00:01'/><driver name='vhost'/></interface>")),
    ('15 vnet target', devs("<interface type='ethernet'><target dev='vnet7'/></interface>"),
     devs("<interface type='ethernet'><mac address='52:54:00:00:00:01'/></interface>")),
    ('15 macvtap target', devs("<interface type='direct'><source dev='eth0'/><target dev='macvtap3'/>"
                               "</interface>"),
     devs("<interface type='direct'><source dev='eth0' mode='vepa'/></interface>")),
    ('16 uuid', dom("<uuid>C7A5FDBDEDAF9455926AD65C16DB1899</uuid>"),
     dom("<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1899</uuid>")),
    ('17 vram', devs("<video><model type='qxl' vram='65000'/></video>"),
     devs("<video><model type='qxl' vram='65536'/></video>")),
    ('18 non-ua alias', devs("<disk><target dev='vda'/><alias name='virtio-disk0'/></disk>"),
     devs("<disk><target dev='vda'/></disk>")),
    ('19 comments', dom("<!-- x --><vcpu>1<!-- y --></vcpu>"), dom("<vcpu>1</vcpu>")),
    ('20 leading zeros', devs("<input type='tablet' bus='usb'><address type='usb' bus='0' port='01'/></input>"),
     devs("<input type='tablet' bus='usb'><address type='usb' bus='0' port='1'/></input>")),
    ('21 mac case', devs("<interface type='user'><mac address='52:54:00:AB:CD:EF'/></interface>"),
     devs("<interface type='user'><mac address='52:54:00:ab:cd:ef'/></interface>")),
    ('22 metadata per namespace', dom("<metadata><a:one xmlns:a='U'>1</a:one><a:two xmlns:a='U'>2</a:two>"
                                      "</metadata>"), dom("<metadata><a:one xmlns:a='U'>1</a:one></metadata>")),
    ('23 vcpu current', dom("<vcpu current='2'>2</vcpu>"), dom("<vcpu placement='static'>2</vcpu>")),
    ('24 graphics port with autoport', devs("<graphics type='vnc' port='5907' autoport='yes'/>"),
     devs("<graphics type='vnc' port='-1' autoport='yes'/>")),
    ('24 spice -1 ports', devs("<graphics type='spice' port='-1' tlsPort='-1' autoport='yes'/>"),
     devs("<graphics type='spice' autoport='yes'/>")),
    ('X1 live id', "<domain type='qemu' id='5'><name>t</name></domain>", dom('')),
    ('X1 running dump', "<domain type='qemu' id='7'><name>t</name><devices>"
     "<disk type='file' device='disk'><source file='/a' index='2'/><target dev='vda'/></disk>"
     "<serial type='pty'><source path='/dev/pts/4'/><target port='0'/></serial>"
     "<console type='pty' tty='/dev/pts/4'><source path='/dev/pts/4'/><target type='serial' port='0'/></console>"
     "<channel type='unix'><source mode='bind' path='/tmp/ga.sock'/>"
     "<target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel></devices>"
     "<seclabel type='dynamic' model='dac' relabel='yes'><label>+0:+0</label><imagelabel>+0:+0</imagelabel>"
     "</seclabel></domain>",
     devs("<disk type='file' device='disk'><source file='/a'/><target dev='vda'/></disk>"
          "<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/>"
          "</console><channel type='unix'><source mode='bind' path='/tmp/ga.sock'/>"
          "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>").replace(
         '</domain>', "<seclabel type='dynamic' model='dac' relabel='yes'/></domain>")),
    ('X3 serial and virtio consoles', devs("<serial type='pty'/><console type='pty'><target type='virtio'/></console>"),
     devs("<serial type='pty'><target type='isa-serial' port='0'/></serial>"
          "<console type='pty'><target type='serial' port='0'/></console>"
          "<console type='pty'><target type='virtio' port='1'/></console>")),
    ('X4 vnc gl', devs("<graphics type='vnc'><gl enable='no'/></graphics>"),
     devs("<graphics type='vnc' port='-1' autoport='yes'/>")),
    ('X5 empty values', dom("<sysinfo type='smbios'><system><entry name='manufacturer'></entry></system>"
                            "<baseBoard/></sysinfo><devices><disk type='file' device='cdrom'><source file=''/>"
                            "<target dev='hdc'/></disk><interface type='user'><model type=''/></interface></devices>"),
     dom("<sysinfo type='smbios'/><devices><disk type='file' device='cdrom'><target dev='hdc'/></disk>"
         "<interface type='user'><model type='rtl8139'/></interface></devices>")),
    ('X2 usb companions share the master index', devs(
        "<controller type='usb' model='ich9-ehci1'/><controller type='usb' model='ich9-uhci1'>"
        "<master startport='0'/></controller><controller type='usb' model='ich9-uhci2'><master startport='2'/>"
        "</controller>"), devs(
        "<controller type='usb' index='0' model='ich9-ehci1'/><controller type='usb' index='0' model='ich9-uhci1'>"
        "<master startport='0'/></controller><controller type='usb' index='0' model='ich9-uhci2'>"
        "<master startport='2'/></controller>")),
    ('X6 virtio console port', devs("<serial type='pty'/><console type='pty'><target type='virtio' port='0'/></console>"),
     devs("<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/>"
          "</console><console type='pty'><target type='virtio' port='1'/></console>")),
    ('X2 controller index', devs("<controller type='scsi'/><controller type='scsi'/>"),
     devs("<controller type='scsi' index='0'/><controller type='scsi' index='1'/>")),
    ('X3 console copy of serial', devs("<serial type='file'><source path='/l'/><target port='0'/></serial>"
                                       "<console type='pty'/>"),
     devs("<serial type='file'><source path='/l'/><target port='0'/></serial>"
          "<console type='file'><source path='/l'/><target type='serial' port='0'/></console>")),
    ('unspecified keeps everything', dom(''),
     dom("<uuid>c7a5fdbd-edaf-9455-926a-d65c16db1899</uuid><memory>1</memory><devices><disk>"
         "<target dev='vda'/></disk></devices>")),
    ('untouched device types', devs("<disk><target dev='vda'/></disk>"),
     devs("<disk><target dev='vda'/></disk><interface type='user'/><input type='mouse' bus='ps2'/>")),
    ('implicit ps2 input not removed', devs("<input type='tablet'/>"),
     devs("<input type='tablet' bus='usb'/><input type='mouse' bus='ps2'/><input type='keyboard' bus='ps2'/>")),
    ('implicit pci controllers not removed', devs("<controller type='usb' model='qemu-xhci'/>"),
     devs("<controller type='usb' index='0' model='qemu-xhci'/><controller type='pci' index='0' "
          "model='pcie-root'/><controller type='sata' index='0'/>")),
]


@pytest.mark.parametrize('desired,actual', [r[1:] for r in EQUAL_AFTER_CANONICALISATION],
                         ids=[r[0] for r in EQUAL_AFTER_CANONICALISATION])
def test_equal_after_canonicalisation(desired, actual):
    assert diffs(desired, actual) == []


# (case, desired, actual, expected differences)
DIFFERENT = [
    ('memory', dom("<memory unit='MiB'>512</memory>"), dom("<memory unit='KiB'>262144</memory>"),
     [('memory', '262144', '524288')]),
    ('memory not aligned kept', dom("<memory>262145</memory>"), dom("<memory unit='KiB'>262144</memory>"),
     [('memory', '262144', '262145')]),
    ('14 desired default vs other', devs("<disk><driver cache='default'/><target dev='vda'/></disk>"),
     devs("<disk><driver cache='none'/><target dev='vda'/></disk>"),
     [('devices/disk[vda]/driver/@cache', 'none', 'default')]),
    ('23 current differs', dom("<vcpu current='4'>4</vcpu>"), dom("<vcpu current='1'>4</vcpu>"),
     [('vcpu/@current', '1', '4')]),
    ('13 on is not yes', devs("<graphics type='vnc' autoport='on'/>"), devs("<graphics type='vnc' autoport='yes'/>"),
     [('devices/graphics[vnc]/@autoport', 'yes', 'on')]),
    ('attribute missing in actual', dom("<os><type arch='x86_64'>hvm</type></os>"), dom("<os><type>hvm</type></os>"),
     [('os/type/@arch', None, 'x86_64')]),
    ('element missing in actual', dom("<features><acpi/></features>"), dom("<features><apic/></features>"),
     [('features/acpi', None, '<acpi/>')]),
    ('boot order is a sequence', dom("<os><boot dev='hd'/><boot dev='cdrom'/></os>"),
     dom("<os><boot dev='cdrom'/><boot dev='hd'/></os>"),
     [('os/boot', '<boot dev="cdrom"/><boot dev="hd"/>', '<boot dev="hd"/><boot dev="cdrom"/>')]),
    ('device added', devs("<disk><target dev='vda'/></disk><disk><target dev='vdb'/></disk>"),
     devs("<disk><target dev='vda'/></disk>"), [('devices/disk[vdb]', None, '<disk><target dev="vdb"/></disk>')]),
    ('device not written is kept (no record)', devs("<disk><target dev='vda'/></disk>"),
     devs("<disk><target dev='vda'/></disk><disk><target dev='vdb'/></disk>"), []),
    ('device updated', devs("<disk><source file='/b'/><target dev='vda'/></disk>"),
     devs("<disk><source file='/a'/><target dev='vda'/></disk>"),
     [('devices/disk[vda]/source/@file', '/a', '/b')]),
    ('interface by mac', devs("<interface type='user'><mac address='52:54:00:00:00:02'/></interface>"),
     devs("<interface type='user'><mac address='52:54:00:00:00:01'/></interface>"),
     [('devices/interface[52:54:00:00:00:02]', None, '<interface type="user"><mac address="52:54:00:00:00:02"/>'
       '</interface>')]),
    ('secrets masked', devs("<graphics type='vnc' passwd='new'/>"), devs("<graphics type='vnc' passwd='old'/>"),
     [('devices/graphics[vnc]/@passwd', '********', '********')]),
    ('machine differs', dom("<os><type machine='q35'>hvm</type></os>"),
     dom("<os><type machine='pc-i440fx-7.2'>hvm</type></os>"),
     [('os/type/@machine', 'pc-i440fx-7.2', 'pc-q35-7.2')]),
]


@pytest.mark.parametrize('desired,actual,expected', [r[1:] for r in DIFFERENT], ids=[r[0] for r in DIFFERENT])
def test_differences(desired, actual, expected):
    assert sorted(diffs(desired, actual)) == sorted(expected)


# ---------------------------------------------------------------- identity

IDENTITY = [
    ('disk', "<disk><target dev='vdb'/></disk>", ('disk', 'vdb')),
    ('interface mac lower', "<interface type='user'><mac address='52:54:00:AA:00:01'/></interface>",
     ('interface', 'mac', '52:54:00:aa:00:01')),
    ('interface ua alias', "<interface type='user'><alias name='ua-nic'/></interface>",
     ('interface', 'alias', 'ua-nic')),
    ('interface type+source', "<interface type='network'><source network='default'/></interface>",
     ('interface', 'source', ('network', 'default', None))),
    ('interface user', "<interface type='user'/>", ('interface', 'source', ('user',))),
    ('hostdev pci', "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='6' slot='0x12' "
                    "function='3'/></source></hostdev>", ('hostdev', ('pci', 0, 6, 18, 3))),
    ('hostdev usb ids', "<hostdev type='usb'><source><vendor id='0x046d'/><product id='0xc077'/></source></hostdev>",
     ('hostdev', ('usb', 0x46d, 0xc077))),
    ('hostdev scsi', "<hostdev type='scsi'><source><adapter name='scsi_host0'/><address bus='0' target='0' "
                     "unit='1'/></source></hostdev>", ('hostdev', ('scsi', 'scsi_host0', 0, 0, 1))),
    ('hostdev mdev', "<hostdev type='mdev'><source><address uuid='C2177883-F1BB-47F0-914D-32A22E3A8804'/>"
                     "</source></hostdev>", ('hostdev', ('mdev', 'c2177883-f1bb-47f0-914d-32a22e3a8804'))),
    ('controller', "<controller type='usb' index='0'/>", ('controller', 'usb', 0, None)),
    ('controller no index', "<controller type='usb'/>", ('controller', 'usb', None, None)),
    ('usb companion', "<controller type='usb' index='0' model='ich9-uhci2'><master startport='2'/></controller>",
     ('controller', 'usb', 0, 'ich9-uhci2')),
    ('scsi controller model is not identity', "<controller type='scsi' index='0' model='virtio-scsi'/>",
     ('controller', 'scsi', 0, None)),
    ('filesystem', "<filesystem><target dir='share'/></filesystem>", ('filesystem', 'share')),
    ('serial', "<serial type='pty'><target port='1'/></serial>", ('serial', 1)),
    ('console', "<console type='pty'/>", ('console', None, None)),
    ('virtio console', "<console type='pty'><target type='virtio' port='0'/></console>", ('console', 'virtio', 0)),
    ('channel', "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>",
     ('channel', 'org.qemu.guest_agent.0')),
    ('channel guestfwd', "<channel type='pipe'><target type='guestfwd' address='10.0.2.1' port='4600'/></channel>",
     ('channel', '10.0.2.1', 4600)),
    ('graphics', "<graphics type='vnc'/>", ('graphics', 'vnc')),
    ('video', "<video><model type='qxl'/></video>", ('video', 'qxl')),
    ('tpm', "<tpm model='tpm-crb'/>", ('tpm', 'tpm-crb')),
    ('watchdog', "<watchdog model='i6300esb'/>", ('watchdog', 'i6300esb')),
    ('rng', "<rng model='virtio'/>", ('rng', 'virtio')),
    ('memballoon', "<memballoon model='virtio'/>", ('memballoon',)),
    ('sound', "<sound model='ich9'/>", ('sound', 'ich9')),
    ('input', "<input type='tablet' bus='usb'/>", ('input', 'tablet', 'usb')),
    ('redirdev', "<redirdev bus='usb' type='spicevmc'/>", ('redirdev', 'usb', 'spicevmc')),
    ('unknown class', "<foo type='bar'/>", ('foo', 'bar')),
]


@pytest.mark.parametrize('xml,key', [r[1:] for r in IDENTITY], ids=[r[0] for r in IDENTITY])
def test_device_identity(xml, key):
    assert dx.device_identity(dx.parse_xml(xml, root_tags=None)) == key


IDENTITY_ERRORS = [
    ('disk without target', "<disk type='file'><source file='/a'/></disk>", 'needs <target dev'),
    ('disk target without dev', "<disk><target bus='virtio'/></disk>", 'needs <target dev'),
    ('filesystem without target', "<filesystem><source dir='/a'/></filesystem>", 'needs <target dir'),
    ('hostdev without source', "<hostdev type='pci'/>", 'a <hostdev> device needs a <source>'),
    ('controller without type', "<controller index='0'/>", 'needs a type'),
]


@pytest.mark.parametrize('xml,message', [r[1:] for r in IDENTITY_ERRORS], ids=[r[0] for r in IDENTITY_ERRORS])
def test_device_identity_errors(xml, message):
    with pytest.raises(InputError, match=message):
        dx.device_identity(dx.parse_xml(xml, root_tags=None))


def test_compare_rejects_disk_without_target():
    with pytest.raises(InputError):
        dx.compare_domain(devs("<disk><source file='/a'/></disk>"), devs(''), ALIASES)


FIND = [
    ('mac case', "<interface type='user'><mac address='52:54:00:AB:00:01'/></interface>", 'mac1'),
    ('interface without mac by type', "<interface type='network'><source network='b'/></interface>", 'netb'),
    ('disk', "<disk><target dev='vdb'/></disk>", 'vdb'),
    ('controller', "<controller type='usb' index='0'/>", 'usb0'),
    ('missing', "<disk><target dev='vdz'/></disk>", None),
]
FIND_DOMAIN = devs(
    "<disk><target dev='vda'/><alias name='ua-vda'/></disk><disk><target dev='vdb'/><alias name='ua-vdb'/></disk>"
    "<controller type='usb' index='0'><alias name='ua-usb0'/></controller>"
    "<interface type='user'><mac address='52:54:00:ab:00:01'/><alias name='ua-mac1'/></interface>"
    "<interface type='network'><mac address='52:54:00:ab:00:02'/><source network='a'/>"
    "<alias name='ua-neta'/></interface>"
    "<interface type='network'><mac address='52:54:00:ab:00:03'/><source network='b'/>"
    "<alias name='ua-netb'/></interface>")


@pytest.mark.parametrize('xml,alias', [r[1:] for r in FIND], ids=[r[0] for r in FIND])
def test_find_device(xml, alias):
    found = dx.find_device(dx.parse_xml(FIND_DOMAIN), dx.parse_xml(xml, root_tags=None))
    assert (found.find('alias').get('name') if found is not None else None) == (
        'ua-' + alias if alias else None)


def test_compare_element():
    desired = "<disk type='file'><source file='/b'/><target dev='vda'/><alias name='virtio-disk0'/></disk>"
    actual = "<disk type='file'><driver name='qemu'/><source file='/a'/><target dev='vda'/></disk>"
    assert [tuple(d) for d in dx.compare_element(desired, actual, ALIASES)] == [
        ('disk[vda]/source/@file', '/a', '/b')]
    assert dx.compare_element(actual, actual, ALIASES) == []


# ---------------------------------------------------------------- merge

ACTUAL = """<domain type='qemu'>
  <name>t</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1899</uuid>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>262144</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type><boot dev='hd'/></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/a'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/></disk>
    <disk type='file' device='disk'><source file='/b'/><target dev='vdb' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/></disk>
    <controller type='pci' index='0' model='pcie-root'/>
    <interface type='user'><mac address='52:54:00:81:a9:bd'/><model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/></interface>
    <input type='mouse' bus='ps2'/>
    <graphics type='vnc' port='-1' autoport='yes' passwd='pw'/>
  </devices>
</domain>"""


def merged(desired):
    return dx.merge_domain(desired, ACTUAL, ALIASES)


def test_merge_keeps_unspecified_and_overlays():
    desired = ("<domain type='qemu'><name>t</name><memory unit='MiB'>512</memory><os>"
               "<type machine='q35'>hvm</type></os><devices>"
               "<disk type='file' device='disk'><source file='/a2'/><target dev='vda'/></disk>"
               "<disk type='file' device='disk'><source file='/c'/><target dev='vdc'/></disk>"
               "</devices></domain>")
    result = merged(desired)
    assert dx.domain_uuid(result) == 'c7a5fdbd-edaf-9455-926a-d65c16db1899'
    assert result.findtext('memory') == '524288'
    assert result.findtext('currentMemory') == '524288', 'balloon not in use: follows memory'
    vda = dx.find_device(result, dx.parse_xml("<disk><target dev='vda'/></disk>", root_tags=None))
    assert vda.find('source').get('file') == '/a2'
    assert vda.find('address').get('bus') == '0x04', 'address kept'
    assert dx.find_device(result, dx.parse_xml("<disk><target dev='vdb'/></disk>", root_tags=None)) is not None, \
        'a device the desired XML never listed is kept'
    assert dx.find_device(result, dx.parse_xml("<disk><target dev='vdc'/></disk>", root_tags=None)) is not None
    nic = result.find('devices/interface')
    assert nic.find('mac').get('address') == '52:54:00:81:a9:bd', 'untouched device type kept'
    assert result.find('devices/graphics').get('passwd') == 'pw'
    assert dx.compare_domain(desired, result, ALIASES) == []


def test_merge_interface_without_mac_keeps_mac_and_address():
    desired = devs("<interface type='user'><model type='e1000'/></interface>")
    result = merged(desired)
    nic = result.find('devices/interface')
    assert nic.find('mac').get('address') == '52:54:00:81:a9:bd'
    assert nic.find('address').get('bus') == '0x01'
    assert nic.find('model').get('type') == 'e1000'


def test_merge_type_change_replaces_source():
    desired = devs("<disk type='block' device='disk'><source dev='/dev/sdz'/><target dev='vda'/></disk>")
    vda = merged(desired).find('devices/disk')
    assert vda.get('type') == 'block'
    assert dict(vda.find('source').attrib) == {'dev': '/dev/sdz'}
    assert vda.find('address') is not None


def test_merge_boot_sequence_replaced():
    result = merged(dom("<os><boot dev='cdrom'/><boot dev='hd'/></os>"))
    assert [b.get('dev') for b in result.findall('os/boot')] == ['cdrom', 'hd']


def test_merge_twice_is_stable():
    desired = devs("<disk type='file' device='disk'><source file='/z'/><target dev='vdb'/></disk>")
    once = merged(desired)
    twice = dx.merge_domain(desired, once, ALIASES)
    assert dx.to_text(once, mask_secrets=False) == dx.to_text(twice, mask_secrets=False)


def test_merge_nothing_to_change_keeps_actual():
    result = merged(dom(''))
    assert dx.to_text(result, mask_secrets=False) == dx.to_text(dx.parse_xml(ACTUAL), mask_secrets=False)


# ---------------------------------------------------------------- output

def test_to_text_masks_secrets():
    root = dx.parse_xml(ACTUAL)
    text = dx.to_text(root)
    assert "passwd=\"********\"" in text and 'pw"' not in text
    assert 'passwd="pw"' in dx.to_text(root, mask_secrets=False)
    assert root.find('devices/graphics').get('passwd') == 'pw', 'the input is not modified'


def test_to_text_pretty():
    text = dx.to_text(dx.parse_xml("<domain><name>a</name><devices><disk/></devices></domain>"))
    assert text == '<domain>\n  <name>a</name>\n  <devices>\n    <disk/>\n  </devices>\n</domain>\n'
    assert dx.to_text(dx.parse_xml("<domain><name>a</name></domain>"), pretty=False) == (
        '<domain><name>a</name></domain>')


def test_rules_table_is_complete():
    numbers = set(rule.number for rule in dx.RULES)
    assert set(str(n) for n in range(1, 25)) <= numbers
