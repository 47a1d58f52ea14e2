"""Helpers for tests that need a real guest under the qemu driver.

Two kinds of guests:

* the *tiny guest*: Debian's kernel + a busybox initramfs (built by ``build.sh`` next
  to this file, cached outside the repo). It honours ACPI (``shutdown()`` completes,
  ``reboot()`` boots it again), releases hot-unplugged devices and prints
  ``READY_MARKER`` on its serial console (a file) each time it has booted.
* the *no-OS guest*: no kernel, no disk; QEMU sits in the firmware. It ignores ACPI,
  so ``shutdown()`` returns but the domain keeps running.

Both are ``<domain type='qemu'>`` (KVM cannot run guests on the test machines).

Usage::

    from guests import tiny_guest_xml, wait_for_ready   # tests/guest on sys.path
    dom = conn.defineXML(tiny_guest_xml(name, log))
    dom.create()
    wait_for_ready(log, timeout=60)

Command line (for playbooks and shell helpers)::

    python3 tests/guest/guests.py paths           # builds if needed, prints kernel/initrd
    python3 tests/guest/guests.py xml NAME LOG     # prints the tiny guest's XML
    python3 tests/guest/guests.py noos-xml NAME    # prints the no-OS guest's XML
    python3 tests/guest/guests.py wait LOG [TIMEOUT] [COUNT]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from xml.sax.saxutils import escape, quoteattr

GUEST_DIR = os.path.dirname(os.path.abspath(__file__))
BUILD_SCRIPT = os.path.join(GUEST_DIR, 'build.sh')
DEFAULT_CACHE = '/var/cache/domainops-libvirt/tiny-guest'
READY_MARKER = 'DOMAINOPS-TINY-GUEST-READY'
# Printed by the tiny guest's DHCP client script each time it gets (or renews) a lease:
# '<marker> <interface> <address>/<prefix> uptime=<s>'.
LEASE_MARKER = 'DOMAINOPS-TINY-GUEST-LEASE'
# The virtio-serial channel the QEMU guest agent listens on (the tiny guest starts
# qemu-ga when the domain has it).
AGENT_CHANNEL = ("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/>"
                 "</channel>")
# Typed on the tiny guest's keyboard (guest_command), read by its init from tty1:
# 'suspend' suspends to RAM, 'panic' panics the kernel, 'agent-freeze' makes the guest
# agent hang (SIGSTOP; its channel stays connected) (see build.sh).
GUEST_COMMANDS = ('suspend', 'panic', 'agent-freeze')
PANIC_DEVICE = "<panic model='isa'/>"
# What SeaBIOS prints once it has tried every boot device.
FIRMWARE_IDLE_MARKER = 'No bootable device.'
# 'pc' (i440fx): boots as fast as q35 here and hot-plugs PCI devices straight onto
# pci.0 (q35 would need spare pcie-root-ports for every hot-plugged device).
MACHINE = 'pc'
KERNEL_CMDLINE = 'console=ttyS0 panic=-1'

__all__ = [
    'READY_MARKER', 'MACHINE', 'KERNEL_CMDLINE', 'cache_dir', 'cache_paths', 'build',
    'tiny_guest_xml', 'noos_guest_xml', 'count_ready', 'wait_for_ready',
    'wait_for_firmware_idle', 'wait_for_state', 'GuestTimeout', 'FIRMWARE_IDLE_MARKER',
    'GUEST_COMMANDS', 'PANIC_DEVICE', 'guest_command', 'LEASE_MARKER', 'AGENT_CHANNEL', 'nic_xml',
    'leases', 'wait_for_lease',
]


class GuestTimeout(AssertionError):
    """A guest did not reach the awaited condition in time (an assertion for tests)."""


def cache_dir() -> str:
    """The cache directory build.sh writes to (``$DOMAINOPS_GUEST_CACHE`` or the default)."""
    return os.environ.get('DOMAINOPS_GUEST_CACHE') or DEFAULT_CACHE


def cache_paths() -> dict:
    """Paths of the cached artefacts: ``{'kernel', 'initrd', 'stamp', 'dir'}``.

    Does not build; the files exist only after ``build()`` (or ``build.sh``) ran.
    """
    d = cache_dir()
    return {
        'dir': d,
        'kernel': os.path.join(d, 'vmlinuz'),
        'initrd': os.path.join(d, 'initrd.img'),
        'stamp': os.path.join(d, 'stamp'),
    }


def build(quiet: bool = True) -> dict:
    """Run build.sh (instant when the cache is ready) and return ``cache_paths()``.

    Raises RuntimeError with build.sh's own error text when the build fails.
    """
    proc = subprocess.run(['bash', BUILD_SCRIPT], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)
    if not quiet and proc.stderr:
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError('tests/guest/build.sh failed (rc=%d):\n%s'
                           % (proc.returncode, proc.stderr.strip()))
    return cache_paths()


def tiny_guest_xml(name: str, serial_log_path: str, memory_mib: int = 128,
                   extra_devices: str = '', kernel: str | None = None,
                   initrd: str | None = None, cmdline: str = KERNEL_CMDLINE,
                   crash_preserve: bool = False, suspend_to_mem: bool = False,
                   network: str | None = None, mac: str | None = None, agent: bool = False) -> str:
    """Domain XML of the tiny real guest (direct kernel boot, serial console to a file).

    ``extra_devices`` is raw XML inserted inside ``<devices>`` (disks, interfaces...).
    The guest has a VGA video device (screenshots work) and no graphics.
    ``kernel``/``initrd`` default to the cached build (see ``cache_paths()``).
    ``crash_preserve`` adds a pvpanic device and ``<on_crash>preserve``: the guest
    command 'panic' then leaves the domain crashed. ``suspend_to_mem`` enables S3:
    the guest command 'suspend' then leaves it pmsuspended (see ``GUEST_COMMANDS``).
    ``network`` adds a virtio NIC on that libvirt network (``mac`` optional): the guest
    asks for a DHCP lease on it (``wait_for_lease``). ``agent`` adds the guest agent's
    channel: the guest runs qemu-ga on it. Without them the guest has neither.
    """
    if agent:
        extra_devices = '    ' + AGENT_CHANNEL + '\n' + extra_devices
    if network is not None:
        extra_devices = '    ' + nic_xml(network, mac) + '\n' + extra_devices
    if crash_preserve:
        extra_devices = '    ' + PANIC_DEVICE + '\n' + extra_devices
    paths = cache_paths()
    kernel = kernel or paths['kernel']
    initrd = initrd or paths['initrd']
    return """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{mem}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='{machine}'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>{on_crash}</on_crash>{pm}
  <devices>
    <serial type='file'>
      <source path={log}/>
      <target port='0'/>
    </serial>
    <video><model type='vga'/></video>
    <memballoon model='none'/>
{extra}  </devices>
</domain>
""".format(name=escape(name), mem=int(memory_mib), machine=MACHINE,
           kernel=escape(kernel), initrd=escape(initrd), cmdline=escape(cmdline),
           log=quoteattr(serial_log_path),
           on_crash='preserve' if crash_preserve else 'destroy',
           pm="\n  <pm><suspend-to-mem enabled='yes'/></pm>" if suspend_to_mem else '',
           extra=_devices_block(extra_devices))


def nic_xml(network: str, mac: str | None = None) -> str:
    """A virtio interface on a libvirt network (device XML, one line)."""
    mac_el = "<mac address=%s/>" % quoteattr(mac) if mac else ''
    return "<interface type='network'>%s<source network=%s/><model type='virtio'/></interface>" % (
        mac_el, quoteattr(network))


def _devices_block(extra_devices: str) -> str:
    """Raw device XML for the end of <devices>, on lines of its own ('' when empty)."""
    return (extra_devices.rstrip('\n') + '\n') if extra_devices.strip() else ''


def guest_command(command: str) -> str:
    """The text to type on the tiny guest's keyboard (virt_domain_send_key ``text``)."""
    if command not in GUEST_COMMANDS:
        raise ValueError('the tiny guest knows the commands %s, not %r' % (', '.join(GUEST_COMMANDS), command))
    return command + '\n'


