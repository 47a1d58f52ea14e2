#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_network_info
short_description: List libvirt virtual networks with their state, bridge and DHCP leases
version_added: 0.1.0
description:
  - Returns every virtual network of the hypervisor, or the one called O(name) (RV(networks) is
    empty when it does not exist, which is not a failure).
  - One module for networks and one for pools (M(domainops.libvirt.virt_pool_info), which lists each
    pool's volumes too), rather than one combined listing, as networks and pools are separate objects in
    libvirt with nothing in common to filter on; each module's options and results are then those of its
    kind alone (leases here, sizes there), and a task that asks about networks never reads every pool and
    volume. Volumes have no module of their own because libvirt knows a volume only inside its pool.
  - Opens a read-only connection.
options:
  name:
    description: Only the network with this name.
    type: str
  xml:
    description: Also return each network's XML.
    type: bool
    default: false
author:
  - domainops.libvirt developers (@domainops)
extends_documentation_fragment:
  - domainops.libvirt.connection
  - domainops.libvirt.secrets
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
seealso:
  - module: domainops.libvirt.virt_network
'''

EXAMPLES = r'''
- name: The DHCP leases of the lab network
  domainops.libvirt.virt_network_info:
    name: lab
  register: lab

- name: Show them
  ansible.builtin.debug:
    msg: "{{ lab.networks[0].leases | map(attribute='ip') | list }}"
'''

RETURN = r'''
networks:
  description: The networks, sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Name of the network.
      type: str
      sample: lab
    uuid:
      description: Its UUID.
      type: str
      sample: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    active:
      description: Whether it runs.
      type: bool
      sample: true
    persistent:
      description: Whether it has a persistent definition.
      type: bool
      sample: true
    autostart:
      description: Whether it starts with the host.
      type: bool
      sample: false
    bridge:
      description: Its bridge device.
      type: str
      sample: virbr1
    forward:
      description: Its forward mode, V(null) for an isolated network.
      type: str
      sample: nat
    applied_record:
      description: Whether its definition carries an applied record of M(domainops.libvirt.virt_network).
      type: bool
      sample: true
    leases:
      description: The DHCP leases of a running network (C(mac), C(ip), C(hostname), C(expires) as a Unix time).
      type: list
      elements: dict
      sample: [{"mac": "52:54:00:77:00:10", "ip": "10.77.0.10", "hostname": "web01", "expires": 1796230000}]
    xml:
      description: Its XML.
      type: str
      returned: when O(xml=true)
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule, SECRET_PATHS_ARGUMENT_SPEC
from ansible_collections.domainops.libvirt.plugins.module_utils.resource_info import list_networks


def main():
    module = LibvirtModule(
        argument_spec=dict(
            secret_paths=SECRET_PATHS_ARGUMENT_SPEC['secret_paths'],
            name=dict(type='str'),
            xml=dict(type='bool', default=False),
        ),
        with_selector=False,
        supports_check_mode=True,
    )
    module.run(list_networks, readonly=True)


if __name__ == '__main__':
    main()
