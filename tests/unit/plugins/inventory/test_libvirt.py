# The inventory plugin through `ansible-inventory`, on libvirt's test driver: a node file
# (test:///path/node.xml) describes a hypervisor with domains in several states, titles,
# metadata and a DHCP network, and each ansible-inventory process reads it in-process
# (no daemon). Several node files are several hypervisors.
import json
import os
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
BIN = os.path.dirname(sys.executable)
NS = 'https://example.com/ns/inventory'

NODE = """<node>
  <network>
    <name>default</name>
    <bridge name='virbr0'/>
    <ip address='192.168.{octet}.1' netmask='255.255.255.0'>
      <dhcp><range start='192.168.{octet}.2' end='192.168.{octet}.254'/></dhcp>
    </ip>
  </network>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>web-1</name>
    <uuid>00000000-0000-4000-8000-000000{octet:03d}001</uuid>
    <title>Web one</title>
    <description>front end</description>
    <metadata><app:inv xmlns:app='{ns}'><role>web</role></app:inv><other:x xmlns:other='urn:other'/></metadata>
    <memory unit='MiB'>64</memory><vcpu>2</vcpu><os><type>hvm</type></os>
    <devices>
      <disk type='file' device='disk'><source file='/images/web-1.qcow2'/><target dev='vda' bus='virtio'/></disk>
      <interface type='network'><mac address='52:54:00:00:{octet:02x}:11'/><source network='default'/></interface>
    </devices>
    <test:runstate>{web_state}</test:runstate>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>db-1</name>
    <uuid>00000000-0000-4000-8000-000000{octet:03d}002</uuid>
    <memory unit='MiB'>128</memory><vcpu>1</vcpu><os><type>hvm</type></os>
    <devices>
      <interface type='network'><mac address='52:54:00:00:{octet:02x}:12'/><source network='default'/></interface>
    </devices>
    <test:runstate>5</test:runstate>
  </domain>
</node>
"""


def node(tmp_path, name='node', octet=122, network=True, web_running=True):
    text = NODE.format(octet=octet, ns=NS, web_state=1 if web_running else 5)
    if not network:
        text = text[:text.index('<network>')] + text[text.index('</network>') + len('</network>'):]
    path = tmp_path / ('%s.xml' % name)
    path.write_text(text)
    return 'test://%s' % path


def inventory(tmp_path, config, *args, name='hosts.libvirt.yml', env=None):
    """(returncode, parsed --list JSON or stdout text, stderr) of ansible-inventory over `config`."""
    path = tmp_path / name
    path.write_text(config)
    run_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build', 'collections'),
                   ANSIBLE_INVENTORY_UNPARSED_WARNING='false', ANSIBLE_NOCOLOR='1',
                   PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
    run_env.update(env or {})
    proc = subprocess.run([os.path.join(BIN, 'ansible-inventory'), '-i', str(path)] + list(args or ['--list']),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=run_env, check=False)
    out = proc.stdout
    if proc.returncode == 0 and '--graph' not in args and '--host' not in args:
        out = json.loads(out)
    return proc.returncode, out, proc.stderr


def plain(value):
    """The value without ansible-inventory's legacy '__ansible_unsafe' wrappers."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def hostvars(listing):
    return plain(listing['_meta']['hostvars'])


def test_hosts_variables_groups(tmp_path):
    uri = node(tmp_path)
    rc, listing, err = inventory(tmp_path, """
plugin: domainops.libvirt.libvirt
uris: [{uri}]
metadata_namespace: {ns}
keyed_groups:
  - key: libvirt_state
    prefix: state
groups:
  has_title: libvirt_title is not none
compose:
  memory_mib: libvirt_memory_kib // 1024
