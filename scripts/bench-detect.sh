#!/usr/bin/env bash
# bench-detect.sh - how long detection takes on this machine, and how big the static binary is.
#
# A benchmark, not a test: it measures and writes the numbers into BENCHMARKS.md (the
# `detect` and `size` sections), with the date, the machine and the commands.
#   1. `jwrap info --json` of the static binary (scripts/build-static.sh) as a whole process,
#      next to `/bin/true` (the floor: starting any process) and `jwrap --version` (starting
#      jwrap itself), with hyperfine -N (no shell), RUNS runs each after a warm-up. The
#      detection work is `info --json`'s median minus `--version`'s (the same binary's own
#      start-up); minus true's it is also shown. Target: under 1 ms.
#   2. `jwrap::cgroup::detect` alone, in-process, timed call by call (examples/detect_timing.rs).
#
#   scripts/bench-detect.sh [RUNS]        (default 2000, at least 1000)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-2000}
[[ $runs =~ ^[0-9]+$ && $runs -ge 1000 ]] || { echo "usage: $0 [RUNS >= 1000]" >&2; exit 2; }
say() { echo "bench-detect: $*"; }

scripts/build-static.sh
binary=target/jwrap-static

if ! command -v hyperfine >/dev/null; then
  say "installing hyperfine (Debian)"
  apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
  apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends hyperfine >/dev/null
fi

work=$(mktemp -d /tmp/jwrap-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

say "hyperfine: $runs runs each"
hyperfine -N --warmup 200 --runs "$runs" --export-json "$work/hyperfine.json" \
  "$binary info --json" "$binary --version" "/bin/true"

say "in-process: jwrap::cgroup::detect, 10000 calls"
cargo run --quiet --release --example detect_timing -- 10000 | tee "$work/in-process.txt"

"$binary" info --json >"$work/info.json"

# User-space instructions per run (valgrind's callgrind): unlike time, the same on a busy machine.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
    | awk '/ refs:/ { gsub(",", "", $NF); print $NF }'
}
if command -v valgrind >/dev/null; then
  say "instructions (callgrind)"
  {
    echo "info $(instructions "$binary" info --json)"
    echo "version $(instructions "$binary" --version)"
    echo "true $(instructions /bin/true)"
  } | tee "$work/instructions.txt"
else
  say "no valgrind: no instruction counts"
  : >"$work/instructions.txt"
fi

# Everything below is formatting: numbers from the files above, into BENCHMARKS.md.
# The same choice scripts/build-static.sh made.
if [[ -d $(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-musl ]]; then
  target=x86_64-unknown-linux-musl
else
  target="x86_64-unknown-linux-gnu (+crt-static fallback)"
fi
python3 - "$work" "$binary" "$runs" "$target" <<'EOF'
import datetime, json, os, platform, re, subprocess, sys, tomllib

work, binary, runs, target = sys.argv[1:5]
results = json.load(open(f"{work}/hyperfine.json"))["results"]
median = {r["command"]: r["median"] * 1e6 for r in results}  # microseconds
mean = {r["command"]: r["mean"] * 1e6 for r in results}
stddev = {r["command"]: r["stddev"] * 1e6 for r in results}
info_cmd, version_cmd, true_cmd = f"{binary} info --json", f"{binary} --version", "/bin/true"
work_us = median[info_cmd] - median[true_cmd]
report_us = median[info_cmd] - median[version_cmd]
in_process = dict(kv.split("=") for kv in open(f"{work}/in-process.txt").read().split())
info = json.load(open(f"{work}/info.json"))
counts = dict(line.split() for line in open(f"{work}/instructions.txt") if len(line.split()) == 2)
def instr(name):
    return f"{int(counts[name]):,}" if name in counts else "n/a"
def instr_diff(a, b):
    return f"{int(counts[a]) - int(counts[b]):,}" if a in counts and b in counts else "n/a"

cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "unknown CPU")
debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else "?"
load = open("/proc/loadavg").read().split()[0]
hyperfine_version = subprocess.run(["hyperfine", "--version"], capture_output=True, text=True).stdout.strip()
rustc_version = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
size = os.path.getsize(binary)
release = tomllib.load(open("Cargo.toml", "rb")).get("profile", {}).get("release", {})
profile = "(" + ", ".join(f"`{key} = {json.dumps(value)}`" for key, value in release.items()) + ")"
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
machine = (f"{os.cpu_count()} CPUs ({cpu_model}), Debian {debian},\nkernel {platform.release()}, "
           f"cgroup {info['cgroup'].get('mode') or info['cgroup'].get('version')}, "
           f"load average {load} when run")