def noos_guest_xml(name: str, memory_mib: int = 64, extra_devices: str = '',
                   firmware_log: str | None = None) -> str:
    """Domain XML of a guest with no OS and no disk (ignores ACPI shutdown).

    With ``firmware_log``, SeaBIOS writes to that file (a serial port) and stays idle
    after "No bootable device." instead of rebooting every 60 s; see
    ``wait_for_firmware_idle``.
    """
    bios = serial = ''
    if firmware_log:
        bios = "\n    <bios useserial='yes' rebootTimeout='-1'/>"
        serial = ("    <serial type='file'><source path=%s/><target port='0'/></serial>\n"
                  % quoteattr(firmware_log))
    return """<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{mem}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='{machine}'>hvm</type>
    <boot dev='hd'/>{bios}
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <video><model type='vga'/></video>
    <memballoon model='none'/>
{serial}{extra}  </devices>
</domain>
""".format(name=escape(name), mem=int(memory_mib), machine=MACHINE, bios=bios, serial=serial,
           extra=_devices_block(extra_devices))


def count_ready(serial_log_path: str) -> int:
    """How many times the guest printed READY_MARKER in this log (0 if no log yet).

    QEMU truncates the log each time the domain is started; a ``reboot()`` or
    ``reset()`` keeps the same QEMU process, so the count grows by one per boot.
    """
    return _count_text(serial_log_path, READY_MARKER)


def _count_text(path: str, text: str) -> int:
    try:
        with open(path, 'rb') as f:
            return f.read().count(text.encode())
    except FileNotFoundError:
        return 0


