# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    # The connection options of every module; mirrors CONNECTION_ARGUMENT_SPEC in
    # plugins/module_utils/connection.py.
    DOCUMENTATION = r'''
options:
  uri:
    description:
      - libvirt connection URI, for example V(qemu:///system), V(qemu+ssh://root@host/system)
        or V(test:///default).
      - When not set, the E(LIBVIRT_DEFAULT_URI) environment variable of the host the module
        runs on is used, and V(qemu:///system) when that is not set either.
      - Set it once for all modules of this collection with
        C(module_defaults) and the group C(group/domainops.libvirt.libvirt).
    type: str
  username:
    description:
      - User name to answer libvirt's authentication prompt with (C(openAuth)), for example
        for SASL. Most local and SSH connections need none.
    type: str
  password:
    description:
      - Password or passphrase to answer libvirt's authentication prompt with.
      - Never logged or returned.
    type: str
requirements:
  - libvirt-python
  - lxml
'''

    # name / uuid, for modules that act on one domain.
    SELECTOR = r'''
options:
  name:
    description:
      - Name of the domain.
      - Mutually exclusive with O(uuid).
    type: str
  uuid:
    description:
      - UUID of the domain, with or without dashes, in any case.
      - Mutually exclusive with O(name).
    type: str
'''

    ATTRIBUTES = r'''
attributes:
  action_group:
    description: Use C(group/domainops.libvirt.libvirt) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - domainops.libvirt.libvirt
  idempotent:
    description:
      - When run twice with the same options, the second run reports no change (for modules that change something),
        because the module compares what is asked with what is there first.
  platform:
    description: Runs on any POSIX host that can reach the hypervisor through libvirt.
    support: full
    platforms: posix
'''
