# Sourced by tests/oci/run.sh and tests/vm/run.sh: result lines, set-up of what the suites need
# (Debian packages, a static busybox, the jwrap binary), a download cache, and the small parsers
# (JSON of `jwrap info --json`, `-XX:+PrintFlagsFinal`) the checks use.
#
# The caller sets `suite` (its name) and `repo` (the project's root) before sourcing.
# shellcheck shell=bash disable=SC2154  # suite and repo are the caller's

suite_cache=${JWRAP_SUITES_CACHE:-/var/tmp/jwrap-suites}
suite_started=$(date +%s.%N)
suite_passed=0
suite_failed=0
suite_skipped=0
suite_apt_updated=0

now() { date +%s.%N; }
# Seconds from a `now` timestamp until now, with two decimals.
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
note() { echo "$suite: $*" >&2; }

pass() { echo "PASS $1"; suite_passed=$((suite_passed + 1)); }
fail() { echo "FAIL $1 ($2)"; suite_failed=$((suite_failed + 1)); }
skip_check() { echo "SKIPPED $1 ($2)"; suite_skipped=$((suite_skipped + 1)); }

# The whole suite cannot run on this machine: that is not a failure of jwrap.
skip_suite() {
  echo "SKIPPED: $1"
  exit 0
}

# The last line: "N passed, M failed" (", K skipped" when some were); exit 1 on any failure.
suite_finish() {
  echo "time: $suite suite, wall $(since "$suite_started") s"
  local line="$suite_passed passed, $suite_failed failed"
  ((suite_skipped == 0)) || line+=", $suite_skipped skipped"
  echo "$line"
  exit $((suite_failed > 0))
}

# Root, x86_64, and one run at a time (the cache and, for the VM suite, the CPUs are shared).
suite_start() {
  [[ $(id -u) == 0 ]] || skip_suite "needs root"
  [[ $(uname -m) == x86_64 ]] || skip_suite "needs an x86_64 machine (the static jwrap and the JDKs are x86_64)"
  mkdir -p "$suite_cache"
  exec 9>"$suite_cache/.lock-$suite"
  flock -w 1800 9 || skip_suite "another $suite suite run holds $suite_cache/.lock-$suite"
}

apt_update_once() {
  ((suite_apt_updated)) && return 0
  command -v apt-get >/dev/null || return 1
  note "apt-get update"
  apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null 2>&1 || return 1
  suite_apt_updated=1
}

# install_packages PACKAGE... — apt-get install (no recommends), output in the cache's log.
install_packages() {
  apt_update_once || return 1
  note "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q \
    --no-install-recommends "$@" \
    >"$suite_cache/apt-install.log" 2>&1 || { tail -n 5 "$suite_cache/apt-install.log" >&2; return 1; }
}

