"""The table of bad inputs every module must refuse cleanly (tests/unit/test_bad_input.py
on test:///default, tests/system/test_bad_input_system.py on qemu:///system).

Each case: (id, module, args, words). The run must fail with a one-line message (no
newline, no traceback) that contains every word of `words` (case-insensitive: what was
wrong), and change nothing. Arguments are templates filled by `fill()`:

  {run} {off} {transient}  a running persistent, a shut-off persistent and a running
                           transient domain the test made; {run_uuid} the first's UUID
  {missing}                a name no domain has
  {type} {arch}            the domain type and architecture of the driver
  {dir}                    an empty scratch directory; {secret_file} a file whose content
                           must never show up anywhere; {http} an HTTP server on 127.0.0.1
                           that must never be asked anything

Cases whose id is in LIBVIRT_DETECTED are refused by libvirt itself (its schema check of
a new definition): check mode cannot know that and plans the define, without calling
libvirt; the real run must then fail cleanly, having changed nothing.
"""

from __future__ import annotations

SECRET_MARKER = 'DOMAINOPS-SECRET-FILE-CONTENT-7f3a'
DISK = "<disk type='file' device='disk'><source file='{dir}/d.img'/><target dev='vdz' bus='virtio'/></disk>"


def domain(name='{missing}', body='', root_attrs="type='{type}'"):
    return ("<domain %s><name>%s</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>"
            "<os><type arch='{arch}'>hvm</type></os>%s</domain>" % (root_attrs, name, body))


LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + ''.join('<!ENTITY lol%d "%s">' % (i, ('&lol%s;' % (i - 1 if i > 1 else '')) * 10) for i in range(1, 10))
          + ']>' + domain(body='<description>&lol9;</description>'))
QUADRATIC = ('<!DOCTYPE d [<!ENTITY a "%s">]>' % ('x' * 50000)) + domain(body='<description>%s</description>' % ('&a;' * 200))
XXE_FILE = '<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret_file}">]>' + domain(body='<description>&x;</description>')
XXE_HTTP = '<!DOCTYPE d [<!ENTITY x SYSTEM "{http}/entity">]>' + domain(body='<description>&x;</description>')
XXE_PARAM = '<!DOCTYPE d [<!ENTITY % p SYSTEM "{http}/param"> %p;]>' + domain()
DTD_HTTP = '<!DOCTYPE domain SYSTEM "{http}/dtd">' + domain()
HUGE = domain(body='<description>%s</description>' % ('A' * (11 * 1024 * 1024)))
DEEP = domain(body='<metadata>%s%s</metadata>' % ('<x:a xmlns:x="urn:x">' * 3000, '</x:a>' * 3000))

