"""Isolated libvirt networks with DHCP, for tests whose guest needs an address.

An isolated network has no ``<forward>``: libvirt makes a bridge with an address on
this machine and runs dnsmasq (Debian ``dnsmasq-base``) for DHCP on it, and nothing a
guest sends is routed anywhere else. Each test makes its own *transient* network
(``networkCreateXML``: gone once destroyed, never left defined), with a random name and
a random /24 out of 192.168.128.0-192.168.254.0; a range already used on this machine
(another test's network) makes libvirt refuse it, and another one is tried.

    from network import create_isolated_network, destroy_network
    net = create_isolated_network(conn, 'domainops-test-net-1a2b')   # dict: name, bridge, subnet, gateway
    ...
    destroy_network(conn, net['name'])

Command line (playbooks):  python3 tests/guest/network.py create NAME  |  destroy NAME
(``create`` prints the dict as JSON).
"""

from __future__ import annotations

import json
import random
import sys

import libvirt

NETWORK_XML = """<network>
  <name>{name}</name>
  <ip address='192.168.{octet}.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.{octet}.10' end='192.168.{octet}.250'/></dhcp>
  </ip>
</network>"""

__all__ = ['create_isolated_network', 'destroy_network', 'NETWORK_XML']


def create_isolated_network(conn, name: str, attempts: int = 20) -> dict:
    """Start a transient isolated network with DHCP; returns name, bridge, subnet and gateway."""
    octets = random.sample(range(128, 255), attempts)
    last = None
    for octet in octets:
        try:
            net = conn.networkCreateXML(NETWORK_XML.format(name=name, octet=octet))
        except libvirt.libvirtError as err:
            # "Network is already in use by interface ...": that /24 is taken here.
            if 'already in use' not in str(err):
                raise
            last = err
            continue
        return dict(name=name, bridge=net.bridgeName(), subnet='192.168.%d.0/24' % octet,
                    gateway='192.168.%d.1' % octet)
    raise RuntimeError('no free /24 for network %s after %d attempts: %s' % (name, attempts, last))


def destroy_network(conn, name: str) -> None:
    """Stop (and so remove) the transient network `name`; nothing if it is not there."""
    try:
        net = conn.networkLookupByName(name)
    except libvirt.libvirtError:
        return
    try:
        net.destroy()
    except libvirt.libvirtError:
        pass
    try:
        net.undefine()  # only if someone made it persistent meanwhile
    except libvirt.libvirtError:
        pass


def _main(argv: list) -> int:
    if len(argv) != 2 or argv[0] not in ('create', 'destroy'):
        print('usage: network.py create NAME | destroy NAME', file=sys.stderr)
        return 2
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    conn = libvirt.open('qemu:///system')
    try:
        if argv[0] == 'create':
            print(json.dumps(create_isolated_network(conn, argv[1])))
        else:
            destroy_network(conn, argv[1])
    finally:
        conn.close()
    return 0


if __name__ == '__main__':
    sys.exit(_main(sys.argv[1:]))
