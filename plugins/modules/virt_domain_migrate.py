#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_domain_migrate
short_description: Move a libvirt domain to another hypervisor, live or offline
version_added: 0.1.0
description:
  - Moves the domain selected by O(name) or O(uuid) from the host of O(uri) (the source) to the
    host of O(dest_uri) (the target), the way C(virsh migrate) does, and waits until the move is
    complete.
  - The desired state is "on the target, gone from the source". A domain already on the target
    (same UUID) and absent from the source is no change, so the task can run again safely.
    A different domain of the same name on the target, or the domain on both hosts, is an error
    and nothing is changed.
  - A running (or paused) domain migrates live by default (O(live)); a shut-off domain moves
    offline, that is its persistent definition moves and nothing runs.
  - By default the domain becomes persistent on the target and its definition is removed from
    the source (O(persistent), O(undefine_source)), so it is a move, not a copy.
  - The module waits for libvirt's migration job with its events, at most O(timeout) seconds;
    on timeout it aborts the job and the domain keeps running on the source.
  - The module opens two connections, one to each host. By default it manages the migration
    itself (both hosts must be reachable from the host the module runs on); with O(p2p) the source
    libvirtd connects to O(dest_uri) itself.
  - Disks must be on storage both hosts share (NFS, a cluster file system, network disks), or be
    copied with O(copy_storage). libvirt refuses a migration it considers unsafe; the error names
    the disks and the options. See docs/live-migration.md in the collection.
extends_documentation_fragment:
  - domainops.libvirt.connection
  - domainops.libvirt.connection.selector
  - domainops.libvirt.connection.attributes
attributes:
  check_mode:
    description: Can run in check mode and report what it would do without doing it.
    support: full
    details:
      - Check mode connects to both hosts, looks the domain up on both (name and UUID), checks that
        they are different hosts and that the options fit the domain's state, and reports the
        RV(actions) a real run takes. It cannot know whether libvirt will accept the disks
        (shared storage) or the network path.
  diff_mode:
    description: Returns what changed (or would change in check mode) for C(--diff).
    support: full
    details: The diff shows the domain's state on the source and on the target, before and after.
  idempotent:
    description: Running the task again with the same options changes nothing.
    support: full
