#!/usr/bin/env python
"""`ansible-inventory --list` over many domains: domainops.libvirt's inventory plugin vs a
static YAML inventory with the same hosts and host variables vs community.libvirt's
inventory plugin, side by side on the real daemon (qemu:///system).

Defines --domains domains with a random prefix: --running of them are no-OS guests with
a guest agent channel (no agent runs in them) and a user-mode NIC, the others have a
qcow2 disk and a user-mode NIC (as benchmarks/side_by_side.py (a)). Whole processes,
each measured --runs times, the tools interleaved run by run; median and best:

  (1) every domain shut off: ours | static YAML | community | ours on a cache hit (jsonfile)
  (2) the same with the --running guests running
  (3) ours with one URI vs the same daemon reached three ways (three URIs, read side by side;
      one host per domain UUID)

The static inventory is written from ours' own listing (same hosts, same variables), so
it is what Ansible itself costs for that inventory. Other domains on the daemon are listed
by every tool alike (the host counts are printed). Community runs use .venv-community
(benchlib: ansible-core 2.21.5 + the `ansible` package, which bundles community.libvirt).

Usage (as root, after scripts/setup.sh):
  .venv/bin/python benchmarks/inventory_bench.py [--domains 1000] [--running 20] [--runs 5]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid

import libvirt
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tests', 'guest'))

import benchlib  # noqa: E402
from benchlib import COMMUNITY_VENV, URI, VENV, log, median, run, undefine_prefix  # noqa: E402

DISK_DOMAIN = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/{name}.qcow2'/>
<target dev='vda' bus='virtio'/></disk>
<interface type='user'><model type='virtio'/></interface></devices></domain>"""
AGENT_CHANNEL = "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
NIC = "<interface type='user'><model type='virtio'/></interface>"
THREE_URIS = [URI, 'qemu+unix:///system', 'qemu+unix:///system?socket=/run/libvirt/libvirt-sock']


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


def plain(value):
    """ansible-inventory's JSON without its {"__ansible_unsafe": ...} wrappers."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def define(args, prefix, work):
    import guests
    conn = libvirt.open(URI)
    running = []
    try:
        started = time.monotonic()
        for i in range(args.domains - args.running):
            conn.defineXML(DISK_DOMAIN.format(name='%sd%04d' % (prefix, i)))
        for i in range(args.running):
            name = '%sr%02d' % (prefix, i)
            xml = guests.noos_guest_xml(name, extra_devices=NIC + AGENT_CHANNEL,
                                        firmware_log=os.path.join(work, name + '.log'))
            conn.defineXML(xml)
            running.append(name)
        log('defined %d domains in %.1f s' % (args.domains, time.monotonic() - started))
    finally:
        conn.close()
    return running


def start(names):
    conn = libvirt.open(URI)
    try:
        for name in names:
            dom = conn.lookupByName(name)
            if not dom.isActive():
                dom.create()
    finally:
        conn.close()
    time.sleep(3)  # let the firmware settle (it idles after "No bootable device.")


def inventories(work):
    """The inventory files of every tool: {label: (ansible-inventory, env, file)}."""
    cache = os.path.join(work, 'cache')
    files = dict(
        ours=write(os.path.join(work, 'ours.libvirt.yml'),
                   'plugin: domainops.libvirt.libvirt\nuris: [%s]\n' % URI),
        ours_cached=write(os.path.join(work, 'cached.libvirt.yml'),
                          'plugin: domainops.libvirt.libvirt\nuris: [%s]\ncache: true\n'
                          'cache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\ncache_timeout: 86400\n'
                          % (URI, cache)),
        ours_three=write(os.path.join(work, 'three.libvirt.yml'),
                         'plugin: domainops.libvirt.libvirt\nuris:\n%s'
                         % ''.join("  - '%s'\n" % uri for uri in THREE_URIS)),
        community=write(os.path.join(work, 'community.libvirt.yml'),
                        'plugin: community.libvirt.libvirt\nuri: %s\n' % URI),
    )
    ours_bin = os.path.join(VENV, 'bin', 'ansible-inventory')
    com_bin = os.path.join(COMMUNITY_VENV, 'bin', 'ansible-inventory')
    ours_env, com_env = benchlib.ansible_env(VENV), benchlib.ansible_env(COMMUNITY_VENV)
    tools = dict((label, (ours_bin, ours_env, path)) for label, path in files.items() if label != 'community')
    tools['community'] = (com_bin, com_env, files['community'])
    return tools


def listing(tool):
    binary, env, path = tool
    dummy, out = run([binary, '-i', path, '--list'], env)
    return json.loads(out)


def write_static(work, ours):
    """A static YAML inventory with ours' hosts and host variables."""
    hostvars = plain(ours['_meta']['hostvars'])
    path = os.path.join(work, 'static.yml')
    with open(path, 'w') as f:
        yaml.dump(dict(all=dict(hosts=hostvars)), f, Dumper=getattr(yaml, 'CSafeDumper', yaml.SafeDumper),
                  default_flow_style=False)
    return path


