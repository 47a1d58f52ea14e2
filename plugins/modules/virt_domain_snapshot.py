#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_domain_snapshot
short_description: Take, delete and revert to snapshots of a libvirt domain
version_added: 0.1.0
description:
  - Manages one snapshot, O(snapshot), of the domain selected by O(name) or O(uuid).
  - V(present) takes the snapshot when the domain has none of that name. An existing snapshot of that
    name is no change; a different O(description) is updated in place (libvirt's redefine, the
    disks and memory are not touched); a different O(kind) or O(memory) is an error, never a silent
    replacement.
  - V(absent) deletes the snapshot (and, with O(children), its descendants). A snapshot that does not
    exist is no change.
  - V(current) reverts the domain to the snapshot and leaves it in the snapshot's state, or in
    O(domain_state). When the snapshot is already the current one and the domain is already in that
    state, nothing is done; a domain changed since it was reverted is not reverted again until another
    snapshot became current.
  - Kinds on QEMU. V(internal) snapshots live inside the qcow2 disks (every disk must be qcow2); of a
    running domain they include its memory (QEMU cannot take them without it), of a shut-off domain
    they hold the disks only. V(external) snapshots put a new qcow2 overlay file on each disk (the
    domain then writes to the overlay), disk-only by default, with the memory saved to
    O(memory_file) when asked.
  - "libvirt 9.0 limits for external snapshots: it deletes one (merging its overlay back) unless its
    parent is an internal snapshot; it cannot revert to one (9.9.0 can). The module says so before
    doing anything; O(metadata_only) forgets a snapshot and leaves its files as they are."
  - libvirt's snapshot calls return when the job is complete; the domain state a revert leaves is
    read back.
options:
  snapshot:
    description: The snapshot's name. libvirt refuses V(/), control characters and a leading V(.).
    type: str
    required: true
  state:
    description:
      - V(present) the snapshot exists, V(absent) it does not, V(current) the domain is reverted to it.
    type: str
    choices: [present, absent, current]
    default: present
  description:
    description:
      - The snapshot's description. For an existing snapshot a different one is updated in place.
    type: str
  kind:
    description:
      - V(internal) or V(external); see the description. When a snapshot is taken, V(internal) if not set.
      - For an existing snapshot, checked when set.
    type: str
    choices: [internal, external]
  memory:
    description:
      - Whether the snapshot holds the domain's memory (its running state). Only a running or paused
        domain has memory to save.
      - Not set, an internal snapshot of a running domain holds it, an external one holds it when
        O(memory_file) is set.
      - For an existing snapshot, checked when set.
    type: bool
  memory_file:
    description: Where an external snapshot saves the memory of the running domain (a path on the host).
    type: path
  disks:
    description:
      - For an external snapshot, the overlay file of some disks, or V(no) to leave a disk out.
        Disks not listed get libvirt's default overlay, next to their image, named after the snapshot.
    type: list
    elements: dict
    suboptions:
      name:
        description: The disk's target device (V(vda)) or its source path.
        type: str
        required: true
      file:
        description: The overlay file to create (qcow2).
        type: path
      snapshot:
        description: V(external) makes an overlay for the disk, V(no) leaves it out of the snapshot.
        type: str
        choices: [external, 'no']
        default: external
  quiesce:
    description:
      - Freeze the guest's file systems through the QEMU guest agent while the snapshot is taken
        (a running domain with the agent). Fails when the agent does not answer; nothing is taken then.
    type: bool
    default: false
  children:
    description: With V(absent), delete the snapshot's descendants too. Otherwise they are kept (re-parented).
    type: bool
    default: false
  metadata_only:
    description:
      - With V(absent), forget the snapshot in libvirt only; its data (internal snapshot in the qcow2,
        overlay and memory files) is left as it is.
    type: bool
    default: false
  domain_state:
    description:
      - With V(current), the state to leave the domain in after the revert. V(snapshot) is the state
        the snapshot was taken in (shut off for a disk-only snapshot).
    type: str
    choices: [snapshot, running, paused, shutoff]
    default: snapshot
  force:
    description:
      - With V(current), let libvirt revert where it would otherwise refuse as risky (for example to a
        snapshot whose domain definition cannot be applied to the running domain). The domain is
        restarted then.
    type: bool
    default: false
seealso:
  - module: domainops.libvirt.virt_domain_info
author:
  - domainops.libvirt developers (@domainops)
extends_documentation_fragment:
  - domainops.libvirt.connection
  - domainops.libvirt.secrets
  - domainops.libvirt.connection.selector
  - domainops.libvirt.connection.attributes
