# virt_volume in-process on test:///default (its default pool is in memory; uploads,
# overlays and clones of real files are tested on the daemon: tests/system/test_volume_system.py).
import pytest

from ansible_collections.domainops.libvirt.plugins.modules import virt_volume


def run4(run_module, args):
    return [run_module(virt_volume, args, check=check, diff=True) for check in (True, False, True, False)]


@pytest.fixture
def pool(conn):
    return conn.storagePoolLookupByName('default-pool')


def test_create_and_delete_is_idempotent(run_module, pool, unique_name):
    results = run4(run_module, dict(pool='default-pool', name=unique_name, size='4M'))
    assert [r['changed'] for r in results] == [True, True, False, False]
    assert results[0]['actions'] == results[1]['actions'] == ['create']
    assert results[0]['volume']['capacity'] == 4 * 1024 * 1024
    assert results[1]['volume']['capacity'] == 4 * 1024 * 1024 and results[1]['volume']['format'] == 'raw'
    assert unique_name in pool.listVolumes()
    results = run4(run_module, dict(pool='default-pool', name=unique_name, state='absent'))
    assert [r['changed'] for r in results] == [True, True, False, False]
    assert results[1]['actions'] == ['delete'] and unique_name not in pool.listVolumes()


def test_xml_of_an_existing_volume_is_no_change(run_module, pool, unique_name):
    xml = "<volume><name>%s</name><capacity unit='M'>2</capacity></volume>" % unique_name
    try:
        assert run_module(virt_volume, dict(pool='default-pool', xml=xml))['actions'] == ['create']
        again = run_module(virt_volume, dict(pool='default-pool', xml=xml.replace("unit='M'>2", "unit='KiB'>2048")))
        assert not again['changed'] and again['differences'] == []
        shrink = run_module(virt_volume, dict(pool='default-pool', name=unique_name, size='1M'))
        assert shrink['failed'] and 'allow_shrink' in shrink['msg'] and shrink['actions'] == []
    finally:
        run_module(virt_volume, dict(pool='default-pool', name=unique_name, state='absent'))


def test_missing_pool_and_missing_size(run_module, unique_name):
    result = run_module(virt_volume, dict(pool='no-such-pool', name=unique_name, size='1M'))
    assert result['failed'] and "pool 'no-such-pool' not found" in result['msg']
    result = run_module(virt_volume, dict(pool='default-pool', name=unique_name))
    assert result['failed'] and 'give size' in result['msg'] and result['actions'] == []
