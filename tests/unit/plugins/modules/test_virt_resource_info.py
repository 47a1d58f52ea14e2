# virt_network_info and virt_pool_info in-process on test:///default (its built-in
# network "default" and pool "default-pool").
from ansible_collections.domainops.libvirt.plugins.modules import virt_network_info, virt_pool_info


def test_networks(run_module, conn):
    result = run_module(virt_network_info, dict())
    names = [n['name'] for n in result['networks']]
    assert 'default' in names and not result['changed']
    one = run_module(virt_network_info, dict(name='default', xml=True))['networks']
    assert len(one) == 1 and one[0]['active'] and one[0]['xml'].startswith('<network')
    assert run_module(virt_network_info, dict(name='no-such-network'))['networks'] == []


def test_pools_with_volumes(run_module, conn, unique_name):
    pool = conn.storagePoolLookupByName('default-pool')
    vol = pool.createXML("<volume><name>%s</name><capacity unit='M'>1</capacity></volume>" % unique_name, 0)
    try:
        result = run_module(virt_pool_info, dict(name='default-pool'))
        entry = result['pools'][0]
        assert entry['active'] and entry['capacity'] > 0
        mine = [v for v in entry['volumes'] if v['name'] == unique_name]
        assert mine and mine[0]['capacity'] == 1024 * 1024
        assert run_module(virt_pool_info, dict(name='default-pool', volumes=False))['pools'][0]['volumes'] == []
    finally:
        vol.delete(0)
