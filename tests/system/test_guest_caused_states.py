# The states only a guest can put a domain in, reached for real on the tiny guest:
# pmsuspended (the guest suspends to RAM) and crashed (the kernel panics, a pvpanic
# device reports it, <on_crash>preserve keeps the domain). The guest is told what to do
# through its keyboard, with virt_domain_send_key (tests/guest/build.sh reads the
# commands from its first console). From each state virt_domain_state reaches every
# target the way it documents, each step shown by modrun.step: check run (nothing
# changes) -> real run (same actions) -> check and real again (no change).
import os
import sys

import libvirt
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain, run_module, step  # noqa: E402
from sysenv import URI, connect, tiny_xml, unique  # noqa: E402

import guests  # noqa: E402  (tests/guest, put on sys.path by sysenv)

SUSPENDED = libvirt.VIR_DOMAIN_PMSUSPENDED
CRASHED = libvirt.VIR_DOMAIN_CRASHED


@pytest.fixture
def conn():
    connection = connect()
    yield connection
    connection.close()


@pytest.fixture
def guest(conn, tmp_path):
    """A defined tiny guest that can suspend to RAM and crash: (name, serial log)."""
    name = unique('gc')
    log = str(tmp_path / 'serial.log')
    conn.defineXML(tiny_xml(name, log, crash_preserve=True, suspend_to_mem=True))
    try:
        yield name, log
    finally:
        remove_domain(conn, name)


def boot(conn, name, log):
    """Start the guest (if it is not running) and wait until it has booted."""
    dom = conn.lookupByName(name)
    booted = guests.count_ready(log) if dom.isActive() else 0
    if not dom.isActive():
        dom.create()
    guests.wait_for_ready(log, timeout=90, count=booted + 1)


def guest_does(conn, name, command, state, attempts=3):
    """Type a command on the guest's keyboard until libvirt reports `state`.

    Typed again when nothing happened: keys pressed while a just-woken guest still
    resumes its keyboard are lost (a lost line is ignored by the guest).
    """
    dom = conn.lookupByName(name)
    for attempt in range(1, attempts + 1):
        typed = run_module('virt_domain_send_key', dict(name=name, text=guests.guest_command(command)), URI)
        assert not typed['failed'], typed['msg']
        try:
            guests.wait_for_state(dom, state, timeout=10)
            return
        except guests.GuestTimeout:
            if attempt == attempts:
                raise


def state_of(conn, name):
    try:
        return conn.lookupByName(name).state()[0]
    except libvirt.libvirtError:
        return None


def test_from_pmsuspended(conn, guest):
    name, log = guest
    boot(conn, name, log)
    guest_does(conn, name, 'suspend', SUSPENDED)
    step(conn, name, 'virt_domain_state', dict(state='present'), [])
    step(conn, name, 'virt_domain_state', dict(state='running'), ['pm_wakeup'])
    assert state_of(conn, name) == libvirt.VIR_DOMAIN_RUNNING

    guest_does(conn, name, 'suspend', SUSPENDED)
    step(conn, name, 'virt_domain_state', dict(state='paused'), ['pm_wakeup', 'suspend'])
    step(conn, name, 'virt_domain_state', dict(state='running'), ['resume'])

    # A woken guest handles the ACPI power button: a graceful shutdown, waited for.
    guest_does(conn, name, 'suspend', SUSPENDED)
    result = step(conn, name, 'virt_domain_state', dict(state='shutdown', timeout=60),
                  ['pm_wakeup', 'shutdown'])
    assert result['domain']['state'] == 'shutoff'

    boot(conn, name, log)
    guest_does(conn, name, 'suspend', SUSPENDED)
    step(conn, name, 'virt_domain_state', dict(state='rebooted', timeout=60), ['pm_wakeup', 'reboot'],
         again=False)
    guests.wait_for_ready(log, timeout=90, count=2)

    guest_does(conn, name, 'suspend', SUSPENDED)
    step(conn, name, 'virt_domain_state', dict(state='destroyed'), ['destroy'])

    boot(conn, name, log)
    guest_does(conn, name, 'suspend', SUSPENDED)
    step(conn, name, 'virt_domain_state', dict(state='absent'), ['destroy', 'undefine'])
    assert state_of(conn, name) is None


def test_from_crashed(conn, guest):
    name, log = guest
    boot(conn, name, log)
    guest_does(conn, name, 'panic', CRASHED)
    assert conn.lookupByName(name).state()[1] == libvirt.VIR_DOMAIN_CRASHED_PANICKED
    step(conn, name, 'virt_domain_state', dict(state='present'), [])
    # A crashed guest runs no code: it is destroyed and started again, not resumed.
    step(conn, name, 'virt_domain_state', dict(state='running'), ['destroy', 'create'])
    guests.wait_for_ready(log, timeout=90)

    guest_does(conn, name, 'panic', CRASHED)
    step(conn, name, 'virt_domain_state', dict(state='paused'), ['destroy', 'create_paused'])
    step(conn, name, 'virt_domain_state', dict(state='running'), ['resume'])
    guests.wait_for_ready(log, timeout=90)

    guest_does(conn, name, 'panic', CRASHED)
    step(conn, name, 'virt_domain_state', dict(state='shutdown'), ['destroy'])

    boot(conn, name, log)
    guest_does(conn, name, 'panic', CRASHED)
    step(conn, name, 'virt_domain_state', dict(state='reset'), ['destroy', 'create'], again=False)
    guests.wait_for_ready(log, timeout=90)

    guest_does(conn, name, 'panic', CRASHED)
    step(conn, name, 'virt_domain_state', dict(state='absent'), ['destroy', 'undefine'])
    assert state_of(conn, name) is None
