#!/usr/bin/env bash
# bench-init.sh - jwrap's init next to tini, tini-static, dumb-init and catatonit.
#
# A benchmark, not a test: it measures, side by side in one run, and writes the numbers into
# the `init` section of BENCHMARKS.md with the date, the machine, the commands and the versions.
#   a. start-up overhead: `X -- /bin/true` with hyperfine -N (no shell), RUNS runs each in 5
#      rounds (the order reversed every other round, so a machine that gets busier or quieter
#      favours no one); jwrap's time includes its cgroup detection. Not PID 1, so tini gets -s (it then
#      reaps orphans, as jwrap and catatonit do, and prints no warning). Where valgrind is
#      installed, also the instructions the init itself executes (the same on a busy machine).
#   b. memory of the init while it waits for `sleep`: VmRSS (/proc/PID/status) and Pss
#      (/proc/PID/smaps_rollup), not PID 1 and as PID 1 of a new PID namespace.
#   c. reaping an orphan storm: the init as PID 1 (`unshare --pid --fork --mount-proc`) runs a
#      helper that makes 10000 orphans (batches of 500 that exit at once) and then watches /proc
#      until only the init and itself are left; three runs each.
#   d. SIGTERM latency: from kill(2) on the init to the child's SIGTERM handler running
#      (CLOCK_MONOTONIC in both), LATENCY_RUNS times each in 10 interleaved rounds, not PID 1.
# The two helpers are small C programs compiled here (every machine that builds Rust has cc).
# The anchors come from Debian (installed when missing); jwrap is the static binary that
# scripts/build-static.sh leaves in target/jwrap-static.
#
#   scripts/bench-init.sh [RUNS [LATENCY_RUNS]]     (defaults 1000 and 300)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-1000}
latency_runs=${2:-300}
[[ $runs =~ ^[0-9]+$ && $runs -ge 100 && $latency_runs =~ ^[0-9]+$ && $latency_runs -ge 50 ]] \
  || { echo "usage: $0 [RUNS >= 100 [LATENCY_RUNS >= 50]]" >&2; exit 2; }
say() { echo "bench-init: $*"; }
[[ $(id -u) -eq 0 ]] || { echo "bench-init: needs root (apt-get, unshare --pid)" >&2; exit 2; }

