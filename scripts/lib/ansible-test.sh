# shellcheck shell=bash
# Sourced by scripts/sanity.sh and scripts/integration.sh: what ansible-test needs here.
#
# 1. ansible-test wants the collection at a REAL path .../ansible_collections/<ns>/<name>/
#    (it resolves symlinks), so we keep a synced copy under .build/ansible-test/.
# 2. ansible-test bootstraps pip in every venv it makes with a script downloaded from
#    ci-files.testing.ansible.com, which these machines cannot reach. It uses
#    ~/.ansible/test/cache/get_pip_<ver>.py when that exists, so we put a small shim
#    there that installs the pip wheel fetched from PyPI (which IS reachable).
# Expects: $repo (the checkout), say(), die().
# shellcheck disable=SC2154  # repo is set by the sourcing script

# The copy of the collection that ansible-test runs on; $1 = a label (newest, oldest,
# integration, build): separate copies keep their tests/output venvs apart.
ansible_test_copy() {
  local label=$1
  local dest=$repo/.build/ansible-test/$label/ansible_collections/domainops/libvirt
  local list
  mkdir -p "$dest"
  list=$(mktemp)
  # Tracked files plus untracked-but-not-ignored ones (work in progress is tested too),
  # minus files deleted in the work tree.
  (cd "$repo" && git ls-files -co --exclude-standard) | sort -u |
    while IFS= read -r f; do [ -f "$repo/$f" ] && printf '%s\n' "$f"; done >"$list"
  (cd "$repo" && tar -cf - -T "$list") | (cd "$dest" && tar -xf -) \
    || die "copying the collection to $dest failed"
  # Drop files that no longer exist in the checkout (keep ansible-test's output and .git).
  (cd "$dest" && find . -type f -not -path './.git/*' -not -path './tests/output/*' | sed 's|^\./||' | sort) |
    comm -23 - "$list" | (cd "$dest" && xargs -r -d '\n' rm -f)
  rm -f "$list"
  # ansible-test walks up to the nearest .git: without one here it would find the
  # checkout's .git (where this copy is ignored). Files need not be committed:
  # ansible-test lists untracked, non-ignored files too.
  [ -d "$dest/.git" ] || git -C "$dest" init -q || die "git init in $dest failed"
  printf '%s\n' "$dest"
}

# Serves ansible-test's pip bootstrap from the PyPI wheel. $1 = a venv's python.
# Sanity may run beside integration (scripts/test.sh): one at a time here.
ansible_test_offline_pip() {
  mkdir -p "$HOME/.ansible/test/cache"
  ( flock 9; ansible_test_offline_pip_locked "$@" ) 9>"$HOME/.ansible/test/cache/.domainops.lock" || exit 1
}

ansible_test_offline_pip_locked() {
  local python=$1 ver cache shim wheel
  # The pip version this ansible-test pins (get_venv_packages: default_packages pip='X').
  ver=$("$python" - <<'PY'
import os, re, ansible_test
src = open(os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')).read()
m = re.search(r"default_packages\s*=\s*dict\(\s*pip='([^']+)'", src)
print(m.group(1) if m else '')
PY
) || die "cannot read ansible-test's pip version with $python"
  [ -n "$ver" ] || die "ansible-test's pinned pip version not found (python_requirements.py changed?)"
  cache=$HOME/.ansible/test/cache
  shim=$cache/get_pip_${ver//./_}.py
  wheel=$cache/pip-$ver-py3-none-any.whl
  mkdir -p "$cache"
  if [ ! -s "$wheel" ]; then
    say "downloading pip $ver wheel for ansible-test's bootstrap"
    "$python" -m pip download -q --no-deps --only-binary=:all: -d "$cache" "pip==$ver" \
      || die "pip download pip==$ver failed (PyPI unreachable?)"
  fi
  if ! grep -q 'domainops offline pip shim' "$shim" 2>/dev/null; then
    cat >"$shim" <<PY
# domainops offline pip shim (scripts/lib/ansible-test.sh): stands in for get-pip.py.
# ansible-test runs it as __main__ with pip install arguments plus --no-setuptools /
# --no-wheel (get-pip.py options pip itself does not know); install from the wheel.
import os, sys
wheel = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pip-$ver-py3-none-any.whl')
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
args = [wheel if a == 'pip==$ver' else a for a in args]
sys.path.insert(0, wheel)  # pip runs from its own wheel
from pip._internal.cli.main import main
sys.exit(main(['install'] + args))
PY
  fi
}

# The venv of the oldest ansible-core that meta/runtime.yml declares (requires_ansible),
# newest patch release of that minor; it runs on Python 3.11 (Debian 12's python3,
# pyenv's 3.11). Made once (again when its requirements change); prints its path.
ansible_test_oldest_venv() {
  local req=$repo/tests/sanity/requirements-oldest.txt
  local venv=${DOMAINOPS_OLDEST_VENV:-$repo/.venv-oldest}
  local want py v
  # Called in $( ): the lock ends with that subshell. Sanity and integration may ask at once.
  exec 9>"${TMPDIR:-/tmp}/domainops-venv-oldest.lock"
  flock 9
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ -x "$venv/bin/ansible-test" ] && [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" = "$want" ]; then
    printf '%s\n' "$venv"
    return
  fi
  py=""
  if command -v pyenv >/dev/null 2>&1; then
    v=$(pyenv versions --bare | grep '^3\.11\.' | sort -V | tail -n1 || true)
    [ -n "$v" ] && py=$(pyenv root)/versions/$v/bin/python3
  fi
  [ -x "$py" ] || py=$(command -v python3.11 || true)
  [ -x "$py" ] || { py=$(command -v python3 || true); [ -n "$py" ] && "$py" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || py=""; }
  [ -n "$py" ] || die "no Python 3.11 found for the oldest ansible-core (2.19 needs Python 3.11 here)"
  say "creating $venv with $("$py" --version) and $(grep -v '^#' "$req" | xargs)"
  rm -rf "$venv"
  "$py" -m venv "$venv" >&2 || die "python venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2 || die "pip install -r $req failed"
  echo "$want" >"$venv/.requirements.sha256"
  printf '%s\n' "$venv"
}
