# Secrets given in XML, in-process on test:///default: never in the result (invocation,
# diff, warnings, messages), and a change of the password alone is a change.
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
