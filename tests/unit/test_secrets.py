# Secrets given in XML, in-process on test:///default: never in the result (invocation,
# diff, warnings, messages), and a change of the password alone is a change.
import json
import os
import sys

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import run_module, warnings_of  # noqa: E402

from conftest import TEST_URI, minimal_domain_xml  # noqa: E402

GRAPHICS = "<graphics type='vnc' port='-1' autoport='yes' passwd=\"%s\"/>"


def test_password_only_change_is_a_change_and_never_shown(conn, unique_name):
    try:
        first = run_module('virt_domain_state', dict(xml=minimal_domain_xml(unique_name, extra=GRAPHICS % 'first-pw')),
                           TEST_URI, diff=True)
        assert first['changed'] and 'first-pw' not in first['stdout']
        xml = minimal_domain_xml(unique_name, extra=GRAPHICS % 'second-pw')
        for check in (True, False):
            result = run_module('virt_domain_state', dict(xml=xml), TEST_URI, check=check, diff=True)
            assert result['changed'] and result['actions'] == ['define'], result
            assert result['differences'] == ['devices/graphics[vnc]/@passwd']
            assert not [w for w in warnings_of(result) if 'same definition' in w], warnings_of(result)
            assert 'first-pw' not in result['stdout'] and 'second-pw' not in result['stdout']
            assert result['invocation']['module_args']['xml'].count('********') == 1
        stored = conn.lookupByName(unique_name).XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE | libvirt.VIR_DOMAIN_XML_INACTIVE)
        assert "passwd='second-pw'" in stored
        again = run_module('virt_domain_state', dict(xml=xml), TEST_URI)
        assert not again['changed'] and 'second-pw' not in again['stdout']
        failed = run_module('virt_domain_state', dict(xml=xml.replace('</devices>', '<oops></devices>')), TEST_URI)
        assert failed['failed'] and 'second-pw' not in failed['stdout']
    finally:
        try:
            conn.lookupByName(unique_name).undefine()
        except libvirt.libvirtError:
            pass


def test_password_option_is_no_log(conn):
    result = run_module('virt_domain_info', dict(username='someone', password='conn-pw-123'), TEST_URI)
    assert not result['failed'] and 'conn-pw-123' not in result['stdout']
    assert result['invocation']['module_args']['password'] == 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


# secret_paths: the user's own secret paths, parsed strictly, used by every masking.
import pytest  # noqa: E402

from ansible_collections.domainops.libvirt.plugins.module_utils import xml_secrets, xml_text  # noqa: E402

TOKEN, OEM = 'tok-Zq8w1x', 'io.systemd.credential:pw=oem-Kx72'
METADATA = "<metadata><app:token xmlns:app='urn:example:app' kind='k-Vb31'>%s</app:token></metadata>" % TOKEN
SYSINFO = "<sysinfo type='smbios'><oemStrings><entry>%s</entry></oemStrings></sysinfo>" % OEM


@pytest.mark.parametrize('path, rows', [
    ('metadata/token', ((('metadata', 'token'), None, 'given by the task'),)),
    ('token/@kind', ((('token',), 'kind', 'given by the task'),)),
    (' devices/interface/source/@path ', ((('devices', 'interface', 'source'), 'path', 'given by the task'),)),
])
def test_secret_paths_parse(path, rows):
    assert xml_secrets.parse_secret_paths([path]) == rows


@pytest.mark.parametrize('path, words', [
    ('', 'an empty path'),
    ('   ', 'an empty path'),
    ('a//b', 'an empty step'),
    ('/a/b', 'an empty step'),
    ('a/b/', 'an empty step'),
    ('@kind', 'names an attribute but no element'),
    ('a/@', "'@' is not an attribute name"),
    ('a/@k/b', "'@k' is not an element name"),
    ('a/b c', "'b c' is not an element name"),
    ('disk[1]/source', "'disk[1]' is not an element name"),
    ('{urn:x}token', 'is not an element name'),
])
def test_secret_paths_bad_path_is_a_clear_error(path, words):
    with pytest.raises(ValueError) as err:
        xml_secrets.parse_secret_paths(['ok/path', path])
    assert words in str(err.value) and "'devices/disk/source/cookies/cookie'" in str(err.value)
    result = run_module('virt_domain_state', dict(name='nothing-here', secret_paths=[path]), TEST_URI)
    assert result['failed'] and 'secret_paths' in result['msg'] and words in result['msg'], result['msg']
    assert result['msg'].endswith('nothing was changed') and '\n' not in result['msg']


def test_secrets_match_local_names_attributes_and_any_depth():
    root = xml_text.parse_xml("<domain>%s%s<devices><disk><source><cookies><cookie name='c'>ck-1</cookie>"
                              "</cookies></source></disk></devices></domain>" % (METADATA, SYSINFO))
    secrets = xml_secrets.Secrets(xml_secrets.parse_secret_paths(['metadata/token', 'token/@kind']))
    text = xml_text.to_text(root, secrets=secrets)
    for value in (TOKEN, 'k-Vb31', OEM, 'ck-1'):
        assert value not in text
    assert secrets.found == {TOKEN, 'k-Vb31', OEM, 'ck-1'}
    # without the task's paths only the built-in ones are masked
    plain = xml_text.to_text(root, secrets=xml_secrets.Secrets())
    assert TOKEN in plain and 'k-Vb31' in plain and OEM not in plain and 'ck-1' not in plain
    # broken XML still yields the values before the break (for the echo of the arguments)
    assert xml_text.secret_values('<domain>%s<oops>' % METADATA, secrets) == {TOKEN, 'k-Vb31'}
    # a string in a result: masked only when it holds a secret, else returned as it is
    assert xml_text.mask_xml_string('<a>\n  <b/>\n</a>', secrets) == '<a>\n  <b/>\n</a>'
    assert TOKEN not in xml_text.mask_xml_string('<x>%s</x>' % METADATA, secrets)


def test_secret_paths_mask_results_diff_echo_and_info(conn, unique_name):
    xml = minimal_domain_xml(unique_name, extra='').replace('</name>', '</name>' + METADATA + SYSINFO, 1)
    paths = ['metadata/token', 'token/@kind']
    try:
        for check in (True, False):
            result = run_module('virt_domain_state', dict(xml=xml, secret_paths=paths), TEST_URI, check=check, diff=True)
            assert result['changed'] and not result['failed'], result
            assert 'invocation' in result
            assert '********' in result['diff']['after']
            text = json.dumps(result)
            for value in (TOKEN, 'k-Vb31', OEM):
                assert value not in text, (value, text)
        stored = conn.lookupByName(unique_name).XMLDesc(0)
        assert TOKEN in stored and OEM in stored  # libvirt got the real values
        info = run_module('virt_domain_info', dict(name=unique_name, xml=True, secret_paths=paths), TEST_URI)
        assert '********' in info['domains'][0]['xml']
        assert all(value not in json.dumps(info) for value in (TOKEN, 'k-Vb31', OEM))
        # without the option the token is the user's business; OEM strings are masked anyway
        info = run_module('virt_domain_info', dict(name=unique_name, xml=True), TEST_URI)
        assert TOKEN in info['domains'][0]['xml'] and OEM not in json.dumps(info)
    finally:
        try:
            conn.lookupByName(unique_name).undefine()
        except libvirt.libvirtError:
            pass
