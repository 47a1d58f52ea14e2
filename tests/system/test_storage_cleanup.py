# state: absent with remove_storage on the real daemon: an image is deleted only when
# nothing else uses it. Each case plants one other user of the domain's image (another
# domain shut off, running, transient, through a symbolic link or a qcow2 overlay whose
# header names the image as its backing file; an overlay image no domain uses, beside
# the image or in a storage pool elsewhere). The task must refuse in check mode and for
# real, name the user, and change nothing. keep_storage then removes the rest. A file
# that cannot be deleted (immutable) ends in one clear line, not a traceback.
import os
import subprocess
import sys

import libvirt
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'lib'))
from modrun import one_line_problems, remove_domain, run_module, snapshot, step  # noqa: E402
from sysenv import URI, connect, noos_xml, unique  # noqa: E402

DISK = ("<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='%s'/>"
        "<target dev='%s' bus='virtio'/></disk>")


def qemu_img(*args):
    subprocess.run(('qemu-img',) + args, check=True, stdout=subprocess.DEVNULL)


def image(path, backing=None):
    """A small qcow2 image; with `backing`, an overlay naming it (as written: may be relative)."""
    extra = ('-b', backing, '-F', 'qcow2') if backing else ()
    qemu_img('create', '-q', '-f', 'qcow2', *extra, str(path), '16M')
    return str(path)


@pytest.fixture
def env(tmp_path):
    """A connection, a scratch image directory, and cleanup of every domain and pool made."""
    conn = connect()
    made = dict(domains=[], pools=[])
    images = tmp_path / 'images'
    images.mkdir()
    yield conn, images, made
    for name in made['domains']:
        remove_domain(conn, name)
    for pool in made['pools']:
        try:
            pool.destroy()
        except libvirt.libvirtError:
            pass
        pool.undefine()
    conn.close()


def define(conn, made, name, disks=(), start=False, transient=False):
    xml = noos_xml(name, extra=''.join(DISK % (path, 'vd' + chr(ord('a') + i)) for i, path in enumerate(disks)))
    made['domains'].append(name)
    if transient:
        return conn.createXML(xml, 0)
    dom = conn.defineXML(xml)
    if start:
        dom.create()
    return dom


def other_domain_shut_off_with_an_overlay(conn, images, made, target):
    name = unique('user')
    define(conn, made, name, [image(images / 'other.qcow2', backing=os.path.basename(target))])
    return "domain '%s' (backing file of %s)" % (name, images / 'other.qcow2')


def other_domain_running_with_an_overlay(conn, images, made, target):
    name = unique('user')
    dom = define(conn, made, name, [image(images / 'other.qcow2', backing=target)], start=True)
    assert '<backingStore' in dom.XMLDesc(0), 'libvirt shows the chain in the live XML'
    return "domain '%s'" % name


def running_domain_with_the_image_only_in_its_persistent_definition(conn, images, made, target):
    name = unique('user')
    dom = define(conn, made, name, start=True)
    dom.attachDeviceFlags(DISK % (target, 'vdb'), libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    assert target not in dom.XMLDesc(0) and target in dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    return "domain '%s'" % name


def transient_domain(conn, images, made, target):
    name = unique('user')
    define(conn, made, name, [image(images / 'other.qcow2', backing=target)], transient=True)
    return "domain '%s'" % name


def other_domain_through_a_symbolic_link(conn, images, made, target):
    name = unique('user')
    link = images / 'link.qcow2'
    link.symlink_to(target)
    define(conn, made, name, [str(link)])
    return "domain '%s'" % name


def overlay_image_beside_it(conn, images, made, target):
    overlay = image(images / 'overlay.qcow2', backing=os.path.basename(target))
    return 'image %s' % overlay


def overlay_image_in_another_storage_pool(conn, images, made, target):
    directory = images.parent / 'pool'
    directory.mkdir()
    overlay = image(directory / 'overlay.qcow2', backing=target)
    pool = conn.storagePoolDefineXML("<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>"
                                     % (unique('pool'), directory), 0)
    made['pools'].append(pool)
    pool.create(0)
    return 'image %s' % overlay


USERS = (other_domain_shut_off_with_an_overlay, other_domain_running_with_an_overlay,
         running_domain_with_the_image_only_in_its_persistent_definition, transient_domain,
         other_domain_through_a_symbolic_link, overlay_image_beside_it, overlay_image_in_another_storage_pool)


@pytest.mark.parametrize('plant', USERS, ids=[f.__name__ for f in USERS])
def test_an_image_something_else_uses_is_never_deleted(env, plant):
    conn, images, made = env
    name = unique('clean')
    base = image(images / 'base.qcow2')
    own = image(images / 'own.qcow2')
    define(conn, made, name, [own, base])  # shut off: QEMU locks an image a running overlay reads
    user = plant(conn, images, made, base)
    before = snapshot(conn, name)
    files = sorted(os.listdir(images))
    args = dict(name=name, state='absent', remove_storage=True)
    for check in (True, False):
        result = run_module('virt_domain_state', args, URI, check=check)
        assert one_line_problems(result) == [], result
        assert '%s is used by %s' % (base, user) in result['msg'], result['msg']
        assert 'nothing was changed' in result['msg'] and 'keep_storage' in result['msg']
        assert result['actions'] == [] and not result['changed']
    assert snapshot(conn, name) == before, 'the domain was changed'
    assert sorted(os.listdir(images)) == files, 'an image was deleted'

    # The shared image kept on purpose: the domain and its own image go.
    done = step(conn, name, 'virt_domain_state', dict(args, keep_storage=[base]), ['undefine', 'delete_file'])
    assert done['removed_storage'] == [own]
    assert not os.path.exists(own) and os.path.exists(base)


def test_a_file_that_cannot_be_deleted_is_one_line_with_what_was_done(env):
    conn, images, made = env
    name = unique('clean')
    first, stuck = image(images / 'first.qcow2'), image(images / 'stuck.qcow2')
    define(conn, made, name, [first, stuck], start=True)
    subprocess.run(['chattr', '+i', stuck], check=True)  # even root cannot delete it now
    try:
        result = run_module('virt_domain_state', dict(name=name, state='absent', remove_storage=True), URI)
    finally:
        subprocess.run(['chattr', '-i', stuck], check=True)
    assert one_line_problems(result) == [], result
    msg = result['msg']
    assert 'Operation not permitted' in msg and stuck in msg, msg
    assert 'failed step: delete_file; already done before the failure: destroy, undefine, delete_file' in msg, msg
    assert result['actions'] == ['destroy', 'undefine', 'delete_file'] and result['failed_action'] == 'delete_file'
    assert result['changed'] is True and result['removed_storage'] == [first]
    assert snapshot(conn, name) is None and not os.path.exists(first) and os.path.exists(stuck)