def wait_for_ready(serial_log_path: str, timeout: float = 90, count: int = 1,
                   poll: float = 0.2) -> float:
    """Wait until READY_MARKER appeared at least ``count`` times in the serial log.

    For a reboot: ``n = count_ready(log); dom.reboot(); wait_for_ready(log, 90, n + 1)``.
    Returns the seconds waited; raises GuestTimeout (with the log's tail) on timeout.
    """
    return _wait_for_text(serial_log_path, READY_MARKER, count, timeout, poll)


def wait_for_firmware_idle(firmware_log_path: str, timeout: float = 30, poll: float = 0.05) -> float:
    """Wait until a no-OS guest made with ``firmware_log`` has given up booting.

    From then on the firmware leaves its drives alone. Before, SeaBIOS resets the IDE
    channels while it probes them, and a medium change at that moment leaves libvirt
    9.0 believing a closed tray is open (docs/troubleshooting.md).
    """
    return _wait_for_text(firmware_log_path, FIRMWARE_IDLE_MARKER, 1, timeout, poll)


def _wait_for_text(path: str, text: str, count: int, timeout: float, poll: float) -> float:
    start = time.monotonic()
    deadline = start + timeout
    while True:
        if _count_text(path, text) >= count:
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            raise GuestTimeout('guest did not print %s %d time(s) within %ss; serial log %s '
                               'ends with:\n%s' % (text, count, timeout, path, _tail(path)))
        time.sleep(poll)


def leases(serial_log_path: str) -> list:
    """[(interface, 'address/prefix', guest uptime)] of every lease the guest printed, in order."""
    try:
        with open(serial_log_path, 'rb') as f:
            text = f.read().decode('utf-8', 'replace')
    except FileNotFoundError:
        return []
    found = []
    for line in text.splitlines():
        fields = line.strip().split()
        if len(fields) >= 4 and fields[0] == LEASE_MARKER:
            found.append((fields[1], fields[2], float(fields[3].split('=', 1)[1])))
    return found


def wait_for_lease(serial_log_path: str, timeout: float = 60, count: int = 1, poll: float = 0.2) -> tuple:
    """Wait until the guest printed its ``count``-th lease; returns (seconds waited, 'address/prefix')."""
    waited = _wait_for_text(serial_log_path, LEASE_MARKER, count, timeout, poll)
    return waited, leases(serial_log_path)[count - 1][1]


def wait_for_state(dom, state: int, timeout: float = 15, poll: float = 0.1) -> float:
    """Wait until ``dom.state()[0] == state`` (a ``libvirt.VIR_DOMAIN_*`` state).

    Returns the seconds waited; raises GuestTimeout on timeout.
    """
    start = time.monotonic()
    while True:
        current = dom.state()[0]
        if current == state:
            return time.monotonic() - start
        if time.monotonic() - start >= timeout:
            raise GuestTimeout('domain %s still in state %d (wanted %d) after %ss'
                               % (dom.name(), current, state, timeout))
        time.sleep(poll)


def _tail(path: str, size: int = 1500) -> str:
    try:
        with open(path, 'rb') as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode('utf-8', 'replace')
    except OSError as exc:
        return '(%s)' % exc


def _main(argv: list) -> int:
    usage = ('usage: guests.py paths | xml NAME LOG [MEMORY_MIB] [--network NET] [--agent] | noos-xml NAME '
             '| wait LOG [TIMEOUT] [COUNT] | count LOG | wait-lease LOG [TIMEOUT]')
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    network, agent = None, '--agent' in args
    args = [a for a in args if a != '--agent']
    if '--network' in args:
        at = args.index('--network')
        network = args[at + 1]
        del args[at:at + 2]
    try:
        if cmd == 'paths':
            p = build()
            print(p['kernel'])
            print(p['initrd'])
        elif cmd == 'xml' and len(args) in (2, 3):
            print(tiny_guest_xml(args[0], args[1], *(int(a) for a in args[2:]), network=network, agent=agent),
                  end='')
        elif cmd == 'noos-xml' and len(args) == 1:
            print(noos_guest_xml(args[0]), end='')
        elif cmd == 'wait' and 1 <= len(args) <= 3:
            waited = wait_for_ready(args[0], float(args[1]) if len(args) > 1 else 90,
                                    int(args[2]) if len(args) > 2 else 1)
            print('%.1f' % waited)
        elif cmd == 'wait-lease' and 1 <= len(args) <= 2:
            print(wait_for_lease(args[0], float(args[1]) if len(args) > 1 else 60)[1].split('/')[0])
        elif cmd == 'count' and len(args) == 1:
            print(count_ready(args[0]))
        else:
            print(usage, file=sys.stderr)
            return 2
    except (GuestTimeout, RuntimeError) as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(_main(sys.argv[1:]))
