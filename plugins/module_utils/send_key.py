# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_domain_send_key (key names to
# keycodes, key combinations, typing text, sending them with virDomainSendKey).
# Not a public API.

from __future__ import annotations

import difflib
import re
import time

from ansible_collections.domainops.libvirt.plugins.module_utils.connection import describe_libvirt_error
from ansible_collections.domainops.libvirt.plugins.module_utils.domain import describe_domain, domain_state
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError, LibvirtCallError

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

# libvirt refuses more keys than this in one virDomainSendKey call.
MAX_KEYS = 16
MAX_MILLISECONDS = 2 ** 31 - 1  # holdtime is a C int in libvirt-python

# Codeset option values and the libvirt constants they stand for. libvirt's C header
# keeps RFB as an old alias of QNUM; the Python binding has only QNUM.
CODESETS = {
    'linux': ('VIR_KEYCODE_SET_LINUX',),
    'xt': ('VIR_KEYCODE_SET_XT',),
    'atset1': ('VIR_KEYCODE_SET_ATSET1',),
    'atset2': ('VIR_KEYCODE_SET_ATSET2',),
    'atset3': ('VIR_KEYCODE_SET_ATSET3',),
    'os_x': ('VIR_KEYCODE_SET_OSX',),
    'xt_kbd': ('VIR_KEYCODE_SET_XT_KBD',),
    'usb': ('VIR_KEYCODE_SET_USB',),
    'win32': ('VIR_KEYCODE_SET_WIN32',),
    'rfb': ('VIR_KEYCODE_SET_RFB', 'VIR_KEYCODE_SET_QNUM'),
    'qnum': ('VIR_KEYCODE_SET_QNUM',),
}

# Linux input event codes 1..248 (KEY_* in linux/input-event-codes.h) in code order,
# without the KEY_ prefix; '-' marks a code the kernel leaves unassigned.
_LINUX_KEY_TABLE = """
    ESC 1 2 3 4 5 6 7 8 9 0 MINUS EQUAL BACKSPACE TAB Q W E R T Y U I O P LEFTBRACE
    RIGHTBRACE ENTER LEFTCTRL A S D F G H J K L SEMICOLON APOSTROPHE GRAVE LEFTSHIFT
    BACKSLASH Z X C V B N M COMMA DOT SLASH RIGHTSHIFT KPASTERISK LEFTALT SPACE
    CAPSLOCK F1 F2 F3 F4 F5 F6 F7 F8 F9 F10 NUMLOCK SCROLLLOCK KP7 KP8 KP9 KPMINUS
    KP4 KP5 KP6 KPPLUS KP1 KP2 KP3 KP0 KPDOT - ZENKAKUHANKAKU 102ND F11 F12 RO
    KATAKANA HIRAGANA HENKAN KATAKANAHIRAGANA MUHENKAN KPJPCOMMA KPENTER RIGHTCTRL
    KPSLASH SYSRQ RIGHTALT LINEFEED HOME UP PAGEUP LEFT RIGHT END DOWN PAGEDOWN
    INSERT DELETE MACRO MUTE VOLUMEDOWN VOLUMEUP POWER KPEQUAL KPPLUSMINUS PAUSE
    SCALE KPCOMMA HANGEUL HANJA YEN LEFTMETA RIGHTMETA COMPOSE STOP AGAIN PROPS UNDO
    FRONT COPY OPEN PASTE FIND CUT HELP MENU CALC SETUP SLEEP WAKEUP FILE SENDFILE
    DELETEFILE XFER PROG1 PROG2 WWW MSDOS COFFEE ROTATE_DISPLAY CYCLEWINDOWS MAIL
    BOOKMARKS COMPUTER BACK FORWARD CLOSECD EJECTCD EJECTCLOSECD NEXTSONG PLAYPAUSE
    PREVIOUSSONG STOPCD RECORD REWIND PHONE ISO CONFIG HOMEPAGE REFRESH EXIT MOVE
    EDIT SCROLLUP SCROLLDOWN KPLEFTPAREN KPRIGHTPAREN NEW REDO F13 F14 F15 F16 F17
    F18 F19 F20 F21 F22 F23 F24 - - - - - PLAYCD PAUSECD PROG3 PROG4
    ALL_APPLICATIONS SUSPEND CLOSE PLAY FASTFORWARD BASSBOOST PRINT HP CAMERA SOUND
    QUESTION EMAIL CHAT SEARCH CONNECT FINANCE SPORT SHOP ALTERASE CANCEL
    BRIGHTNESSDOWN BRIGHTNESSUP MEDIA SWITCHVIDEOMODE KBDILLUMTOGGLE KBDILLUMDOWN
    KBDILLUMUP SEND REPLY FORWARDMAIL SAVE DOCUMENTS BATTERY BLUETOOTH WLAN UWB
    UNKNOWN VIDEO_NEXT VIDEO_PREV BRIGHTNESS_CYCLE BRIGHTNESS_AUTO DISPLAY_OFF WWAN
    RFKILL MICMUTE
"""

