# `pytest` from the repository root must collect every test: pytest imports test files
# by basename (no packages here), so two files with one basename break collection, and
# a directory of tests outside `testpaths` is silently never run.
import configparser
import os
from collections import defaultdict

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTS = os.path.join(REPO, 'tests')
# Not pytest: ansible-test's targets, and ansible-test's own output.
OTHERS = (os.path.join(TESTS, 'integration'), os.path.join(TESTS, 'output'))


def python_test_files():
    found = []
    for directory, dirs, files in os.walk(TESTS):
        dirs[:] = [d for d in dirs if not d.startswith('.') and d != '__pycache__'
                   and os.path.join(directory, d) not in OTHERS]
        found.extend(os.path.join(directory, f) for f in files if f.startswith('test_') and f.endswith('.py'))
    return found


def test_every_test_file_has_its_own_basename():
    by_name = defaultdict(list)
    for path in python_test_files():
        by_name[os.path.basename(path)].append(os.path.relpath(path, REPO))
    assert [paths for paths in by_name.values() if len(paths) > 1] == []


def test_every_test_file_is_under_testpaths():
    config = configparser.ConfigParser()
    config.read(os.path.join(REPO, 'pytest.ini'))
    roots = [os.path.join(REPO, p) for p in config.get('pytest', 'testpaths').split()]
    outside = [os.path.relpath(p, REPO) for p in python_test_files()
               if not any(p.startswith(root + os.sep) for root in roots)]
    assert outside == []
