"""virt_pool on the real daemon: a dir pool defined, built, started, refreshed, changed,
stopped, started again, removed with its directory; a path that does not exist. Every
change: check, real, check, real."""

import os
import sys
import uuid

import libvirt
import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TESTS, 'lib'))
from modrun import one_line_problems, run_module, step  # noqa: E402
from sysenv import URI, connect  # noqa: E402


def pool_snapshot(conn, name):
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            return None
        raise
    persistent = bool(pool.isPersistent())
    return dict(active=bool(pool.isActive()), persistent=persistent,
                autostart=bool(pool.autostart()) if persistent else None,
                inactive=pool.XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE) if persistent else None,
                volumes=sorted(pool.listVolumes()) if pool.isActive() else None)


def remove_pool(conn, name, delete=False):
    try:
        pool = conn.storagePoolLookupByName(name)
    except libvirt.libvirtError:
        return
    if pool.isActive():
        for vol in pool.listAllVolumes():
            vol.delete(0)
        pool.destroy()
    if delete:
        try:
            pool.delete(0)
        except libvirt.libvirtError:
            pass
    try:
        pool.undefine()
    except libvirt.libvirtError:
        pass


def dir_pool_xml(name, path, mode='0755'):
    return ("<pool type='dir'><name>%s</name><target><path>%s</path>"
            "<permissions><mode>%s</mode></permissions></target></pool>" % (name, path, mode))


@pytest.fixture
def conn():
    connection = connect()
    yield connection
    connection.close()


def test_dir_pool_lifecycle(conn, tmp_path):
    name = 'i16-pool-%s' % uuid.uuid4().hex[:6]
    path = str(tmp_path / 'pool')
    snap = pool_snapshot
    try:
        result = step(conn, name, 'virt_pool', dict(xml=dir_pool_xml(name, path), state='running', build=True),
                      ['define', 'build', 'create'], snap=snap)
        assert os.path.isdir(path) and result['pool']['active'] and result['pool']['path'] == path
        assert result['pool']['capacity'] > 0 and result['pool']['type'] == 'dir'
        # what pool-dumpxml gives (sizes, owner, the trailing slash) is no change
        dumped = conn.storagePoolLookupByName(name).XMLDesc(0).replace(path, path + '/')
        again = run_module('virt_pool', dict(xml=dumped, state='running', build=True), URI)
        assert not again['changed'] and again['differences'] == [], again

        # a file put there behind libvirt's back shows after a refresh, which is no change
        with open(os.path.join(path, 'behind.img'), 'wb') as handle:
            handle.write(b'\0' * 4096)
        result = run_module('virt_pool', dict(name=name, refresh=True), URI)
        assert result['actions'] == ['refresh'] and not result['changed']
        assert 'behind.img' in conn.storagePoolLookupByName(name).listVolumes()
        os.unlink(os.path.join(path, 'behind.img'))
        run_module('virt_pool', dict(name=name, refresh=True), URI)

        # a definition change of a running pool waits for a restart (or is restarted)
        result = step(conn, name, 'virt_pool', dict(xml=dir_pool_xml(name, path, '0711'), state='running'),
                      ['define'], snap=snap)
        assert result['restart_required'] and result['live_differences'] == ['target/permissions/mode']
        result = run_module('virt_pool', dict(xml=dir_pool_xml(name, path, '0711'), restart=True), URI)
        assert result['actions'] == ['destroy', 'create'] and not result['restart_required']

        step(conn, name, 'virt_pool', dict(state='running', autostart=True), ['set_autostart(true)'], snap=snap)
        step(conn, name, 'virt_pool', dict(state='stopped'), ['destroy'], snap=snap)
        assert not conn.storagePoolLookupByName(name).isActive() and os.path.isdir(path)
        step(conn, name, 'virt_pool', dict(state='running'), ['create'], snap=snap)
        step(conn, name, 'virt_pool', dict(state='absent', delete=True), ['destroy', 'delete', 'undefine'],
             snap=snap)
        assert not os.path.exists(path)
    finally:
        remove_pool(conn, name, delete=True)


def test_path_that_does_not_exist_names_what_was_made(conn, tmp_path):
    name = 'i16-pool-%s' % uuid.uuid4().hex[:6]
    path = str(tmp_path / 'missing')
    try:
        result = run_module('virt_pool', dict(xml=dir_pool_xml(name, path), state='running'), URI)
        assert one_line_problems(result) == []
        assert "could not start pool '%s'" % name in result['msg'] and 'build: true' in result['msg']
        assert 'already done before the failure: define' in result['msg']
        assert result['actions'] == ['define']
        # with build it is made and started
        result = run_module('virt_pool', dict(xml=dir_pool_xml(name, path), state='running', build=True), URI)
        assert result['actions'] == ['build', 'create'], result
    finally:
        remove_pool(conn, name, delete=True)
