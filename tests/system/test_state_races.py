# State changes racing something else on the real daemon. Between the task's read of
# the state and its call, the guest powers off, another task starts or destroys the
# domain, or removes it: libvirt then refuses the call (VIR_ERR_OPERATION_INVALID,
# VIR_ERR_NO_DOMAIN). The task re-reads the state and succeeds when its goal is met.
#
# First with the interleaving forced (the other change runs right before the task's
# call, in-process), then as it happens: two module processes at once, many rounds.
import os
import sys
import types

import libvirt
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import remove_domain  # noqa: E402
from sysenv import URI, connect, noos_xml, unique  # noqa: E402
from test_concurrency import _module_process, _result  # noqa: E402

from ansible_collections.domainops.libvirt.plugins.module_utils import lifecycle  # noqa: E402
from ansible_collections.domainops.libvirt.plugins.module_utils.events import start_event_loop  # noqa: E402
from ansible_collections.domainops.libvirt.plugins.module_utils.module import Task  # noqa: E402

ROUNDS = 3
DEFAULTS = dict(uri=URI, name=None, uuid=None, xml=None, state='present', timeout=10, force=False,
                shutdown_mode=[], remove_storage=False, keep_storage=[], validate=True)


@pytest.fixture
def domain():
    start_event_loop()  # before the connection opens: a shutdown waits with events
    conn = connect()
    name = unique('race')
    conn.defineXML(noos_xml(name))
    yield conn, name
    remove_domain(conn, name)
    conn.close()


class Raced(object):
    """The task's domain handle: `method` first lets another connection `change` the domain."""

    def __init__(self, dom, method, change):
        self._dom = dom
        setattr(self, method, lambda *args: (change(), getattr(dom, method)(*args))[1])

    def __getattr__(self, name):
        return getattr(self._dom, name)


def run_in_process(conn, name, method, change, **params):
    module = types.SimpleNamespace(params=dict(DEFAULTS, name=name, **params), check_mode=False, _diff=False)
    task = Task(module)
    task.conn = conn
    run = lifecycle.DomainStateRun(task)
    run._find_domain = lambda: Raced(conn.lookupByName(name), method, change)
    return task, run.run()


@pytest.mark.parametrize('start,want,method,change,code', [
    (True, 'destroyed', 'destroy', 'destroy', 'VIR_ERR_OPERATION_INVALID'),   # the guest powered off
    (True, 'shutdown', 'shutdownFlags', 'destroy', 'VIR_ERR_OPERATION_INVALID'),
    (False, 'running', 'create', 'create', 'VIR_ERR_OPERATION_INVALID'),      # another task started it
    (False, 'absent', 'undefineFlags', 'undefine', 'VIR_ERR_NO_DOMAIN'),      # another task removed it
])
def test_the_domain_changes_right_before_the_call(domain, start, want, method, change, code):
    conn, name = domain
    other = connect()  # the someone else
    try:
        if start:
            conn.lookupByName(name).create()
        theirs = other.lookupByName(name)
        task, result = run_in_process(conn, name, method, getattr(theirs, change), state=want)
    finally:
        other.close()
    assert task.actions == [] and result['changed'] is False, (task.actions, result)
    assert result['domain']['state'] == dict(destroyed='shutoff', shutdown='shutoff', running='running',
                                             absent='absent')[want]
    assert any('when this task called' in w and code in w for w in task.warnings), task.warnings


@pytest.mark.parametrize('start,want,expect', [
    (True, 'destroyed', libvirt.VIR_DOMAIN_SHUTOFF),
    (False, 'running', libvirt.VIR_DOMAIN_RUNNING),
])
def test_two_tasks_at_once_both_succeed_one_changes(domain, tmp_path, start, want, expect):
    conn, name = domain
    for round_ in range(ROUNDS):
        dom = conn.lookupByName(name)
        if start and not dom.isActive():
            dom.create()
        elif not start and dom.isActive():
            dom.destroy()
        procs = [_module_process(tmp_path, '%s%d-%d' % (want, round_, i), 'virt_domain_state',
                                 dict(name=name, state=want)) for i in range(2)]
        results = [_result(proc) for proc in procs]
        assert [r.get('failed', False) for r in results] == [False, False], results
        assert sorted(r['changed'] for r in results) == [False, True], results
        assert conn.lookupByName(name).state()[0] == expect