options:
  uri:
    description:
      - libvirt connection URI of the source host, where the domain is now.
      - When not set, the E(LIBVIRT_DEFAULT_URI) environment variable of the host the module
        runs on is used, and V(qemu:///system) when that is not set either.
  username:
    description:
      - User name for libvirt's authentication prompt, on both connections.
  password:
    description:
      - Password or passphrase for libvirt's authentication prompt, on both connections.
  dest_uri:
    description:
      - libvirt connection URI of the target host, for example V(qemu+ssh://root@hv2.example.com/system).
      - With O(p2p), the source libvirtd opens this URI itself, so it must work from the source host.
    type: str
    required: true
  live:
    description:
      - V(true) - the guest keeps running while its memory is copied (C(VIR_MIGRATE_LIVE)).
      - V(false) - the guest is paused while its memory is copied, then resumes on the target
        (shorter total time, longer pause).
      - A shut-off domain moves offline (C(VIR_MIGRATE_OFFLINE)) whatever this says.
    type: bool
    default: true
  persistent:
    description:
      - Define the domain persistently on the target (C(VIR_MIGRATE_PERSIST_DEST)). With V(false) it
        runs there as a transient domain. An offline move needs V(true).
    type: bool
    default: true
  undefine_source:
    description:
      - Remove the domain's persistent definition from the source once it runs on the target
        (C(VIR_MIGRATE_UNDEFINE_SOURCE)).
      - With V(false) the source keeps the definition, shut off; that is then the desired state
        and the next run is no change.
    type: bool
    default: true
  p2p:
    description:
      - Peer-to-peer migration (C(VIR_MIGRATE_PEER2PEER)), where the source libvirtd connects to O(dest_uri)
        and drives the migration, instead of this module.
    type: bool
    default: false
  tunnelled:
    description:
      - Send the migration data through the libvirtd connection (C(VIR_MIGRATE_TUNNELLED)) instead of
        a direct connection between the two hypervisors. Needs O(p2p).
    type: bool
    default: false
  migration_uri:
    description:
      - Where the source hypervisor sends the migration data, for example V(tcp://10.0.0.2) or
        V(tcp://10.0.0.2:49152), for a host with several networks (C(VIR_MIGRATE_PARAM_URI)). By default
        libvirt uses the target's host name.
    type: str
  listen_address:
    description:
      - The address the target hypervisor listens on for the migration data
        (C(VIR_MIGRATE_PARAM_LISTEN_ADDRESS)).
    type: str
  bandwidth:
    description:
      - Maximum bandwidth of the migration, in MiB/s (C(VIR_MIGRATE_PARAM_BANDWIDTH)).
    type: int
  max_downtime:
    description:
      - Maximum time, in milliseconds, the guest may be paused at the end of a live migration
        (C(virDomainMigrateSetMaxDowntime)). Set on the source before the migration starts.
    type: int
  compression:
    description:
      - Compress the memory sent (C(VIR_MIGRATE_COMPRESSED)) with these methods
        (C(VIR_MIGRATE_PARAM_COMPRESSION)).
    type: list
    elements: str
    choices: [xbzrle, mt]
  auto_converge:
    description:
      - Slow the guest's vCPUs down when its memory changes faster than it is sent
        (C(VIR_MIGRATE_AUTO_CONVERGE)).
    type: bool
    default: false
  postcopy:
    description:
      - Allow switching to post-copy (C(VIR_MIGRATE_POSTCOPY)), where the guest runs on the target
        while the rest of its memory follows on demand. The switch happens only with O(postcopy_after).
      - A migration in post-copy cannot be aborted; once switched, the module waits for it to finish
        even past O(timeout).
    type: bool
    default: false
  postcopy_after:
    description:
      - Switch to post-copy (C(virDomainMigrateStartPostCopy)) when the migration has run this many
        seconds. Needs O(postcopy).
    type: int
  copy_storage:
    description:
      - Copy the disks that are not on shared storage to the target during the migration.
      - V(all) copies whole images (C(VIR_MIGRATE_NON_SHARED_DISK)); V(incremental) copies only what is
        not in a shared backing image (C(VIR_MIGRATE_NON_SHARED_INC)).
      - libvirt creates the images on the target when they are in a storage pool there at the same path;
        otherwise create them first. Only for a running domain.
    type: str
    choices: [all, incremental]
  unsafe:
    description:
      - Migrate even when libvirt considers it unsafe (C(VIR_MIGRATE_UNSAFE)), typically because a
        writable disk is on storage it does not recognise as shared. Use it only when the target really
        sees the same storage; otherwise both hosts write different images and the data is lost.
    type: bool
    default: false
  timeout:
    description:
      - Seconds the migration may take. When it has not finished by then, the job is aborted and the
        domain keeps running on the source; the task fails saying where the domain is.
    type: int
    default: 600
notes:
  - Both hosts must run the same hypervisor with compatible CPUs and machine types, see the libvirt
    documentation on migration.
seealso:
  - module: domainops.libvirt.virt_domain_info
  - module: domainops.libvirt.virt_domain_state
  - name: libvirt migration
    description: libvirt's guide to migration (transports, modes, storage).
    link: https://libvirt.org/migration.html
author:
  - domainops.libvirt developers (@domainops)
'''

EXAMPLES = r'''
- name: Move web01 live to hv2
  domainops.libvirt.virt_domain_migrate:
    uri: qemu+ssh://root@hv1.example.com/system
    dest_uri: qemu+ssh://root@hv2.example.com/system
    name: web01

- name: Move a guest with local disks, copying them, over the storage network, at most 200 MiB/s
  domainops.libvirt.virt_domain_migrate:
    uri: qemu+ssh://root@hv1.example.com/system
    dest_uri: qemu+ssh://root@hv2.example.com/system
    name: db01
    copy_storage: all
    migration_uri: tcp://10.10.0.2
    bandwidth: 200
    max_downtime: 300
    timeout: 1800

- name: A busy guest - let libvirt throttle it, switch to post-copy after two minutes
  domainops.libvirt.virt_domain_migrate:
    uri: qemu+ssh://root@hv1.example.com/system
    dest_uri: qemu+ssh://root@hv2.example.com/system
    name: cache01
    auto_converge: true
    postcopy: true
    postcopy_after: 120

- name: Drain hv1 - list its domains, then move each (shut-off ones move offline)
  block:
    - name: Domains on hv1
      domainops.libvirt.virt_domain_info:
        uri: qemu+ssh://root@hv1.example.com/system
      register: hv1

    - name: Move every domain to hv2
      domainops.libvirt.virt_domain_migrate:
        uri: qemu+ssh://root@hv1.example.com/system
        dest_uri: qemu+ssh://root@hv2.example.com/system
        uuid: "{{ item.uuid }}"
      loop: "{{ hv1.domains }}"
      loop_control:
        label: "{{ item.name }}"
'''

RETURN = r'''
actions:
  description:
    - The libvirt operations performed (in check mode, that would be performed), among
      C(set_max_downtime(MS)), C(migrate(live)), C(migrate(paused)), C(migrate(offline)),
      C(start_postcopy) and C(abort_job).
  returned: always
  type: list
  elements: str
  sample: ["migrate(live)"]
mode:
  description:
    - How the domain moved or would move - V(live), V(paused) (not live) or V(offline) (shut off,
      the definition only). V(null) when it was on the target already.
  returned: success
  type: str
  sample: live
job:
  description:
    - libvirt's statistics of the completed migration job (C(virDomainGetJobStats) names), empty in check
      mode, for an offline move and when nothing was done. Among them C(time_elapsed) and C(downtime)
      (milliseconds), C(data_total), C(data_processed) and C(data_remaining) (bytes), C(memory_iteration),
      C(disk_processed).
  returned: success
  type: dict
  sample: {"time_elapsed": 941, "downtime": 31, "data_processed": 77073533, "data_total": 151592960}
waited:
  description: Seconds the module waited for the migration (0 in check mode and when nothing was done).
  returned: success
  type: float
  sample: 2.96
source_uri:
  description: The source connection URI used.
  returned: success
  type: str
  sample: qemu+ssh://root@hv1.example.com/system
dest_uri:
  description: The target connection URI used.
  returned: success
  type: str
  sample: qemu+ssh://root@hv2.example.com/system
domain:
  description:
    - The domain on the target after the task. In check mode, as the migration would leave it.
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
      description: Hypervisor ID of the running domain on the target, V(null) when it is not running.
      type: int
      sample: 3
    state:
      description: libvirt state on the target (running, paused, shutoff, ...).
      type: str
      sample: running
    state_reason:
      description: libvirt's reason for that state.
      type: str
      sample: migrated
    persistent:
      description: Whether the domain is defined persistently on the target.
      type: bool
      sample: true
    autostart:
      description: Whether the domain starts with the target host.
      type: bool
      sample: false
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.migrate import (
    COMPRESSION_METHODS, COPY_STORAGE, DEFAULT_TIMEOUT, migrate_domain)
from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule


def main():
    module = LibvirtModule(
        argument_spec=dict(
            dest_uri=dict(type='str', required=True),
            live=dict(type='bool', default=True),
            persistent=dict(type='bool', default=True),
            undefine_source=dict(type='bool', default=True),
            p2p=dict(type='bool', default=False),
            tunnelled=dict(type='bool', default=False),
            migration_uri=dict(type='str'),
            listen_address=dict(type='str'),
            bandwidth=dict(type='int'),
            max_downtime=dict(type='int'),
            compression=dict(type='list', elements='str', choices=list(COMPRESSION_METHODS)),
            auto_converge=dict(type='bool', default=False),
            postcopy=dict(type='bool', default=False),
            postcopy_after=dict(type='int'),
            copy_storage=dict(type='str', choices=sorted(COPY_STORAGE)),
            unsafe=dict(type='bool', default=False),
            timeout=dict(type='int', default=DEFAULT_TIMEOUT),
        ),
        required_one_of=[('name', 'uuid')],
        supports_check_mode=True,
    )
    module.run(migrate_domain, events=True)


if __name__ == '__main__':
    main()
