#!/usr/bin/env bash
# Runs the integration targets (tests/integration/targets/<name>/) against the real
# libvirtd (qemu:///system) with `ansible-test integration --local` from .venv.
#
#   scripts/integration.sh                      every target (setup_*/prepare_* ones run
#                                               only as dependencies)
#   scripts/integration.sh virt_domain_state    only these targets (ansible-test target
#   scripts/integration.sh -v --start-at X      patterns); options go to ansible-test
#   scripts/integration.sh --oldest [...]       the same with the oldest ansible-core that
#                                               meta/runtime.yml declares (.venv-oldest) as
#                                               the controller; modules run with .venv's
#                                               Python (it has libvirt-python and lxml)
#
# Prints PASS/FAIL per target and a closing line "N passed, N failed"; exit 1 when any
# target failed or nothing ran. Runs scripts/setup.sh first unless DOMAINOPS_SKIP_SETUP=1.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${DOMAINOPS_VENV:-$repo/.venv}
label=integration
say() { printf '\033[1m[integration]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[integration] FAILED:\033[0m %s\n' "$*" >&2; echo "0 passed, 1 failed"; exit 1; }
# shellcheck source=scripts/lib/ansible-test.sh
. "$repo/scripts/lib/ansible-test.sh"

[ "${DOMAINOPS_SKIP_SETUP:-0}" = 1 ] || "$repo/scripts/setup.sh" >&2 || die "scripts/setup.sh failed"
module_python=$venv/bin/python
if [ "${1:-}" = --oldest ]; then
  shift
  venv=$(ansible_test_oldest_venv)
  label=integration-oldest
fi
[ -x "$venv/bin/ansible-test" ] || die "$venv/bin/ansible-test missing (run scripts/setup.sh)"
say "controller: $("$venv/bin/ansible" --version 2>/dev/null | sed -n 1p); modules run with $module_python"
[ -d "$repo/tests/integration/targets" ] || die "no tests/integration/targets directory"

# --local needs no pip bootstrap, but keep the shim ready in case ansible-test wants one.
ansible_test_offline_pip "$venv/bin/python"
dest=$(ansible_test_copy "$label")
# ansible-test runs each target from a temp copy of tests/integration only, so targets
# cannot find the checkout (tests/guest/build.sh, ...) by relative path: hand it to them
# as extra vars through the copy's integration_config.yml (the checkout's own file, if
# any, plus these lines).
{
  [ -f "$repo/tests/integration/integration_config.yml" ] && cat "$repo/tests/integration/integration_config.yml"
  echo "# added by scripts/integration.sh"
  printf 'domainops_repo_root: "%s"\n' "$repo"
  printf 'ansible_python_interpreter: "%s"\n' "$module_python"
  [ -z "${DOMAINOPS_SHARED:-}" ] || printf 'domainops_shared: "%s"\n' "$DOMAINOPS_SHARED"
  [ -z "${DOMAINOPS_GUEST_CACHE:-}" ] || printf 'domainops_guest_cache: "%s"\n' "$DOMAINOPS_GUEST_CACHE"
} >"$dest/tests/integration/integration_config.yml"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The targets need root and change the host's libvirt: that is what they are for, so
# allow root/destructive/unsupported/unstable targets (never "disabled" ones).
# --continue-on-error: run every target and report all failures at the end.
set +e
(cd "$dest" && PATH=$venv/bin:$PATH "$venv/bin/ansible-test" integration --local --color \
   --allow-root --allow-destructive --allow-unsupported --allow-unstable \
   --continue-on-error "$@") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# ansible-test prints "Running <target> integration test role" per target and, on
# failures, "FATAL: The N integration test(s) listed below ..." followed by the names.
plain=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
mapfile -t ran < <(printf '%s\n' "$plain" | sed -n 's/^Running \(.*\) integration test role$/\1/p' | grep -v '^\(setup\|prepare\)_' || true)
mapfile -t failed < <(printf '%s\n' "$plain" | sed -n '/^FATAL: The [0-9]* integration test(s) listed below/,$p' | sed 1d | grep -E '^[A-Za-z0-9_.-]+$' || true)

echo
passed=0
for t in "${ran[@]}"; do
  if printf '%s\n' "${failed[@]}" | grep -qx -- "$t"; then echo "FAIL  $t"; else echo "PASS  $t"; passed=$((passed + 1)); fi
done
nfailed=$(( ${#ran[@]} - passed ))
if [ "$rc" != 0 ] && [ "$nfailed" = 0 ]; then
  # ansible-test failed outside any target (bad option, unknown target, broken setup_*).
  say "ansible-test exited $rc without a failed target: see its output above"
  nfailed=1
fi
if [ ${#ran[@]} = 0 ] && [ "$nfailed" = 0 ]; then
  say "no integration target ran (filter matched nothing?)"
  nfailed=1
fi
echo "$passed passed, $nfailed failed"
[ "$nfailed" = 0 ]
