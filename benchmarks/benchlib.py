"""Shared helpers of the benchmark scripts (not a test suite, not shipped).

- where things are: the repository, our venv, the comparison venv with community.libvirt
- environments for whole `ansible` / `ansible-playbook` processes
- timing a process, medians
- a lifecycle-event listener in a separate process (`virsh event --loop --timestamp`)
- a Python "interpreter" wrapper that records when a module process starts and returns
"""
import datetime
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(REPO, '.venv')
COMMUNITY_VENV = os.path.join(REPO, '.venv-community')
URI = 'qemu:///system'
RESULTS_DIR = os.path.join(REPO, 'benchmarks', 'results')

# The comparison venv: the same ansible-core as ours, plus the `ansible` community package
# from PyPI, which bundles community.libvirt (galaxy is not reachable from the test bench).
# ansible 14.5.0 requires ansible-core 2.21.x and bundles community.libvirt 2.3.0.
COMMUNITY_REQUIREMENTS = ['ansible-core==2.21.5', 'ansible==14.5.0', 'libvirt-python', 'lxml']


def log(message):
    sys.stderr.write('[bench %s] %s\n' % (time.strftime('%H:%M:%S'), message))
    sys.stderr.flush()


def ensure_community_venv():
    """Create .venv-community (once) with ansible-core + the ansible package (community.libvirt)."""
    stamp = os.path.join(COMMUNITY_VENV, '.bench-requirements')
    want = ' '.join(COMMUNITY_REQUIREMENTS)
    try:
        with open(stamp) as f:
            if f.read().strip() == want:
                return COMMUNITY_VENV
    except OSError:
        pass
    base = getattr(sys, '_base_executable', None) or sys.executable
    log('creating %s with %s (pip install %s; about a minute)' % (COMMUNITY_VENV, base, want))
    subprocess.run([base, '-m', 'venv', COMMUNITY_VENV], check=True)
    subprocess.run([os.path.join(COMMUNITY_VENV, 'bin', 'pip'), 'install', '-q'] + COMMUNITY_REQUIREMENTS,
                   check=True)
    with open(stamp, 'w') as f:
        f.write(want + '\n')
    return COMMUNITY_VENV


def community_libvirt_version():
    import glob
    import json
    for path in glob.glob(os.path.join(COMMUNITY_VENV, 'lib', 'python*', 'site-packages', 'ansible_collections',
                                       'community', 'libvirt', 'MANIFEST.json')):
        with open(path) as f:
            return json.load(f)['collection_info']['version']
    return '?'


def ansible_env(venv, extra=None):
    """Environment for a whole ansible process run from `venv`.

    Ours finds the collection through .build/collections (scripts/setup.sh links it);
    the community venv finds community.libvirt in its site-packages (the path given
    here is empty, so nothing from ~/.ansible leaks in).
    """
    bin_dir = os.path.join(venv, 'bin')
    env = dict(os.environ)
    env.update(
        PATH=bin_dir + os.pathsep + os.environ.get('PATH', ''),
        ANSIBLE_LOCALHOST_WARNING='false',
        ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
        ANSIBLE_PYTHON_INTERPRETER=os.path.join(bin_dir, 'python'),
        ANSIBLE_NOCOLOR='1',
        ANSIBLE_RETRY_FILES_ENABLED='false',
    )
    env.pop('ANSIBLE_CONFIG', None)
    if venv == VENV:
        env['ANSIBLE_COLLECTIONS_PATH'] = os.path.join(REPO, '.build', 'collections')
    else:
        empty = os.path.join(tempfile.gettempdir(), 'bench-no-collections')
        os.makedirs(empty, exist_ok=True)
        env['ANSIBLE_COLLECTIONS_PATH'] = empty
    if extra:
        env.update(extra)
    return env


def run(argv, env, check=True, cwd=None):
    """(seconds, stdout) of one whole process."""
    started = time.monotonic()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          check=False)
    elapsed = time.monotonic() - started
    if check and proc.returncode != 0:
        raise RuntimeError('command failed (rc %d): %s\n%s\n%s'
                           % (proc.returncode, ' '.join(argv), proc.stdout[-3000:], proc.stderr[-3000:]))
    return elapsed, proc.stdout


def median(values):
    return statistics.median(values) if values else float('nan')


