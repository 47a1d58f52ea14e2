# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the IP addresses of a running domain's interfaces,
# from libvirt's three sources (virDomainInterfaceAddresses): the DHCP leases of
# libvirt's networks, the QEMU guest agent, and the host's ARP table. Shared by
# virt_domain_info, virt_domain_state (waiting for an address) and the inventory
# plugin. Not a public API.

from __future__ import annotations

import ipaddress
import threading
import time

try:
    import libvirt
except ImportError:  # reported by LibvirtModule (or the inventory plugin)
    libvirt = None

# address_source values; 'any' tries the sources in this order, each only for the
# interfaces the ones before left without an address: leases are the host's own
# record and cost nothing in the guest, the agent sees every guest-side address
# (bridged networks too), ARP only what the host has heard recently.
SOURCES = ('lease', 'agent', 'arp')
SOURCE_CHOICES = ('none',) + SOURCES + ('any',)
FAMILIES = ('any', 'ipv4', 'ipv6')
AGENT_CHANNEL = 'org.qemu.guest_agent.0'

_SOURCE_FLAGS = dict(
    lease='VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE',
    agent='VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT',
    arp='VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_ARP',
)
# Threads for the per-domain queries of a listing: an agent query can block for
# seconds in a guest whose agent hangs, so many run side by side.
_QUERY_THREADS = 16


def sources_for(source):
    """The sources `source` (an address_source value) tries, in order."""
    if source in (None, 'none'):
        return ()
    return SOURCES if source == 'any' else (source,)


def needs_read_write(source):
    """libvirt refuses agent queries on a read-only connection."""
    return 'agent' in sources_for(source)


def agent_connected(root):
    """Whether the domain XML (lxml root) shows the guest agent connected: True, False or None.

    The qemu driver keeps the channel's state in the live XML; without an agent
    connected a query would only fail, so the agent source skips such domains. None
    (unknown: a channel without a state, as in an inactive XML or other drivers) lets
    libvirt answer. No channel at all is False.
    """
    for target in root.iterfind('devices/channel/target'):
        if target.get('name') == AGENT_CHANNEL:
            state = target.get('state')
            return None if state is None else state == 'connected'
    return False


def interface_macs(root):
    """MAC addresses of the domain's interfaces, lower case, in XML order."""
    macs = []
    for mac in root.iterfind('devices/interface/mac'):
        if mac.get('address'):
            macs.append(mac.get('address').lower())
    return macs


def is_local(address):
    """Loopback or link-local: not an address another host can reach the guest at."""
    ip = ipaddress.ip_address(address.split('%')[0])
    return ip.is_loopback or ip.is_link_local


def _family(kind):
    return 'ipv6' if kind == getattr(libvirt, 'VIR_IP_ADDR_TYPE_IPV6', 1) else 'ipv4'


def query_source(dom, source, include_local=False):
    """{mac: [address dict]} from one source; raises libvirt.libvirtError when it fails.

    An address dict has address, prefix, family (ipv4/ipv6) and source. Interfaces
    without a MAC (the guest's loopback as the agent reports it) are left out.
    """
    found = {}
    reported = dom.interfaceAddresses(getattr(libvirt, _SOURCE_FLAGS[source]), 0) or {}
    for data in reported.values():
        mac = (data.get('hwaddr') or '').lower()
        if not mac or mac == '00:00:00:00:00:00':
            continue
        for addr in data.get('addrs') or []:
            text = addr.get('addr')
            if not text or (not include_local and is_local(text)):
                continue
            found.setdefault(mac, []).append(dict(address=text, prefix=addr.get('prefix'),
                                                  family=_family(addr.get('type')), source=source))
    return found


def error_text(err):
    return (err.get_error_message() or str(err)).strip().replace('\n', ' ')


def domain_addresses(dom, root, source, include_local=False):
    """Addresses of one running domain's interfaces: ({mac: [address dict]}, notes).

    `root` is the domain's live XML (lxml). Each source is asked only for the
    interfaces the sources before it left without an address. `notes` says, per
    source, what happened when it gave nothing: 'error: ...' (libvirt's message) or
    'skipped: ...' (the agent is not connected); a source that answered is not noted.
    """
    macs = interface_macs(root)
    found, notes = {}, {}
    for src in sources_for(source):
        missing = [mac for mac in macs if mac not in found]
        if not missing:
            break
        if src == 'agent' and agent_connected(root) is False:
            notes[src] = 'skipped: the guest agent is not connected'
            continue
        try:
            answer = query_source(dom, src, include_local)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise
            notes[src] = 'error: %s' % error_text(err)
            continue
        for mac in missing:
            if answer.get(mac):
                found[mac] = answer[mac]
    return found, notes


def attach(interfaces, macs, found):
    """Set 'addresses' on each interface entry (info's dicts, in XML order) from `found`."""
    for entry, mac in zip(interfaces, macs):
        entry['addresses'] = found.get(mac, []) if mac else []


def query_many(jobs, source, include_local=False, timeout=None):
    """domain_addresses for many domains side by side: {key: (found, notes)}.

    `jobs` is a list of (key, dom, root). With `timeout` (seconds), domains whose
    queries have not answered by then get ({}, {'timeout': ...}) and the listing goes
    on: the queries run on daemon threads, which are left to finish (or to block in a
    hung agent) on their own.
    """
    results = {}
    if not jobs:
        return results
    pending = list(jobs)
    lock = threading.Lock()
    done = threading.Condition(lock)

    def worker():
        while True:
            with lock:
                if not pending:
                    return
                key, dom, root = pending.pop(0)
            try:
                answer = domain_addresses(dom, root, source, include_local)
            except libvirt.libvirtError as err:  # the domain vanished or stopped meanwhile
                answer = ({}, dict(error='error: %s' % error_text(err)))
            with lock:
                results[key] = answer
                done.notify_all()

    for dummy in range(min(_QUERY_THREADS, len(jobs))):
        thread = threading.Thread(target=worker, name='libvirt-addresses')
        thread.daemon = True
        thread.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    with lock:
        while len(results) < len(jobs):
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            done.wait(left)
        answered = dict(results)
        del pending[:]  # queued ones are not started any more
    for key, _dom, _root in jobs:
        if key not in answered:
            answered[key] = ({}, dict(timeout='no answer within %.1f s' % timeout))
    return answered


def first_address(interfaces, family='any', interface=None, networks=None):
    """The first address (dict) of the interface entries that the rule accepts, or None.

    `interface` names the interfaces that count (one name or a list): a MAC, or the
    network/bridge/device of an interface's source. `networks` (ipaddress networks),
    when given, is where the address must be.
    """
    for entry in select_interfaces(interfaces, interface):
        for addr in entry.get('addresses') or []:
            if family not in (None, 'any') and addr['family'] != family:
                continue
            if networks and not any(ipaddress.ip_address(addr['address'].split('%')[0]) in net
                                    for net in networks):
                continue
            return addr
    return None


def select_interfaces(interfaces, interface=None):
    """The entries `interface` (a name, a list of names, or None for all) names, in their order."""
    if not interface:
        return list(interfaces)
    names = [interface] if isinstance(interface, str) else list(interface)
    wanted = set(name.lower() for name in names)
    return [entry for entry in interfaces
            if (entry.get('mac') or '').lower() in wanted or (entry.get('source') or '').lower() in wanted]
