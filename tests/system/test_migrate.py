# virt_domain_migrate between two real libvirt daemons on this machine
# (scripts/extra-daemons.sh starts them: a and b, each its own "host" in its own mount
# namespace, on 127.0.0.1:16561 and :16562). The tiny guest migrates live and keeps
# running (its serial console, appended to by both QEMUs, shows a single boot); a shut-off
# domain moves offline; a local qcow2 disk moves with copy_storage into the target's own
# image directory; and the faults: unsafe storage, an unreachable target, name/UUID
# clashes, a timeout (the job aborted), the source daemon restarted during the wait.
# Every change: check, real, check, real, with both hosts snapshotted around check mode.
import os
import subprocess
import sys
import threading
import uuid

import libvirt
import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, 'lib'))
sys.path.insert(0, os.path.join(TESTS, 'guest'))
import guests  # noqa: E402
from modrun import one_line_problems, remove_domain, run_module, snapshot  # noqa: E402

DAEMONS = os.path.join(os.path.dirname(TESTS), 'scripts', 'extra-daemons.sh')
A = 'qemu+tcp://127.0.0.1:16561/system'
B = 'qemu+tcp://127.0.0.1:16562/system'
UNREACHABLE = 'qemu+tcp://127.0.0.1:16569/system'  # nothing listens there
# Migration data over the loopback too (by default libvirt uses the host name).
LOOPBACK = dict(migration_uri='tcp://127.0.0.1', listen_address='127.0.0.1')
IMAGES = '/var/lib/libvirt/images'  # each daemon's own (private) directory
POOL = "<pool type='dir'><name>domainops-images</name><target><path>%s</path></target></pool>" % IMAGES

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


@pytest.fixture(scope='module')
def daemons():
    """Start the two extra daemons (idempotent, fast); they stay up for later suites."""
    proc = subprocess.run([DAEMONS, 'start'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False)
    assert proc.returncode == 0, 'scripts/extra-daemons.sh start failed:\n%s' % proc.stdout
    guests.build()


@pytest.fixture(scope='module')
def tiny(daemons, tmp_path_factory):
    """The tiny guest, booted once on a (about 5-20 s) for the tests that need a real guest."""
    name = 'mig-tiny-%s' % uuid.uuid4().hex[:8]
    log = str(tmp_path_factory.mktemp('migrate') / 'serial.log')
    conn = libvirt.open(A)
    try:
        _tiny(conn, name, log)
    finally:
        conn.close()
    yield dict(name=name, log=log)
    for uri in (A, B):
        conn = libvirt.open(uri)
        remove_domain(conn, name)
        conn.close()


@pytest.fixture
def hosts(daemons):
    """Connections to a and b, and a cleanup of every domain named with this test's prefix."""
    prefix = 'mig-%s' % uuid.uuid4().hex[:8]
    opened = []

    def connect(uri):
        conn = libvirt.open(uri)
        opened.append(conn)
        return conn

    yield dict(a=connect(A), b=connect(B), prefix=prefix, connect=connect)
    for uri in (A, B):  # fresh connections: a test may have restarted a daemon
        conn = libvirt.open(uri)
        for dom in conn.listAllDomains(0):
            if dom.name().startswith(prefix):
                remove_domain(conn, dom.name())
        for name in _pool(conn).listVolumes():
            if name.startswith(prefix):
                _pool(conn).storageVolLookupByName(name).delete(0)
        conn.close()
    for conn in opened:
        try:
            conn.close()
        except libvirt.libvirtError:
            pass


def _pool(conn):
    """The daemon's own image directory as a pool (transient: gone after a daemon restart)."""
    try:
        pool = conn.storagePoolLookupByName('domainops-images')
    except libvirt.libvirtError:
        return conn.storagePoolCreateXML(POOL, 0)
    pool.refresh(0)
    return pool


def _tiny(conn, name, log, disk=''):
    # append: the target QEMU must not truncate the console log the source QEMU wrote.
    xml = guests.tiny_guest_xml(name, log, extra_devices=disk).replace('<source path=', "<source append='on' path=")
    dom = conn.defineXML(xml)
    dom.create()
    guests.wait_for_ready(log, timeout=90)
    return dom


def _qcow2_disk(path):
    return ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
            "<target dev='vda' bus='virtio'/></disk>" % path)


def _both(hosts, name):
    return snapshot(hosts['a'], name), snapshot(hosts['b'], name)


