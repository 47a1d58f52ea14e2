# Unit-test fixtures: modules run in-process against libvirt's test driver.
#
# test:///default is real libvirt code with no daemon. Its state is shared by every
# connection of this process while one stays open, so the `conn` fixture keeps one
# open and a module run in-process sees (and changes) the same domains.
import json
import uuid

import libvirt
import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

TEST_URI = 'test:///default'

libvirt.registerErrorHandler(lambda _ctx, _err: None, None)


class ModuleExit(Exception):
    def __init__(self, result, failed):
        super().__init__(result.get('msg'))
        self.result = result
        self.failed = failed


def _exit_json(self, **result):
    raise ModuleExit(json.loads(json.dumps(result)), False)


def _fail_json(self, msg, **result):
    result['msg'] = msg
    result['failed'] = True
    raise ModuleExit(json.loads(json.dumps(result)), True)


@pytest.fixture
def run_module(monkeypatch):
    """run_module(module, args, check=False, diff=False) -> the module's result dict.

    A failed run returns its result too (with failed=True); tests assert on it.
    """
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', _fail_json)

    def run(module, args, check=False, diff=False):
        args = dict(args)
        args.setdefault('uri', TEST_URI)
        args['_ansible_check_mode'] = check
        args['_ansible_diff'] = diff
        with patch_module_args(args):
            try:
                module.main()
            except ModuleExit as done:
                return done.result
        raise AssertionError('module returned without exit_json/fail_json')
    return run


@pytest.fixture
def conn():
    """A connection to the in-process test driver, kept open for the whole test."""
    connection = libvirt.open(TEST_URI)
    yield connection
    connection.close()


@pytest.fixture
def unique_name():
    return 'ut-%s' % uuid.uuid4().hex[:10]


def minimal_domain_xml(name, memory_mib=64, extra=''):
    """A small domain the test driver accepts."""
    return (
        "<domain type='test'><name>%s</name><memory unit='MiB'>%d</memory><vcpu>1</vcpu>"
        "<os><type arch='i686'>hvm</type></os><devices>%s</devices></domain>" % (name, memory_mib, extra)
    )


@pytest.fixture(name='minimal_domain_xml')
def minimal_domain_xml_fixture():
    """The builder above, for test files (conftest modules are not importable by name)."""
    return minimal_domain_xml


@pytest.fixture
def define_domain(conn):
    """define_domain(xml) -> virDomain; every domain defined this way is removed after the test."""
    made = []

    def define(xml):
        dom = conn.defineXML(xml)
        made.append(dom)
        return dom
    yield define
    for dom in made:
        try:
            if dom.isActive():
                dom.destroy()
            dom.undefine()
        except libvirt.libvirtError:
            pass  # the test removed it itself
