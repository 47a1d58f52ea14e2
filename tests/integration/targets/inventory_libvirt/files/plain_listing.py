"""Reads `ansible-inventory --list` JSON on stdin and prints it without the legacy
{"__ansible_unsafe": value} wrappers around strings (from_json refuses them)."""
import json
import sys


def plain(value):
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((key, plain(item)) for key, item in value.items())
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


json.dump(plain(json.load(sys.stdin)), sys.stdout)
