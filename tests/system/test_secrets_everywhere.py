# Planted secrets, looked for everywhere, on the real daemon through ansible-playbook
# -vvv --diff: a VNC and a SPICE password, a network disk's cookie, an SMBIOS OEM string,
# a QEMU command line argument and environment value, a value at a path the task names
# in `secret_paths` (domain metadata, a network's DNS TXT record, a pool's CHAP user
# name) and the text typed with virt_domain_send_key. Every module that can see one
# runs once where it succeeds and once where it fails; the playbook's stdout and stderr,
# every registered result, its invocation echo (module_args), warnings, message and
# diff must hold none of the secrets. One playbook run (CI time).
import json
import os
import subprocess
import sys

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain  # noqa: E402
from sysenv import REPO, URI, VENV_BIN, connect, noos_xml, unique  # noqa: E402

SECRETS = dict(
    vnc='Vn8cQw2z',  # VNC: 8 characters at most
    spice='Sp1ceK3yQw',
    cookie='Ck-9fLq2Xw',
    oem='Oem-7Hd2Lp',
    qemu_arg='Arg-4Tn8Vb',
    qemu_env='Env-3Mx5Rc',
    user_path='Usr-6Qp1Zk',
    typed='Key-5Wz2Jh',
    network='Net-8Kd3Pq',
    pool='Pool-2Lr9Xn',
)
PATHS = ['vault/token', 'dns/txt/@value', 'source/auth/@username']
QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0'


def domain_xml(name, image):
    xml = noos_xml(name, extra=(
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
        "<target dev='vda' bus='virtio'/></disk>"
        "<graphics type='vnc' port='-1' autoport='yes' listen='127.0.0.1' passwd='%s'/>"
        "<graphics type='spice' autoport='yes' passwd='%s'><listen type='address' address='127.0.0.1'/></graphics>"
    ) % (image, SECRETS['vnc'], SECRETS['spice']))
    xml = xml.replace("<domain type='qemu'>", "<domain type='qemu' xmlns:qemu='%s'>" % QEMU_NS, 1)
    xml = xml.replace('</name>', (
        "</name><metadata><app:vault xmlns:app='urn:example:vault'><app:token>%s</app:token></app:vault></metadata>"
        "<sysinfo type='smbios'><oemStrings><entry>io.systemd.credential:pw=%s</entry></oemStrings></sysinfo>"
    ) % (SECRETS['user_path'], SECRETS['oem']), 1)
    return xml.replace('</devices>', (
        "</devices><qemu:commandline><qemu:arg value='-smbios'/><qemu:arg value='type=11,value=%s'/>"
        "<qemu:env name='APP_TOKEN' value='%s'/></qemu:commandline>") % (SECRETS['qemu_arg'], SECRETS['qemu_env']), 1)


COOKIE_DISK = ("<disk type='network' device='disk'><driver name='qemu' type='raw'/>"
               "<source protocol='http' name='/images/data.img'><host name='127.0.0.1' port='9'/>"
               "<cookies><cookie name='session'>%s</cookie></cookies></source>"
               "<target dev='vdb' bus='virtio'/></disk>" % SECRETS['cookie'])
NETWORK = "<network><name>%%s</name><dns><txt name='vault' value='%s'/></dns></network>" % SECRETS['network']
POOL = ("<pool type='iscsi'><name>%%s</name><source><host name='127.0.0.1' port='9'/>"
        "<device path='iqn.2013-01.org.example:none'/><auth type='chap' username='%s'><secret usage='rel18-none'/>"
        "</auth></source><target><path>/dev/disk/by-path</path></target></pool>" % SECRETS['pool'])

