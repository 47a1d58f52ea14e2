# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: one writer at a time for a domain's persistent
# definition, among this collection's tasks on one host. Not a public API.
#
# libvirt has no compare-and-swap for a definition: between reading it again (the
# lost-update guard in lifecycle.py) and defining the merged one, another task's change
# could still land and be overwritten. Tasks of this collection on the same host take
# this lock around that re-read and define, and around a device change of the
# definition, so that window is closed for them; other writers (virsh edit, other
# hosts) still meet the guard.

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time

from ansible_collections.domainops.libvirt.plugins.module_utils.errors import LibvirtCallError

# Held for one re-read and one define (milliseconds); a holder stuck this long is
# waiting on a libvirtd that does not answer.
LOCK_TIMEOUT = 60.0


def lock_path(uuid):
    directory = '/run/lock' if os.access('/run/lock', os.W_OK) else tempfile.gettempdir()
    digest = hashlib.sha256(uuid.lower().encode('ascii')).hexdigest()[:16]
    return os.path.join(directory, 'domainops-libvirt-%s.lock' % digest)


@contextlib.contextmanager
def definition_lock(uuid, label, timeout=LOCK_TIMEOUT):
    """Hold the host-wide lock of domain `uuid`'s definition (label: for the message)."""
    path = lock_path(uuid)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        yield  # a lock file this user cannot open: the re-read guard alone
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LibvirtCallError('another task has been changing the definition of domain %s for %d s '
                                           '(lock %s); nothing was changed' % (label, timeout, path))
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # releases the lock
