#!/usr/bin/env bash
# build-static.sh - build the static release binaries and check that each is static, is built
# for its architecture, and runs alone.
#
#   scripts/build-static.sh [amd64] [arm64]   (default: both; honours CARGO_TARGET_DIR)
#
# amd64: x86_64-unknown-linux-musl, or, when that target cannot be installed, glibc linked
# statically (+crt-static) -> target/jwrap-static-amd64, and target/jwrap-static (the path the
# other scripts use).
# arm64: aarch64-unknown-linux-musl, linked by rust-lld (.cargo/config.toml), from any host
# -> target/jwrap-static-arm64.
# Checks, for each: `readelf` finds no program interpreter and no shared library, the ELF
# machine is the architecture's; the size is
# printed. As root, the binary runs `info` in an empty chroot that holds nothing but itself and
# the /proc and /sys it reads (on another architecture: with qemu-ARCH-static beside it, when
# installed); otherwise (a container build, say) only `--version` runs, outside a chroot.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "build-static: $*"; }
die() { echo "build-static: FAILED: $*" >&2; exit 1; }

arches=("$@")
[[ ${#arches[@]} -gt 0 ]] || arches=(amd64 arm64)
target_dir=${CARGO_TARGET_DIR:-target}

if ! command -v readelf >/dev/null; then
  say "installing binutils for readelf"
  apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
  apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends binutils >/dev/null
fi

has_target() { [[ -d $(rustc --print sysroot)/lib/rustlib/$1 ]]; }
add_target() { has_target "$1" || { command -v rustup >/dev/null && rustup target add "$1"; }; }

# Build ARCH; print the path of the binary cargo made.
build() {
  local arch=$1 target
  case $arch in
    amd64)
      target=x86_64-unknown-linux-musl
      if ! add_target "$target" >&2; then
        target=x86_64-unknown-linux-gnu
        say "no x86_64-unknown-linux-musl target (scripts/setup.sh adds it where it can be" \
            "fetched); fallback: glibc with +crt-static" >&2
        # Non-PIE, as .cargo/config.toml makes the musl build (RUSTFLAGS replaces its flags).
        local flags="-C target-feature=+crt-static -C relocation-model=static"
        say "RUSTFLAGS=\"$flags\" cargo build --release --target $target" >&2
        RUSTFLAGS="$flags" cargo build --release --target "$target" >&2
        echo "$target_dir/$target/release/jwrap"
        return
      fi
      ;;
    arm64)
      target=aarch64-unknown-linux-musl
      add_target "$target" >&2 || die "cannot install the $target target (rustup target add $target)"
      ;;
    *) die "unknown architecture '$arch' (amd64 or arm64)" ;;
  esac
  say "cargo build --release --target $target" >&2
  cargo build --release --target "$target" >&2
  echo "$target_dir/$target/release/jwrap"
}

# Whether this process may make a private mount namespace and chroot (root, and not in a
# container build that forbids it).
can_jail() {
  [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null && command -v chroot >/dev/null \
    && unshare --mount true 2>/dev/null
}

# Run `jwrap --version` and `jwrap info --json` in an empty directory as / (a private mount
# namespace holds the bind mounts of /proc and /sys, so nothing leaks to the host). RUNNER is
# a static program to run jwrap with (the emulator), or empty.
run_alone() {
  local binary=$1 runner=$2 jail out rc
  jail=$(mktemp -d /tmp/jwrap-static-chroot.XXXXXX)
  mkdir "$jail/proc" "$jail/sys"
  cp "$binary" "$jail/jwrap"
  local run=(/jwrap)
  if [[ -n $runner ]]; then
    cp "$runner" "$jail/runner"
    run=(/runner /jwrap)
  fi
  set +e
  # shellcheck disable=SC2016  # $1... are expanded by the inner sh
  out=$(unshare --mount --propagation private sh -c '
    jail=$1; shift
    mount --rbind /proc "$jail/proc" && mount --rbind /sys "$jail/sys" &&
    chroot "$jail" "$@" --version && chroot "$jail" "$@" info --json' \
    chroot-check "$jail" "${run[@]}" 2>&1)
  rc=$?
  set -e
  # Only what was made here is removed: rmdir refuses anything that is still mounted or not empty.
  rm -f "$jail/jwrap" "$jail/runner"
  rmdir "$jail/proc" "$jail/sys" "$jail"
  [[ $rc -eq 0 ]] || die "in an empty chroot: exit status $rc: $out"
  grep -qE '"version": (1|2)' <<<"$out" \
    || die "in an empty chroot, info found no cgroup hierarchy: $out"
  say "runs alone: $(head -n1 <<<"$out"); info in an empty chroot found cgroup" \
      "v$(grep -oE '"version": [12]' <<<"$out" | head -n1 | grep -oE '[12]$')"
}

host=$(uname -m)
for arch in "${arches[@]}"; do
  case $arch in
    amd64) machine="Advanced Micro Devices X86-64" cpu=x86_64 ;;
    arm64) machine=AArch64 cpu=aarch64 ;;
    *) die "unknown architecture '$arch' (amd64 or arm64)" ;;
  esac
  out=target/jwrap-static-$arch
  # What runs the binary here: nothing on its own architecture, else the emulator (if any).
  runner=""
  [[ $cpu == "$host" ]] || runner=$(command -v "qemu-$cpu-static" || echo none)
  binary=$(build "$arch")
  [[ -x $binary ]] || die "$binary was not built"

  if readelf -l "$binary" | grep -q INTERP; then
    die "$binary has a program interpreter (dynamically linked): $(readelf -l "$binary" | grep -A1 INTERP)"
  fi
  if readelf -d "$binary" | grep -q NEEDED; then
    die "$binary needs shared libraries: $(readelf -d "$binary" | grep NEEDED)"
  fi
  found=$(readelf -h "$binary" | sed -n 's/^ *Machine: *//p')
  [[ $found == "$machine" ]] || die "$binary is built for '$found', not $arch ('$machine')"
  say "$arch static: no INTERP, no NEEDED ($(readelf -h "$binary" | awk '/Type:/{print $2}')), machine $found"
  mkdir -p target
  cp "$binary" "$out"
  [[ $arch != amd64 ]] || cp "$binary" target/jwrap-static
  size=$(stat -c %s "$out")
  say "$binary -> $out, $size bytes ($((size / 1024)) KiB), $arch"

  if [[ $runner == none ]]; then
    say "$arch: no qemu-$cpu-static on this $host machine (scripts/setup.sh installs" \
        "qemu-user-static): not run"
  elif can_jail; then
    run_alone "$out" "$runner"
  else
    # Without root (or in a container build) there is no chroot; the binary at least starts
    # without a loader.
    ${runner:+"$runner"} "$out" --version >/dev/null || die "$out --version failed"
    say "no private mount namespace here: checked --version only (no empty-chroot run)"
  fi
done
