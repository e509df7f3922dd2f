#!/usr/bin/env bash
# bench-oom-cause.sh - what a container looks like just before the kernel OOM-kills a JVM, per
# region that filled it: tests/java-programs/OomCause.java run with plain `java` (no jwrap) in a
# fresh cgroup v1 memory group of 256 MiB, swap closed, sampled every 0.2 s from outside.
#
# Usage: scripts/bench-oom-cause.sh [RUNS]     (RUNS per mode, default 5; needs root, cgroup v1,
#        java, javac, python3; about 70 s per round of the seven modes)
#
# Prints a Markdown table per mode: kills out of runs, seconds to the kill, and the last sample
# in which the JVM was still alive: the group's memory.usage_in_bytes and memory.stat
# (total_rss, total_cache, total_shmem), each process's /proc/PID/status (RssAnon, RssFile,
# Threads) and the JVM's hsperfdata (heap generation capacities, metaspace, live threads,
# compiled code), all in MiB unless said. The test suite's tests/evidence.rs uses the same modes
# and flags under jwrap.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
[[ $(id -u) == 0 ]] || { echo "bench-oom-cause: needs root" >&2; exit 1; }
classes=$(mktemp -d)
data=$(mktemp -d /var/tmp/bench-oom-cause.XXXXXX)
trap 'rm -rf "$classes" "$data"' EXIT
javac -d "$classes" tests/java-programs/OomCause.java

python3 - "$runs" "$classes" "$data" <<'EOF'
import os, struct, subprocess, sys, time

runs, classes, data = int(sys.argv[1]), sys.argv[2], sys.argv[3]
MODES = [
    ("heap", "-Xmx1g"),
    ("threads", "-Xmx64m"),
    ("metaspace", "-Xmx64m -XX:MaxMetaspaceSize=1g"),
    ("direct", "-Xmx64m -XX:MaxDirectMemorySize=1g"),
    ("native", "-Xmx64m"),
    ("pagecache", "-Xmx1g"),
    ("other", "-Xms150m -Xmx150m -XX:+AlwaysPreTouch"),
]
LIMIT = 256 << 20
MIB = 1 << 20
own = next(line.split(":")[2].strip() for line in open("/proc/self/cgroup")
           if line.split(":")[1] == "memory")

def write(path, value):
    with open(path, "w") as f:
        f.write(value)

def hsperf(pid):
    """The long counters of the JVM's hsperfdata file (magic 0xcafec0c0)."""
    try:
        b = open(f"/tmp/hsperfdata_root/{pid}", "rb").read()
    except OSError:
        return {}
    if len(b) < 32 or b[:4] not in (b"\xca\xfe\xc0\xc0", b"\xc0\xc0\xfe\xca"):
        return {}
    order = "<" if b[4] == 1 else ">"
    offset, count = struct.unpack(order + "ii", b[24:32])
    values = {}
    for _ in range(count):
        length, name_at, _vlen, kind, _, _, _, data_at = struct.unpack(
            order + "iiiBBBBi", b[offset:offset + 20])
        name = b[offset + name_at:b.index(b"\0", offset + name_at)].decode()
        if kind == ord("J"):
            values[name] = struct.unpack(order + "q", b[offset + data_at:offset + data_at + 8])[0]
        offset += length
    return values

def status(pid):
    fields = {}
    try:
        for line in open(f"/proc/{pid}/status"):
            key = line.split(":")[0]
            if key in ("RssAnon", "RssFile", "Threads"):
                fields[key] = int(line.split()[1])
    except OSError:
        pass
    return fields

def run(mode, flags, n):
    group = f"/sys/fs/cgroup/memory{own}/bench-oom-cause.{os.getpid()}.{n}"
    os.mkdir(group)
    write(group + "/memory.oom_control", "0")
    write(group + "/memory.limit_in_bytes", str(LIMIT))
    if os.path.exists(group + "/memory.memsw.limit_in_bytes"):
        write(group + "/memory.memsw.limit_in_bytes", str(LIMIT))
    extra = [data] if mode == "pagecache" else []
    join = f'echo $$ > {group}/cgroup.procs && exec "$@"'
    start = time.monotonic()
    java = subprocess.Popen(["sh", "-c", join, "join", "java", *flags.split(), "-cp", classes,
                             "OomCause", mode, *extra], stdout=subprocess.DEVNULL)
    last, max_cache = None, 0
    while java.poll() is None:
        try:
            stat = dict(line.split() for line in open(group + "/memory.stat"))
            procs = [int(p) for p in open(group + "/cgroup.procs").read().split()]
            usage = int(open(group + "/memory.usage_in_bytes").read())
        except OSError:
            break
        max_cache = max(max_cache, int(stat["total_cache"]))
        jvm = status(java.pid)
        if "RssAnon" in jvm:
            others = sum(status(p).get("RssAnon", 0) for p in procs if p != java.pid)
            last = (time.monotonic() - start, usage, stat, jvm, others, hsperf(java.pid))
        time.sleep(0.2)
    java.wait()
    seconds = time.monotonic() - start
    kills = next(int(line.split()[1]) for line in open(group + "/memory.oom_control")
                 if line.startswith("oom_kill "))
    for pid in open(group + "/cgroup.procs").read().split():
        os.kill(int(pid), 9)
    while open(group + "/cgroup.procs").read().strip():
        time.sleep(0.1)
    os.rmdir(group)
    for name in os.listdir(data):
        os.remove(os.path.join(data, name))
    return java.returncode == -9 and kills >= 1, seconds, last, max_cache

print("| mode | flags | killed | s to kill | usage | rss | cache (max in run) | shmem "
      "| JVM RssAnon / RssFile / Threads | others' RssAnon | heap capacity | metaspace "
      "| live threads | compiled code |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
n = 0
results = {mode: [] for mode, _ in MODES}
for _ in range(runs):
    for mode, flags in MODES:
        n += 1
        results[mode].append(run(mode, flags, n))
for mode, flags in MODES:
    rows = results[mode]
    killed = sum(1 for ok, *_ in rows if ok)
    seconds = sorted(s for _, s, _, _ in rows)
    # The run whose time to the kill is the median's.
    _, _, last, max_cache = sorted(rows, key=lambda r: r[1])[len(rows) // 2]
    t, usage, stat, jvm, others, perf = last
    heap = sum(perf.get(f"sun.gc.generation.{g}.capacity", 0) for g in (0, 1))
    print(f"| {mode} | `{flags}` | {killed}/{len(rows)} | {seconds[0]:.1f}–{seconds[-1]:.1f} "
          f"| {usage // MIB} | {int(stat['total_rss']) // MIB} "
          f"| {int(stat['total_cache']) // MIB} ({max_cache // MIB}) "
          f"| {int(stat['total_shmem']) // MIB} "
          f"| {jvm['RssAnon'] >> 10} / {jvm['RssFile'] >> 10} / {jvm['Threads']} "
          f"| {others >> 10} | {heap // MIB} "
          f"| {perf.get('sun.gc.metaspace.capacity', 0) // MIB} "
          f"| {perf.get('java.threads.live', '?')} "
          f"| {perf.get('sun.ci.nmethodSize', 0) >> 10} KiB |")
EOF
