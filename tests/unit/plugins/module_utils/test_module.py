# module_utils/module.py: the one failure funnel. Whatever a handler raises (libvirt's
# errors, the collection's own, OSError, a plain bug), the result is one line that names
# the failed step and exactly the steps done before it, `changed` when any step
# succeeded, and never a traceback.
import json

import libvirt
import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError
from ansible_collections.domainops.libvirt.plugins.module_utils.module import LibvirtModule

from conftest import TEST_URI


class Exit(Exception):
    def __init__(self, result):
        super().__init__(result.get('msg'))
        self.result = json.loads(json.dumps(result))


@pytest.fixture
def run(monkeypatch):
    def leave(failed):
        def method(self, msg=None, **result):
            if msg is not None:
                result['msg'] = msg
            result['failed'] = failed
            raise Exit(result)
        return method
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', leave(False))
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', leave(True))

    def run_handler(handler, check=False):
        with patch_module_args(dict(uri=TEST_URI, name='funnel', _ansible_check_mode=check)):
            module = LibvirtModule(argument_spec={}, supports_check_mode=True)
            with pytest.raises(Exit) as done:
                module.run(handler)
        return done.value.result
    return run_handler


def steps_then(error):
    """A handler: step `one` succeeds, then step `two` raises `error`."""
    def handler(task):
        task.mutate('one', lambda: None)
        task.mutate('two', _raise, error)
        return dict(changed=True)
    return handler


def _raise(error):
    raise error


@pytest.mark.parametrize('error,words', [
    (OSError(1, 'Operation not permitted', '/var/lib/x.qcow2'), ['PermissionError', 'Operation not permitted', 'x.qcow2']),
    (OSError(16, 'Device or resource busy'), ['OSError', 'Device or resource busy']),
    (ValueError('a bug\nover two lines'), ['ValueError', 'a bug over two lines']),
    (KeyError('missing'), ['KeyError', 'missing']),
    (libvirt.libvirtError('virDomainCreate() failed'), ['libvirt failed', 'virDomainCreate']),
    (InputError('refused by the collection'), ['refused by the collection']),
], ids=['EPERM', 'EBUSY', 'ValueError', 'KeyError', 'libvirtError', 'InputError'])
def test_every_exception_names_the_failed_step_and_what_was_done(run, error, words):
    result = run(steps_then(error))
    msg = result['msg']
    assert result['failed'] and '\n' not in msg and 'Traceback' not in msg, msg
    for word in words:
        assert word in msg, msg
    assert msg.endswith('(failed step: two; already done before the failure: one)'), msg
    assert result['actions'] == ['one'] and result['failed_action'] == 'two'
    assert result['changed'] is True


def test_a_failure_before_any_step_changed_nothing(run):
    result = run(lambda task: _raise(OSError(5, 'Input/output error')))
    assert result['failed'] and result['actions'] == [] and result['changed'] is False
    assert result['failed_action'] is None and 'the task failed' in result['msg']


def test_a_failing_first_step(run):
    def handler(task):
        task.mutate('only', _raise, OSError(28, 'No space left on device'))
    result = run(handler)
    assert result['msg'].endswith('(failed step: only; nothing was done before it)'), result['msg']
    assert result['actions'] == [] and result['changed'] is False and result['failed_action'] == 'only'


def test_check_mode_records_without_calling(run):
    def handler(task):
        task.mutate('one', _raise, OSError(1, 'never called'))
        raise InputError('stops here')
    result = run(handler, check=True)
    assert result['actions'] == ['one'] and result['failed_action'] is None
    assert 'would have been done before the failure: one' in result['msg']
