#!/usr/bin/env bash
# Every test jwrap has, in the order a failure is cheapest to find: formatting and lints, unit
# and integration tests (fake roots, real processes, real cgroups, a real JVM), the static
# binaries (amd64 and arm64), then the real-environment suites (the release and the arm64 binary
# under QEMU user emulation, an OCI container, QEMU guests). CI runs exactly this.
#
# Usage: scripts/test.sh [--quick]   (--quick skips the static build, the real servers and the
#                                    real-environment suites)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[[ ${1-} == --quick ]] && quick=1

step() { printf '\n=== %s ===\n' "$*"; }
started=$(date +%s)

step "set-up"
scripts/setup.sh

step "format and lints"
cargo fmt --check
cargo clippy --all-targets -- -D warnings

step "unit and integration tests"
# Property tests: at least 100 000 cases per parser (proptest reads PROPTEST_CASES).
export PROPTEST_CASES=${PROPTEST_CASES:-100000}
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --no-fail-fast --success-output never --failure-output final
else
  cargo test --no-fail-fast
fi

step "fault injection"
# Inherited signal states, descriptor, pid and address-space limits, no /proc, PID 1 with
# siblings (about 20 s; the root-only cases skip themselves elsewhere).
cargo build --quiet
scripts/fault-inject.sh target/debug/jwrap

if [[ $quick == 1 ]]; then
  echo "quick run: static build and real-environment suites skipped"
  exit 0
fi

step "static binaries"
scripts/build-static.sh
# The static binary links musl, whose execvp differs from glibc's: the same faults again.
scripts/fault-inject.sh target/jwrap-static

# Real servers (tests/servers.rs): Tomcat, Jetty and a JDK-only service under jwrap in real
# cgroups, 12 variants in sequence under 20000 requests each, on 2 CPUs. Bounded at 30 min;
# about 15 min on an otherwise idle 2-core machine.
step "real servers under load (tests/servers.rs)"
JWRAP_SERVER_TESTS=1 timeout 1800 cargo nextest run --no-fail-fast --no-capture \
  -E 'test(/^servers::/)'

for suite in tests/release/run.sh tests/oci/run.sh tests/vm/run.sh; do
  if [[ -x $suite ]]; then
    step "$suite"
    JWRAP_BIN=$PWD/target/jwrap-static "$suite"
  fi
done

step "all tests passed in $(( $(date +%s) - started )) s"
