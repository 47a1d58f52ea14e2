# Concurrency on one daemon: ansible-playbook with 40 local hosts and forks=8, each
# converging its own no-OS domain with virt_domain_state (all converge, a second run
# changes nothing, a third removes them); and two tasks racing on the same domain
# (each ends in the desired state or fails clearly, and nothing is lost from the
# definition).
import json
import os
import re
import string
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


ROUNDS = 30
GUARD_WARNING = 'changed by someone else during this task'
# A big definition (120 SCSI disks, never started): comparing it takes 100-200 ms, a
# window the other task's change lands in often enough to count.
BIG = "<controller type='scsi' index='0' model='virtio-scsi'/>" + ''.join(
    "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/var/tmp/race-%s.img'/>"
    "<target dev='%s' bus='scsi'/></disk>" % (dev, dev)
    for dev in ['sd' + a for a in string.ascii_lowercase] + ['sd' + a + b for a in 'abcd' for b in string.ascii_lowercase][:94])


def test_two_tasks_race_on_one_domain(tmp_path):
    """ROUNDS rounds; in each, two module processes at (nearly) the same moment: one
    attaches a cdrom drive to the persistent definition (even rounds) or detaches it
    (odd rounds), the other redefines the domain with this round's memory size. A lost
    update is a task that reported success whose change is not in the definition
    afterwards. The device task starts from 100 ms before to 400 ms after the other (a
    fixed pseudo-random series; it reaches libvirt after about 0.55 s, the define task
    reads at about 0.6-0.8 s and defines 100-200 ms later), so its change lands before,
    inside and after the other task's read-compare-define window."""
    import random
    shifts = random.Random(18)
    conn = connect()
    name = unique('race')
    base = noos_xml(name, extra=BIG)
    lost, failed, guard, overlapped = [], [], 0, 0
    started = time.monotonic()
    try:
        conn.defineXML(base)
        for round_ in range(ROUNDS):
            mib = 72 + 8 * (round_ % 6)
            attach = round_ % 2 == 0
            xml = base.replace("<memory unit='MiB'>64</memory>", "<memory unit='MiB'>%d</memory>" % mib)
            shift = shifts.uniform(-0.1, 0.4)
            launch = [
                lambda: _module_process(tmp_path, 'def%d' % round_, 'virt_domain_state', dict(xml=xml, state='present')),
                lambda: _module_process(tmp_path, 'dev%d' % round_, 'virt_domain_device',
                                        dict(name=name, xml=DISK % 'b', affect=['config'],
                                             state='present' if attach else 'absent'))]
            first = launch[0 if shift >= 0 else 1]()
            time.sleep(abs(shift))
            second = launch[1 if shift >= 0 else 0]()
            define, device = (first, second) if shift >= 0 else (second, first)
            results = dict(define=_result(define), device=_result(device))
            for which, result in results.items():
                if result.get('failed'):
                    assert '\n' not in result['msg'] and result['msg'], result
                    failed.append('round %d %s: %s' % (round_, which, result['msg']))
            warned = [w for w in results['define'].get('warnings', []) if GUARD_WARNING in json.dumps(w)]
            guard += len(warned)
            overlapped += bool(warned)
            inactive = conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
            if not results['device'].get('failed') and ("dev='hdb'" in inactive) is not attach:
                lost.append('round %d: the drive %s was lost' % (round_, 'attached' if attach else 'detach'))
            if not results['define'].get('failed') and '>%d<' % (mib * 1024) not in inactive:
                lost.append('round %d: the memory %d MiB was lost' % (round_, mib))
        print('lost-update race: %d rounds (%d tasks) in %.1f s, lost updates: %d, re-read guard fired in %d '
              'rounds (%d times), failed clearly: %d'
              % (ROUNDS, 2 * ROUNDS, time.monotonic() - started, len(lost), overlapped, guard, len(failed)))
        assert lost == [], lost
        # the guard fails only when the definition changes twice within one task, which one
        # writer at a time cannot do
        assert failed == [], failed
        # And both states are stable: converging again changes nothing.
        final_mib = 72 + 8 * ((ROUNDS - 1) % 6)
        final = _result(_module_process(tmp_path, 'final', 'virt_domain_state',
                                        dict(xml=base.replace("64</memory>", "%d</memory>" % final_mib),
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
