#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: virt_domain_send_key
short_description: Send key presses to a running libvirt domain
version_added: 0.1.0
description:
  - Presses keys on the virtual keyboard of a running domain through libvirt's C(virDomainSendKey),
    as if they were typed on its console.
  - One combination is pressed at once (O(keys), for example Ctrl+Alt+Del); O(sequence)
    presses several combinations one after another; O(text) types a string.
  - Sending keys always acts on the guest, so the task always reports a change.
    In check mode every key is validated and RV(sent) shows what would be sent, but
    nothing is sent.
options:
  keys:
    description:
      - The keys of one combination, pressed together and then released together.
      - Each key is a Linux key name (V(KEY_LEFTCTRL), V(KEY_DELETE), or without the prefix
        and in any case, V(leftctrl)), a short form (V(ctrl), V(alt), V(shift), V(del),
        V(enter), V(esc), V(f2), V(a), ...), or a keycode number of O(codeset)
        (V(29) or V(0x1d)).
      - A quoted single digit (V('7')) is that digit's key; an integer or a longer
        number is a keycode.
      - A single string such as V(ctrl+alt+del) is split at C(+).
      - At most 16 keys (libvirt's limit).
      - Exactly one of O(keys), O(sequence) and O(text) is required.
    type: list
    elements: raw
  sequence:
    description:
      - Several combinations pressed one after another, each written like O(keys)
        (a list of keys, or a string such as V(ctrl+alt+f2)).
    type: list
    elements: raw
  text:
    description:
      - A string to type, one key press per character (with Shift for capitals and
        symbols), assuming a US keyboard layout in the guest. A newline presses Enter.
      - Only printable ASCII, newline and tab. Needs O(codeset=linux).
      - The text may be a password, so it is not shown unless O(show_text=true). The
        result has one action that says how many characters were typed, RV(sent) is empty,
        and the invocation echo, the module's log line on the host and error messages do
        not contain it. (It is not C(no_log), as Ansible would then blank out every occurrence
        of a short text, a single letter say, from all messages.) Use the task keyword
        C(no_log) as well to keep the whole task out of logs.
    type: str
  show_text:
    description:
      - Show what O(text) types, with one action per character naming its keys, the
        keycodes in RV(sent), and the text in the invocation echo.
    type: bool
    default: false
  codeset:
    description:
      - The keycode set numeric keys belong to (libvirt's C(VIR_KEYCODE_SET_*)).
      - Key names are translated only for V(linux); with any other codeset give numbers.
      - V(rfb) is libvirt's older name for V(qnum).
    type: str
    default: linux
    choices: [linux, xt, atset1, atset2, atset3, os_x, xt_kbd, usb, win32, rfb, qnum]
  holdtime:
    description:
      - How long each combination is held down, in milliseconds.
      - V(0) lets the hypervisor choose (QEMU holds keys for 100 ms).
    type: int
    default: 0
  delay:
    description:
      - Pause between two combinations of O(sequence) or O(text), in milliseconds.
    type: int
    default: 0
notes:
  - The domain must be running. libvirt does not say whether the guest acted on the
    keys; a guest that is still booting may miss them.
seealso:
  - module: domainops.libvirt.virt_domain_screenshot
  - name: virDomainSendKey
    description: libvirt's API and its keycode sets.
    link: https://libvirt.org/html/libvirt-libvirt-domain.html#virDomainSendKey
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
    details: Validates the keys and reports RV(sent) without sending anything.
  diff_mode:
    description: Returns what changed (or would change in check mode) for C(--diff).
    support: none
  idempotent:
    support: none
    details: Every run sends the keys again.
'''

EXAMPLES = r'''
- name: Press Ctrl+Alt+Del in the guest
  domainops.libvirt.virt_domain_send_key:
    name: web01
    keys: [KEY_LEFTCTRL, KEY_LEFTALT, KEY_DELETE]

- name: The same, the short way
  domainops.libvirt.virt_domain_send_key:
    name: web01
    keys: ctrl+alt+del

- name: Press the power button (an ACPI guest shuts down)
  domainops.libvirt.virt_domain_send_key:
    uuid: 4dea22b3-1d52-d8f3-2516-782e98ab3fa0
    keys: [KEY_POWER]

- name: Switch to the second virtual console, log in as root
  domainops.libvirt.virt_domain_send_key:
    name: web01
    sequence:
      - ctrl+alt+f2
    delay: 500

- name: Type a command and press Enter, showing what was typed
  domainops.libvirt.virt_domain_send_key:
    name: web01
    text: "uname -a\n"
    show_text: true

- name: Type a console password (the result says only "type 13 characters")
  domainops.libvirt.virt_domain_send_key:
    name: web01
    text: "{{ console_password }}\n"
  no_log: true

- name: Send raw XT scancodes (Escape)
  domainops.libvirt.virt_domain_send_key:
    name: web01
    codeset: xt
    keys: [1]
'''

RETURN = r'''
sent:
  description:
    - The keycodes of each combination, in the order they were pressed (in check mode,
      would be pressed), in O(codeset).
    - Empty for O(text) unless O(show_text=true), as the keycodes would spell the text.
  returned: success
  type: list
  elements: list
  sample: [[29, 56, 111]]
typed:
  description: With O(text), the number of characters typed (in check mode, that would be typed).
  returned: success, with O(text)
  type: int
  sample: 12
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
    - One C(send_key) entry per combination, with the key names for codeset V(linux).
    - For O(text) unless O(show_text=true), one entry C(type N characters).
  returned: always
  type: list
  elements: str
  sample: ["send_key linux KEY_LEFTCTRL+KEY_LEFTALT+KEY_DELETE"]
domain:
  description: The domain the keys went to.
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
from ansible_collections.domainops.libvirt.plugins.module_utils.send_key import CODESETS, send_keys


def main():
    module = LibvirtModule(
        argument_spec=dict(
            keys=dict(type='list', elements='raw', no_log=False),
            sequence=dict(type='list', elements='raw'),
            text=dict(type='str', no_log=False),
            show_text=dict(type='bool', default=False),
            codeset=dict(type='str', default='linux', choices=list(CODESETS)),
            holdtime=dict(type='int', default=0),
            delay=dict(type='int', default=0),
        ),
        required_one_of=[('name', 'uuid'), ('keys', 'sequence', 'text')],
        mutually_exclusive=[('keys', 'sequence', 'text')],
        supports_check_mode=True,
        hidden_unless=dict(text='show_text'),
    )
    module.run(send_keys)


if __name__ == '__main__':
    main()
