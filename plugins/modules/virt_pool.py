#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_pool
short_description: Define, build, start, refresh, stop and remove a libvirt storage pool
version_added: 0.1.0
description:
  - Defines a libvirt storage pool from XML (any pool type libvirt has, C(dir), C(logical),
    C(netfs), C(iscsi), ...) and brings it to O(state). The XML is compared with the stored
    definition first, with the same engine as M(domainops.libvirt.virt_domain_state); only what
    the XML says is compared, libvirt's additions (UUID, sizes, owner) are kept, and a second run
    with the same XML changes nothing.
  - libvirt keeps no C(<metadata>) in pool XML, so pools have no applied record; an element or
    attribute taken out of O(xml) is left as it is in the definition (change it to another value
    instead).
  - A change of a running pool's definition takes effect when the pool restarts; it restarts only
    with O(restart=true), otherwise the result has RV(restart_required=true).
options:
  name:
    description:
      - Name of the pool. Required unless O(xml) is given; when both are given they must agree.
    type: str
  xml:
    description:
      - The pool XML (a C(<pool>) document) to define. Only what it says is managed.
      - Without it, the pool must exist and only O(state), O(autostart) and O(refresh) apply.
    type: str
  state:
    description:
      - V(present) defines the pool (when O(xml) is given) and leaves it active or not.
      - V(running) also starts it; V(stopped) stops it (a transient pool is then gone).
      - V(absent) stops and undefines it; its storage stays unless O(delete=true).
    type: str
    choices: [present, running, stopped, absent]
    default: present
  autostart:
    description:
      - Whether libvirt starts the pool when the host starts. Not changed when omitted.
    type: bool
  build:
    description:
      - Build the pool's storage (C(virStoragePoolBuild), never overwriting; for a C(dir) pool,
        make its directory) right after this task defines it, and before each start this task makes.
    type: bool
    default: false
  refresh:
    description:
      - Refresh the volume list of a running pool (files added behind libvirt's back appear).
        Not a change, so it does not make the task report V(changed).
    type: bool
    default: false
  delete:
    description:
      - With O(state=absent), delete the pool's storage before undefining it (C(virStoragePoolDelete);
        for a C(dir) pool, remove its directory, which must be empty).
    type: bool
    default: false
  restart:
    description:
      - When the definition of a running pool changed, stop and start it so the change takes effect now.
    type: bool
    default: false
seealso:
  - module: domainops.libvirt.virt_volume
  - module: domainops.libvirt.virt_network
  - name: libvirt storage pool XML format
    description: The elements a pool definition can hold.
    link: https://libvirt.org/formatstorage.html
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
    details: The diff shows the state and the stored pool XML before and after.
  idempotent:
    support: full
'''

EXAMPLES = r'''
- name: A directory pool, made, running and started with the host
  domainops.libvirt.virt_pool:
    state: running
    build: true
    autostart: true
    xml: |
      <pool type='dir'>
        <name>images</name>
        <target><path>/var/lib/libvirt/images</path></target>
      </pool>

- name: Remove the pool and its (empty) directory
  domainops.libvirt.virt_pool:
    name: images
    state: absent
    delete: true
'''

RETURN = r'''
pool:
  description: The pool after the task (in check mode, as the task would leave it).
  returned: success
  type: dict
  contains:
    name:
      description: Name of the pool.
      type: str
      sample: images
    uuid:
      description: UUID of the pool, V(null) when absent or only planned in check mode.
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
    type:
      description: The pool type.
      type: str
      sample: dir
    path:
      description: Its target path.
      type: str
      sample: /var/lib/libvirt/images
    capacity:
      description: Size in bytes of a running pool, else V(null).
      type: int
      sample: 270553174016
    allocation:
      description: Bytes allocated in a running pool, else V(null).
      type: int
      sample: 24434208768
    available:
      description: Bytes free in a running pool, else V(null).
      type: int
      sample: 246118965248
actions:
  description:
    - The libvirt operations performed (in check mode, that would be performed), for example
      V(define), V(build), V(create), V(refresh), V(destroy), V(delete), V(undefine), V(set_autostart(true)).
  returned: always
  type: list
  elements: str
  sample: ["define", "build", "create"]
differences:
  description: Paths where the stored definition differed from O(xml) (empty when it matched).
  returned: success
  type: list
  elements: str
  sample: ["target/path"]
restart_required:
  description: Whether the running pool still lacks part of the new definition until it restarts.
  returned: success
  type: bool
  sample: false
live_differences:
  description: What the running pool lacks until it restarts.
  returned: when RV(restart_required) is true
  type: list
  elements: str
  sample: ["target/permissions/mode"]
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule, SECRET_PATHS_ARGUMENT_SPEC
from ansible_collections.domainops.libvirt.plugins.module_utils.pool import manage_pool


def main():
    module = LibvirtModule(
        argument_spec=dict(
            secret_paths=SECRET_PATHS_ARGUMENT_SPEC['secret_paths'],
            name=dict(type='str'),
            xml=dict(type='str'),
            state=dict(type='str', default='present', choices=['present', 'running', 'stopped', 'absent']),
            autostart=dict(type='bool'),
            build=dict(type='bool', default=False),
            refresh=dict(type='bool', default=False),
            delete=dict(type='bool', default=False),
            restart=dict(type='bool', default=False),
        ),
        with_selector=False,
        required_one_of=[('name', 'xml')],
        supports_check_mode=True,
    )
    module.run(manage_pool)


if __name__ == '__main__':
    main()
