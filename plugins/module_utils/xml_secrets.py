# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: which XML values are secrets, and masking them.
# Not a public API. Pure Python on lxml.
#
# Secrets are found by attribute name anywhere (passwd, password) and by path: the
# text or an attribute of an element whose tag chain ends like a SECRET_PATHS row.
# Paths match detached subtrees too (a device compared on its own), so rows are
# suffixes, never absolute paths.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

SECRET_MASK = '********'

# Attributes whose values are secrets wherever they appear.
SECRET_ATTRIBUTES = frozenset(('passwd', 'password'))

QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0'

# (tag chain suffix, attribute or None for the element's text, why)
SECRET_PATHS = (
    (('cookies', 'cookie'), None, 'HTTP cookies of a network disk'),
    (('sysinfo', 'oemStrings', 'entry'), None, 'SMBIOS OEM strings (systemd credentials)'),
    (('{%s}commandline' % QEMU_NS, '{%s}arg' % QEMU_NS), 'value', 'QEMU command line arguments'),
    (('{%s}commandline' % QEMU_NS, '{%s}env' % QEMU_NS), 'value', 'QEMU environment values'),
)


# One step of a user-given path: an element's local name (any namespace), XML name rules.
_STEP_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_.-]*$')

PATH_EXAMPLE = "like 'devices/disk/source/cookies/cookie' or 'metadata/token/@value'"


def parse_secret_paths(paths):
    """User-given extra secret paths ('a/b/c' or 'a/b/c/@attr') as SECRET_PATHS rows.

    Raises ValueError naming the bad path and why. Steps are local element names
    (any namespace matches); a path matches where an element's chain of parents
    ends with it, at any depth.
    """
    rows = []
    for path in paths or ():
        if not isinstance(path, str) or not path.strip():
            raise ValueError('secret_paths: an empty path; give element names separated by /, %s' % PATH_EXAMPLE)
        parts = path.strip().split('/')
        attr = None
        if parts[-1].startswith('@'):
            attr = parts.pop()[1:]
            if not _STEP_RE.match(attr):
                raise ValueError("secret_paths: '%s': '@%s' is not an attribute name; %s" % (path, attr, PATH_EXAMPLE))
        if not parts:
            raise ValueError("secret_paths: '%s' names an attribute but no element; %s" % (path, PATH_EXAMPLE))
        for step in parts:
            if not _STEP_RE.match(step):
                what = 'an empty step (//, or / at an end)' if not step else "'%s' is not an element name" % step
                raise ValueError("secret_paths: '%s': %s; %s" % (path, what, PATH_EXAMPLE))
        rows.append((tuple(parts), attr, 'given by the task'))
    return tuple(rows)


def _local(tag):
    return tag.split('}', 1)[1] if tag.startswith('{') else tag


class Secrets(object):
    """Decides what is secret in a tree: the built-in rows plus the task's own.

    Every value it masks is kept in `found`, so the module can also hide it where it
    shows up outside XML (a message, a warning).
    """

    def __init__(self, extra_paths=()):
        self.paths = SECRET_PATHS + tuple(extra_paths)
        self.found = set()

    def use_paths(self, extra_paths):
        """The task's own rows in place of the previous task's (one task per process)."""
        self.paths = SECRET_PATHS + tuple(extra_paths)
        self.found = set()

    def _chain_ends_with(self, el, suffix):
        node = el
        for tag in reversed(suffix):
            if node is None or not isinstance(node.tag, str):
                return False
            # a namespaced step must match exactly; a plain one matches the local name
            if node.tag != tag and ('}' in tag or _local(node.tag) != tag):
                return False
            node = node.getparent()
        return True

    def text_is_secret(self, el):
        return any(attr is None and self._chain_ends_with(el, chain) for chain, attr, _why in self.paths)

    def attribute_is_secret(self, el, name):
        local = name.split('}', 1)[-1]
        if local in SECRET_ATTRIBUTES:
            return True
        return any(attr == local and self._chain_ends_with(el, chain) for chain, attr, _why in self.paths)

    def _masked(self, value):
        if value and value.strip() and value != SECRET_MASK:
            self.found.add(value)
        return SECRET_MASK

    def mask_tree(self, root):
        """Replace every secret value in root (in place) by SECRET_MASK; whether any was."""
        masked = False
        for node in root.iter():
            if not isinstance(node.tag, str):
                continue
            for name in list(node.attrib):
                if self.attribute_is_secret(node, name) and node.get(name) != SECRET_MASK:
                    node.set(name, self._masked(node.get(name)))
                    masked = True
            if node.text is not None and node.text.strip() and node.text != SECRET_MASK and self.text_is_secret(node):
                node.text = self._masked(node.text)
                masked = True
        return masked

    def attribute_value(self, el, name, value):
        return self._masked(value) if value is not None and self.attribute_is_secret(el, name) else value

    def text_value(self, el, value):
        return self._masked(value) if value is not None and self.text_is_secret(el) else value


DEFAULT_SECRETS = Secrets()
