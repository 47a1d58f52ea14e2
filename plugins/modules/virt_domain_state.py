#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_domain_state
short_description: Define, start, stop, pause, reboot and undefine libvirt domains
version_added: 0.1.0
description:
  - Makes a libvirt domain (virtual machine) defined as O(xml) says and brings it to the run
    state O(state) asks for, from whatever state it is in. Does nothing when it is already there.
  - With O(xml), the desired definition is compared with the domain's persistent (inactive)
    definition. Only what O(xml) contains is compared, after the same normalisation libvirt applies
    (memory units, machine aliases, MAC case, ...), so defining the same XML again is no change.
    When something differs, the domain's current definition with O(xml) overlaid is defined, so
    unchanged devices keep their addresses and MAC addresses.
  - Changing the definition of a running domain does not change the running guest; the result says
    so with RV(restart_required). The module never restarts a domain unless O(state) asks for it.
  - Waits (graceful shutdown, reboot) use libvirt events, within O(timeout).
  - With O(wait_for_address=true), a running domain is awaited until it has an IP address
    (for example from its DHCP lease) and the addresses are returned.
extends_documentation_fragment:
  - domainops.libvirt.connection
  - domainops.libvirt.secrets
  - domainops.libvirt.connection.selector
  - domainops.libvirt.connection.attributes
attributes:
  check_mode:
    description: Can run in check mode and report what it would do without doing it.
    support: full
    details:
      - Check mode compares and plans exactly as a real run and reports the same RV(actions),
        without calling anything that changes the domain.
      - libvirt validates a definition only when it is defined, so check mode cannot detect
        O(xml) that libvirt would refuse.
  diff_mode:
    description: Returns what changed (or would change in check mode) for C(--diff).
    support: full
    details:
      - Shows the run state before and after and, with O(xml), the persistent definition before
        and after as pretty-printed XML with secrets masked.
  idempotent:
    description: Running the task again with the same options changes nothing.
    support: partial
    details:
      - Every state but V(rebooted) and V(reset) is idempotent; those two are actions and always
        report a change.