LINUX_KEYCODES = dict(
    (name, code) for code, name in enumerate(_LINUX_KEY_TABLE.split(), start=1) if name != '-')
_LINUX_KEY_NAMES = dict((code, name) for name, code in LINUX_KEYCODES.items())

# The short forms people type, to the kernel's names.
SHORT_NAMES = {
    'CTRL': 'LEFTCTRL', 'CONTROL': 'LEFTCTRL', 'LCTRL': 'LEFTCTRL', 'RCTRL': 'RIGHTCTRL',
    'ALT': 'LEFTALT', 'LALT': 'LEFTALT', 'RALT': 'RIGHTALT', 'ALTGR': 'RIGHTALT',
    'SHIFT': 'LEFTSHIFT', 'LSHIFT': 'LEFTSHIFT', 'RSHIFT': 'RIGHTSHIFT',
    'META': 'LEFTMETA', 'SUPER': 'LEFTMETA', 'WIN': 'LEFTMETA', 'WINDOWS': 'LEFTMETA',
    'CMD': 'LEFTMETA', 'LMETA': 'LEFTMETA', 'RMETA': 'RIGHTMETA',
    'DEL': 'DELETE', 'INS': 'INSERT', 'RETURN': 'ENTER', 'ESCAPE': 'ESC',
    'BKSP': 'BACKSPACE', 'PGUP': 'PAGEUP', 'PGDN': 'PAGEDOWN', 'PAGEDN': 'PAGEDOWN',
    'CAPS': 'CAPSLOCK', 'PRINTSCREEN': 'SYSRQ', 'PRTSC': 'SYSRQ', 'PRINT_SCREEN': 'SYSRQ',
    'PERIOD': 'DOT', 'ARROWUP': 'UP', 'ARROWDOWN': 'DOWN', 'ARROWLEFT': 'LEFT', 'ARROWRIGHT': 'RIGHT',
}

# Typing text: characters to (shifted, key) on a US keyboard layout.
_UNSHIFTED = {
    ' ': 'SPACE', '\n': 'ENTER', '\t': 'TAB', '-': 'MINUS', '=': 'EQUAL', '[': 'LEFTBRACE',
    ']': 'RIGHTBRACE', ';': 'SEMICOLON', "'": 'APOSTROPHE', '`': 'GRAVE', '\\': 'BACKSLASH',
    ',': 'COMMA', '.': 'DOT', '/': 'SLASH',
}
_SHIFTED = {
    '!': '1', '@': '2', '#': '3', '$': '4', '%': '5', '^': '6', '&': '7', '*': '8', '(': '9',
    ')': '0', '_': 'MINUS', '+': 'EQUAL', '{': 'LEFTBRACE', '}': 'RIGHTBRACE', ':': 'SEMICOLON',
    '"': 'APOSTROPHE', '~': 'GRAVE', '|': 'BACKSLASH', '<': 'COMMA', '>': 'DOT', '?': 'SLASH',
}