# (register name, module, arguments, expected to fail). {{ }} are playbook variables.
TASKS = [
    ('state_ok', 'virt_domain_state', dict(xml='{{ domain_xml }}', state='running', secret_paths=PATHS), False),
    ('state_bad', 'virt_domain_state', dict(xml='{{ broken_domain_xml }}', secret_paths=PATHS), True),
    ('state_refused', 'virt_domain_state', dict(xml='{{ refused_domain_xml }}', validate=True, secret_paths=PATHS), True),
    ('send_key_ok', 'virt_domain_send_key', dict(name='{{ source }}', text='{{ typed }}'), False),
    ('clone_ok', 'virt_domain_clone', dict(name='{{ clone }}', source='{{ source }}', allow_running=True,
                                           secret_paths=PATHS), False),
    ('clone_bad', 'virt_domain_clone', dict(name='{{ clone }}-x', source='{{ source }}', allow_running=True,
                                            xml="<domain><sysinfo type='smbios'><oemStrings><entry>%s</entry>"
                                                "</oemStrings></sysinfo><oops></domain>" % SECRETS['oem'],
                                            secret_paths=PATHS), True),
    ('send_key_bad', 'virt_domain_send_key', dict(name='{{ clone }}', text='{{ typed }}'), True),
    ('snapshot_ok', 'virt_domain_snapshot', dict(name='{{ clone }}', snapshot='s1', secret_paths=PATHS), False),
    ('snapshot_bad', 'virt_domain_snapshot', dict(name='{{ clone }}', snapshot='nope', state='current',
                                                  secret_paths=PATHS), True),
    ('device_ok', 'virt_domain_device', dict(name='{{ source }}', xml=COOKIE_DISK, affect=['config'],
                                             secret_paths=PATHS), False),
    ('device_bad', 'virt_domain_device', dict(name='{{ source }}', xml=COOKIE_DISK.replace('</disk>', '<oops></disk>'),
                                              affect=['config'], secret_paths=PATHS), True),
    ('info_ok', 'virt_domain_info', dict(name='{{ source }}', xml=True, xml_flags=['inactive'], snapshots=True,
                                         secret_paths=PATHS), False),
    ('info_live_ok', 'virt_domain_info', dict(name='{{ source }}', xml=True, secret_paths=PATHS), False),
    ('info_bad', 'virt_domain_info', dict(name='{{ source }}', xml=True, secret_paths=PATHS + ['vault//token']), True),
    ('network_ok', 'virt_network', dict(xml='{{ network_xml }}', state='present', secret_paths=PATHS), False),
    ('network_bad', 'virt_network', dict(xml='{{ broken_network_xml }}', secret_paths=PATHS), True),
    ('network_info_ok', 'virt_network_info', dict(name='{{ network }}', xml=True, secret_paths=PATHS), False),
    ('network_info_bad', 'virt_network_info', dict(name='{{ network }}', xml=True, secret_paths=['@value']), True),
    ('pool_ok', 'virt_pool', dict(xml='{{ pool_xml }}', state='present', secret_paths=PATHS), False),
    ('pool_bad', 'virt_pool', dict(xml='{{ pool_xml }}', state='running', secret_paths=PATHS), True),
    ('pool_info_ok', 'virt_pool_info', dict(name='{{ pool }}', xml=True, secret_paths=PATHS), False),
    ('pool_info_bad', 'virt_pool_info', dict(name='{{ pool }}', xml=True, secret_paths=['a b']), True),
]


def playbook():
    tasks = []
    for register, module, args, fails in TASKS:
        task = {'name': register, 'domainops.libvirt.%s' % module: dict(args, uri='{{ uri }}'), 'register': register}
        if fails:
            task['ignore_errors'] = True
        tasks.append(task)
    everything = dict((register, '{{ %s }}' % register) for register, _m, _a, _f in TASKS)
    tasks.append({'name': 'print every registered result',
                  'ansible.builtin.debug': {'var': 'registered'}, 'vars': {'registered': everything}})
    tasks.append({'name': 'keep every registered result', 'delegate_to': 'localhost',
                  'ansible.builtin.copy': {'content': '{{ registered | to_json }}', 'dest': '{{ results_file }}'},
                  'vars': {'registered': everything}})
    return [dict(hosts='localhost', gather_facts=False, tasks=tasks)]


def _stored_secrets(conn, names):
    """Which planted secrets the daemon really holds (the test is not vacuous)."""
    dom = conn.lookupByName(names['source'])
    text = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE) + dom.XMLDesc(
        libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_INACTIVE)
    text += conn.networkLookupByName(names['network']).XMLDesc(0)
    text += conn.storagePoolLookupByName(names['pool']).XMLDesc(0)
    return sorted(key for key, value in SECRETS.items() if value in text)


