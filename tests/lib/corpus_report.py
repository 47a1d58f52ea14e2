"""Summarise a run of tests/system/test_generated_corpus.py.

    DOMAINOPS_CORPUS_RESULTS=/tmp/corpus.jsonl pytest tests/system/test_generated_corpus.py
    python tests/lib/corpus_report.py /tmp/corpus.jsonl [--examples N]

Prints the five figures (defined, re-apply no change, edit converges, exact, check mode
clean), by document kind, then the problems grouped by check and by the first line of
their message (the part paths), with example tests.
"""

from __future__ import annotations

import argparse
import collections
import json
import re


def _load(path):
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _checks(record):
    return set(p['check'] for p in record['problems'])


def figures(records):
    docs = [r for r in records if r['edit'] is None]
    edits = [r for r in records if r['edit'] is not None]
    defined = [r for r in docs if 'define' in r['passed']]
    rows = [
        ('documents defined', len(defined), len(docs)),
        ('re-apply: no change, no define', len([r for r in defined if 'reapply' in r['passed']]), len(defined)),
        ('edits applied (changed)', len([r for r in edits if 'edit' in r['passed']]), len(edits)),
        ('edit converges (re-apply: no change, no define)',
         len([r for r in edits if 'edit-reapply' in r['passed']]), len(edits)),
        ('edit result exact (= libvirt own define)', len([r for r in edits if 'edit-exact' in r['passed']]),
         len(edits)),
        ('check mode clean (byte-identical, same prediction)',
         len([r for r in records if not _checks(r) & {'check-mode-changed-domain', 'check-mode-prediction',
                                                      'check-failed'}]), len(records)),
    ]
    return rows


def _signature(problem):
    first = problem['msg'].splitlines()[0] if problem['msg'] else ''
    first = re.sub(r"'gcx-[0-9a-f]+'", "'NAME'", first)
    first = re.sub(r'gcx-[0-9a-f]+', 'NAME', first)
    first = re.sub(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', 'UUID', first)
    return first[:400]


_IGNORED = re.compile(r'libvirt normalised or ignored (.*?) of domain')
_DIFFERENCES = re.compile(r'differences: (.*)$')
_SIDE = re.compile(r'(module has, libvirt not|libvirt has, module not): ([^;]+)')


def _general(path):
    """devices/disk[vda]/source -> devices/disk[*]/source, for tallying causes."""
    return re.sub(r'\[[^\]]*\]', '[*]', path.strip())


def part_tally(records):
    """{check: {part: [tests]}}: the paths the engine warns about (no-change runs that
    define) and the paths where the result differs from libvirt's own define."""
    tally = collections.defaultdict(lambda: collections.defaultdict(list))
    for record in records:
        for problem in record['problems']:
            parts = set()
            for match in _IGNORED.finditer(problem['msg']):
                parts.update(_general(p) for p in match.group(1).split(', '))
            for match in _DIFFERENCES.finditer(problem['msg'].splitlines()[0] if problem['msg'] else ''):
                parts.update(_general(p) for p in match.group(1).split(', ') if p)
            for side, path in _SIDE.findall(problem['msg'].splitlines()[0] if problem['msg'] else ''):
                parts.add('%s: %s' % ('module only' if side.startswith('module') else 'libvirt only', _general(path)))
            for part in parts:
                tally[problem['check']][part].append(record['test'])
    return tally


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('results')
    parser.add_argument('--examples', type=int, default=2)
    args = parser.parse_args()
    records = _load(args.results)
    print('| figure | all | ' + ' | '.join(sorted(set(r['kind'] for r in records))) + ' |')
    kinds = sorted(set(r['kind'] for r in records))
    print('|---|---|' + '---|' * len(kinds))
    total = figures(records)
    by_kind = dict((k, figures([r for r in records if r['kind'] == k])) for k in kinds)
    for i, (label, good, of) in enumerate(total):
        cells = ['%d/%d' % (by_kind[k][i][1], by_kind[k][i][2]) for k in kinds]
        print('| %s | %d/%d | %s |' % (label, good, of, ' | '.join(cells)))
    if any(r['deletes'] for r in records):
        print('\ndeletion edits, exact / converges by kind:')
        for kind in sorted(set(r['deletes'] for r in records if r['deletes'])):
            rows = [r for r in records if r['deletes'] == kind]
            print('  %-12s exact %d/%d, converges %d/%d' % (
                kind, len([r for r in rows if 'edit-exact' in r['passed']]), len(rows),
                len([r for r in rows if 'edit-reapply' in r['passed']]), len(rows)))
    print('\nparts named, by check (a test counts once per part):')
    for check, parts in sorted(part_tally(records).items()):
        print('  %s:' % check)
        for part, tests in sorted(parts.items(), key=lambda kv: -len(kv[1]))[:25]:
            print('    %4d  %s   e.g. %s' % (len(tests), part, tests[0]))
    groups = collections.defaultdict(list)
    for record in records:
        for problem in record['problems']:
            groups[(problem['check'], _signature(problem))].append((record, problem))
    print('\nproblems by check and message (%d tests with problems of %d):' % (
        len([r for r in records if r['problems']]), len(records)))
    for (check, signature), items in sorted(groups.items(), key=lambda kv: (kv[0][0], -len(kv[1]))):
        print('\n[%s] x%d: %s' % (check, len(items), signature))
        for record, problem in items[:args.examples]:
            rest = problem['msg'].splitlines()[1:]
            print('   e.g. %s%s' % (record['test'], (' validate=%s' % record['validate'])))
            for line in rest[:12]:
                print('        ' + line)


if __name__ == '__main__':
    main()
