#!/usr/bin/env bash
# fault-inject.sh - jwrap under hostile conditions: inherited signal dispositions and masks, file
# descriptor, process and address-space limits, no /proc, PID 1 with siblings. Every case must end
# within its time bound with the documented exit code (or, where the environment decides, one of
# the listed codes) and never with a hang, a panic or an abort.
#
#   scripts/fault-inject.sh [JWRAP]     (default: target/debug/jwrap; run by scripts/test.sh)
#
# Cases that need root (cgroups, namespaces) are skipped with a message otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

jwrap=$(realpath "${1:-${JWRAP_BIN:-target/debug/jwrap}}")
[[ -x $jwrap ]] || { echo "fault-inject: no jwrap at $jwrap (cargo build first)" >&2; exit 2; }
bound=20
failures=0
work=$(mktemp -d /tmp/jwrap-fault.XXXXXX)
cgroup=
cleanup() {
  [[ -n $cgroup && -d $cgroup ]] && rmdir "$cgroup" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A JDK without a release file: `java -version` must run, and may fail to start.
mkdir -p "$work/jdk/bin"
printf '#!/bin/sh\n[ "$1" = -version ] && { echo '"'"'openjdk version "17.0.2"'"'"' >&2; exit 0; }\nexit 3\n' \
  >"$work/jdk/bin/java"
chmod 755 "$work/jdk/bin/java"

# Sets the signal state with raw system calls (libc refuses 32 and 33), then execs the rest.
#   signal-state ignore|block|both|chld PROGRAM ARGS...
cat >"$work/signal-state.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_rt_sigaction, SYS_rt_sigprocmask, SIG_SETMASK = 13, 14, 2
mode = sys.argv[1]
ignore = (ctypes.c_ulong * 4)(1, 0, 0, 0)  # the kernel's struct sigaction: SIG_IGN
signals = [17] if mode == "chld" else [s for s in range(1, 65) if s not in (9, 19)]
if mode in ("ignore", "both", "chld"):
    for s in signals:
        libc.syscall(SYS_rt_sigaction, s, ignore, None, 8)
if mode in ("block", "both"):
    everything = ctypes.c_ulong(0xFFFFFFFFFFFFFFFF)
    libc.syscall(SYS_rt_sigprocmask, SIG_SETMASK, ctypes.byref(everything), None, 8)
os.execv(sys.argv[2], sys.argv[2:])
PY

# case NAME "ALLOWED CODES" COMMAND...: runs COMMAND with a bound; the exit code must be one of
# ALLOWED, and stderr must show no panic.
case_() {
  local name=$1 allowed=$2
  shift 2
  local started=$SECONDS code
  timeout -s KILL "$bound" "$@" >"$work/out" 2>"$work/err" </dev/null
  code=$?
  local verdict=ok
  if [[ $code -eq 137 && $((SECONDS - started)) -ge $bound ]]; then
    verdict="FAIL (hang: killed after ${bound} s)"
  elif [[ " $allowed " != *" $code "* ]]; then
    verdict="FAIL (exit $code, expected one of: $allowed)"
  elif grep -q -e "panicked" -e "memory allocation of" "$work/err"; then
    verdict="FAIL (panic or abort)"
  fi
  [[ $verdict == ok ]] || failures=$((failures + 1))
  printf '%-58s exit %-3s %3ss  %s\n' "$name" "$code" "$((SECONDS - started))" "$verdict"
  [[ $verdict == ok ]] || sed 's/^/    | /' "$work/err" | head -n 8
}
skip() { printf '%-58s skipped: %s\n' "$1" "$2"; }

echo "fault-inject: $jwrap"

# --- launching as execvp does (glibc does the sh fallback itself, musl does not) ------------
printf 'exit 7\n' >"$work/no-shebang"
printf '#!/no/such/interpreter\n' >"$work/bad-interpreter"
chmod 755 "$work/no-shebang" "$work/bad-interpreter"
case_ "launch: a script without #! runs under sh" "7" "$jwrap" -- "$work/no-shebang"
case_ "launch: the same with --exec" "7" "$jwrap" --exec -- "$work/no-shebang"
case_ "launch: a missing #! interpreter" "126" "$jwrap" -- "$work/bad-interpreter"
if ! grep -q "/no/such/interpreter" "$work/err"; then
  echo "    | the message does not name the interpreter: $(cat "$work/err")"
  failures=$((failures + 1))
fi

# --- inherited signal state -----------------------------------------------------------------
for mode in ignore block both chld; do
  case_ "signals: every one $mode (SIGCHLD included), exit 3" "3" \
    python3 "$work/signal-state.py" "$mode" "$jwrap" -- sh -c 'exit 3'
done
case_ "signals: SIGCHLD ignored, SIGTERM forwarded" "143" \
  python3 "$work/signal-state.py" chld /bin/sh -c \
  '"$0" -- sleep 30 & pid=$!; sleep 0.5; kill -TERM $pid; wait $pid' "$jwrap"
case_ "signals: every one ignored and blocked, java probe" "3" \
  python3 "$work/signal-state.py" both "$jwrap" -- "$work/jdk/bin/java" -jar app.jar

# --- file descriptors -----------------------------------------------------------------------
# 3: no room for the signalfd; 4: none for the spawn's error pipe; 16: enough.
# (A dynamically linked build may not even load with 3 descriptors: its loader then exits 127.)
case_ "fds: ulimit -n 3" "125 127" sh -c 'ulimit -n 3; exec "$0" -- true' "$jwrap"
case_ "fds: ulimit -n 4" "125" sh -c 'ulimit -n 4; exec "$0" -- true' "$jwrap"
case_ "fds: ulimit -n 16" "0" sh -c 'ulimit -n 16; exec "$0" -- true' "$jwrap"
case_ "fds: ulimit -n 4, java probe" "125" sh -c 'ulimit -n 4; exec "$0" -- "$1" -jar a' "$jwrap" \
  "$work/jdk/bin/java"

# --- address space --------------------------------------------------------------------------
# Too little to load jwrap at all is the shell's failure (its exec fails: 2, 126 or 127);
# otherwise jwrap runs the command or reports that it could not (125). Never an abort.
# A limit below jwrap's own file size (a debug build is about 25 MiB) is no test of jwrap: the
# kernel may fail that exec after the point of no return and kill the shell with SIGSEGV before
# jwrap runs. Those limits run on the static binary, about 1 MiB.
jwrap_kib=$(( $(stat -c %s "$jwrap") / 1024 ))
for kib in 4096 16384 65536 262144; do
  if (( kib < 2 * jwrap_kib )); then
    printf '%-58s %-10s %s\n' "memory: ulimit -v $kib, java probe" "-" \
      "skipped: jwrap's file is $jwrap_kib KiB (the static binary runs it)"
    continue
  fi
  case_ "memory: ulimit -v $kib, java probe" "0 2 3 125 126 127" \
    sh -c 'ulimit -v "$1"; exec "$0" -- "$2" -jar a' "$jwrap" "$kib" "$work/jdk/bin/java"
done

# --- processes ------------------------------------------------------------------------------
if [[ $(id -u) -eq 0 && -w /sys/fs/cgroup/pids ]]; then
  cgroup=/sys/fs/cgroup/pids/jwrap-fault-$$
  mkdir -p "$cgroup"
  # 1: jwrap cannot fork at all; 2: the probe or the command, one at a time.
  for max in 1 2; do
    echo "$max" >"$cgroup/pids.max"
    case_ "pids: pids.max $max, java probe" "3 125" \
      sh -c 'echo $$ > "$1/cgroup.procs" && exec "$0" -- "$2" -jar a' "$jwrap" "$cgroup" \
      "$work/jdk/bin/java"
  done
else
  skip "pids: pids.max 1 and 2" "needs root and the v1 pids controller"
fi

# --- no /proc, PID 1 with siblings -----------------------------------------------------------
if [[ $(id -u) -eq 0 ]] && unshare --mount true 2>/dev/null; then
  case_ "no /proc: exit 3" "3" \
    unshare --mount sh -c 'umount -l /proc && exec "$0" -- sh -c "exit 3"' "$jwrap"
  case_ "no /proc: orphans outside the group drained" "0" \
    unshare --mount sh -c 'umount -l /proc && exec "$0" --drain-timeout 0.5 -- sh -c "setsid sleep 30 & exit 0"' \
    "$jwrap"
else
  skip "no /proc" "needs root and unshare --mount"
fi
if [[ $(id -u) -eq 0 ]] && unshare --pid --fork --mount-proc true 2>/dev/null; then
  case_ "PID 1 with siblings at PID 2 and 3: exit 3" "3" \
    unshare --pid --fork --kill-child --mount-proc sh -c \
    'sleep 2 & sleep 2 & exec "$0" -- sh -c "exit 3"' "$jwrap"
  case_ "PID 1 with a sibling, no /proc: exit 3" "3" \
    unshare --pid --fork --kill-child --mount sh -c \
    'umount -l /proc; sleep 2 & exec "$0" -- sh -c "exit 3"' "$jwrap"
  case_ "PID 1, every signal ignored and blocked: exit 3" "3" \
    unshare --pid --fork --kill-child --mount-proc python3 "$work/signal-state.py" both "$jwrap" \
    -- sh -c 'exit 3'
else
  skip "PID 1 with siblings" "needs root and unshare --pid"
fi

if ((failures)); then
  echo "fault-inject: $failures case(s) failed"
  exit 1
fi
echo "fault-inject: every case ended as documented"
