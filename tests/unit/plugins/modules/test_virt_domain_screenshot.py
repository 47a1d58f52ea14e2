# virt_domain_screenshot in-process on test:///default (real libvirt code, no daemon;
# its screenshot is a PNG), plus the pure-Python PPM -> PNG conversion.
import hashlib
import os
import stat
import struct
import zlib

import pytest

from ansible_collections.domainops.libvirt.plugins.module_utils import screenshot
from ansible_collections.domainops.libvirt.plugins.modules import virt_domain_screenshot


@pytest.fixture
def running(define_domain, unique_name, minimal_domain_xml):
    dom = define_domain(minimal_domain_xml(unique_name))
    dom.create()
    return dom


def png_ihdr(data):
    assert data[:8] == b'\x89PNG\r\n\x1a\n'
    length, kind = struct.unpack('>I4s', data[8:16])
    assert (length, kind) == (13, b'IHDR')
    return struct.unpack('>II', data[16:24])


def decode_rgb_png(data):
    """Pixels of an 8-bit RGB PNG whose rows use filter 0 (what encode_png writes)."""
    width, height = png_ihdr(data)
    pos, idat = 8, b''
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        payload = data[pos + 8:pos + 8 + length]
        assert struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + payload)
        if kind == b'IDAT':
            idat += payload
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * 3 + 1
    assert len(raw) == stride * height and all(raw[r * stride] == 0 for r in range(height))
    return b''.join(raw[r * stride + 1:(r + 1) * stride] for r in range(height))


def leftovers(directory):
    return sorted(n for n in os.listdir(str(directory)) if n.endswith('.tmp'))


def test_check_real_check_real(run_module, running, tmp_path):
    dest = tmp_path / 'shot.png'
    args = dict(name=running.name(), dest=str(dest))
    first = run_module(virt_domain_screenshot, args, check=True)
    assert first['changed'] is True and first['actions'] == ['write %s' % dest]
    assert not dest.exists()  # check mode writes nothing

    real = run_module(virt_domain_screenshot, args)
    assert real['changed'] is True and real['actions'] == first['actions']
    data = dest.read_bytes()
    assert png_ihdr(data) == (real['width'], real['height'])
    assert real['mime_type'] == 'image/png'
    assert real['size'] == len(data) and real['sha256'] == hashlib.sha256(data).hexdigest()
    assert real['path'] == str(dest) and real['domain']['name'] == running.name()
    # check mode and the real run saw the same picture
    assert (first['sha256'], first['width'], first['height']) == (real['sha256'], real['width'], real['height'])

    for check in (True, False):
        again = run_module(virt_domain_screenshot, args, check=check)
        assert again['changed'] is False and again['actions'] == []
    assert leftovers(tmp_path) == []


def test_replaces_different_content_and_applies_mode(run_module, running, tmp_path):
    dest = tmp_path / 'shot.png'
    dest.write_bytes(b'old content')
    os.chmod(str(dest), 0o644)
    args = dict(name=running.name(), dest=str(dest))
    assert run_module(virt_domain_screenshot, args, check=True)['changed'] is True
    assert dest.read_bytes() == b'old content'
    result = run_module(virt_domain_screenshot, args)
    assert result['changed'] is True and dest.read_bytes() != b'old content'
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644  # an existing file keeps its mode

    # Same picture, new mode: only the attributes change.
    result = run_module(virt_domain_screenshot, dict(args, mode='0600'))
    assert result['changed'] is True and result['actions'] == []
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert run_module(virt_domain_screenshot, dict(args, mode='0600'))['changed'] is False


def test_paused_domain_has_a_screen(run_module, running, tmp_path):
    running.suspend()
    result = run_module(virt_domain_screenshot, dict(name=running.name(), dest=str(tmp_path / 'p.png')))
    assert result['changed'] is True and result['domain']['state'] == 'paused'


def test_not_running_is_an_error(run_module, define_domain, unique_name, minimal_domain_xml, tmp_path):
    define_domain(minimal_domain_xml(unique_name))
    dest = tmp_path / 'shot.png'
    result = run_module(virt_domain_screenshot, dict(name=unique_name, dest=str(dest)))
    assert result['failed'] is True
    assert 'is not running (state shutoff)' in result['msg'] and 'nothing was written' in result['msg']
    assert result['actions'] == [] and os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize('where, message', [
    ('missing/shot.png', 'does not exist'),
    ('afile/shot.png', 'is not a directory'),
    ('adir', 'is a directory'),
    ('adir/', 'is a directory'),
])
def test_bad_destination(run_module, running, tmp_path, where, message):
    (tmp_path / 'afile').write_bytes(b'x')
    (tmp_path / 'adir').mkdir()
    result = run_module(virt_domain_screenshot, dict(name=running.name(), dest=str(tmp_path / where)))
    assert result['failed'] is True
    assert message in result['msg'] and 'nothing was written' in result['msg']
    assert result['actions'] == []
    assert sorted(os.listdir(str(tmp_path))) == ['adir', 'afile'] and os.listdir(str(tmp_path / 'adir')) == []


