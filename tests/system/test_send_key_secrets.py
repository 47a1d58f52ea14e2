# virt_domain_send_key with `text` (a console password is a natural use): the typed text
# is planted and then looked for in everything a user or a log could see, on the real
# daemon: the module's JSON result (Ansible's invocation echo included) in check mode and
# for real with --diff, its failures (domain not running, a character that cannot be
# typed, conflicting options refused before the module runs), the line the module logs
# on the host, and ansible-playbook -vvv output with the registered result printed.
# Neither the text nor the keys that spell it may be found; with show_text they are.
import os
import subprocess
import sys

import pytest
from ansible.module_utils import basic

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain, run_module  # noqa: E402
from sysenv import REPO, URI, VENV_BIN, connect, noos_xml, unique  # noqa: E402

SECRET = 'Pl4nted-S3cret'
# What would spell it: its key names in actions, its keycodes in `sent` (P is [42, 25]).
SPELLED = ('KEY_LEFTSHIFT+KEY_P', '[42, 25]')


def findings(text):
    """Where the planted secret shows in `text` (empty: nowhere)."""
    return [what for what in (SECRET,) + SPELLED if what in text]


@pytest.fixture
def guest():
    conn = connect()
    running, stopped = unique('keys'), unique('keys-off')
    conn.defineXML(noos_xml(running)).create()
    conn.defineXML(noos_xml(stopped))
    yield running, stopped
    for name in (running, stopped):
        remove_domain(conn, name)
    conn.close()


def test_typed_text_is_never_shown_unless_asked(guest, monkeypatch):
    running, stopped = guest
    logged = []
    monkeypatch.setattr(basic.AnsibleModule, 'log', lambda self, msg, log_args=None: logged.append(msg))
    cases = [
        ('check mode', dict(name=running, text=SECRET + '\n'), dict(check=True, diff=True), False),
        ('real', dict(name=running, text=SECRET + '\n'), dict(diff=True), False),
        ('domain not running', dict(name=stopped, text=SECRET), {}, True),
        ('character that cannot be typed', dict(name=running, text=SECRET + '\u00e9'), {}, True),
        ('refused before the module runs', dict(name=running, text=SECRET, keys=['a']), {}, True),
        ('bad option type with it', dict(name=running, text=SECRET, holdtime='long'), {}, True),
    ]
    checked = 0
    for label, args, how, fails in cases:
        result = run_module('virt_domain_send_key', args, URI, **how)
        assert result['failed'] is fails and not result.get('crashed'), (label, result)
        assert 'VALUE_HIDDEN' in result['stdout'], (label, 'the invocation echo is not in the result')
        assert findings(result['stdout']) == [], (label, result['stdout'][:3000])
        if not fails:
            assert result['actions'] == ['type 15 characters'] and result['sent'] == [] and result['typed'] == 15
        checked += 1
    assert logged and all(findings(line) == [] for line in logged), logged
    checked += len(logged)
    print('send_key text: %d outputs checked, planted secret found 0 times' % checked)

    # Asked to show it: the user sees what was typed.
    shown = run_module('virt_domain_send_key', dict(name=running, text=SECRET, show_text=True), URI)
    assert not shown['failed'] and SECRET in shown['stdout'] and len(shown['actions']) == len(SECRET)
    assert shown['actions'][0] == 'send_key linux KEY_LEFTSHIFT+KEY_P'


PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - domainops.libvirt.virt_domain_send_key:
        uri: "{{ uri }}"
        name: "{{ guest }}"
        text: "{{ console_password }}\\n"
      register: typed
    - ansible.builtin.debug:
        var: typed
    - name: the same text on a domain that is not running
      domainops.libvirt.virt_domain_send_key:
        uri: "{{ uri }}"
        name: "{{ stopped }}"
        text: "{{ console_password }}"
      ignore_errors: true
"""


def test_typed_text_not_in_playbook_output(guest, tmp_path):
    running, stopped = guest
    play = tmp_path / 'play.yml'
    play.write_text(PLAY)
    (tmp_path / 'vars.yml').write_text('console_password: %s\n' % SECRET)
    env = dict(os.environ, ANSIBLE_INJECT_INVOCATION='1', ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build', 'collections'),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_NOCOLOR='1',
               PATH=VENV_BIN + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), '-vvv', '-i', 'localhost,', '-c', 'local',
                           '-e', 'ansible_python_interpreter=%s' % sys.executable, '-e', 'uri=%s' % URI,
                           '-e', 'guest=%s' % running, '-e', 'stopped=%s' % stopped,
                           '-e', '@%s' % (tmp_path / 'vars.yml'), str(play)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert 'ok=3' in proc.stdout and 'ignored=1' in proc.stdout, proc.stdout[-3000:]
    output = proc.stdout
    assert 'type 15 characters' in output and '"invocation"' in output, output[-3000:]
    assert findings(output) == [], output[-4000:]
