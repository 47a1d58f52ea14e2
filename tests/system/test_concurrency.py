# Concurrency on one daemon: ansible-playbook with 40 local hosts and forks=8, each
# converging its own no-OS domain with virt_domain_state (all converge, a second run
# changes nothing, a third removes them); and two tasks racing on the same domain
# (each ends in the desired state or fails clearly, and nothing is lost from the
# definition).
import json
import os
import re
import subprocess
import sys
import time

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain  # noqa: E402
from sysenv import REPO, URI, VENV_BIN, connect, noos_xml, unique  # noqa: E402

HOSTS = 40
FORKS = 8

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: converge this host's own domain
      domainops.libvirt.virt_domain_state:
        uri: "{{ uri }}"
        xml: "{{ lookup('ansible.builtin.file', xml_dir ~ '/' ~ inventory_hostname ~ '.xml') }}"
        state: "{{ want }}"
"""


def ansible_env(tmp_path):
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build', 'collections'),
               ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_RETRY_FILES_ENABLED='False',
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-tmp'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_FORCE_COLOR='0', PATH=VENV_BIN + os.pathsep + env.get('PATH', ''))
    return env


def playbook(tmp_path, inventory, want, *extra):
    started = time.monotonic()
    proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), '-i', str(inventory), '-f', str(FORKS),
                           str(tmp_path / 'play.yml'), '-e', 'want=%s' % want, '-e', 'uri=%s' % URI,
                           '-e', 'xml_dir=%s' % tmp_path] + list(extra),
                          env=ansible_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=600, check=False)
    recap = dict((host, dict((k, int(v)) for k, v in re.findall(r'(\w+)=(\d+)', line)))
                 for host, line in re.findall(r'^(\S+)\s+:\s+(ok=.*)$', proc.stdout, re.M))
    return proc, recap, time.monotonic() - started


def test_forty_domains_eight_forks(tmp_path):
    prefix = unique('conc')
    names = dict(('h%02d' % i, '%s-%02d' % (prefix, i)) for i in range(HOSTS))
    for host, name in names.items():
        (tmp_path / (host + '.xml')).write_text(noos_xml(name).replace('64</memory>', '48</memory>'))
    inventory = tmp_path / 'hosts.ini'
    inventory.write_text('\n'.join('%s ansible_connection=local ansible_python_interpreter=%s'
                                   % (host, sys.executable) for host in names) + '\n')
    (tmp_path / 'play.yml').write_text(PLAYBOOK)
    conn = connect()
    timings = {}
    try:
        for run, (want, changed) in enumerate((('running', 1), ('running', 0), ('absent', 1))):
            proc, recap, timings[run] = playbook(tmp_path, inventory, want)
            assert proc.returncode == 0, proc.stdout[-4000:]
            assert sorted(recap) == sorted(names), proc.stdout[-2000:]
            for host, counts in recap.items():
                assert counts['failed'] == 0 and counts['unreachable'] == 0, (host, counts)
                assert counts['changed'] == changed, (run, want, host, counts)
            present = [d.name() for d in conn.listAllDomains(0) if d.name().startswith(prefix)]
            if want == 'running':
                assert sorted(present) == sorted(names.values())
                assert all(conn.lookupByName(n).state()[0] == libvirt.VIR_DOMAIN_RUNNING for n in present)
            else:
                assert present == []
        print('40 domains, forks 8: converge %.1f s, again %.1f s, remove %.1f s' % (timings[0], timings[1], timings[2]))
        with open(os.path.join(str(tmp_path), 'timings.json'), 'w') as handle:
            json.dump(timings, handle)
    finally:
        for name in names.values():
            remove_domain(conn, name)
        conn.close()


def _module_process(tmp_path, tag, module, args):
    """A module run in its own process, the way Ansible runs it (args file)."""
    path = tmp_path / ('%s.json' % tag)
    path.write_text(json.dumps(dict(ANSIBLE_MODULE_ARGS=dict(args, uri=URI))))
    module_file = os.path.join(REPO, 'plugins', 'modules', module + '.py')
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, '.build', 'collections'))
    return subprocess.Popen([sys.executable, module_file, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _result(proc):
    out, err = proc.communicate(timeout=120)
    assert out.strip(), err
    return json.loads(out.strip().splitlines()[-1])


DISK = ("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='hd%s' bus='ide'/>"
        "<readonly/></disk>")


def test_two_tasks_race_on_one_domain(tmp_path):
    """Per round, at the same moment: one task attaches a cdrom drive to the persistent
    definition, the other redefines the domain with another memory size. Both must
    succeed or fail clearly, and afterwards the definition has the drive *and* the memory."""
    conn = connect()
    name = unique('race')
    lost = []
    try:
        conn.defineXML(noos_xml(name))
        for round_, (letter, mib) in enumerate(zip('bcd', (80, 96, 112))):
            xml = noos_xml(name).replace('<memory unit=\'MiB\'>64</memory>', '<memory unit=\'MiB\'>%d</memory>' % mib)
            procs = [
                _module_process(tmp_path, 'dev%d' % round_, 'virt_domain_device',
                                dict(name=name, xml=DISK % letter, affect=['config'])),
                _module_process(tmp_path, 'def%d' % round_, 'virt_domain_state', dict(xml=xml, state='present')),
            ]
            results = [_result(p) for p in procs]
            for result in results:
                if result.get('failed'):
                    assert '\n' not in result['msg'] and result['msg'], result
            inactive = conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
            if not results[0].get('failed') and "dev='hd%s'" % letter not in inactive:
                lost.append('round %d: the attached drive hd%s was lost' % (round_, letter))
            if not results[1].get('failed') and '>%d<' % (mib * 1024) not in inactive:
                lost.append('round %d: the memory %d MiB was lost' % (round_, mib))
        # Runs after the race: every task that reported success must still be reflected.
        assert lost == [], lost
        # And both states are stable: converging again changes nothing.
        final = _result(_module_process(tmp_path, 'final', 'virt_domain_state',
                                        dict(xml=noos_xml(name).replace("64</memory>", "112</memory>"),
                                             state='present')))
        assert not final.get('failed') and not final['changed'], final
    finally:
        remove_domain(conn, name)
        conn.close()


def test_two_starts_race(tmp_path):
    """Two tasks start the same shut-off domain at once: it ends running; a task that
    loses the race either reports ok or fails with one clear line."""
    conn = connect()
    name = unique('race-start')
    try:
        conn.defineXML(noos_xml(name))
        procs = [_module_process(tmp_path, 'start%d' % i, 'virt_domain_state', dict(name=name, state='running'))
                 for i in range(2)]
        results = [_result(p) for p in procs]
        assert conn.lookupByName(name).state()[0] == libvirt.VIR_DOMAIN_RUNNING
        assert any(r.get('changed') for r in results), results
        for result in results:
            if result.get('failed'):
                assert '\n' not in result['msg'] and 'already' in result['msg'], result['msg']
    finally:
        remove_domain(conn, name)
        conn.close()