def migrate_step(hosts, src, name, args, actions):
    """check (nothing changes on either host), real, then check and real again: no change."""
    args = dict(args, name=name)
    before = _both(hosts, name)
    checked = run_module('virt_domain_migrate', args, src, check=True, diff=True)
    assert not checked['failed'], checked['msg']
    assert _both(hosts, name) == before, 'check mode changed a host'
    assert checked['diff']['before'] != checked['diff']['after'] and 'target' in checked['diff']['after']
    real = run_module('virt_domain_migrate', args, src)
    assert not real['failed'], real['msg']
    assert checked['actions'] == real['actions'] == actions, (checked['actions'], real['actions'])
    assert checked['changed'] and real['changed']
    assert checked['domain']['uuid'] == real['domain']['uuid']
    for check in (True, False):
        again = run_module('virt_domain_migrate', args, src, check=check)
        assert not again['failed'], again['msg']
        assert again['actions'] == [] and not again['changed'], again
    return real


def _where(hosts, name):
    """{'a': state or None, 'b': ...} (state as libvirt's number)."""
    return dict((key, (snapshot(hosts[key], name) or {}).get('state', (None,))[0]) for key in ('a', 'b'))


def _failure(args, src, *words):
    result = run_module('virt_domain_migrate', args, src)
    assert one_line_problems(result) == [], result.get('msg')
    for word in words:
        assert word in result['msg'], '%r does not say %r' % (result['msg'], word)
    return result


RUNNING, SHUTOFF = libvirt.VIR_DOMAIN_RUNNING, libvirt.VIR_DOMAIN_SHUTOFF


def test_live_there_and_back_keeps_the_guest_running(hosts, tiny):
    name, log = tiny['name'], tiny['log']
    assert _where(hosts, name) == dict(a=RUNNING, b=None)
    real = migrate_step(hosts, A, name, dict(dest_uri=B, **LOOPBACK), ['migrate(live)'])
    assert real['mode'] == 'live' and real['domain']['state'] == 'running' and real['domain']['persistent']
    assert real['job']['time_elapsed'] > 0 and real['job']['data_processed'] > 0 and 'downtime' in real['job']
    assert _where(hosts, name) == dict(a=None, b=RUNNING)
    # Back, this time peer to peer (b's daemon drives it) with a downtime limit.
    migrate_step(hosts, B, name, dict(dest_uri=A, p2p=True, max_downtime=200, **LOOPBACK),
                 ['set_max_downtime(200)', 'migrate(live)'])
    assert _where(hosts, name) == dict(a=RUNNING, b=None)
    assert guests.count_ready(log) == 1, 'the guest booted again:\n' + open(log).read()[-600:]


def test_offline_move_of_a_shut_off_domain(hosts):
    name = hosts['prefix'] + '-off'
    hosts['a'].defineXML(guests.noos_guest_xml(name))
    real = migrate_step(hosts, A, name, dict(dest_uri=B, bandwidth=10), ['migrate(offline)'])
    assert real['mode'] == 'offline' and real['domain']['state'] == 'shutoff' and real['domain']['persistent']
    assert any('bandwidth' in str(w) for w in real.get('warnings', [])), real.get('warnings')
    assert _where(hosts, name) == dict(a=None, b=SHUTOFF)


def test_not_live_tunnelled_peer_to_peer(hosts):
    # Paused while its memory is copied, through b's libvirtd connection, kept on both (a copy).
    name = hosts['prefix'] + '-tunnel'
    hosts['a'].defineXML(guests.noos_guest_xml(name)).create()
    real = migrate_step(hosts, A, name, dict(dest_uri=B, live=False, p2p=True, tunnelled=True, undefine_source=False),
                        ['migrate(paused)'])
    assert real['mode'] == 'paused' and real['domain']['state'] == 'running'
    assert _where(hosts, name) == dict(a=SHUTOFF, b=RUNNING)  # the source kept its definition, as asked


def test_copy_storage_into_the_targets_own_image_directory(hosts):
    name = hosts['prefix'] + '-disk'
    volume = _pool(hosts['a']).createXML("<volume><name>%s.qcow2</name><capacity unit='MiB'>16</capacity>"
                                         "<target><format type='qcow2'/></target></volume>" % name, 0)
    _pool(hosts['b'])  # the target's directory as a pool: libvirt creates the image there
    hosts['a'].defineXML(guests.noos_guest_xml(name, extra_devices=_qcow2_disk(volume.path()))).create()
    before = _both(hosts, name)
    # Without copy_storage (or unsafe) libvirt refuses; the message says which disk and what to do.
    result = _failure(dict(name=name, dest_uri=B, **LOOPBACK), A, 'vda (%s)' % volume.path(), 'copy_storage',
                      'unsafe: true', 'it is on %s (running)' % A)
    assert result['actions'] == [] and not result.get('changed')
    assert _both(hosts, name) == before
    real = migrate_step(hosts, A, name, dict(dest_uri=B, copy_storage='all', **LOOPBACK), ['migrate(live)'])
    assert real['domain']['state'] == 'running'
    assert _pool(hosts['b']).storageVolLookupByName(name + '.qcow2').info()[1] == 16 * 1024 * 1024
    assert _where(hosts, name) == dict(a=None, b=RUNNING)