""".format(uri=uri, ns=NS))
    assert rc == 0, err
    hv = hostvars(listing)
    assert sorted(hv) == ['db-1', 'web-1']
    web, db = hv['web-1'], hv['db-1']
    assert web['libvirt_uri'] == uri and web['libvirt_state'] == 'running' and db['libvirt_state'] == 'shutoff'
    assert web['libvirt_title'] == 'Web one' and web['libvirt_description'] == 'front end'
    assert db['libvirt_title'] is None and db['libvirt_description'] is None
    assert web['libvirt_metadata'].startswith('<app:inv xmlns:app="%s">' % NS) and '<role>web</role>' in \
        web['libvirt_metadata']
    assert db['libvirt_metadata'] is None
    assert web['libvirt_vcpus'] == 2 and db['libvirt_memory_kib'] == 131072 and db['memory_mib'] == 128
    assert web['libvirt_persistent'] is True and web['libvirt_autostart'] is False
    assert web['libvirt_disks'][0]['source'] == '/images/web-1.qcow2'
    iface = web['libvirt_interfaces'][0]
    assert iface['mac'] == '52:54:00:00:7a:11' and iface['source'] == 'default'
    address = iface['addresses'][0]
    assert address['address'].startswith('192.168.122.') and address['prefix'] == 24
    assert address['family'] == 'ipv4' and address['source'] == 'lease'
    assert web['ansible_host'] == address['address']
    assert 'ansible_host' not in db and db['libvirt_interfaces'][0]['addresses'] == []
    assert listing['state_running']['hosts'] == ['web-1'] and listing['state_shutoff']['hosts'] == ['db-1']
    assert listing['has_title']['hosts'] == ['web-1']
    assert 'WARNING' not in err, err

    rc, graph, err = inventory(tmp_path, (tmp_path / 'hosts.libvirt.yml').read_text(), '--graph')
    assert rc == 0 and '@state_running:\n  |  |--web-1' in graph, graph


@pytest.mark.parametrize('options, hosts', [
    ('states: [shutoff, paused]', ['db-1']),
    ("name_patterns: ['nothing*', 'w?b-[0-9]']", ['web-1']),
    ("states: [shutoff]\nname_patterns: ['web-*']", []),
])
def test_filters(tmp_path, options, hosts):
    rc, listing, err = inventory(tmp_path, 'plugin: domainops.libvirt.libvirt\nuris: [%s]\n%s\n'
                                 % (node(tmp_path), options))
    assert rc == 0, err
    assert sorted(hostvars(listing)) == hosts


def test_hostnames_by_uuid(tmp_path):
    rc, listing, err = inventory(tmp_path, 'plugin: domainops.libvirt.libvirt\nuris: [%s]\n'
                                 'inventory_hostname: uuid\n' % node(tmp_path))
    assert rc == 0, err
    hv = hostvars(listing)
    assert sorted(v['libvirt_name'] for v in hv.values()) == ['db-1', 'web-1']
    assert all(name == v['libvirt_uuid'] for name, v in hv.items())


# (the rule's cases one by one: tests/unit/plugins/module_utils/test_addresses.py)
@pytest.mark.parametrize('options, expect', [
    ("ansible_host_family: ipv4\nansible_host_networks: [192.168.0.0/16]\n"
     "ansible_host_interfaces: ['52:54:00:00:7A:11']", True),
    ('ansible_host_networks: [10.0.0.0/8, "2001:db8::/32"]', False),
    ('address_source: none', False),
])
def test_ansible_host_rule(tmp_path, options, expect):
    rc, listing, err = inventory(tmp_path, 'plugin: domainops.libvirt.libvirt\nuris: [%s]\n%s\n'
                                 % (node(tmp_path), options))
    assert rc == 0, err
    assert ('ansible_host' in hostvars(listing)['web-1']) is expect


def test_bad_network_in_rule(tmp_path):
    rc, out, err = inventory(tmp_path, 'plugin: domainops.libvirt.libvirt\nuris: [%s]\n'
                             'ansible_host_networks: [10.0.0.300/8]\nstrict: true\n' % node(tmp_path))
    assert 'ansible_host_networks' in err and '10.0.0.300' in err, err


def test_several_uris_and_an_unreachable_one(tmp_path):
    one, two = node(tmp_path, 'one', 122), node(tmp_path, 'two', 123)
    unreachable = 'qemu+tcp://127.0.0.1:9/system'
    config = 'plugin: domainops.libvirt.libvirt\nuris: [%s, %s, %s]\n' % (one, unreachable, two)
    rc, listing, err = inventory(tmp_path, config)
    assert rc == 0, err
    hv = hostvars(listing)
    # the same names on two hypervisors: the second one's domains are named by their UUID
    assert sorted(v['libvirt_uri'] for v in hv.values()) == [one, one, two, two]
    assert hv['web-1']['libvirt_uri'] == one
    moved = [name for name, v in hv.items() if v['libvirt_uri'] == two]
    assert sorted(moved) == sorted(hv[name]['libvirt_uuid'] for name in moved)
    flat = ' '.join(err.split())
    assert 'cannot connect to libvirt at %s' % unreachable in flat and 'its domains are not listed' in flat, err
    assert "domain 'web-1' of %s has the name of a domain of %s" % (two, one) in flat, err

    # strict: the source fails as a whole (and the command too, when Ansible is told so)
    rc, out, err = inventory(tmp_path, config + 'strict: true\n',
                             env=dict(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED='true'))
    assert rc != 0 and 'cannot connect to libvirt at %s' % unreachable in ' '.join(err.split()), err


def test_one_hypervisor_reached_twice_is_one_set_of_hosts(tmp_path):
    # the same domains (same UUIDs) through two URIs: web-1 is shut off in the first, running in the second
    first, second = node(tmp_path, 'first', web_running=False), node(tmp_path, 'second')
    rc, listing, err = inventory(tmp_path, 'plugin: domainops.libvirt.libvirt\nuris: [%s, %s]\n' % (first, second))
    assert rc == 0, err
    hv = hostvars(listing)
    assert sorted(hv) == ['db-1', 'web-1'] and 'WARNING' not in err, err
    assert hv['web-1']['libvirt_uri'] == second and hv['web-1']['libvirt_state'] == 'running'
    assert hv['db-1']['libvirt_uri'] == first


def test_address_source_failure_is_a_warning(tmp_path):
    # without the network 'default' the test driver's lease source fails
    rc, listing, err = inventory(tmp_path, 'plugin: domainops.libvirt.libvirt\nuris: [%s]\n'
                                 % node(tmp_path, network=False))
    assert rc == 0, err
    assert 'ansible_host' not in hostvars(listing)['web-1']
    flat = ' '.join(err.split())
    assert "no addresses for 1 running domain(s)" in flat and "'web-1' (lease: error: Network not found" in flat, err


def test_cache_hit_makes_no_libvirt_call(tmp_path):
    cache_dir = tmp_path / 'cache'
    config = ('plugin: domainops.libvirt.libvirt\nuris: [{uri}]\ncache: true\ncache_plugin: ansible.builtin.jsonfile\n'
              'cache_connection: %s\ncache_timeout: 600\nkeyed_groups:\n  - key: libvirt_state\n    prefix: s\n'
              % cache_dir)
    rc, first, err = inventory(tmp_path, config.format(uri=node(tmp_path)))
    assert rc == 0, err
    assert os.listdir(str(cache_dir))
    # the same file now names a hypervisor that does not exist: a cache hit never connects
    rc, second, err = inventory(tmp_path, config.format(uri='qemu+tcp://127.0.0.1:9/system'))
    assert rc == 0 and 'WARNING' not in err, err
    assert sorted(hostvars(second)) == ['db-1', 'web-1'] and second['s_running']['hosts'] == ['web-1']
    # --flush-cache reads libvirt again (and finds nothing there)
    rc, third, err = inventory(tmp_path, config.format(uri='qemu+tcp://127.0.0.1:9/system'), '--list',
                               '--flush-cache')
    assert rc == 0 and hostvars(third) == {} and 'cannot connect' in err, err


def test_ansible_doc():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build', 'collections'))
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, 'ansible-doc'), '-t', 'inventory', 'domainops.libvirt.libvirt'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, check=False)
    assert proc.returncode == 0 and 'address_timeout' in proc.stdout and not proc.stderr.strip(), proc.stderr
    assert time.monotonic() - started < 60
