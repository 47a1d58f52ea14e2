#!/usr/bin/env bash
# THE main job: sets the machine up (scripts/setup.sh), builds the tiny guest's kernel
# and initramfs (cached), and runs the demo playbook that manages a real QEMU guest
# end to end with this collection. Run as root on Debian 12.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${DOMAINOPS_VENV:-$repo/.venv}
"$repo/scripts/setup.sh"
"$repo/tests/guest/build.sh"
guest_cache=${DOMAINOPS_GUEST_CACHE:-/var/cache/domainops-libvirt/tiny-guest}

export ANSIBLE_COLLECTIONS_PATH=$repo/.build/collections
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
exec "$venv/bin/ansible-playbook" "$repo/demo/demo.yml" -e ansible_python_interpreter="$venv/bin/python" \
  -e demo_kernel="$guest_cache/vmlinuz" -e demo_initrd="$guest_cache/initrd.img" "$@"
