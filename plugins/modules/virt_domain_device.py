#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_domain_device
short_description: Attach, update or detach one device of a libvirt domain, live and/or persistently
version_added: 0.1.0
description:
  - Makes sure one device (a disk, a network interface, a host device, a controller, a
    filesystem, a serial port, console or channel, graphics, video, sound, a watchdog, an
    RNG, a TPM, an input device, a USB redirection, ...) is present in or absent from a
    libvirt domain.
  - The device is looked up by its identity, not compared as text. A disk is found by its target
    device (C(target/@dev)), an interface by its MAC address, a controller by type and
    index, a filesystem by its target directory, a serial port or console by type and
    target port, a channel by its target name, graphics, video, TPM, watchdog, RNG and
    sound by their type or model. XML without that identity is refused before libvirt is
    called.
  - The running domain (live XML) and the persistent definition are handled separately,
    so a device can be attached in one and updated in the other in the same task.
  - A missing device is attached. A device that is there but differs from O(xml) is
    updated in place, starting from the device as libvirt has it with O(xml) laid over
    it, so that addresses and aliases stay. Only what O(xml) says is compared, and what
    it leaves out is kept as it is.
  - Whether a running device can be updated is libvirt's decision (for QEMU, the medium
    of a CD-ROM or floppy drive, an interface's link state, bandwidth and filter,
    graphics passwords, ...). When it cannot, the task fails with a message naming what
    cannot change live; the persistent definition is still updated first when the task
    affects it, and the message says so.
  - For a CD-ROM or floppy drive, O(xml) without C(<source>) means an empty drive, so a
    medium that is inserted is ejected.
  - A device is detached using the device XML libvirt reports (with its address and
    alias), and on a running domain the module then waits until the guest has released
    it (the C(DEVICE_REMOVED) event, or the device gone from the live XML), for at most
    O(timeout) seconds. A device that is still there after that is a failure.
extends_documentation_fragment:
  - domainops.libvirt.connection
  - domainops.libvirt.secrets
  - domainops.libvirt.connection.selector
  - domainops.libvirt.connection.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the domain and reports the actions a real run would take, without taking them.
  diff_mode:
    support: full
    details: Shows the device XML before and after, for each of the live and persistent definitions affected.
  idempotent:
    support: full
options:
  xml:
    description:
      - The XML of one device, for example C(<disk>...</disk>) or C(<interface>...</interface>).
      - It must carry the device's identity (see the description), for example a disk's
        C(<target dev='...'/>).
      - With O(state=absent) only the identity matters; the rest is ignored.
    type: str
    required: true
  state:
    description:
      - V(present) attaches the device, or updates it when it differs.
      - V(absent) detaches it.
    type: str
    choices: [present, absent]
    default: present
  affect:
    description:
      - Where the change applies, as with libvirt's C(VIR_DOMAIN_AFFECT_*) flags.
      - V(config) changes the persistent definition, which the domain uses from its next start.
      - V(live) changes the running domain only; the domain must be running.
      - V(current) is V(live) when the domain runs and V(config) when it does not; it
        cannot be combined with the other two.
      - When not set, the persistent definition is changed (for a persistent domain) and,
        when the domain runs, the running domain too.
    type: list
    elements: str
    choices: [live, config, current]
  timeout:
    description:
      - Seconds to wait for the guest to release a device detached from a running domain.
      - A guest that has not released it by then (one without an operating system, or
        one that does not support hot unplug of that device) makes the task fail.
    type: float
    default: 30
