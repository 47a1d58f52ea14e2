#!/usr/bin/env bash
# Two extra libvirtd daemons on this machine, each acting as a separate hypervisor, for
# the migration tests (virt_domain_migrate):
#
#   scripts/extra-daemons.sh start           start both (idempotent; about 0.2 s each)
#   scripts/extra-daemons.sh stop            destroy their domains, then stop them by PID
#   scripts/extra-daemons.sh status          one line per daemon; exit 1 if one is down
#   scripts/extra-daemons.sh restart NAME    stop daemon NAME (a or b) keeping its guests
#                                            running, start it again (it reconnects)
#   scripts/extra-daemons.sh uri NAME        print its URI
#
# Daemon a answers qemu+tcp://127.0.0.1:16561/system, b qemu+tcp://127.0.0.1:16562/system
# (TCP on the loopback address only, no authentication). Each runs in its own mount
# namespace with private /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/cache/libvirt
# and /var/log/libvirt (bind mounts of $DOMAINOPS_EXTRA_DAEMONS_DIR/NAME/*): a root
# libvirtd has these paths compiled in, and without the namespace the second daemon
# would adopt (and could kill) the first one's domains. Each has its own host UUID
# (libvirt refuses to migrate to a host with the same one), migration and display port
# ranges, and an empty configuration (no networks, no pools). The system daemon
# (qemu:///system) is not touched. Needs root and scripts/setup.sh (packages, the
# libvirt-qemu user). Facts behind each setting: TESTBED.md, "Two libvirt daemons".
set -euo pipefail

base=${DOMAINOPS_EXTRA_DAEMONS_DIR:-/var/lib/domainops-libvirt/extra-daemons}
names=(a b)
declare -A port=([a]=16561 [b]=16562)
declare -A migration_ports=([a]="49400 49419" [b]="49420 49439")
declare -A display_ports=([a]="6000 6019" [b]="6020 6039")
private=(etc run lib cache log)
declare -A mountpoint=([etc]=/etc/libvirt [run]=/run/libvirt [lib]=/var/lib/libvirt
                       [cache]=/var/cache/libvirt [log]=/var/log/libvirt)

