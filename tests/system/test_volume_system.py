"""virt_volume on the real daemon, in a dir pool of its own: volumes by size, as an
overlay of a backing volume and of a file, from a complete XML, as a clone, from an
uploaded qcow2 image (made with qemu-img here, in the test only), resized; bad input
(shrink, checksum mismatch, larger than the pool); all removed again. Every change:
check, real, check, real."""

import functools
import hashlib
import os
import shutil
import subprocess
import sys
import time
import uuid

import libvirt
import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, 'lib'))
sys.path.insert(0, os.path.join(TESTS, 'system'))
from modrun import one_line_problems, remove_domain, run_module, step  # noqa: E402
from sysenv import URI, connect, tiny_xml, unique  # noqa: E402
from test_pool_system import remove_pool  # noqa: E402

import guests  # noqa: E402  (tests/guest, put on sys.path by sysenv)

MIB = 1024 * 1024


def volume_snapshot(pool_name, conn, name):
    pool = conn.storagePoolLookupByName(pool_name)
    pool.refresh(0)
    try:
        vol = pool.storageVolLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise
    xml = vol.XMLDesc(0)
    start, end = xml.find('<timestamps>'), xml.find('</timestamps>')
    return xml[:start] + xml[end:] if start >= 0 else xml


@pytest.fixture
def conn():
    connection = connect()
    yield connection
    connection.close()


@pytest.fixture
def pool(conn, tmp_path):
    name = 'i16-vpool-%s' % uuid.uuid4().hex[:6]
    path = tmp_path / 'pool'
    path.mkdir()
    conn.storagePoolCreateXML("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
                              % (name, path), 0)
    yield name
    remove_pool(conn, name)


@pytest.fixture
def image(tmp_path):
    """A small real qcow2 image with some data in it (a stand-in for a cloud image)."""
    raw = tmp_path / 'data.raw'
    raw.write_bytes(os.urandom(256 * 1024) + b'\0' * (768 * 1024))
    path = str(tmp_path / 'image.qcow2')
    subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', str(raw), path], check=True)
    subprocess.run(['qemu-img', 'resize', '-f', 'qcow2', path, '8M'], check=True, stdout=subprocess.DEVNULL)
    return path


def test_volumes_by_size_overlay_clone_upload_resize(conn, pool, image, tmp_path):
    snap = functools.partial(volume_snapshot, pool)
    base = dict(pool=pool)
    digest = hashlib.sha256(open(image, 'rb').read()).hexdigest()

    result = step(conn, 'up.qcow2', 'virt_volume', dict(base, upload=image, checksum='sha256:' + digest),
                  ['create', 'upload', 'refresh_pool'], snap=snap)
    assert result['volume']['format'] == 'qcow2' and result['volume']['capacity'] == 8 * MIB
    vol = conn.storagePoolLookupByName(pool).storageVolLookupByName('up.qcow2')
    assert open(vol.path(), 'rb').read() == open(image, 'rb').read()
    # the same content from another file (a fresh download, say) is not uploaded again
    same = str(tmp_path / 'same.qcow2')
    shutil.copyfile(image, same)
    again = run_module('virt_volume', dict(base, name='up.qcow2', upload=same, checksum='sha256:' + digest), URI)
    assert again['actions'] == [] and not again['changed'], again

    result = step(conn, 'web.qcow2', 'virt_volume', dict(base, backing='up.qcow2'), ['create'], snap=snap)
    assert result['volume']['backing'] == vol.path() and result['volume']['capacity'] == 8 * MIB
    info = subprocess.run(['qemu-img', 'info', '--output=json', result['volume']['path']], check=True,
                          capture_output=True, text=True).stdout
    assert vol.path() in info

    # an overlay of a file outside the pool (an absolute path on the hypervisor)
    result = step(conn, 'file.qcow2', 'virt_volume', dict(base, backing=image), ['create'], snap=snap)
    assert result['volume']['backing'] == image and result['volume']['capacity'] == 8 * MIB

    # a complete volume XML
    xml = ("<volume><name>x.qcow2</name><capacity unit='MiB'>2</capacity>"
           "<target><format type='qcow2'/></target></volume>")
    result = step(conn, 'x.qcow2', 'virt_volume', dict(base, xml=xml), ['create'], snap=snap)
    assert result['volume']['format'] == 'qcow2' and result['volume']['capacity'] == 2 * MIB

    step(conn, 'web.qcow2', 'virt_volume', dict(base, backing='up.qcow2', size='16M'),
         ['resize(%d)' % (16 * MIB)], snap=snap)

    result = step(conn, 'copy.qcow2', 'virt_volume', dict(base, clone_from='up.qcow2'),
                  ['create_from(up.qcow2)'], snap=snap)
    assert result['volume']['format'] == 'qcow2' and result['volume']['backing'] is None

    result = step(conn, 'data.img', 'virt_volume', dict(base, size='4MiB'), ['create'], snap=snap)
    assert result['volume']['format'] == 'raw' and result['volume']['capacity'] == 4 * MIB
    step(conn, 'data.img', 'virt_volume', dict(base, size='6M'), ['resize(%d)' % (6 * MIB)], snap=snap)

    # a changed source is uploaded again (same size: in place)
    changed = str(tmp_path / 'changed.qcow2')
    data = bytearray(open(image, 'rb').read())
    data[-1] ^= 0xff
    open(changed, 'wb').write(bytes(data))
    step(conn, 'up.qcow2', 'virt_volume', dict(base, upload=changed), ['upload', 'refresh_pool'], snap=snap)

    for name in ('web.qcow2', 'file.qcow2', 'x.qcow2', 'copy.qcow2', 'up.qcow2'):
        step(conn, name, 'virt_volume', dict(base, state='absent'), ['delete'], snap=snap)
    step(conn, 'data.img', 'virt_volume', dict(base, state='absent', wipe=True), ['wipe', 'delete'], snap=snap)
    assert conn.storagePoolLookupByName(pool).listVolumes() == []


