#!/usr/bin/env bash
# bench-heap.sh - how large a heap jwrap grants, next to the alternatives, and the largest heap a
# service-like load survives in a real cgroup. A benchmark, not a test: it takes minutes.
#
# Usage:
#   scripts/bench-heap.sh              for 256M 512M 1G 2G: jwrap's heap, the JVM's default,
#                                      fabric8's and Paketo's rules, and the largest heap the
#                                      Stress program survives under jwrap's other flags;
#                                      rewrites the heap section of BENCHMARKS.md
#   scripts/bench-heap.sh calibrate    for 128M..2G: the largest -Xmx Stress survives with a
#                                      container-blind JVM, with the JVM's default non-heap
#                                      regions and with bounded ones, and the non-heap memory it
#                                      used (RSS and Native Memory Tracking); markdown on stdout
#   scripts/bench-heap.sh nmt LIMIT_MIB HEAP_MIB
#                                      Native Memory Tracking of Stress at that -Xmx, while the
#                                      load runs (committed MiB per category)
#
# Environment: SIZES (MiB, space-separated), REPEATS (runs per bisection probe, default 2),
# CONFIRM (extra runs at the result, default 3), STRESS_ARGS (SECONDS THREADS CLASSES
# DIRECT_MIB, default "3 150 3000 8"), BOUNDED_FLAGS (calibrate's bounded non-heap flags),
# JWRAP (a built jwrap; default: cargo build --release), NO_WRITE=1 (print, do not edit
# BENCHMARKS.md).
#
# Needs root, a writable cgroup v1 memory hierarchy, and a JDK (java, javac). Each run gets a
# fresh memory cgroup below this shell's own, removed afterwards. A run "survives" when Stress
# exits 0; a kernel OOM kill (137), a Java OutOfMemoryError (Stress exits 2) or a timeout fail.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-bench}
REPEATS=${REPEATS:-2}
CONFIRM=${CONFIRM:-3}
STRESS_ARGS=${STRESS_ARGS:-3 150 3000 8}
BOUNDED_FLAGS=${BOUNDED_FLAGS:--XX:MaxDirectMemorySize=16m -XX:ReservedCodeCacheSize=48m -XX:MaxMetaspaceSize=64m}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
MIB=1048576

