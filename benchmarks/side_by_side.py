#!/usr/bin/env python
"""domainops.libvirt vs community.libvirt.virt vs the floor, side by side, on the real daemon.

Whole `ansible` / `ansible-playbook` processes, each measured `--runs` times (median):

  (a) info over --domains defined domains (each with a disk and an interface):
      `virt_domain_info` | community `virt command=info` | `ansible -m ping` | plain libvirt-python
  (c) --converge domains defined for the first time from XML (a playbook, one loop item per domain):
      `virt_domain_state xml=... state=present` | community `virt command=define` | `ping` loop
  (b) the same playbook again, nothing changed: defineXML calls (counted as 'Defined' lifecycle
      events by a separate `virsh event` listener), reported changes, inactive XML changed
  (d) graceful shutdown of the tiny guest: when the module process returned vs when the guest
      reached shutoff ('Stopped' event seen by the listener); community's virt state=shutdown
      does not wait, so its playbook polls `command=status` (until/retries/delay 1 s) as a user would

Community runs use .venv-community (created here on first use: ansible-core 2.21.5 and the
`ansible` package from PyPI, which bundles community.libvirt). Every domain is named with a
random prefix and undefined in `finally`.

Usage (as root, after scripts/setup.sh):
  .venv/bin/python benchmarks/side_by_side.py [--domains 1000] [--converge 50] [--runs 3]
        [--only a,b,c,d] [--json FILE]
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid

import libvirt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests', 'guest'))

import benchlib  # noqa: E402
from benchlib import COMMUNITY_VENV, URI, VENV, log, median, run, undefine_prefix  # noqa: E402

DOMAIN_XML = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/{name}.qcow2'/>
<target dev='vda' bus='virtio'/></disk>
<interface type='user'><model type='virtio'/></interface></devices></domain>"""

PLAIN_INFO = """
import libvirt
conn = libvirt.openReadOnly('%s')
doms = conn.listAllDomains(0)
stats = conn.domainListGetStats(doms, libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_BALLOON
                                | libvirt.VIR_DOMAIN_STATS_VCPU, 0)
xml = [d.XMLDesc(0) for d in doms]
print(len(doms), len(stats), sum(map(len, xml)))
""" % URI

# The minimum for a no-change converge: read each inactive XML (a real tool must compare it).
PLAIN_CONVERGE = """
import sys, libvirt
conn = libvirt.open(URI)
for name in sys.argv[1:]:
    conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
""".replace('URI', repr(URI))

PLAIN_SHUTDOWN = """
import sys, threading, time, libvirt
libvirt.virEventRegisterDefaultImpl()
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
conn = libvirt.open('%s')
dom = conn.lookupByName(sys.argv[1])
done = threading.Event()
def on_event(_c, _d, event, _detail, _o):
    if event == libvirt.VIR_DOMAIN_EVENT_STOPPED:
        done.set()
conn.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_event, None)
dom.shutdown()
done.wait(60)
""" % URI


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


def ratio(value, floor):
    return value / floor if floor else float('nan')


# --------------------------------------------------------------------------- (a) info

def bench_info(args, rows, prefix):
    undefine_prefix(prefix + 'info')
    conn = libvirt.open(URI)
    try:
        started = time.monotonic()
        for i in range(args.domains):
            conn.defineXML(DOMAIN_XML.format(name='%sinfo%04d' % (prefix, i)))
        log('defined %d domains in %.1f s' % (args.domains, time.monotonic() - started))
        total = len(conn.listAllDomains(0))
        ours_env, com_env = benchlib.ansible_env(VENV), benchlib.ansible_env(COMMUNITY_VENV)
        ours_ansible = os.path.join(VENV, 'bin', 'ansible')
        com_ansible = os.path.join(COMMUNITY_VENV, 'bin', 'ansible')

        best = {}

        def measure(label, argv, env, runs):
            times, out = [], ''
            for dummy in range(runs):
                seconds, out = run(argv, env)
                times.append(seconds)
            log('%s: %s' % (label, ' '.join('%.2f' % t for t in times)))
            best[label] = min(times)
            return median(times), out

        ping, dummy = measure('ping', [ours_ansible, 'localhost', '-m', 'ping'], ours_env, args.runs)
        ours, out = measure('virt_domain_info', [ours_ansible, 'localhost', '-m', 'domainops.libvirt.virt_domain_info',
                                                 '-a', 'uri=' + URI], ours_env, args.runs)
        ours_disks = out.count('"disks"')
        ours_ifaces = out.count('"interfaces"')
        ours_bytes = len(out)
        com, out = measure('community info', [com_ansible, 'localhost', '-m', 'community.libvirt.virt', '-a',
                                              'command=info uri=' + URI], com_env, max(1, args.community_runs))
        com_bytes = len(out)
        plain, dummy = measure('plain', [os.path.join(VENV, 'bin', 'python'), '-c', PLAIN_INFO], ours_env, args.runs)
        rows['a'] = dict(domains=total, ping=ping, ours=ours, community=com, plain=plain,
                         ours_result_bytes=ours_bytes, community_result_bytes=com_bytes,
                         ours_entries_with_disks=ours_disks, ours_entries_with_interfaces=ours_ifaces,
                         community_has_disks='disks' in out, speedup_vs_community=ratio(com, ours),
                         x_ping=ratio(ours, ping), best=best)
    finally:
        try:
            conn.close()
        except libvirt.libvirtError:
            pass
        undefine_prefix(prefix + 'info')


