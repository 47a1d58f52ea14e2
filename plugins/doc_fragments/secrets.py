# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    # secret_paths, for every module whose result can hold domain, network, pool or
    # volume XML; mirrors SECRET_PATHS_ARGUMENT_SPEC in plugins/module_utils/module.py.
    DOCUMENTATION = r'''
options:
  secret_paths:
    description:
      - More XML values to treat as secrets, in addition to the built-in ones (every C(passwd) and
        C(password) attribute, a network disk's C(cookies/cookie) values, C(sysinfo/oemStrings/entry)
        values and the values of C(qemu:commandline) C(arg) and C(env)).
      - Each path is element names separated by C(/), optionally ending in C(/@attribute). For example
        V(metadata/token) hides the text of every C(<token>) element inside a C(<metadata>) element,
        V(devices/interface/source/@path) hides that attribute. A path matches at any depth (it names the
        end of the element's chain of parents), and each name matches the element's local name in any
        XML namespace (V(commandline/arg/@value) matches C(qemu:commandline)).
      - Secret values are replaced by C(********) in every XML text of the result and in C(--diff), and
        Ansible hides them wherever else they appear (messages, warnings, the echo of the task's
        arguments). The comparison and the XML sent to libvirt keep the real values.
      - A malformed path fails the task before anything is done.
    type: list
    elements: str
    default: []
'''
