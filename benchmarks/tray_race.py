#!/usr/bin/env python
"""How often a live CD-ROM medium change leaves libvirt with a stale tray, on the real daemon.

Per round: a no-OS guest (SeaBIOS only) with an empty IDE cdrom is started, then
virt_domain_device inserts and ejects a medium three times in a row, either at once
(while SeaBIOS still probes and resets its IDE channels) or after the firmware printed
"No bootable device." on its serial log. A round is *stale* when libvirt's live XML
then says tray='open' while QEMU (query-block) has the tray closed. The script prints
the counts and the module's words for the stale state (a warning after a change that
succeeded, the note in the failure of the next change).

Measured on libvirt 9.0 / QEMU 7.2 / SeaBIOS 1.16 (docs/troubleshooting.md): immediate
changes went stale in 6 of 15 rounds, changes after the firmware was idle in 0 of 30.

Usage (as root, after scripts/setup.sh):
  .venv/bin/python benchmarks/tray_race.py [--rounds 10]
"""
import argparse
import json
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, 'tests', 'lib'), os.path.join(REPO, '.build', 'collections')]

import libvirt_qemu  # noqa: E402
from modrun import remove_domain, run_module, warnings_of  # noqa: E402
from sysenv import URI, connect, noos_xml, unique  # noqa: E402

import guests  # noqa: E402  (tests/guest, put on sys.path by sysenv)

CDROM = ("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>%s"
         "<target dev='hdc' bus='ide'/><readonly/></disk>")


def qemu_tray_open(dom):
    """The tray as QEMU has it (query-block through the monitor; test-only, taints the domain)."""
    reply = json.loads(libvirt_qemu.qemuMonitorCommand(dom, '{"execute": "query-block"}', 0))
    return [b['tray_open'] for b in reply['return'] if 'tray_open' in b][0]


def one_round(conn, workdir, wait_for_firmware, seen):
    name = unique('tray')
    log = os.path.join(workdir, name + '.log')
    iso = os.path.join(workdir, 'medium.iso')
    try:
        dom = conn.defineXML(noos_xml(name, extra=CDROM % '', firmware_log=log))
        dom.create()
        if wait_for_firmware:
            guests.wait_for_firmware_idle(log)
        for dummy in range(3):
            for source in ("<source file='%s'/>" % iso, ''):
                result = run_module('virt_domain_device', dict(name=name, xml=CDROM % source), URI)
                for text in warnings_of(result) + ([result['msg']] if result['failed'] else []):
                    if 'tray' in text:
                        seen.setdefault('failure' if result['failed'] else 'warning', text)
        return "tray='open'" in dom.XMLDesc(0) and not qemu_tray_open(dom)
    finally:
        remove_domain(conn, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=10)
    args = parser.parse_args()
    conn = connect()
    seen = {}
    with tempfile.TemporaryDirectory(prefix='domainops-tray-') as workdir:
        os.chmod(workdir, 0o755)
        with open(os.path.join(workdir, 'medium.iso'), 'wb') as iso:
            iso.write(b'\0' * 2048)
        for wait in (False, True):
            stale = sum(one_round(conn, workdir, wait, seen) for dummy in range(args.rounds))
            print('%-32s stale tray in %d of %d rounds'
                  % ('after the firmware is idle:' if wait else 'at once after start:', stale, args.rounds))
    for kind in ('warning', 'failure'):
        print('module %s: %s' % (kind, seen.get(kind, '(none seen)')))
    conn.close()


if __name__ == '__main__':
    main()