# --------------------------------------------------------------------- (b) and (c) converge

PLAYBOOK_OURS = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: every domain defined from its XML
      domainops.libvirt.virt_domain_state:
        uri: {uri}
        xml: "{{{{ lookup('file', xml_dir + '/' + item + '.xml') }}}}"
        state: present
      loop: "{{{{ names }}}}"
"""
PLAYBOOK_COMMUNITY = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: every domain defined from its XML
      community.libvirt.virt:
        uri: {uri}
        command: define
        xml: "{{{{ lookup('file', xml_dir + '/' + item + '.xml') }}}}"
      loop: "{{{{ names }}}}"
"""
PLAYBOOK_PING = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: the floor, one ping per domain
      ansible.builtin.ping:
      loop: "{{{{ names }}}}"
"""


def count_changed(stdout):
    return len(re.findall(r'^changed: \[localhost\] => \(item=', stdout, re.M))


def inactive_xml(_conn, names):
    found = {}
    conn = libvirt.open(URI)
    for name in names:
        try:
            found[name] = conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        except libvirt.libvirtError:
            found[name] = None
    conn.close()
    return found


def bench_converge(args, rows, prefix, work):
    tools = [
        ('ours', os.path.join(VENV, 'bin', 'ansible-playbook'), benchlib.ansible_env(VENV), PLAYBOOK_OURS),
        ('community', os.path.join(COMMUNITY_VENV, 'bin', 'ansible-playbook'), benchlib.ansible_env(COMMUNITY_VENV),
         PLAYBOOK_COMMUNITY),
        ('ping', os.path.join(VENV, 'bin', 'ansible-playbook'), benchlib.ansible_env(VENV), PLAYBOOK_PING),
    ]
    result = dict(domains=args.converge)
    samples = dict((tool[0], ([], [])) for tool in tools)
    with benchlib.EventListener() as events:
        # Rounds interleave the tools, so that load from elsewhere hits them alike.
        for r in range(max(args.runs, args.community_runs)):
            for tool, playbook_cmd, env, playbook in tools:
                if r >= (args.community_runs if tool == 'community' else args.runs):
                    continue
                first, second = samples[tool]
                run_prefix = '%sconv-%s%d-' % (prefix, tool[:3], r)
                names = ['%s%03d' % (run_prefix, i) for i in range(args.converge)]
                xml_dir = os.path.join(work, run_prefix)
                os.makedirs(xml_dir)
                for name in names:
                    write(os.path.join(xml_dir, name + '.xml'), DOMAIN_XML.format(name=name))
                book = write(os.path.join(work, 'converge-%s.yml' % tool), playbook.format(uri=URI))
                extra = write(os.path.join(work, 'vars-%s.json' % run_prefix),
                              json.dumps(dict(names=names, xml_dir=xml_dir)))
                argv = [playbook_cmd, '-i', 'localhost,', '-c', 'local', book, '-e', '@' + extra]

                def sample():
                    undefine_prefix(run_prefix)
                    restarts = events.restarts
                    try:
                        mark = events.mark()
                        seconds, out = run(argv, env)
                        time.sleep(0.3)
                        one = dict(seconds=seconds, changed=count_changed(out),
                                   defined=len(events.since(mark, run_prefix, 'Defined')))
                        before = inactive_xml(None, names)
                        mark = events.mark()
                        seconds, out = run(argv, env)
                        time.sleep(0.3)
                        after = inactive_xml(None, names)
                        two = dict(seconds=seconds, changed=count_changed(out),
                                   defined=len(events.since(mark, run_prefix, 'Defined')),
                                   xml_changed=sum(1 for n in names if before[n] != after[n]))
                    finally:
                        undefine_prefix(run_prefix)
                    if events.restarts != restarts:
                        raise RuntimeError('libvirtd restarted during the sample')
                    first.append(one)
                    second.append(two)
                benchlib.retry('%s converge run %d' % (tool, r), sample)
                log('%s converge run %d: first %s, second %s' % (tool, r, first[-1], second[-1]))
    for tool, (first, second) in samples.items():
        result[tool] = dict(
            first_seconds=median([x['seconds'] for x in first]),
            first_best=min(x['seconds'] for x in first),
            first_defined=first[-1]['defined'], first_changed=first[-1]['changed'],
            second_seconds=median([x['seconds'] for x in second]),
            second_best=min(x['seconds'] for x in second),
            second_defined=max(x['defined'] for x in second),
            second_changed=max(x['changed'] for x in second),
            second_xml_changed=max(x['xml_changed'] for x in second))
    # The plain floor: one lookup + inactive XML read per domain (a no-change run's minimum).
    names = ['%sconv-pln-%03d' % (prefix, i) for i in range(args.converge)]

    def plain():
        undefine_prefix('%sconv-pln-' % prefix)
        conn = libvirt.open(URI)
        for name in names:
            conn.defineXML(DOMAIN_XML.format(name=name))
        conn.close()
        return [run([os.path.join(VENV, 'bin', 'python'), '-c', PLAIN_CONVERGE] + names, benchlib.ansible_env(VENV))[0]
                for dummy in range(args.runs)]
    try:
        result['plain_second_seconds'] = median(benchlib.retry('plain converge', plain))
    finally:
        undefine_prefix('%sconv-pln-' % prefix)
    rows['bc'] = result


# --------------------------------------------------------------------------- (d) shutdown

PLAYBOOK_SHUTDOWN_OURS = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: graceful shutdown, waits for shutoff
      domainops.libvirt.virt_domain_state:
        uri: {uri}
        name: "{{{{ guest }}}}"
        state: shutdown
        timeout: 60
"""
PLAYBOOK_SHUTDOWN_COMMUNITY = """- hosts: localhost
  gather_facts: false
  tasks:
    - name: graceful shutdown request (returns at once)
      community.libvirt.virt:
        uri: {uri}
        name: "{{{{ guest }}}}"
        state: shutdown
    - name: wait until it is off (community.libvirt has no wait of its own)
      community.libvirt.virt:
        uri: {uri}
        name: "{{{{ guest }}}}"
        command: status
      register: status
      until: status.status == 'shutdown'
      retries: 60
      delay: 1
"""