def test_unwritable_directory(run_module, running, tmp_path):
    if os.geteuid() == 0:
        # Root writes through mode bits, but nobody can create a file in /proc.
        dest, expected = '/proc/domainops-shot.png', 'cannot create a file in /proc'
    else:
        locked = tmp_path / 'locked'
        locked.mkdir()
        os.chmod(str(locked), 0o555)
        dest, expected = str(locked / 's.png'), 'is not writable'
    result = run_module(virt_domain_screenshot, dict(name=running.name(), dest=dest))
    assert result['failed'] is True and expected in result['msg'] and 'nothing was written' in result['msg']
    assert result['actions'] == []
    assert not os.path.exists(dest)


def test_failed_write_leaves_nothing_behind(run_module, running, tmp_path, monkeypatch):
    dest = tmp_path / 'shot.png'
    dest.write_bytes(b'old content')

    def refuse(self, src, dst, unsafe_writes=False, keep_dest_attrs=True):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(virt_domain_screenshot.LibvirtModule, 'atomic_move', refuse)
    result = run_module(virt_domain_screenshot, dict(name=running.name(), dest=str(dest)))
    assert result['failed'] is True
    assert 'No space left on device' in result['msg'] and 'left unchanged' in result['msg']
    assert result['actions'] == []
    assert dest.read_bytes() == b'old content' and os.listdir(str(tmp_path)) == ['shot.png']


def test_ppm_from_the_hypervisor_is_written_as_png(run_module, running, tmp_path, monkeypatch):
    pixels = bytes(range(18))
    ppm = b'P6\n3 2\n255\n' + pixels
    monkeypatch.setattr(screenshot, 'grab', lambda *_args: ('image/x-portable-pixmap', ppm))
    dest = tmp_path / 'shot.png'
    result = run_module(virt_domain_screenshot, dict(name=running.name(), dest=str(dest)))
    assert result['mime_type'] == 'image/x-portable-pixmap'
    assert (result['width'], result['height']) == (3, 2)
    assert decode_rgb_png(dest.read_bytes()) == pixels


def test_unknown_format_is_an_error(run_module, running, tmp_path, monkeypatch):
    monkeypatch.setattr(screenshot, 'grab', lambda *_args: ('image/bmp', b'BM....'))
    result = run_module(virt_domain_screenshot, dict(name=running.name(), dest=str(tmp_path / 's.png')))
    assert result['failed'] is True and 'image/bmp' in result['msg'] and os.listdir(str(tmp_path)) == []


# --- the conversion itself ---------------------------------------------------------

def test_ppm_to_png_8bit_with_comments():
    pixels = bytes((x * 7 + y * 13) % 256 for y in range(5) for x in range(4 * 3))
    ppm = b'P6\n# made by a test\n4 # width\n5\n255\n' + pixels
    png, width, height = screenshot.ppm_to_png(ppm)
    assert (width, height) == (4, 5) and png_ihdr(png) == (4, 5)
    assert decode_rgb_png(png) == pixels
    assert screenshot.ppm_to_png(ppm)[0] == png  # deterministic: same pixels, same bytes


def test_ppm_to_png_scales_other_maxvals():
    png, _w, _h = screenshot.ppm_to_png(b'P6 2 1 15\n' + bytes([0, 15, 7, 15, 0, 8]))
    assert decode_rgb_png(png) == bytes([0, 255, 119, 255, 0, 136])
    png, _w, _h = screenshot.ppm_to_png(b'P6 1 1 65535\n' + struct.pack('>3H', 0, 65535, 32896))
    assert decode_rgb_png(png) == bytes([0, 255, 128])


@pytest.mark.parametrize('data', [
    b'P3\n1 1\n255\n0 0 0\n',      # ASCII PPM: not what hypervisors send
    b'P6\n2 2\n255\n' + b'\0' * 5,  # truncated pixels
    b'P6\nx 2\n255\n',              # malformed header
    b'P6\n2 2\n0\n',                # maxval 0
])
def test_bad_ppm_is_refused(data):
    with pytest.raises(ValueError):
        screenshot.ppm_to_png(data)


def test_to_png_checks_what_it_passes_through():
    png = screenshot.encode_png(2, 1, b'\x01\x02\x03\x04\x05\x06')
    assert screenshot.to_png('image/png', png) == (png, 2, 1)
    with pytest.raises(Exception) as err:
        screenshot.to_png('image/png', b'GIF89a....')
    assert 'not a valid image' in str(err.value)
