# A libvirtd that hangs (SIGSTOP: its socket stays open, nothing answers) while a task
# waits for a graceful shutdown: the task must end within its timeout plus a small
# bounded margin, with one line saying what was done, never hang. Run against the
# extra daemon b of scripts/extra-daemons.sh (127.0.0.1:16562), never the shared
# system libvirtd; the daemon always gets SIGCONT again.
import json
import os
import signal
import subprocess
import sys
import time

import libvirt
import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, 'lib'))
from modrun import remove_domain  # noqa: E402
from sysenv import REPO, noos_xml, unique, wait_for  # noqa: E402

DAEMONS = os.path.join(REPO, 'scripts', 'extra-daemons.sh')
URI = 'qemu+tcp://127.0.0.1:16562/system'
PID_FILE = os.path.join(os.environ.get('DOMAINOPS_EXTRA_DAEMONS_DIR', '/var/lib/domainops-libvirt/extra-daemons'),
                        'b', 'run', 'libvirtd.pid')
TIMEOUT = 6
# keepalive gives up after about 4 s (events.py); the module starts in about 0.5 s
MARGIN = 5
HUNG_AFTER = 2.0
GIVE_UP = TIMEOUT + 60  # the test's own limit: past it the task hangs

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


@pytest.fixture
def guest():
    proc = subprocess.run([DAEMONS, 'start'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    assert proc.returncode == 0, 'scripts/extra-daemons.sh start failed:\n%s' % proc.stdout
    conn = libvirt.open(URI)
    name = unique('hung')
    conn.defineXML(noos_xml(name)).create()  # no OS: ignores the shutdown request
    yield name
    conn.close()
    conn = libvirt.open(URI)  # a fresh one: the daemon was stopped meanwhile
    remove_domain(conn, name)
    conn.close()


def test_shutdown_wait_ends_when_libvirtd_hangs(guest, tmp_path):
    args = tmp_path / 'args.json'
    args.write_text(json.dumps(dict(ANSIBLE_MODULE_ARGS=dict(uri=URI, name=guest, state='shutdown', timeout=TIMEOUT))))
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, '.build', 'collections'))
    with open(PID_FILE) as handle:
        pid = int(handle.read().strip())
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, os.path.join(REPO, 'plugins', 'modules', 'virt_domain_state.py'),
                             str(args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(HUNG_AFTER)  # the module has asked for the shutdown and waits
        os.kill(pid, signal.SIGSTOP)
        try:
            out, err = proc.communicate(timeout=GIVE_UP)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            pytest.fail('the task was still waiting %d s after its %d s timeout on a hung libvirtd'
                        % (GIVE_UP - TIMEOUT, TIMEOUT))
        took = time.monotonic() - started
    finally:
        os.kill(pid, signal.SIGCONT)
    result = json.loads(out.strip().splitlines()[-1]) if out.strip() else dict(msg=err[-2000:])
    print('hung libvirtd (SIGSTOP %.1f s into the task): the task ended after %.1f s (timeout %d s): %s'
          % (HUNG_AFTER, took, TIMEOUT, result.get('msg')))
    assert result.get('failed') and result['actions'] == ['shutdown'] and result['changed'] is True, result
    msg = result['msg']
    assert '\n' not in msg and 'libvirtd stopped answering' in msg and 'within the timeout' in msg, msg
    assert msg.endswith('(already done before the failure: shutdown)'), msg
    assert took <= TIMEOUT + MARGIN, 'the task took %.1f s, timeout %d s + %d s margin' % (took, TIMEOUT, MARGIN)
    # the daemon answers again and the guest was left running
    conn = libvirt.open(URI)
    try:
        wait_for(lambda: conn.lookupByName(guest).isActive() == 1, 10, 'the guest running after SIGCONT')
    finally:
        conn.close()