def test_planted_secrets_in_no_output_of_any_module(tmp_path):
    conn = connect()
    names = dict(source=unique('sec-src'), clone=unique('sec-cln'), network=unique('secnet')[:15],
                 pool=unique('sec-pool'))
    image = str(tmp_path / 'source.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', image, '1M'], check=True)
    xml = domain_xml(names['source'], image)
    variables = dict(uri=URI, domain_xml=xml, network_xml=NETWORK % names['network'],
                     broken_domain_xml=xml.replace('</devices>', COOKIE_DISK + '<oops></devices>'),
                     refused_domain_xml=xml.replace('</devices>', COOKIE_DISK + '<bogus/></devices>'),
                     broken_network_xml=(NETWORK % names['network']).replace('</dns>', '<oops></dns>'),
                     pool_xml=POOL % names['pool'], typed=SECRETS['typed'], results_file=str(tmp_path / 'results.json'),
                     **names)
    (tmp_path / 'vars.json').write_text(json.dumps(variables))
    (tmp_path / 'play.yml').write_text(json.dumps(playbook()))
    env = dict(os.environ, ANSIBLE_INJECT_INVOCATION='1', ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, '.build', 'collections'),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'tmp'), ANSIBLE_NOCOLOR='1',
               PATH=VENV_BIN + os.pathsep + os.environ.get('PATH', ''))
    try:
        proc = subprocess.run([os.path.join(VENV_BIN, 'ansible-playbook'), '-vvv', '--diff', '-i', 'localhost,',
                               '-c', 'local', '-e', 'ansible_python_interpreter=%s' % sys.executable,
                               '-e', '@%s' % (tmp_path / 'vars.json'), str(tmp_path / 'play.yml')],
                              env=env, capture_output=True, text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
        failing = sum(1 for _r, _m, _a, fails in TASKS if fails)
        assert 'ignored=%d' % failing in proc.stdout, proc.stdout[-3000:]
        stored = _stored_secrets(conn, names)
        assert stored == sorted(set(SECRETS) - {'typed'}), stored  # typed text is not stored anywhere
        results = json.loads((tmp_path / 'results.json').read_text())

        outputs = [('ansible-playbook stdout', proc.stdout.split('PLAYBOOK:', 1)[-1]),
                   ('ansible-playbook stderr', proc.stderr)]
        for register, module, _args, fails in TASKS:
            result = results[register]
            assert bool(result.get('failed')) is fails, (register, result.get('msg'))
            assert 'module_args' in result.get('invocation', {}), (register, 'no invocation echo')
            outputs.append(('%s result' % register, json.dumps(result)))
            outputs.append(('%s module_args' % register, json.dumps(result['invocation']['module_args'])))
            for field in ('msg', 'warnings', 'diff'):
                if field in result:
                    outputs.append(('%s %s' % (register, field), json.dumps(result[field])))
        # the outputs are not empty of what they should show: masked XML, diffs
        assert '********' in results['state_ok']['diff']['after'] and '********' in results['info_ok']['domains'][0]['xml']
        assert '********' in results['network_info_ok']['networks'][0]['xml']
        assert '********' in results['pool_info_ok']['pools'][0]['xml']
        found = [(label, key) for label, text in outputs for key, value in SECRETS.items() if value in text]
        print('planted secrets: %d (%s); outputs checked: %d (playbook stdout/stderr, %d registered results with '
              'their module_args, msg, warnings and diff); found: %d'
              % (len(SECRETS), ', '.join(sorted(SECRETS)), len(outputs), len(TASKS), len(found)))
        assert found == [], found
    finally:
        for name in (names['clone'], names['clone'] + '-x', names['source']):
            remove_domain(conn, name)
        for lookup in (conn.networkLookupByName, conn.storagePoolLookupByName):
            for name in (names['network'], names['pool']):
                try:
                    obj = lookup(name)
                except libvirt.libvirtError:
                    continue
                if obj.isActive():
                    obj.destroy()
                obj.undefine()
        conn.close()