options:
  name:
    description:
      - Name of the domain. Mutually exclusive with O(uuid).
      - With O(xml), it must equal the C(<name>) in O(xml), and is taken from there when not given.
        Renaming a domain is not supported.
    type: str
  uuid:
    description:
      - UUID of the domain, with or without dashes, in any case. Mutually exclusive with O(name).
      - With O(xml), it must equal the C(<uuid>) in O(xml) if that has one; a domain defined new
        with O(uuid) needs a C(<uuid>) in O(xml).
    type: str
  xml:
    description:
      - The desired domain definition (a C(<domain>) document), needed when the domain does not exist yet.
      - Elements and attributes it does not contain are left as they are in the existing definition.
      - With O(state=absent), it only identifies the domain.
    type: str
  state:
    description:
      - V(present) - defined (as O(xml) says, when given); the run state is left as it is. Without
        O(xml), only checks that the domain exists.
      - V(running) - running. A paused domain is resumed, a suspended-to-memory one woken up, a shut-off
        or crashed one started. A shutdown in progress is awaited first, then the domain is started.
      - V(paused) - suspended. A shut-off domain is started paused (on drivers that cannot start
        paused, it is started and suspended at once, with a warning).
      - V(shutdown) - asks the guest to shut down (see O(shutdown_mode)) and waits until it is shut
        off, at most O(timeout) seconds. A paused guest is resumed first, as it cannot react otherwise.
        On timeout the task fails naming the state the domain is in, or with O(force=true) destroys it.
      - V(destroyed) - powered off at once. Already off is no change.
      - V(absent) - not defined and not running. A running domain is destroyed first; a transient
        domain is gone when destroyed. Managed save image, snapshot and checkpoint metadata, NVRAM and
        TPM state are removed with it. Disk images are removed only with O(remove_storage). An absent
        domain is no change, also when O(xml) is given.
      - V(rebooted) - the guest is asked to reboot (see O(shutdown_mode)) and the module waits until
        it does (libvirt's reboot event), at most O(timeout) seconds. Always a change.
      - V(reset) - hard reset, like the reset button; no wait. A paused domain stays paused. Always a change.
      - V(rebooted) and V(reset) start a domain that is shut off (a fresh boot is what they ask for).
      - Without O(xml), a domain that does not exist is an error for every state but V(absent).
    type: str
    choices: [present, running, paused, shutdown, destroyed, absent, rebooted, reset]
    default: present
  timeout:
    description:
      - Seconds the task may wait in total for the guest (shutdown, reboot, wake-up, and the
        address with O(wait_for_address)).
    type: int
    default: 120
  force:
    description:
      - With O(state=shutdown), destroy the domain when it has not shut down within O(timeout)
        instead of failing. The result then warns that it was destroyed.
    type: bool
    default: false
  shutdown_mode:
    description:
      - How the guest is asked to shut down or reboot (libvirt's C(VIR_DOMAIN_SHUTDOWN_*) and
        C(VIR_DOMAIN_REBOOT_*) flags). Several may be given; the hypervisor picks among them.
      - Empty (the default) lets the hypervisor choose (QEMU - the guest agent if configured, else ACPI).
      - Not every driver supports every mode; an unsupported one fails and changes nothing.
    type: list
    elements: str
    choices: [acpi, agent, initctl, signal, paravirt]
    default: []
  remove_storage:
    description:
      - With O(state=absent), also delete the disk images of the domain, after undefining it.
      - Only the sources of C(<disk type='file' device='disk'>) that are plain files are deleted;
        never CD-ROMs or floppies, block devices, network disks, backing files, or disks marked
        C(<shareable/>) or C(<readonly/>). A file in a libvirt storage pool is deleted as a storage
        volume; any other file only when the connection is local.
      - Before anything is changed, each image is checked against everything else that may use it,
        paths compared after resolving symbolic links on a local connection. That is the persistent and
        the live definition of every other domain, running or not, with the backing chains of their
        disks (libvirt's C(<backingStore>), the qcow2 image headers on a local connection, libvirt's
        storage volume XML on a remote one), and the backing chains of the other images in libvirt's
        storage pools and, locally, in the same directories.
      - When another domain or image uses one of them, the task fails naming it and changes nothing;
        the domain is neither destroyed nor undefined and none of its images is deleted. List the
        shared images in O(keep_storage) to remove the domain and its other images.
      - The deleted paths are returned in RV(removed_storage).
      - Only valid with O(state=absent).
    type: bool
    default: false
  keep_storage:
    description:
      - With O(remove_storage=true), disk images of the domain not to delete (paths as in its XML, or
        any path resolving to the same file). They are not checked for other users either.
      - Each path must be the source of one of the domain's disks; any other path fails the task
        before anything is changed (a typo must not be taken for a kept image).
    type: list
    elements: path
    default: []
  wait_for_address:
    description:
      - With O(state=running), wait (within O(timeout)) until the domain has an IP address that
        O(address_source), O(address_family) and O(address_interface) accept, and return its
        interfaces with their addresses in RV(interfaces) and that address in RV(address).
      - The guest agent connecting (libvirt's agent lifecycle event) wakes the wait up at once;
        DHCP leases and ARP entries have no event, so the sources are also asked every second.
      - Fails when the domain stops meanwhile, and on timeout with what it last saw per interface and
        per source. A domain that already has such an address returns at once, without change.
      - Waiting is no change. In check mode the addresses of a domain that already runs are read
        once; a domain the task would start has none yet.
      - Only with O(state=running).
    type: bool
    default: false
  address_source:
    description:
      - With O(wait_for_address), where addresses come from, as in
        M(domainops.libvirt.virt_domain_info) - V(lease) (libvirt networks' DHCP leases),
        V(agent) (the QEMU guest agent), V(arp) (the host's ARP table), or V(any) (lease, then
        agent, then ARP for the interfaces still without an address).
      - V(agent) and V(any) skip the agent while libvirt shows it disconnected, until it connects.
    type: str
    choices: [lease, agent, arp, any]
    default: any
  address_family:
    description: With O(wait_for_address), the kind of address awaited.
    type: str
    choices: [any, ipv4, ipv6]
    default: any
  address_interface:
    description:
      - With O(wait_for_address), only an address on this interface counts - its MAC address, or
        the network, bridge or device of its C(<source>) (for example the libvirt network V(default)).
      - A domain without such an interface fails at once.
      - Not set, any interface of the domain counts.
    type: str
  address_include_local:
    description:
      - With O(wait_for_address), also count and return loopback and link-local addresses (left out
        by default).
    type: bool
    default: false
  validate:
    description:
      - Let libvirt validate O(xml) against its schema when defining (C(VIR_DOMAIN_DEFINE_VALIDATE)),
        so that misspelt elements are refused instead of silently dropped.
      - Off by default, as C(virsh define) does it, because real generators (OpenStack nova, oVirt,
        KubeVirt, vagrant-libvirt, CloudStack) write documents that libvirt accepts and its schema
        refuses (an empty C(<serial/>), C(source file=''), empty sysinfo entries, VNC C(<gl>)).
        Without it, the definition is read back after every define and whatever libvirt dropped is
        named in a warning, so a typo stays visible.
    type: bool
    default: false
notes:
  - The test driver (V(test:///default)) shuts down at once, rejects O(shutdown_mode) flags, cannot
    start paused and sends no reboot event; the module copes with each (see O(state)).
  - From V(pmsuspended), V(shutdown) and V(rebooted) wake the guest first. A guest still resuming
    takes the first ACPI button press for the wake-up and drops it, so after a wake-up the request
    is sent again every 2 seconds until the guest acts on it (within O(timeout)).
  - A V(crashed) domain (kept by C(<on_crash>preserve</on_crash>)) runs no code; every state but
    V(present) destroys it first, then starts it where the state asks for a running guest.
seealso:
  - module: domainops.libvirt.virt_domain_info
  - module: domainops.libvirt.virt_domain_autostart
  - module: domainops.libvirt.virt_domain_device
author:
  - domainops.libvirt developers (@domainops)
'''

EXAMPLES = r'''
- name: Define a guest from a template and make sure it runs
  domainops.libvirt.virt_domain_state:
    xml: "{{ lookup('template', 'web01.xml.j2') }}"
    state: running

- name: Update the definition only; tell whether a restart is needed
  domainops.libvirt.virt_domain_state:
    xml: "{{ lookup('template', 'web01.xml.j2') }}"
  register: web01

- name: Restart the guest when its new definition needs it
  when: web01.restart_required
  block:
    - name: Shut it down gracefully, power it off after two minutes
      domainops.libvirt.virt_domain_state:
        name: web01
        state: shutdown
        timeout: 120
        force: true
    - name: Start it again with the new definition
      domainops.libvirt.virt_domain_state:
        name: web01
        state: running

- name: Shut down through the guest agent, falling back to ACPI
  domainops.libvirt.virt_domain_state:
    name: db01
    state: shutdown
    shutdown_mode: [agent, acpi]
    timeout: 300

- name: Start a guest and wait until it has an IPv4 address on the libvirt network 'default'
  domainops.libvirt.virt_domain_state:
    name: web01
    state: running
    wait_for_address: true
    address_family: ipv4
    address_interface: default
    timeout: 180
  register: web01_started

- name: Reach it over SSH from now on
  ansible.builtin.add_host:
    name: web01
    ansible_host: "{{ web01_started.address }}"

- name: Reboot a guest on a remote host and wait for the reboot
  domainops.libvirt.virt_domain_state:
    uri: qemu+ssh://root@hv2.example.com/system
    name: web02
    state: rebooted

- name: Freeze a guest while its storage is snapshotted
  domainops.libvirt.virt_domain_state:
    uuid: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    state: paused

- name: Remove a scratch guest and its disk images
  domainops.libvirt.virt_domain_state:
    name: ci-runner-17
    state: absent
    remove_storage: true

- name: Remove a guest and its own disk, keeping the shared base image it names as a disk
  domainops.libvirt.virt_domain_state:
    name: ci-runner-18
    state: absent
    remove_storage: true
    keep_storage:
      - /var/lib/libvirt/images/debian-12-base.qcow2
'''

RETURN = r'''
failed_action:
  description:
    - When an operation failed, that operation, named as in RV(actions). RV(actions) then lists exactly
      the operations done before it (each is recorded only once it succeeded), and C(changed) is true when
      there is one.
    - V(null) when the task failed outside an operation (bad input, a lookup, a wait).
  returned: failure
  type: str
  sample: create
actions:
  description:
    - The operations done, in order (in check mode, those a real run would do). Among them
      V(define), V(create), V(create_paused), V(resume), V(pm_wakeup), V(suspend), V(shutdown),
      V(destroy), V(undefine), V(reboot), V(reset), V(delete_volume), V(delete_file).
  returned: always
  type: list
  elements: str
  sample: [define, create]
domain:
  description:
    - The domain after the task (in check mode, as the real run would leave it).
    - After O(state=absent), its C(state) is V(absent) and C(name)/C(uuid) are the ones it had.
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
      description: libvirt's id of a running domain; null when it is not running.
      type: int
      sample: 7
    state:
      description: V(running), V(blocked), V(paused), V(shutdown), V(shutoff), V(crashed),
        V(pmsuspended), V(nostate) or V(absent).
      type: str
      sample: running
    state_reason:
      description: libvirt's reason for the state, for example V(booted), V(user), V(shutdown);
        null in check mode after a planned change.
      type: str
      sample: booted
    persistent:
      description: Whether the domain has a persistent definition.
      type: bool
      sample: true
    autostart:
      description: Whether the domain starts with the host.
      type: bool
      sample: false
  sample:
    name: web01
    uuid: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    id: 7
    state: running
    state_reason: booted
    persistent: true
    autostart: false
waited:
  description: Seconds spent waiting for the guest.
  returned: success
  type: float
  sample: 1.84
restart_required:
  description:
    - Whether the domain runs with a configuration that lacks parts of O(xml) that its persistent
      definition has (or will have, in check mode), typically after its definition was changed
      while it ran. The new definition takes effect at the next start (not at a guest reboot).
    - Stays true on later runs until the domain is restarted; false without O(xml) and when the
      task stops or starts the domain.
  returned: success
  type: bool
  sample: false
live_differences:
  description: Paths in O(xml) where the running guest differs from it.
  returned: when RV(restart_required) is true
  type: list
  elements: str
  sample: ["memory", "vcpu"]
differences:
  description:
    - Paths in O(xml) where the persistent definition differed before the task (relative to
      C(<domain>), devices named by their identity), without values, so without secrets.
    - V((new domain\)) when the domain was defined new; V((make persistent\)) first when a transient
      domain was made persistent; V((applied record written\)) or V((applied record updated\)) when
      only the record of what O(xml) manages changed (see RV(applied_record)).
    - Removals are listed too, each a part that the previously applied O(xml) had and this one does not.
  returned: success
  type: list
  elements: str
  sample: ["memory", "devices/disk[vdb]/source/@file", "devices/sound[ich9]"]
applied_record:
  description:
    - The applied record in the domain's C(<metadata>) holds the shape of O(xml) (element and
      attribute names and device identities, never values), so that what a later O(xml) no longer
      has is removed (a three-way comparison, like C(kubectl apply)).
    - V(written) when the domain had none (defined now, or made by virsh, virt-install or an older
      version; this first apply keeps everything O(xml) does not mention, and from then on removals
      work), V(updated) when O(xml) now manages other parts, V(unchanged) otherwise.
  returned: with O(xml), unless O(state=absent)
  type: str
  sample: unchanged
address:
  description:
    - The first address (in interface order) that O(address_family) and O(address_interface)
      accept; null in check mode when the domain does not run yet.
  returned: when O(wait_for_address=true)
  type: str
  sample: 192.168.122.52
interfaces:
  description:
    - The domain's interfaces with their addresses, as in M(domainops.libvirt.virt_domain_info)
      (mac, type, source, model, addresses); C(addresses) is a list of dicts with C(address),
      C(prefix), C(family) (V(ipv4) or V(ipv6)) and C(source) (V(lease), V(agent) or V(arp)).
    - Empty in check mode when the domain does not run yet.
  returned: when O(wait_for_address=true)
  type: list
  elements: dict
  sample:
    - mac: '52:54:00:6b:3c:58'
      type: network
      source: default
      model: virtio
      addresses:
        - {address: 192.168.122.52, prefix: 24, family: ipv4, source: lease}
removed_storage:
  description: Disk image paths deleted (in check mode, that would be deleted).
  returned: when O(remove_storage=true)
  type: list
  elements: str
  sample: [/var/lib/libvirt/images/ci-runner-17.qcow2]
diff:
  description:
    - With C(--diff), the run state before and after (a C(state:) line) and, with O(xml), the
      persistent definition before and after, pretty-printed, secrets masked (the state is then an
      XML comment on the first line).
  returned: when diff mode is on
  type: dict
  sample:
    before: "<!-- state: shutoff -->\n<domain type='qemu'>\n  <name>web01</name>\n  <memory unit='KiB'>131072</memory>\n</domain>\n"
    after: "<!-- state: running -->\n<domain type='qemu'>\n  <name>web01</name>\n  <memory unit='KiB'>262144</memory>\n</domain>\n"
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.address_wait import WAIT_ARGUMENT_SPEC, check_wait_input
from ansible_collections.domainops.libvirt.plugins.module_utils.lifecycle import (
    DEFAULT_TIMEOUT, SHUTDOWN_MODES, STATES, manage_domain_state)
from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule, SECRET_PATHS_ARGUMENT_SPEC


def manage(task):
    check_wait_input(task.params)
    return manage_domain_state(task)


def main():
    module = LibvirtModule(
        argument_spec=dict(
            secret_paths=SECRET_PATHS_ARGUMENT_SPEC['secret_paths'],
            xml=dict(type='str'),
            state=dict(type='str', default='present', choices=list(STATES)),
            timeout=dict(type='int', default=DEFAULT_TIMEOUT),
            force=dict(type='bool', default=False),
            shutdown_mode=dict(type='list', elements='str', default=[], choices=sorted(SHUTDOWN_MODES)),
            remove_storage=dict(type='bool', default=False),
            keep_storage=dict(type='list', elements='path', default=[]),
            validate=dict(type='bool', default=False),
            **WAIT_ARGUMENT_SPEC
        ),
        required_one_of=[('name', 'uuid', 'xml')],
        supports_check_mode=True,
    )
    module.run(manage, events=True)


if __name__ == '__main__':
    main()