def test_bad_input_is_refused_and_nothing_is_made(conn, pool, image):
    base = dict(pool=pool)
    assert not run_module('virt_volume', dict(base, name='v', size='4M'), URI)['failed']
    cases = [
        (dict(base, name='v', size='2M'), 'shrinking it'),
        (dict(base, name='w', upload=image, checksum='0' * 64), 'not the checksum'),
        (dict(base, name='w', size='100000T'), 'larger than the whole pool'),
        (dict(base, name='w', size='ten'), 'is not a size'),
        (dict(base, name='w', backing='nope'), "'nope' is not a volume"),
        (dict(pool='i16-no-such-pool', name='w', size='1M'), 'not found'),
    ]
    for args, words in cases:
        result = run_module('virt_volume', args, URI)
        assert one_line_problems(result) == [] and words in result['msg'], (args, result['msg'])
        assert result['actions'] == []
    pool_obj = conn.storagePoolLookupByName(pool)
    assert pool_obj.listVolumes() == ['v']
    assert pool_obj.storageVolLookupByName('v').info()[1] == 4 * MIB
    result = run_module('virt_volume', dict(base, name='v', size='2M', allow_shrink=True), URI)
    assert result['actions'] == ['resize(%d)' % (2 * MIB)]


def test_cloud_init_seed_volume_reads_back(conn, pool, tmp_path):
    snap = functools.partial(volume_snapshot, pool)
    seed = dict(user_data='#cloud-config\nhostname: web01\n',
                network_config=dict(version=2, ethernets=dict(eth0=dict(dhcp4=True))))
    args = dict(pool=pool, cloud_init=seed)
    result = step(conn, 'web01-seed.iso', 'virt_volume', args, ['create', 'upload', 'refresh_pool'], snap=snap)
    out = tmp_path / 'seed'
    subprocess.run(['xorriso', '-osirrox', 'on', '-indev', result['volume']['path'], '-extract', '/', str(out)],
                   check=True, capture_output=True)
    assert sorted(os.listdir(out)) == ['meta-data', 'network-config', 'user-data']
    assert (out / 'user-data').read_text() == seed['user_data']
    assert '"dhcp4": true' in (out / 'network-config').read_text()
    assert (out / 'meta-data').read_text().startswith('instance-id: web01-seed.iso-')
    label = subprocess.run(['blkid', '-o', 'value', '-s', 'LABEL', result['volume']['path']],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert label == 'cidata'
    # new user data: a new image, uploaded again
    seed['user_data'] += 'packages: [nginx]\n'
    step(conn, 'web01-seed.iso', 'virt_volume', dict(pool=pool, cloud_init=seed), ['upload', 'refresh_pool'],
         snap=snap)


def test_a_disk_of_a_running_guest_grows_through_qemu(conn, pool, tmp_path):
    """QEMU holds a running guest's image (libvirt's own resize would fail on its lock):
    the volume grows through the domain (virDomainBlockResize) and the guest sees it."""
    snap = functools.partial(volume_snapshot, pool)
    name, log = unique('grow'), str(tmp_path / 'serial.log')
    step(conn, 'disk.qcow2', 'virt_volume', dict(pool=pool, size='16M', format='qcow2'), ['create'], snap=snap)
    path = conn.storagePoolLookupByName(pool).storageVolLookupByName('disk.qcow2').path()
    disk = ("<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>"
            "<source pool='%s' volume='disk.qcow2'/><target dev='vda' bus='virtio'/></disk>" % pool)
    dom = conn.createXML(tiny_xml(name, log, extra=disk), 0)
    try:
        guests.wait_for_ready(log, timeout=120)
        result = step(conn, 'disk.qcow2', 'virt_volume', dict(pool=pool, size='32M'),
                      ['block_resize(%s/vda, %d)' % (name, 32 * MIB)], snap=snap)
        assert result['volume']['capacity'] == 32 * MIB and result['volume']['path'] == path
        # the guest's kernel sees the new size (virtio_blk reports it)
        deadline = time.monotonic() + 30
        while '[vda] new size: 65536 512-byte logical blocks' not in open(log).read():
            assert time.monotonic() < deadline, open(log).read()[-2000:]
            time.sleep(0.2)
        shrink = run_module('virt_volume', dict(pool=pool, name='disk.qcow2', size='16M', allow_shrink=True), URI)
        assert one_line_problems(shrink) == [] and shrink['actions'] == [], shrink
        assert "of the running domain '%s', which is not shrunk; nothing was changed" % name in shrink['msg']
    finally:
        remove_domain(conn, name)