def test_unsafe_only_when_asked(hosts, tmp_path):
    # A disk both daemons see at the same path (the scratch directory): shared in fact, but
    # on a file system libvirt does not count as shared storage.
    name = hosts['prefix'] + '-unsafe'
    image = str(tmp_path / 'disk.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', image, '16M'], check=True)
    hosts['a'].defineXML(guests.noos_guest_xml(name, extra_devices=_qcow2_disk(image))).create()
    before = _both(hosts, name)
    _failure(dict(name=name, dest_uri=B, **LOOPBACK), A, 'Unsafe migration', 'vda (%s)' % image, 'unsafe: true')
    assert _both(hosts, name) == before
    migrate_step(hosts, A, name, dict(dest_uri=B, unsafe=True, **LOOPBACK), ['migrate(live)'])
    assert _where(hosts, name) == dict(a=None, b=RUNNING)


def test_unreachable_target_changes_nothing(hosts):
    name = hosts['prefix'] + '-unreach'
    hosts['a'].defineXML(guests.noos_guest_xml(name))
    before = _both(hosts, name)
    for check in (True, False):
        result = run_module('virt_domain_migrate', dict(name=name, dest_uri=UNREACHABLE), A, check=check)
        assert one_line_problems(result) == []
        for words in ('target unreachable', UNREACHABLE, 'stays on %s (shutoff)' % A, 'nothing was changed'):
            assert words in result['msg'], result['msg']
    assert _both(hosts, name) == before


def test_name_and_uuid_clashes_change_nothing(hosts):
    name = hosts['prefix'] + '-clash'
    mine = hosts['a'].defineXML(guests.noos_guest_xml(name))
    other = hosts['b'].defineXML(guests.noos_guest_xml(name))  # same name, another UUID
    before = _both(hosts, name)
    _failure(dict(name=name, dest_uri=B), A, 'another domain named', other.UUIDString(), mine.UUIDString(),
             'nothing was changed')
    assert _both(hosts, name) == before
    # The same domain (same UUID) on both hosts.
    other.undefine()
    hosts['b'].defineXML(mine.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    before = _both(hosts, name)
    _failure(dict(uuid=mine.UUIDString(), dest_uri=B), A, 'is on both hosts', 'nothing was changed')
    assert _both(hosts, name) == before
    # Neither host has it.
    _failure(dict(name=hosts['prefix'] + '-nowhere', dest_uri=B), A, 'is neither on')


def test_timeout_and_source_restart_never_lose_the_guest(hosts, tiny):
    name, log = tiny['name'], tiny['log']
    assert _where(hosts, name) == dict(a=RUNNING, b=None)
    slow = dict(name=name, dest_uri=B, bandwidth=1, **LOOPBACK)  # ~75 MB at 1 MiB/s: over a minute

    # A timeout shorter than the migration: the job is aborted, the guest runs on a.
    result = _failure(dict(slow, timeout=3), A, 'did not finish within 3 s', 'aborted the job',
                      'it is on %s (running)' % A)
    assert result['actions'] == ['abort_job'], result['actions']
    assert _where(hosts, name) == dict(a=RUNNING, b=None)

    # The source daemon restarted during the wait: the migration fails, the guest stays on a.
    restart = threading.Timer(2.0, subprocess.run, args=([DAEMONS, 'restart', 'a'],),
                              kwargs=dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True))
    restart.start()
    try:
        result = _failure(dict(slow, timeout=60), A, 'the connection to the source libvirtd was lost',
                          'it is on %s (running)' % A)
    finally:
        restart.join()
    assert result['actions'] == []
    hosts['a'] = hosts['connect'](A)  # the old connection ended with the daemon
    assert _where(hosts, name) == dict(a=RUNNING, b=None)
    assert guests.count_ready(log) == 1, 'the guest booted again:\n' + open(log).read()[-600:]


def test_postcopy_switch_with_compression_and_auto_converge(hosts, tiny):
    name, log = tiny['name'], tiny['log']
    assert _where(hosts, name) == dict(a=RUNNING, b=None)
    # Slow enough (5 MiB/s) that the switch to post-copy after 1 s happens.
    real = migrate_step(hosts, A, name, dict(dest_uri=B, bandwidth=5, postcopy=True, postcopy_after=1,
                                             compression=['xbzrle'], auto_converge=True, **LOOPBACK),
                        ['start_postcopy', 'migrate(live)'])
    assert real['job'].get('compression_cache', 0) > 0, real['job']
    assert _where(hosts, name) == dict(a=None, b=RUNNING)
    assert guests.count_ready(log) == 1, 'the guest booted again:\n' + open(log).read()[-600:]
