#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_domain_clone
short_description: Make a new libvirt domain as a clone of another one
version_added: 0.1.0
description:
  - Defines the domain O(name) as a clone of the domain O(source) (its persistent definition), with a new
    UUID and new MAC addresses, and copies of its disks, its NVRAM (UEFI variables) and its TPM state.
  - O(mode=full) copies every disk; O(mode=linked) makes a qcow2 overlay for each disk, based on the
    source's image (fast, small; the source's disks must then stay unchanged, so the source must be
    shut off). CD-ROMs, floppies, read-only and shareable disks are shared, not copied.
  - A disk that is a volume of a storage pool (a C(type=volume) disk, or a file libvirt knows as a volume)
    is copied through libvirt's storage API, into the same pool (works on remote hosts). A plain file is
    copied with C(qemu-img) next to it, on the local host only; a plain file on a remote URI is refused.
    New images are named C(<name>-<target>.<format>).
  - O(xml) holds overrides (memory, vCPUs, another network, ...), laid over the cloned definition by the
    same engine as M(domainops.libvirt.virt_domain_state), which also stores its applied record so later
    virt_domain_state tasks on the clone compare three-way.
  - Idempotent by O(name). An existing clone of O(source) made by this module whose definition has what
    O(xml) says is no change; one that differs is an error unless O(converge) applies O(xml) to it.
    Another domain of that name is an error.
  - O(state=absent) destroys and undefines the clone (with its NVRAM, TPM state and snapshot metadata)
    and deletes the disk images it owns. An image any other domain uses, directly or as a backing file,
    is kept, so the source's disks are never deleted.
  - The clone is defined, not started; use M(domainops.libvirt.virt_domain_state) for that.
options:
  name:
    description: The new domain's name.
    type: str
    required: true
  source:
    description:
      - The domain to clone, shut off (or paused, or running with O(allow_running)). Needed with
        O(state=present).
    type: str
  state:
    description: V(present) the clone exists, V(absent) it and the disks it owns do not.
    type: str
    choices: [present, absent]
    default: present
  mode:
    description: V(full) copies the disks, V(linked) makes qcow2 overlays of them.
    type: str
    choices: [full, linked]
    default: full
  xml:
    description:
      - Domain XML laid over the clone's definition (a C(<domain>) with the parts to change). Its
        C(<name>), if any, must be O(name); it must not set a C(<uuid>).
    type: str
  allow_running:
    description:
      - Clone a running source (full copies only). The copy is crash-consistent, like pulling the power.
    type: bool
    default: false
  converge:
    description: Apply O(xml) to an existing clone whose definition differs, instead of failing.
    type: bool
    default: false
seealso:
  - module: domainops.libvirt.virt_domain_state
  - module: domainops.libvirt.virt_domain_snapshot
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
    details: The diff shows the clone's domain XML.
  idempotent:
    support: full
'''

EXAMPLES = r'''
- name: A linked clone of the template, with more memory and on another network
  domainops.libvirt.virt_domain_clone:
    name: web02
    source: debian12-template
    mode: linked
    xml: |
      <domain>
        <memory unit='GiB'>4</memory>
        <vcpu>2</vcpu>
        <devices>
          <interface type='network'><source network='dmz'/><model type='virtio'/></interface>
        </devices>
      </domain>

- name: Start it
  domainops.libvirt.virt_domain_state:
    name: web02
    state: running

- name: Remove the clone and its disks (the template's stay)
  domainops.libvirt.virt_domain_clone:
    name: web02
    state: absent
'''

RETURN = r'''
disks:
  description:
    - With V(present), the images made for a new clone (paths or volume names); with V(absent), the images
      deleted. Empty when nothing was done.
  returned: success
  type: list
  elements: str
  sample: ["/var/lib/libvirt/images/web02-vda.qcow2"]
differences:
  description: With O(converge), what O(xml) changed on an existing clone (path, before, after).
  returned: when an existing clone was changed
  type: list
  elements: dict
  sample: [{"path": "memory", "before": "2097152", "after": "4194304"}]
actions:
  description: The operations performed (in check mode, that would be performed).
  returned: always
  type: list
  elements: str
  sample: ["linked_copy(vda)", "define"]
domain:
  description: The clone after the task. Not returned in check mode for a new clone, nor by V(absent).
  returned: when the clone exists
  type: dict
  contains:
    name:
      description: Name of the domain.
      type: str
      sample: web02
    uuid:
      description: UUID of the domain.
      type: str
      sample: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    id:
      description: Hypervisor ID of the running domain, V(null) when it is not running.
      type: int
      sample: null
    state:
      description: libvirt state (running, paused, shutoff, ...).
      type: str
      sample: shutoff
    state_reason:
      description: libvirt's reason for that state.
      type: str
      sample: unknown
    persistent:
      description: Whether the domain is defined persistently.
      type: bool
      sample: true
    autostart:
      description: Whether the domain starts with the host.
      type: bool
      sample: false
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.clone import manage_clone
from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule, SECRET_PATHS_ARGUMENT_SPEC


def main():
    module = LibvirtModule(
        argument_spec=dict(
            secret_paths=SECRET_PATHS_ARGUMENT_SPEC['secret_paths'],
            name=dict(type='str', required=True),
            source=dict(type='str'),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            mode=dict(type='str', choices=['full', 'linked'], default='full'),
            xml=dict(type='str'),
            allow_running=dict(type='bool', default=False),
            converge=dict(type='bool', default=False),
        ),
        with_selector=False,
        required_if=[('state', 'present', ('source',))],
        supports_check_mode=True,
    )
    module.run(manage_clone)


if __name__ == '__main__':
    main()
