"""The real daemon for the reliability tests: connection, unique names, guests, restart.

    from sysenv import URI, connect, unique, noos_xml, tiny_xml, restart_libvirtd, libvirtd_pid
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import libvirt

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, 'guest'))
import guests  # noqa: E402

URI = os.environ.get('DOMAINOPS_SYSTEM_URI', 'qemu:///system')
PID_FILE = '/run/libvirtd.pid'
REPO = os.path.dirname(TESTS)
VENV_BIN = os.path.dirname(sys.executable)

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


def connect():
    return libvirt.open(URI)


def unique(kind):
    return 'rel-%s-%s' % (kind, uuid.uuid4().hex[:8])


def noos_xml(name, extra='', firmware_log=None):
    return guests.noos_guest_xml(name, extra_devices=extra, firmware_log=firmware_log)


def tiny_xml(name, log, extra='', **options):
    guests.build()
    return guests.tiny_guest_xml(name, log, extra_devices=extra, **options)


def libvirtd_pid():
    with open(PID_FILE) as handle:
        return int(handle.read().strip())


def answers(timeout=5):
    return subprocess.run(['virsh', '-c', URI, 'uri'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          timeout=timeout, check=False).returncode == 0


def stop_libvirtd():
    """SIGTERM the daemon of /run/libvirtd.pid and wait until it has exited."""
    pid = libvirtd_pid()
    os.kill(pid, 15)
    deadline = time.monotonic() + 30
    while os.path.exists('/proc/%d' % pid):
        if time.monotonic() > deadline:
            raise AssertionError('libvirtd (pid %d) did not exit within 30 s of SIGTERM' % pid)
        time.sleep(0.05)


def start_libvirtd(timeout=60):
    """`libvirtd -d`, then poll until it answers (it returns before its qemu driver is ready)."""
    if answers():
        return
    subprocess.run(['libvirtd', '-d'], check=False)
    deadline = time.monotonic() + timeout
    while not answers():
        if time.monotonic() > deadline:
            raise AssertionError('libvirtd does not answer %s %s s after `libvirtd -d`' % (URI, timeout))
        time.sleep(0.2)


def restart_libvirtd():
    try:
        stop_libvirtd()
    finally:
        start_libvirtd()


def wait_for(predicate, timeout, what, poll=0.1):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('%s not within %s s' % (what, timeout))
        time.sleep(poll)
