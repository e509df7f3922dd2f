#!/usr/bin/env bash
# servers-matrix.sh - the "Real servers" matrix of BENCHMARKS.md, run by run, resumable.
#
# Usage: scripts/servers-matrix.sh RESULTS_FILE [ROUNDS]
#
# One round is every server (tomcat, jetty, service) x collector (g1, parallel, serial) x limit
# (256, 512, 128, 1024 MiB) under jwrap and with the JVM's own default (the same collector, no
# heap option, no jwrap), each one `scripts/servers.sh run` with 20000 requests and NMT off.
# Rounds interleave the cells, so that a run cut short still covers every cell evenly. Each
# result line is appended to RESULTS_FILE as it ends (with the date and the jwrap commit), and
# runs already in the file count: the matrix continues where it stopped, until every cell has
# ROUNDS runs (default 10). JWRAP: the jwrap binary (default target/release/jwrap, copied once so
# that a rebuild does not change it mid-run).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
results=${1:?usage: $0 RESULTS_FILE [ROUNDS]}
rounds=${2:-10}
bin_dir=$(mktemp -d /var/tmp/jwrap-matrix.XXXXXX)
trap 'rm -rf "$bin_dir"' EXIT
cp "${JWRAP:-$repo/target/release/jwrap}" "$bin_dir/jwrap"
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -s $results ]] || { printf 'date\tcommit\t'; "$repo/scripts/servers.sh" header; } >"$results"
done_runs() { # server limit heap gc
  awk -F'\t' -v s="$1" -v l="$2" -v h="$3" -v g="$4" '$3==s && $4==l && $5==h && $6==g' "$results" | wc -l
}
for round in $(seq "$rounds"); do
  for limit in 256 512 128 1024; do
    for server in tomcat jetty service; do
      for gc in g1 parallel serial; do
        for heap in jwrap default; do
          (( $(done_runs "$server" "$limit" "$heap" "$gc") >= round )) && continue
          line=$(JWRAP="$bin_dir/jwrap" NMT=off "$repo/scripts/servers.sh" run "$server" "$limit" "$heap" "$gc" 20000)
          [[ -n $line ]] && printf '%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$commit" "$line" >>"$results"
        done
      done
    done
  done
done
