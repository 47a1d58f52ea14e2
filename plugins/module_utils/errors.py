# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the kinds of expected failure. Not a public API.

from __future__ import annotations


class DomainOpsError(Exception):
    """An expected failure: its message is shown to the user as it is."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details  # extra result keys (for example what was already done)


class InputError(DomainOpsError):
    """The task's input is wrong; nothing was changed."""


class LibvirtCallError(DomainOpsError):
    """libvirt refused or failed an operation."""


class WaitTimeout(DomainOpsError):
    """A wait for the guest or the daemon ran out of time."""
