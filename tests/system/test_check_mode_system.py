# Check mode on the real daemon, for the paths the test driver cannot take: device
# attach/update/detach (live and persistent), graceful shutdown, reboot and reset of a
# guest that honours ACPI (the tiny guest), start paused, and the forced shutdown of a
# guest that ignores ACPI (no-OS guest). Each step: check run (with --diff) -> the
# domain's live XML, inactive XML, state and autostart are byte-identical -> real run
# -> same actions and changed; then a check run and a real run again change nothing
# (modrun.step).
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain, run_module, snapshot, step, warnings_of  # noqa: E402
from sysenv import URI, connect, noos_xml, tiny_xml, unique  # noqa: E402

import guests  # noqa: E402  (tests/guest, put on sys.path by sysenv)

NIC = "<interface type='user'><mac address='52:54:00:4d:00:01'/><model type='virtio'/>%s</interface>"
CDROM = ("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>%s"
         "<target dev='hdc' bus='ide'/><readonly/></disk>")


@pytest.fixture
def conn():
    connection = connect()
    yield connection
    connection.close()


def test_tiny_guest_lifecycle_and_devices(conn, tmp_path):
    name = unique('cm-tiny')
    log = str(tmp_path / 'serial.log')
    xml = tiny_xml(name, log)
    try:
        step(conn, name, 'virt_domain_state', dict(xml=xml, state='present'), ['define'])
        step(conn, name, 'virt_domain_state', dict(xml=xml, state='running'), ['create'])
        guests.wait_for_ready(log, timeout=60)
        step(conn, name, 'virt_domain_autostart', dict(enabled=True), ['set_autostart(true)'])
        # devices: attach (persistent and live), update live, detach (waits for the guest)
        step(conn, name, 'virt_domain_device', dict(xml=NIC % ''), ['attach (config)', 'attach (live)'])
        step(conn, name, 'virt_domain_device', dict(xml=NIC % "<link state='down'/>"),
             ['update (config)', 'update (live)'])
        step(conn, name, 'virt_domain_device', dict(xml=NIC % '', state='absent', timeout=20),
             ['detach (config)', 'detach (live)'])
        # a changed definition of a running guest: defined, restart_required
        changed = xml.replace("<memory unit='MiB'>128</memory>", "<memory unit='MiB'>160</memory>")
        result = step(conn, name, 'virt_domain_state', dict(xml=changed, state='running'), ['define'])
        assert result['restart_required']
        # lifecycle: pause, shut down from paused, start, reboot, reset
        step(conn, name, 'virt_domain_state', dict(name=name, state='paused'), ['suspend'])
        step(conn, name, 'virt_domain_state', dict(name=name, state='shutdown', timeout=30), ['resume', 'shutdown'])
        step(conn, name, 'virt_domain_state', dict(name=name, state='running'), ['create'])
        guests.wait_for_ready(log, timeout=60)
        booted = guests.count_ready(log)
        step(conn, name, 'virt_domain_state', dict(name=name, state='rebooted', timeout=60), ['reboot'], again=False)
        guests.wait_for_ready(log, timeout=60, count=booted + 1)
        step(conn, name, 'virt_domain_state', dict(name=name, state='reset'), ['reset'], again=False)
        step(conn, name, 'virt_domain_state', dict(name=name, state='destroyed'), ['destroy'])
        step(conn, name, 'virt_domain_state', dict(name=name, state='absent'), ['undefine'])
    finally:
        remove_domain(conn, name)


def test_noos_guest_paths(conn, tmp_path):
    name = unique('cm-noos')
    iso = tmp_path / 'media.iso'
    iso.write_bytes(b'\0' * 2048)
    firmware_log = str(tmp_path / 'firmware.log')
    try:
        conn.defineXML(noos_xml(name, extra=CDROM % '', firmware_log=firmware_log))
        # persistent-only device changes on a shut-off domain
        step(conn, name, 'virt_domain_device', dict(xml=NIC % ''), ['attach (config)'])
        step(conn, name, 'virt_domain_device', dict(xml=NIC % '', state='absent'), ['detach (config)'])
        # start paused (a real START_PAUSED flag here), then resume
        step(conn, name, 'virt_domain_state', dict(name=name, state='paused'), ['create_paused'])
        step(conn, name, 'virt_domain_state', dict(name=name, state='running'), ['resume'])
        # Media changes wait until the firmware stopped probing its drives: a change
        # during its IDE reset leaves libvirt with a stale tray (docs/troubleshooting.md).
        guests.wait_for_firmware_idle(firmware_log)
        # cdrom media change, live and persistent: insert, then eject
        step(conn, name, 'virt_domain_device', dict(xml=CDROM % ("<source file='%s'/>" % iso)),
             ['update (config)', 'update (live)'])
        step(conn, name, 'virt_domain_device', dict(xml=CDROM % ''), ['update (config)', 'update (live)'])
        # live-only attach to a running guest, then remove it from the definition side only
        step(conn, name, 'virt_domain_device', dict(xml=NIC % '', affect=['live']), ['attach (live)'])
        # the guest ignores ACPI: check mode plans the shutdown it would ask for; the real
        # run with force then also destroys. The plan is a prefix of what was done, and
        # the only case where check mode cannot know the outcome (docs/reliability.md).
        args = dict(name=name, state='shutdown', timeout=1, force=True)
        before = snapshot(conn, name)
        checked = run_module('virt_domain_state', args, URI, check=True)
        assert snapshot(conn, name) == before and checked['actions'] == ['shutdown']
        real = run_module('virt_domain_state', args, URI)
        assert real['actions'] == ['shutdown', 'destroy'] and real['domain']['state'] == 'shutoff'
        assert any('did not shut down' in w for w in warnings_of(real)), real
    finally:
        remove_domain(conn, name)
