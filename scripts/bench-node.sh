#!/usr/bin/env bash
# bench-node.sh - Node.js under memory pressure in a real cgroup v1, with and without jwrap.
#
# For each memory limit and load, runs `node` in a fresh memory cgroup (swap closed) three
# ways: by itself (Node sizes its heap from the limit it sees), with the fixed 75 %
# `--max-old-space-size` jwrap used to add, and under jwrap. Each load grows until it dies and
# prints how much it holds; the table says how it ended (V8's "heap out of memory" abort, exit
# 134, or the kernel's OOM kill, 137) and what it held last. A parent-only row puts the limit on
# a parent cgroup, which Node does not read. Needs root and cgroup v1.
#
#   scripts/bench-node.sh JWRAP_BINARY [LIMITS_MIB...]   (default 128 256 512)
set -uo pipefail
jwrap=${1:?usage: bench-node.sh JWRAP_BINARY [LIMITS_MIB...]}
shift
[[ $# -gt 0 ]] && limits=("$@") || limits=(128 256 512)
memroot=/sys/fs/cgroup/memory$(awk -F: '$2=="memory"{print $3}' /proc/self/cgroup)
base=$memroot/jwrap-bench-node.$$
trap 'for d in "$base"/*/ "$base"; do [[ -d $d ]] && rmdir "$d/child" "$d" 2>/dev/null; done' EXIT
mkdir -p "$base"

# Objects: small JS objects kept in an array, until the end. Buffers: first a quarter of the
# limit in 64 KiB Buffers (outside V8's heap, as a server's I/O buffers are), then objects.
read -r -d '' LOAD <<'JS'
const kind = process.argv[1];
const keep = [];
let n = 0;
if (kind === 'buffers') {
  for (let i = 0; i < Number(process.argv[2]) / 4 * 16; i++) keep.push(Buffer.alloc(65536, i & 0xff));
}
const report = () => {
  const m = process.memoryUsage();
  console.log(`held heap=${(m.heapUsed / 1048576).toFixed(0)} ext=${((m.external + m.arrayBuffers) / 1048576).toFixed(0)} rss=${(m.rss / 1048576).toFixed(0)} limit=${(require('v8').getHeapStatistics().heap_size_limit / 1048576).toFixed(0)}`);
};
for (;;) {
  keep.push({ i: n, s: 'x' + n, a: [n, n + 1] });
  if (++n % 50000 === 0) report();
}
JS

run() { # DIR WAY MIB KIND
  local dir=$1 way=$2 mib=$3 kind=$4 out status
  local cmd=(node -e "$LOAD" "$kind" "$mib")
  case $way in
    node) ;;
    fixed75) cmd=(env NODE_OPTIONS="--max-old-space-size=$((mib * 3 / 4))" "${cmd[@]}") ;;
    jwrap) cmd=("$jwrap" -- "${cmd[@]}") ;;
  esac
  out=$(sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$dir" "${cmd[@]}" 2>&1)
  status=$?
  local last; last=$(grep '^held' <<<"$out" | tail -1)
  local how=other
  grep -q 'heap out of memory' <<<"$out" && how=v8-heap-oom
  [[ $status -eq 137 ]] && how=KERNEL-OOM-KILL
  printf '| %s | %s | %s | %s | %s | %s |\n' "$mib" "$kind" "$5" "$way" "$how ($status)" "${last#held }"
}

echo "| limit MiB | load | limit on | run | end (exit) | last held (MiB) |"
echo "|---|---|---|---|---|---|"
for mib in "${limits[@]}"; do
  for kind in objects buffers; do
    for level in own parent; do
      for way in node fixed75 jwrap; do
        dir=$base/$mib-$kind-$level-$way
        mkdir "$dir"
        limit_dir=$dir
        if [[ $level == parent ]]; then mkdir "$dir/child"; fi
        echo $((mib << 20)) > "$limit_dir/memory.limit_in_bytes"
        echo $((mib << 20)) > "$limit_dir/memory.memsw.limit_in_bytes" 2>/dev/null
        target=$dir; [[ $level == parent ]] && target=$dir/child
        run "$target" "$way" "$mib" "$kind" "$level"
        rmdir "$dir/child" 2>/dev/null; rmdir "$dir"
      done
    done
  done
done
