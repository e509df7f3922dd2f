#!/usr/bin/env bash
# count-unsafe.sh - unsafe sites in src/ outside #[cfg(test)] modules: blocks, fns, impls,
# extern blocks and #[unsafe(...)] attributes, per file and in all (BENCHMARKS.md cites it).
set -euo pipefail
cd "$(dirname "$0")/.."
total=0
while IFS= read -r file; do
  count=$(awk '/^#\[cfg\(test\)\]/ { exit } !/^[[:space:]]*\/\// { print }' "$file" \
    | { grep -oE 'unsafe *(\{|fn|impl|extern)|unsafe\(' || true; } | wc -l)
  if ((count > 0)); then
    echo "$count $file"
  fi
  total=$((total + count))
done < <(find src -name '*.rs' | sort)
echo "total $total"
