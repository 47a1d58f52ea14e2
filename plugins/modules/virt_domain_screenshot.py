#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_domain_screenshot
short_description: Save a screenshot of a libvirt domain's console as PNG
version_added: 0.1.0
description:
  - Takes a screenshot of a running (or paused) domain's display through libvirt's
    stream API (C(virDomainScreenshot)) and writes it as a PNG file to O(dest) on the
    host the module runs on.
  - When the hypervisor returns another format (QEMU may return PPM), the image is
    converted to PNG in pure Python; no imaging library is needed.
  - Reports a change only when the file's content differs from what O(dest) held
    before (or when its file attributes change), so the shot of an unchanged screen,
    for example of a paused domain, is no change.
  - The file is first written to a temporary file in the same directory and then moved
    over O(dest), so a failure never leaves a partial file.
options:
  dest:
    description:
      - Path of the PNG file to write. Its directory must exist and be writable.
    type: path
    required: true
  screen:
    description:
      - Which screen (video head) to capture, for domains with more than one.
    type: int
    default: 0
notes:
  - The domain needs a video device (not of model V(none)); a domain without one has
    nothing to capture and the task fails.
  - A running guest's text console blinks its cursor, so two shots taken a moment
    apart may differ.
seealso:
  - module: domainops.libvirt.virt_domain_send_key
  - name: virDomainScreenshot
    description: libvirt's API.
    link: https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainScreenshot
author:
  - domainops.libvirt developers (@domainops)
extends_documentation_fragment:
  - domainops.libvirt.connection
  - domainops.libvirt.connection.selector
  - domainops.libvirt.connection.attributes
  - ansible.builtin.files
attributes:
  check_mode:
    description: Can run in check mode and report what it would do without doing it.
    support: full
    details:
      - Check mode still takes the screenshot (that changes nothing in the domain) and
        compares it with O(dest), but writes nothing.
  diff_mode:
    description: Returns what changed (or would change in check mode) for C(--diff).
    support: none
  idempotent:
    support: partial
    details: No change when the screen shows the same picture; a live screen may differ from one shot to the next.
'''

EXAMPLES = r'''
- name: Capture the console of web01
  domainops.libvirt.virt_domain_screenshot:
    name: web01
    dest: /var/tmp/web01.png
  register: shot

- name: Show its size
  ansible.builtin.debug:
    msg: "{{ shot.width }}x{{ shot.height }}, {{ shot.size }} bytes, changed={{ shot.changed }}"

- name: Capture the second screen, readable only by its owner
  domainops.libvirt.virt_domain_screenshot:
    uuid: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    screen: 1
    dest: /srv/shots/desk02-screen1.png
    mode: '0600'
'''

RETURN = r'''
path:
  description: Absolute path of the PNG file.
  returned: success
  type: str
  sample: /var/tmp/web01.png
mime_type:
  description: The image type the hypervisor returned, before any conversion to PNG.
  returned: success
  type: str
  sample: image/png
size:
  description: Size of the PNG in bytes.
  returned: success
  type: int
  sample: 4127
sha256:
  description: SHA-256 of the PNG, as hexadecimal.
  returned: success
  type: str
  sample: 9f2c1d4b6a0e3f8e5b7c1a2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f
width:
  description: Width of the image in pixels.
  returned: success
  type: int
  sample: 720
height:
  description: Height of the image in pixels.
  returned: success
  type: int
  sample: 400
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
  description: What was done (in check mode, would be done); writing the file is the only action.
  returned: always
  type: list
  elements: str
  sample: ["write /var/tmp/web01.png"]
domain:
  description: The domain the screenshot was taken of.
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
      description: Hypervisor ID of the running domain.
      type: int
      sample: 7
    state:
      description: libvirt state (running or paused).
      type: str
      sample: running
    state_reason:
      description: libvirt's reason for that state.
      type: str
      sample: booted
    persistent:
      description: Whether the domain is defined persistently.
      type: bool
      sample: true
    autostart:
      description: Whether the domain starts with the host.
      type: bool
      sample: false
'''

from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule
from ansible_collections.domainops.libvirt.plugins.module_utils.screenshot import take_screenshot


def main():
    module = LibvirtModule(
        argument_spec=dict(
            dest=dict(type='path', required=True),
            screen=dict(type='int', default=0),
        ),
        required_one_of=[('name', 'uuid')],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    module.run(take_screenshot)


if __name__ == '__main__':
    main()