_NUMBER_RE = re.compile(r'^(0[xX][0-9a-fA-F]+|[0-9]+)$')


def codeset_constant(codeset):
    """libvirt's VIR_KEYCODE_SET_* value for a codeset option value."""
    for constant in CODESETS[codeset]:
        value = getattr(libvirt, constant, None)
        if value is not None:
            return value
    raise InputError("codeset '%s' is not known to this libvirt-python; nothing was sent" % codeset)


def linux_keycode(name):
    """The Linux keycode for a key name (KEY_DELETE, delete, del, f2, a, 7), or InputError."""
    key = name.strip().upper()
    if key.startswith('KEY_'):
        key = key[4:]
    key = SHORT_NAMES.get(key, key)
    if key in LINUX_KEYCODES:
        return LINUX_KEYCODES[key]
    # Compare without the prefix, so 'ctlr' finds 'ctrl' as well as KEY_LEFTCTRL.
    spelled = dict(('KEY_' + k, k) for k in LINUX_KEYCODES)
    spelled.update((k.lower(), k) for k in SHORT_NAMES)
    bare = dict((v, k) for k, v in spelled.items())
    close = [bare[m] for m in difflib.get_close_matches(key, list(bare), n=5, cutoff=0.6)]
    hint = '; did you mean %s?' % ', '.join(close) if close else \
        '; use Linux key names such as KEY_LEFTCTRL, KEY_DELETE, ctrl, del, f2, a'
    raise InputError('unknown key name %r%s; nothing was sent' % (name, hint))


def keycode(item, codeset):
    """One key of a combination: a number (int, '42', '0x2a') or, for codeset linux, a name."""
    if isinstance(item, bool):  # YAML yes/no would otherwise pass as 1/0
        raise InputError('key %r is neither a key name nor a keycode; nothing was sent' % (item,))
    if isinstance(item, int):
        code = item
    elif isinstance(item, str) and _NUMBER_RE.match(item.strip()) and \
            not (codeset == 'linux' and len(item.strip()) == 1):
        # A quoted single digit is the digit key people type ('7'), longer digit
        # strings and 0x... are keycodes like YAML integers.
        code = int(item.strip(), 0)
    elif isinstance(item, str) and item.strip():
        if codeset != 'linux':
            raise InputError("key name %r: names are only translated for codeset linux; give "
                             "numeric keycodes for codeset %s; nothing was sent" % (item, codeset))
        return linux_keycode(item)
    else:
        raise InputError('key %r is neither a key name nor a keycode; nothing was sent' % (item,))
    if code < 0 or code > 0xFFFF:
        raise InputError('keycode %d is out of range (0-65535); nothing was sent' % code)
    return code


def combination(keys, codeset):
    """Keycodes of one combination, pressed together: a list of keys or 'ctrl+alt+del'."""
    if not isinstance(keys, (list, tuple)):
        keys = [keys]
    codes = []
    for item in keys:
        # 'ctrl+alt+del' is three keys; a lone '+' is left for the name lookup to refuse.
        parts = item.split('+') if isinstance(item, str) and item.strip() != '+' else [item]
        codes.extend(keycode(part, codeset) for part in parts if not isinstance(part, str) or part.strip())
    if not codes:
        raise InputError('an empty key combination cannot be sent; nothing was sent')
    if len(codes) > MAX_KEYS:
        raise InputError('%d keys in one combination; libvirt sends at most %d at once; '
                         'nothing was sent' % (len(codes), MAX_KEYS))
    return codes


