# -*- coding: utf-8 -*-
# Copyright: domainops.libvirt contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Internal to domainops.libvirt: a minimal ISO 9660 image writer with Joliet names,
# enough for a cloud-init NoCloud seed (volume label "cidata", a few small files in
# the root directory). Not a public API.
#
# Why our own instead of pycdlib: the module runs on the managed host (or the
# controller), and ~200 lines here avoid one more library to install there. Joliet
# (not Rock Ridge) carries the lower-case names with dashes cloud-init looks for
# ("user-data", "meta-data"); Linux, FreeBSD and Windows read Joliet. The output is
# byte-for-byte the same for the same files (fixed dates), so an unchanged seed
# compares equal to the volume that holds it and is not uploaded again.

from __future__ import annotations

import struct

SECTOR = 2048
# Every date in the image: fixed, so the same files give the same image.
_DIR_DATE = bytes((100, 1, 1, 0, 0, 0, 0))  # 2000-01-01 00:00:00 UTC
_VD_DATE = b'2000010100000000\0'
_NO_DATE = b'0000000000000000\0'


def _both16(value):
    return struct.pack('<H', value) + struct.pack('>H', value)


def _both32(value):
    return struct.pack('<I', value) + struct.pack('>I', value)


def _sectors(size):
    return max(1, -(-size // SECTOR))


def _dir_record(identifier, extent, size, is_dir):
    length = 33 + len(identifier) + (1 - len(identifier) % 2)
    record = struct.pack('<BB', length, 0) + _both32(extent) + _both32(size) + _DIR_DATE
    record += struct.pack('<BBB', 2 if is_dir else 0, 0, 0) + _both16(1) + struct.pack('<B', len(identifier))
    record += identifier
    return record + b'\0' * (length - len(record))


def _clean(text, limit):
    return ''.join(c if c.isalnum() else '_' for c in text)[:limit] or 'F'


def _iso_name(name, used):
    """An ISO 9660 level 1 name (8.3, upper case) for the primary tree."""
    base, _dot, ext = name.upper().partition('.')
    base, ext = _clean(base, 8), _clean(ext, 3) if ext else ''
    candidate, number = base, 1
    while (candidate, ext) in used:
        suffix = str(number)
        candidate, number = base[:8 - len(suffix)] + suffix, number + 1
    used.add((candidate, ext))
    return ('%s.%s;1' % (candidate, ext)).encode('ascii')


def _text(value, length, joliet):
    if joliet:
        data = value.encode('utf-16-be')[:length]
        return data + ' '.encode('utf-16-be') * ((length - len(data)) // 2) + b'\0' * ((length - len(data)) % 2)
    data = value.encode('ascii')[:length]
    return data + b' ' * (length - len(data))


def _volume_descriptor(joliet, label, total, path_size, l_path, m_path, root_record):
    vd = bytearray(SECTOR)
    vd[0:7] = struct.pack('<B', 2 if joliet else 1) + b'CD001' + b'\x01'
    vd[8:40] = _text('', 32, joliet)
    vd[40:72] = _text(label if joliet else label.upper(), 32, joliet)
    vd[80:88] = _both32(total)
    if joliet:
        vd[88:91] = b'%/E'  # UCS-2 level 3
    vd[120:124] = _both16(1)
    vd[124:128] = _both16(1)
    vd[128:132] = _both16(SECTOR)
    vd[132:140] = _both32(path_size)
    vd[140:144] = struct.pack('<I', l_path)
    vd[148:152] = struct.pack('>I', m_path)
    vd[156:190] = root_record
    for start, length in ((190, 128), (318, 128), (446, 128), (574, 128), (702, 37), (739, 37), (776, 37)):
        vd[start:start + length] = _text('', length, joliet)
    vd[813:830] = _VD_DATE
    vd[830:847] = _VD_DATE
    vd[847:864] = _NO_DATE
    vd[864:881] = _VD_DATE
    vd[881] = 1
    return bytes(vd)


def _path_table(root_extent, big_endian):
    fmt = '>' if big_endian else '<'
    return struct.pack(fmt + 'BBIH', 1, 0, root_extent, 1) + b'\0\0'


def build(files, label='cidata'):
    """The bytes of an ISO image holding `files` ({name: bytes}) in its root directory."""
    names = sorted(files)
    # sectors: 0-15 system area, 16 primary, 17 Joliet, 18 terminator, 19-22 path tables,
    # 23 primary root, 24 Joliet root, then the files' data
    root_iso, root_joliet = 23, 24
    extents, next_sector = {}, 25
    for name in names:
        extents[name] = next_sector
        next_sector += _sectors(len(files[name]))
    total = next_sector

    used = set()
    trees = []
    for joliet, root_extent in ((False, root_iso), (True, root_joliet)):
        records = _dir_record(b'\0', root_extent, SECTOR, True) + _dir_record(b'\1', root_extent, SECTOR, True)
        for name in names:
            identifier = name.encode('utf-16-be') if joliet else _iso_name(name, used)
            records += _dir_record(identifier, extents[name], len(files[name]), False)
        if len(records) > SECTOR:
            raise ValueError('too many files for a one-sector root directory')
        trees.append(records + b'\0' * (SECTOR - len(records)))

    path_size = len(_path_table(root_iso, False))  # one entry: the root
    image = bytearray(16 * SECTOR)
    for joliet, root_extent, l_path in ((False, root_iso, 19), (True, root_joliet, 21)):
        root_record = _dir_record(b'\0', root_extent, SECTOR, True)
        image += _volume_descriptor(joliet, label, total, path_size, l_path, l_path + 1, root_record)
    image += (b'\xff' + b'CD001' + b'\x01').ljust(SECTOR, b'\0')
    for root_extent in (root_iso, root_joliet):
        for big_endian in (False, True):
            image += _path_table(root_extent, big_endian).ljust(SECTOR, b'\0')
    for tree in trees:
        image += tree
    for name in names:
        data = files[name]
        image += data + b'\0' * (_sectors(len(data)) * SECTOR - len(data))
    return bytes(image)
