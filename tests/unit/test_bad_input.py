# Bad input, in-process on test:///default: every case of tests/lib/bad_inputs.py must
# fail with one clear line naming what was wrong, change nothing, leak nothing, never
# touch the network. The same table runs on qemu:///system in
# tests/system/test_bad_input_system.py (which also checks that libvirtd survives it).
import os
import sys
import uuid

import libvirt
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from bad_inputs import CASES, LIBVIRT_DETECTED, SECRET_MARKER, fill  # noqa: E402
from hostile import RecordingServer, secret_file  # noqa: E402
from modrun import one_line_problems, run_module, snapshot_all  # noqa: E402

from conftest import TEST_URI, minimal_domain_xml  # noqa: E402


@pytest.fixture(scope='module')
def env(tmp_path_factory):
    conn = libvirt.open(TEST_URI)  # keeps the in-process test driver's state for the module
    prefix = 'ut-bad-%s' % uuid.uuid4().hex[:8]
    names = dict(run=prefix + '-run', off=prefix + '-off', transient=prefix + '-tr', missing=prefix + '-missing')
    conn.defineXML(minimal_domain_xml(names['run'])).create()
    conn.defineXML(minimal_domain_xml(names['off']))
    conn.createXML(minimal_domain_xml(names['transient']), 0)
    directory = str(tmp_path_factory.mktemp('bad-input'))
    with RecordingServer() as server:
        values = dict(names, type='test', arch='i686', dir=directory, secret_file=secret_file(directory),
                      http=server.url, run_uuid=conn.lookupByName(names['run']).UUIDString())
        yield dict(conn=conn, values=values, server=server, dir=directory)
    for name in names.values():
        try:
            dom = conn.lookupByName(name)
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefine()
        except libvirt.libvirtError:
            pass
    conn.close()


@pytest.mark.parametrize('case_id,module,args,words', CASES, ids=[c[0] for c in CASES])
def test_bad_input(env, case_id, module, args, words):
    conn, values = env['conn'], env['values']
    files = sorted(os.listdir(env['dir']))
    before = snapshot_all(conn)
    for check in (True, False):
        result = run_module(module, fill(args, values), TEST_URI, check=check)
        if check and case_id in LIBVIRT_DETECTED:
            assert result['actions'] == ['define'] and snapshot_all(conn) == before, result
            continue
        assert one_line_problems(result) == [], (case_id, result.get('msg'))
        msg = result['msg']
        for word in fill(words, values):
            assert word.lower() in msg.lower(), '%s: %r does not name %r' % (case_id, msg, word)
        assert not result.get('changed'), msg
        assert result.get('actions', []) == [], msg
        assert SECRET_MARKER not in result['stdout'] and 'DOMAINOPS-HTTP-CONTENT' not in result['stdout']
        assert len(msg) < 1000, 'message of %d characters' % len(msg)
        assert snapshot_all(conn) == before, '%s changed a domain' % case_id
        assert sorted(os.listdir(env['dir'])) == files, '%s wrote a file' % case_id
    assert env['server'].requests == [], 'XML parsing reached the network: %s' % env['server'].requests
