# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The edits of the generated corpus (scripts/gen-corpus.py): virt-xml command lines,
deletions made with lxml, and other generators' quirks.

A virt-xml edit runs on the defined domain and prints its whole inactive XML with the
change, so it is an edit of the `dumpxml-inactive` document. A deletion removes one
thing from a document (any kind); its kind says what was removed:
attribute, element (a child of <domain> or deeper outside <devices>), nested-child (an
element inside a device), device (one of several of its tag), last-device (the only one
of its tag).
"""

from __future__ import annotations

import copy

from lxml import etree

# name, arguments (after the domain), applies(root) -> bool. {extra} is an image path
# the generator creates, {mac} a fixed MAC.
VIRT_XML_EDITS = [
    ('memory', '--edit --memory 2048', lambda r: r.find('maxMemory') is None and r.find('cpu/numa') is None),
    ('vcpus', '--edit --vcpus 3', lambda r: r.find('cpu/topology') is None and r.find('cputune') is None
     and r.find('cpu/numa') is None),
    ('add-disk', '--add-device --disk {extra},bus=virtio,format=qcow2', lambda r: True),
    ('add-nic', '--add-device --network user,model=virtio,mac={mac}', lambda r: True),
    ('remove-sound', '--remove-device --sound all', lambda r: r.find('devices/sound') is not None),
    ('remove-tablet', '--remove-device --input tablet', lambda r: r.find("devices/input[@type='tablet']") is not None),
    ('remove-rng', '--remove-device --rng all', lambda r: r.find('devices/rng') is not None),
    ('remove-redirdev', '--remove-device --redirdev all', lambda r: r.find('devices/redirdev') is not None),
    # virt-xml leaves spicevmc chardevs and qxl's ram attribute behind: libvirt refuses those results
    ('graphics-vnc', '--edit --graphics vnc', lambda r: r.find("devices/graphics[@type='spice']") is not None
     and r.find("devices/*[@type='spicevmc']") is None),
    ('graphics-spice', '--edit --graphics spice', lambda r: r.find("devices/graphics[@type='vnc']") is not None),
    ('graphics-listen', '--edit --graphics listen=0.0.0.0', lambda r: r.find('devices/graphics') is not None),
    ('graphics-password', '--edit --graphics password=n3wpass', lambda r: r.find('devices/graphics') is not None),
    ('video-vga', '--edit --video vga', lambda r: r.find('devices/video/model') is not None
     and r.find("devices/video/model[@type='vga']") is None and r.find("devices/video/model[@type='qxl']") is None
     and len(r.findall('devices/video')) == 1),
    ('boot-order', '--edit target={boot_dev} --disk boot.order=1', lambda r: r.find('os/boot') is not None
     and r.find("devices/disk[@device='disk']/target") is not None),
    ('bootmenu', '--edit --boot menu=on', lambda r: r.find('os/bootmenu') is None and r.find('os/boot') is not None),
    ('nic-model', '--edit --network model=e1000e', lambda r: r.find('devices/interface/model') is not None
     and r.find("devices/interface/model[@type='e1000e']") is None),
    ('disk-cache', '--edit target={disk_dev} --disk cache=none', lambda r: r.find(
        "devices/disk[@device='disk']/driver") is not None),
    ('events', '--edit --events on_crash=restart,on_poweroff=destroy', lambda r: True),
    ('title', '--edit --metadata title=Edited\\ by\\ virt-xml', lambda r: True),
    ('balloon-stats', '--edit --memballoon stats.period=5', lambda r: r.find(
        "devices/memballoon[@model='virtio']") is not None),
    ('add-qga', '--add-device --channel unix,target.type=virtio,target.name=org.qemu.guest_agent.0',
     lambda r: r.find("devices/channel/target[@name='org.qemu.guest_agent.0']") is None),
    ('add-watchdog', '--add-device --watchdog i6300esb,action=reset', lambda r: r.find('devices/watchdog') is None),
    ('clock-localtime', '--edit --clock offset=localtime', lambda r: r.find("clock[@offset='utc']") is not None),
    ('remove-channel', '--remove-device --channel 1', lambda r: r.find('devices/channel') is not None),
]

# kind, label, path of what is removed (attribute paths end in /@name).
DELETIONS = [
    ('attribute', 'rtc-tickpolicy', "clock/timer[@name='rtc']/@tickpolicy"),
    ('attribute', 'xhci-ports', "devices/controller[@model='qemu-xhci']/@ports"),
    ('attribute', 'watchdog-action', 'devices/watchdog/@action'),
    ('attribute', 'disk-cache', 'devices/disk/driver/@cache'),
    ('attribute', 'tpm-model', 'devices/tpm/@model'),
    ('attribute', 'video-heads', 'devices/video/model/@heads'),
    ('attribute', 'disk-bus', "devices/disk[@device='disk']/target/@bus"),
    ('attribute', 'cpu-match', 'cpu/@match'),
    ('attribute', 'graphics-listen', 'devices/graphics/@listen'),
    ('element', 'bootmenu', 'os/bootmenu'),
    ('element', 'memoryBacking', 'memoryBacking'),
    ('element', 'vmport', 'features/vmport'),
    ('element', 'pm', 'pm'),
    ('element', 'hpet-timer', "clock/timer[@name='hpet']"),
    ('element', 'hyperv', 'features/hyperv'),
    ('element', 'cputune', 'cputune'),
    ('element', 'memtune', 'memtune'),
    ('element', 'on_reboot', 'on_reboot'),
    ('element', 'title', 'title'),
    ('nested-child', 'balloon-stats', 'devices/memballoon/stats'),
    ('nested-child', 'graphics-image', 'devices/graphics/image'),
    ('nested-child', 'disk-driver', "devices/disk[@device='disk']/driver"),
    ('nested-child', 'nic-model', 'devices/interface/model'),
    ('nested-child', 'disk-serial', 'devices/disk/serial'),
    ('nested-child', 'graphics-listen-element', 'devices/graphics/listen'),
    ('nested-child', 'console-target', 'devices/console/target'),
    ('device', 'usb-tablet', "devices/input[@type='tablet']"),
    ('device', 'redirdev', 'devices/redirdev'),
    ('device', 'spicevmc-channel', "devices/channel[@type='spicevmc']"),
    ('device', 'cdrom', "devices/disk[@device='cdrom']"),
    ('device', 'second-disk', "devices/disk[@device='disk'][2]"),
    ('device', 'second-nic', 'devices/interface[2]'),
    ('device', 'second-video', 'devices/video[2]'),
    ('device', 'qga-channel', "devices/channel[@type='unix']"),
    ('last-device', 'sound', 'devices/sound'),
    ('last-device', 'rng', 'devices/rng'),
    ('last-device', 'watchdog', 'devices/watchdog'),
    ('last-device', 'tpm', 'devices/tpm'),
    ('last-device', 'panic', 'devices/panic'),
    ('last-device', 'filesystem', 'devices/filesystem'),
    ('last-device', 'interface', 'devices/interface'),
    ('last-device', 'disk', 'devices/disk'),
    ('last-device', 'usb-tablet', "devices/input[@type='tablet']"),
    ('last-device', 'channel', 'devices/channel'),
    ('last-device', 'memory-dimm', 'devices/memory'),
]

KINDS = ('attribute', 'element', 'nested-child', 'device', 'last-device')


def _same_tag_count(el):
    return len([s for s in el.getparent() if s.tag == el.tag])


def deletion_target(root, kind, path):
    """The element (or (element, attribute)) `path` names in root when it fits `kind`."""
    if '/@' in path:
        where, attr = path.rsplit('/@', 1)
        el = root.find(where)
        return (el, attr) if el is not None and attr in el.attrib else None
    el = root.find(path)
    if el is None:
        return None
    if kind == 'device' and _same_tag_count(el) < 2:
        return None
    if kind == 'last-device' and _same_tag_count(el) != 1:
        return None
    return el


def remove_element(el):
    """Remove el and keep the indentation of its siblings."""
    parent = el.getparent()
    previous = el.getprevious()
    if el.getnext() is None:
        if previous is not None:
            previous.tail = el.tail
        else:
            parent.text = el.tail
    parent.remove(el)


def apply_deletion(root, kind, path):
    """A copy of root without what `path` names, or None when root has no such thing."""
    root = copy.deepcopy(root)
    target = deletion_target(root, kind, path)
    if target is None:
        return None
    if isinstance(target, tuple):
        del target[0].attrib[target[1]]
    else:
        remove_element(target)
    return root


# Other generators' quirks: name, what, change(root) in place. Each must define with
# flags 0; the manifest says whether VALIDATE accepts it.
def _add_device(root, text):
    devices = root.find('devices')
    el = etree.fromstring(text)
    el.tail = devices[-1].tail
    devices[-1].tail = devices.text
    devices.append(el)


def _quirk_serial_empty(root):
    _add_device(root, '<serial/>')


def _quirk_cdrom_source_empty(root):
    target = ("<target dev='sdz' bus='sata'/>" if 'q35' in root.find('os/type').get('machine')
              else "<target dev='hdd' bus='ide'/>")
    _add_device(root, "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file=''/>"
                      "%s<readonly/></disk>" % target)


def _sysinfo(root, text):
    sysinfo = etree.fromstring(text)
    os_el = root.find('os')
    os_el.addprevious(sysinfo)
    sysinfo.tail = os_el.getprevious().tail if os_el.getprevious() is not None else '\n  '
    smbios = etree.SubElement(os_el, 'smbios', mode='sysinfo')
    smbios.tail = os_el[-2].tail
    os_el[-2].tail = os_el.text


def _quirk_sysinfo_empty_system(root):
    _sysinfo(root, "<sysinfo type='smbios'><bios><entry name='vendor'>OpenStack Foundation</entry></bios>"
                   "<system/></sysinfo>")


def _quirk_sysinfo_empty_entries(root):
    _sysinfo(root, "<sysinfo type='smbios'><system><entry name='manufacturer'></entry><entry name='product'>"
                   "</entry><entry name='serial'/></system><baseBoard/><oemStrings/></sysinfo>")


def _quirk_vnc_gl(root):
    graphics = root.find("devices/graphics[@type='vnc']")
    gl = etree.SubElement(graphics, 'gl', enable='no')
    gl.tail = graphics.tail


def _quirk_nic_model_empty(root):
    model = root.find('devices/interface/model')
    model.set('type', '')


def _quirk_comment(root):
    root.insert(0, etree.Comment(' generated by vagrant-libvirt style tooling: do not edit '))
    root[0].tail = root.text


def _quirk_ovirt_metadata(root):
    metadata = root.find('metadata')
    text = ('<ovirt-tune:qos xmlns:ovirt-tune="http://ovirt.org/vm/tune/1.0"/>',
            '<ovirt-vm:vm xmlns:ovirt-vm="http://ovirt.org/vm/1.0"><ovirt-vm:clusterVersion>4.7'
            '</ovirt-vm:clusterVersion><ovirt-vm:destroy_on_reboot type="bool">False</ovirt-vm:destroy_on_reboot>'
            '</ovirt-vm:vm>')
    for item in text:
        el = etree.fromstring(item)
        el.tail = metadata[-1].tail
        metadata[-1].tail = metadata.text
        metadata.append(el)


# name, base tag wanted in the base's name (or None), change, XML declaration to prepend.
QUIRKS = [
    ('xml-declaration-utf8', None, None, '<?xml version="1.0" encoding="utf-8"?>\n'),
    ('xml-declaration-ovirt', None, _quirk_ovirt_metadata, '<?xml version="1.0" encoding="utf-8"?>\n'),
    ('xml-declaration-upper', None, None, "<?xml version='1.0' encoding='UTF-8'?>\n"),
    ('serial-empty', None, _quirk_serial_empty, ''),
    ('cdrom-source-file-empty', None, _quirk_cdrom_source_empty, ''),
    ('sysinfo-empty-system', None, _quirk_sysinfo_empty_system, ''),
    ('sysinfo-empty-entries', None, _quirk_sysinfo_empty_entries, ''),
    ('vnc-gl', 'vnc', _quirk_vnc_gl, ''),
    ('nic-model-empty', None, _quirk_nic_model_empty, ''),
    ('comment', None, _quirk_comment, ''),
]
