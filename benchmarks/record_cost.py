"""What the applied record costs a no-change run of virt_domain_state (not a test).

A document is applied by virt_domain_state to a domain on the real daemon
(qemu:///system), so that the domain carries the applied record; the module then gets N
no-change runs, in-process (the module's own work, without Ansible's process start-up).
Beside it, the engine alone (xml_engine.Comparison) on the stored definition with its
record read and used, and on the same definition compared two-way (record=None: what the
engine did before the record), and the floor: parsing the two documents only. The
record's cost is the difference of the two engine rows, next to the module run.

    .venv/bin/python benchmarks/record_cost.py [--runs 40]
"""
import argparse
import os
import statistics
import sys
import time
import uuid

import libvirt

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, '.build', 'collections'))
sys.path.insert(0, os.path.join(REPO, 'tests', 'lib'))
from modrun import remove_domain, run_module  # noqa: E402
from ansible_collections.domainops.libvirt.plugins.module_utils import domain_xml as dx  # noqa: E402

URI = 'qemu:///system'
DOCUMENT = os.path.join(REPO, 'tests', 'corpus', 'domains', 'q35-sata-empty-cdrom.xml')


def timed(func, runs):
    samples = []
    for dummy in range(runs):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, min(samples) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--runs', type=int, default=40)
    runs = parser.parse_args().runs
    conn = libvirt.open(URI)
    with open(DOCUMENT) as handle:
        template = handle.read()
    name = 'bench-record-%s' % uuid.uuid4().hex[:6]
    try:
        root = dx.parse_xml(template)
        root.find('name').text = name
        if root.find('uuid') is not None:
            root.remove(root.find('uuid'))
        doc = dx.to_text(root, pretty=False, mask_secrets=False)
        first = run_module('virt_domain_state', dict(xml=doc), URI)
        assert first['changed'] and first['applied_record'] == 'written', first
        aliases = dx.machine_aliases(conn.getCapabilities())
        stored = conn.lookupByName(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)

        def module_run():
            result = run_module('virt_domain_state', dict(xml=doc), URI)
            assert not result['failed'] and not result['changed'], result
        rows = [
            ('module no-change run (record read and used)', timed(module_run, runs)),
            ('engine Comparison, record read and used', timed(
                lambda: dx.Comparison(dx.DOMAIN, doc, stored, aliases, record='stored', write_record=True), runs)),
            ('engine Comparison, two-way (record=None)', timed(
                lambda: dx.Comparison(dx.DOMAIN, doc, stored, aliases, record=None), runs)),
            ('floor: parse both documents', timed(lambda: (dx.parse_xml(doc), dx.parse_xml(stored)), runs)),
        ]
        print('%-46s %12s %10s' % ('what (%d runs each)' % runs, 'median ms', 'min ms'))
        for label, (median, least) in rows:
            print('%-46s %12.2f %10.2f' % (label, median, least))
    finally:
        remove_domain(conn, name)
        conn.close()


if __name__ == '__main__':
    main()
