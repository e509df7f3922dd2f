#!/usr/bin/env bash
# setup.sh - install what building and testing jwrap need and a fresh machine may lack.
#
# Idempotent: installs only what is missing and says what it did. Run by the README's first
# command and by CI. Exits non-zero only when something essential is missing afterwards (cargo,
# or a Debian package the tests use); the musl target and cargo-nextest have fallbacks.
#
#   scripts/setup.sh
set -uo pipefail

say() { echo "setup: $*"; }
essential_failed=0

# --- Rust -------------------------------------------------------------------------------------
if ! command -v cargo >/dev/null; then
  say "cargo not found: install a Rust toolchain (rustup) first"
  exit 1
fi
say "cargo: $(cargo --version)"

musl=x86_64-unknown-linux-musl
if [[ -d $(rustc --print sysroot)/lib/rustlib/$musl ]]; then
  say "target $musl: already installed"
elif command -v rustup >/dev/null && rustup target add "$musl"; then
  say "target $musl: installed"
else
  say "target $musl: not available; scripts/build-static.sh will use the fallback" \
      "(x86_64-unknown-linux-gnu with +crt-static)"
fi

if cargo nextest --version >/dev/null 2>&1; then
  say "cargo-nextest: already installed"
elif cargo install --locked cargo-nextest; then
  say "cargo-nextest: installed"
else
  say "cargo-nextest: could not be installed; the tests run with cargo test instead"
fi

# --- Debian packages: command -> package --------------------------------------------------------
# unshare (util-linux): the real-cgroup tests' namespaces; ps/pgrep (procps): process checks in
# the init tests; readelf (binutils): scripts/build-static.sh checks the binary is static.
# cc (gcc): the init tests build a small C helper for the orphan storm; java/javac
# (openjdk-17-jdk-headless): the real-JVM tests; python3 and its yaml module: the terminal and
# example tests; ab (apache2-utils): the load in the real-server sizing tests.
declare -A package_of=([unshare]=util-linux [ps]=procps [pgrep]=procps [readelf]=binutils
  [cc]=gcc [javac]=openjdk-17-jdk-headless [python3]=python3 [ab]=apache2-utils)
missing=()
for tool in "${!package_of[@]}"; do
  if ! command -v "$tool" >/dev/null; then
    package=${package_of[$tool]}
    [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
  fi
done
if ! python3 -c 'import yaml' 2>/dev/null; then
  missing+=(python3-yaml)
fi
# Real servers the sizing tests run (tests/servers.rs): Debian's Tomcat 10 and Jetty 9, as
# installed files only (their system services are not used; the tests start them in a cgroup).
[[ -x /usr/share/tomcat10/bin/catalina.sh ]] || missing+=(tomcat10)
[[ -f /usr/share/jetty9/start.jar ]] || missing+=(jetty9)
if [[ ${#missing[@]} -eq 0 ]]; then
  say "Debian packages: nothing missing (util-linux, procps, binutils, gcc, a JDK, python3-yaml)"
elif ! command -v apt-get >/dev/null; then
  say "missing packages ${missing[*]}, and no apt-get to install them"
  essential_failed=1
else
  say "installing ${missing[*]}"
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
  if "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "${missing[@]}"; then
    say "installed ${missing[*]}"
  else
    say "could not install ${missing[*]}"
    essential_failed=1
  fi
fi

if [[ $essential_failed -ne 0 ]]; then
  say "FAILED: see above"
  exit 1
fi
say "done"
