# virt_domain_send_key in-process on test:///default (real libvirt code, no daemon).
# A spy around virDomain.sendKey records what really reached libvirt.
import libvirt
import pytest

from ansible_collections.domainops.libvirt.plugins.module_utils import send_key
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError
from ansible_collections.domainops.libvirt.plugins.modules import virt_domain_send_key

CTRL, ALT, DELETE, SHIFT = 29, 56, 111, 42


@pytest.fixture
def sent_keys(monkeypatch):
    calls = []
    original = libvirt.virDomain.sendKey

    def spy(self, codeset, holdtime, keycodes, nkeycodes, flags):
        calls.append((codeset, holdtime, list(keycodes), nkeycodes, flags))
        return original(self, codeset, holdtime, keycodes, nkeycodes, flags)
    monkeypatch.setattr(libvirt.virDomain, 'sendKey', spy)
    return calls


@pytest.fixture
def running(define_domain, unique_name, minimal_domain_xml):
    dom = define_domain(minimal_domain_xml(unique_name))
    dom.create()
    return dom


def test_ctrl_alt_del_check_real_check_real(run_module, running, sent_keys):
    args = dict(name=running.name(), keys=['KEY_LEFTCTRL', 'alt', 'del'])
    results = [run_module(virt_domain_send_key, args, check=check) for check in (True, False, True, False)]
    # Sending keys is an action every time; check mode predicts it without sending.
    assert [r['changed'] for r in results] == [True] * 4
    assert all(r['sent'] == [[CTRL, ALT, DELETE]] for r in results)
    assert all(r['actions'] == ['send_key linux KEY_LEFTCTRL+KEY_LEFTALT+KEY_DELETE'] for r in results)
    assert sent_keys == [(libvirt.VIR_KEYCODE_SET_LINUX, 0, [CTRL, ALT, DELETE], 3, 0)] * 2
    assert results[1]['domain']['state'] == 'running'


def test_plus_string_numbers_and_holdtime(run_module, running, sent_keys):
    result = run_module(virt_domain_send_key, dict(name=running.name(), keys='ctrl+alt+f2', holdtime=250))
    assert result['sent'] == [[CTRL, ALT, 60]]
    result = run_module(virt_domain_send_key, dict(uuid=running.UUIDString(), keys=[29, '0x38', '111', '7']))
    assert result['sent'] == [[CTRL, ALT, DELETE, 8]]  # a quoted single digit is the digit key
    result = run_module(virt_domain_send_key, dict(name=running.name(), codeset='xt', keys=[0x1d, '0x38', 83]))
    assert result['sent'] == [[0x1d, 0x38, 83]]
    assert [(c[0], c[1]) for c in sent_keys] == [
        (libvirt.VIR_KEYCODE_SET_LINUX, 250), (libvirt.VIR_KEYCODE_SET_LINUX, 0), (libvirt.VIR_KEYCODE_SET_XT, 0)]


def test_sequence_and_text(run_module, running, sent_keys):
    result = run_module(virt_domain_send_key, dict(
        name=running.name(), sequence=[['ctrl', 'alt', 'f2'], 'enter', ['KEY_A']], delay=1))
    assert result['sent'] == [[CTRL, ALT, 60], [28], [30]]
    assert len(result['actions']) == 3
    result = run_module(virt_domain_send_key, dict(name=running.name(), text='Hi 1!\n', show_text=True))
    assert result['sent'] == [[SHIFT, 35], [23], [57], [2], [SHIFT, 2], [28]] and result['typed'] == 6
    assert result['actions'][0] == 'send_key linux KEY_LEFTSHIFT+KEY_H' and len(result['actions']) == 6
    assert len(sent_keys) == 9


def test_text_is_not_shown_by_default(run_module, running, sent_keys):
    secret = 'Pa55-w0rd!'
    for check in (True, False):
        result = run_module(virt_domain_send_key, dict(name=running.name(), text=secret + '\n'), check=check)
        assert result['actions'] == ['type 11 characters'] and result['sent'] == [] and result['typed'] == 11
        assert result['changed'] is True
    assert [keys for _c, _h, keys, _n, _f in sent_keys] == [[SHIFT, 25], [30], [6], [6], [12], [17], [11],
                                                            [19], [32], [SHIFT, 2], [28]]


