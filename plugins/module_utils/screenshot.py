# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: the logic of virt_domain_screenshot (taking the
# shot through a libvirt stream, PPM to PNG in pure Python, writing the file
# atomically). Not a public API.

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import xml.etree.ElementTree as ET
import zlib

from ansible_collections.domainops.libvirt.plugins.module_utils.connection import describe_libvirt_error
from ansible_collections.domainops.libvirt.plugins.module_utils.domain import describe_domain, domain_state
from ansible_collections.domainops.libvirt.plugins.module_utils.errors import (
    DomainOpsError, InputError, LibvirtCallError)

try:
    import libvirt
except ImportError:  # reported by LibvirtModule through missing_required_lib
    libvirt = None

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
MAX_SCREEN = 2 ** 32 - 1  # an unsigned int in virDomainScreenshot
PNG_TYPES = ('image/png',)
PPM_TYPES = ('image/x-portable-pixmap', 'image/x-portable-anymap', 'image/x-ppm')


def png_dimensions(data):
    """(width, height) from a PNG's IHDR chunk, or ValueError when it is not a PNG."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b'IHDR':
        raise ValueError('not a PNG image (no PNG signature followed by IHDR)')
    return struct.unpack('>II', data[16:24])


def _png_chunk(kind, payload):
    return (struct.pack('>I', len(payload)) + kind + payload +
            struct.pack('>I', zlib.crc32(kind + payload) & 0xFFFFFFFF))


def encode_png(width, height, rgb):
    """A PNG (8-bit RGB, no interlace) of `rgb`: width*height*3 bytes, row by row.

    Deterministic: the same pixels always give the same bytes, which is what lets
    the module tell an unchanged screen from a changed one.
    """
    stride = width * 3
    if len(rgb) != stride * height:
        raise ValueError('%d bytes of pixels for %dx%d RGB (expected %d)' % (len(rgb), width, height, stride * height))
    # Each row starts with its filter type; 0 (none) keeps the encoder simple.
    raw = b''.join(b'\x00' + rgb[row * stride:(row + 1) * stride] for row in range(height))
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (PNG_SIGNATURE + _png_chunk(b'IHDR', header) +
            _png_chunk(b'IDAT', zlib.compress(raw, 6)) + _png_chunk(b'IEND', b''))


def _ppm_header(data):
    """(width, height, maxval, offset of the pixels) of a binary PPM (P6)."""
    if not data.startswith(b'P6'):
        raise ValueError('not a binary PPM image (no P6 magic)')
    fields, pos = [], 2
    while len(fields) < 3:
        # Whitespace and '#' comments may separate the header's numbers.
        while pos < len(data) and data[pos:pos + 1] in b' \t\r\n':
            pos += 1
        if data[pos:pos + 1] == b'#':
            end = data.find(b'\n', pos)
            pos = len(data) if end < 0 else end + 1
            continue
        start = pos
        while pos < len(data) and data[pos:pos + 1].isdigit():
            pos += 1
        if start == pos:
            raise ValueError('malformed PPM header')
        fields.append(int(data[start:pos]))
    width, height, maxval = fields
    if not 0 < maxval < 65536 or width <= 0 or height <= 0:
        raise ValueError('malformed PPM header (%dx%d, maxval %d)' % (width, height, maxval))
    return width, height, maxval, pos + 1  # exactly one whitespace byte ends the header


def ppm_to_png(data):
    """(png bytes, width, height) of a binary PPM (P6) image."""
    width, height, maxval, offset = _ppm_header(data)
    samples = width * height * 3
    if maxval < 256:
        pixels = data[offset:offset + samples]
        if maxval != 255:
            scale = bytes(min(255, (v * 255 + maxval // 2) // maxval) for v in range(256))
            pixels = pixels.translate(scale)
    else:  # two bytes per sample, big-endian: keep the high 8 bits of the scaled value
        wide = struct.unpack('>%dH' % samples, data[offset:offset + 2 * samples])
        pixels = bytes((v * 255 + maxval // 2) // maxval for v in wide)
    if len(pixels) != samples:
        raise ValueError('PPM image is truncated (%dx%d)' % (width, height))
    return encode_png(width, height, pixels), width, height


def to_png(mime_type, data):
    """(png bytes, width, height) of what the hypervisor returned, converted when needed."""
    try:
        if mime_type in PNG_TYPES or data.startswith(PNG_SIGNATURE):
            width, height = png_dimensions(data)
            return data, width, height
        if mime_type in PPM_TYPES or data.startswith(b'P6'):
            return ppm_to_png(data)
    except (ValueError, struct.error) as err:
        raise LibvirtCallError('the screenshot the hypervisor returned (%s, %d bytes) is not a valid image: %s; '
                               'nothing was written' % (mime_type, len(data), err))
    raise LibvirtCallError("the hypervisor returned a screenshot as %s, which this module cannot convert "
                           "to PNG (it converts PPM); nothing was written" % mime_type)


def _has_display(dom):
    """False when the live domain has no video device that can show anything."""
    devices = ET.fromstring(dom.XMLDesc(0)).find('devices')
    if devices is None:
        return False
    for video in devices.findall('video'):
        model = video.find('model')
        if model is None or model.get('type') != 'none':
            return True
    return False


def grab(conn, dom, screen, label):
    """(mime type, bytes) of one screenshot, received through a libvirt stream."""
    stream = conn.newStream(0)
    chunks = []
    try:
        mime_type = dom.screenshot(stream, screen, 0)
        stream.recvAll(lambda _stream, data, buf: buf.append(data), chunks)
        stream.finish()
    except libvirt.libvirtError as err:
        try:
            stream.abort()
        except libvirt.libvirtError:
            pass  # already finished or broken: the original error is the one to report
        try:
            no_display = not _has_display(dom)
        except (libvirt.libvirtError, ET.ParseError):
            no_display = False
        if no_display:
            raise LibvirtCallError('domain %s has no display to take a screenshot of (no video device, or '
                                   "video model 'none'): %s; nothing was written"
                                   % (label, describe_libvirt_error(err)))
        raise LibvirtCallError('cannot take a screenshot of screen %d of domain %s: %s; nothing was written'
                               % (screen, label, describe_libvirt_error(err)))
    return mime_type, b''.join(chunks)


def check_destination(dest):
    """Refuse a destination that cannot be written before anything is taken."""
    if dest.endswith(os.sep) or os.path.isdir(dest):
        raise InputError('dest %s is a directory; give the path of the PNG file to write; '
                         'nothing was written' % dest)
    parent = os.path.dirname(dest)
    if not os.path.isdir(parent):
        problem = 'is not a directory' if os.path.exists(parent) else 'does not exist'
        raise InputError('directory %s (of dest) %s; nothing was written' % (parent, problem))
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError('directory %s (of dest) is not writable; nothing was written' % parent)


def _read(path):
    try:
        with open(path, 'rb') as handle:
            return handle.read()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise InputError('cannot read the existing dest %s to compare with: %s; nothing was written'
                         % (path, err.strerror or err))


def write_atomically(module, dest, data):
    """Write `data` to a temporary file beside `dest`, then move it over `dest`.

    A failure at any point leaves `dest` as it was and no temporary file behind.
    """
    parent = os.path.dirname(dest)
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix='.%s.' % os.path.basename(dest), suffix='.tmp')
    except OSError as err:
        raise InputError('cannot create a file in %s: %s; nothing was written' % (parent, err.strerror or err))
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # atomic_move keeps an existing file's mode and owner, and applies the umask to a new one.
        module.atomic_move(tmp, dest, unsafe_writes=module.params.get('unsafe_writes', False))
    except OSError as err:
        raise DomainOpsError('cannot write %s: %s; it was left unchanged' % (dest, err.strerror or err))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def take_screenshot(task):
    """virt_domain_screenshot's handler."""
    params = task.params
    dest = os.path.abspath(os.path.expanduser(params['dest']))
    screen = params['screen']
    if screen < 0:
        raise InputError('screen must not be negative (got %d); nothing was written' % screen)
    if screen > MAX_SCREEN:
        # libvirt-python would silently truncate it to 32 bits and shoot another screen.
        raise InputError('screen %d is out of range (at most %d); nothing was written' % (screen, MAX_SCREEN))
    check_destination(dest)

    dom = task.lookup()
    if not dom.isActive():
        raise InputError('domain %s is not running (state %s): only a running or paused domain has a '
                         'screen; nothing was written' % (task.domain_label, domain_state(dom)[0]))

    # Taking the shot changes nothing in the domain, so check mode takes it too and
    # can say whether the file would change.
    mime_type, raw = grab(task.conn, dom, screen, task.domain_label)
    png, width, height = to_png(mime_type, raw)

    changed = _read(dest) != png
    if changed:
        task.mutate('write %s' % dest, write_atomically, task.module, dest, png)

    # mode/owner/group/... (add_file_common_args); nothing to apply to a file check
    # mode did not write.
    if os.path.exists(dest):
        file_args = task.module.load_file_common_arguments(params, path=dest)
        changed = task.module.set_fs_attributes_if_different(file_args, changed)

    return dict(
        changed=changed,
        path=dest,
        mime_type=mime_type,
        size=len(png),
        sha256=hashlib.sha256(png).hexdigest(),
        width=width,
        height=height,
        domain=describe_domain(dom),
    )
