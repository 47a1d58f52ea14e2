#!/usr/bin/env bash
# THE test command: sets the machine up, then runs every suite (or the ones named).
#
#   scripts/test.sh                  setup + tiny guest + every suite
#   scripts/test.sh unit sanity      only these suites (setup still runs first)
#   scripts/test.sh --list           the suite names
#
# Suites: unit (pytest tests/unit, in-process test driver), system (pytest tests/system,
# real libvirtd), conformance (pytest tests/conformance: libvirt's own test XML, which
# cannot ship with the project; run when ../shared or DOMAINOPS_SHARED provides it,
# reported "not run" otherwise, and required when DOMAINOPS_SHARED is set), sanity
# (scripts/sanity.sh: ansible-test on the newest and oldest ansible-core), integration
# (scripts/integration.sh: every target on the newest ansible-core, a subset on the oldest), molecule
# (molecule test --all in extensions/, when it has scenarios, on the collection built
# and installed into a temp collections path the way users install it), build
# (ansible-galaxy collection build + install into a temp dir + ansible-doc of every
# module from the installed copy), docs (generated module pages and CHANGELOG.rst are
# current), demo (the README main-job command, scripts/demo.sh: a real guest end to end).
# Every named suite runs even when an earlier one failed; a summary table with the time
# of each follows, then "N passed, N failed" (suites). Exit 1 when any failed.
# Must work on a brand-new Debian 12 machine as root (CI: .ci/run).
set -uo pipefail  # no -e: a failing suite must not stop the others

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${DOMAINOPS_VENV:-$repo/.venv}
all_suites=(unit system conformance sanity integration molecule build docs demo)
bold=$'\033[1m' red=$'\033[1;31m' green=$'\033[1;32m' yellow=$'\033[1;33m' off=$'\033[0m'
[ -t 1 ] || { bold='' red='' green='' yellow='' off=''; }
say() { printf '%s[test]%s %s\n' "$bold" "$off" "$*"; }

if [ "${1:-}" = --list ]; then printf '%s\n' "${all_suites[@]}"; exit 0; fi
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=("${all_suites[@]}")
for s in "${suites[@]}"; do
  printf '%s\n' "${all_suites[@]}" | grep -qx -- "$s" || { echo "unknown suite '$s' (known: ${all_suites[*]})" >&2; exit 2; }
done

names=() results=() times=() notes=()
record() { names+=("$1"); results+=("$2"); times+=("$3"); notes+=("${4:-}"); }

# pytest exit 5 means "no tests collected": for a suite that must have tests, a failure.
run_pytest() {
  local dir=$1
  if [ ! -d "$repo/$dir" ]; then note="$dir does not exist"; return 1; fi
  (cd "$repo" && "$venv/bin/python" -m pytest -q -p no:cacheprovider "$dir")
  local rc=$?
  case $rc in
    0) return 0 ;;
    5) note="no tests collected in $dir"; return 1 ;;
    *) note="pytest exit $rc"; return 1 ;;
  esac
}

