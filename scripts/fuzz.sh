#!/usr/bin/env bash
# fuzz.sh - run each fuzz target in fuzz/ (cargo-fuzz, libFuzzer) for SECONDS and print how many
# inputs it ran; stops at the first crash, whose input libFuzzer leaves in fuzz/artifacts/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]   (default 60 s each, every target)
#
# cargo-fuzz builds with compiler flags only nightly Rust accepts (the sanitizer, coverage
# instrumentation). With a stable toolchain only, RUSTC_BOOTSTRAP=1 lets stable rustc accept
# them; this script sets it. The corpus (fuzz/corpus/TARGET, not kept in git) starts from the
# files of fixtures/: every mountinfo, /proc/self/cgroup and cgroup value file there.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo/fuzz"

say() { echo "fuzz: $*"; }

seconds=${1:-60}
shift || true
if ! command -v cargo-fuzz >/dev/null; then
  say "installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
say "cargo fuzz build -O ($(cargo fuzz --version))"
cargo fuzz build -O 2>&1 | grep -vE '^ *(Compiling|Downloaded|Downloading)' || true

# Seeds: the real files of the fixtures, each in the corpus of the target that parses it.
seed() {
  local target=$1
  shift
  mkdir -p "corpus/$target"
  find "$repo/fixtures" -type f \( "$@" \) -exec sh -c \
    'for f; do cp "$f" "$0/$(sha1sum "$f" | cut -c1-40)"; done' "corpus/$target" {} +
}
seed mountinfo -name mountinfo
seed proc_self_cgroup -path '*/proc/self/cgroup'
seed limit_values -name 'memory.*' -o -name 'cpu.*' -o -name 'cpuset.*' -o -name meminfo -o -name online
mkdir -p corpus/jvm_user_flags corpus/decision

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || mapfile -t targets < <(cargo fuzz list)
status=0
for target in "${targets[@]}"; do
  log=$(mktemp)
  if cargo fuzz run -O "$target" "corpus/$target" -- -max_total_time="$seconds" \
      -print_final_stats=1 >"$log" 2>&1; then
    result="no crash"
  else
    result="CRASH (input in fuzz/artifacts/$target/)"
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -n 10
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  corpus=$(find "corpus/$target" -type f | wc -l)
  say "$target: ${runs:-?} inputs in ${seconds} s, corpus $corpus files, $result"
  rm -f "$log"
done
exit "$status"
