#!/usr/bin/env bash
# bench-memwatch.sh - what the memory watch costs: jwrap's CPU time and resident memory while a
# JVM runs, with the watch on and off, at the slow pace (usage under half the limit) and the
# fast one (usage above 90 %), and a service's requests/s under load with and without it.
#
# Usage: scripts/bench-memwatch.sh [JWRAP]   (default: the static build, target/jwrap-static-amd64)
#
# Each run is a fresh cgroup v1 group of 512 MiB (swap closed). "idle": java Idle with a heap
# pre-touched to 64 MiB (about 25 % of the limit: the 1 s pace); "full": pre-touched to 452 MiB
# (above 90 %: the fastest pace); each for SECONDS (default 60). jwrap's CPU time is utime +
# stime from /proc/PID/stat at the end of the run, its resident memory VmRSS and VmHWM. "load":
# tests/java-programs/AllocService.java under `ab -n 20000 -c 50` (1 MiB per request, heap
# 400 MiB), ROUNDS times each way (default 3), alternating. PARTS: "steady load" (default), or one.
# Needs root, cgroup v1 memory, a JDK, ab.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
JWRAP=${1:-$repo/target/jwrap-static-amd64}
SECONDS_RUN=${SECONDS_RUN:-60}
ROUNDS=${ROUNDS:-3}
PARTS=${PARTS:-steady load}
MIB=1048576
hz=$(getconf CLK_TCK)
classes=$(mktemp -d /tmp/jwrap-bench-memwatch.XXXXXX)
trap 'rm -rf "$classes"' EXIT
javac -d "$classes" "$repo"/tests/java-programs/Idle.java "$repo"/tests/java-programs/AllocService.java
mem_mount=$(awk '$(NF-2)=="cgroup" && $NF ~ /(^|,)memory(,|$)/ {print $5; exit}' /proc/self/mountinfo)
own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)

group() { # name -> path
  local cg=$mem_mount${own%/}/jwrap-bench-memwatch.$$.$1
  mkdir "$cg"
  echo $((512 * MIB)) >"$cg/memory.limit_in_bytes"
  echo $((512 * MIB)) >"$cg/memory.memsw.limit_in_bytes" 2>/dev/null || true
  echo "$cg"
}
drop() { # path
  while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$1/cgroup.procs"
  for _ in $(seq 50); do rmdir "$1" 2>/dev/null && return; sleep 0.1; done
}

# jwrap's cpu ms, VmRSS kB, VmHWM kB after SECONDS_RUN s of java Idle with a HEAP MiB heap.
steady() { # watch heap
  local cg pid stat rss hwm usage
  cg=$(group "steady-$1-$2")
  sh -c 'echo $$ >"$0/cgroup.procs"; exec "$@"' "$cg" "$JWRAP" --memory-watch "$1" -- \
    java -Xms"$2"m -Xmx"$2"m -XX:+AlwaysPreTouch -cp "$classes" Idle $(( (SECONDS_RUN + 30) * 1000 )) &
  pid=$!
  sleep "$SECONDS_RUN"
  stat=$(sed 's/.*) //' "/proc/$pid/stat")
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  usage=$(( $(cat "$cg/memory.usage_in_bytes") * 100 / (512 * MIB) ))
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  drop "$cg"
  # utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
  awk -v hz="$hz" -v s="$SECONDS_RUN" -v rss="$rss" -v hwm="$hwm" -v w="$1" -v h="$2" -v u="$usage" '{
    ms = ($12 + $13) * 1000 / hz
    printf "| %s | %d MiB (%d %% of the limit) | %d s | %d ms | %.3f %% | %d kB | %d kB |\n", w, h, u, s, ms, ms / (s * 10), rss, hwm
  }' <<<"$stat"
}

load() { # watch -> req/s
  local cg port pid rps
  cg=$(group "load-$1")
  port=$((20000 + RANDOM % 20000))
  sh -c 'echo $$ >"$0/cgroup.procs"; exec "$@"' "$cg" "$JWRAP" --memory-watch "$1" -- \
    java -Xmx400m -cp "$classes" AllocService "$port" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  rps=$(ab -q -n 20000 -c 50 "http://127.0.0.1:$port/" 2>/dev/null | awk '/^Requests per second/ {print $4}')
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  drop "$cg"
  echo "${rps:-0}"
}

echo "Run $(date -u +%F) at commit $(git -C "$repo" rev-parse --short HEAD) on $(nproc) CPUs, $(java -version 2>&1 | head -1), $JWRAP."
echo
if [[ " $PARTS " == *" steady "* ]]; then
  echo "| watch | heap (usage) | run | jwrap CPU | of one CPU | jwrap VmRSS | jwrap VmHWM |"
  echo "|---|---|---|---|---|---|---|"
  for heap in 64 452; do
    for watch in off on; do steady "$watch" "$heap"; done
  done
  echo
fi
if [[ " $PARTS " == *" load "* ]]; then
  echo "| round | requests/s, watch off | requests/s, watch on |"
  echo "|---|---|---|"
  for round in $(seq "$ROUNDS"); do
    off=$(load off); on=$(load on)
    echo "| $round | $off | $on |"
  done
fi
