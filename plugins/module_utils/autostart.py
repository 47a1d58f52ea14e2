# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_domain_autostart. Not a public API.

from __future__ import annotations

from ansible_collections.domainops.libvirt.plugins.module_utils.domain import describe_domain
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError


def set_autostart(task):
    """virt_domain_autostart's handler: make the domain's autostart flag `enabled`."""
    enabled = task.params['enabled']
    dom = task.lookup()
    if dom.isPersistent():
        before = bool(dom.autostart())
    elif enabled:
        # libvirt keeps autostart with the persistent definition; a transient domain
        # has none and disappears when it stops.
        raise InputError('domain %s is transient (running without a persistent definition) and '
                         'cannot autostart; define it persistently first; nothing was changed'
                         % task.domain_label)
    else:
        before = False  # never autostarts, which is what was asked

    changed = before != enabled
    if changed:
        task.mutate('set_autostart(%s)' % str(enabled).lower(), dom.setAutostart, 1 if enabled else 0)

    result = dict(changed=changed, autostart=enabled, domain=describe_domain(dom))
    if task.module._diff:
        result['diff'] = dict(before=dict(autostart=before), after=dict(autostart=enabled))
    return result
