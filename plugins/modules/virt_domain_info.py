#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_domain_info
short_description: List libvirt domains with their state, resources, disks and interfaces
version_added: 0.1.0
description:
  - Without O(name) or O(uuid), returns every domain of the hypervisor, narrowed by libvirt's
    own listing filters (O(active), O(persistent), O(autostart), O(has_snapshot),
    O(has_managed_save), O(states)).
  - With O(name) or O(uuid), returns that one domain; RV(domains) is empty when it does not
    exist, which is not a failure.
  - Each interface comes with its IP addresses (RV(domains[].interfaces[].addresses)) while the
    domain runs, from the source O(address_source) names.
  - The number of libvirt calls does not grow with the number of domains, except one XML read
    per domain and one address query per source for each running domain with interfaces, made
    side by side.
  - Opens a read-only connection, except when O(xml_flags) contains V(secure) or O(address_source)
    is V(agent) or V(any) (libvirt refuses guest agent queries on a read-only connection).
  - The result has the same shape whatever the options, C(changed) (always V(false)) and
    RV(domains). It never has C(actions), as the module changes nothing.
author:
  - domainops.libvirt developers (@domainops)
extends_documentation_fragment:
  - domainops.libvirt.connection
  - domainops.libvirt.secrets
  - domainops.libvirt.connection.selector
  - domainops.libvirt.connection.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module never changes anything.
  diff_mode:
    support: N/A
    details: The module never changes anything.
  idempotent:
    support: full
    details: The module never changes anything.
options:
  active:
    description:
      - V(true) lists only running, paused and otherwise active domains; V(false) only inactive ones.
      - Not set lists both.
    type: bool
  persistent:
    description: V(true) lists only persistent (defined) domains; V(false) only transient ones.
    type: bool
  autostart:
    description: V(true) lists only domains that start with the host; V(false) only the others.
    type: bool
  has_snapshot:
    description: V(true) lists only domains with snapshots; V(false) only domains without.
    type: bool
  has_managed_save:
    description: V(true) lists only domains with a managed save image; V(false) only domains without.
    type: bool
  states:
    description:
      - List only domains in one of these states. V(other) is any state but running, paused
        and shut off (for example crashed or pmsuspended).
    type: list
    elements: str
    choices: [running, paused, shutoff, other]
  xml:
    description: Also return each domain's XML description in RV(domains[].xml).
    type: bool
    default: false
  snapshots:
    description:
      - Also return each domain's snapshots in RV(domains[].snapshots). Costs one listing per domain
        plus one read per snapshot, so it is off by default.
    type: bool
    default: false
  xml_flags:
    description:
      - How the XML is read, libvirt's C(VIR_DOMAIN_XML_*) flags.
      - V(inactive) gives the persistent definition instead of the running configuration,
        V(secure) includes secrets such as graphics passwords (needs a read-write connection),
        V(update_cpu) shows the CPU as the host provides it, V(migratable) the form used for migration.
      - Disks and interfaces in the result are read from the same XML.
      - Needs O(xml=true); flags without it are an error, not ignored.
    type: list
    elements: str
    choices: [inactive, secure, update_cpu, migratable]
    default: []
  address_source:
    description:
      - Where the IP addresses of a running domain's interfaces come from (libvirt's
        C(virDomainInterfaceAddresses) sources).
      - V(lease) - the DHCP leases of libvirt's own networks (C(<interface type='network'>));
        the host's record, no guest involvement.
      - V(agent) - the QEMU guest agent in the guest (a C(<channel>) named
        C(org.qemu.guest_agent.0) and an agent running in the guest); sees every address the
        guest has, also on bridged networks. Domains whose agent is not connected are skipped
        without asking (libvirt shows the channel's state in the live XML).
      - V(arp) - the host's ARP table (neighbours the host has heard from recently; IPv4 only).
      - V(any) - V(lease), then V(agent) for the interfaces still without an address, then V(arp).
      - V(none) - no addresses; every RV(domains[].interfaces[].addresses) is empty.
      - A source that fails for a domain gives it no addresses and a warning names the domain and
        libvirt's message; the listing goes on.
    type: str
    choices: [none, lease, agent, arp, any]
    default: lease
  address_include_local:
    description:
      - Also return loopback (V(127.0.0.0/8), V(::1)) and link-local (V(169.254.0.0/16),
        V(fe80::/10)) addresses, which are left out by default since no other host can reach
        the guest at them.
    type: bool
    default: false
notes:
  - Filters cannot be combined with O(name) or O(uuid).
  - Addresses are matched to interfaces by MAC address. Addresses the guest agent reports for
    guest-side interfaces whose MAC is not one of the domain's interfaces (loopback, tunnels)
    are not returned.
seealso:
  - module: domainops.libvirt.virt_domain_state
  - name: libvirt domain XML format
    description: What each element of the returned XML means.
    link: https://libvirt.org/formatdomain.html
'''

EXAMPLES = r'''
- name: Every domain on the hypervisor
  domainops.libvirt.virt_domain_info:
  register: all_domains

- name: Running domains that start with the host, on a remote hypervisor
  domainops.libvirt.virt_domain_info:
    uri: qemu+ssh://root@hv1.example.com/system
    states: [running]
    autostart: true

- name: One domain by UUID, with its persistent XML
  domainops.libvirt.virt_domain_info:
    uuid: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    xml: true
    xml_flags: [inactive]
  register: web1

- name: The addresses of a guest, from the DHCP leases or else its guest agent
  domainops.libvirt.virt_domain_info:
    name: web1
    address_source: any
  register: web1_info

- name: Its first IPv4 address
  ansible.builtin.debug:
    msg: "{{ web1_info.domains[0].interfaces | map(attribute='addresses') | flatten
             | selectattr('family', 'equalto', 'ipv4') | map(attribute='address') | first }}"

