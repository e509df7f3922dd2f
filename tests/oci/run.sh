#!/usr/bin/env bash
# jwrap in a real OCI container: Debian's runc, a read-only rootfs with busybox, the static jwrap
# and a jlinked JDK 17 (java.base), a memory limit, a CPU quota, a cpuset, a PID namespace and a
# private cgroup namespace, the way `docker run --cgroupns=private` sets them up.
#
# Usage (as root): tests/oci/run.sh
#   JWRAP_BIN           the jwrap to test (default target/jwrap-static, built if missing)
#   JWRAP_SUITES_CACHE  download and rootfs cache (default /var/tmp/jwrap-suites)
#   JWRAP_SUITES_KEEP   1: keep this run's temporary directory (logs, consoles) to look at
#
# Prints "PASS name" / "FAIL name (why)" per check and ends with "N passed, M failed"; exits 1 on
# any failure. Prints "SKIPPED: why" and exits 0 when this machine cannot run containers.
# Installs runc, python3 and a JDK 17 with apt-get when they are missing. Every container,
# cgroup and temporary directory a run creates is removed at its end.
#
# The docker-stop checks use a 3 s grace period instead of Docker's 10 s, to save CI time: what
# they show (TERM ignored or obeyed) does not depend on its length.
set -euo pipefail

suite=oci
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=suite-lib.sh
. "$here/suite-lib.sh"

stop_grace=3
jdk17=/usr/lib/jvm/java-17-openjdk-amd64
cache=$suite_cache/oci

suite_start
need runc:runc python3:python3 || skip_suite "cannot install runc and python3 with apt-get"
[[ -x $jdk17/bin/jlink ]] || install_packages openjdk-17-jdk-headless ||
  skip_suite "cannot install openjdk-17-jdk-headless (jlink) with apt-get"
busybox=$(static_busybox) || skip_suite "cannot download busybox-static with apt-get"
if ! jwrap=$(jwrap_binary); then
  fail "jwrap binary" "none to test"
  suite_finish
fi
note "testing $jwrap with $(runc --version | head -n 1)"

# The cached part of the rootfs: busybox, the jlinked JDK 17 and the glibc files it loads.
# Rebuilt when the JDK or busybox changes.
build_rootfs() {
  local stamp rootfs=$cache/rootfs applet elf
  stamp="$(cat "$jdk17/release") $(sha256sum "$busybox") layout=1"
  [[ -e $cache/rootfs.stamp && $(cat "$cache/rootfs.stamp") == "$stamp" ]] && return 0
  note "building the rootfs in $rootfs (once)"
  rm -rf "$rootfs" "$cache/rootfs.stamp"
  mkdir -p "$rootfs"/{bin,usr/bin,proc,sys,dev,tmp,etc,root,opt,out}
  cp "$busybox" "$rootfs/bin/busybox"
  for applet in $("$busybox" --list); do
    [[ -e $rootfs/bin/$applet ]] || ln -s busybox "$rootfs/bin/$applet"
  done
  "$jdk17/bin/jlink" --add-modules java.base --strip-debug --no-header-files --no-man-pages \
    --output "$rootfs/opt/jdk"
  mapfile -t elf < <(find "$rootfs/opt/jdk" -type f \( -name '*.so' -o -path '*/bin/*' \))
  copy_libs "$rootfs" "${elf[@]}"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  echo "$stamp" >"$cache/rootfs.stamp"
}

work=$(mktemp -d /tmp/jwrap-suites-oci.XXXXXX)
containers=()
cleanup() {
  local id
  for id in "${containers[@]}"; do runc delete -f "$id" >/dev/null 2>&1 || true; done
  containers=()
  remove_work "$work"
}
trap cleanup EXIT

