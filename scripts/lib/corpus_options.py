# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The virt-install command lines of the generated corpus (scripts/gen-corpus.py).

Every document is one --osinfo value, one machine type and two to four option
fragments from distinct groups, picked by a fixed walk so that the corpus is the same
on every run and every fragment appears several times. A fragment's arguments are
templates: {img}/{img2} are disk images the generator creates under DISKDIR, {mac}/{mac2}
fixed MACs, {cdbus} the bus a cdrom can use on the machine (sata on q35, ide on pc).
"""

from __future__ import annotations

import hashlib
import uuid

DISKDIR = '/var/tmp/domainops-corpus'
UUID_NAMESPACE = uuid.UUID('3d5b7c2e-8f0a-4c61-9d3e-5a1b2c3d4e5f')

OSINFO = [
    'linux2022', 'debian11', 'fedora37', 'rhel9.1', 'win11', 'ubuntu22.04', 'generic', 'freebsd13.1',
    'win10', 'rhel8.6', 'centos-stream9', 'win2k22', 'debian10', 'fedora36', 'almalinux9', 'rocky9',
    'opensuse15.4', 'sle15sp4', 'archlinux', 'alpinelinux3.17', 'linux2020', 'ubuntu20.04', 'win2k19',
    'rhel7.9', 'freebsd12.3', 'nixos-unstable', 'fedora-unknown', 'win7', 'ubuntu18.04', 'win2k16',
    'solaris11', 'rhel9.0',
]

MACHINES = ['q35', 'pc', 'pc-q35-7.2', 'pc-i440fx-7.2']

# group, tag, arguments, where: None (any machine), 'q35' or 'pc' only.
FRAGMENTS = [
    ('firmware', 'uefi', '--boot uefi', None),
    ('firmware', 'secboot', '--boot loader=/usr/share/OVMF/OVMF_CODE_4M.ms.fd,loader.readonly=yes,'
     'loader.type=pflash,loader.secure=yes,nvram.template=/usr/share/OVMF/OVMF_VARS_4M.ms.fd '
     '--features smm.state=on', 'q35'),
    ('firmware', 'efifeatures', '--boot firmware=efi,firmware.feature0.name=secure-boot,'
     'firmware.feature0.enabled=yes,firmware.feature1.name=enrolled-keys,firmware.feature1.enabled=yes', 'q35'),
    ('firmware', 'bootmenu', '--boot hd,cdrom,menu=on', None),

    ('disk', 'virtio', '--disk {img},bus=virtio,format=qcow2', None),
    ('disk', 'sata', '--disk {img},bus=sata,format=qcow2', None),
    ('disk', 'scsi', '--controller scsi,model=virtio-scsi --disk {img},bus=scsi,format=qcow2', None),
    ('disk', 'ide', '--disk {img},bus=ide,format=qcow2', 'pc'),
    ('disk', 'cdrom', '--disk {img},bus=virtio,format=qcow2 --disk device=cdrom,bus={cdbus}', None),
    ('disk', 'twodisks', '--disk {img},bus=virtio,format=qcow2,cache=none,io=native,discard=unmap '
     '--disk {img2},bus=virtio,format=qcow2,serial=DATA01', None),
    ('disk', 'bootorder', '--disk {img},bus=virtio,format=qcow2,boot.order=1 '
     '--disk device=cdrom,bus={cdbus},boot.order=2', None),
    ('disk', 'rawcache', '--disk {img},bus=virtio,format=qcow2,cache=writeback', None),

    ('nic', 'netvirtio', '--network network=default,model=virtio,mac={mac}', None),
    ('nic', 'bre1000e', '--network bridge=br0,model=e1000e,mac={mac}', None),
    ('nic', 'usere1000', '--network user,model=e1000,mac={mac}', None),
    ('nic', 'rtl8139', '--network network=default,model=rtl8139,mac={mac}', None),
    ('nic', 'nonic', '--network none', None),
    ('nic', 'twonics', '--network user,model=virtio,mac={mac} --network network=default,model=virtio,mac={mac2}',
     None),

    ('graphics', 'vnc', '--graphics vnc', None),
    ('graphics', 'vncpass', '--graphics vnc,listen=127.0.0.1,password=s3cret', None),
    ('graphics', 'spice', '--graphics spice', None),
    ('graphics', 'spicenolisten', '--graphics spice,listen=none', None),
    ('graphics', 'nographics', '--graphics none', None),

    ('video', 'virtiovideo', '--video virtio', None),
    ('video', 'qxl', '--video qxl', None),
    ('video', 'vga', '--video vga', None),
    ('video', 'bochs', '--video bochs', None),
    ('video', 'novideo', '--video none', None),
    ('video', 'twoheads', '--video qxl --video qxl', None),

    ('sound', 'ich9', '--sound ich9', 'q35'),
    ('sound', 'ich6', '--sound ich6', None),
    ('sound', 'ac97', '--sound ac97', None),
    ('sound', 'nosound', '--sound none', None),

    ('channel', 'qga', '--channel unix,target.type=virtio,target.name=org.qemu.guest_agent.0', None),
    ('channel', 'spicevmc', '--channel spicevmc', None),

    ('tpm', 'tpmcrb', '--tpm emulator,model=tpm-crb,version=2.0', 'q35'),
    ('tpm', 'tpmtis', '--tpm emulator,model=tpm-tis', None),

    ('rng', 'rng', '--rng /dev/urandom', None),
    ('rng', 'rngbuiltin', '--rng builtin', None),
    ('watchdog', 'i6300esb', '--watchdog i6300esb,action=poweroff', None),
    ('watchdog', 'ib700', '--watchdog ib700,action=reset', 'pc'),

    ('memory', 'memhotplug', '--memory 1024,maxMemory=4096,maxMemory.slots=4 --vcpus 2 '
     '--cpu qemu64,cell0.memory=1048576,cell0.cpus=0-1 --memdev dimm,target.size=512,target.node=0', None),
    ('memory', 'membacking', '--memorybacking source.type=memfd,access.mode=shared', None),
    ('memory', 'balloonstats', '--memballoon virtio,stats.period=10', None),
    ('memory', 'memtune', '--memtune hard_limit=4194304,soft_limit=2097152', None),

    ('cpu', 'cputune', '--vcpus 2 --cputune vcpupin0.vcpu=0,vcpupin0.cpuset=0,vcpupin1.vcpu=1,vcpupin1.cpuset=1',
     None),
    ('cpu', 'numatune', '--numatune 0,mode=preferred', None),
    ('cpu', 'topology', '--vcpus 4,sockets=1,dies=1,cores=2,threads=2', None),
    ('cpu', 'vcpuhotplug', '--vcpus 2,maxvcpus=4', None),
    ('cpu', 'cpumodel', '--cpu Westmere', None),

    ('usb', 'usb2', '--controller usb2', None),
    ('usb', 'usb3', '--controller usb3', None),
    ('usb', 'nousb', '--controller usb,model=none --input mouse,bus=ps2', 'pc'),

    ('serial', 'serialpty', '--serial pty --console pty,target.type=virtio', None),
    ('serial', 'serialfile', '--serial file,path=' + DISKDIR + '/{name}.log', None),
    ('serial', 'virtioconsole', '--console pty,target.type=virtio', None),

    ('device', 'panic', '--panic default', None),
    ('device', 'fs9p', '--filesystem ' + DISKDIR + '/share,hostshare,accessmode=mapped', None),
    ('device', 'virtiofs', '--memorybacking source.type=memfd,access.mode=shared '
     '--filesystem ' + DISKDIR + '/share,hostshare,driver.type=virtiofs', None),
    ('domain', 'events', '--events on_reboot=destroy,on_crash=restart', None),
    ('domain', 'localtime', '--clock offset=localtime,rtc_tickpolicy=catchup', None),
    ('domain', 'sysinfo', '--sysinfo bios.vendor=Acme,system.manufacturer=Acme,system.product=Box9,'
     'system.serial=XYZ123', None),
    ('domain', 'metadata', '--metadata title=Web\\ server,description=Made\\ by\\ the\\ corpus\\ generator', None),
    ('input', 'virtiokbd', '--input keyboard,bus=virtio', None),
    ('input', 'hyperv', '--features hyperv.relaxed.state=on,hyperv.vapic.state=on,hyperv.spinlocks.state=on,'
     'hyperv.spinlocks.retries=8191', None),
    ('device', 'redirdev', '--redirdev usb,type=spicevmc', None),
]


def fixed_mac(name, index):
    digest = hashlib.sha256(('%s/%d' % (name, index)).encode()).hexdigest()
    return '52:54:00:%s:%s:%s' % (digest[0:2], digest[2:4], digest[4:6])


def fixed_uuid(name):
    return str(uuid.uuid5(UUID_NAMESPACE, name))


def _family(machine):
    return 'q35' if 'q35' in machine else 'pc'


def _machine_tag(machine):
    return {'q35': 'q35', 'pc': 'pc', 'pc-q35-7.2': 'q35v72', 'pc-i440fx-7.2': 'i440fx72'}[machine]


def document_specs(count):
    """[{name, osinfo, machine, tags, args}] for `count` documents, the same every time.

    Document i takes 2-4 groups, starting at a group that moves by 3 each time (three
    documents in four take a disk group among them); each
    group hands out its fragments in turn (skipping those the machine cannot have), so
    every fragment appears about equally often."""
    groups = []
    for group, _tag, _args, _where in FRAGMENTS:
        if group not in groups:
            groups.append(group)
    turn = dict((group, 0) for group in groups)
    specs, used = [], set()
    for i in range(count):
        osinfo = OSINFO[i % len(OSINFO)]
        machine = MACHINES[(i + i // len(OSINFO)) % len(MACHINES)]
        family = _family(machine)
        picked = []
        chosen = [groups[(3 * i + 4 * k) % len(groups)] for k in range(2 + i % 3)]
        if i % 4 != 3 and 'disk' not in chosen:
            chosen[-1] = 'disk'  # most real guests have a disk: give the buses more turns
        for group in chosen:
            choices = [f for f in FRAGMENTS if f[0] == group and f[3] in (None, family)]
            _group, tag, args, _where = choices[turn[group] % len(choices)]
            turn[group] += 1
            if all(tag != t for t, dummy in picked):
                picked.append((tag, args))
        name = 'vi-%s-%s-%s' % (osinfo.replace('.', ''), _machine_tag(machine), '-'.join(t for t, dummy in picked))
        if name in used:
            name += '-%d' % i
        used.add(name)
        specs.append(dict(name=name, osinfo=osinfo, machine=machine, tags=[t for t, dummy in picked],
                          args=[a for dummy, a in picked]))
    return specs


def command_line(spec):
    """The virt-install arguments (after the program name) of one spec."""
    name = spec['name']
    fields = dict(img='%s/%s-1.qcow2' % (DISKDIR, name), img2='%s/%s-2.qcow2' % (DISKDIR, name),
                  mac=fixed_mac(name, 0), mac2=fixed_mac(name, 1), name=name,
                  cdbus='sata' if _family(spec['machine']) == 'q35' else 'ide')
    argv = ['--connect', 'qemu:///system', '--virt-type', 'qemu', '--print-xml', '--noautoconsole', '--import',
            '--name', name, '--uuid', fixed_uuid(name), '--osinfo', spec['osinfo'], '--machine', spec['machine']]
    joined = ' '.join(a.format(**fields) for a in spec['args'])
    if '--memory' not in joined:
        argv += ['--memory', '1024']
    if '--vcpus' not in joined:
        argv += ['--vcpus', '2']
    if '--disk' not in joined:
        argv += ['--disk', 'none']
    if '--network' not in joined:
        argv += ['--network', 'user,model=virtio,mac=%s' % fixed_mac(name, 0)]
    for fragment in spec['args']:
        argv += split_args(fragment.format(**fields))
    return argv


def split_args(text):
    """Split on spaces not escaped with a backslash (the metadata fragment has spaces)."""
    parts, current, escaped = [], '', False
    for char in text:
        if escaped:
            current += char
            escaped = False
        elif char == '\\':
            escaped = True
        elif char == ' ':
            if current:
                parts.append(current)
            current = ''
        else:
            current += char
    if current:
        parts.append(current)
    return parts


def images_of(argv):
    """The disk image paths a command line names (the generator creates them first)."""
    images = []
    for arg in argv:
        for part in arg.split(','):
            if part.startswith(DISKDIR) and part.endswith('.qcow2'):
                images.append(part)
    return images
