# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: libvirt
short_description: libvirt domains of one or several hypervisors as inventory hosts
version_added: 0.1.0
description:
  - Makes every libvirt domain (virtual machine) of the hypervisors listed in O(uris) an inventory
    host, with its state, resources, disks, interfaces and addresses as host variables
    (C(libvirt_*)), and C(ansible_host) set from its IP address when one is known.
  - The hypervisors are read side by side, one thread each. Per hypervisor, the number of libvirt
    calls does not grow with the number of domains (a listing, one bulk statistics call), except one
    XML read per domain, made side by side, and, with O(address_source), one address query per
    running domain with interfaces, made side by side within O(address_timeout).
  - A hypervisor that cannot be reached (or does not answer within O(timeout)) is a warning and the
    others are still listed. With O(strict=true) it is an error, so the whole inventory source
    fails (Ansible then warns and lists none of its hosts, or fails the command when
    C(inventory_any_unparsed_is_failed) is set).
  - The inventory file is a YAML file whose name ends in C(.yml) or C(.yaml) and whose O(plugin)
    is V(domainops.libvirt.libvirt).
  - Needs C(libvirt-python) and C(lxml) on the controller (where the inventory is read).
author:
  - domainops.libvirt developers (@domainops)
requirements:
  - libvirt-python
  - lxml
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: Marks the file as an inventory source for this plugin.
    required: true
    type: str
    choices: [domainops.libvirt.libvirt]
  uris:
    description:
      - libvirt connection URIs of the hypervisors, for example V(qemu:///system) or
        V(qemu+ssh://root@hv1.example.com/system). Each is read in a thread of its own.
      - Remote URIs authenticate as libvirt does by itself (SSH keys, Kerberos, TLS certificates);
        the inventory answers no password prompt.
    type: list
    elements: str
    default: [qemu:///system]
  inventory_hostname:
    description:
      - What names the hosts - the domain's V(name), or its V(uuid).
      - With V(name), a domain whose name another hypervisor of O(uris) already gave to a host is
        named by its UUID instead, with a warning (hosts of the same name would be merged).
    type: str
    choices: [name, uuid]
    default: name
  states:
    description:
      - List only domains in these states (libvirt's own listing filter). V(other) is any state
        but running, paused and shut off (crashed, pmsuspended, ...).
      - Not set lists every domain.
    type: list
    elements: str
    choices: [running, paused, shutoff, other]
  name_patterns:
    description:
      - List only domains whose name matches one of these shell-style patterns (V(web-*),
        V(db-[0-9]*)), case-sensitive.
      - Not set lists every domain.
    type: list
    elements: str
  address_source:
    description:
      - Where the IP addresses of running domains come from, as in
        M(domainops.libvirt.virt_domain_info) - V(lease) (the DHCP leases of libvirt's networks,
        no guest involvement), V(agent) (the QEMU guest agent), V(arp) (the host's ARP table),
        V(any) (lease, then agent, then ARP for the interfaces still without an address), or
        V(none).
      - The guest agent is asked only with V(agent) or V(any), only for domains whose agent libvirt
        shows connected, all at once, within O(address_timeout). Agent queries need a read-write
        connection, which is then opened instead of a read-only one.
    type: str
    choices: [none, lease, agent, arp, any]
    default: lease
  address_timeout:
    description:
      - Seconds the address queries of one hypervisor may take together. A domain whose queries
        have not answered by then (a guest agent that hangs) gets no addresses and is listed
        anyway; the listing is never held up longer than this.
    type: float
    default: 2.0
  address_include_local:
    description: Also list loopback and link-local addresses (left out by default).
    type: bool
    default: false
  ansible_host_family:
    description:
      - Which address becomes C(ansible_host) - the first one (interfaces in the order of the
        domain XML, addresses in the order the source gives them) of this family that also matches
        O(ansible_host_interfaces) and O(ansible_host_networks).
      - A host without such an address gets no C(ansible_host) (Ansible then uses its name).
        C(compose) can set C(ansible_host) differently; it is applied afterwards.
    type: str
    choices: [any, ipv4, ipv6]
    default: any
  ansible_host_interfaces:
    description:
      - Only addresses of these interfaces may become C(ansible_host) - each one a MAC address, or
        the network, bridge or device of an interface's C(<source>). Not set, any interface.
    type: list
    elements: str
  ansible_host_networks:
    description:
      - Only addresses in one of these networks (CIDR, for example V(192.168.122.0/24) or
        V(2001:db8::/32)) may become C(ansible_host). Not set, any address.
    type: list
    elements: str
  metadata_namespace:
    description:
      - The namespace URI of a C(<metadata>) element of the domain XML to return as
        C(libvirt_metadata) (the element as XML text, null when the domain has none), for example
        what C(virsh metadata --uri) sets.
    type: str
  timeout:
    description:
      - Seconds the reading of one hypervisor may take in all (connecting included). One that has
        not answered by then is reported like an unreachable one.
    type: float
    default: 60
notes:
  - Host variables of each domain - C(libvirt_name), C(libvirt_uuid), C(libvirt_uri) (the URI from
    O(uris)), C(libvirt_state), C(libvirt_state_reason), C(libvirt_persistent), C(libvirt_autostart),
    C(libvirt_vcpus), C(libvirt_memory_kib), C(libvirt_max_memory_kib), C(libvirt_disks),
    C(libvirt_interfaces) (each with C(addresses), a list of dicts with C(address), C(prefix), C(family)
    and C(source)), C(libvirt_title), C(libvirt_description), C(libvirt_metadata) (with
    O(metadata_namespace)), and C(ansible_host) when an address matches the O(ansible_host_family)
    rule. The dicts are those of M(domainops.libvirt.virt_domain_info).
  - A domain reached through several URIs of O(uris) (the same UUID - one hypervisor reached several
    ways, or a definition kept on several hosts for fail-over) is one host - the copy that is not shut
    off, else the one of the first URI.
  - With O(cache=true), a cache hit makes no libvirt call at all; the hosts, variables and groups are
    built from the cached listing (C(compose), C(groups) and C(keyed_groups) are evaluated again).
    A listing in which a hypervisor failed is not cached.
seealso:
  - module: domainops.libvirt.virt_domain_info
  - module: domainops.libvirt.virt_domain_state
'''

EXAMPLES = r'''
# hypervisors.libvirt.yml: the guests of the local hypervisor, reachable at their DHCP lease address
plugin: domainops.libvirt.libvirt
uris:
  - qemu:///system

# Several hypervisors, running guests only, grouped by state and by hypervisor, with the
# guest agent asked too (time-bounded), IPv4 addresses of the 10.0.0.0/8 network for ansible_host
plugin: domainops.libvirt.libvirt
uris:
  - qemu+ssh://root@hv1.example.com/system
  - qemu+ssh://root@hv2.example.com/system
states: [running]
address_source: any
address_timeout: 3
ansible_host_family: ipv4
ansible_host_networks: [10.0.0.0/8]
keyed_groups:
  - key: libvirt_state
    prefix: state
  - key: libvirt_uri | regex_replace('^.*://(?:[^@/]*@)?([^/:]*).*$', '\\1')
    prefix: hv
groups:
  big: libvirt_memory_kib >= 8388608

# Hosts named by UUID, a role from the domain's own metadata, cached for an hour
plugin: domainops.libvirt.libvirt
inventory_hostname: uuid
name_patterns: ['web-*', 'db-*']
metadata_namespace: https://example.com/ns/inventory
compose:
  role: libvirt_metadata | regex_search('role="([^"]*)"', '\\1') | first
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: /var/cache/ansible/libvirt-inventory
cache_timeout: 3600
'''

import fnmatch
import ipaddress
import threading
import time

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

# Host variables come from virt_domain_info's entry under these names (id and
# cpu_time_ns change all the time and are left out).
_ENTRY_VARS = ('name', 'uuid', 'state', 'state_reason', 'persistent', 'autostart', 'vcpus', 'memory_kib',
               'max_memory_kib', 'disks', 'interfaces')
_VAR_PREFIX = 'libvirt_'


def read_hypervisor(uri, options):
    """{'uri', 'hosts': [record], 'error'} of one hypervisor (runs in a thread of its own)."""
    # Imported here: a cache hit, and `ansible-doc`, need no libvirt at all.
    from ansible_collections.domainops.libvirt.plugins.module_utils import addresses, info
    from ansible_collections.domainops.libvirt.plugins.module_utils.connection import (
        close_connection, describe_libvirt_error, open_connection)
    from ansible_collections.domainops.libvirt.plugins.module_utils.errors import DomainOpsError
    import libvirt

    conn = None
    try:
        conn = open_connection(dict(uri=uri), readonly=not addresses.needs_read_write(options['address_source']))
        domains = conn.listAllDomains(info.list_filter_flags(dict(states=options['states'])))
        patterns = options['name_patterns']
        if patterns:
            domains = [dom for dom in domains if any(fnmatch.fnmatchcase(dom.name(), p) for p in patterns)]
        described = info.describe_domains(conn, domains)
        notes = info.add_addresses(described, options['address_source'], options['address_include_local'],
                                   timeout=options['address_timeout'])
        failed = [(entry['name'], notes[entry['uuid']]) for _dom, entry, _root in described
                  if any(not note.startswith('skipped') for note in notes.get(entry['uuid'], {}).values())]
        hosts = []
        for _dom, entry, root in described:
            record = dict((key, entry[key]) for key in _ENTRY_VARS)
            record['title'] = root.findtext('title')
            record['description'] = root.findtext('description')
            if options['metadata_namespace']:
                record['metadata'] = _metadata(root, options['metadata_namespace'])
            hosts.append(record)
        note = None
        if failed:
            note = 'no addresses for %d running domain(s) of %s: %s' % (len(failed), uri, info.failed_summary(failed))
        return dict(uri=uri, hosts=hosts, error=None, note=note)
    except DomainOpsError as err:
        return dict(uri=uri, hosts=[], error=err.msg, note=None)
    except libvirt.libvirtError as err:
        return dict(uri=uri, hosts=[], error='libvirt failed on %s: %s' % (uri, describe_libvirt_error(err)),
                    note=None)
    finally:
        close_connection(conn)


def _metadata(root, namespace):
    from lxml import etree
    metadata = root.find('metadata')
    if metadata is None:
        return None
    for child in metadata:
        if isinstance(child.tag, str) and child.tag.startswith('{%s}' % namespace):
            return etree.tostring(child, encoding='unicode', with_tail=False)
    return None


def read_hypervisors(uris, options, timeout):
    """read_hypervisor for every URI side by side, in the order of `uris`.

    Daemon threads: a hypervisor that does not answer within `timeout` is reported
    as failed and left behind (its thread ends with the process).
    """
    results = {}
    lock = threading.Condition()

    def work(uri):
        answer = read_hypervisor(uri, options)
        with lock:
            results[uri] = answer
            lock.notify_all()

    for uri in uris:
        thread = threading.Thread(target=work, args=(uri,), name='libvirt-inventory')
        thread.daemon = True
        thread.start()
    deadline = time.monotonic() + timeout
    with lock:
        while len(results) < len(uris) and time.monotonic() < deadline:
            lock.wait(deadline - time.monotonic())
        answered = dict(results)
    return [answered.get(uri) or dict(uri=uri, hosts=[], error='no answer from %s within %s s' % (uri, timeout),
                                      note=None)
            for uri in uris]


def _one_per_uuid(listings):
    """(uri, record) pairs, one per domain UUID, in the order of the URIs.

    The same domain reached through several URIs (one daemon reached several ways, or a
    definition kept on several hosts for fail-over) is one host: the copy that runs
    wins, else the one of the first URI.
    """
    chosen, order = {}, []
    for listing in listings:
        for record in listing['hosts']:
            uuid = record['uuid']
            if uuid not in chosen:
                order.append(uuid)
            elif chosen[uuid][1]['state'] != 'shutoff' or record['state'] == 'shutoff':
                continue
            chosen[uuid] = (listing['uri'], record)
    return [chosen[uuid] for uuid in order]


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = 'domainops.libvirt.libvirt'

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and path.endswith(('.yml', '.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache=cache)
        self._read_config_data(path)
        networks = self._networks()

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache') and cache
        update_cache = self.get_option('cache') and not cache
        listings = None
        if use_cache:
            try:
                listings = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if listings is None:
            listings = self._read()
            if update_cache and not any(listing['error'] for listing in listings):
                self._cache[cache_key] = listings
        for listing in listings:
            if listing['error']:
                if self.get_option('strict'):
                    raise AnsibleError('libvirt inventory: %s' % listing['error'])
                self.display.warning('libvirt inventory: %s; its domains are not listed' % listing['error'])
            elif listing.get('note'):
                self.display.warning('libvirt inventory: %s' % listing['note'])
        self._populate(listings, networks)

    def _networks(self):
        try:
            return [ipaddress.ip_network(text, strict=False) for text in self.get_option('ansible_host_networks') or []]
        except ValueError as err:
            raise AnsibleParserError('ansible_host_networks: %s' % err)

    def _read(self):
        try:
            import libvirt  # noqa: F401  (only whether it is there)
            import lxml  # noqa: F401
        except ImportError as err:
            raise AnsibleError('the domainops.libvirt.libvirt inventory needs libvirt-python and lxml on the '
                               'controller: %s' % err)
        uris = self.get_option('uris')
        if not uris:
            raise AnsibleParserError('uris is empty: name at least one libvirt URI')
        options = dict((name, self.get_option(name)) for name in (
            'states', 'name_patterns', 'address_source', 'address_timeout', 'address_include_local',
            'metadata_namespace'))
        return read_hypervisors(list(dict.fromkeys(uris)), options, self.get_option('timeout'))

    def _populate(self, listings, networks):
        from ansible_collections.domainops.libvirt.plugins.module_utils.addresses import first_address
        by_uuid = self.get_option('inventory_hostname') == 'uuid'
        family = self.get_option('ansible_host_family')
        allowed = self.get_option('ansible_host_interfaces')
        compose, groups, keyed = (self.get_option('compose'), self.get_option('groups'),
                                  self.get_option('keyed_groups'))
        strict = self.get_option('strict')
        taken = {}
        for uri, record in _one_per_uuid(listings):
            name = record['uuid'] if by_uuid else record['name']
            if name in taken:
                self.display.warning("libvirt inventory: domain '%s' of %s has the name of a domain of %s; "
                                     "listed as %s" % (name, uri, taken[name], record['uuid']))
                name = record['uuid']
            taken[name] = uri
            self.inventory.add_host(name)
            variables = dict((_VAR_PREFIX + key, value) for key, value in record.items())
            variables[_VAR_PREFIX + 'uri'] = uri
            address = first_address(record['interfaces'], family, allowed, networks)
            if address is not None:
                variables['ansible_host'] = address['address']
            for key, value in variables.items():
                self.inventory.set_variable(name, key, value)
            if compose:
                self._set_composite_vars(compose, variables, name, strict=strict)
            if groups:
                self._add_host_to_composed_groups(groups, variables, name, strict=strict)
            if keyed:
                self._add_host_to_keyed_groups(keyed, variables, name, strict=strict)
