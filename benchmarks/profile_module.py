#!/usr/bin/env python
"""Where a module run spends its time: imports, connection, libvirt calls, XML parsing.

Runs a module's process directly (`python -m ansible_collections...` with an args file,
no controller), so only the module itself is measured:

  1. wall time of the module process (median of --runs)
  2. `python -X importtime`: total import time and the most expensive imports
  3. cProfile: the top functions by cumulative time, and how often the things that
     should happen once happened (connections opened, XML documents parsed,
     XMLDesc / defineXML / getCapabilities calls)

Scenarios (domains are defined with a random prefix and undefined afterwards):
  info          virt_domain_info over --domains domains (with disk and interface)
  state-same    virt_domain_state xml=<unchanged> state=present (the no-change converge)
  state-new     virt_domain_state xml=<new domain> state=present (first define)
  autostart     virt_domain_autostart name=... enabled=false (no change)

Usage: .venv/bin/python benchmarks/profile_module.py [--scenario info] [--domains 1000] [--runs 5] [--top 25]
"""
import argparse
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import libvirt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
from benchlib import undefine_prefix  # noqa: E402
from side_by_side import DOMAIN_XML  # noqa: E402

PY = os.path.join(benchlib.VENV, 'bin', 'python')
MODULE = 'ansible_collections.domainops.libvirt.plugins.modules.%s'
COUNTED = [
    ('connections opened', re.compile(r'virConnectOpen')),
    ('XMLDesc calls', re.compile(r'virDomainGetXMLDesc')),
    ('defineXML calls', re.compile(r'virDomainDefineXML')),
    ('getCapabilities calls', re.compile(r'virConnectGetCapabilities')),
]


def module_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = os.path.join(benchlib.REPO, '.build', 'collections')
    return env


def run_module(module, args_file, extra=()):
    started = time.monotonic()
    argv = [PY] + list(extra) + (['-m', MODULE % module] if module else []) + [args_file]
    proc = subprocess.run(argv, env=module_env(), check=False,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - started
    result = json.loads(proc.stdout) if proc.stdout.strip().startswith('{') else {}
    if result.get('failed') or proc.returncode:
        raise RuntimeError('module failed: %s %s' % (proc.stdout[-2000:], proc.stderr[-2000:]))
    return elapsed, proc.stderr, result


def import_report(stderr, top):
    rows = []
    for line in stderr.splitlines():
        m = re.match(r'import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)', line)
        if m:
            rows.append((int(m.group(2)), int(m.group(1)), len(m.group(3)), m.group(4)))
    total = sum(r[0] for r in rows if r[2] == 1)  # top-level imports (indent 1)
    print('imports: %.0f ms in all (top level), most expensive (cumulative ms, self ms):' % (total / 1000.0))
    for cumulative, own, indent, name in sorted(rows, reverse=True)[:top]:
        print('  %7.1f %7.1f  %s%s' % (cumulative / 1000.0, own / 1000.0, ' ' * (indent - 1), name))
    return total / 1000.0


# cProfile does not see lxml's compiled functions: XML parses are counted by wrapping them.
PROFILE_RUNNER = """
import atexit, cProfile, runpy, sys
from lxml import etree
parses = [0]
def counting(func):
    def wrapper(*args, **kwargs):
        parses[0] += 1
        return func(*args, **kwargs)
    return wrapper
etree.fromstring, etree.XML = counting(etree.fromstring), counting(etree.XML)
profile = cProfile.Profile()
def dump():
    profile.dump_stats(OUT)
    sys.stderr.write('XML_PARSES=%d\\n' % parses[0])
atexit.register(dump)
profile.runcall(runpy.run_module, MODULE, run_name='__main__', alter_sys=True)
"""


def profile_report(module, args_file, top, work):
    out = os.path.join(work, 'module.prof')
    code = PROFILE_RUNNER.replace('OUT', repr(out)).replace('MODULE', repr(MODULE % module))
    _elapsed, stderr, _result = run_module(None, args_file, ['-c', code])
    parses = int(re.search(r'XML_PARSES=(\d+)', stderr).group(1))
    stats = pstats.Stats(out)
    print('\ncProfile, top %d by cumulative time:' % top)
    stats.sort_stats('cumulative').print_stats(top)
    counts = {}
    for (filename, _line, func), (cc, nc, _tt, _ct, _callers) in stats.stats.items():
        for label, pattern in COUNTED:
            if pattern.search('%s %s' % (filename, func)):
                counts[label] = counts.get(label, 0) + nc
    counts['XML documents parsed (lxml)'] = parses
    print('calls that should happen once per task / once per domain:')
    for label in [label for label, _pattern in COUNTED] + ['XML documents parsed (lxml)']:
        print('  %-45s %d' % (label, counts.get(label, 0)))
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scenario', default='info', choices=('info', 'state-same', 'state-new', 'autostart'))
    parser.add_argument('--domains', type=int, default=1000)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--top', type=int, default=25)
    args = parser.parse_args()

    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    conn = libvirt.open(benchlib.URI)
    prefix = 'bench-prof-%s-' % uuid.uuid4().hex[:6]
    work = tempfile.mkdtemp(prefix='domainops-prof-')
    try:
        params = dict(uri=benchlib.URI)
        if args.scenario == 'info':
            module = 'virt_domain_info'
            for i in range(args.domains):
                conn.defineXML(DOMAIN_XML.format(name='%s%04d' % (prefix, i)))
        elif args.scenario in ('state-same', 'state-new'):
            module = 'virt_domain_state'
            params.update(xml=DOMAIN_XML.format(name=prefix + 'one'), state='present')
            if args.scenario == 'state-same':
                conn.defineXML(params['xml'])
        else:
            module = 'virt_domain_autostart'
            conn.defineXML(DOMAIN_XML.format(name=prefix + 'one'))
            params.update(name=prefix + 'one', enabled=False)
        args_file = os.path.join(work, 'args.json')
        with open(args_file, 'w') as f:
            json.dump(dict(ANSIBLE_MODULE_ARGS=params), f)

        run_module(module, args_file)  # warm the bytecode caches
        times = []
        for dummy in range(args.runs):
            if args.scenario == 'state-new':
                undefine_prefix(prefix)
            times.append(run_module(module, args_file)[0])
        print('scenario %s (%s): module process %.3f s median of %d (%s)' % (
            args.scenario, module, statistics.median(times), args.runs, ' '.join('%.3f' % t for t in times)))
        if args.scenario == 'state-new':
            undefine_prefix(prefix)
        _elapsed, stderr, _result = run_module(module, args_file, ['-X', 'importtime'])
        import_report(stderr, args.top)
        if args.scenario == 'state-new':
            undefine_prefix(prefix)
        profile_report(module, args_file, args.top, work)
    finally:
        undefine_prefix(prefix)
        conn.close()


if __name__ == '__main__':
    main()