suite_unit() { run_pytest tests/unit; }
suite_system() { run_pytest tests/system; }
# libvirt's test XML lives beside the clone (or where DOMAINOPS_SHARED points, as in CI).
suite_conformance() {
  local corpus=${DOMAINOPS_SHARED:-$(dirname "$repo")/shared}/corpus/libvirt-tests
  if [ -z "${DOMAINOPS_SHARED:-}" ] && [ ! -f "$corpus/INDEX.tsv" ]; then
    note="not run: no libvirt test XML at $corpus (it cannot ship with the project; CI sets DOMAINOPS_SHARED)"
    return 4
  fi
  run_pytest tests/conformance
}
suite_sanity() { "$repo/scripts/sanity.sh"; }
# Integration: every target on the newest ansible-core; on the oldest that meta/runtime.yml
# declares, the targets that need no booted guest plus the inventory plugin. The module
# code is the same on both controllers: what differs is the controller (the inventory
# plugin, action and callback plumbing) and the module_utils it ships in AnsiballZ, which
# any module run exercises; the guest-booting targets would only repeat the newest run
# (about 10 minutes of CI) on the same module code.
oldest_targets=(virt_network_pool_volume virt_domain_autostart virt_domain_screenshot inventory_libvirt)
suite_integration() {
  local on=()
  "$repo/scripts/integration.sh" || on+=(newest)
  "$repo/scripts/integration.sh" --oldest "${oldest_targets[@]}" || on+=(oldest)
  [ ${#on[@]} = 0 ] || { note="failed on the ${on[*]} ansible-core"; return 1; }
}
# The module pages and CHANGELOG.rst are generated: fail when they are stale.
suite_docs() {
  "$venv/bin/python" "$repo/scripts/gen-module-docs.py" --check || { note="docs/modules is stale: run scripts/gen-module-docs.py"; return 1; }
  "$repo/scripts/changelog.sh" --check || { note="CHANGELOG.rst is stale: run scripts/changelog.sh"; return 1; }
}
# The README's main-job command, so that it stays true.
suite_demo() { "$repo/scripts/demo.sh"; }

suite_molecule() {
  local scenarios tmp rc
  scenarios=$(find "$repo/extensions/molecule" -mindepth 2 -maxdepth 2 -name molecule.yml 2>/dev/null | wc -l)
  if [ "$scenarios" = 0 ]; then note="no scenarios in extensions/molecule"; return 3; fi
  # The scenarios use the collection the way users do: installed from the built
  # tarball into a collections path of its own, never the checkout through .build/.
  tmp=$(mktemp -d) || return 1
  install_built_collection "$tmp" molecule || { rm -rf "$tmp"; return 1; }
  # molecule runs ansible-config & co. from PATH.
  (cd "$repo/extensions" && PATH=$venv/bin:$PATH ANSIBLE_COLLECTIONS_PATH=$tmp/collections \
     "$venv/bin/molecule" test --all)
  rc=$?
  rm -rf "$tmp"
  return $rc
}

# Builds the collection from a clean copy of the checkout's files (never the venvs or
# build output lying in the work tree) and installs the tarball alone into
# $1/collections, copying into .build/ansible-test/$2 (one per suite: build runs in the
# background while molecule may run). Sets $tarball; on failure sets $note.
install_built_collection() {
  local tmp=$1 label=$2 src
  # shellcheck source=scripts/lib/ansible-test.sh
  . "$repo/scripts/lib/ansible-test.sh"
  src=$(ansible_test_copy "$label") || { note="copying the checkout failed"; return 1; }
  (cd "$src" && "$venv/bin/ansible-galaxy" collection build --force --output-path "$tmp/dist") || { note="ansible-galaxy collection build failed"; return 1; }
  tarball=$(find "$tmp/dist" -name "domainops-libvirt-*.tar.gz" | head -n1)
  [ -n "$tarball" ] || { note="no tarball built"; return 1; }
  echo "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB, $(tar -tzf "$tarball" | wc -l) entries)"
  # Its own collections path only: otherwise galaxy sees the dev link and installs nothing.
  ANSIBLE_COLLECTIONS_PATH=$tmp/collections "$venv/bin/ansible-galaxy" collection install --offline --force -p "$tmp/collections" "$tarball" || { note="ansible-galaxy collection install failed"; return 1; }
}

# Proves the built tarball: install it alone into a temp dir and load every module's
# documentation from there.
suite_build() {
  local tmp tarball installed modules m doc_path fails=0
  tmp=$(mktemp -d) || return 1
  install_built_collection "$tmp" build || return 1
  installed=$tmp/collections/ansible_collections/domainops/libvirt
  mapfile -t modules < <(find "$installed/plugins/modules" -maxdepth 1 -name '*.py' ! -name '__init__.py' -printf '%f\n' 2>/dev/null | sed 's/\.py$//' | sort)
  [ ${#modules[@]} -gt 0 ] || { note="no modules in the built collection"; return 1; }
  for m in "${modules[@]}"; do
    # Only the installed copy is on the collections path (cwd /: no adjacent collections).
    doc_path=$(cd / && ANSIBLE_COLLECTIONS_PATH=$tmp/collections "$venv/bin/ansible-doc" -j "domainops.libvirt.$m" 2>"$tmp/err" |
      "$venv/bin/python" -c 'import json,sys; d=json.load(sys.stdin); print(next(iter(d.values()))["doc"]["filename"])' 2>/dev/null)
    if [ -n "$doc_path" ] && [ "${doc_path#"$installed"/}" != "$doc_path" ]; then
      echo "ansible-doc domainops.libvirt.$m: ok"
    else
      echo "ansible-doc domainops.libvirt.$m: FAILED"; cat "$tmp/err"; fails=$((fails + 1))
    fi
  done
  # The inventory plugin's documentation, from the installed copy too.
  if (cd / && ANSIBLE_COLLECTIONS_PATH=$tmp/collections "$venv/bin/ansible-doc" -t inventory domainops.libvirt.libvirt >/dev/null 2>"$tmp/err"); then
    echo "ansible-doc -t inventory domainops.libvirt.libvirt: ok"
  else
    echo "ansible-doc -t inventory domainops.libvirt.libvirt: FAILED"; cat "$tmp/err"; fails=$((fails + 1))
  fi
  rm -rf "$tmp"
  [ $fails = 0 ] || { note="$fails plugin(s) without loadable docs"; return 1; }
  note="${#modules[@]} modules and the inventory plugin documented"
}

total_start=$(date +%s)

# --- set-up: nothing can run without it ---------------------------------------------
say "scripts/setup.sh"
start=$(date +%s)
if ! "$repo/scripts/setup.sh"; then
  echo "${red}set-up failed: no suite can run${off}"
  echo "0 passed, ${#suites[@]} failed"
  exit 1
fi
record setup ok $(( $(date +%s) - start ))
export DOMAINOPS_SKIP_SETUP=1  # the suite scripts need not repeat it
# The collection as ansible_collections.domainops.libvirt for pytest.
export ANSIBLE_COLLECTIONS_PATH=$repo/.build/collections

# --- the tiny guest (system and integration tests boot it) ---------------------------
guest_failed=0
if [ -x "$repo/tests/guest/build.sh" ] || [ -f "$repo/tests/guest/build.sh" ]; then
  say "tests/guest/build.sh"
  start=$(date +%s)
  if guest_paths=$(bash "$repo/tests/guest/build.sh"); then
    record guest ok $(( $(date +%s) - start )) "$(printf '%s' "$guest_paths" | tr '\n' ' ')"
  else
    record guest FAIL $(( $(date +%s) - start )) "tests/guest/build.sh failed"
    guest_failed=1
  fi
fi

# --- the suites ----------------------------------------------------------------------
# A suite may crash libvirtd (libvirt 9.0 has segfaulted on bad device XML): restart it
# for the next suite, and say so in that suite's note so the crash is not hidden.
daemon_note() {
  virsh -c qemu:///system uri >/dev/null 2>&1 && return
  say "libvirtd does not answer: restarting it with scripts/setup.sh"
  "$repo/scripts/setup.sh" >/dev/null 2>&1 || true
  printf 'libvirtd was down before this suite (restarted); '
}

# Runs one suite; its outcome goes to $rec_dir/<suite> (result, seconds, note).
rec_dir=$(mktemp -d)
run_suite() {
  local s=$1 down='' start rc elapsed result
  note=''
  [ "${2:-}" = offline ] || down=$(daemon_note)
  start=$(date +%s)
  "suite_$s"
  rc=$?
  elapsed=$(( $(date +%s) - start ))
  case $rc in
    0) result=PASS ;;
    3) result=SKIP ;;
    4) result=NOTRUN ;;
    *) result=FAIL; note=${note:-exit $rc} ;;
  esac
  printf '%s\t%s\t%s\n' "$result" "$elapsed" "$down$note" >"$rec_dir/$s"
  say "suite $s: $result (${elapsed} s)"
}