def boot_tiny_guest(conn, name, work):
    import guests
    guests.build()
    serial = os.path.join(work, name + '.serial')
    dom = conn.lookupByName(name) if name in [d.name() for d in conn.listAllDomains(0)] else \
        conn.defineXML(guests.tiny_guest_xml(name, serial))
    if dom.isActive():  # left running by a disturbed earlier attempt
        dom.destroy()
    if os.path.exists(serial):
        os.remove(serial)
    dom.create()
    guests.wait_for_ready(serial, timeout=90)
    time.sleep(0.5)  # acpid is up once READY is printed; a little margin
    return dom


def bench_shutdown(args, rows, prefix, work):
    name = prefix + 'tiny'
    result = dict()
    try:
        with benchlib.EventListener() as events:
            for tool in ('ours', 'community', 'plain'):
                samples = []
                for r in range(args.runs):
                    samples.append(benchlib.retry('shutdown %s run %d' % (tool, r),
                                                  lambda: shutdown_sample(tool, name, work, events)))
                    log('shutdown %s run %d: %s' % (tool, r, ', '.join('%s=%.3f' % kv for kv in samples[-1].items())))
                result[tool] = dict((key, median([s[key] for s in samples])) for key in samples[0])
    finally:
        undefine_prefix(name)
    rows['d'] = result


