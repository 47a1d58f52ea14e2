#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_domain_autostart
short_description: Make a libvirt domain start, or not start, with the host
version_added: 0.1.0
description:
  - Sets whether libvirt starts a persistently defined domain when libvirtd (the host)
    starts, through C(virDomainSetAutostart). Changes it only when it differs.
  - The setting belongs to the persistent definition and does not start or stop the
    domain now; use M(domainops.libvirt.virt_domain_state) for that.
options:
  enabled:
    description:
      - V(true) to start the domain with the host, V(false) not to.
      - A transient domain (one with no persistent definition) cannot autostart, so
        V(true) fails and V(false) is already the case (no change).
    type: bool
    required: true
seealso:
  - module: domainops.libvirt.virt_domain_state
  - module: domainops.libvirt.virt_domain_info
author:
  - domainops.libvirt developers (@domainops)
extends_documentation_fragment:
  - domainops.libvirt.connection
  - domainops.libvirt.connection.selector
  - domainops.libvirt.connection.attributes
attributes:
  check_mode:
    description: Can run in check mode and report what it would do without doing it.
    support: full
  diff_mode:
    description: Returns what changed (or would change in check mode) for C(--diff).
    support: full
    details: The diff shows C(autostart) before and after.
  idempotent:
    support: full
'''

EXAMPLES = r'''
- name: Start web01 whenever the host starts
  domainops.libvirt.virt_domain_autostart:
    name: web01
    enabled: true

- name: Do not start a test guest with the host, on a remote hypervisor
  domainops.libvirt.virt_domain_autostart:
    uri: qemu+ssh://root@hv1.example.com/system
    uuid: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    enabled: false
'''

RETURN = r'''
autostart:
  description: The autostart setting after the task (in check mode, what it would be).
  returned: success
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
  description: The libvirt operations performed (in check mode, that would be performed).
  returned: always
  type: list
  elements: str
  sample: ["set_autostart(true)"]
domain:
  description:
    - The domain after the task. In check mode its C(autostart) is still the current setting.
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
      sample: shutoff
    state_reason:
      description: libvirt's reason for that state.
      type: str
      sample: shutdown
    persistent:
      description: Whether the domain is defined persistently.
      type: bool
      sample: true
    autostart:
      description: Whether the domain starts with the host.
      type: bool
      sample: true
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.autostart import set_autostart
from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule


def main():
    module = LibvirtModule(
        argument_spec=dict(
            enabled=dict(type='bool', required=True),
        ),
        required_one_of=[('name', 'uuid')],
        supports_check_mode=True,
    )
    module.run(set_autostart)


if __name__ == '__main__':
    main()
