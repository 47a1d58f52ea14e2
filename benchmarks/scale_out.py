#!/usr/bin/env python
"""Many hypervisors from one controller: does work on different hosts overlap?

The test bench has one machine, so each "hypervisor" is a separate libvirtd: an
unprivileged user (domainops-hv1 .. domainops-hvN, created here) running its own session
daemon (`libvirtd -d` with its own XDG_RUNTIME_DIR), reached from root through its socket:
`qemu+unix:///session?socket=/run/domainops-hv/hvK/libvirt/libvirt-sock`. An inventory
lists the N hosts (ansible_connection=local, a `libvirt_uri` per host) and playbooks
use `uri: "{{ libvirt_uri }}"`, exactly as with `qemu+ssh://` URIs or real hosts.

Measured (whole ansible-playbook processes):
  1. graceful shutdown of the tiny guest on 1 host, then on all N hosts at once (forks N)
  2. a no-change converge of --domains domains per host on all N hosts, with forks 1, 2, 4, N:
     module runs per second

The daemons are stopped and every domain undefined at the end (the users stay; they
own nothing else). Usage (as root, after scripts/setup.sh):
  .venv/bin/python benchmarks/scale_out.py [--hosts 4] [--domains 10] [--runs 2]
"""
import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import libvirt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests', 'guest'))
import benchlib  # noqa: E402
from benchlib import VENV, log, median, run  # noqa: E402
from side_by_side import DOMAIN_XML  # noqa: E402

RUN_ROOT = '/run/domainops-hv'
HOME_ROOT = '/var/lib/domainops-hv'

PLAYBOOK_SHUTDOWN = """- hosts: hypervisors
  gather_facts: false
  tasks:
    - domainops.libvirt.virt_domain_state:
        uri: "{{ libvirt_uri }}"
        name: tiny
        state: shutdown
        timeout: 60
"""
PLAYBOOK_CONVERGE = """- hosts: hypervisors
  gather_facts: false
  tasks:
    - domainops.libvirt.virt_domain_state:
        uri: "{{ libvirt_uri }}"
        xml: "{{ lookup('file', xml_dir + '/' + item + '.xml') }}"
        state: present
      loop: "{{ names }}"
"""


class Hypervisor(object):
    def __init__(self, index):
        self.name = 'hv%d' % index
        self.user = 'domainops-hv%d' % index
        self.home = os.path.join(HOME_ROOT, self.name)
        self.runtime = os.path.join(RUN_ROOT, self.name)
        self.socket = os.path.join(self.runtime, 'libvirt', 'libvirt-sock')
        self.uri = 'qemu+unix:///session?socket=' + self.socket
        self.started_here = False

    def answers(self):
        return subprocess.run(['virsh', '-c', self.uri, 'uri'], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False).returncode == 0

    def start(self):
        try:
            pwd.getpwnam(self.user)
        except KeyError:
            subprocess.run(['useradd', '-r', '-m', '-d', self.home, '-s', '/bin/sh', self.user], check=True)
        os.makedirs(self.runtime, exist_ok=True)
        shutil.chown(self.runtime, self.user, self.user)
        os.chmod(self.runtime, 0o700)
        if self.answers():
            return
        env = 'env -i HOME=%s USER=%s PATH=/usr/sbin:/usr/bin:/bin XDG_RUNTIME_DIR=%s' % (
            self.home, self.user, self.runtime)
        subprocess.run(['su', '-s', '/bin/sh', self.user, '-c', 'cd %s && %s libvirtd -d' % (self.home, env)],
                       check=True)
        self.started_here = True
        for dummy in range(60):
            if self.answers():
                return
            time.sleep(0.5)
        raise RuntimeError('session libvirtd of %s does not answer on %s' % (self.user, self.uri))

    def stop(self):
        if not self.started_here:
            return
        # The session libvirtd and the virtlogd it spawned for the guests' serial logs.
        for daemon in ('libvirtd', 'virtlogd'):
            try:
                with open(os.path.join(self.runtime, 'libvirt', daemon + '.pid')) as f:
                    pid = int(f.read().strip())
                if pwd.getpwuid(os.stat('/proc/%d' % pid).st_uid).pw_name == self.user:
                    os.kill(pid, signal.SIGTERM)
            except (OSError, ValueError, KeyError) as err:
                if daemon == 'libvirtd':
                    log('could not stop the %s of %s: %s' % (daemon, self.user, err))


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


def inventory(hvs, work):
    lines = ['[hypervisors]']
    for hv in hvs:
        lines.append('%s ansible_connection=local libvirt_uri=%s ansible_python_interpreter=%s'
                     % (hv.name, hv.uri, os.path.join(VENV, 'bin', 'python')))
    return write(os.path.join(work, 'inventory.ini'), '\n'.join(lines) + '\n')


