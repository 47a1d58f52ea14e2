#!/usr/bin/env bash
# The changelog, with antsibull-changelog (pinned in requirements-dev.txt).
#
#   scripts/changelog.sh            lint the fragments, then write CHANGELOG.rst as the
#                                   release notes of the next version (galaxy.yml's)
#   scripts/changelog.sh --check    lint, and exit 1 when CHANGELOG.rst differs from
#                                   what the fragments say (the file is stale)
#   scripts/changelog.sh lint       only `antsibull-changelog lint`
#
# Why not just `antsibull-changelog release`: a release consumes the fragments
# (keep_fragments: false) and records the version in changelogs/changelog.yaml, which
# is the release manager's act, once, when tagging. Until then this script renders
# the pending release in a throw-away copy (so nothing under changelogs/ changes) and
# keeps CHANGELOG.rst showing what the next release will say. The release date shown
# is the date of the last commit that touched changelogs/ (stable between runs).
# At release time: `antsibull-changelog release --version X.Y.Z` in the checkout, commit.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${DOMAINOPS_VENV:-$repo/.venv}
export PATH=$venv/bin:$PATH
mode=${1:-write}
case $mode in write|--check|lint) ;; *) echo "usage: $0 [--check|lint]" >&2; exit 2 ;; esac
command -v antsibull-changelog >/dev/null ||
  { echo "antsibull-changelog not found: $venv/bin/pip install -r requirements-dev.txt" >&2; exit 1; }

(cd "$repo" && antsibull-changelog lint)
echo "changelog fragments: lint ok"
[ "$mode" = lint ] && exit 0

version=$(sed -n 's/^version: *//p' "$repo/galaxy.yml" | tr -d "\"'")
date=$(git -C "$repo" log -1 --format=%cs -- changelogs 2>/dev/null) || date=""
[ -n "$date" ] || date=$(date +%F)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# antsibull-changelog lists new modules through ansible-doc: it needs the collection
# at ansible_collections/<namespace>/<name>/, so the copy is made there.
copy=$tmp/ansible_collections/domainops/libvirt
mkdir -p "$copy"
(cd "$repo" && tar -cf - galaxy.yml meta changelogs plugins roles 2>/dev/null) | tar -xf - -C "$copy"
if ! (cd "$copy" && ANSIBLE_COLLECTIONS_PATH=$tmp antsibull-changelog release --version "$version" --date "$date" \
      >"$tmp/log" 2>&1); then
  cat "$tmp/log" >&2
  echo "antsibull-changelog release (in a copy) failed" >&2
  exit 1
fi

if [ "$mode" = --check ]; then
  if cmp -s "$copy/CHANGELOG.rst" "$repo/CHANGELOG.rst"; then
    echo "CHANGELOG.rst is up to date ($version, $date)"
    exit 0
  fi
  diff -u "$repo/CHANGELOG.rst" "$copy/CHANGELOG.rst" || true
  echo "CHANGELOG.rst is out of date: run scripts/changelog.sh and commit the result" >&2
  exit 1
fi
cp "$copy/CHANGELOG.rst" "$repo/CHANGELOG.rst"
echo "wrote CHANGELOG.rst (release notes of $version, $date)"