t=$(now)
build_rootfs
# The run's rootfs: hard links to the cache (the container's root is read-only) plus jwrap.
rootfs=$work/rootfs
cp -al "$cache/rootfs" "$rootfs"
cp "$jwrap" "$rootfs/usr/bin/jwrap"
copy_libs "$rootfs" "$rootfs/usr/bin/jwrap"
(cd "$work" && runc spec)
mems=$(cat /sys/devices/system/node/online 2>/dev/null || echo 0)
host_cpus=$(cat /sys/devices/system/cpu/online)
last_cpu=${host_cpus##*[-,]}
host_cgroup_version=1
[[ -e /sys/fs/cgroup/cgroup.controllers ]] && host_cgroup_version=2
echo "time: set-up (rootfs, jwrap copied) $(since "$t") s"

# container MEMORY_BYTES CPU_QUOTA_US CPUSET ARG... — a bundle for a new container that runs ARGs
# with those limits (period 100000 us). Sets `id`, `bundle` and `out` (a host directory that the
# container sees read-write at /out).
count=0
container() {
  local memory=$1 quota=$2 cpuset=$3
  shift 3
  count=$((count + 1))
  id=jwrap-suites-oci-$$-$count
  bundle=$work/c$count
  out=$bundle/out
  mkdir -p "$out"
  containers+=("$id")
  python3 - "$work/config.json" "$bundle/config.json" "$rootfs" "$id" "$memory" "$quota" \
    "$cpuset" "$mems" "$out" "$@" <<'PY'
import json, sys
spec, dest, rootfs, cid, memory, quota, cpuset, mems, out = sys.argv[1:10]
config = json.load(open(spec))
process = config["process"]
process.update(terminal=False, args=sys.argv[10:], cwd="/")
process["env"] = ["PATH=/opt/jdk/bin:/usr/bin:/bin", "HOME=/root"]
# Docker's default capabilities.
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
process["capabilities"] = {kind: caps for kind in ("bounding", "effective", "permitted")}
config["root"] = {"path": rootfs, "readonly": True}
config["hostname"] = "jwrap-suite"
config["mounts"] += [
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
    {"destination": "/out", "type": "bind", "source": out, "options": ["rbind", "rw"]},
]
linux = config["linux"]
linux["cgroupsPath"] = "/" + cid
resources = linux.setdefault("resources", {})
resources["memory"] = {"limit": int(memory)}
resources["cpu"] = {"quota": int(quota), "period": 100000, "cpus": cpuset, "mems": mems}
linux["namespaces"] = [{"type": kind} for kind in ("pid", "network", "ipc", "uts", "mount", "cgroup")]
json.dump(config, open(dest, "w"), indent=1)
PY
}

# Run the last `container` in the foreground; its stdout and stderr go to files. Sets `status`.
run_container() {
  status=0
  runc run --bundle "$bundle" "$id" </dev/null >"$bundle/stdout" 2>"$bundle/stderr" || status=$?
}

# Start the last `container` in the background. Sets `runner` (the PID of `runc run`).
start_container() {
  runc run --bundle "$bundle" "$id" </dev/null >"$bundle/stdout" 2>"$bundle/stderr" &
  runner=$!
}

# tree_has PID COMM: PID or one of its descendants is named COMM.
# shellcheck disable=SC2317  # called through wait_until
tree_has() {
  local kid kids=()
  [[ $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]] && return 0
  read -r -a kids < <(cat /proc/"$1"/task/*/children 2>/dev/null) || true
  for kid in "${kids[@]}"; do
    tree_has "$kid" "$2" && return 0
  done
  return 1
}

# wait_until SECONDS COMMAND...: poll every 20 ms until COMMAND succeeds.
wait_until() {
  local deadline
  deadline=$(awk -v n="$(now)" -v s="$1" 'BEGIN { printf "%.2f", n + s }')
  shift
  until "$@"; do
    awk -v n="$(now)" -v d="$deadline" 'BEGIN { exit !(n > d) }' && return 1
    sleep 0.02
  done
}

# shellcheck disable=SC2317  # called through wait_until
runner_done() { ! kill -0 "$runner" 2>/dev/null; }
# The container's init (host PID), once it has started.
# shellcheck disable=SC2317  # called through wait_until
init_pid() { runc state "$id" 2>/dev/null | sed -n 's/^ *"pid": *\([0-9]*\),*$/\1/p'; }
# shellcheck disable=SC2317  # called through wait_until
container_runs() {
  local pid
  pid=$(init_pid)
  [[ -n $pid && $pid != 0 ]] && tree_has "$pid" "$1"
}

# stop_like_docker: what `docker stop -t $stop_grace` does to the running container: TERM, wait
# for the grace period, then KILL. Sets `stop_secs`, `killed` (0 or 1) and `status`.
stop_like_docker() {
  local t0
  t0=$(now)
  runc kill "$id" TERM || true
  killed=0
  if ! wait_until "$stop_grace" runner_done; then
    killed=1
    runc kill "$id" KILL || true
  fi
  status=0
  wait "$runner" || status=$?
  stop_secs=$(since "$t0")
}

# Why a container run went wrong, for FAIL lines: its status and the last lines it printed.
what_happened() {
  echo "status $status; $(tail -n 3 "$bundle/stderr" "$bundle/stdout" 2>/dev/null | grep -v '^$' | tr '\n' ' ')"
}

mib256=268435456
mib200=209715200

# ---- can this machine run a container at all? ----
t=$(now)
container "$mib256" 150000 "$last_cpu" /bin/true
run_container
((status == 0)) || skip_suite "runc cannot start a container here: $(what_happened)"
echo "time: start, run and delete a container of /bin/true: $(since "$t") s"

# ---- detection: the limits the container was given, exactly ----
# Config A: 256 MiB, quota 1.5 CPUs, cpuset = one CPU (the cpuset is the tightest CPU bound).
container "$mib256" 150000 "$last_cpu" jwrap info --json
run_container
if ((status != 0)); then
  fail "info A: jwrap info --json runs as PID 1" "$(what_happened)"
elif wrong=$(suite_py expect "$bundle/stdout" memory.limit_bytes=$mib256 cpu.limit=1.5 \
  cpu.effective=1 "cpu.cpuset=\"$last_cpu\"" cgroup.version=$host_cgroup_version); then
  pass "info A: memory 256 MiB, cpu.limit 1.5, cpuset $last_cpu, effective 1 (cgroup v$host_cgroup_version, private cgroupns)"
else
  fail "info A: limits reported" "$wrong"
fi
# Config B: 200 MiB, quota 0.5 CPU, cpuset = all online CPUs (the quota is the tightest).
container "$mib200" 50000 "$host_cpus" jwrap info --json
run_container
if ((status != 0)); then
  fail "info B: jwrap info --json runs as PID 1" "$(what_happened)"
elif wrong=$(suite_py expect "$bundle/stdout" memory.limit_bytes=$mib200 cpu.limit=0.5 \
  cpu.effective=1 "cpu.cpuset=\"$host_cpus\""); then
  pass "info B: memory 200 MiB, cpu.limit 0.5, cpuset $host_cpus, effective 1"
else
  fail "info B: limits reported" "$wrong"
fi

# ---- the JVM gets jwrap's heap (a JVM with container support turned off is blind) ----
t=$(now)
java_args=(java -XX:-UseContainerSupport -XX:+PrintFlagsFinal -version)
container "$mib256" 150000 "$last_cpu" "${java_args[@]}"
run_container
blind_heap=$(suite_py flag "$bundle/stdout" MaxHeapSize)
if [[ -n $blind_heap ]] && ((blind_heap > mib256)); then
  pass "without jwrap, java -XX:-UseContainerSupport sizes its heap from the host ($(mib "$blind_heap") > the 256 MiB limit)"
else
  fail "without jwrap, java -XX:-UseContainerSupport sizes its heap from the host" \
    "MaxHeapSize '${blind_heap}', $(what_happened)"
fi
# In one container: `jwrap info` shows the heap it plans, then jwrap, now PID 1, runs the JVM.
container "$mib256" 150000 "$last_cpu" \
  sh -c 'jwrap info --json -- "$@" >/out/info.json; exec jwrap -- "$@"' sh "${java_args[@]}"
run_container
planned_heap=$(suite_py heap "$out/info.json" 2>/dev/null || true)
note "jwrap info: jvm_flags $(suite_py get "$out/info.json" jvm_flags 2>/dev/null || echo '(no JSON)')"
run_heap=$(suite_py flag "$bundle/stdout" MaxHeapSize)
if ((status != 0)); then
  fail "jwrap -- java -XX:-UseContainerSupport gets the heap of jwrap info" "$(what_happened)"
else
  heap_matches "jwrap -- java -XX:-UseContainerSupport gets the heap of jwrap info" "$run_heap" "$planned_heap"
fi
if [[ -n $run_heap ]] && ((run_heap * 10 <= mib256 * 9)); then
  pass "under jwrap, the blind JVM's heap $(mib "$run_heap") fits well under the 256 MiB limit (<= 90 %)"
else
  fail "under jwrap, the blind JVM's heap fits well under the 256 MiB limit" "MaxHeapSize '${run_heap}'"
fi
echo "time: two java containers $(since "$t") s"

# ---- docker stop: TERM, grace, KILL ----
container "$mib256" 150000 "$last_cpu" jwrap -- sh -c 'sleep 1000'
start_container
if ! wait_until 10 container_runs sleep; then
  fail "docker stop: jwrap -- sh -c 'sleep 1000' ends on TERM in < 1 s" "sleep never started: $(what_happened)"
  runc kill "$id" KILL 2>/dev/null || true
  wait "$runner" || true
else
  stop_like_docker
  if ((killed == 0 && status == 143)) && awk -v s="$stop_secs" 'BEGIN { exit !(s < 1) }'; then
    pass "docker stop: jwrap -- sh -c 'sleep 1000' ends on TERM in ${stop_secs} s (< 1 s, exit 143)"
  else
    fail "docker stop: jwrap -- sh -c 'sleep 1000' ends on TERM in < 1 s" \
      "took ${stop_secs} s, needed KILL: $killed, $(what_happened)"
  fi
fi
container "$mib256" 150000 "$last_cpu" sh -c 'sleep 1000'
start_container
if ! wait_until 10 container_runs sleep; then
  fail "docker stop: plain sh -c 'sleep 1000' as PID 1 ignores TERM" "sleep never started: $(what_happened)"
  runc kill "$id" KILL 2>/dev/null || true
  wait "$runner" || true
else
  stop_like_docker
  if ((killed == 1 && status == 137)); then
    pass "docker stop: plain sh -c 'sleep 1000' as PID 1 ignores TERM, KILLed after the ${stop_grace} s grace (stop took ${stop_secs} s, exit 137)"
  else
    fail "docker stop: plain sh -c 'sleep 1000' as PID 1 ignores TERM" \
      "took ${stop_secs} s, needed KILL: $killed, $(what_happened)"
  fi
fi

# ---- drain: a grandchild's TERM handler finishes before the container ends ----
# The grandchild stands for a worker that needs half a second to flush on TERM, and ignores
# further TERMs while it does; it writes /out/cleanup when done.
worker() {
  cat >"$out/worker.sh" <<'SH'
trap 'trap "" TERM; sleep 0.5; echo flushed > /out/cleanup; exit 0' TERM
touch /out/ready
while :; do sleep 0.1; done
SH
}
cleanup_of() { cat "$out/cleanup" 2>/dev/null || echo missing; }

# drain_case NAME EXPECTED_CLEANUP JWRAP_OPTION... — docker stop of jwrap running a shell that
# started the worker and waits: TERM reaches both; the shell dies at once (exit 143).
drain_case() {
  local name=$1 want_cleanup=$2 cleanup
  shift 2
  container "$mib256" 150000 "$last_cpu" jwrap "$@" -- sh -c 'sh /out/worker.sh & sleep 1000'
  worker
  start_container
  if ! wait_until 10 test -e "$out/ready"; then
    fail "$name" "the worker never started: $(what_happened)"
    runc kill "$id" KILL 2>/dev/null || true
    wait "$runner" || true
    return
  fi
  stop_like_docker
  cleanup=$(cleanup_of)
  if [[ $cleanup == "$want_cleanup" ]] && ((status == 143 && killed == 0)); then
    pass "$name (cleanup: $cleanup; stop took ${stop_secs} s, exit $status)"
  else
    fail "$name" "cleanup: $cleanup, want $want_cleanup; stop took ${stop_secs} s, KILL needed: $killed; $(what_happened)"
  fi
}
drain_case "drain on docker stop: the grandchild's TERM cleanup (0.5 s) finishes before the container ends" \
  flushed
drain_case "control: with --drain-timeout 0 the container ends before that cleanup" \
  missing --drain-timeout 0

# The command ends on its own while the worker still runs.
container "$mib256" 150000 "$last_cpu" jwrap -- \
  sh -c 'sh /out/worker.sh & until [ -e /out/ready ]; do sleep 0.05; done; exit 0'
worker
t=$(now)
run_container
secs=$(since "$t")
if [[ $(cleanup_of) == flushed ]] && ((status == 0)); then
  pass "drain on exit: the command exits 0, the grandchild gets TERM and its cleanup finishes (container ran ${secs} s)"
else
  fail "drain on exit: the grandchild's cleanup finishes" "cleanup: $(cleanup_of); $(what_happened)"
fi

# ---- nothing left behind ----
cleanup
left=$(runc list -q 2>/dev/null | grep -c "^jwrap-suites-oci-$$-" || true)
cgroups_left=$(find /sys/fs/cgroup -maxdepth 3 -type d -name "jwrap-suites-oci-$$-*" 2>/dev/null | wc -l)
if ((left == 0 && cgroups_left == 0)) && work_removed "$work"; then
  pass "clean-up: no container, cgroup or temporary directory left"
else
  fail "clean-up" "$left containers, $cgroups_left cgroups left; $work exists: $([[ -e $work ]] && echo yes || echo no)"
fi
suite_finish