# The suites that need no libvirtd (unit runs on the in-process test driver) run one
# after the other in the background while the daemon suites run: the machine has two
# cores and the daemon suites mostly wait for guests (this saves about 5 minutes).
# Their output is printed, whole, once they are done. DOMAINOPS_SERIAL=1: one at a time.
offline_suites=(unit sanity build docs)
fg=() bg=()
for s in "${suites[@]}"; do
  if [ "${DOMAINOPS_SERIAL:-0}" != 1 ] && printf '%s\n' "${offline_suites[@]}" | grep -qx -- "$s"; then bg+=("$s"); else fg+=("$s"); fi
done
[ ${#fg[@]} -gt 0 ] || { fg=("${bg[@]}"); bg=(); }  # nothing to overlap with
bg_pid=''
if [ ${#bg[@]} -gt 0 ]; then
  say "in the background, output at the end: ${bg[*]}"
  ( for s in "${bg[@]}"; do say "suite $s"; run_suite "$s" offline; done ) >"$rec_dir/background.log" 2>&1 &
  bg_pid=$!
fi
for s in "${fg[@]}"; do
  say "suite $s"
  run_suite "$s"
done
if [ -n "$bg_pid" ]; then
  wait "$bg_pid"
  say "the background suites' output (${bg[*]}):"
  cat "$rec_dir/background.log"
fi
for s in "${suites[@]}"; do
  if [ -f "$rec_dir/$s" ]; then
    IFS=$'\t' read -r result elapsed snote <"$rec_dir/$s"
    record "$s" "$result" "$elapsed" "$snote"
  else
    record "$s" FAIL 0 "did not report (killed?)"
  fi
done
rm -rf "$rec_dir"

# The migration tests' two extra daemons (scripts/extra-daemons.sh) are not left running.
"$repo/scripts/extra-daemons.sh" stop >/dev/null 2>&1 || true

# --- summary ---------------------------------------------------------------------------
passed=0 failed=$guest_failed skipped=0 not_run=()
echo
printf '%s%-12s %-6s %7s  %s%s\n' "$bold" step result seconds note "$off"
for i in "${!names[@]}"; do
  case ${results[$i]} in
    PASS) color=$green; passed=$((passed + 1)) ;;
    FAIL) color=$red; [ "${names[$i]}" = guest ] || failed=$((failed + 1)) ;;
    SKIP) color=$yellow; skipped=$((skipped + 1)) ;;
    NOTRUN) color=$yellow; not_run+=("${names[$i]}") ;;
    *) color='' ;;
  esac
  printf '%-12s %s%-6s%s %7s  %s\n' "${names[$i]}" "$color" "${results[$i]}" "$off" "${times[$i]}" "${notes[$i]}"
done
printf '%-12s %-6s %7s\n' total '' $(( $(date +%s) - total_start ))
[ $skipped = 0 ] || echo "($skipped suite(s) skipped: nothing to run)"
[ ${#not_run[@]} = 0 ] || echo "not run: ${not_run[*]} (see the note above; not a failure)"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
