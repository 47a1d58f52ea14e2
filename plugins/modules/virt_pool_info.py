#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_pool_info
short_description: List libvirt storage pools with their sizes and the volumes in them
version_added: 0.1.0
description:
  - Returns every storage pool of the hypervisor, or the one called O(name) (RV(pools) is empty
    when it does not exist, which is not a failure), each with the volumes of a running pool.
  - Volumes are listed with their pool, as libvirt knows a volume only inside its pool (and lists the
    volumes of a running pool only). Networks are listed by M(domainops.libvirt.virt_network_info),
    one module per kind of object, so each one's options and results are of its kind alone.
  - Opens a read-only connection.
options:
  name:
    description: Only the pool with this name.
    type: str
  volumes:
    description: List the volumes of each running pool.
    type: bool
    default: true
  xml:
    description: Also return each pool's XML.
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
  - module: domainops.libvirt.virt_pool
  - module: domainops.libvirt.virt_volume
'''

EXAMPLES = r'''
- name: The volumes of the images pool
  domainops.libvirt.virt_pool_info:
    name: images
  register: images

- name: Show their names
  ansible.builtin.debug:
    msg: "{{ images.pools[0].volumes | map(attribute='name') | list }}"
'''

RETURN = r'''
pools:
  description: The pools, sorted by name.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Name of the pool.
      type: str
      sample: images
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
    volumes:
      description:
        - The volumes of a running pool, sorted by name (empty for an inactive pool or with O(volumes=false)),
          each with C(name), C(path), C(format), C(capacity), C(allocation) and C(backing) (the backing
          store's path or V(null)).
      type: list
      elements: dict
      sample: [{"name": "web01.qcow2", "path": "/var/lib/libvirt/images/web01.qcow2", "format": "qcow2",
                "capacity": 21474836480, "allocation": 200704, "backing": "/var/lib/libvirt/images/base.qcow2"}]
    xml:
      description: Its XML.
      type: str
      returned: when O(xml=true)
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule, SECRET_PATHS_ARGUMENT_SPEC
from ansible_collections.domainops.libvirt.plugins.module_utils.resource_info import list_pools


def main():
    module = LibvirtModule(
        argument_spec=dict(
            secret_paths=SECRET_PATHS_ARGUMENT_SPEC['secret_paths'],
            name=dict(type='str'),
            volumes=dict(type='bool', default=True),
            xml=dict(type='bool', default=False),
        ),
        with_selector=False,
        supports_check_mode=True,
    )
    module.run(list_pools, readonly=True)


if __name__ == '__main__':
    main()
