# Secrets: a graphics password given in XML never shows up in a result (including the
# invocation Ansible returns), a diff, a warning or an error message, unless the user
# asks for secure XML (virt_domain_info xml_flags: [secure]); the `password` connection
# option is no_log, also in ansible-playbook -vvv output.
import os
import subprocess
import sys

import libvirt
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain, run_module  # noqa: E402
from sysenv import REPO, URI, VENV_BIN, connect, noos_xml, unique  # noqa: E402

PW1, PW2, PW3 = 'Pq1sQ7x1', 'Pq2sZ9y2', 'Pq3sK4w3'  # VNC: 8 characters at most
GRAPHICS = "<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1' passwd='%s'/>"


def no_secret(result, *secrets):
    text = result['stdout']
    for secret in secrets:
        assert secret not in text, 'secret %s leaked: %s' % (secret, text[:3000])


@pytest.fixture
def conn():
    connection = connect()
    yield connection
    connection.close()


def test_graphics_password_never_leaks(conn):
    name = unique('secret')
    try:
        xml1 = noos_xml(name, extra=GRAPHICS % PW1)
        result = run_module('virt_domain_state', dict(xml=xml1, state='running'), URI, diff=True)
        assert not result['failed'] and result['changed'], result['msg']
        no_secret(result, PW1)
        # a new password in the definition: diff, differences and restart_required masked
        xml2 = noos_xml(name, extra=GRAPHICS % PW2)
        for check in (True, False):
            result = run_module('virt_domain_state', dict(xml=xml2, state='running'), URI, check=check, diff=True)
            assert not result['failed'] and result['changed'], result['msg']
            assert '********' in result['diff']['after'] or check is False
            no_secret(result, PW1, PW2)
        # the live password through virt_domain_device (an in-place graphics update)
        for check in (True, False):
            result = run_module('virt_domain_device', dict(name=name, xml=GRAPHICS % PW3, affect=['live']), URI,
                                check=check, diff=True)
            assert not result['failed'] and result['actions'] == ['update (live)'], result.get('msg')
            no_secret(result, PW1, PW2, PW3)
        assert "passwd='%s'" % PW3 in conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)
        # an error while the XML holds a password: libvirt's schema check fails
        bad = noos_xml(name, extra=GRAPHICS % PW2 + '<bogus/>')
        result = run_module('virt_domain_state', dict(xml=bad, validate=True), URI)
        assert result['failed']
        no_secret(result, PW2)
        result = run_module('virt_domain_state', dict(xml=bad.replace("type='qemu'", "type='qemu' x='<'")), URI)
        assert result['failed'] and 'not well-formed' in result['msg']
        no_secret(result, PW2)
        # info: no password without `secure`, the password with it (the user asked)
        result = run_module('virt_domain_info', dict(name=name, xml=True, xml_flags=['inactive']), URI)
        no_secret(result, PW1, PW2, PW3)
        result = run_module('virt_domain_info', dict(name=name, xml=True), URI)
        no_secret(result, PW1, PW2, PW3)
        result = run_module('virt_domain_info', dict(name=name, xml=True, xml_flags=['secure']), URI)
        assert PW3 in result['domains'][0]['xml']
        result = run_module('virt_domain_info', dict(name=name, xml=True, xml_flags=['secure', 'inactive']), URI)
        assert PW2 in result['domains'][0]['xml']
    finally:
        remove_domain(conn, name)


PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - domainops.libvirt.virt_domain_info:
        uri: test:///default
        username: someone
        password: "{{ pw }}"
    - domainops.libvirt.virt_domain_state:
        uri: test:///default
        password: "{{ pw }}"
        xml: >-
          <domain type='test'><name>pb-secret</name><memory unit='MiB'>64</memory><os><type>hvm</type></os>
          <devices><graphics type='vnc' passwd='{{ graphics_pw }}'/></devices></domain>
        state: present
      register: defined
    - ansible.builtin.debug:
        var: defined
    - name: a failure while a password is in the arguments
      domainops.libvirt.virt_domain_state:
        uri: test:///default
        password: "{{ pw }}"
        xml: "<domain type='test'><name>pb-secret</name><devices><graphics type='vnc' passwd='{{ graphics_pw }}'/></devices><oops></domain>"
      ignore_errors: true
"""


def test_password_option_and_xml_secrets_hidden_in_playbook_output(tmp_path):
    play = tmp_path / 'play.yml'
    play.write_text(PLAY)
    # INJECT_INVOCATION: the task arguments in the result, as ansible-core before 2.21 always did.
    env = dict(os.environ, ANSIBLE_INJECT_INVOCATION='1', ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build', 'collections'),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_NOCOLOR='1',
               PATH=VENV_BIN + os.pathsep + os.environ.get('PATH', ''))
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), '-vvv', '-i', 'localhost,', '-c', 'local',
                           '-e', 'ansible_python_interpreter=%s' % sys.executable,
                           '-e', 'pw=%s' % PW1, '-e', 'graphics_pw=%s' % PW2, str(play)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert 'ok=4' in proc.stdout and 'failed=0' in proc.stdout and 'ignored=1' in proc.stdout, proc.stdout[-3000:]
    # -vvv shows the command line (with the -e values) once; nothing after it may.
    output = proc.stdout.split('PLAYBOOK:', 1)[-1]
    # the assertions below are not vacuous: the tasks' arguments are in the output
    assert 'pb-secret' in output and '"invocation"' in output, output[-3000:]
    assert PW1 not in output, 'the password option leaked in ansible-playbook -vvv output'
    assert PW2 not in output, 'the graphics password in xml leaked in ansible-playbook -vvv output'
