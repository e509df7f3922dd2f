#!/usr/bin/env bash
# build-static.sh - build the static release binary and check that it is static and runs alone.
#
# musl when the target is installed (scripts/setup.sh tries to add it), else glibc linked
# statically (+crt-static). The result is copied to target/jwrap-static, the path other scripts
# use. Checks: `readelf` finds no program interpreter and no shared library; as root, the
# binary runs `info` in an empty chroot that holds nothing but itself and the /proc and /sys
# it reads (otherwise only `--version`, outside a chroot).
#
#   scripts/build-static.sh          (honours CARGO_TARGET_DIR for the build itself)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "build-static: $*"; }
die() { echo "build-static: FAILED: $*" >&2; exit 1; }

target_dir=${CARGO_TARGET_DIR:-target}
musl=x86_64-unknown-linux-musl
if [[ -d $(rustc --print sysroot)/lib/rustlib/$musl ]]; then
  target=$musl
  say "cargo build --release --target $target"
  cargo build --release --target "$target"
else
  target=x86_64-unknown-linux-gnu
  say "no $musl target (scripts/setup.sh adds it where it can be fetched); fallback:"
  # Non-PIE, as .cargo/config.toml makes the musl build (RUSTFLAGS replaces that file's flags).
  flags="-C target-feature=+crt-static -C relocation-model=static"
  say "RUSTFLAGS=\"$flags\" cargo build --release --target $target"
  RUSTFLAGS="$flags" cargo build --release --target "$target"
fi
binary=$target_dir/$target/release/jwrap
[[ -x $binary ]] || die "$binary was not built"

if ! command -v readelf >/dev/null; then
  say "installing binutils for readelf"
  apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
  apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends binutils >/dev/null
fi
if readelf -l "$binary" | grep -q INTERP; then
  die "$binary has a program interpreter (dynamically linked): $(readelf -l "$binary" | grep -A1 INTERP)"
fi
if readelf -d "$binary" | grep -q NEEDED; then
  die "$binary needs shared libraries: $(readelf -d "$binary" | grep NEEDED)"
fi
say "static: no INTERP, no NEEDED ($(readelf -h "$binary" | awk '/Type:/{print $2}'))"

mkdir -p target
cp "$binary" target/jwrap-static
size=$(stat -c %s target/jwrap-static)
say "$binary -> target/jwrap-static, $size bytes ($((size / 1024)) KiB), $target"

# A static binary must run where nothing else is: an empty directory as /, with only the kernel's
# /proc and /sys bind-mounted (in a private mount namespace, so nothing leaks to the host).
if [[ $(id -u) -eq 0 ]] && command -v unshare >/dev/null && command -v chroot >/dev/null; then
  jail=$(mktemp -d /tmp/jwrap-static-chroot.XXXXXX)
  mkdir "$jail/proc" "$jail/sys"
  cp target/jwrap-static "$jail/jwrap"
  set +e
  # shellcheck disable=SC2016  # $1 is expanded by the inner sh
  out=$(unshare --mount --propagation private sh -c '
    mount --rbind /proc "$1/proc" && mount --rbind /sys "$1/sys" &&
    chroot "$1" /jwrap --version && chroot "$1" /jwrap info --json' chroot-check "$jail" 2>&1)
  rc=$?
  set -e
  # Only what was made here is removed: rmdir refuses anything that is still mounted or not empty.
  rm -f "$jail/jwrap"
  rmdir "$jail/proc" "$jail/sys" "$jail"
  [[ $rc -eq 0 ]] || die "in an empty chroot: exit status $rc: $out"
  grep -qE '"version": (1|2)' <<<"$out" \
    || die "in an empty chroot, info found no cgroup hierarchy: $out"
  say "runs alone: $(head -n1 <<<"$out"); info in an empty chroot found cgroup" \
      "v$(grep -oE '"version": [12]' <<<"$out" | head -n1 | grep -oE '[12]$')"
else
  # Without root there is no chroot; the binary at least starts without a loader.
  target/jwrap-static --version >/dev/null || die "target/jwrap-static --version failed"
  say "not root: checked --version only (no empty-chroot run)"
fi
