#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_network
short_description: Define, start, stop and remove a libvirt virtual network; change it in place
version_added: 0.1.0
description:
  - Defines a libvirt virtual network from XML and brings it to O(state). The XML is compared with
    the stored definition first, with the same engine as M(domainops.libvirt.virt_domain_state);
    only what the XML says is compared, libvirt's additions (UUID, MAC, bridge name) are kept, and a
    second run with the same XML changes nothing.
  - Every define stores the shape of the applied XML (names, never values) in the network's
    C(<metadata>) as the applied record; what a later XML no longer has (a DHCP host, a DNS entry,
    an attribute) is removed.
  - On a running network, changes to DHCP hosts and ranges, DNS hosts, TXT and SRV records, port
    groups and forward interfaces are made in place with C(virNetworkUpdate) on the live network and
    its definition together; the network keeps running and its guests keep their connectivity.
  - Any other change of a running network is stored in the definition and takes effect when the
    network restarts. The network is restarted only with O(restart=true); otherwise the result has
    RV(restart_required=true) and RV(live_differences).
options:
  name:
    description:
      - Name of the network. Required unless O(xml) is given; when both are given they must agree.
    type: str
  xml:
    description:
      - The network XML (a C(<network>) document) to define. Only what it says is managed.
      - Without it, the network must exist and only O(state) and O(autostart) are applied.
    type: str
  state:
    description:
      - V(present) defines the network (when O(xml) is given) and leaves it running or not.
      - V(running) also starts it; V(stopped) stops it (a transient network is then gone).
      - V(absent) stops and undefines it.
    type: str
    choices: [present, running, stopped, absent]
    default: present
  autostart:
    description:
      - Whether libvirt starts the network when the host starts. Not changed when omitted.
    type: bool
  restart:
    description:
      - When a running network's change cannot be made in place, restart the network (stop and start)
        so the change takes effect now. Guests attached to it lose connectivity for a moment and
        libvirt reattaches their interfaces only on its own restart, so the default is not to.
    type: bool
    default: false
seealso:
  - module: domainops.libvirt.virt_pool
  - module: domainops.libvirt.virt_domain_state
  - name: libvirt network XML format
    description: The elements a network definition can hold.
    link: https://libvirt.org/formatnetwork.html
author:
  - domainops.libvirt developers (@domainops)
extends_documentation_fragment:
  - domainops.libvirt.connection
  - domainops.libvirt.secrets
  - domainops.libvirt.connection.attributes
attributes:
  check_mode:
    description: Can run in check mode and report what it would do without doing it.
    support: full
  diff_mode:
    description: Returns what changed (or would change in check mode) for C(--diff).
    support: full
    details: The diff shows the state and the stored network XML before and after.
  idempotent:
    support: full
'''

EXAMPLES = r'''
- name: An isolated network with DHCP, running and started with the host
  domainops.libvirt.virt_network:
    state: running
    autostart: true
    xml: |
      <network>
        <name>lab</name>
        <bridge name='virbr-lab'/>
        <ip address='10.77.0.1' netmask='255.255.255.0'>
          <dhcp>
            <range start='10.77.0.100' end='10.77.0.199'/>
            <host mac='52:54:00:77:00:10' name='web01' ip='10.77.0.10'/>
          </dhcp>
        </ip>
      </network>

- name: Remove the network
  domainops.libvirt.virt_network:
    name: lab
    state: absent
'''

RETURN = r'''
network:
  description: The network after the task (in check mode, as the task would leave it).
  returned: success
  type: dict
  contains:
    name:
      description: Name of the network.
      type: str
      sample: lab
    uuid:
      description: UUID of the network, V(null) when absent or only planned in check mode.
      type: str
      sample: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    active:
      description: Whether it is running.
      type: bool
      sample: true
    persistent:
      description: Whether it has a persistent definition.
      type: bool
      sample: true
    autostart:
      description: Whether it starts with the host.
      type: bool
      sample: true
    bridge:
      description: Name of its bridge device.
      type: str
      sample: virbr-lab
actions:
  description:
    - The libvirt operations performed (in check mode, that would be performed), for example
      V(define), V(create), V(destroy), V(undefine), V(set_autostart(true)) and
      V(update(add ip[0]/dhcp/host mac=52:54:00:77:00:10)).
  returned: always
  type: list
  elements: str
  sample: ["update(add ip[0]/dhcp/host mac=52:54:00:77:00:10)", "define"]
differences:
  description: Paths where the stored definition differed from O(xml) (empty when it matched).
  returned: success
  type: list
  elements: str
  sample: ["ip/dhcp/host[web02]"]
applied_record:
  description: What happened to the applied record, V(written), V(updated) or V(unchanged).
  returned: when O(xml) is given and O(state) is not V(absent)
  type: str
  sample: updated
restart_required:
  description: Whether the running network still lacks part of the new definition until it restarts.
  returned: success
  type: bool
  sample: false
live_differences:
  description: What the running network lacks until it restarts.
  returned: when RV(restart_required) is true
  type: list
  elements: str
  sample: ["domain/@name"]
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule, SECRET_PATHS_ARGUMENT_SPEC
from ansible_collections.domainops.libvirt.plugins.module_utils.network import manage_network


def main():
    module = LibvirtModule(
        argument_spec=dict(
            secret_paths=SECRET_PATHS_ARGUMENT_SPEC['secret_paths'],
            name=dict(type='str'),
            xml=dict(type='str'),
            state=dict(type='str', default='present', choices=['present', 'running', 'stopped', 'absent']),
            autostart=dict(type='bool'),
            restart=dict(type='bool', default=False),
        ),
        with_selector=False,
        required_one_of=[('name', 'xml')],
        supports_check_mode=True,
    )
    module.run(manage_network)


if __name__ == '__main__':
    main()