# need COMMAND:PACKAGE... — install the packages whose command is missing.
need() {
  local pair missing=()
  for pair; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  ((${#missing[@]} == 0)) || install_packages "${missing[@]}"
}

# Debian's busybox-static, downloaded and unpacked into the cache (not installed: it would
# replace a host's dynamic busybox). Prints its path.
static_busybox() {
  local dir=$suite_cache/busybox tmp
  if [[ ! -x $dir/busybox ]]; then
    apt_update_once || return 1
    tmp=$(mktemp -d /tmp/jwrap-suites-busybox.XXXXXX)
    if ! (cd "$tmp" && apt-get download -q busybox-static >/dev/null 2>&1); then
      rm -rf "$tmp"
      return 1
    fi
    dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/x"
    mkdir -p "$dir"
    cp "$tmp/x/bin/busybox" "$dir/busybox.new"
    mv "$dir/busybox.new" "$dir/busybox"
    rm -rf "$tmp"
  fi
  echo "$dir/busybox"
}

# copy_libs ROOT ELF... — the shared libraries those files load, at the same paths below ROOT.
copy_libs() {
  local root=$1 lib
  shift
  for lib in $(for elf; do ldd "$elf" 2>/dev/null || true; done |
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u); do
    [[ -e $root$lib ]] || cp -L --parents "$lib" "$root"
  done
}

# The jwrap to test: $JWRAP_BIN, else target/jwrap-static (built by scripts/build-static.sh when
# missing). Prints its path; returns 1 with a reason on stderr when there is none.
jwrap_binary() {
  if [[ -n ${JWRAP_BIN-} ]]; then
    [[ -x $JWRAP_BIN ]] || { echo "JWRAP_BIN=$JWRAP_BIN is not an executable file" >&2; return 1; }
    realpath "$JWRAP_BIN"
    return 0
  fi
  local default=$repo/target/jwrap-static
  if [[ ! -x $default && -x $repo/scripts/build-static.sh ]]; then
    note "no $default: running scripts/build-static.sh"
    "$repo/scripts/build-static.sh" >&2 || return 1
  fi
  [[ -x $default ]] || { echo "no $default (set JWRAP_BIN or run scripts/build-static.sh)" >&2; return 1; }
  echo "$default"
}

# Small parsers, in Python so that JSON is read as JSON:
#   suite_py expect FILE KEY=JSON|KEY~TEXT...  the JSON object in FILE has KEY (dotted) equal to
#                                              the JSON value (numbers within 1e-9), or a string
#                                              containing TEXT; prints what differs, exit 1 if any
#   suite_py get FILE KEY                      a value (JSON-encoded unless it is a string)
#   suite_py heap FILE                         the heap jwrap plans in `jwrap info --json -- java..`:
#                                              bytes of -Xmx / -XX:MaxHeapSize= in jvm_flags
#   suite_py flag FILE NAME                    the value of NAME in -XX:+PrintFlagsFinal output
#   suite_py section FILE NAME                 the lines between "== begin NAME" and "== end NAME"
suite_py() {
  python3 - "$@" <<'PY'
import json, re, sys

def json_in(path):
    # The object runs from the first "{" to the last "}": anything around it is other output.
    text = open(path, errors="replace").read()
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        sys.exit(f"no JSON object in {path}")
    return json.loads(text[start:end + 1])

MISSING = object()

def lookup(doc, dotted):
    for part in dotted.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return MISSING
        doc = doc[part]
    return doc

def same(want, got):
    numbers = (int, float)
    if isinstance(want, numbers) and isinstance(got, numbers) and not isinstance(got, bool):
        return abs(want - got) <= 1e-9
    return want == got

UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

def size_bytes(text):
    match = re.fullmatch(r"(\d+)([kmgt]?)", text, re.IGNORECASE)
    return int(match.group(1)) * UNITS[match.group(2).lower()] if match else None

command, path, *rest = sys.argv[1:]
if command == "expect":
    doc, wrong = json_in(path), []
    for item in rest:
        key, op, want = re.fullmatch(r"([\w.]+)([=~])(.*)", item).groups()
        got = lookup(doc, key)
        if got is MISSING:
            wrong.append(f"{key} missing")
        elif op == "=" and not same(json.loads(want), got):
            wrong.append(f"{key}={json.dumps(got)}, want {want}")
        elif op == "~" and not (isinstance(got, str) and want in got):
            wrong.append(f"{key}={json.dumps(got)}, want it to contain {want}")
    print("; ".join(wrong))
    sys.exit(1 if wrong else 0)
elif command == "get":
    got = lookup(json_in(path), rest[0])
    print("(missing)" if got is MISSING else got if isinstance(got, str) else json.dumps(got))
elif command == "heap":
    flags = lookup(json_in(path), "jvm_flags")
    for flag in flags if isinstance(flags, list) else []:
        match = re.fullmatch(r"-Xmx(\w+)|-XX:MaxHeapSize=(\w+)", flag)
        if match:
            print(size_bytes(match.group(1) or match.group(2)))
            break
elif command == "flag":
    match = re.search(r"\b%s\s+:?=\s+(\S+)" % re.escape(rest[0]), open(path, errors="replace").read())
    if match:
        print(match.group(1))
elif command == "section":
    inside = False
    for line in open(path, errors="replace").read().replace("\r", "").splitlines():
        if line == f"== end {rest[0]}":
            break
        if inside:
            print(line)
        inside = inside or line == f"== begin {rest[0]}"
PY
}

# remove_work DIR: remove a run's temporary directory, or keep it when JWRAP_SUITES_KEEP=1.
remove_work() {
  if [[ ${JWRAP_SUITES_KEEP-} == 1 ]]; then
    [[ ! -e $1 ]] || note "kept $1 (JWRAP_SUITES_KEEP=1)"
  else
    rm -rf "$1"
  fi
}
# work_removed DIR: the directory is gone (or is kept on purpose).
work_removed() { [[ ${JWRAP_SUITES_KEEP-} == 1 || ! -e $1 ]]; }

# MiB with one decimal, for messages.
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# heap_matches NAME MAX_HEAP_SIZE PLANNED: the JVM's MaxHeapSize is jwrap's heap, up to the JVM
# rounding it up to its heap alignment (at most a few MiB).
heap_matches() {
  local name=$1 actual=$2 planned=$3
  if [[ -z $planned ]]; then
    fail "$name" "jwrap info shows no heap flag (-Xmx) in jvm_flags"
  elif [[ -z $actual ]]; then
    fail "$name" "no MaxHeapSize in the JVM's -XX:+PrintFlagsFinal output"
  elif ((actual >= planned && actual - planned <= 4 * 1048576)); then
    pass "$name (MaxHeapSize $actual = jwrap's heap $planned, $(mib "$actual"))"
  else
    fail "$name" "MaxHeapSize $actual ($(mib "$actual")), jwrap's heap $planned ($(mib "$planned"))"
  fi
}
