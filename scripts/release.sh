#!/usr/bin/env bash
# release.sh - the release files: one static binary per architecture and their checksums.
#
#   scripts/release.sh [DIR]                    build both (scripts/build-static.sh), package
#                                               into DIR (default target/dist)
#   scripts/release.sh --package DIR ARCH=FILE...   package binaries already built
#
# DIR then holds jwrap-VERSION-amd64, jwrap-VERSION-arm64 (VERSION from Cargo.toml) and
# SHA256SUMS, in the format `sha256sum -c` reads. Those are the files to publish: the README's
# Dockerfile lines download one and check it against SHA256SUMS.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

say() { echo "release: $*"; }
die() { echo "release: FAILED: $*" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
[[ -n $version ]] || die "no version in Cargo.toml"

package() {
  local dir=$1 pair arch file
  shift
  [[ $# -gt 0 ]] || die "nothing to package (ARCH=FILE...)"
  mkdir -p "$dir"
  rm -f "$dir"/jwrap-*-amd64 "$dir"/jwrap-*-arm64 "$dir/SHA256SUMS"
  for pair in "$@"; do
    arch=${pair%%=*} file=${pair#*=}
    [[ $arch == amd64 || $arch == arm64 ]] || die "unknown architecture '$arch' (amd64 or arm64)"
    [[ -f $file ]] || die "$file: no such file"
    install -m 0755 "$file" "$dir/jwrap-$version-$arch"
  done
  (
    cd "$dir"
    sha256sum jwrap-"$version"-* >SHA256SUMS
    sha256sum --check --strict --quiet SHA256SUMS || die "SHA256SUMS does not check"
    for file in jwrap-"$version"-*; do
      say "$dir/$file: $(stat -c %s "$file") bytes, sha256 $(sha256sum "$file" | cut -d' ' -f1)"
    done
  )
}

if [[ ${1-} == --package ]]; then
  [[ $# -ge 3 ]] || die "usage: scripts/release.sh --package DIR ARCH=FILE..."
  dir=$2
  shift 2
  package "$dir" "$@"
  exit 0
fi

dir=${1:-$repo/target/dist}
"$repo/scripts/build-static.sh" amd64 arm64
package "$dir" amd64="$repo/target/jwrap-static-amd64" arm64="$repo/target/jwrap-static-arm64"
say "version $version in $dir"
