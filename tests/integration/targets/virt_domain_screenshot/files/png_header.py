"""Print, as JSON, what a PNG file's own header says: the cross-check of the module.

    {"png": true, "width": 720, "height": 400, "size": 4127}
"""
import json
import os
import struct
import sys

path = sys.argv[1]
with open(path, 'rb') as handle:
    head = handle.read(24)
is_png = head[:8] == b'\x89PNG\r\n\x1a\n' and head[12:16] == b'IHDR'
width, height = struct.unpack('>II', head[16:24]) if is_png else (None, None)
print(json.dumps(dict(png=is_png, width=width, height=height, size=os.path.getsize(path))))