def boot_guests(hvs):
    import guests
    guests.build()
    conns, serials = [], []
    for hv in hvs:
        conn = libvirt.open(hv.uri)
        serial = os.path.join(hv.home, 'tiny.serial')
        if os.path.exists(serial):
            os.remove(serial)
        names = [d.name() for d in conn.listAllDomains(0)]
        dom = conn.lookupByName('tiny') if 'tiny' in names else conn.defineXML(guests.tiny_guest_xml('tiny', serial))
        if not dom.isActive():
            dom.create()
        conns.append(conn)
        serials.append(serial)
    for serial in serials:
        guests.wait_for_ready(serial, timeout=120)
    time.sleep(0.5)
    for conn in conns:
        conn.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=4)
    parser.add_argument('--domains', type=int, default=10, help='domains per host in the converge job')
    parser.add_argument('--runs', type=int, default=2)
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit('run as root: it creates users and starts their session libvirtd')
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    hvs = [Hypervisor(i + 1) for i in range(args.hosts)]
    work = tempfile.mkdtemp(prefix='domainops-scale-')
    os.chmod(work, 0o755)
    env = benchlib.ansible_env(VENV)
    playbook = os.path.join(VENV, 'bin', 'ansible-playbook')
    figures = dict(hosts=args.hosts, cores=os.cpu_count(), shutdown={}, converge={})
    try:
        for hv in hvs:
            hv.start()
        inv = inventory(hvs, work)
        log('%d session daemons answer' % len(hvs))

        # 1. graceful shutdown: one host, then all at once
        book = write(os.path.join(work, 'shutdown.yml'), PLAYBOOK_SHUTDOWN)
        for count in (1, len(hvs)):
            times = []
            for r in range(args.runs):
                boot_guests(hvs[:count])
                seconds, out = run([playbook, '-i', inv, '-f', str(count), '--limit',
                                    ','.join(hv.name for hv in hvs[:count]), book], env)
                times.append(seconds)
                log('shutdown on %d host(s), run %d: %.2f s' % (count, r, seconds))
            figures['shutdown'][count] = dict(median=median(times), best=min(times))

        # 2. no-change converge on all hosts, forks 1, 2, 4, N
        names = ['bench-scale-%03d' % i for i in range(args.domains)]
        xml_dir = os.path.join(work, 'xml')
        os.makedirs(xml_dir)
        for name in names:
            write(os.path.join(xml_dir, name + '.xml'), DOMAIN_XML.format(name=name))
        extra = write(os.path.join(work, 'vars.json'), json.dumps(dict(names=names, xml_dir=xml_dir)))
        book = write(os.path.join(work, 'converge.yml'), PLAYBOOK_CONVERGE)
        argv = [playbook, '-i', inv, book, '-e', '@' + extra]
        run(argv + ['-f', str(len(hvs))], env)  # first run defines them everywhere
        tasks = len(hvs) * len(names)
        for forks in sorted(set((1, 2, 4, len(hvs)))):
            times = []
            for r in range(args.runs):
                seconds, out = run(argv + ['-f', str(forks)], env)
                if 'changed=0' not in out or 'failed=0' not in out:
                    raise RuntimeError('the no-change converge changed or failed something:\n' + out[-3000:])
                times.append(seconds)
            figures['converge'][forks] = dict(median=median(times), best=min(times),
                                              module_runs_per_second=tasks / median(times))
            log('converge %d module runs with forks %d: %s' % (tasks, forks, ' '.join('%.2f' % t for t in times)))
    finally:
        for hv in hvs:
            benchlib.undefine_prefix('', uri=hv.uri, attempts=1)
            hv.stop()
        shutil.rmtree(work, ignore_errors=True)

    print('machine: ' + benchlib.machine_description())
    print('%d session libvirtd instances standing in for hosts, one controller' % len(hvs))
    print('graceful shutdown of the tiny guest (whole ansible-playbook, median s):')
    for count, value in sorted(figures['shutdown'].items()):
        print('  %d host(s), forks %d: %6.2f  (best %.2f)' % (count, count, value['median'], value['best']))
    print('no-change converge, %d domains x %d hosts = %d module runs:' % (args.domains, len(hvs), tasks))
    for forks, value in sorted(figures['converge'].items()):
        print('  forks %d: %6.2f s  (best %.2f)  %5.1f module runs/s' % (
            forks, value['median'], value['best'], value['module_runs_per_second']))
    path = args.json or os.path.join(benchlib.RESULTS_DIR, 'scale_out-%s.json' % time.strftime('%Y%m%d-%H%M%S'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write(path, json.dumps(dict(machine=benchlib.machine_description(), figures=figures), indent=2))
    log('figures written to %s' % path)


if __name__ == '__main__':
    main()