def measure(tools, labels, runs):
    """{label: [seconds]} of `ansible-inventory -i FILE --list`, the labels interleaved run by run."""
    times = dict((label, []) for label in labels)
    for dummy in range(runs):
        for label in labels:
            binary, env, path = tools[label]
            seconds, dummy_out = run([binary, '-i', path, '--list'], env)
            times[label].append(seconds)
    for label in labels:
        log('%s: %s' % (label, ' '.join('%.2f' % t for t in times[label])))
    return times


def scenario(tools, work, runs, with_cache):
    ours = listing(tools['ours'])
    community = listing(tools['community'])
    tools = dict(tools, static=(tools['ours'][0], tools['ours'][1], write_static(work, ours)))
    labels = ['static', 'ours', 'community']
    if with_cache:
        listing(tools['ours_cached'])  # fills the cache
        labels.append('ours_cached')
    times = measure(tools, labels, runs)
    hosts = len(ours['_meta']['hostvars'])
    result = dict(hosts=hosts, community_hosts=len(community['_meta']['hostvars']),
                  with_ansible_host=sum(1 for v in ours['_meta']['hostvars'].values() if 'ansible_host' in v))
    for label in labels:
        result[label] = dict(median=median(times[label]), best=min(times[label]), runs=times[label])
    result['ours_x_static'] = result['ours']['median'] / result['static']['median']
    result['community_x_ours'] = result['community']['median'] / result['ours']['median']
    return result


def report(rows, machine, args):
    out = ['machine: ' + machine, '']
    for key, title in (('shutoff', '(1) every domain shut off'), ('running', '(2) %d of them running' % args.running)):
        if key not in rows:
            continue
        r = rows[key]
        out.append('%s: %d hosts (community: %d), median of %d runs, whole `ansible-inventory --list`'
                   % (title, r['hosts'], r['community_hosts'], args.runs))
        for label, text in (('static', 'static YAML, same hosts and variables'), ('ours', 'domainops.libvirt.libvirt'),
                            ('community', 'community.libvirt.libvirt'), ('ours_cached', 'domainops, cache hit')):
            if label in r:
                out.append('  %-40s %7.3f s (best %.3f)  %5.2fx static' % (
                    text, r[label]['median'], r[label]['best'], r[label]['median'] / r['static']['median']))
        out.append('  community / ours: %.2fx' % r['community_x_ours'])
        out.append('')
    if 'uris' in rows:
        u = rows['uris']
        out.append('(3) one URI vs the same daemon reached three ways: %.3f s vs %.3f s (%.2fx)'
                   % (u['one']['median'], u['three']['median'], u['three']['median'] / u['one']['median']))
    return '\n'.join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--domains', type=int, default=1000)
    parser.add_argument('--running', type=int, default=20)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args()
    benchlib.ensure_community_venv()
    machine = benchlib.machine_description() + '; community.libvirt %s' % benchlib.community_libvirt_version()
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    prefix = 'bench-%s-' % uuid.uuid4().hex[:6]
    work = tempfile.mkdtemp(prefix='domainops-inventory-bench-')
    os.chmod(work, 0o755)
    rows = {}
    try:
        running = define(args, prefix, work)
        tools = inventories(work)
        rows['shutoff'] = benchlib.retry('shut off', lambda: scenario(tools, work, args.runs, True))
        times = benchlib.retry('uris', lambda: measure(tools, ['ours', 'ours_three'], args.runs))
        rows['uris'] = dict(one=dict(median=median(times['ours']), runs=times['ours']),
                            three=dict(median=median(times['ours_three']), runs=times['ours_three']))
        if running:
            start(running)
            rows['running'] = benchlib.retry('running', lambda: scenario(tools, work, args.runs, False))
    finally:
        undefine_prefix(prefix)
        shutil.rmtree(work, ignore_errors=True)
    text = report(rows, machine, args)
    print(text)
    path = args.json or os.path.join(benchlib.RESULTS_DIR, 'inventory-%s.json' % time.strftime('%Y%m%d-%H%M%S'))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write(path, json.dumps(dict(machine=machine, args=vars(args), rows=rows), indent=2))
    log('figures written to %s' % path)


if __name__ == '__main__':
    main()
