#!/usr/bin/env bash
# ansible-test sanity on the collection, offline-safe, with EMPTY tests/sanity/ignore-*.txt.
#
#   scripts/sanity.sh                    newest (.venv, ansible-core 2.21) and oldest
#                                        (.venv-oldest, ansible-core 2.19, Python 3.11)
#   scripts/sanity.sh --newest [ARGS]    only one of them; ARGS go to ansible-test sanity,
#   scripts/sanity.sh --oldest [ARGS]    e.g. --test validate-modules plugins/modules/x.py
#
# Each ansible-core sanity-tests its controller Python (--python X.Y --venv): ansible-test
# makes its own venvs under ~/.ansible/test/venv and installs its pinned linters from PyPI.
# Runs scripts/setup.sh first unless DOMAINOPS_SKIP_SETUP=1 (scripts/test.sh sets it).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '\033[1m[sanity]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[sanity] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }
# shellcheck source=scripts/lib/ansible-test.sh
. "$repo/scripts/lib/ansible-test.sh"

which=(newest oldest)
case "${1:-}" in
  --newest) which=(newest); shift ;;
  --oldest) which=(oldest); shift ;;
  --all) shift ;;
esac

[ "${DOMAINOPS_SKIP_SETUP:-0}" = 1 ] || "$repo/scripts/setup.sh" >&2 || die "scripts/setup.sh failed"

run_one() {
  local label=$1 venv dest pyver; shift
  case $label in
    newest) venv=${DOMAINOPS_VENV:-$repo/.venv} ;;
    oldest) venv=$(ansible_test_oldest_venv) ;;
  esac
  [ -x "$venv/bin/ansible-test" ] || die "$venv/bin/ansible-test missing (run scripts/setup.sh)"
  ansible_test_offline_pip "$venv/bin/python"
  dest=$(ansible_test_copy "$label")
  pyver=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  say "$label: $("$venv/bin/ansible" --version 2>/dev/null | sed -n 1p), Python $pyver, in $dest"
  # PATH: ansible-test finds pythonX.Y and its own entry points there.
  (cd "$dest" && PATH=$venv/bin:$PATH "$venv/bin/ansible-test" sanity --color --venv \
     --python "$pyver" "$@")
}

# Any non-empty ignore file defeats the point of sanity: refuse it.
status=0
for f in "$repo"/tests/sanity/ignore-*.txt; do
  [ -e "$f" ] || continue
  if [ -s "$f" ]; then say "FAIL: $f must stay empty (fix the code, do not ignore)"; status=1; fi
done

for label in "${which[@]}"; do
  start=$(date +%s)
  if run_one "$label" "$@"; then
    say "$label: passed ($(( $(date +%s) - start )) s)"
  else
    say "$label: FAILED ($(( $(date +%s) - start )) s)"
    status=1
  fi
done
exit $status