say() { echo "bench-heap: $*" >&2; }
die() { say "$*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (it creates memory cgroups)"
if ! command -v java >/dev/null || ! command -v javac >/dev/null; then
  die "needs a JDK (java and javac on PATH)"
fi
mem_mount=$(awk '$(NF-2)=="cgroup" && $NF ~ /(^|,)memory(,|$)/ {print $5; exit}' /proc/self/mountinfo)
[[ -n $mem_mount ]] || die "no cgroup v1 memory hierarchy mounted"
own=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ {print $3; exit}' /proc/self/cgroup)
cg_parent=$mem_mount${own%/}
[[ -w $cg_parent ]] || die "cannot create cgroups under $cg_parent"

work=$(mktemp -d /tmp/jwrap-bench-heap.XXXXXX)
cg_seq=0
cg_current=
cleanup() {
  [[ -z $cg_current ]] || cg_remove "$cg_current"
  rm -rf "$work"
}
trap cleanup EXIT

# The Java programs, compiled once per source version.
sources=("$repo"/tests/java-programs/*.java)
key=$(cat "${sources[@]}" | sha256sum | cut -c1-16)
classes=${CARGO_TARGET_DIR:-$repo/target}/tmp/java-programs/bench-$key
if [[ ! -f $classes/Stress.class ]]; then
  mkdir -p "$classes"
  javac -d "$classes" "${sources[@]}"
fi
jdk_version=$(java -version 2>&1 | head -1)

cg_remove() {
  local dir=$1 pid
  while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$dir/cgroup.procs"
  for _ in $(seq 50); do rmdir "$dir" 2>/dev/null && break; sleep 0.1; done
  [[ ! -d $dir ]] || say "could not remove $dir"
  cg_current=
}

# cg_run LIMIT_MIB CMD... : CMD in a fresh cgroup with that memory limit. Sets RC (CMD's exit
# status, 124 on timeout), OOM_KILLS (the cgroup's kernel OOM kills), PEAK and KMEM_PEAK (the
# cgroup's peak charge, all and kernel memory, bytes) and OUT (its stdout and stderr).
cg_run() {
  local limit_mib=$1; shift
  cg_seq=$((cg_seq + 1))
  cg_current=$cg_parent/jwrap-bench-heap.$$.$cg_seq
  mkdir "$cg_current"
  echo $((limit_mib * MIB)) >"$cg_current/memory.limit_in_bytes"
  # In the background and waited for, so that bash does not print "Killed" for each OOM kill.
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner sh
  timeout -k 5 "$RUN_TIMEOUT" sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg_current" "$@" \
    >"$work/out" 2>&1 &
  RUN_PID=$!
  [[ -z ${WHILE_RUNNING:-} ]] || "$WHILE_RUNNING"
  RC=0
  wait "$RUN_PID" 2>/dev/null || RC=$?
  OOM_KILLS=$(awk '$1=="oom_kill"{print $2}' "$cg_current/memory.oom_control")
  PEAK=$(cat "$cg_current/memory.max_usage_in_bytes")
  KMEM_PEAK=$(cat "$cg_current/memory.kmem.max_usage_in_bytes" 2>/dev/null || echo 0)
  OUT=$(cat "$work/out")
  cg_remove "$cg_current"
}

# The value of one flag in `java ... -XX:+PrintFlagsFinal -version` output ($OUT).
flag_value() { awk -v f="$1" '$2==f {print $4; exit}' <<<"$OUT"; }
# `key=value` from the Stress report line in $OUT.
stress_field() { grep '^Stress: ok' <<<"$OUT" | tr ' ' '\n' | awk -F= -v k="$1" '$1==k {print $2}'; }
mib() { echo $(( $1 / MIB )); }

# stress_survives LIMIT_MIB LAUNCH... : REPEATS runs of LAUNCH ... Stress; true if all exit 0.
# Keeps the last passing run's report in LAST_OK, its PEAK and KMEM_PEAK in LAST_PEAK and
# LAST_KMEM_PEAK.
stress_survives() {
  local limit_mib=$1 runs=$2; shift 2
  local run
  for run in $(seq "$runs"); do
    # shellcheck disable=SC2086
    cg_run "$limit_mib" "$@" -cp "$classes" Stress $STRESS_ARGS
    if [[ $RC != 0 ]]; then
      say "  $limit_mib MiB, ${*: -1}: run $run: exit $RC (kernel OOM kills: $OOM_KILLS)" \
        "$(grep '^Stress:' <<<"$OUT" | tail -1 | cut -c1-120)"
      return 1
    fi
    LAST_OK=$(grep '^Stress: ok' <<<"$OUT")
    LAST_PEAK=$PEAK LAST_KMEM_PEAK=$KMEM_PEAK
  done
  say "  $limit_mib MiB, ${*: -1}: survived $runs run(s)"
}

# largest_heap LIMIT_MIB LAUNCH... : the largest -Xmx (MiB) with which LAUNCH -Xmx<N>m ... Stress
# survives, by bisection to 1 % of the limit, confirmed by CONFIRM more runs. 0 if none.
largest_heap() {
  local limit_mib=$1; shift
  local lo=0 hi=$limit_mib tolerance=$(( limit_mib / 100 > 2 ? limit_mib / 100 : 2 )) mid
  while true; do
    while (( hi - lo > tolerance )); do
      mid=$(( (lo + hi) / 2 ))
      if stress_survives "$limit_mib" "$REPEATS" "$@" "-Xmx${mid}m"; then lo=$mid; else hi=$mid; fi
    done
    (( lo > 0 )) || { HEAP=0; return; }
    if stress_survives "$limit_mib" "$CONFIRM" "$@" "-Xmx${lo}m"; then break; fi
    hi=$lo; lo=$(( lo > tolerance ? lo - tolerance : 0 ))
    (( lo > 0 )) || { HEAP=0; return; }
  done
  HEAP=$lo
  # A last run at the result, for what it used.
  stress_survives "$limit_mib" 1 "$@" "-Xmx${lo}m" || true
}

# While cg_run runs Stress: once the load runs, wait half its time and take
# `jcmd PID VM.native_memory summary` (committed KiB per category) into $work/nmt.
take_nmt() {
  local pid='' seconds
  seconds=$(cut -d' ' -f1 <<<"$STRESS_ARGS")
  : >"$work/nmt"
  for _ in $(seq 600); do
    pid=$(sed -n 's/^Stress: running pid=//p' "$work/out" 2>/dev/null)
    [[ -z $pid ]] || break
    kill -0 "$RUN_PID" 2>/dev/null || return 0
    sleep 0.1
  done
  [[ -n $pid ]] || return 0
  sleep "$(awk -v s="$seconds" 'BEGIN {print s / 2}')"
  jcmd "$pid" VM.native_memory summary >"$work/nmt" 2>&1 || say "jcmd failed: $(tail -1 "$work/nmt")"
}

# native_memory LIMIT_MIB HEAP_MIB : Native Memory Tracking of Stress with -Xmx<HEAP_MIB>m, taken
# while the load runs, as "Name=MiB, ..." text. The load runs 4 times as long as usual, so that
# jcmd's attach lands inside it, in a cgroup with 256 MiB more room for NMT's own bookkeeping.
native_memory() {
  local args
  read -r -a args <<<"$STRESS_ARGS"
  args[0]=$(awk -v s="${args[0]}" 'BEGIN {print s * 4}')
  WHILE_RUNNING=take_nmt cg_run $(($1 + 256)) java -XX:-UseContainerSupport \
    -XX:NativeMemoryTracking=summary "-Xmx${2}m" -cp "$classes" Stress "${args[@]}"
  nmt_summary
}

# The committed size of each category in $work/nmt, as "Name=MiB, ..." text.
nmt_summary() {
  awk '
    /^-[ ]+[A-Za-z]/ && /committed=/ {
      line=$0; sub(/^-[ ]+/, "", line); name=line; sub(/ \(.*/, "", name)
      c=line; sub(/.*committed=/, "", c); sub(/KB.*/, "", c)
      if (c/1024 >= 0.5) { gsub(/ /, "_", name); printf "%s=%.0f, ", name, c/1024 }
    }
    /^Total: / { c=$0; sub(/.*committed=/, "", c); sub(/KB.*/, "", c); total=c }
    END { if (total != "") printf "Total=%.0f", total/1024 }' "$work/nmt"
}

