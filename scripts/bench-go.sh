#!/usr/bin/env bash
# bench-go.sh - a real Go program under memory pressure in a real cgroup v1: does GOMEMLIMIT at
# a share of the limit keep it alive, and how close does it come to the limit?
#
# The program (built here by the Go on PATH or $GO) keeps a live set of 64 KiB slices (a share
# of the limit), then for a few seconds replaces them one by one and allocates garbage beside
# them, as a cache-heavy server does. Each run gets a fresh memory cgroup (swap closed) with
# LIMIT_MIB, and GOMEMLIMIT unset or at a share of the limit. The table says how it ended, the
# cgroup's peak (memory.max_usage_in_bytes) and the collections Go ran. Needs root, cgroup v1.
#
#   scripts/bench-go.sh [LIMIT_MIB]   (default 256)
set -uo pipefail
limit_mib=${1:-256}
go=${GO:-go}
work=$(mktemp -d)
memroot=/sys/fs/cgroup/memory$(awk -F: '$2=="memory"{print $3}' /proc/self/cgroup)
base=$memroot/jwrap-bench-go.$$
trap 'rmdir "$base"/* "$base" 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$base"

cat > "$work/main.go" <<'GO'
package main

import (
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"strconv"
	"time"
)

var sink []byte

// chunk is 64 KiB with every page written, so that it is resident, as real data is.
func chunk(n int) []byte {
	b := make([]byte, 64<<10)
	for k := 0; k < len(b); k += 4096 {
		b[k] = byte(n)
	}
	return b
}

func main() {
	liveMiB, _ := strconv.Atoi(os.Args[1])
	live := make([][]byte, liveMiB*16)
	for i := range live {
		live[i] = chunk(i)
	}
	deadline := time.Now().Add(4 * time.Second)
	for n := 0; time.Now().Before(deadline); n++ {
		i := rand.Intn(len(live))
		live[i] = chunk(n)
		for j := 0; j < 4; j++ {
			sink = chunk(j)
		}
	}
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	fmt.Printf("ok gc=%d sys=%dMiB\n", stats.NumGC, stats.Sys>>20)
}
GO
printf 'module bench\n\ngo 1.19\n' > "$work/go.mod"
(cd "$work" && GOTOOLCHAIN=local GOPROXY=off CGO_ENABLED=0 "$go" build -o load .) || exit 1

echo "| limit MiB | live set | GOMEMLIMIT | end | peak MiB (of limit) | Go's collections |"
echo "|---|---|---|---|---|---|"
for live_pct in 40 60 75 85; do
  for share in none 90 95; do
    dir=$base/$live_pct-$share
    mkdir "$dir"
    echo $((limit_mib << 20)) > "$dir/memory.limit_in_bytes"
    echo $((limit_mib << 20)) > "$dir/memory.memsw.limit_in_bytes" 2>/dev/null
    env=(env -u GOMEMLIMIT)
    [[ $share != none ]] && env=(env GOMEMLIMIT=$((limit_mib * share / 100))MiB)
    out=$(sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' sh "$dir" \
      "${env[@]}" "$work/load" $((limit_mib * live_pct / 100)) 2>&1)
    status=$?
    peak=$(( $(cat "$dir/memory.max_usage_in_bytes") >> 20 ))
    end="exit $status"; [[ $status -eq 0 ]] && end=ok; [[ $status -eq 137 ]] && end="KERNEL-OOM-KILL"
    gc=$(grep -o 'gc=[0-9]*' <<<"$out" | cut -d= -f2)
    label=$share; [[ $share != none ]] && label="$share % ($((limit_mib * share / 100))MiB)"
    printf '| %s | %s %% | %s | %s | %s (%s %%) | %s |\n' "$limit_mib" "$live_pct" "$label" "$end" \
      "$peak" $((peak * 100 / limit_mib)) "${gc:--}"
    rmdir "$dir"
  done
done
