# The bad-input table (tests/lib/bad_inputs.py) against the real daemon, qemu:///system,
# with no-OS guests: every case fails with one clear line, changes nothing, leaks
# nothing, reaches no network, and libvirtd survives the whole table (same pid, answers).
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from bad_inputs import CASES, LIBVIRT_DETECTED, SECRET_MARKER, fill  # noqa: E402
from hostile import RecordingServer, secret_file  # noqa: E402
from modrun import one_line_problems, remove_domain, run_module, snapshot_all  # noqa: E402
from sysenv import URI, answers, connect, libvirtd_pid, noos_xml, unique  # noqa: E402


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    conn = connect()
    prefix = unique('bad')
    names = dict(run=prefix + '-run', off=prefix + '-off', transient=prefix + '-tr', missing=prefix + '-missing')
    pid = libvirtd_pid()
    try:
        conn.defineXML(noos_xml(names['run'])).create()
        conn.defineXML(noos_xml(names['off']))
        conn.createXML(noos_xml(names['transient']), 0)
        directory = str(tmp_path_factory.mktemp('bad-input'))
        with RecordingServer() as server:
            values = dict(names, type='qemu', arch='x86_64', dir=directory, secret_file=secret_file(directory),
                          http=server.url, run_uuid=conn.lookupByName(names['run']).UUIDString())
            yield dict(conn=conn, values=values, server=server, dir=directory, names=names, pid=pid)
    finally:
        for name in names.values():
            remove_domain(conn, name)
        conn.close()


@pytest.mark.parametrize('case_id,module,args,words', CASES, ids=[c[0] for c in CASES])
def test_bad_input(env, case_id, module, args, words):
    conn, values = env['conn'], env['values']
    names = sorted(env['names'].values())
    files = sorted(os.listdir(env['dir']))
    before = snapshot_all(conn, names)
    for check in (True, False):
        result = run_module(module, fill(args, values), URI, check=check)
        if check and case_id in LIBVIRT_DETECTED:
            assert result['actions'] == ['define'] and snapshot_all(conn, names) == before, result
            continue
        assert one_line_problems(result) == [], (case_id, result.get('msg'))
        msg = result['msg']
        for word in fill(words, values):
            assert word.lower() in msg.lower(), '%s: %r does not name %r' % (case_id, msg, word)
        assert not result.get('changed') and result.get('actions', []) == [], msg
        assert SECRET_MARKER not in result['stdout'] and 'DOMAINOPS-HTTP-CONTENT' not in result['stdout']
        assert snapshot_all(conn, names) == before, '%s changed a domain' % case_id
        assert sorted(os.listdir(env['dir'])) == files, '%s wrote a file' % case_id
    assert env['server'].requests == [], 'XML parsing reached the network: %s' % env['server'].requests


def test_xml_handed_to_libvirt_reaches_no_network(env):
    """What the module's parser lets through (XInclude, a stylesheet PI, xml:base) goes to
    libvirtd: it must not fetch anything either."""
    conn, server = env['conn'], env['server']
    name = unique('xinc')
    url = server.url
    xml = ('<?xml-stylesheet type="text/xsl" href="%s/pi"?>' % url + noos_xml(name).replace(
        '<vcpu>', '<metadata><x:a xmlns:x="urn:x" xml:base="%s/base/"><xi:include xmlns:xi='
                  '"http://www.w3.org/2001/XInclude" href="%s/xinclude"/></x:a></metadata><vcpu>' % (url, url), 1))
    try:
        for validate in (True, False):
            result = run_module('virt_domain_state', dict(xml=xml, validate=validate), URI)
            assert not result.get('crashed'), result
            assert result['failed'] or result['changed'], result
            remove_domain(conn, name)
        assert server.requests == []
    finally:
        remove_domain(conn, name)


def test_libvirtd_survived_the_table(env):
    """Runs last in this file: the daemon that started the table still answers."""
    assert answers(), 'libvirtd does not answer on %s' % URI
    assert libvirtd_pid() == env['pid'], 'libvirtd was restarted (crashed?) during the bad-input table'
    assert env['server'].requests == []