def shutdown_sample(tool, name, work, events):
    conn = libvirt.open(URI)
    try:
        boot_tiny_guest(conn, name, work)
    finally:
        conn.close()
    restarts = events.restarts
    if tool == 'plain':
        argv, env, times_log = [os.path.join(VENV, 'bin', 'python'), '-c', PLAIN_SHUTDOWN, name], \
            benchlib.ansible_env(VENV), None
    else:
        venv = VENV if tool == 'ours' else COMMUNITY_VENV
        interp, times_log = benchlib.timed_interpreter(work, os.path.join(venv, 'bin', 'python'))
        if os.path.exists(times_log):
            os.remove(times_log)
        book = write(os.path.join(work, 'shutdown-%s.yml' % tool),
                     (PLAYBOOK_SHUTDOWN_OURS if tool == 'ours' else PLAYBOOK_SHUTDOWN_COMMUNITY)
                     .format(uri=URI))
        argv = [os.path.join(venv, 'bin', 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
                book, '-e', 'guest=' + name, '-e', 'ansible_python_interpreter=' + interp]
        env = benchlib.ansible_env(venv)
    mark = events.mark()
    started = time.time()
    seconds, out = run(argv, env)
    ended = time.time()
    stopped = events.wait_for(mark, name, 'Stopped')
    sample = dict(process_seconds=seconds, process_end_after_shutoff=ended - stopped,
                  shutoff_after_process_start=stopped - started)
    if times_log:
        modules = benchlib.read_module_times(times_log)
        sample['module_processes'] = len(modules)
        # the first module process is the one that asked for the shutdown
        sample['module_seconds'] = modules[0][1] - modules[0][0]
        sample['first_module_return_after_shutoff'] = modules[0][1] - stopped
        sample['last_module_return_after_shutoff'] = modules[-1][1] - stopped
    if events.restarts != restarts:
        raise RuntimeError('libvirtd restarted during the sample')
    return sample


# --------------------------------------------------------------------------- report

def report(rows, machine):
    out = ['machine: ' + machine, '']
    if 'a' in rows:
        a = rows['a']
        out += ['(a) info over %d domains (median whole process, s)' % a['domains'],
                '  ansible -m ping                    %7.3f' % a['ping'],
                '  domainops virt_domain_info         %7.3f  (%.2fx ping; result %d KB, %d entries with disks)'
                % (a['ours'], a['x_ping'], a['ours_result_bytes'] // 1024, a['ours_entries_with_disks']),
                '  community.libvirt.virt info        %7.3f  (ours is %.1fx faster; result %d KB, disks: %s)'
                % (a['community'], a['speedup_vs_community'], a['community_result_bytes'] // 1024,
                   a['community_has_disks']),
                '  plain libvirt-python               %7.3f' % a['plain'],
                '  best of runs: ' + ', '.join('%s %.3f' % kv for kv in sorted(a['best'].items())), '']
    if 'bc' in rows:
        bc = rows['bc']
        out += ['(c) first define / (b) no-change run, %d domains, one playbook loop (median s)' % bc['domains'],
                '  %-12s %8s %8s %8s | %8s %8s %8s %10s %7s' % (
                    'tool', 'first s', 'defines', 'changed', 'second s', 'defines', 'changed', 'xml chgd', 'x ping')]
        for tool in ('ours', 'community', 'ping'):
            t = bc[tool]
            out.append('  %-12s %8.2f %8d %8d | %8.2f %8d %8d %10d %7.2f' % (
                tool, t['first_seconds'], t['first_defined'], t['first_changed'], t['second_seconds'],
                t['second_defined'], t['second_changed'], t['second_xml_changed'],
                ratio(t['second_seconds'], bc['ping']['second_seconds'])))
        best = ', '.join('%s %.2f/%.2f' % (tool, bc[tool]['first_best'], bc[tool]['second_best'])
                         for tool in ('ours', 'community', 'ping'))
        out += ['  best of runs (first/second): ' + best,
                '  plain libvirt-python, no-change minimum (lookup + inactive XML each): %.3f s'
                % bc['plain_second_seconds'], '']
    if 'd' in rows:
        d = rows['d']
        out += ['(d) graceful shutdown of the tiny guest (median s; "after shutoff" = time past the Stopped event)']
        for tool in ('ours', 'community', 'plain'):
            t = d[tool]
            line = '  %-10s process %6.2f  process end after shutoff %+6.3f' % (
                tool, t['process_seconds'], t['process_end_after_shutoff'])
            if 'first_module_return_after_shutoff' in t:
                line += '  module return after shutoff %+6.3f (first module) %+6.3f (last of %d)' % (
                    t['first_module_return_after_shutoff'], t['last_module_return_after_shutoff'],
                    t['module_processes'])
            out.append(line)
    return '\n'.join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--domains', type=int, default=1000)
    parser.add_argument('--converge', type=int, default=50)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--community-runs', type=int, default=None,
                        help='runs of the (slow) community commands; default: --runs')
    parser.add_argument('--only', default='a,b,c,d')
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    if args.community_runs is None:
        args.community_runs = args.runs
    only = set(args.only.split(','))
    benchlib.ensure_community_venv()
    machine = benchlib.machine_description() + '; community.libvirt %s' % benchlib.community_libvirt_version()
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    prefix = 'bench-%s-' % uuid.uuid4().hex[:6]
    work = tempfile.mkdtemp(prefix='domainops-bench-')
    os.chmod(work, 0o755)
    rows = {}
    try:
        if 'a' in only:
            benchlib.retry('(a) info', lambda: bench_info(args, rows, prefix))
        if only & set('bc'):
            bench_converge(args, rows, prefix, work)
        if 'd' in only:
            bench_shutdown(args, rows, prefix, work)
    finally:
        undefine_prefix(prefix)
        shutil.rmtree(work, ignore_errors=True)
    text = report(rows, machine)
    print(text)
    path = args.json or os.path.join(benchlib.RESULTS_DIR, 'side_by_side-%s.json' % time.strftime('%Y%m%d-%H%M%S'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write(path, json.dumps(dict(machine=machine, args=vars(args), rows=rows), indent=2))
    log('figures written to %s' % path)


if __name__ == '__main__':
    main()
