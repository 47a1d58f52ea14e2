# iso9660: the NoCloud seed image, read back with a reader written from the ISO 9660 /
# Joliet layout (an independent check; the system tests also read it with xorriso).
import struct

from ansible_collections.domainops.libvirt.plugins.module_utils import iso9660

FILES = {'user-data': b'#cloud-config\nhostname: a\n', 'meta-data': b'instance-id: i-1\n',
         'network-config': b'x' * 5000}


def read_tree(image, descriptor_sector):
    vd = image[descriptor_sector * 2048:(descriptor_sector + 1) * 2048]
    assert vd[1:6] == b'CD001'
    joliet = vd[0] == 2
    root_extent = struct.unpack('<I', vd[156 + 2:156 + 6])[0]
    directory = image[root_extent * 2048:(root_extent + 1) * 2048]
    found, offset = {}, 0
    while directory[offset]:
        length = directory[offset]
        extent, size = struct.unpack('<I', directory[offset + 2:offset + 6])[0], \
            struct.unpack('<I', directory[offset + 10:offset + 14])[0]
        name = directory[offset + 33:offset + 33 + directory[offset + 32]]
        if name not in (b'\0', b'\1'):
            key = name.decode('utf-16-be') if joliet else name.decode('ascii')
            found[key] = image[extent * 2048:extent * 2048 + size]
        offset += length
    label = vd[40:72].decode('utf-16-be' if joliet else 'ascii').strip()
    return label, found


def test_joliet_names_and_contents():
    image = iso9660.build(FILES)
    assert len(image) % 2048 == 0
    label, found = read_tree(image, 17)
    assert label == 'cidata' and found == FILES
    label, found = read_tree(image, 16)
    assert label == 'CIDATA' and sorted(found) == ['META_DAT.;1', 'NETWORK_.;1', 'USER_DAT.;1']
    assert image[18 * 2048] == 255  # the terminator


def test_same_files_same_bytes():
    assert iso9660.build(FILES) == iso9660.build(dict(FILES))
    assert iso9660.build(FILES) != iso9660.build(dict(FILES, **{'meta-data': b'instance-id: i-2\n'}))