verdict = "meets" if max(work_us, report_us) < 1000 else "misses"

detect = f"""### Detection time (`scripts/bench-detect.sh`)

Run {now} on {machine}.

| what | median | mean ± σ | user-space instructions |
|---|---|---|---|
| `jwrap info --json` (static binary, whole process) | {median[info_cmd]:.0f} µs | {mean[info_cmd]:.0f} ± {stddev[info_cmd]:.0f} µs | {instr("info")} |
| `jwrap --version` (jwrap's own start-up, no detection) | {median[version_cmd]:.0f} µs | {mean[version_cmd]:.0f} ± {stddev[version_cmd]:.0f} µs | {instr("version")} |
| `/bin/true` (starting a process; dynamically linked) | {median[true_cmd]:.0f} µs | {mean[true_cmd]:.0f} ± {stddev[true_cmd]:.0f} µs | {instr("true")} |
| **detection work** (and the report): `info --json` − `--version` | **{report_us:.0f} µs** | | {instr_diff("info", "version")} |
| `info --json` − `/bin/true` | {work_us:.0f} µs | | {instr_diff("info", "true")} |
| `jwrap::cgroup::detect` in-process, per call (glibc build) | {float(in_process['median_us']):.0f} µs | p90 {float(in_process['p90_us']):.0f} µs, p99 {float(in_process['p99_us']):.0f} µs | |

Target: under 1 ms of detection work; this run {verdict} it. `--version` is the same binary's
start-up without detection, so the difference is detection and the report; `/bin/true` loads
the dynamic linker and libc, which the static jwrap does not, so the difference to it can even
be negative. The in-process line is detection alone (mountinfo,
/proc/self/cgroup, meminfo and the cgroup files up the hierarchy); the whole-process numbers
add `execve` of a {size / 1024:.0f} KiB binary, argument parsing and the JSON report. Other work on
the machine (see the load average) inflates the times, the means and tails most; the
instruction counts do not change with it.

Commands: `hyperfine -N --warmup 200 --runs {runs} '{info_cmd}' '{version_cmd}' '/bin/true'`
({hyperfine_version}); `cargo run --release --example detect_timing -- 10000`
({in_process['calls']} calls after 100 untimed ones); instructions:
`valgrind --tool=callgrind` of each command (the kernel's work, e.g. building mountinfo, is not
counted there but is in the times).
"""

size_section = f"""### Static binary size (`scripts/bench-detect.sh`, built by `scripts/build-static.sh`)

Run {now}: `target/jwrap-static` is **{size:,} bytes ({size / 1024:.0f} KiB)**, target
{target}, {rustc_version},\nrelease profile {profile}.
"""

path = "BENCHMARKS.md"
text = open(path).read()
for name, body in (("detect", detect), ("size", size_section)):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        sys.exit(f"{path}: no {begin} ... {end} markers")
    text = pattern.sub(lambda _: f"{begin}\n{body}{end}", text)
open(path, "w").write(text)
print(f"bench-detect: detection work {report_us:.0f} µs (info {median[info_cmd]:.0f} µs - version "
      f"{median[version_cmd]:.0f} µs); in-process detect {in_process['median_us']} µs; "
      f"binary {size} bytes; written to {path}")
EOF
