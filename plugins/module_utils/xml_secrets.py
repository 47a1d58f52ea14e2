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


def parse_secret_paths(paths):
    """User-given extra secret paths ('a/b/c' or 'a/b/c/@attr') as SECRET_PATHS rows."""
    rows = []
    for path in paths or ():
        parts = [p for p in path.strip().split('/') if p]
        attr = None
        if parts and parts[-1].startswith('@'):
            attr = parts.pop()[1:]
        if parts:
            rows.append((tuple(parts), attr, 'given by the task'))
    return tuple(rows)


class Secrets(object):
    """Decides what is secret in a tree: the built-in rows plus the task's own."""

    def __init__(self, extra_paths=()):
        self.paths = SECRET_PATHS + tuple(extra_paths)

    def _chain_ends_with(self, el, suffix):
        node = el
        for tag in reversed(suffix):
            if node is None or not isinstance(node.tag, str) or node.tag != tag:
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

    def mask_tree(self, root):
        """Replace every secret value in root (in place) by SECRET_MASK."""
        for node in root.iter():
            if not isinstance(node.tag, str):
                continue
            for name in list(node.attrib):
                if self.attribute_is_secret(node, name):
                    node.set(name, SECRET_MASK)
            if node.text is not None and node.text.strip() and self.text_is_secret(node):
                node.text = SECRET_MASK
        return root

    def attribute_value(self, el, name, value):
        return SECRET_MASK if value is not None and self.attribute_is_secret(el, name) else value

    def text_value(self, el, value):
        return SECRET_MASK if value is not None and self.text_is_secret(el) else value


DEFAULT_SECRETS = Secrets()