# --- the anchors and tools -----------------------------------------------------------------
missing=()
for tool in tini:tini tini-static:tini dumb-init:dumb-init catatonit:catatonit hyperfine:hyperfine \
            cc:gcc unshare:util-linux; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if ((${#missing[@]})); then
  say "installing from Debian: ${missing[*]}"
  apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
  apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- jwrap ---------------------------------------------------------------------------------
if [[ -x scripts/build-static.sh ]]; then
  scripts/build-static.sh
  jwrap=target/jwrap-static
elif cargo build --release --target x86_64-unknown-linux-musl; then
  jwrap=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-musl/release/jwrap
else
  cargo build --release
  jwrap=${CARGO_TARGET_DIR:-target}/release/jwrap
fi
jwrap=$(realpath "$jwrap")
say "jwrap: $jwrap"

work=$(mktemp -d /tmp/jwrap-bench-init.XXXXXX)
trap 'rm -rf "$work"' EXIT

# --- helpers -------------------------------------------------------------------------------
cat >"$work/storm.c" <<'EOF'
/* storm TOTAL BATCH: run as the only child (pid 2) of an init that is PID 1. Makes TOTAL
   orphans: TOTAL/BATCH short-lived processes each fork BATCH children that exit at once, and
   exit without waiting for them, so every one is the init's to reap. Then waits until /proc
   lists only the init and itself, and prints the times in milliseconds. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
static int processes(void) {
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    int count = 0;
    while ((entry = readdir(proc)))
        count += isdigit((unsigned char)entry->d_name[0]) != 0;
    closedir(proc);
    return count;
}
int main(int argc, char **argv) {
    if (argc != 3 || getpid() != 2) {
        fprintf(stderr, "storm: usage: storm TOTAL BATCH, as pid 2 under an init that is PID 1\n");
        return 2;
    }
    int total = atoi(argv[1]), batch = atoi(argv[2]);
    double start = now_ms();
    for (int made = 0; made < total; made += batch) {
        pid_t parent = fork();
        if (parent == 0) {
            for (int i = 0; i < batch; i++)
                if (fork() == 0) _exit(0);
            _exit(0);
        }
        waitpid(parent, 0, 0);
    }
    double made = now_ms();
    while (processes() > 2) {
        if (now_ms() - start > 60000) { printf("timeout\n"); return 1; }
        usleep(100);
    }
    double reaped = now_ms();
    printf("made_ms=%.1f reaped_ms=%.1f lag_ms=%.1f\n", made - start, reaped - start, reaped - made);
    return 0;
}
EOF
cat >"$work/latency.c" <<'EOF'
/* latency RUNS INIT [OPTION]... --   runs `INIT [OPTION]... -- latency child FD` RUNS times;
   the child installs a SIGTERM handler and says so on the pipe FD; 20 ms later the parent
   reads CLOCK_MONOTONIC and sends SIGTERM to the init; the handler reads the clock and writes
   it to the pipe. Prints one latency per line, in microseconds ("timeout" when none came). */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static int out;
static void on_term(int signal) {
    struct timespec t;
    (void)signal;
    clock_gettime(CLOCK_MONOTONIC, &t);
    (void)!write(out, &t, sizeof t);
    _exit(0);
}
static int read_within(int fd, void *buffer, size_t size) {
    struct pollfd p = {fd, POLLIN, 0};
    size_t got = 0;
    while (got < size) {
        if (poll(&p, 1, 5000) != 1) return 0;
        ssize_t n = read(fd, (char *)buffer + got, size - got);
        if (n <= 0) return 0;
        got += (size_t)n;
    }
    return 1;
}
static double micros(struct timespec a, struct timespec b) {
    return (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3;
}
int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "child") == 0) {
        out = atoi(argv[2]);
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = on_term;
        sigaction(SIGTERM, &action, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, 0);
        alarm(10);
        (void)!write(out, "R", 1);
        for (;;) pause();
    }
    if (argc < 3 || argc > 40) { fprintf(stderr, "usage: latency RUNS INIT [OPTION]... --\n"); return 2; }
    int runs = atoi(argv[1]);
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0) return 2;
    self[length] = 0;
    for (int run = 0; run < runs; run++) {
        int pipe_fds[2];
        if (pipe(pipe_fds) != 0) return 2;
        char fd[16];
        snprintf(fd, sizeof fd, "%d", pipe_fds[1]);
        pid_t init = fork();
        if (init == 0) {
            char *args[48];
            int n = 0;
            for (int i = 2; i < argc; i++) args[n++] = argv[i];
            args[n++] = self;
            args[n++] = "child";
            args[n++] = fd;
            args[n] = 0;
            close(pipe_fds[0]);
            execvp(args[0], args);
            _exit(127);
        }
        close(pipe_fds[1]);
        char ready;
        struct timespec sent, handled;
        if (!read_within(pipe_fds[0], &ready, 1)) {
            printf("timeout\n");
            kill(init, SIGKILL);
        } else {
            usleep(20000);
            clock_gettime(CLOCK_MONOTONIC, &sent);
            kill(init, SIGTERM);
            if (read_within(pipe_fds[0], &handled, sizeof handled))
                printf("%.1f\n", micros(sent, handled));
            else {
                printf("timeout\n");
                kill(init, SIGKILL);
            }
        }
        fflush(stdout);
        waitpid(init, 0, 0);
        close(pipe_fds[0]);
    }
    return 0;
}
EOF
cc -O2 -o "$work/storm" "$work/storm.c"
cc -O2 -o "$work/latency" "$work/latency.c"

# The inits, each as "label|command when not PID 1|command as PID 1" (the `--` is added).
inits=(
  "jwrap|$jwrap|$jwrap"
  "tini|tini -s|tini"
  "tini-static|tini-static -s|tini-static"
  "dumb-init|dumb-init|dumb-init"
  "catatonit|catatonit|catatonit"
)
results=$work/results.txt
: >"$results"