- name: Names of shut-off domains
  ansible.builtin.debug:
    msg: "{{ all_domains.domains | selectattr('state', 'equalto', 'shutoff') | map(attribute='name') | list }}"
'''

RETURN = r'''
domains:
  description: The domains found, in libvirt's order. Empty when O(name) or O(uuid) matches none.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Domain name.
      type: str
      sample: web1
    uuid:
      description: Domain UUID, lower-case with dashes.
      type: str
      sample: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    id:
      description: The hypervisor's ID of a running domain; V(null) when inactive.
      type: int
      sample: 7
    state:
      description: One of V(nostate), V(running), V(blocked), V(paused), V(shutdown) (in progress), V(shutoff), V(crashed), V(pmsuspended).
      type: str
      sample: running
    state_reason:
      description: Why the domain is in that state, libvirt's reason in lower case (for example V(booted), V(user), V(destroyed), V(shutdown)).
      type: str
      sample: booted
    persistent:
      description: Whether the domain has a persistent definition (V(false) for a transient domain).
      type: bool
      sample: true
    autostart:
      description: Whether the domain starts with the host.
      type: bool
      sample: false
    vcpus:
      description: Number of virtual CPUs currently in use (configured count when inactive).
      type: int
      sample: 2
    memory_kib:
      description: Current memory in KiB (balloon size when running).
      type: int
      sample: 1048576
    max_memory_kib:
      description: Configured memory in KiB.
      type: int
      sample: 1048576
    cpu_time_ns:
      description: CPU time used in nanoseconds; V(null) when inactive.
      type: int
      sample: 5413000000
    disks:
      description: The domain's disks.
      type: list
      elements: dict
      sample:
        - {target: vda, bus: virtio, device: disk, type: file, source: /var/lib/libvirt/images/web1.qcow2, format: qcow2}
        - {target: sda, bus: sata, device: cdrom, type: file, source: null, format: raw}
    interfaces:
      description: The domain's network interfaces, in the order of its XML.
      type: list
      elements: dict
      contains:
        mac:
          description: MAC address.
          type: str
          sample: '52:54:00:6b:3c:58'
        type:
          description: Interface type (V(network), V(bridge), V(user), ...).
          type: str
          sample: network
        source:
          description: The network, bridge, device or address in its C(<source>); null when it has none.
          type: str
          sample: default
        model:
          description: Device model; null when not set.
          type: str
          sample: virtio
        addresses:
          description:
            - The interface's IP addresses from O(address_source); empty while the domain is not
              running or when no source knows one.
            - Each a dict with C(address), C(prefix) (length), C(family) (V(ipv4) or V(ipv6)) and
              C(source) (V(lease), V(agent) or V(arp)).
          type: list
          elements: dict
          sample:
            - {address: 192.168.122.52, prefix: 24, family: ipv4, source: lease}
    applied_record:
      description:
        - Whether the persistent definition carries the applied record of M(domainops.libvirt.virt_domain_state)
          (the shape of the XML it applied last), so that parts removed from that XML are removed on
          the next apply. False for a domain that virt_domain_state never defined (virsh, virt-install).
      type: bool
      sample: true
    xml:
      description: The domain XML, read with O(xml_flags).
      returned: when O(xml=true)
      type: str
      sample: "<domain type='kvm'>...</domain>"
    snapshots:
      description:
        - The domain's snapshots, oldest first, as M(domainops.libvirt.virt_domain_snapshot) returns
          one (name, parent, kind, state, memory, description, creation_time, current, disks).
      returned: when O(snapshots=true)
      type: list
      elements: dict
      sample: [{"name": "before-upgrade", "parent": null, "kind": "internal", "state": "running",
                "memory": true, "description": null, "creation_time": 1717171717, "current": true,
                "disks": [{"name": "vda", "snapshot": "internal", "file": null}]}]
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.addresses import SOURCE_CHOICES, needs_read_write
from ansible_collections.domainops.libvirt.plugins.module_utils.info import STATE_FILTERS, XML_FLAGS, gather, validate_filters
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError
from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule, SECRET_PATHS_ARGUMENT_SPEC


def list_domains(task):
    validate_filters(task.params)
    if task.params['xml_flags'] and not task.params['xml']:
        raise InputError('xml_flags (%s) only say how the returned XML is read: give xml: true with them'
                         % ', '.join(task.params['xml_flags']))
    return dict(changed=False, domains=gather(task))


def main():
    module = LibvirtModule(
        argument_spec=dict(
            secret_paths=SECRET_PATHS_ARGUMENT_SPEC['secret_paths'],
            active=dict(type='bool'),
            persistent=dict(type='bool'),
            autostart=dict(type='bool'),
            has_snapshot=dict(type='bool'),
            has_managed_save=dict(type='bool'),
            states=dict(type='list', elements='str', choices=sorted(STATE_FILTERS)),
            xml=dict(type='bool', default=False),
            snapshots=dict(type='bool', default=False),
            xml_flags=dict(type='list', elements='str', choices=sorted(XML_FLAGS), default=[]),
            address_source=dict(type='str', choices=list(SOURCE_CHOICES), default='lease'),
            address_include_local=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    readonly = 'secure' not in module.params['xml_flags'] and not needs_read_write(module.params['address_source'])
    module.run(list_domains, readonly=readonly, changes=False)


if __name__ == '__main__':
    main()
