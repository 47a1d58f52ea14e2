#!/usr/bin/env bash
# Builds the "tiny real guest" used by system and integration tests: Debian's kernel
# (downloaded with apt-get download, unpacked with dpkg-deb -x, never installed) plus
# a busybox-static initramfs whose /init loads the few drivers a test needs, runs
# busybox acpid (ACPI power button -> poweroff -f) and prints a READY marker on ttyS0.
# A guest given a virtio NIC asks for a DHCP lease on it (busybox udhcpc); a guest given
# the channel org.qemu.guest_agent.0 runs the QEMU guest agent (Debian's qemu-ga, copied
# in with its shared libraries).
#
# Output, in $DOMAINOPS_GUEST_CACHE (default /var/cache/domainops-libvirt/tiny-guest):
#   vmlinuz  initrd.img  stamp
# Idempotent and cached: when the stamp matches this script, it exits at once.
# Force a rebuild with DOMAINOPS_GUEST_REBUILD=1 (or delete the cache directory).
# Options (environment):
#   DOMAINOPS_GUEST_CACHE        cache directory
#   DOMAINOPS_GUEST_KERNEL_META  kernel meta package to follow [linux-image-amd64]
#   DOMAINOPS_GUEST_KERNEL_PKG   exact kernel package (skips the meta package lookup)
#   DOMAINOPS_GUEST_REBUILD=1    ignore the stamp
# Prints the paths of vmlinuz and initrd.img (one per line) on stdout; progress on stderr.
set -euo pipefail

cache=${DOMAINOPS_GUEST_CACHE:-/var/cache/domainops-libvirt/tiny-guest}
meta=${DOMAINOPS_GUEST_KERNEL_META:-linux-image-amd64}
modules=(button evdev virtio_pci virtio_blk virtio_net virtio_scsi virtio_console ata_piix ahci sd_mod sr_mod isofs pvpanic_mmio)
marker=DOMAINOPS-TINY-GUEST-READY
lease_marker=DOMAINOPS-TINY-GUEST-LEASE
seed_marker=DOMAINOPS-TINY-GUEST-SEED
image_marker=DOMAINOPS-TINY-GUEST-IMAGE
agent_pkg=qemu-guest-agent

say() { printf '[tiny-guest] %s\n' "$*" >&2; }
die() { printf '[tiny-guest] FAILED: %s\n' "$*" >&2; exit 1; }

script_sha=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)

# --- fast path: a ready cache -------------------------------------------------------
stamp_ok() {
  [ -s "$cache/vmlinuz" ] && [ -s "$cache/initrd.img" ] && [ -f "$cache/stamp" ] &&
    grep -qx "script=$script_sha" "$cache/stamp"
}
done_paths() { printf '%s\n%s\n' "$cache/vmlinuz" "$cache/initrd.img"; }

if [ "${DOMAINOPS_GUEST_REBUILD:-0}" != 1 ] && stamp_ok; then
  done_paths
  exit 0
fi

# --- slow path: build, one builder at a time ----------------------------------------
mkdir -p "$cache" 2>/dev/null || die "cannot create cache directory $cache (run as root or set DOMAINOPS_GUEST_CACHE)"
[ -w "$cache" ] || die "cache directory $cache is not writable (run as root or set DOMAINOPS_GUEST_CACHE)"
command -v flock >/dev/null || die "flock not found (Debian: util-linux)"
exec 9>"$cache/.lock"
flock 9 || die "cannot lock $cache/.lock"
# Another process may have built it while we waited for the lock.
if [ "${DOMAINOPS_GUEST_REBUILD:-0}" != 1 ] && stamp_ok; then
  done_paths
  exit 0
fi

started=$(date +%s.%N)
[ "$(id -u)" = 0 ] || say "warning: not root; apt-get update/install and mknod may fail"
for tool in apt-get apt-cache dpkg-deb cpio gzip; do
  command -v "$tool" >/dev/null || die "$tool not found (this builder needs Debian; scripts/setup.sh installs cpio)"
done

# busybox-static (not the dynamic 'busybox' package: the initramfs has no libc)
if ! dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed'; then
  say "installing busybox-static"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends busybox-static >/dev/null ||
      die "apt-get install busybox-static failed"
  }
fi
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox missing although busybox-static is installed"

work=$(mktemp -d "$cache/.build.XXXXXX") || die "mktemp in $cache failed"
trap 'rm -rf "$work"' EXIT

