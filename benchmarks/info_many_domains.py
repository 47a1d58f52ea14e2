#!/usr/bin/env python
"""Time virt_domain_info over many defined domains on the real daemon.

Defines N shut-off domains (one disk and one interface each), then measures whole
processes, best and median of several runs:
  - `ansible localhost -m domainops.libvirt.virt_domain_info` over all of them
  - `ansible localhost -m ping` (the floor any module run pays)
  - a plain libvirt-python script doing the minimum work for the same answer
    (list, bulk stats, one XML read per domain)
  - the result floor: a module that does no libvirt work at all and only returns the
    very result virt_domain_info returned (what Ansible itself costs for a result of
    that size: argument handling, no_log scrubbing, transfer, display)
and prints the figures. The domains are removed afterwards.

Usage: .venv/bin/python benchmarks/info_many_domains.py [--domains 1000] [--runs 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import libvirt

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, '.build', 'collections'))
VENV_BIN = os.path.dirname(sys.executable)
URI = 'qemu:///system'

DOMAIN_XML = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/var/lib/libvirt/images/{name}.qcow2'/>
<target dev='vda' bus='virtio'/></disk>
<interface type='user'><model type='virtio'/></interface></devices></domain>"""

# Returns a stored result through AnsibleModule, with the same connection options.
FLOOR_MODULE = """#!/usr/bin/python
import json
from ansible.module_utils.basic import AnsibleModule
module = AnsibleModule(argument_spec=dict(uri=dict(type='str'), username=dict(type='str'),
                                          password=dict(type='str', no_log=True)))
with open(%r) as stored:
    module.exit_json(**json.load(stored))
"""

PLAIN_SCRIPT = """
import libvirt
conn = libvirt.openReadOnly('%s')
doms = conn.listAllDomains(0)
stats = conn.domainListGetStats(doms, libvirt.VIR_DOMAIN_STATS_STATE | libvirt.VIR_DOMAIN_STATS_BALLOON | libvirt.VIR_DOMAIN_STATS_VCPU, 0)
xml = [d.XMLDesc(0) for d in doms]
print(len(doms), len(stats), sum(map(len, xml)))
""" % URI


def timed(argv, env):
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit('command failed: %s\n%s%s' % (' '.join(argv), proc.stdout[-2000:], proc.stderr[-2000:]))
    return elapsed


def module_result(uri):
    """virt_domain_info's own result, from the module run directly (no controller)."""
    from ansible_collections.domainops.libvirt.plugins.module_utils import info
    from ansible_collections.domainops.libvirt.plugins.module_utils.connection import open_connection

    class Task(object):
        params = dict(uri=uri, xml=False, xml_flags=[])
        conn = open_connection(params, readonly=True)
    try:
        return dict(changed=False, domains=info.gather(Task))
    finally:
        Task.conn.close()


def measure(label, argv, env, runs):
    times = [timed(argv, env) for dummy in range(runs)]
    return label, min(times), statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--domains', type=int, default=1000)
    parser.add_argument('--runs', type=int, default=5)
    args = parser.parse_args()

    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build', 'collections'),
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
               PATH=VENV_BIN + os.pathsep + os.environ.get('PATH', ''))
    ansible = os.path.join(VENV_BIN, 'ansible')
    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    conn = libvirt.open(URI)
    prefix = 'bench-%s-' % uuid.uuid4().hex[:6]
    existing = len(conn.listAllDomains(0))
    started = time.monotonic()
    made = []
    try:
        for i in range(args.domains):
            made.append(conn.defineXML(DOMAIN_XML.format(name='%s%04d' % (prefix, i))))
        define_seconds = time.monotonic() - started
        total = existing + len(made)
        info = [ansible, 'localhost', '-m', 'domainops.libvirt.virt_domain_info', '-a', 'uri=' + URI]
        floor_dir = tempfile.mkdtemp(prefix='info-floor-')
        result_path = os.path.join(floor_dir, 'result.json')
        with open(result_path, 'w') as stored:
            json.dump(module_result(URI), stored)
        with open(os.path.join(floor_dir, 'result_floor.py'), 'w') as module:
            module.write(FLOOR_MODULE % result_path)
        floor_env = dict(env, ANSIBLE_LIBRARY=floor_dir)
        rows = [
            measure('ansible -m ping', [ansible, 'localhost', '-m', 'ping'], env, args.runs),
            measure('virt_domain_info (%d domains)' % total, info, env, args.runs),
            measure('result floor (same result, no libvirt)', [ansible, 'localhost', '-m', 'result_floor'],
                    floor_env, args.runs),
            measure('plain libvirt-python script', [sys.executable, '-c', PLAIN_SCRIPT], env, args.runs),
        ]
    finally:
        for dom in made:
            dom.undefine()
        conn.close()

    print('machine: %s, %d cores; libvirt %s' % (os.uname().machine, os.cpu_count(), libvirt.getVersion()))
    print('defined %d domains in %.1f s' % (len(made), define_seconds))
    print('%-42s %8s %8s %8s' % ('whole process', 'best s', 'median s', 'x ping'))
    floor = rows[0][2]
    for label, best, median in rows:
        print('%-42s %8.3f %8.3f %8.2f' % (label, best, median, median / floor))


if __name__ == '__main__':
    main()