def test_a_bad_character_of_a_hidden_text_is_named_by_position(run_module, running, sent_keys):
    result = run_module(virt_domain_send_key, dict(name=running.name(), text='s3cr\u00e9t'))
    assert result['failed'] and 'text: character 5 cannot be typed' in result['msg'] and '\u00e9' not in result['msg']
    result = run_module(virt_domain_send_key, dict(name=running.name(), text='s3cr\u00e9t', show_text=True))
    assert result['failed'] and "text: '\u00e9' (character 5) cannot be typed" in result['msg']
    assert sent_keys == []


def test_a_refused_key_says_how_far_the_hidden_text_got(run_module, running, monkeypatch):
    original = libvirt.virDomain.sendKey
    pressed = []

    def third_refused(self, *args):
        if len(pressed) == 2:
            running.destroy()  # the guest went away: the real refusal follows
        pressed.append(args)
        return original(self, *args)
    monkeypatch.setattr(libvirt.virDomain, 'sendKey', third_refused)
    result = run_module(virt_domain_send_key, dict(name=running.name(), text='secret'))
    assert result['failed'] and 'after 2 of 6 characters were typed' in result['msg'], result['msg']
    assert result['failed_action'] == 'type 6 characters' and result['actions'] == []
    assert 'secret' not in str(result)


@pytest.mark.parametrize('args, message', [
    (dict(keys=['KEY_LEFTCTRL', 'KEY_DELET']), "unknown key name 'KEY_DELET'; did you mean KEY_DELETE"),
    (dict(keys=['entr']), 'did you mean'),
    (dict(keys=['a'] * 17), '17 keys in one combination; libvirt sends at most 16'),
    (dict(sequence=[['a'], ['ctrl'] * 17]), 'at most 16'),
    (dict(codeset='xt', keys=['ctrl']), 'names are only translated for codeset linux'),
    (dict(codeset='usb', text='abc'), 'needs codeset linux'),
    (dict(text='caf\u00e9'), 'cannot be typed'),
    (dict(keys=[]), 'empty key combination'),
    (dict(keys=[70000]), 'out of range'),
    (dict(keys=['a'], holdtime=-1), 'holdtime must not be negative'),
])
def test_bad_keys_send_nothing(run_module, running, sent_keys, args, message):
    args = dict(args, name=running.name())
    for check in (True, False):
        result = run_module(virt_domain_send_key, args, check=check)
        assert result['failed'] is True
        assert message in result['msg'] and 'nothing was sent' in result['msg']
        assert result['actions'] == []
    assert sent_keys == []


def test_domain_not_running(run_module, define_domain, unique_name, minimal_domain_xml, sent_keys):
    define_domain(minimal_domain_xml(unique_name))
    result = run_module(virt_domain_send_key, dict(name=unique_name, keys=['KEY_POWER']))
    assert result['failed'] is True
    assert 'is not running (state shutoff)' in result['msg'] and result['actions'] == []
    assert sent_keys == []


def test_options_are_exclusive(run_module, running):
    result = run_module(virt_domain_send_key, dict(name=running.name(), keys=['a'], text='a'))
    assert result['failed'] is True and 'mutually exclusive' in result['msg']
    result = run_module(virt_domain_send_key, dict(name=running.name()))
    assert result['failed'] is True and 'one of the following' in result['msg']


def test_name_translation_directly():
    assert send_key.linux_keycode('KEY_POWER') == 116
    assert send_key.linux_keycode('key_leftmeta') == send_key.linux_keycode('win') == 125
    assert send_key.linux_keycode('F12') == 88 and send_key.linux_keycode('z') == 44
    assert send_key.linux_keycode('0') == 11 and send_key.linux_keycode('pgdn') == 109
    assert len(send_key.LINUX_KEYCODES) == 242  # 1..248 minus the kernel's 6 gaps
    with pytest.raises(InputError) as err:
        send_key.linux_keycode('ctlr')
    assert 'ctrl' in err.value.msg
    for codeset in send_key.CODESETS:
        assert isinstance(send_key.codeset_constant(codeset), int)
    assert send_key.codeset_constant('rfb') == libvirt.VIR_KEYCODE_SET_QNUM