calibrate() {
  local sizes=${SIZES:-128 256 384 512 768 1024 1536 2048}
  local blind=(java -XX:-UseContainerSupport)
  local bounded
  read -r -a bounded <<<"$BOUNDED_FLAGS"
  echo "## Largest -Xmx that Stress ($STRESS_ARGS: seconds threads classes direct-MiB) survives"
  echo
  echo "$(date -u +%Y-%m-%d), $jdk_version, $(nproc) CPUs; container-blind JVM (-XX:-UseContainerSupport,"
  echo "so only -Xmx decides the heap; G1 chosen by ergonomics); $REPEATS runs per probe, $CONFIRM to confirm."
  echo "(i) = JVM defaults for every other region; (ii) = $BOUNDED_FLAGS."
  echo "non-heap = Stress's anonymous RSS (RssAnon) - committed heap, sampled late in the load, in the"
  echo "last run at the result; file = its file-backed RSS (libjvm, CDS archive, modules: reclaimable,"
  echo "and charged to the cgroup only if first read there); kmem = the cgroup's peak kernel memory"
  echo "(page tables, thread kernel stacks, slab); peak = the cgroup's peak charge, page cache included."
  echo
  echo "| limit MiB | (i) max -Xmx | (i) % | (i) non-heap | (i) file | (i) kmem | (i) peak | metaspace / code cache / threads | (ii) max -Xmx | (ii) % | (ii) non-heap | loaded classes |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  local limit heap_default heap_bounded row regions loaded
  declare -A nmt
  for limit in $sizes; do
    say "limit $limit MiB, JVM defaults"
    largest_heap "$limit" "${blind[@]}"
    heap_default=$HEAP
    row="| $limit | $heap_default | $(( heap_default * 100 / limit ))"
    if (( heap_default > 0 )); then
      OUT=$LAST_OK
      row+=" | $(( ($(stress_field rss_anon) - $(stress_field heap_committed)) / MIB ))"
      row+=" | $(mib "$(stress_field rss_file)") | $(mib "$LAST_KMEM_PEAK") | $(mib "$LAST_PEAK")"
      regions="$(mib "$(stress_field metaspace_committed)") / $(mib "$(stress_field code_cache_committed)")"
      row+=" | $regions / $(stress_field java_threads)"

      loaded=$(stress_field loaded_classes)
      nmt[$limit]=$(native_memory "$limit" "$heap_default")
    else
      row+=" | - | - | - | - | -"
      loaded=-
    fi
    say "limit $limit MiB, bounded non-heap"
    largest_heap "$limit" "${blind[@]}" "${bounded[@]}"
    heap_bounded=$HEAP
    row+=" | $heap_bounded | $(( heap_bounded * 100 / limit ))"
    if (( heap_bounded > 0 )); then
      OUT=$LAST_OK
      row+=" | $(( ($(stress_field rss_anon) - $(stress_field heap_committed)) / MIB ))"
    else
      row+=" | -"
    fi
    echo "$row | $loaded |"
  done
  echo
  echo "Native Memory Tracking at the (i) result while the load runs (committed MiB, categories >= 0.5 MiB;"
  echo "-XX:NativeMemoryTracking=summary, jcmd PID VM.native_memory summary, limit + 256 MiB for NMT itself):"
  echo
  for limit in $sizes; do
    [[ -z ${nmt[$limit]-} ]] || echo "- $limit MiB: ${nmt[$limit]}"
  done
}