CASES = [
    # ---- virt_domain_state: malformed and hostile XML
    ('state-xml-unclosed', 'virt_domain_state', dict(xml="<domain type='{type}'><name>{missing}</name>"), ['xml', 'not well-formed', 'line']),
    ('state-xml-garbage', 'virt_domain_state', dict(xml='hello, not xml'), ['xml', 'not well-formed']),
    ('state-xml-empty', 'virt_domain_state', dict(xml='   '), ['xml', 'empty']),
    ('state-xml-two-roots', 'virt_domain_state', dict(xml=domain() + domain()), ['xml', 'not well-formed']),
    ('state-xml-bad-encoding-decl', 'virt_domain_state', dict(xml='<?xml version="1.0" encoding="no-such-charset"?>' + domain()), ['xml']),
    ('state-xml-billion-laughs', 'virt_domain_state', dict(xml=LAUGHS), ['xml', 'document type or entity']),
    ('state-xml-quadratic-blowup', 'virt_domain_state', dict(xml=QUADRATIC), ['xml', 'entity']),
    ('state-xml-external-entity-file', 'virt_domain_state', dict(xml=XXE_FILE), ['xml', 'entity']),
    ('state-xml-external-entity-http', 'virt_domain_state', dict(xml=XXE_HTTP), ['xml', 'entity']),
    ('state-xml-parameter-entity', 'virt_domain_state', dict(xml=XXE_PARAM), ['xml', 'entity']),
    ('state-xml-external-dtd', 'virt_domain_state', dict(xml=DTD_HTTP), ['xml', 'document type']),
    ('state-xml-undeclared-entity', 'virt_domain_state', dict(xml=domain(body='<description>&nope;</description>')), ['xml', 'nope']),
    ('state-xml-huge', 'virt_domain_state', dict(xml=HUGE), ['xml', 'too large']),
    ('state-xml-deep-nesting', 'virt_domain_state', dict(xml=DEEP), ['xml', 'depth']),
    ('state-xml-wrong-root', 'virt_domain_state', dict(xml="<network><name>{missing}</name></network>"), ['root element', 'network']),
    ('state-xml-wrong-namespace', 'virt_domain_state',
     dict(xml=domain(root_attrs="xmlns='urn:not-libvirt' type='{type}'")), ['root element', 'urn:not-libvirt']),
    ('state-xml-no-name', 'virt_domain_state', dict(xml="<domain type='{type}'><memory>65536</memory></domain>"), ['<name>']),
    ('state-xml-empty-name', 'virt_domain_state', dict(xml=domain(name='')), ['name']),
    ('state-xml-bad-uuid', 'virt_domain_state', dict(xml=domain(body='<uuid>not-a-uuid</uuid>')), ['uuid', 'not-a-uuid']),
    ('state-xml-bad-uuid-existing', 'virt_domain_state', dict(xml=domain(name='{off}', body='<uuid>1234</uuid>')), ['uuid', '1234']),
    ('state-xml-invalid-memory', 'virt_domain_state', dict(xml=domain().replace('>64<', '>lots<')), ['memory']),
    ('state-xml-unknown-type', 'virt_domain_state', dict(xml=domain(root_attrs="type='nosuchhypervisor'"), validate=True), ['failed to validate', 'schema']),
    ('state-xml-unknown-type-unvalidated', 'virt_domain_state', dict(xml=domain(root_attrs="type='nosuchhypervisor'"), validate=False), ['nosuchhypervisor']),
    ('state-xml-unknown-element-validated', 'virt_domain_state', dict(xml=domain(body='<bogus_element/>'), validate=True), ['bogus_element']),
    ('state-xml-device-without-target', 'virt_domain_state',
     dict(xml=domain(body="<devices><disk type='file' device='disk'><source file='/x.img'/></disk></devices>")), ['<disk>', 'target dev']),
    # ---- virt_domain_state: selectors, mismatches, options
    ('state-name-xml-mismatch', 'virt_domain_state', dict(name='{off}', xml=domain()), ['does not match', '{off}']),
    ('state-uuid-xml-mismatch', 'virt_domain_state',
     dict(uuid='{run_uuid}', xml=domain(name='{run}', body='<uuid>00000000-0000-0000-0000-000000000001</uuid>')), ['uuid', 'does not match']),
    ('state-existing-name-other-uuid', 'virt_domain_state',
     dict(xml=domain(name='{run}', body='<uuid>00000000-0000-0000-0000-000000000001</uuid>')), ['{run}', 'uuid']),
    ('state-rename-by-uuid', 'virt_domain_state', dict(uuid='{run_uuid}', xml=domain()), ['renaming']),
    ('state-uuid-invalid', 'virt_domain_state', dict(uuid='zzzz-not-a-uuid', state='running'), ['invalid uuid', 'zzzz-not-a-uuid']),
    ('state-uuid-too-short', 'virt_domain_state', dict(uuid='1234', state='running'), ['invalid uuid']),
    ('state-missing-domain', 'virt_domain_state', dict(name='{missing}', state='running'), ['{missing}', 'not found']),
    ('state-bad-state', 'virt_domain_state', dict(name='{run}', state='started'), ['state', 'started']),
    ('state-timeout-not-int', 'virt_domain_state', dict(name='{run}', timeout='soon'), ['timeout']),
    ('state-timeout-negative', 'virt_domain_state', dict(name='{run}', state='running', timeout=-1), ['timeout', '-1']),
    ('state-force-not-bool', 'virt_domain_state', dict(name='{run}', force='perhaps'), ['force']),
    ('state-shutdown-mode-unknown', 'virt_domain_state', dict(name='{run}', state='shutdown', shutdown_mode=['telepathy']), ['shutdown_mode', 'telepathy']),
    ('state-remove-storage-running', 'virt_domain_state', dict(name='{off}', state='running', remove_storage=True), ['remove_storage', 'absent']),
    ('state-name-and-uuid', 'virt_domain_state', dict(name='{run}', uuid='{run_uuid}'), ['mutually exclusive', 'name', 'uuid']),
    ('state-no-selector', 'virt_domain_state', dict(state='running'), ['name', 'uuid', 'xml']),
    ('state-unknown-key', 'virt_domain_state', dict(name='{run}', colour='red'), ['unsupported', 'colour']),
    ('state-xml-wrong-type', 'virt_domain_state', dict(xml=dict(domain='x')), ['xml']),
    # ---- virt_domain_device
    ('device-xml-malformed', 'virt_domain_device', dict(name='{off}', xml="<disk type='file'><target dev='vdz'>"), ['device xml', 'not well-formed']),
    ('device-xml-no-identity-disk', 'virt_domain_device',
     dict(name='{off}', xml="<disk type='file' device='disk'><source file='/x.img'/></disk>"), ['device xml', 'target']),
    ('device-detach-no-identity', 'virt_domain_device',
     dict(name='{run}', state='absent', xml="<disk type='file' device='disk'><source file='/x.img'/></disk>"), ['device xml', 'target']),
    ('device-xml-target-without-dev', 'virt_domain_device',
     dict(name='{off}', xml="<disk type='file' device='disk'><target bus='virtio'/></disk>"), ['device xml', 'dev']),
    ('device-xml-filesystem-no-target', 'virt_domain_device',
     dict(name='{off}', xml="<filesystem type='mount'><source dir='/srv'/></filesystem>"), ['device xml', 'target']),
    ('device-xml-hostdev-no-source', 'virt_domain_device', dict(name='{off}', xml="<hostdev mode='subsystem' type='pci'/>"), ['device xml', 'hostdev']),
    ('device-xml-wrong-root', 'virt_domain_device', dict(name='{off}', xml=domain()), ['device xml', 'root element', 'domain']),
    ('device-xml-unknown-device', 'virt_domain_device', dict(name='{off}', xml="<gizmo/>"), ['device xml', 'gizmo']),
    ('device-xml-namespace', 'virt_domain_device', dict(name='{off}', xml="<disk xmlns='urn:x'><target dev='vdz'/></disk>"), ['device xml', 'urn:x']),
    ('device-xml-entity', 'virt_domain_device',
     dict(name='{off}', xml='<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret_file}">]>' + DISK.replace("d.img'", "&x;'")), ['device xml', 'entity']),
    ('device-xml-http-entity', 'virt_domain_device',
     dict(name='{off}', xml='<!DOCTYPE d [<!ENTITY x SYSTEM "{http}/device">]><disk type="file">&x;</disk>'), ['device xml', 'entity']),
    ('device-xml-huge', 'virt_domain_device',
     dict(name='{off}', xml="<disk><target dev='vdz'/>" + '<x/>' * (3 * 1024 * 1024) + '</disk>'), ['device xml', 'too large']),
    ('device-xml-missing', 'virt_domain_device', dict(name='{off}'), ['xml']),
    ('device-bad-state', 'virt_domain_device', dict(name='{off}', xml=DISK, state='attached'), ['state', 'attached']),
    ('device-affect-conflict', 'virt_domain_device', dict(name='{run}', xml=DISK, affect=['current', 'live']), ['current', 'live']),
    ('device-affect-live-not-running', 'virt_domain_device', dict(name='{off}', xml=DISK, affect=['live']), ['not running', 'live']),
    ('device-affect-config-transient', 'virt_domain_device', dict(name='{transient}', xml=DISK, affect=['config']), ['transient', 'config']),
    ('device-affect-unknown', 'virt_domain_device', dict(name='{off}', xml=DISK, affect=['everywhere']), ['affect', 'everywhere']),
    ('device-timeout-not-number', 'virt_domain_device', dict(name='{off}', xml=DISK, timeout='soon'), ['timeout']),
    ('device-timeout-negative', 'virt_domain_device', dict(name='{run}', xml=DISK, state='absent', timeout=-5), ['timeout', '-5']),
    ('device-missing-domain', 'virt_domain_device', dict(name='{missing}', xml=DISK), ['{missing}', 'not found']),
    ('device-no-selector', 'virt_domain_device', dict(xml=DISK), ['name', 'uuid']),
    ('device-unknown-key', 'virt_domain_device', dict(name='{off}', xml=DISK, live=True), ['unsupported', 'live']),
    # ---- virt_domain_autostart
    ('autostart-not-bool', 'virt_domain_autostart', dict(name='{off}', enabled='maybe'), ['enabled']),
    ('autostart-missing-enabled', 'virt_domain_autostart', dict(name='{off}'), ['enabled']),
    ('autostart-no-selector', 'virt_domain_autostart', dict(enabled=True), ['name', 'uuid']),
    ('autostart-bad-uuid', 'virt_domain_autostart', dict(uuid='nope', enabled=True), ['invalid uuid', 'nope']),
    ('autostart-missing-domain', 'virt_domain_autostart', dict(name='{missing}', enabled=True), ['{missing}', 'not found']),
    ('autostart-transient', 'virt_domain_autostart', dict(name='{transient}', enabled=True), ['transient']),
    ('autostart-unknown-key', 'virt_domain_autostart', dict(name='{off}', enabled=True, at_boot=True), ['unsupported', 'at_boot']),
    # ---- virt_domain_screenshot
    ('screenshot-screen-negative', 'virt_domain_screenshot', dict(name='{run}', dest='{dir}/s.png', screen=-1), ['screen', '-1']),
    ('screenshot-screen-not-int', 'virt_domain_screenshot', dict(name='{run}', dest='{dir}/s.png', screen='first'), ['screen']),
    ('screenshot-screen-huge', 'virt_domain_screenshot', dict(name='{run}', dest='{dir}/s.png', screen=2 ** 40), ['screen', 'out of range']),
    ('screenshot-dest-directory', 'virt_domain_screenshot', dict(name='{run}', dest='{dir}'), ['dest', 'directory']),
    ('screenshot-dest-parent-missing', 'virt_domain_screenshot', dict(name='{run}', dest='{dir}/no/such/dir/s.png'), ['does not exist']),
    ('screenshot-dest-missing', 'virt_domain_screenshot', dict(name='{run}'), ['dest']),
    ('screenshot-not-running', 'virt_domain_screenshot', dict(name='{off}', dest='{dir}/s.png'), ['not running']),
    ('screenshot-missing-domain', 'virt_domain_screenshot', dict(name='{missing}', dest='{dir}/s.png'), ['{missing}', 'not found']),
    # ---- virt_domain_send_key
    ('sendkey-unknown-name', 'virt_domain_send_key', dict(name='{run}', keys=['KEY_NOPE']), ['KEY_NOPE']),
    ('sendkey-code-out-of-range', 'virt_domain_send_key', dict(name='{run}', keys=[70000]), ['70000', 'range']),
    ('sendkey-code-negative', 'virt_domain_send_key', dict(name='{run}', keys=[-3]), ['-3']),
    ('sendkey-too-many-keys', 'virt_domain_send_key', dict(name='{run}', keys=['KEY_A'] * 17), ['17']),
    ('sendkey-keys-and-text', 'virt_domain_send_key', dict(name='{run}', keys=['KEY_A'], text='a'), ['mutually exclusive']),
    ('sendkey-nothing-to-send', 'virt_domain_send_key', dict(name='{run}'), ['keys', 'text']),
    ('sendkey-bad-codeset', 'virt_domain_send_key', dict(name='{run}', keys=[30], codeset='morse'), ['codeset', 'morse']),
    ('sendkey-holdtime-negative', 'virt_domain_send_key', dict(name='{run}', keys=['KEY_A'], holdtime=-5), ['holdtime']),
    ('sendkey-holdtime-huge', 'virt_domain_send_key', dict(name='{run}', keys=['KEY_A'], holdtime=2 ** 40), ['holdtime', 'out of range']),
    ('sendkey-delay-huge', 'virt_domain_send_key', dict(name='{run}', sequence=['KEY_A', 'KEY_B'], delay=2 ** 40), ['delay', 'out of range']),
    ('sendkey-delay-not-int', 'virt_domain_send_key', dict(name='{run}', keys=['KEY_A'], delay='later'), ['delay']),
    ('sendkey-text-non-ascii', 'virt_domain_send_key', dict(name='{run}', text='caf\u00e9'), ['text', 'typed']),
    ('sendkey-text-other-codeset', 'virt_domain_send_key', dict(name='{run}', text='a', codeset='usb'), ['codeset linux']),
    ('sendkey-empty-sequence', 'virt_domain_send_key', dict(name='{run}', sequence=[]), ['sequence']),
    ('sendkey-key-is-dict', 'virt_domain_send_key', dict(name='{run}', keys=[dict(a=1)]), ['key']),
    ('sendkey-not-running', 'virt_domain_send_key', dict(name='{off}', keys=['KEY_A']), ['not running']),
    # ---- virt_domain_info
    ('info-bad-state-filter', 'virt_domain_info', dict(states=['sleeping']), ['states', 'sleeping']),
    ('info-bad-xml-flag', 'virt_domain_info', dict(xml=True, xml_flags=['everything']), ['xml_flags', 'everything']),
    ('info-selector-and-filter', 'virt_domain_info', dict(name='{run}', active=True), ['active', 'cannot be combined']),
    ('info-bad-uuid', 'virt_domain_info', dict(uuid='x' * 36), ['invalid uuid']),
    ('info-not-bool', 'virt_domain_info', dict(persistent='sometimes'), ['persistent']),
    ('info-unknown-key', 'virt_domain_info', dict(verbose=True), ['unsupported', 'verbose']),
    # ---- virt_domain_migrate (refused before the target is contacted, or the target is unreachable)
    ('migrate-no-dest', 'virt_domain_migrate', dict(name='{run}'), ['dest_uri']),
    ('migrate-unreachable-target', 'virt_domain_migrate', dict(name='{run}', dest_uri='qemu+tcp://127.0.0.1:1/system'),
     ['target unreachable', '127.0.0.1:1', 'nothing was changed']),
    ('migrate-tunnelled-without-p2p', 'virt_domain_migrate', dict(name='{run}', dest_uri='qemu+tcp://127.0.0.1:1/system',
                                                                  tunnelled=True), ['tunnelled', 'p2p']),
    ('migrate-timeout-zero', 'virt_domain_migrate', dict(name='{run}', dest_uri='qemu+tcp://127.0.0.1:1/system',
                                                         timeout=0), ['timeout']),
    ('migrate-bandwidth-negative', 'virt_domain_migrate', dict(name='{run}', dest_uri='qemu+tcp://127.0.0.1:1/system',
                                                               bandwidth=-5), ['bandwidth', '-5']),
    ('migrate-postcopy-after-alone', 'virt_domain_migrate', dict(name='{run}', dest_uri='qemu+tcp://127.0.0.1:1/system',
                                                                 postcopy_after=5), ['postcopy_after', 'postcopy: true']),
    ('migrate-bad-compression', 'virt_domain_migrate', dict(name='{run}', dest_uri='qemu+tcp://127.0.0.1:1/system',
                                                            compression=['gzip']), ['compression', 'gzip']),
    ('migrate-bad-copy-storage', 'virt_domain_migrate', dict(name='{run}', dest_uri='qemu+tcp://127.0.0.1:1/system',
                                                             copy_storage='some'), ['copy_storage', 'some']),
    ('migrate-name-and-uuid', 'virt_domain_migrate', dict(name='{run}', uuid='{run_uuid}',
                                                          dest_uri='qemu+tcp://127.0.0.1:1/system'), ['mutually exclusive']),
    # ---- virt_domain_snapshot (refused before libvirt is asked to change anything)
    ('snapshot-name-slash', 'virt_domain_snapshot', dict(name='{off}', snapshot='a/b'), ['invalid snapshot name', 'a/b']),
    ('snapshot-name-dot', 'virt_domain_snapshot', dict(name='{off}', snapshot='.hidden'), ['invalid snapshot name']),
    ('snapshot-name-empty', 'virt_domain_snapshot', dict(name='{off}', snapshot=' '), ['snapshot name', 'empty']),
    ('snapshot-name-missing', 'virt_domain_snapshot', dict(name='{off}'), ['snapshot']),
    ('snapshot-revert-missing', 'virt_domain_snapshot', dict(name='{off}', snapshot='nosuch', state='current'),
     ['nosuch', 'not found']),
    ('snapshot-missing-domain', 'virt_domain_snapshot', dict(name='{missing}', snapshot='s1'), ['{missing}', 'not found']),
    ('snapshot-bad-state', 'virt_domain_snapshot', dict(name='{off}', snapshot='s1', state='reverted'), ['state', 'reverted']),
    ('snapshot-memory-of-shut-off', 'virt_domain_snapshot', dict(name='{off}', snapshot='s1', memory=True),
     ['no memory']),
    ('snapshot-internal-running-no-memory', 'virt_domain_snapshot', dict(name='{run}', snapshot='s1', memory=False),
     ['internal', 'memory', 'external']),
    ('snapshot-quiesce-no-agent', 'virt_domain_snapshot', dict(name='{run}', snapshot='s1', kind='external', quiesce=True),
     ['quiesce', 'agent']),
    ('snapshot-external-memory-no-file', 'virt_domain_snapshot', dict(name='{run}', snapshot='s1', kind='external',
                                                                      memory=True), ['memory_file']),
    ('snapshot-no-selector', 'virt_domain_snapshot', dict(snapshot='s1'), ['name', 'uuid']),
    # ---- the connection, for every kind of module
    ('conn-unknown-scheme', 'virt_domain_info', dict(uri='nosuchdriver:///system'), ['cannot connect', 'nosuchdriver:///system']),
    ('conn-garbage-uri', 'virt_domain_state', dict(uri='::not a uri::', name='{run}'), ['cannot connect']),
    ('conn-uri-not-str', 'virt_domain_autostart', dict(uri=['qemu:///system'], name='{run}', enabled=True), ['cannot connect']),
]


LIBVIRT_DETECTED = frozenset((
    'state-xml-invalid-memory', 'state-xml-unknown-type', 'state-xml-unknown-element-validated',
    'state-xml-unknown-type-unvalidated',
))


def fill(value, env):
    """`value` with every {placeholder} of `env` replaced (recursively in lists and dicts)."""
    if isinstance(value, str):
        for key, replacement in env.items():
            value = value.replace('{%s}' % key, replacement)
        return value
    if isinstance(value, list):
        return [fill(v, env) for v in value]
    if isinstance(value, dict):
        return dict((k, fill(v, env)) for k, v in value.items())
    return value