say() { printf '\033[1m[extra-daemons]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[extra-daemons] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }

uri_of() { echo "qemu+tcp://127.0.0.1:${port[$1]}/system"; }
answers() { timeout 10 virsh -c "$(uri_of "$1")" uri >/dev/null 2>&1; }
# libvirtd writes its PID file inside its private /run/libvirt, that is here.
pid_of() {
  local pid
  pid=$(cat "$base/$1/run/libvirtd.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = libvirtd ] && echo "$pid"
}

configure() {
  local name=$1 dir=$base/$1 d
  for d in "${private[@]}"; do mkdir -p "$dir/$d"; done
  mkdir -p "$dir/lib/images" "$dir/lib/qemu" "$dir/cache/qemu" "$dir/run/qemu" "$dir/log/qemu"
  # Kept across starts: the daemon is the same "host" after a restart.
  [ -s "$dir/host_uuid" ] || cat /proc/sys/kernel/random/uuid >"$dir/host_uuid"
  local migration display
  read -r -a migration <<<"${migration_ports[$name]}"
  read -r -a display <<<"${display_ports[$name]}"
  cat >"$dir/etc/libvirtd.conf" <<CONF
# written by scripts/extra-daemons.sh (daemon $name)
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "${port[$name]}"
auth_tcp = "none"
host_uuid = "$(cat "$dir/host_uuid")"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
CONF
  cat >"$dir/etc/qemu.conf" <<CONF
# written by scripts/extra-daemons.sh (daemon $name)
user = "root"
group = "root"
security_driver = "none"
stdio_handler = "file"
cgroup_controllers = [ ]
migration_port_min = ${migration[0]}
migration_port_max = ${migration[1]}
remote_display_port_min = ${display[0]}
remote_display_port_max = ${display[1]}
CONF
  # The system daemon's QEMU capabilities: a start in 0.2 s instead of 4 s of probing.
  if [ -d /var/cache/libvirt/qemu/capabilities ] && [ ! -d "$dir/cache/qemu/capabilities" ]; then
    cp -a /var/cache/libvirt/qemu/capabilities "$dir/cache/qemu/" 2>/dev/null || true
  fi
}

start_one() {
  local name=$1 dir=$base/$1 binds='' d pid
  if pid=$(pid_of "$name") && answers "$name"; then
    say "$name already runs (pid $pid, $(uri_of "$name"))"
    return 0
  fi
  [ -z "${pid:-}" ] || stop_one "$name" keep  # running but not answering: start afresh
  configure "$name"
  rm -f "$dir/run/libvirtd.pid"
  for d in "${private[@]}"; do binds+="mount --bind '$dir/$d' '${mountpoint[$d]}' && "; done
  # Foreground libvirtd (no -d) in a new session and mount namespace: unshare, sh and
  # setsid exec one another, so the process that stays is libvirtd itself.
  setsid unshare --mount --propagation private \
    sh -c "${binds}exec libvirtd --listen --pid-file /run/libvirt/libvirtd.pid" \
    </dev/null >>"$dir/log/daemon.out" 2>&1 &
  local started=$SECONDS
  until answers "$name"; do
    if ! kill -0 $! 2>/dev/null || [ $((SECONDS - started)) -ge 60 ]; then
      tail -n 20 "$dir/log/libvirtd.log" "$dir/log/daemon.out" >&2 2>/dev/null || true
      die "daemon $name does not answer on $(uri_of "$name") (logs above, in $dir/log)"
    fi
    sleep 0.1
  done
  say "$name answers on $(uri_of "$name") (pid $(pid_of "$name"))"
}

# stop_one NAME [keep]: without keep, destroy its running domains first (their QEMU
# processes would outlive libvirtd); with keep, leave them for the next start to adopt.
stop_one() {
  local name=$1 keep=${2:-} dir=$base/$1 pid dom qpid f
  if [ -z "$keep" ]; then
    if answers "$name"; then
      while read -r dom; do
        [ -z "$dom" ] || virsh -q -c "$(uri_of "$name")" destroy "$dom" >/dev/null 2>&1 || true
      done < <(virsh -q -c "$(uri_of "$name")" list --name 2>/dev/null)
    fi
    # QEMU processes the daemon could not destroy (it was down): by their PID files.
    for f in "$dir"/run/qemu/*.pid; do
      [ -e "$f" ] || continue
      qpid=$(cat "$f" 2>/dev/null) || continue
      case $(cat "/proc/$qpid/comm" 2>/dev/null) in qemu*) kill -9 "$qpid" 2>/dev/null || true ;; esac
      rm -f "$f"
    done
  fi
  pid=$(pid_of "$name") || { say "$name is not running"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    say "$name (pid $pid) ignored SIGTERM for 30 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$dir/run/libvirtd.pid"
  say "$name stopped (pid $pid)"
}

status_one() {
  local name=$1 pid
  if pid=$(pid_of "$name") && answers "$name"; then
    echo "$name running pid=$pid uri=$(uri_of "$name") domains=$(virsh -q -c "$(uri_of "$name")" list --all --name | grep -c . || true)"
  else
    echo "$name down uri=$(uri_of "$name")"
    return 1
  fi
}

valid_name() {
  if [ -z "${1:-}" ] || [ -z "${port[$1]:-}" ]; then die "unknown daemon '${1:-}' (known: ${names[*]})"; fi
}

[ "$(id -u)" = 0 ] || die "run as root (the daemons need mount namespaces)"
command -v libvirtd >/dev/null || die "libvirtd is not installed: run scripts/setup.sh first"

case ${1:-} in
  start) for n in "${names[@]}"; do start_one "$n"; done ;;
  stop) for n in "${names[@]}"; do stop_one "$n"; done ;;
  status) rc=0; for n in "${names[@]}"; do status_one "$n" || rc=1; done; exit $rc ;;
  restart) valid_name "${2:-}"; stop_one "$2" keep; start_one "$2" ;;
  uri) valid_name "${2:-}"; uri_of "$2" ;;
  *) echo "usage: $0 start | stop | status | restart NAME | uri NAME" >&2; exit 2 ;;
esac