# --- a. start-up ---------------------------------------------------------------------------
say "a. start-up: hyperfine, $runs runs each in 5 rounds"
commands=(/bin/true)
echo "command /bin/true|/bin/true" >>"$results"
for entry in "${inits[@]}"; do
  IFS='|' read -r label plain _ <<<"$entry"
  commands+=("$plain -- /bin/true")
  echo "command $label|$plain -- /bin/true" >>"$results"
done
for round in 1 2 3 4 5; do
  order=("${commands[@]}")
  if ((round % 2 == 0)); then
    for ((i = 0; i < ${#commands[@]}; i++)); do order[i]=${commands[${#commands[@]} - 1 - i]}; done
  fi
  hyperfine -N --warmup 20 --runs $((runs / 5)) --export-json "$work/hyperfine-$round.json" \
    "${order[@]}" >/dev/null 2>&1
done
if command -v valgrind >/dev/null; then
  for entry in "${inits[@]}"; do
    IFS='|' read -r label plain _ <<<"$entry"
    # shellcheck disable=SC2086  # $plain is the init and its options
    count=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null $plain -- /bin/true 2>&1 >/dev/null \
      | awk '/ refs:/ { gsub(",", "", $NF); print $NF }')
    echo "instructions $label ${count:-n/a}" >>"$results"
  done
fi

# --- b. memory -----------------------------------------------------------------------------
say "b. memory while waiting for sleep"
memory_of() {  # PID -> "RSS PSS" in kB
  echo "$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status") $(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup")"
}
for entry in "${inits[@]}"; do
  IFS='|' read -r label plain pid1 <<<"$entry"
  # shellcheck disable=SC2086
  $plain -- sleep 30 &
  init=$!
  sleep 0.5
  echo "memory $label plain $(memory_of "$init")" >>"$results"
  kill -TERM "$init"
  wait "$init" || true

  # shellcheck disable=SC2086
  unshare --pid --fork --mount-proc --kill-child $pid1 -- sleep 30 &
  outer=$!
  sleep 0.5
  init=$(awk '{print $1}' "/proc/$outer/task/$outer/children")
  echo "memory $label pid1 $(memory_of "$init")" >>"$results"
  kill -TERM "$init"
  wait "$outer" || true
done

# --- c. orphan storm -----------------------------------------------------------------------
say "c. 10000 orphans, the init as PID 1, 3 runs each"
for entry in "${inits[@]}"; do
  IFS='|' read -r label _ pid1 <<<"$entry"
  for _ in 1 2 3; do
    # shellcheck disable=SC2086
    line=$(unshare --pid --fork --mount-proc --kill-child $pid1 -- "$work/storm" 10000 500)
    echo "storm $label $line" >>"$results"
  done
done

# --- d. SIGTERM latency --------------------------------------------------------------------
say "d. SIGTERM latency, $latency_runs runs each in 10 rounds"
for _ in 1 2 3 4 5 6 7 8 9 10; do
  for entry in "${inits[@]}"; do
    IFS='|' read -r label plain _ <<<"$entry"
    # shellcheck disable=SC2086
    "$work/latency" $((latency_runs / 10)) $plain -- >>"$work/latency-$label.txt"
  done
done

# --- versions ------------------------------------------------------------------------------
{
  for package in tini dumb-init catatonit hyperfine; do
    echo "version $package $(dpkg-query -W -f '${Version}' "$package" 2>/dev/null || echo '?')"
  done
  echo "version jwrap $("$jwrap" --version | head -n1)"
  echo "version valgrind $(valgrind --version 2>/dev/null || echo none)"
  echo "version cc $(cc --version | head -n1)"
} >>"$results"

# Everything below is formatting: numbers from the files above, into BENCHMARKS.md.
python3 - "$work" "$jwrap" "$runs" "$latency_runs" <<'EOF'
import datetime, json, os, platform, re, statistics, sys

work, jwrap, runs, latency_runs = sys.argv[1:5]
labels = ["jwrap", "tini", "tini-static", "dumb-init", "catatonit"]
text_lines = open(f"{work}/results.txt").read().splitlines()
lines = [line.split() for line in text_lines]
label_of = dict(reversed(line.split(" ", 1)[1].split("|", 1)) for line in text_lines
                if line.startswith("command "))
versions = {words[1]: " ".join(words[2:]) for words in lines if words[0] == "version"}
instructions = {words[1]: words[2] for words in lines if words[0] == "instructions"}
memory = {(words[1], words[2]): (int(words[3]), int(words[4])) for words in lines if words[0] == "memory"}
storms = {}
for words in lines:
    if words[0] == "storm":
        fields = dict(word.split("=") for word in words[2:] if "=" in word)
        storms.setdefault(words[1], []).append(fields)

times = {}
for round_file in sorted(f for f in os.listdir(work) if f.startswith("hyperfine-")):
    for result in json.load(open(f"{work}/{round_file}"))["results"]:
        times.setdefault(label_of[result["command"]], []).extend(result["times"])
startup = {label: {"median": statistics.median(values), "mean": statistics.fmean(values),
                   "stddev": statistics.stdev(values), "min": min(values)}
           for label, values in times.items()}
true_median = startup["/bin/true"]["median"] * 1e3

def latency(label):
    values = [line.strip() for line in open(f"{work}/latency-{label}.txt")]
    numbers = sorted(float(value) for value in values if value != "timeout")
    timeouts = sum(value == "timeout" for value in values)
    if not numbers:
        return None, timeouts
    pick = lambda q: numbers[min(len(numbers) - 1, int(q * len(numbers)))]
    return (statistics.median(numbers), pick(0.9), pick(0.99), numbers[0]), timeouts

def ms(seconds):
    return f"{seconds * 1e3:.2f} ms"

now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
cpu_model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "unknown CPU")
debian = open("/etc/debian_version").read().strip() if os.path.exists("/etc/debian_version") else "?"
load = open("/proc/loadavg").read().split()[0]
size = os.path.getsize(jwrap)
name = {"jwrap": f"jwrap ({os.path.relpath(jwrap)}, {size // 1024} KiB, static)",
        "tini": "tini (dynamic)", "tini-static": "tini-static", "dumb-init": "dumb-init (dynamic)",
        "catatonit": "catatonit (static)"}
flags = {"jwrap": "", "tini": " -s", "tini-static": " -s", "dumb-init": "", "catatonit": ""}

rows_a = [f"| `/bin/true` alone | {ms(startup['/bin/true']['median'])} | "
          f"{ms(startup['/bin/true']['mean'])} ± {ms(startup['/bin/true']['stddev'])} | "
          f"{ms(startup['/bin/true']['min'])} | | |"]
for label in labels:
    result = startup[label]
    overhead = result["median"] * 1e3 - true_median
    count = instructions.get(label, "n/a")
    count = f"{int(count):,}" if count.isdigit() else count
    rows_a.append(f"| {name[label]}{flags[label]} | {ms(result['median'])} | {ms(result['mean'])} ± "
                  f"{ms(result['stddev'])} | {ms(result['min'])} | {overhead:+.2f} ms | {count} |")
jwrap_vs_tini_static = startup["jwrap"]["median"] - startup["tini-static"]["median"]
# Overheads: each init's median less /bin/true's.
jwrap_overhead = startup["jwrap"]["median"] - startup["/bin/true"]["median"]
tini_static_overhead = startup["tini-static"]["median"] - startup["/bin/true"]["median"]
overhead_ratio = jwrap_overhead / tini_static_overhead if tini_static_overhead > 0 else float("inf")

rows_b = []
for label in labels:
    plain, pid1 = memory.get((label, "plain"), (0, 0)), memory.get((label, "pid1"), (0, 0))
    rows_b.append(f"| {name[label]} | {plain[0]} kB | {plain[1]} kB | {pid1[0]} kB | {pid1[1]} kB |")

rows_c = []
for label in labels:
    runs_c = [run for run in storms.get(label, []) if "reaped_ms" in run]
    if not runs_c:
        rows_c.append(f"| {name[label]} | timeout | | |")
        continue
    med = lambda key: statistics.median(float(run[key]) for run in runs_c)
    rows_c.append(f"| {name[label]} | {med('reaped_ms'):.0f} ms | {med('made_ms'):.0f} ms | "
                  f"{med('lag_ms'):.1f} ms |")

rows_d = []
for label in labels:
    stats, timeouts = latency(label)
    if stats is None:
        rows_d.append(f"| {name[label]}{flags[label]} | no delivery | | | | {timeouts} |")
        continue
    median, p90, p99, least = stats
    rows_d.append(f"| {name[label]}{flags[label]} | {median:.0f} µs | {p90:.0f} µs | {p99:.0f} µs | "
                  f"{least:.0f} µs | {timeouts} |")

jwrap_memory = memory.get(("jwrap", "plain"), (0, 0))
jwrap_latency = latency("jwrap")[0]
verdict = lambda ok: "met" if ok else "**missed**"
body = f"""### The init next to tini, dumb-init and catatonit (`scripts/bench-init.sh`)

Run {now} on {os.cpu_count()} CPUs ({cpu_model}), Debian {debian}, kernel {platform.release()},
load average {load} when the script ended (other work on the machine inflates times, means and
tails most; medians and instruction counts the least). Versions: tini {versions.get('tini')},
dumb-init {versions.get('dumb-init')}, catatonit {versions.get('catatonit')} (Debian packages);
{versions.get('jwrap')}; hyperfine {versions.get('hyperfine')}; helpers built with {versions.get('cc')}.

**a. Start-up overhead**, not PID 1: `hyperfine -N --warmup 20 --runs {int(runs) // 5} '/bin/true' 'X -- /bin/true'...`
five times, the order reversed every other time, {runs} runs per command in all (tini with `-s`,
a child subreaper like jwrap and catatonit; jwrap's time includes its cgroup detection).
Instructions: those the init process itself executes (`valgrind --tool=callgrind`, children
not traced).

| init | median | mean ± σ | min | median − `/bin/true` | instructions |
|---|---|---|---|---|---|
{chr(10).join(rows_a)}

Bound: jwrap's overhead within 1.3 times tini-static's: {verdict(overhead_ratio <= 1.3)} ({overhead_ratio:.2f} times; medians {jwrap_vs_tini_static * 1e3:+.2f} ms apart).

**b. Memory** of the init while it waits for `sleep 30` (VmRSS from /proc/PID/status, Pss from
/proc/PID/smaps_rollup), not PID 1 and as PID 1 (`unshare --pid --fork --mount-proc`).

| init | RSS | PSS | RSS as PID 1 | PSS as PID 1 |
|---|---|---|---|---|
{chr(10).join(rows_b)}

Bound: jwrap ≤ 1 MiB resident: {verdict(0 < jwrap_memory[0] <= 1024)} ({jwrap_memory[0]} kB RSS, {jwrap_memory[1]} kB PSS).
A static binary's resident size is close to its file size: the kernel maps the pages around
each one touched (fault-around), and none of it is shared with other processes; the dynamic
anchors' RSS is mostly shared libc, hence their low PSS.

**c. Reaping an orphan storm**: the init as PID 1 of a new PID namespace (`unshare --pid --fork
--mount-proc X -- storm 10000 500`); the helper makes 10000 orphans (20 processes that each fork
500 children exiting at once and exit without waiting), then watches /proc until only the init
and itself are left. Median of 3 runs.

| init | all 10000 reaped after | making them took | reaped after the last was made |
|---|---|---|---|
{chr(10).join(rows_c)}

**d. SIGTERM latency**, not PID 1: from `kill(init, SIGTERM)` to the child's SIGTERM handler
reading the clock (CLOCK_MONOTONIC in both processes), {latency_runs} runs each in 10 rounds that
take the inits in turn (`latency RUNS X --`; the signal is sent 20 ms after the child has
installed its handler).

| init | median | p90 | p99 | min | lost |
|---|---|---|---|---|---|
{chr(10).join(rows_d)}

Target: jwrap ≤ 1 ms median: {verdict(jwrap_latency is not None and jwrap_latency[0] <= 1000)}.
"""

path = "BENCHMARKS.md"
text = open(path).read()
begin, end = "<!-- init:begin -->", "<!-- init:end -->"
pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
if not pattern.search(text):
    sys.exit(f"{path}: no {begin} ... {end} markers")
text = pattern.sub(lambda _: f"{begin}\n{body}{end}", text)
open(path, "w").write(text)
print(body)
EOF
say "written to BENCHMARKS.md (init section)"