notes:
  - The test driver (V(test:///default)) cannot attach, detach or update devices; with it
    only check mode and tasks that change nothing succeed.
  - M(domainops.libvirt.virt_domain_state) manages every device type its O(domainops.libvirt.virt_domain_state#module:xml)
    lists as a set, so a device of such a type added here is removed again by its next run.
    Manage a device type with one of the two modules, not both.
  - A detach from a running domain asks the guest to let the device go; libvirt returning
    does not mean the device is gone, which is why the module waits.
  - A live CD-ROM or floppy medium change while the guest resets its IDE drives (firmware
    and OS drivers do so while they probe the bus at boot) can leave libvirt believing
    the tray open; the module then warns, and a refused change says how to recover
    (see the troubleshooting guide).
seealso:
  - module: domainops.libvirt.virt_domain_state
  - module: domainops.libvirt.virt_domain_info
  - name: libvirt domain XML format, devices
    description: The elements O(xml) may contain.
    link: https://libvirt.org/formatdomain.html#devices
author:
  - domainops.libvirt developers (@domainops)
'''

EXAMPLES = r'''
- name: Hot-plug a qcow2 disk, and keep it in the definition
  domainops.libvirt.virt_domain_device:
    name: web01
    xml: |
      <disk type='file' device='disk'>
        <driver name='qemu' type='qcow2'/>
        <source file='/var/lib/libvirt/images/web01-data.qcow2'/>
        <target dev='vdb' bus='virtio'/>
      </disk>

- name: Insert an ISO into the CD-ROM drive of the running guest only
  domainops.libvirt.virt_domain_device:
    name: web01
    affect: [live]
    xml: |
      <disk type='file' device='cdrom'>
        <source file='/var/lib/libvirt/images/tools.iso'/>
        <target dev='hdc' bus='ide'/>
      </disk>

- name: Eject it (no source means an empty drive)
  domainops.libvirt.virt_domain_device:
    name: web01
    affect: [live]
    xml: |
      <disk type='file' device='cdrom'>
        <target dev='hdc' bus='ide'/>
      </disk>

- name: Take the link of an interface down without unplugging it
  domainops.libvirt.virt_domain_device:
    name: web01
    xml: |
      <interface type='network'>
        <mac address='52:54:00:12:34:56'/>
        <link state='down'/>
      </interface>

- name: Unplug the data disk, waiting up to a minute for the guest to release it
  domainops.libvirt.virt_domain_device:
    name: web01
    state: absent
    timeout: 60
    xml: "<disk type='file' device='disk'><target dev='vdb'/></disk>"

- name: Add a serial console to a shut-off domain's definition
  domainops.libvirt.virt_domain_device:
    uuid: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    affect: [config]
    xml: |
      <serial type='pty'>
        <target port='1'/>
      </serial>
'''

RETURN = r'''
changed:
  description: Whether a device was attached, updated or detached (or would have been, in check mode).
  returned: always
  type: bool
  sample: true
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
    - The libvirt operations performed (in check mode, those a real run would perform), each
      with the scope it applied to; the persistent definition comes first.
  returned: always
  type: list
  elements: str
  sample: ['attach (config)', 'attach (live)']
device:
  description:
    - The device XML before and after the task, for each scope the task affected (C(live),
      C(config)). A scope without the device has V(null). In check mode C(after) is the
      predicted device. Secrets (graphics passwords) are masked.
  returned: always
  type: dict
  contains:
    before:
      description: The device before the task, by scope.
      type: dict
      sample:
        config: null
        live: null
    after:
      description: The device after the task, by scope, as libvirt reports it.
      type: dict
      sample:
        config: "<disk type=\"file\" device=\"disk\">\n  <driver name=\"qemu\" type=\"qcow2\"/>\n  ...\n</disk>\n"
        live: "<disk type=\"file\" device=\"disk\">\n  ...\n  <alias name=\"virtio-disk1\"/>\n  ...\n</disk>\n"
waited:
  description: Seconds spent waiting for the guest to release a detached device (0 when there was no wait).
  returned: always
  type: float
  sample: 0.312
domain:
  description: The domain after the task.
  returned: success
  type: dict
  contains:
    name:
      description: Domain name.
      type: str
      sample: web01
    uuid:
      description: Domain UUID.
      type: str
      sample: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    id:
      description: Domain ID while it runs, else V(null).
      type: int
      sample: 7
    state:
      description: Domain state (V(running), V(shutoff), V(paused), ...).
      type: str
      sample: running
    state_reason:
      description: Why it is in that state, in libvirt's words (V(booted), V(destroyed), ...).
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
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule, SECRET_PATHS_ARGUMENT_SPEC
from ansible_collections.domainops.libvirt.plugins.module_utils.devices import DEVICE_ARGUMENT_SPEC, manage_device


def main():
    module = LibvirtModule(dict(DEVICE_ARGUMENT_SPEC, **SECRET_PATHS_ARGUMENT_SPEC), required_one_of=[('name', 'uuid')], supports_check_mode=True)
    module.run(manage_device, events=True)


if __name__ == '__main__':
    main()
