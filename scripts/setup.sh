#!/usr/bin/env bash
# Prepares a Debian 12 / Ubuntu machine (as root) for this collection: system packages,
# a running libvirtd with its QEMU driver (no systemd needed), and the Python venv.
# Safe to re-run: on a ready machine it only checks and takes seconds.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${DOMAINOPS_VENV:-$repo/.venv}
log=/var/log/libvirt/libvirtd.log

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[setup] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts libvirtd)"

# --- system packages -------------------------------------------------------------
# libvirt-daemon-system is left out on purpose: it pulls in systemd and ~250 packages.
# iptables must be there before libvirtd starts, or isolated networks fail later.
# ovmf: the UEFI firmware (and its descriptors) for <os firmware='efi'> guests.
# swtpm, swtpm-tools: the TPM emulator behind <tpm><backend type='emulator'/>.
# dnsmasq-base: DHCP on libvirt networks with <dhcp> (the tests' isolated networks).
packages=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
          qemu-utils libvirt-dev pkg-config iptables busybox-static cpio xz-utils
          ca-certificates shellcheck ovmf swtpm swtpm-tools dnsmasq-base)
# (ansible-test sanity's shellcheck test is skipped silently without the shellcheck program.)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# --- libvirtd without systemd -----------------------------------------------------
# The qemu driver refuses to load without this user, even when qemu runs as root.
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g libvirt-qemu -s /usr/sbin/nologin libvirt-qemu

qemu_conf=/etc/libvirt/qemu.conf
if ! grep -q '^# domainops-libvirt settings' "$qemu_conf" 2>/dev/null; then
  say "configuring $qemu_conf (root, no security driver)"
  cat >>"$qemu_conf" <<'CONF'
# domainops-libvirt settings: containers and CI machines have no AppArmor/SELinux
# and no separate qemu user; virtlogd is started beside libvirtd.
user = "root"
group = "root"
security_driver = "none"
CONF
fi

# swtpm_setup (TPM emulator state) runs as libvirt's swtpm_user, tss by default, and
# needs its local CA writable: files a run as root once left there (a libvirtd started
# before the tss user existed runs it as root) make every later TPM guest fail to start.
if getent passwd tss >/dev/null && [ -d /var/lib/swtpm-localca ]; then
  chown -R tss /var/lib/swtpm-localca
fi

mkdir -p /var/log/libvirt /run/libvirt
pgrep -x virtlogd >/dev/null || virtlogd -d || die "virtlogd did not start"
if ! virsh -c qemu:///system uri >/dev/null 2>&1; then
  pgrep -x libvirtd >/dev/null || { say "starting libvirtd"; libvirtd -d || die "libvirtd -d failed"; }
  # libvirtd -d returns before (and even when) its qemu driver fails: poll it.
  for _ in $(seq 1 60); do
    virsh -c qemu:///system uri >/dev/null 2>&1 && break
    sleep 1
  done
  if ! virsh -c qemu:///system uri >/dev/null 2>&1; then
    tail -n 30 "$log" 2>/dev/null >&2 || true
    die "libvirtd does not answer on qemu:///system after 60 s (log tail above: $log)"
  fi
fi
say "libvirtd answers: $(virsh -c qemu:///system version --daemon | grep -i 'running hypervisor' || true)"

# --- Python venv ------------------------------------------------------------------
# The newest Python available: ansible-core >= 2.20 needs Python >= 3.12.
pick_python() {
  if command -v pyenv >/dev/null 2>&1; then
    for v in 3.13 3.12; do
      p=$(pyenv root)/versions/$(pyenv versions --bare | grep "^$v\." | sort -V | tail -n1)/bin/python3
      [ -x "$p" ] && { echo "$p"; return; }
    done
  fi
  for c in python3.13 python3.12 python3; do command -v "$c" >/dev/null && { command -v "$c"; return; }; done
}

req=$repo/requirements-dev.txt
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  py=$(pick_python)
  say "creating venv $venv with $($py --version)"
  "$py" -m venv "$venv" || die "python venv failed (Debian: apt-get install python3-venv)"
  "$venv/bin/pip" install -q --upgrade pip >/dev/null
  "$venv/bin/pip" install -q -r "$req" || die "pip install -r $req failed"
  echo "$want" >"$stamp"
fi
say "venv ready: $("$venv/bin/ansible" --version | sed -n 1p)"

# pytest and ansible find the collection as ansible_collections.domainops.libvirt here.
link=$repo/.build/collections/ansible_collections/domainops/libvirt
mkdir -p "$(dirname "$link")"
[ "$(readlink "$link" 2>/dev/null)" = "$repo" ] || ln -sfn "$repo" "$link"
