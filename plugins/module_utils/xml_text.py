# -*- coding: utf-8 -*-
# Internal to domainops.libvirt: XML text in and out. Not a public API.
#
# Safe parsing of untrusted XML (no DTD, no entities, no network, a size limit) and
# serialising with secrets masked. Pure Python on lxml, no libvirt calls.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

try:
    from lxml import etree
    HAS_LXML = True
    LXML_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - the modules report it with missing_required_lib
    etree = None
    HAS_LXML = False
    LXML_IMPORT_ERROR = exc

from ansible_collections.domainops.libvirt.plugins.module_utils.errors import InputError
from ansible_collections.domainops.libvirt.plugins.module_utils.xml_secrets import DEFAULT_SECRETS

MAX_XML_BYTES = 10 * 1024 * 1024

# A document type declaration is never needed in libvirt XML; refusing it
# outright closes entity expansion (billion laughs) and external entities (XXE).
_DTD_RE = re.compile(r'<!(DOCTYPE|ENTITY)', re.IGNORECASE)


def _line_col(text, offset):
    line = text.count('\n', 0, offset) + 1
    col = offset - (text.rfind('\n', 0, offset) + 1) + 1
    return line, col


def parse_xml(text, what='domain XML', root_tags=('domain',)):
    """Parse untrusted XML text into an lxml element, or raise InputError.

    No DTD, no entities, no network; comments and processing instructions are
    dropped (libvirt drops them too, NORMALIZATION.md rule 19). An XML declaration
    naming an encoding is accepted (oVirt writes one).
    """
    if etree is None:  # pragma: no cover
        raise InputError('the lxml Python library is required to handle %s' % what)
    if text is None:
        raise InputError('%s is missing' % what)
    if isinstance(text, bytes):
        raw = text
        try:
            text_str = text.decode('utf-8')
        except UnicodeDecodeError:
            text_str = text.decode('latin-1')
    else:
        text_str = text
        raw = text.encode('utf-8')
    if len(raw) > MAX_XML_BYTES:
        raise InputError('%s is too large: %d bytes, at most %d are accepted'
                         % (what, len(raw), MAX_XML_BYTES))
    if not text_str.strip():
        raise InputError('%s is empty' % what)
    match = _DTD_RE.search(text_str)
    if match:
        line, col = _line_col(text_str, match.start())
        raise InputError('%s must not contain a document type or entity declaration (<!%s) '
                         '(line %d, column %d)' % (what, match.group(1).upper(), line, col))
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False, remove_comments=True,
                             remove_pis=True, strip_cdata=True)
    try:
        # bytes, so that an XML declaration with an encoding is accepted
        # (and leading blank lines before that declaration, which lxml refuses)
        root = etree.fromstring(raw.lstrip() if raw.lstrip().startswith(b'<?xml') else raw, parser)
    except etree.XMLSyntaxError as exc:
        entry = exc.error_log.last_error if exc.error_log else None
        message = (entry.message if entry is not None else str(exc)).strip()
        line, col = exc.position if exc.position else (0, 0)
        if entry is not None:
            line, col = entry.line, entry.column
        raise InputError('%s is not well-formed: %s (line %d, column %d)'
                         % (what, message, line, col))
    if root.getroottree().docinfo.doctype:
        raise InputError('%s must not contain a document type declaration' % what)
    for node in root.iter():
        if not isinstance(node.tag, str):
            # entity references or anything that is not a plain element
            raise InputError('%s must not contain entity references (line %s)'
                             % (what, getattr(node, 'sourceline', '?')))
    if root_tags and root.tag not in root_tags:
        raise InputError('%s must have the root element %s, found <%s>'
                         % (what, ' or '.join('<%s>' % t for t in root_tags), root.tag))
    return root


def as_element(value, what='domain XML', root_tags=('domain',)):
    """An element as it is, or XML text parsed."""
    if isinstance(value, (str, bytes)):
        return parse_xml(value, what=what, root_tags=root_tags)
    return value


def local_name(tag):
    if isinstance(tag, str) and tag.startswith('{'):
        return tag.split('}', 1)[1]
    return tag


def text_of(el):
    """Element text when it carries a value (whitespace-only text is layout)."""
    text = el.text
    if text is None or not text.strip():
        return None
    return text


def compact(el, secrets=DEFAULT_SECRETS):
    """One element as one line of XML, layout whitespace dropped, secrets masked."""
    clone = copy.deepcopy(el)
    clone.tail = None
    for node in clone.iter():
        if node is not clone and node.text is not None and not node.text.strip():
            node.text = None
        if node.tail is not None and not node.tail.strip():
            node.tail = None
    if clone.text is not None and not clone.text.strip() and len(clone):
        clone.text = None
    _mask_in_context(el, clone, secrets)
    return etree.tostring(clone, encoding='unicode')


def _mask_in_context(original, clone, secrets):
    # Path rules need the element's ancestors: mask the clone node by node while
    # walking the original, which still has its parents.
    for src, dst in zip(original.iter(), clone.iter()):
        if not isinstance(src.tag, str):
            continue
        for name in list(dst.attrib):
            dst.set(name, secrets.attribute_value(src, name, dst.get(name)))
        if dst.text is not None and dst.text.strip():
            dst.text = secrets.text_value(src, dst.text)


def to_text(root, pretty=True, mask_secrets=True, secrets=DEFAULT_SECRETS):
    """Serialise an element; secret values masked unless asked otherwise."""
    root = as_element(root, root_tags=None)
    clone = copy.deepcopy(root)
    if mask_secrets:
        _mask_in_context(root, clone, secrets)
    if pretty:
        for node in clone.iter():
            if len(node) and node.text is not None and not node.text.strip():
                node.text = None
            if node.tail is not None and not node.tail.strip():
                node.tail = None
        etree.indent(clone, space='  ')
    return etree.tostring(clone, encoding='unicode', pretty_print=pretty)


def _lenient_root(text):
    # Best effort, never raises: broken XML (the very input a task fails on) still
    # yields the elements before the break, so their secrets can be hidden too.
    if etree is None or not isinstance(text, str) or '<' not in text or len(text) > MAX_XML_BYTES:
        return None
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        return etree.fromstring(text.strip().encode('utf-8'), parser)
    except (etree.XMLSyntaxError, ValueError):
        return None


def secret_values(text, secrets=DEFAULT_SECRETS):
    """The secret values in XML text (broken XML too), for Ansible's no_log list."""
    root = _lenient_root(text)
    values = set()
    for node in root.iter() if root is not None else ():
        if not isinstance(node.tag, str):
            continue
        values.update(value for name, value in node.attrib.items() if secrets.attribute_is_secret(node, name))
        if node.text is not None and node.text.strip() and secrets.text_is_secret(node):
            values.add(node.text)
    return set(value for value in values if value and value.strip())


def mask_xml_string(text, secrets=DEFAULT_SECRETS):
    """XML text with its secrets masked; the text as it is when it holds none (or is not XML)."""
    if not isinstance(text, str) or not text.lstrip().startswith('<'):
        return text
    try:
        root = parse_xml(text, what='XML', root_tags=None)
    except InputError:
        return text
    if not secrets.mask_tree(root):
        return text
    return etree.tostring(root, encoding='unicode')
