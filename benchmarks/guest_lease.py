#!/usr/bin/env python
"""How long the tiny guest takes from create() to an address, on an isolated network with DHCP.

Boots the tiny guest (a virtio NIC on a transient isolated network, the guest agent
channel) --runs times and prints, per boot, seconds after create():
  ready   the guest printed READY (init done)
  lease   the guest printed its DHCP lease (busybox udhcpc's script), with the guest's uptime then
  libvirt libvirt's lease source first shows the address (polled every 0.1 s)
  agent   the guest agent connected (VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, state connected)

Usage (as root, after scripts/setup.sh): .venv/bin/python benchmarks/guest_lease.py [--runs 3]
"""
import argparse
import os
import sys
import tempfile
import threading
import time
import uuid

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests', 'guest'))
import guests  # noqa: E402
import network  # noqa: E402

URI = 'qemu:///system'


def boot(conn, name, net, log):
    dom = conn.defineXML(guests.tiny_guest_xml(name, log, network=net, agent=True))
    marks = {}
    started = [None]

    def on_agent(_conn, _dom, state, _reason, _opaque):
        if state == libvirt.VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED and 'agent' not in marks:
            marks['agent'] = time.monotonic() - started[0]
    callback = conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, on_agent, None)
    try:
        started[0] = time.monotonic()
        dom.create()
        deadline = started[0] + 300
        while time.monotonic() < deadline and len(marks) < 4:
            now = time.monotonic() - started[0]
            if 'ready' not in marks and guests.count_ready(log):
                marks['ready'] = now
            if 'lease' not in marks and guests.leases(log):
                marks['lease'] = now
                marks['uptime'] = guests.leases(log)[0][2]
            if 'libvirt' not in marks and dom.interfaceAddresses(libvirt.VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0):
                marks['libvirt'] = now
            time.sleep(0.1)
        return marks
    finally:
        conn.domainEventDeregisterAny(callback)
        dom.destroy()
        dom.undefine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3)
    args = parser.parse_args()
    guests.build()
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    libvirt.virEventRegisterDefaultImpl()
    loop = threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for dummy in iter(int, 1)])
    loop.daemon = True
    loop.start()
    conn = libvirt.open(URI)
    prefix = 'bench-lease-%s' % uuid.uuid4().hex[:6]
    work = tempfile.mkdtemp(prefix='domainops-lease-')
    network.create_isolated_network(conn, prefix + '-net')
    try:
        print('%-4s %7s %7s %13s %8s %7s' % ('run', 'ready', 'lease', '(guest uptime)', 'libvirt', 'agent'))
        for run in range(args.runs):
            log = os.path.join(work, 'serial-%d.log' % run)
            m = boot(conn, '%s-%d' % (prefix, run), prefix + '-net', log)
            print('%-4d %7.1f %7.1f %13.1f %8.1f %7.1f' % (run, m.get('ready', -1), m.get('lease', -1),
                                                           m.get('uptime', -1), m.get('libvirt', -1),
                                                           m.get('agent', -1)))
        print('load average: %s' % open('/proc/loadavg').read().split()[:3])
    finally:
        network.destroy_network(conn, prefix + '-net')
        conn.close()


if __name__ == '__main__':
    main()