attributes:
  check_mode:
    description: Can run in check mode and report what it would do without doing it.
    support: full
  diff_mode:
    description: Returns what changed (or would change in check mode) for C(--diff).
    support: full
    details: The diff shows the snapshot's XML before and after.
  idempotent:
    support: full
'''

EXAMPLES = r'''
- name: Snapshot web01 (internal; with its memory when it runs) before an upgrade
  domainops.libvirt.virt_domain_snapshot:
    name: web01
    snapshot: before-upgrade
    description: before the 2.4 upgrade

- name: Disk-only external snapshot, overlay in a chosen place, file systems frozen by the agent
  domainops.libvirt.virt_domain_snapshot:
    name: db01
    snapshot: nightly
    kind: external
    quiesce: true
    disks:
      - name: vda
        file: /var/lib/libvirt/images/db01-nightly.qcow2

- name: Go back to it and leave the domain shut off
  domainops.libvirt.virt_domain_snapshot:
    name: web01
    snapshot: before-upgrade
    state: current
    domain_state: shutoff

- name: Delete it and everything taken after it
  domainops.libvirt.virt_domain_snapshot:
    name: web01
    snapshot: before-upgrade
    state: absent
    children: true
'''

RETURN = r'''
snapshot:
  description: The snapshot after the task (in check mode, as it would be). Not returned by V(absent).
  returned: success and state is not absent
  type: dict
  contains:
    name:
      description: The snapshot's name.
      type: str
      sample: before-upgrade
    parent:
      description: The name of its parent snapshot, V(null) for a root.
      type: str
      sample: nightly
    kind:
      description: V(internal) or V(external).
      type: str
      sample: internal
    state:
      description: The domain's state when the snapshot was taken (V(disk-snapshot) for disk-only).
      type: str
      sample: running
    memory:
      description: Whether the snapshot holds the domain's memory.
      type: bool
      sample: true
    description:
      description: The snapshot's description.
      type: str
      sample: before the 2.4 upgrade
    creation_time:
      description: When it was taken (seconds since the epoch); V(null) in check mode for a new one.
      type: int
      sample: 1717171717
    current:
      description: Whether it is the domain's current snapshot.
      type: bool
      sample: true
    disks:
      description: The disks in the snapshot (name, snapshot V(internal)/V(external)/V(no), file of an overlay).
      type: list
      elements: dict
      sample: [{"name": "vda", "snapshot": "internal", "file": null}]
deleted:
  description: With V(absent), the snapshots deleted (or that would be).
  returned: success and state is absent
  type: list
  elements: str
  sample: ["before-upgrade"]
actions:
  description: The libvirt operations performed (in check mode, that would be performed).
  returned: always
  type: list
  elements: str
  sample: ["create_snapshot(internal, memory)"]
domain:
  description: The domain after the task (in check mode, as it is now).
  returned: success
  type: dict
  contains:
    name:
      description: Name of the domain.
      type: str
      sample: web01
    uuid:
      description: UUID of the domain.
      type: str
      sample: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    id:
      description: Hypervisor ID of the running domain, V(null) when it is not running.
      type: int
      sample: 7
    state:
      description: libvirt state (running, paused, shutoff, ...).
      type: str
      sample: running
    state_reason:
      description: libvirt's reason for that state.
      type: str
      sample: from_snapshot
    persistent:
      description: Whether the domain is defined persistently.
      type: bool
      sample: true
    autostart:
      description: Whether the domain starts with the host.
      type: bool
      sample: false
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule, SECRET_PATHS_ARGUMENT_SPEC
from ansible_collections.domainops.libvirt.plugins.module_utils.snapshot import manage_snapshot


def main():
    module = LibvirtModule(
        argument_spec=dict(
            secret_paths=SECRET_PATHS_ARGUMENT_SPEC['secret_paths'],
            snapshot=dict(type='str', required=True),
            state=dict(type='str', choices=['present', 'absent', 'current'], default='present'),
            description=dict(type='str'),
            kind=dict(type='str', choices=['internal', 'external']),
            memory=dict(type='bool'),
            memory_file=dict(type='path'),
            disks=dict(type='list', elements='dict', options=dict(
                name=dict(type='str', required=True),
                file=dict(type='path'),
                snapshot=dict(type='str', choices=['external', 'no'], default='external'),
            )),
            quiesce=dict(type='bool', default=False),
            children=dict(type='bool', default=False),
            metadata_only=dict(type='bool', default=False),
            domain_state=dict(type='str', choices=['snapshot', 'running', 'paused', 'shutoff'], default='snapshot'),
            force=dict(type='bool', default=False),
        ),
        required_one_of=[('name', 'uuid')],
        supports_check_mode=True,
    )
    module.run(manage_snapshot)


if __name__ == '__main__':
    main()