bench() {
  local sizes=${SIZES:-256 512 1024 2048}
  local jwrap=${JWRAP:-}
  if [[ -z $jwrap ]]; then
    (cd "$repo" && cargo build --release --quiet)
    jwrap=${CARGO_TARGET_DIR:-$repo/target}/release/jwrap
  fi
  [[ -x $jwrap ]] || die "no jwrap binary at $jwrap"

  # Paketo's metaspace input: the classes Stress has loaded when it reports.
  cg_run 4096 java -cp "$classes" Stress 1 4 3000 1
  local loaded_classes
  loaded_classes=$(stress_field loaded_classes)
  [[ -n $loaded_classes ]] || die "Stress did not run: $OUT"

  local rows=() limit flags jwrap_aware jwrap_blind jvm_default fabric8_old paketo
  local safe_blind safe_aware
  for limit in $sizes; do
    say "limit $limit MiB"
    cg_run "$limit" "$jwrap" info --json -- java -XX:-UseContainerSupport -version
    flags=$(python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["jvm_flags"]))' <<<"$OUT")
    cg_run "$limit" "$jwrap" -- java -XX:+PrintFlagsFinal -version
    jwrap_aware=$(mib "$(flag_value MaxHeapSize)")
    cg_run "$limit" "$jwrap" -- java -XX:-UseContainerSupport -XX:+PrintFlagsFinal -version
    jwrap_blind=$(mib "$(flag_value MaxHeapSize)")
    cg_run "$limit" java -XX:+PrintFlagsFinal -version
    jvm_default=$(mib "$(flag_value MaxHeapSize)")
    # fabric8 run-java.sh: JDK >= 10 sets no -Xmx (the JVM default stands); JDK < 10: 25 % of a
    # limit up to 300 MiB, else 50 %, rounded to MiB.
    fabric8_old=$(( limit <= 300 ? (limit * 25 + 50) / 100 : (limit * 50 + 50) / 100 ))
    # Paketo: limit - 10M direct - (14,000,000 B + 5,800 B x classes) - 240M code - 250 x 1M stacks.
    paketo=$(( (limit * MIB - 10 * MIB - 14000000 - 5800 * loaded_classes - 240 * MIB - 250 * MIB) / MIB ))
    (( paketo > 0 )) || paketo="fails ($paketo)"
    say "  jwrap flags: $flags"
    largest_heap "$limit" "$jwrap" -- java -XX:-UseContainerSupport
    safe_blind=$HEAP
    largest_heap "$limit" "$jwrap" -- java
    safe_aware=$HEAP
    rows+=("| $limit MiB | $jwrap_aware | $jwrap_blind | $jvm_default | $jvm_default / $fabric8_old | $paketo | $safe_blind | $safe_aware | $(percent "$jwrap_blind" "$safe_blind") / $(percent "$jwrap_aware" "$safe_aware") | \`$flags\` |")
  done

  local section
  section=$(
    echo "### Heap: what jwrap grants, next to the alternatives and to the largest safe heap"
    echo
    echo "Run $(date -u +%Y-%m-%d) at commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
      "by \`scripts/bench-heap.sh\` on $(nproc) CPUs, $jdk_version."
    echo "Each number is a max heap in MiB, in a real cgroup v1 with that memory limit."
    echo
    echo "- **jwrap**: MaxHeapSize from \`jwrap -- java [-XX:-UseContainerSupport] -XX:+PrintFlagsFinal -version\`"
    echo "  in the cgroup (JDK 17 container-aware / container-blind, as a JDK 8 before 8u191)."
    echo "- **JVM default**: \`java -XX:+PrintFlagsFinal -version\` in the cgroup (container-aware JDK 17)."
    echo "- **fabric8** \`run-java.sh\`: JDK >= 10 sets no -Xmx (the JVM default) / JDK < 10: 25 % up to 300 MiB, else 50 %."
    echo "- **Paketo**: limit - 10M direct - (14,000,000 B + 5,800 B x $loaded_classes classes, what Stress loads) - 240M code cache - 250 x 1M stacks."
    echo "- **largest safe**: the largest \`-Xmx\` with which \`jwrap -- java [-XX:-UseContainerSupport] -Xmx<N>m Stress $STRESS_ARGS\`"
    echo "  exits 0 in every run (bisection to 1 % of the limit, $REPEATS runs per probe, $CONFIRM to confirm;"
    echo "  the user's -Xmx wins, jwrap still emits its other bounds). Stress: seconds, platform threads,"
    echo "  hidden classes, direct MiB; it keeps 85 % of the heap live with churn (tests/java-programs/Stress.java)."
    echo "- **jwrap / safe**: jwrap's heap as a share of the largest safe heap, blind / aware. Target: 85-100 %."
    echo
    echo "| limit | jwrap (aware) | jwrap (blind) | JVM default | fabric8 JDK>=10 / JDK<10 | Paketo | largest safe (blind) | largest safe (aware) | jwrap / safe | jwrap's flags (blind JVM) |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
  )
  echo "$section"
  if [[ -z ${NO_WRITE:-} ]]; then
    SECTION=$section python3 - "$repo/BENCHMARKS.md" <<'EOF'
import os, re, sys
path = sys.argv[1]
text = open(path).read()
new = "<!-- heap:begin -->\n" + os.environ["SECTION"] + "\n<!-- heap:end -->"
text, count = re.subn(r"<!-- heap:begin -->.*?<!-- heap:end -->", lambda _: new, text, flags=re.S)
if count != 1:
    sys.exit("BENCHMARKS.md has no heap:begin/heap:end markers")
open(path, "w").write(text)
EOF
    say "wrote the heap section of BENCHMARKS.md"
  fi
}

# "NN %" of $1 over $2, or "-" when there is no safe heap to compare with.
percent() { if (( $2 > 0 )); then echo "$(( $1 * 100 / $2 )) %"; else echo "-"; fi; }

case $mode in
  calibrate) calibrate ;;
  nmt)
    [[ $# == 3 ]] || die "usage: $0 nmt LIMIT_MIB HEAP_MIB"
    native_memory "$2" "$3"; echo ;;
  bench) bench ;;
  *) die "unknown mode '$mode' (bench or calibrate)" ;;
esac
