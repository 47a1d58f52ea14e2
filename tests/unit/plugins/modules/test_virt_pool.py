# virt_pool in-process on test:///default (in-memory pools; building and deleting real
# directories is tested on the daemon: tests/system/test_pool_system.py).
import libvirt
import pytest

from ansible_collections.domainops.libvirt.plugins.modules import virt_pool


def run4(run_module, args):
    return [run_module(virt_pool, args, check=check, diff=True) for check in (True, False, True, False)]


@pytest.fixture
def pool_name(conn, unique_name):
    yield unique_name
    try:
        pool = conn.storagePoolLookupByName(unique_name)
    except libvirt.libvirtError:
        return
    if pool.isActive():
        pool.destroy()
    pool.undefine()


def xml(name, path='/pools/x', mode='0755'):
    return ("<pool type='dir'><name>%s</name><target><path>%s</path><permissions><mode>%s</mode>"
            "</permissions></target></pool>" % (name, path, mode))


def test_lifecycle_is_idempotent(run_module, conn, pool_name):
    results = run4(run_module, dict(xml=xml(pool_name), state='running', autostart=True))
    assert [r['changed'] for r in results] == [True, True, False, False]
    assert results[0]['actions'] == results[1]['actions'] == ['define', 'create', 'set_autostart(true)']
    assert results[0]['pool']['active'] and results[0]['pool']['uuid'] is None  # planned only
    assert results[1]['pool']['path'] == '/pools/x' and results[1]['pool']['capacity'] > 0
    assert 'applied_record' not in results[1]  # pools keep no <metadata>

    # the mode written another way, a trailing slash, sizes from a dump: no change
    same = xml(pool_name, '/pools/x/', '755').replace('</name>', "</name><capacity>1</capacity>")
    assert not run_module(virt_pool, dict(xml=same, state='running'))['changed']

    results = run4(run_module, dict(name=pool_name, state='stopped'))
    assert results[1]['actions'] == ['destroy'] and [r['changed'] for r in results] == [True, True, False, False]
    results = run4(run_module, dict(xml=xml(pool_name, mode='0700'), state='stopped'))
    assert results[1]['actions'] == ['define'] and results[1]['differences'] == ['target/permissions/mode']
    assert [r['changed'] for r in results] == [True, True, False, False]
    results = run4(run_module, dict(name=pool_name, state='absent'))
    assert results[1]['actions'] == ['undefine'] and [r['changed'] for r in results] == [True, True, False, False]


def test_missing_pool_and_bad_xml(run_module, pool_name):
    result = run_module(virt_pool, dict(name=pool_name, state='running'))
    assert result['failed'] and 'not found' in result['msg'] and result['actions'] == []
    result = run_module(virt_pool, dict(xml="<pool type='dir'><name>%s</name><target><path>/p</path>"
                                            "</target><bogus>" % pool_name))
    assert result['failed'] and result['actions'] == [] and '\n' not in result['msg']