def text_combinations(text, show=True):
    """Key combinations that type `text` on a US keyboard layout (codeset linux).

    Without `show`, an error names the position of a bad character, not the character.
    """
    combos = []
    for position, char in enumerate(text, start=1):
        if char.isascii() and char.isalpha():
            key, shifted = char.upper(), char.isupper()
        elif char.isascii() and char.isdigit():
            key, shifted = char, False
        elif char in _UNSHIFTED:
            key, shifted = _UNSHIFTED[char], False
        elif char in _SHIFTED:
            key, shifted = _SHIFTED[char], True
        else:
            which = '%r (character %d)' % (char, position) if show else 'character %d' % position
            raise InputError('text: %s cannot be typed (only printable ASCII, newline and tab on a US '
                             'layout); nothing was sent' % which)
        codes = [LINUX_KEYCODES[key]]
        if shifted:
            codes.insert(0, LINUX_KEYCODES['LEFTSHIFT'])
        combos.append(codes)
    return combos


def planned_combinations(params):
    """Every combination the task sends, in order, as lists of keycodes."""
    codeset = params['codeset']
    if params.get('keys') is not None:
        return [combination(params['keys'], codeset)]
    if params.get('sequence') is not None:
        if not params['sequence']:
            raise InputError('sequence is empty; nothing was sent')
        return [combination(keys, codeset) for keys in params['sequence']]
    if codeset != 'linux':
        raise InputError('text is typed with Linux keycodes; it needs codeset linux, not %s; '
                         'nothing was sent' % codeset)
    if not params['text']:
        raise InputError('text is empty; nothing was sent')
    return text_combinations(params['text'], show=bool(params.get('show_text')))


def _label(codes, codeset):
    if codeset == 'linux':
        return '+'.join('KEY_' + _LINUX_KEY_NAMES[c] if c in _LINUX_KEY_NAMES else str(c) for c in codes)
    return '+'.join(str(c) for c in codes)


def send_keys(task):
    """virt_domain_send_key's handler: validate everything, then send each combination."""
    params = task.params
    for name in ('holdtime', 'delay'):
        if params[name] < 0:
            raise InputError('%s must not be negative (got %d); nothing was sent' % (name, params[name]))
        if params[name] > MAX_MILLISECONDS:
            # libvirt-python raises OverflowError (a traceback) for holdtime beyond a C int.
            raise InputError('%s %d is out of range (at most %d ms); nothing was sent'
                             % (name, params[name], MAX_MILLISECONDS))
    combos = planned_combinations(params)
    codeset_value = codeset_constant(params['codeset'])

    dom = task.lookup()
    if not dom.isActive():
        state = domain_state(dom)[0]
        raise InputError('domain %s is not running (state %s): keys go to a running guest; '
                         'nothing was sent' % (task.domain_label, state))

    if params.get('text') is not None and not params.get('show_text'):
        # The text may be a password: one action that says only how much was typed.
        count = len(params['text'])
        task.mutate('type %d characters' % count, _type_hidden, task, dom, codeset_value, combos)
        return dict(changed=True, sent=[], typed=count, domain=describe_domain(dom))

    for index, codes in enumerate(combos):
        if index and params['delay'] and not task.check_mode:
            time.sleep(params['delay'] / 1000.0)
        task.mutate('send_key %s %s' % (params['codeset'], _label(codes, params['codeset'])),
                    dom.sendKey, codeset_value, params['holdtime'], codes, len(codes), 0)

    # Sending keys always acts on the guest; check mode predicts that change.
    result = dict(changed=True, sent=combos, domain=describe_domain(dom))
    if params.get('text') is not None:
        result['typed'] = len(params['text'])
    return result


def _type_hidden(task, dom, codeset_value, combos):
    """Type every character; a refusal says how far it got, never which keys."""
    params = task.params
    for index, codes in enumerate(combos):
        if index and params['delay']:
            time.sleep(params['delay'] / 1000.0)
        try:
            dom.sendKey(codeset_value, params['holdtime'], codes, len(codes), 0)
        except libvirt.libvirtError as err:
            raise LibvirtCallError('libvirt refused a key press after %d of %d characters were typed into domain %s: '
                                   '%s' % (index, len(combos), task.domain_label, describe_libvirt_error(err)))