def machine_description():
    cpu = '?'
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2.0 ** 30
    try:
        import libvirt
        v = libvirt.getVersion()
        lv = '%d.%d.%d' % (v // 1000000, v // 1000 % 1000, v % 1000)
    except Exception:  # noqa: BLE001
        lv = '?'
    try:
        with open('/etc/os-release') as f:
            osname = re.search(r'PRETTY_NAME="([^"]+)"', f.read()).group(1)
    except (OSError, AttributeError):
        osname = '?'
    qemu = subprocess.run(['qemu-system-x86_64', '--version'], stdout=subprocess.PIPE, text=True,
                          check=False).stdout.split('\n')[0]
    return '%s; %s; %d cores; %.0f GiB RAM; %s; libvirt %s; %s; Python %s' % (
        os.uname().nodename, cpu, os.cpu_count(), mem_gib, osname, lv, qemu, sys.version.split()[0])


_EVENT_RE = re.compile(r"^(\S+ \S+): event 'lifecycle' for domain '([^']+)': (\S+) (.*)$")


class EventListener(object):
    """`virsh event --event lifecycle --loop --timestamp` in a separate process.

    Records (wall-clock time, domain, event, detail) for every lifecycle event, so a
    benchmark can count 'Defined' events (one per defineXML call) and know when a guest
    reached shutoff ('Stopped'), independently of the process being measured.
    """

    def __init__(self, uri=URI):
        self.uri = uri
        self.events = []
        self.restarts = 0  # how often virsh had to be started again (libvirtd restarted)
        self._lock = threading.Lock()
        self._stopping = False
        self.proc = None

    def __enter__(self):
        self._spawn()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        time.sleep(0.5)  # registered before anything is measured
        return self

    def _spawn(self):
        self.proc = subprocess.Popen(['virsh', '-c', self.uri, 'event', '--event', 'lifecycle', '--loop',
                                      '--timestamp'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)

    def _read(self):
        while True:
            for line in self.proc.stdout:
                match = _EVENT_RE.match(line.strip())
                if not match:
                    continue
                when = datetime.datetime.strptime(match.group(1), '%Y-%m-%d %H:%M:%S.%f%z').timestamp()
                with self._lock:
                    self.events.append((when, match.group(2), match.group(3), match.group(4)))
            self.proc.wait()
            if self._stopping:
                return
            # virsh ended: libvirtd went away (another developer restarts it now and then).
            with self._lock:
                self.restarts += 1
            log('event listener lost libvirtd; starting it again')
            time.sleep(1)
            self._spawn()

    def __exit__(self, *exc):
        self._stopping = True
        self.proc.terminate()
        self.proc.wait()
        return False

    def mark(self):
        with self._lock:
            return len(self.events)

    def since(self, mark, prefix='', event=None):
        with self._lock:
            return [e for e in self.events[mark:] if e[1].startswith(prefix) and (event is None or e[2] == event)]

    def wait_for(self, mark, domain, event, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.since(mark, domain, event) if e[1] == domain]
            if found:
                return found[0][0]
            time.sleep(0.05)
        raise RuntimeError('no %s event for %s within %s s' % (event, domain, timeout))


def retry(what, func, attempts=4):
    """func() again when libvirtd restarted under it (the bench is shared); the sample is redone."""
    for attempt in range(attempts):
        try:
            return func()
        except Exception as err:  # noqa: BLE001  libvirtError, a failed ansible run, a lost event
            if attempt == attempts - 1:
                raise
            log('%s disturbed (%s); waiting for libvirtd and redoing it' % (what, str(err).splitlines()[0][:200]))
            wait_for_libvirtd()


def wait_for_libvirtd(uri=URI, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(['virsh', '-c', uri, 'uri'], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, check=False).returncode == 0:
            time.sleep(1)
            return
        time.sleep(1)
    raise RuntimeError('libvirtd does not answer on %s' % uri)


def timed_interpreter(directory, python):
    """A shell script usable as ansible_python_interpreter that appends 'start <t>' and
    'end <t>' (wall clock) to directory/module-times.log around the real interpreter."""
    path = os.path.join(directory, 'timed-python')
    times = os.path.join(directory, 'module-times.log')
    with open(path, 'w') as f:
        f.write('#!/bin/sh\necho "start $(date +%%s.%%N)" >> %s\n%s "$@"\nrc=$?\n'
                'echo "end $(date +%%s.%%N)" >> %s\nexit $rc\n' % (times, python, times))
    os.chmod(path, 0o755)
    return path, times


def read_module_times(times_path):
    """[(start, end)] of every module process recorded by timed_interpreter."""
    starts, pairs = [], []
    try:
        with open(times_path) as f:
            for line in f:
                kind, value = line.split()
                if kind == 'start':
                    starts.append(float(value))
                else:
                    pairs.append((starts.pop(0), float(value)))
    except FileNotFoundError:
        pass
    return pairs


def undefine_prefix(prefix, uri=URI, attempts=20):
    """Destroy and undefine every domain named prefix*, on a fresh connection each attempt:
    another developer may restart libvirtd while a benchmark runs."""
    import libvirt
    for dummy in range(attempts):
        try:
            conn = libvirt.open(uri)
            try:
                for dom in conn.listAllDomains(0):
                    if dom.name().startswith(prefix):
                        if dom.isActive():
                            dom.destroy()
                        dom.undefine()
                return
            finally:
                conn.close()
        except libvirt.libvirtError as err:
            log('cleanup of %s* retried: %s' % (prefix, err))
            time.sleep(1)
    log('WARNING: domains named %s* may be left: undefine them by hand' % prefix)