# --- 1. the kernel package ----------------------------------------------------------
lists_updated=0
apt_update() {
  [ "$lists_updated" = 1 ] && return 1
  say "apt-get update (package lists missing or stale)"
  apt-get update -qq >/dev/null || die "apt-get update failed"
  lists_updated=1
}
kernel_pkg_of_meta() {
  apt-cache depends "$meta" 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-/ {print $2; exit}'
}
pkg=${DOMAINOPS_GUEST_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
  pkg=$(kernel_pkg_of_meta || true)
  if [ -z "$pkg" ]; then
    apt_update || true
    pkg=$(kernel_pkg_of_meta || true)
  fi
  [ -n "$pkg" ] || die "cannot find the kernel package behind $meta with apt-cache (Debian only; or set DOMAINOPS_GUEST_KERNEL_PKG)"
fi
download() {  # download PACKAGE DIR: the package's .deb into DIR (apt-get update once if needed)
  local package=$1 dir=$2 files
  say "downloading $package"
  mkdir -p "$dir"
  try() { (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$package" >"$work/dl.log" 2>&1); }
  if ! try; then
    if apt_update; then try || { cat "$work/dl.log" >&2; die "apt-get download $package failed"; }
    else cat "$work/dl.log" >&2; die "apt-get download $package failed"; fi
  fi
  files=("$dir"/*.deb)
  [ -f "${files[0]}" ] || die "apt-get download $package produced no .deb"
}
download "$pkg" "$work/dl"
debs=("$work"/dl/*.deb)
deb=${debs[0]}

say "unpacking $(basename "$deb") ($(du -m "$deb" | cut -f1) MB)"
dpkg-deb -x "$deb" "$work/k" || die "dpkg-deb -x $deb failed"
rm -f "$deb"
vmlinuzes=("$work"/k/boot/vmlinuz-*)
vmlinuz=${vmlinuzes[0]}
[ -f "$vmlinuz" ] || die "no boot/vmlinuz-* in $pkg"
kver=${vmlinuz##*/vmlinuz-}
moddir=$work/k/lib/modules/$kver
[ -d "$moddir" ] || die "no lib/modules/$kver in $pkg"
if ! find "$moddir" -name '*.ko' -print -quit | grep -q .; then
  die "$pkg has no plain .ko modules (compressed modules are not supported by this builder)"
fi

# --- 2. modules and their dependencies, in load order -------------------------------
say "resolving modules for kernel $kver"
"$busybox" depmod -b "$work/k" "$kver" || die "busybox depmod failed"
dep=$moddir/modules.dep
[ -s "$dep" ] || die "depmod produced no $dep"

declare -A deps_of=() seen=()
while IFS= read -r line; do
  path=${line%%:*}
  name=${path##*/}; name=${name%.ko}; name=${name//-/_}
  deps_of[$name]="$path ${line#*:}"
done <"$dep"
builtin_names=" $(sed 's#.*/##; s#\.ko$##; s#-#_#g' "$moddir/modules.builtin" 2>/dev/null | tr '\n' ' ') "

order=()
add_module() {  # add_module NAME: its dependencies first, then itself
  local name=${1//-/_} entry path d dn
  [ -n "${seen[$name]:-}" ] && return 0
  seen[$name]=1
  entry=${deps_of[$name]:-}
  if [ -z "$entry" ]; then
    case "$builtin_names" in *" $name "*) return 0 ;; esac
    die "module $name is neither in modules.dep nor built into kernel $kver"
  fi
  path=${entry%% *}
  for d in ${entry#* }; do
    dn=${d##*/}; dn=${dn%.ko}
    add_module "$dn"
  done
  order+=("$path")
}
for m in "${modules[@]}"; do add_module "$m"; done

# --- 2b. the QEMU guest agent and the shared libraries it needs ----------------------
# Debian's qemu-ga, unpacked like the kernel; its libraries are the build host's own
# (same release; qemu-system-x86 already pulls in glib & co.), found with ldd.
download "$agent_pkg" "$work/dl-agent"
agent_debs=("$work"/dl-agent/*.deb)
dpkg-deb -x "${agent_debs[0]}" "$work/agent" || die "dpkg-deb -x ${agent_debs[0]} failed"
qga=$work/agent/usr/sbin/qemu-ga
[ -x "$qga" ] || die "no usr/sbin/qemu-ga in $agent_pkg"
command -v ldd >/dev/null || die "ldd not found (Debian: libc-bin)"
if ldd "$qga" | grep -q 'not found'; then
  agent_deps=$(dpkg-deb -f "${agent_debs[0]}" Depends | sed 's/([^)]*)//g; s/|[^,]*//g; s/,/ /g')
  say "installing the libraries qemu-ga needs: $agent_deps"
  # shellcheck disable=SC2086  # one word per package
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $agent_deps >/dev/null ||
    die "apt-get install $agent_deps failed"
  ! ldd "$qga" | grep 'not found' >&2 || die "qemu-ga still misses the libraries above"
fi
agent_libs=$(ldd "$qga" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')
[ -n "$agent_libs" ] || die "ldd found no libraries for qemu-ga"

# --- 3. the initramfs tree ----------------------------------------------------------
root=$work/initramfs
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc/acpi/PWRF,lib/modules}
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
for a in poweroff reboot halt init acpid insmod modprobe mdev udhcpc; do ln -sf ../bin/busybox "$root/sbin/$a"; done
cp "$qga" "$root/sbin/qemu-ga"
for lib in $agent_libs; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
: >"$root/etc/modules.load"
i=0
for path in "${order[@]}"; do
  i=$((i + 1))
  file=$(printf '%02d-%s' "$i" "${path##*/}")
  cp "$moddir/$path" "$root/lib/modules/$file"
  echo "$file" >>"$root/etc/modules.load"
done
# The kernel opens /dev/console for init before /init runs: it must exist in the cpio.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || say "warning: mknod /dev/console failed (not root?); /init reopens it"

cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# ACPI power button (virDomainShutdown, sendKey KEY_POWER): power off at once.
echo "tiny-guest: power button -> poweroff -f" >/dev/console
sync
poweroff -f
EOF
chmod 755 "$root/etc/acpi/PWRF/00000080"

cat >"$root/sbin/shutdown" <<'EOF'
#!/bin/sh
# What qemu-ga runs for guest-shutdown (shutdown -P|-H|-r +0 MESSAGE): do it at once.
echo "tiny-guest: guest agent -> shutdown $1" >/dev/console
sync
case "$1" in -r) reboot -f ;; *) poweroff -f ;; esac
EOF
chmod 755 "$root/sbin/shutdown"

cat >"$root/etc/udhcpc.sh" <<EOF
#!/bin/sh
# busybox udhcpc's events (\$interface, \$ip, \$mask = prefix length): set the address
# and print the lease marker on the serial console (tests time boot-to-lease with it).
tty=/dev/ttyS0; [ -c \$tty ] || tty=/dev/console
case "\$1" in
  deconfig) ip -4 addr flush dev "\$interface"; ip link set "\$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "\$interface"
    ip addr add "\$ip/\$mask" dev "\$interface"
    echo "$lease_marker \$interface \$ip/\$mask uptime=\$(cut -d' ' -f1 /proc/uptime)" >\$tty ;;
esac
EOF
chmod 755 "$root/etc/udhcpc.sh"

cat >"$root/init" <<EOF
#!/bin/sh
# domainops tiny guest init (kernel $kver)
export PATH=/bin:/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec 0</dev/console 1>/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
while read -r m; do
  insmod /lib/modules/\$m 2>/dev/null || echo "tiny-guest: insmod \$m failed"
done </etc/modules.load
# acpid reads /dev/input/event* (the ACPI power button through 'button' + 'evdev').
n=0
while [ ! -e /dev/input/event0 ] && [ \$n -lt 50 ]; do sleep 0.1; n=\$((n + 1)); done
acpid -c /etc/acpi -l /dev/console
ttys=/dev/ttyS0; [ -c \$ttys ] || ttys=/dev/console
# Network: loopback up; every other interface (a virtio NIC) asks for a DHCP lease in
# the background and keeps renewing it (/etc/udhcpc.sh prints $lease_marker).
ip link set lo up
for netdev in /sys/class/net/*; do
  dev=\${netdev##*/}
  [ "\$dev" = lo ] && continue
  ip link set "\$dev" up
  udhcpc -f -i "\$dev" -s /etc/udhcpc.sh >/dev/null 2>&1 &
done
# The QEMU guest agent, when the domain has its channel (org.qemu.guest_agent.0). The
# port's name arrives from the host shortly after the driver binds: wait a little.
for port in /sys/class/virtio-ports/vport*; do
  [ -e "\$port" ] || continue
  n=0
  while [ ! -s "\$port/name" ] && [ \$n -lt 20 ]; do sleep 0.1; n=\$((n + 1)); done
  [ "\$(cat "\$port/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
  mkdir -p /run/qemu-ga
  qemu-ga -m virtio-serial -p "/dev/\${port##*/}" -t /run/qemu-ga -f /run/qemu-ga.pid -d &&
    echo "tiny-guest: guest agent on /dev/\${port##*/}" >\$ttys
done
# Disks with an ISO 9660 file system, as a cloud guest looks at them: a cloud-init NoCloud
# seed (meta-data on it) prints $seed_marker with its instance-id and the user-data's
# hostname; an image with a file 'domainops-image' (a stand-in for a cloud image's root
# file system, seen through an overlay) prints $image_marker with that file's first line.
# In the background, retried for 15 s: disks on AHCI/SCSI appear after READY.
( mkdir -p /mnt/probe; seen=' '; n=0
  while [ \$n -lt 15 ]; do
    for dev in /dev/vd? /dev/sd? /dev/sr?; do
      [ -b "\$dev" ] || continue
      case "\$seen" in *" \$dev "*) continue ;; esac
      mount -t iso9660 -o ro "\$dev" /mnt/probe 2>/dev/null || continue
      seen="\$seen\$dev "
      if [ -f /mnt/probe/meta-data ]; then
        echo "$seed_marker dev=\${dev#/dev/} instance-id=\$(sed -n 's/^instance-id: *//p' /mnt/probe/meta-data | head -n1) hostname=\$(sed -n 's/^hostname: *//p' /mnt/probe/user-data 2>/dev/null | head -n1)" >\$ttys
      fi
      [ -f /mnt/probe/domainops-image ] &&
        echo "$image_marker dev=\${dev#/dev/} \$(head -n1 /mnt/probe/domainops-image)" >\$ttys
      umount /mnt/probe
    done
    sleep 1; n=\$((n + 1))
  done ) &
# Commands typed on the guest's keyboard (virDomainSendKey reaches the first virtual
# console), for tests that need the states a guest causes itself: 'suspend' suspends
# to RAM (pmsuspended, with <pm><suspend-to-mem enabled='yes'/>), 'panic' panics the
# kernel (crashed, with a <panic> device and <on_crash>preserve), 'agent-freeze' stops
# the guest agent without closing its channel (an agent that hangs: libvirt still shows
# it connected).
( while :; do
    read -r cmd </dev/tty1 || sleep 1
    case "\$cmd" in
      suspend) echo "tiny-guest: suspend to RAM" >\$ttys; echo mem >/sys/power/state
               echo "tiny-guest: resumed" >\$ttys ;;
      panic) echo "tiny-guest: panic" >\$ttys; echo c >/proc/sysrq-trigger ;;
      agent-freeze) echo "tiny-guest: guest agent stopped (SIGSTOP)" >\$ttys
                    kill -STOP "\$(cat /run/qemu-ga.pid)" ;;
    esac
  done ) &
echo "$marker kernel=\$(uname -r) uptime=\$(cut -d' ' -f1 /proc/uptime)" >\$ttys
# PID 1 must never exit (panic=-1 would reboot the guest). No shell reads the serial
# file, so just stay alive; acpid does the work.
while :; do sleep 3600; done
EOF
chmod 755 "$root/init"

say "packing initramfs ($(printf '%s ' "${modules[@]}")+ $((${#order[@]} - ${#modules[@]})) dependencies)"
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet | gzip -9 -n) >"$work/initrd.img" ||
  die "cpio/gzip of the initramfs failed"

# --- 4. publish atomically ----------------------------------------------------------
cp "$vmlinuz" "$work/vmlinuz"
rm -f "$cache/stamp"
mv -f "$work/vmlinuz" "$cache/vmlinuz"
mv -f "$work/initrd.img" "$cache/initrd.img"
cat >"$cache/stamp.tmp" <<EOF
script=$script_sha
kernel_package=$pkg
kernel=$kver
marker=$marker
lease_marker=$lease_marker
seed_marker=$seed_marker
image_marker=$image_marker
agent_package=$(basename "${agent_debs[0]}")
modules=$(printf '%s ' "${order[@]##*/}")
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
mv -f "$cache/stamp.tmp" "$cache/stamp"
ended=$(date +%s.%N)
say "ready in $(awk -v a="$started" -v b="$ended" 'BEGIN{printf "%.1f", b-a}') s: $cache/vmlinuz ($(du -k "$cache/vmlinuz" | cut -f1) KiB), $cache/initrd.img ($(du -k "$cache/initrd.img" | cut -f1) KiB)"
done_paths
