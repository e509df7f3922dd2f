//! The init with real processes and real signals: exit codes, forwarding, reaping, escalation,
//! draining, what the child inherits, terminals and job control, and jwrap as PID 1 of a new PID
//! namespace. The sections follow the behaviours README.md lists under "Signals, exit codes and
//! shutdown".
//!
//! Every wait has a deadline, and every process a test starts is killed when the test ends,
//! whether it passed or not, so a broken init fails a test instead of hanging the suite.

use crate::util::{is_root, jwrap, jwrap_path};
use nix::fcntl::OFlag;
use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Long enough for a loaded two-core machine; only reached when something is wrong.
const PATIENCE: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------------------------------
// Harness
// ------------------------------------------------------------------------------------------

/// A process under test (jwrap, or whatever runs it), its stdout as lines and its stderr as
/// text. Dropping it SIGKILLs it and everything below it.
struct Running {
    process: Child,
    lines: Receiver<String>,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = command.spawn().expect("the command starts");
        let stdout = process.stdout.take().expect("stdout is piped");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = process.stderr.take().expect("stderr is piped");
        let stderr = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Running {
            process,
            lines,
            stderr: Some(stderr),
        }
    }

    fn pid(&self) -> i32 {
        self.process.id() as i32
    }

    /// The next line of stdout, or None when none came within `timeout` (or stdout closed).
    fn next_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// The rest of stdout, up to its end (when every process holding it has exited).
    fn remaining_lines(&self) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => lines.push(line),
                Err(RecvTimeoutError::Disconnected) => return lines,
                Err(RecvTimeoutError::Timeout) => panic!("stdout still open after {PATIENCE:?}"),
            }
        }
    }

    /// Read stdout until a line equal to `wanted`; fail the test if it does not come in time.
    fn expect_line(&self, wanted: &str) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut before = Vec::new();
        while let Some(line) = self.next_line(deadline.saturating_duration_since(Instant::now())) {
            if line == wanted {
                return before;
            }
            before.push(line);
        }
        panic!("no line {wanted:?} on stdout within {PATIENCE:?}; got {before:?}");
    }

    fn signal(&self, signal: i32) {
        send(self.pid(), signal);
    }

    /// Wait for the exit, failing the test after `timeout`.
    fn wait_within(&mut self, timeout: Duration) -> ExitStatus {
        match self.exit_within(timeout) {
            Some(status) => status,
            None => panic!("still running after {timeout:?}"),
        }
    }

    /// Exit status, or None if the process still runs after `timeout`.
    fn exit_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.process.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The exit code; fails the test when the process was killed by a signal instead.
    fn code_within(&mut self, timeout: Duration) -> i32 {
        let status = self.wait_within(timeout);
        match status.code() {
            Some(code) => code,
            None => panic!("killed by signal {:?} instead of exiting", status.signal()),
        }
    }

    /// Everything written to stderr (call after the process has exited).
    fn stderr(&mut self) -> String {
        self.stderr
            .take()
            .map(|reader| reader.join().unwrap_or_default())
            .unwrap_or_default()
    }

    /// The command jwrap runs: its child that leads its own process group.
    fn main_child(&self) -> i32 {
        main_child_of(self.pid())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        kill_tree(self.pid());
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Remove the JWRAP_* settings of the environment the tests run in.
fn without_jwrap_settings(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("JWRAP_") {
            command.env_remove(name);
        }
    }
}

/// The binary as /proc/PID/exe shows it.
fn jwrap_exe() -> PathBuf {
    jwrap_path().canonicalize().expect("the jwrap binary")
}

fn is_jwrap(pid: i32) -> bool {
    fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == jwrap_exe())
}

/// Start the command with every signal at its default action and none blocked. Without this,
/// a process started from here inherits whatever this one got; glibc's `posix_spawn`, for one,
/// leaves 32 and 33 ignored in the processes it starts. Raw system calls: libc refuses to touch
/// those two.
fn with_default_signals(command: &mut Command) {
    // SAFETY: only system calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            // The kernel's struct sigaction, all zero: SIG_DFL, no flags, empty mask.
            let default_action = [0usize; 4];
            for signal in
                (1..=64).filter(|&signal| signal != libc::SIGKILL && signal != libc::SIGSTOP)
            {
                let no_old = std::ptr::null_mut::<usize>();
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal,
                    default_action.as_ptr(),
                    no_old,
                    8usize,
                );
            }
            let nothing: u64 = 0;
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &nothing,
                std::ptr::null_mut::<u64>(),
                8usize,
            );
            Ok(())
        });
    }
}

fn send(pid: i32, signal: i32) {
    // SAFETY: kill takes plain integers.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// The direct children of `pid`, zombies included.
fn children(pid: i32) -> Vec<i32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// SIGKILL every descendant of `pid` (children first found, then theirs).
fn kill_tree(pid: i32) {
    let mut pending = children(pid);
    while let Some(next) = pending.pop() {
        pending.extend(children(next));
        // SAFETY: kill takes plain integers; a process that is gone already is fine.
        unsafe { libc::kill(next, libc::SIGKILL) };
    }
}

/// Fields of /proc/PID/stat after the command name: state, ppid, pgrp, session, tty, tpgid...
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 1..)?;
    Some(after.split_whitespace().map(str::to_string).collect())
}

/// The process state letter (R, S, T, Z...), or None when the process is gone.
fn state(pid: i32) -> Option<char> {
    stat_fields(pid)?.first()?.chars().next()
}

fn pgrp(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

fn tpgid(pid: i32) -> Option<i32> {
    stat_fields(pid)?.get(5)?.parse().ok()
}

fn is_alive(pid: i32) -> bool {
    matches!(state(pid), Some(state) if state != 'Z' && state != 'X')
}

/// Wait until `condition` holds; fail the test with `what` if it does not within PATIENCE.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

fn main_child_of(jwrap: i32) -> i32 {
    let mut found = None;
    eventually("jwrap has started its command", || {
        found = children(jwrap)
            .into_iter()
            .find(|&pid| pgrp(pid) == Some(pid));
        found.is_some()
    });
    found.unwrap_or_default()
}

fn zombie_children(pid: i32) -> Vec<i32> {
    children(pid)
        .into_iter()
        .filter(|&child| state(child) == Some('Z'))
        .collect()
}

/// `jwrap ARGS...` ready to start.
fn jwrap_with(args: &[&str]) -> Command {
    let mut command = jwrap();
    command.args(args);
    command
}

fn start(args: &[&str]) -> Running {
    Running::start(jwrap_with(args))
}

/// A system python3 (the /usr/bin one starts much faster than a version-manager shim).
fn python() -> Option<PathBuf> {
    let candidates = [PathBuf::from("/usr/bin/python3"), PathBuf::from("python3")];
    candidates.into_iter().find(|python| {
        Command::new(python)
            .arg("-c")
            .arg("import signal")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

/// A folder for scripts and markers, removed at the end of the test.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

fn write_script(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, text).expect("write the script");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod");
    path.to_string_lossy().into_owned()
}

/// A python3 child that blocks every signal it can and prints each one it receives, one number
/// per line, after a first line `ready`. (glibc keeps 32 and 33 for itself: python cannot
/// wait for them.)
const SIGNAL_PRINTER: &str = r#"
import signal
catch = set(range(1, 65)) - {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD, 32, 33}
signal.pthread_sigmask(signal.SIG_BLOCK, catch)
print("ready", flush=True)
while True:
    print(signal.sigwaitinfo(catch).si_signo, flush=True)
"#;

/// jwrap OPTIONS -- python3 `SIGNAL_PRINTER`, started and ready.
fn start_printer(python: &Path, options: &[&str]) -> Running {
    let mut command = jwrap();
    command
        .args(options)
        .arg("--")
        .arg(python)
        .arg("-c")
        .arg(SIGNAL_PRINTER);
    let running = Running::start(command);
    running.expect_line("ready");
    running
}

/// The next signal number the printer reports, within `timeout`.
fn printed(running: &Running, timeout: Duration) -> Option<i32> {
    running
        .next_line(timeout)
        .map(|line| line.parse().expect("a signal number"))
}

// ------------------------------------------------------------------------------------------
// exit codes
// ------------------------------------------------------------------------------------------

#[test]
fn the_childs_exit_code_is_jwraps() {
    for code in [0, 1, 2, 3, 32, 64, 126, 127, 254, 255] {
        let mut running = start(&["--", "sh", "-c", &format!("exit {code}")]);
        assert_eq!(running.code_within(PATIENCE), code);
        assert_eq!(
            running.stderr(),
            "",
            "exit {code} is not jwrap's business to report"
        );
    }
}

#[test]
fn a_child_killed_by_a_signal_gives_128_plus_n() {
    // 40 is a real-time signal: its status has no name in the libraries' signal enums.
    for (signal, code) in [
        ("TERM", 143),
        ("HUP", 129),
        ("QUIT", 131),
        ("KILL", 137),
        ("SEGV", 139),
        ("40", 168),
    ] {
        let script = format!("ulimit -c 0; kill -{signal} $$; sleep 5");
        let mut running = start(&["--", "sh", "-c", &script]);
        assert_eq!(
            running.code_within(PATIENCE),
            code,
            "child killed by SIG{signal}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// SIGTERM to jwrap
// ------------------------------------------------------------------------------------------

#[test]
fn sigterm_to_jwrap_ends_a_default_child_with_143() {
    let mut running = start(&["--", "sleep", "30"]);
    running.main_child();
    running.signal(libc::SIGTERM);
    assert_eq!(running.code_within(PATIENCE), 143);
}

#[test]
fn a_child_that_handles_sigterm_and_exits_0_gives_0() {
    let script = r#"trap "exit 0" TERM; echo ready; while :; do sleep 0.05; done"#;
    let mut running = start(&["--", "sh", "-c", script]);
    running.expect_line("ready");
    running.signal(libc::SIGTERM);
    assert_eq!(running.code_within(PATIENCE), 0);
}

#[test]
fn success_exit_turns_143_into_0() {
    // A default child killed by TERM, and one that exits 143 itself as a JVM does.
    let killed = ["--", "sh", "-c", "echo ready; exec sleep 30"];
    let jvm_like = [
        "--",
        "sh",
        "-c",
        r#"trap "exit 143" TERM; echo ready; while :; do sleep 0.05; done"#,
    ];
    for child in [&killed[..], &jvm_like[..]] {
        for (option, expected) in [
            (None, 143),
            (Some("--success-exit=143"), 0),
            (Some("--success-exit=1,143"), 0),
        ] {
            let mut command = jwrap();
            command.args(option).args(child);
            let mut running = Running::start(command);
            running.expect_line("ready");
            running.signal(libc::SIGTERM);
            assert_eq!(
                running.code_within(PATIENCE),
                expected,
                "{option:?} {child:?}"
            );
        }
        let mut command = jwrap_with(child);
        command.env("JWRAP_SUCCESS_EXIT", "143");
        let mut running = Running::start(command);
        running.expect_line("ready");
        running.signal(libc::SIGTERM);
        assert_eq!(running.code_within(PATIENCE), 0, "JWRAP_SUCCESS_EXIT=143");
    }
}

// ------------------------------------------------------------------------------------------
// what is forwarded
// ------------------------------------------------------------------------------------------

#[test]
fn every_catchable_signal_reaches_the_child_once_and_in_order() {
    let Some(python) = python() else {
        crate::skip!("needs python3")
    };
    let running = start_printer(&python, &[]);
    // 1–31 but KILL, STOP and CHLD; the fault signals (ILL 4, TRAP 5, ABRT 6, BUS 7, FPE 8,
    // SEGV 11, SYS 31) sent with kill(2) must not kill jwrap; the terminal stops (20–22) are
    // forwarded, not acted on; then real-time signals.
    let mut signals: Vec<i32> = (1..=31)
        .filter(|signal| ![9, 17, 19].contains(signal))
        .collect();
    signals.extend([34, 35, 50, 64]);
    for &signal in &signals {
        running.signal(signal);
        assert_eq!(
            printed(&running, PATIENCE),
            Some(signal),
            "signal {signal} was not forwarded"
        );
    }
    // Nothing arrived twice: after a last USR1, the USR1 is the only line.
    running.signal(libc::SIGUSR1);
    assert_eq!(printed(&running, PATIENCE), Some(libc::SIGUSR1));
    assert_eq!(
        printed(&running, Duration::from_millis(300)),
        None,
        "a signal arrived twice"
    );
    assert!(
        is_alive(running.pid()),
        "jwrap died from a signal it was sent"
    );
}

#[test]
fn the_signals_libc_keeps_for_itself_are_forwarded_too() {
    // glibc reserves 32 and 33 (musl 32–34); sent to jwrap they must not kill it.
    for signal in [32, 33, 34] {
        let mut command = jwrap_with(&["--", "sleep", "30"]);
        with_default_signals(&mut command);
        let mut running = Running::start(command);
        running.main_child();
        running.signal(signal);
        let status = running.wait_within(PATIENCE);
        assert_eq!(
            status.code(),
            Some(128 + signal),
            "signal {signal}: {status:?}"
        );
    }
}

#[test]
fn a_signal_storm_leaves_jwrap_and_the_child_running() {
    let Some(python) = python() else {
        crate::skip!("needs python3")
    };
    let child = r#"
import signal
signal.signal(signal.SIGUSR1, signal.SIG_IGN)
signal.signal(40, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
print("ready", flush=True)
signal.sigwait({signal.SIGTERM})
print("term", flush=True)
"#;
    let mut command = jwrap();
    command.arg("--").arg(&python).arg("-c").arg(child);
    let mut running = Running::start(command);
    running.expect_line("ready");
    let jwrap = running.pid();
    let child = running.main_child();
    let started = Instant::now();
    for sent in 0..100_000 {
        // Real-time signals queue, and the queue is shared by every process of this user:
        // let jwrap catch up rather than fill it.
        if sent % 1000 == 0 {
            eventually("jwrap works through its signal queue", || {
                queued_signals(jwrap) < 5000
            });
        }
        let signal = if sent % 2 == 0 { libc::SIGUSR1 } else { 40 };
        // SAFETY: kill takes plain integers.
        while unsafe { libc::kill(jwrap, signal) } != 0 {
            assert_eq!(
                std::io::Error::last_os_error().raw_os_error(),
                Some(libc::EAGAIN)
            );
            thread::sleep(Duration::from_millis(1));
        }
    }
    assert!(
        running.exit_within(Duration::ZERO).is_none(),
        "jwrap ended during the storm"
    );
    assert!(is_alive(child), "the child died during the storm");
    running.signal(libc::SIGTERM);
    running.expect_line("term");
    assert_eq!(running.code_within(PATIENCE), 0);
    eprintln!(
        "100000 signals sent and forwarded in {:?}",
        started.elapsed()
    );
}

/// The first number of `SigQ: queued/limit` in /proc/PID/status.
fn queued_signals(pid: i32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("SigQ:"))
        .and_then(|value| value.trim().split('/').next()?.parse().ok())
        .unwrap_or(0)
}

// ------------------------------------------------------------------------------------------
// orphans
// ------------------------------------------------------------------------------------------

#[test]
fn orphans_are_adopted_and_reaped_without_a_warning() {
    let dir = scratch();
    let go = dir.path().join("go");
    let script = format!(
        r"i=0; while [ $i -lt 100 ]; do (sleep 3 &); i=$((i+1)); done; echo spawned
           while [ ! -e '{}' ]; do sleep 0.02; done; exit 0",
        go.display()
    );
    let mut running = start(&["--", "sh", "-c", &script]);
    running.expect_line("spawned");
    let jwrap = running.pid();
    let main = running.main_child();
    // Each subshell exits at once: its sleep is re-parented to jwrap, not to the host's init.
    let sleepers = || {
        children(jwrap)
            .into_iter()
            .filter(|&pid| pid != main)
            .collect::<Vec<_>>()
    };
    eventually("all 100 orphans belong to jwrap", || {
        sleepers().len() >= 100
    });
    // They exit while the command still runs, and jwrap reaps them: no zombie, none left.
    eventually("jwrap has reaped every orphan", || sleepers().is_empty());
    assert!(zombie_children(jwrap).is_empty());
    fs::write(&go, "").expect("create the marker");
    assert_eq!(running.code_within(PATIENCE), 0);
    assert_eq!(running.stderr(), "", "no warning when jwrap is not PID 1");
}

/// A C program (built at test time; every machine that builds Rust has a C compiler) that
/// makes `total` orphans fast: each of `total / batch` short-lived processes forks `batch`
/// children that exit at once and then exits without waiting for them.
const ORPHAN_STORM_C: &str = r"
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int total = atoi(argv[1]), batch = atoi(argv[2]);
    for (int made = 0; made < total; made += batch) {
        pid_t parent = fork();
        if (parent == 0) {
            for (int i = 0; i < batch; i++)
                if (fork() == 0) _exit(0);
            _exit(0);
        }
        waitpid(parent, 0, 0);
    }
    return 0;
}
";

fn build_orphan_storm(dir: &Path) -> Option<String> {
    let source = dir.join("storm.c");
    let binary = dir.join("storm");
    fs::write(&source, ORPHAN_STORM_C).ok()?;
    let built = Command::new("cc")
        .arg("-O2")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .status();
    built
        .is_ok_and(|status| status.success())
        .then(|| binary.to_string_lossy().into_owned())
}

#[test]
fn an_orphan_storm_of_10000_leaves_no_zombie() {
    let dir = scratch();
    let Some(storm) = build_orphan_storm(dir.path()) else {
        crate::skip!("needs a C compiler (cc)")
    };
    // Batches of 500 keep the number of live pids far below this machine's pid_max.
    let script = format!("'{storm}' 10000 500 && echo done && exec sleep 30");
    let mut running = start(&["-v", "--", "sh", "-c", &script]);
    let started = Instant::now();
    running.expect_line("done");
    let jwrap = running.pid();
    let main = running.main_child();
    eventually("jwrap has reaped the storm", || children(jwrap) == [main]);
    let reaped_in = started.elapsed();
    running.signal(libc::SIGTERM);
    assert_eq!(running.code_within(PATIENCE), 143);
    // Every orphan's creator exited without waiting: all 10000 were jwrap's to reap.
    let reaped = running
        .stderr()
        .lines()
        .filter(|line| line.contains("reaped pid"))
        .count();
    assert!(reaped >= 10_000, "jwrap reaped {reaped} processes");
    eprintln!("10000 orphans made and reaped in {reaped_in:?}");
}

// ------------------------------------------------------------------------------------------
// the process group
// ------------------------------------------------------------------------------------------

#[test]
fn a_signal_reaches_a_grandchild_behind_a_shell() {
    // The shell handles USR1 only after its foreground `sleep` ends; the sleep has the default
    // action, so only a signal to the whole group ends it early.
    let script = r#"trap ":" USR1; echo ready; sleep 30; exit 7"#;
    let mut running = start(&["--", "sh", "-c", script]);
    running.expect_line("ready");
    let shell = running.main_child();
    // Until it execs, the forked child is a copy of the shell, trap included: wait for `sleep`.
    eventually("the shell runs its sleep", || {
        children(shell).iter().any(|&pid| {
            fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == "sleep")
        })
    });
    running.signal(libc::SIGUSR1);
    assert_eq!(running.code_within(Duration::from_secs(5)), 7);
}

/// `sh -c` with two background sleeps, their pids on stdout, then SIGTERM to jwrap.
/// Returns how many of the sleeps survived jwrap's exit.
fn background_sleeps_surviving(options: &[&str]) -> usize {
    let mut args = options.to_vec();
    args.extend([
        "--drain-timeout",
        "0",
        "--",
        "sh",
        "-c",
        "sleep 30 & echo $!; sleep 30 & echo $!; echo ready; wait",
    ]);
    let mut running = start(&args);
    let pids: Vec<i32> = running
        .expect_line("ready")
        .iter()
        .map(|pid| pid.parse().expect("a pid"))
        .collect();
    assert_eq!(pids.len(), 2);
    running.signal(libc::SIGTERM);
    assert_eq!(running.code_within(PATIENCE), 143);
    // Give killed ones a moment to die (they may stay zombies under the host's init).
    thread::sleep(Duration::from_millis(200));
    let surviving = pids.iter().filter(|&&pid| is_alive(pid)).count();
    for pid in pids {
        // SAFETY: kill takes plain integers.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    surviving
}

#[test]
fn group_mode_signals_the_whole_group_and_single_child_only_the_child() {
    assert_eq!(
        background_sleeps_surviving(&[]),
        0,
        "group mode: the background sleeps get TERM too"
    );
    assert_eq!(
        background_sleeps_surviving(&["--single-child"]),
        2,
        "--single-child: only sh gets TERM"
    );
    let mut command = jwrap();
    command.env("JWRAP_SINGLE_CHILD", "1").args([
        "--drain-timeout",
        "0",
        "--",
        "sh",
        "-c",
        "sleep 30 & echo $!; wait",
    ]);
    let mut running = Running::start(command);
    let Some(sleeper) = running.next_line(PATIENCE) else {
        let status = running.wait_within(PATIENCE);
        panic!(
            "JWRAP_SINGLE_CHILD=1 was refused ({status}): {}",
            running.stderr()
        );
    };
    let sleeper: i32 = sleeper.parse().expect("a pid");
    running.main_child();
    running.signal(libc::SIGTERM);
    assert_eq!(running.code_within(PATIENCE), 143);
    assert!(is_alive(sleeper), "JWRAP_SINGLE_CHILD=1 is --single-child");
    send(sleeper, libc::SIGKILL);
}

// ------------------------------------------------------------------------------------------
// draining what the command left behind
// ------------------------------------------------------------------------------------------

/// A background process that outlives the command: it prints its pid, then runs until
/// SIGTERM, on which it takes `cleanup` seconds and writes `marker`.
fn leftover_script(dir: &Path, cleanup: &str, marker: &Path) -> String {
    write_script(
        dir,
        "leftover.sh",
        &format!(
            "trap 'sleep {cleanup}; echo done > \"{}\"; exit 0' TERM\necho $$\nwhile :; do sleep 0.05; done\n",
            marker.display()
        ),
    )
}

#[test]
fn draining_lets_a_grandchild_finish_its_cleanup() {
    let dir = scratch();
    let marker = dir.path().join("cleaned");
    let leftover = leftover_script(dir.path(), "0.3", &marker);
    let script = format!("'{leftover}' & sleep 0.3; exit 3");
    let mut running = start(&["--", "sh", "-c", &script]);
    let grandchild: i32 = running
        .next_line(PATIENCE)
        .expect("a pid")
        .parse()
        .expect("a pid");
    // The command's own exit code, once the grandchild has finished its cleanup.
    assert_eq!(running.code_within(PATIENCE), 3);
    assert!(
        marker.exists(),
        "the grandchild's cleanup had not finished when jwrap exited"
    );
    assert!(!is_alive(grandchild));
}

#[test]
fn drain_timeout_0_leaves_the_grandchild_alone() {
    let dir = scratch();
    let marker = dir.path().join("cleaned");
    let leftover = leftover_script(dir.path(), "0", &marker);
    let script = format!("'{leftover}' & sleep 0.3; exit 3");
    let mut running = start(&["--drain-timeout", "0", "--", "sh", "-c", &script]);
    let grandchild: i32 = running
        .next_line(PATIENCE)
        .expect("a pid")
        .parse()
        .expect("a pid");
    assert_eq!(running.code_within(PATIENCE), 3);
    assert!(
        is_alive(grandchild),
        "--drain-timeout 0 must not signal leftovers"
    );
    assert!(!marker.exists());
    send(grandchild, libc::SIGKILL);
}

#[test]
fn draining_kills_a_grandchild_that_ignores_sigterm() {
    let dir = scratch();
    let stubborn = write_script(
        dir.path(),
        "stubborn.sh",
        "trap '' TERM\necho $$\nexec sleep 30\n",
    );
    let script = format!("'{stubborn}' & sleep 0.3; exit 3");
    let mut running = start(&["--drain-timeout", "1", "--", "sh", "-c", &script]);
    let grandchild: i32 = running
        .next_line(PATIENCE)
        .expect("a pid")
        .parse()
        .expect("a pid");
    let main = running.main_child();
    eventually("the command has exited", || !is_alive(main));
    let main_exited = Instant::now();
    assert_eq!(
        running.code_within(PATIENCE),
        3,
        "the exit code is still the command's"
    );
    let drained_for = main_exited.elapsed();
    assert!(
        drained_for >= Duration::from_millis(800),
        "killed after only {drained_for:?}"
    );
    assert!(
        drained_for < Duration::from_secs(4),
        "killed after {drained_for:?}"
    );
    assert!(
        !is_alive(grandchild),
        "the TERM-ignoring grandchild survived the drain"
    );
    assert!(running.stderr().contains("SIGKILL"), "the kill is reported");
}

#[test]
fn draining_reaches_an_orphan_adopted_while_draining() {
    // The command leaves a shell that shrugs SIGTERM off, whose child exits on SIGTERM and
    // leaves behind a daemon (own session, so the group's SIGTERM misses it). The daemon comes
    // to jwrap with no SIGCHLD to jwrap: only a rescan finds it and gives it its SIGTERM,
    // and with it the time to clean up before the drain's SIGKILL.
    let dir = scratch();
    let marker = dir.path().join("cleaned");
    let daemon = write_script(
        dir.path(),
        "daemon.sh",
        &format!(
            "trap 'echo done > \"{}\"; exit 0' TERM\nwhile :; do sleep 0.05; done\n",
            marker.display()
        ),
    );
    let quitter = write_script(
        dir.path(),
        "quitter.sh",
        &format!("trap 'exit 0' TERM\nsetsid '{daemon}' &\nwhile :; do sleep 0.05; done\n"),
    );
    let stubborn = write_script(
        dir.path(),
        "stubborn.sh",
        &format!("trap ':' TERM\n'{quitter}' &\necho ready\nwhile :; do sleep 0.05; done\n"),
    );
    let script = format!("'{stubborn}' & sleep 0.5; exit 3");
    let mut running = start(&["--drain-timeout", "1.5", "--", "sh", "-c", &script]);
    running.expect_line("ready");
    assert_eq!(running.code_within(PATIENCE), 3);
    assert!(
        marker.exists(),
        "the daemon adopted while draining got no SIGTERM before the SIGKILL"
    );
}

// ------------------------------------------------------------------------------------------
// --kill-after
// ------------------------------------------------------------------------------------------

const IGNORES_TERM: &str = "trap '' TERM; echo ready; exec sleep 30";

#[test]
fn kill_after_sigkills_a_child_that_ignores_sigterm() {
    let mut running = start(&["--kill-after", "1", "--", "sh", "-c", IGNORES_TERM]);
    running.expect_line("ready");
    let sent = Instant::now();
    running.signal(libc::SIGTERM);
    assert_eq!(running.code_within(PATIENCE), 137);
    let took = sent.elapsed();
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(4),
        "took {took:?}"
    );

    let mut command = jwrap_with(&["--", "sh", "-c", IGNORES_TERM]);
    command.env("JWRAP_KILL_AFTER", "0.2");
    let mut running = Running::start(command);
    running.expect_line("ready");
    running.signal(libc::SIGTERM);
    assert_eq!(running.code_within(PATIENCE), 137, "JWRAP_KILL_AFTER");
}

#[test]
fn without_kill_after_a_child_that_ignores_sigterm_keeps_running() {
    let mut running = start(&["--", "sh", "-c", IGNORES_TERM]);
    running.expect_line("ready");
    running.signal(libc::SIGTERM);
    assert!(
        running.exit_within(Duration::from_secs(2)).is_none(),
        "jwrap escalated on its own"
    );
}

// ------------------------------------------------------------------------------------------
// --term-delay, --rewrite
// ------------------------------------------------------------------------------------------

#[test]
fn term_delay_holds_the_first_sigterm_and_lets_others_pass() {
    let Some(python) = python() else {
        crate::skip!("needs python3")
    };
    let running = start_printer(&python, &["--term-delay", "1"]);
    let sent = Instant::now();
    running.signal(libc::SIGTERM);
    thread::sleep(Duration::from_millis(100));
    running.signal(libc::SIGUSR1);
    assert_eq!(
        printed(&running, PATIENCE),
        Some(libc::SIGUSR1),
        "USR1 passes while TERM is held"
    );
    assert!(
        sent.elapsed() < Duration::from_millis(900),
        "USR1 was held too"
    );
    assert_eq!(printed(&running, PATIENCE), Some(libc::SIGTERM));
    let held = sent.elapsed();
    assert!(
        held >= Duration::from_millis(950) && held < Duration::from_secs(4),
        "TERM held {held:?}"
    );
    // Only the first SIGTERM is held.
    let sent = Instant::now();
    running.signal(libc::SIGTERM);
    assert_eq!(printed(&running, PATIENCE), Some(libc::SIGTERM));
    assert!(
        sent.elapsed() < Duration::from_millis(900),
        "a later TERM was held too"
    );
}

#[test]
fn term_delay_delivers_at_once_when_a_second_sigterm_comes() {
    let Some(python) = python() else {
        crate::skip!("needs python3")
    };
    let mut command = jwrap();
    command.env("JWRAP_TERM_DELAY", "1.5");
    command.arg("--").arg(&python).arg("-c").arg(SIGNAL_PRINTER);
    let running = Running::start(command);
    running.expect_line("ready");
    let sent = Instant::now();
    running.signal(libc::SIGTERM);
    thread::sleep(Duration::from_millis(200));
    running.signal(libc::SIGTERM);
    assert_eq!(printed(&running, PATIENCE), Some(libc::SIGTERM));
    assert!(
        sent.elapsed() < Duration::from_millis(1200),
        "the insisting TERM waited {:?}",
        sent.elapsed()
    );
    // The held one is not delivered again when the delay ends.
    assert_eq!(printed(&running, Duration::from_millis(1800)), None);
}

#[test]
fn rewrite_changes_or_drops_a_signal() {
    let Some(python) = python() else {
        crate::skip!("needs python3")
    };
    let by_option = start_printer(&python, &["--rewrite", "TERM:USR1", "--rewrite", "INT:0"]);
    let mut command = jwrap();
    command.env("JWRAP_REWRITE", "SIGTERM:10,2:0");
    command.arg("--").arg(&python).arg("-c").arg(SIGNAL_PRINTER);
    let by_environment = Running::start(command);
    by_environment.expect_line("ready");
    for running in [&by_option, &by_environment] {
        running.signal(libc::SIGTERM);
        assert_eq!(
            printed(running, PATIENCE),
            Some(libc::SIGUSR1),
            "TERM becomes USR1"
        );
        running.signal(libc::SIGINT);
        running.signal(libc::SIGHUP);
        assert_eq!(
            printed(running, PATIENCE),
            Some(libc::SIGHUP),
            "INT is dropped, HUP passes"
        );
    }
}

// ------------------------------------------------------------------------------------------
// what the child inherits
// ------------------------------------------------------------------------------------------

/// `SigBlk` and `SigIgn` lines as printed by `grep` on /proc/self/status.
fn signal_sets(lines: &[String], prefix: &str) -> (String, String) {
    let value = |name: &str| {
        lines
            .iter()
            .find_map(|line| line.strip_prefix(prefix)?.strip_prefix(name))
            .map_or_else(
                || panic!("no {name} in {lines:?}"),
                |value| value.trim().to_string(),
            )
    };
    (value("SigBlk:"), value("SigIgn:"))
}

#[test]
fn the_child_gets_the_signal_mask_and_ignores_jwrap_inherited() {
    let Some(python) = python() else {
        crate::skip!("needs python3")
    };
    // The parent blocks USR1 and real-time 40, ignores HUP, PIPE and real-time 50, then
    // becomes jwrap; the child is `grep`, which changes none of that.
    let parent = r#"
import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, 40})
for ignored in (signal.SIGHUP, signal.SIGPIPE, 50):
    signal.signal(ignored, signal.SIG_IGN)
for line in open("/proc/self/status"):
    if line.startswith(("SigBlk", "SigIgn")):
        print("parent " + line.strip(), flush=True)
os.execv(sys.argv[1], [sys.argv[1], "--", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])
"#;
    let mut command = Command::new(&python);
    command.arg("-c").arg(parent).arg(jwrap_path());
    without_jwrap_settings(&mut command);
    let mut running = Running::start(command);
    assert_eq!(running.code_within(PATIENCE), 0);
    let lines = running.remaining_lines();
    let (parent_blocked, parent_ignored) = signal_sets(&lines, "parent ");
    let (blocked, ignored) = signal_sets(&lines, "");
    assert_eq!(
        u64::from_str_radix(&parent_blocked, 16).ok(),
        Some((1 << 9) | (1 << 39))
    );
    assert_eq!(
        blocked, parent_blocked,
        "the child's mask is what jwrap inherited"
    );
    assert_eq!(
        ignored, parent_ignored,
        "the child ignores what jwrap inherited as ignored"
    );
}

#[test]
fn with_nothing_inherited_the_child_has_sigpipe_at_default() {
    // The Rust runtime would ignore SIGPIPE before main; jwrap has its own C main so that
    // this never reaches the child. And jwrap's own blocking of every signal must not either.
    let mut command = jwrap_with(&["--", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]);
    with_default_signals(&mut command);
    let mut running = Running::start(command);
    assert_eq!(running.code_within(PATIENCE), 0);
    let (blocked, ignored) = signal_sets(&running.remaining_lines(), "");
    assert_eq!(
        u64::from_str_radix(&blocked, 16).ok(),
        Some(0),
        "blocked in the child: {blocked}"
    );
    assert_eq!(
        u64::from_str_radix(&ignored, 16).ok(),
        Some(0),
        "ignored in the child: {ignored}"
    );
}

#[test]
fn the_child_keeps_jwraps_cwd_and_inherited_fds_and_nothing_jwrap_opened() {
    let dir = scratch();
    let mut ends = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `ends`, which we then own.
    assert_eq!(
        unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) },
        0
    );
    // SAFETY: both descriptors were just created and belong to nobody else.
    let (inherited, write_end) =
        unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
    let inherited_fd = inherited.as_raw_fd();
    let mut command = jwrap_with(&["--", "sleep", "30"]);
    command.current_dir(dir.path());
    // SAFETY: dup2 and fcntl are async-signal-safe; fd 7 is then open in jwrap.
    unsafe {
        command.pre_exec(move || {
            if libc::dup2(inherited_fd, 7) < 0 || libc::fcntl(7, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let running = Running::start(command);
    drop(write_end);
    let child = running.main_child();
    // Until the child has exec'd, jwrap holds the pipe on which a failed exec would be reported.
    eventually("the child runs sleep", || {
        fs::read_to_string(format!("/proc/{child}/comm")).is_ok_and(|comm| comm.trim() == "sleep")
    });
    eventually("jwrap has closed the exec-report pipe", || {
        fs::read_dir(format!("/proc/{}/fd", running.pid()))
            .map(std::iter::Iterator::count)
            .ok()
            == fs::read_dir(format!("/proc/{child}/fd"))
                .map(|entries| entries.count() + 1)
                .ok()
    });
    let fds = |pid: i32| -> BTreeSet<i32> {
        fs::read_dir(format!("/proc/{pid}/fd"))
            .expect("fd list")
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    };
    let link = |pid: i32, name: &str| fs::read_link(format!("/proc/{pid}/{name}")).expect("a link");
    // jwrap's descriptors are what it inherited plus what it opened: its signalfd. (Comparing
    // with jwrap rather than a fixed list: the test harness may pass others on, to both.)
    let (own, inherited): (BTreeSet<i32>, BTreeSet<i32>) =
        fds(running.pid()).into_iter().partition(|&fd| {
            link(running.pid(), &format!("fd/{fd}"))
                .to_string_lossy()
                .contains("signalfd")
        });
    assert_eq!(own.len(), 1, "jwrap holds its signalfd");
    assert!(inherited.contains(&7));
    assert_eq!(
        fds(child),
        inherited,
        "the child has the descriptors jwrap inherited, and not jwrap's own"
    );
    assert_eq!(
        link(child, "fd/7"),
        link(running.pid(), "fd/7"),
        "fd 7 is the same pipe"
    );
    let dir = dir.path().canonicalize().expect("canonical");
    assert_eq!(
        link(child, "cwd"),
        dir,
        "the child starts where jwrap was started"
    );
    assert_eq!(link(running.pid(), "cwd"), dir, "jwrap stays there");
}

// ------------------------------------------------------------------------------------------
// the command cannot run
// ------------------------------------------------------------------------------------------

#[test]
fn a_missing_command_gives_127_and_a_non_executable_one_126() {
    let dir = scratch();
    let not_executable = dir.path().join("data.txt");
    fs::write(&not_executable, "#!/bin/sh\nexit 0\n").expect("write");
    fs::set_permissions(&not_executable, fs::Permissions::from_mode(0o644)).expect("chmod");
    let missing = dir.path().join("missing");
    for (program, code) in [
        (&missing, 127),
        (&not_executable, 126),
        (&dir.path().to_path_buf(), 126),
    ] {
        let program = program.to_string_lossy();
        let mut running = start(&["--", &program]);
        assert_eq!(running.code_within(PATIENCE), code, "{program}");
        let stderr = running.stderr();
        assert!(
            stderr.starts_with("jwrap: ") && stderr.contains(program.as_ref()),
            "{stderr:?}"
        );
    }
    let mut running = start(&["--", "no-such-command-on-path"]);
    assert_eq!(running.code_within(PATIENCE), 127);
}

// ------------------------------------------------------------------------------------------
// terminals and job control
// ------------------------------------------------------------------------------------------

/// A program on a fresh pseudo-terminal, as its session leader: `output` collects what it
/// writes there, `type_keys` is typing.
struct OnTerminal {
    running: Running,
    master: fs::File,
    output: Arc<Mutex<String>>,
}

impl OnTerminal {
    fn start(mut command: Command) -> OnTerminal {
        // Close-on-exec from the start: other tests start processes at the same time, and
        // these must not leak into them.
        let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
        let master = nix::pty::posix_openpt(flags).expect("posix_openpt");
        nix::pty::grantpt(&master).expect("grantpt");
        nix::pty::unlockpt(&master).expect("unlockpt");
        let name = nix::pty::ptsname_r(&master).expect("ptsname");
        let slave = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(name)
            .expect("open the terminal");
        command
            .stdin(slave.try_clone().expect("dup"))
            .stdout(slave.try_clone().expect("dup"))
            .stderr(slave.try_clone().expect("dup"));
        // SAFETY: setsid and ioctl are async-signal-safe; stdin is the terminal by then.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let process = command.spawn().expect("the command starts");
        drop(slave);
        let (_, lines) = mpsc::channel();
        let running = Running {
            process,
            lines,
            stderr: None,
        };
        let master = fs::File::from(OwnedFd::from(master));
        let output = Arc::new(Mutex::new(String::new()));
        let mut reader = master.try_clone().expect("dup");
        let collected = Arc::clone(&output);
        thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // Ends with EIO once no process holds the terminal any more.
            while let Ok(count @ 1..) = reader.read(&mut buffer) {
                let text = String::from_utf8_lossy(&buffer[..count]).into_owned();
                collected.lock().expect("lock").push_str(&text);
            }
        });
        OnTerminal {
            running,
            master,
            output,
        }
    }

    fn type_keys(&mut self, keys: &str) {
        self.master
            .write_all(keys.as_bytes())
            .expect("write to the terminal");
    }

    fn wait_for_output(&self, text: &str) {
        eventually(&format!("{text:?} appears on the terminal"), || {
            self.output.lock().expect("lock").contains(text)
        });
    }
}

#[test]
fn on_a_terminal_the_child_is_foreground_and_ctrl_c_reaches_it() {
    let mut terminal =
        OnTerminal::start(jwrap_with(&["--", "sh", "-c", "echo ready; exec sleep 30"]));
    terminal.wait_for_output("ready");
    let child = terminal.running.main_child();
    assert_eq!(
        tpgid(child),
        Some(child),
        "the child's group is the terminal's foreground"
    );
    assert_eq!(pgrp(child), Some(child));
    terminal.type_keys("\x03");
    assert_eq!(terminal.running.code_within(PATIENCE), 130);
}

#[test]
fn under_an_interactive_shell_ctrl_z_stops_the_job_and_fg_resumes_it() {
    let mut shell = Command::new("bash");
    shell
        .args(["--norc", "--noprofile", "-i"])
        .env("PS1", "$ ")
        .env("TERM", "dumb");
    without_jwrap_settings(&mut shell);
    let mut terminal = OnTerminal::start(shell);
    let bash = terminal.running.pid();
    terminal.type_keys(&format!("'{}' -- sleep 30\n", jwrap_path().display()));
    let mut jwrap = 0;
    eventually("bash runs jwrap", || {
        jwrap = children(bash).first().copied().unwrap_or(0);
        jwrap != 0 && is_jwrap(jwrap)
    });
    let child = main_child_of(jwrap);
    eventually("the child has the terminal", || tpgid(child) == Some(child));

    // Ctrl-Z stops the child; jwrap stops too, so bash sees a stopped job and takes the
    // terminal back.
    terminal.type_keys("\x1a");
    eventually("the child and jwrap are stopped", || {
        state(child) == Some('T') && state(jwrap) == Some('T')
    });
    terminal.wait_for_output("Stopped");

    // `fg` continues jwrap, which continues the child and hands it the terminal again.
    terminal.type_keys("fg\n");
    eventually("both run again", || {
        state(jwrap) != Some('T') && state(child) != Some('T')
    });
    eventually("the child has the terminal again", || {
        tpgid(child) == Some(child)
    });

    terminal.type_keys("\x03");
    eventually("jwrap has exited", || !children(bash).contains(&jwrap));
    terminal.type_keys("echo \"rc=$?\"\n");
    terminal.wait_for_output("rc=130");
    terminal.type_keys("exit\n");
    assert!(
        terminal.running.exit_within(PATIENCE).is_some(),
        "bash did not exit"
    );
}

#[test]
fn sigtstp_then_sigcont_to_jwrap_stops_and_resumes_the_child() {
    let mut running = start(&["--", "sleep", "30"]);
    let jwrap = running.pid();
    let child = running.main_child();
    running.signal(libc::SIGTSTP);
    // Not PID 1: the stop is forwarded, and jwrap mirrors it as a shell job would.
    eventually("the child and jwrap are stopped", || {
        state(child) == Some('T') && state(jwrap) == Some('T')
    });
    running.signal(libc::SIGCONT);
    eventually("both run again", || {
        state(child) == Some('S') && state(jwrap) == Some('S')
    });
    running.signal(libc::SIGTERM);
    assert_eq!(running.code_within(PATIENCE), 143);
}

// ------------------------------------------------------------------------------------------
// --pdeath-signal
// ------------------------------------------------------------------------------------------

#[test]
fn pdeath_signal_reaches_the_child_when_jwraps_parent_is_killed() {
    let child = r#"trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.05; done"#;
    let mut parent = Command::new("sh");
    parent
        .arg("-c")
        .arg(r#""$0" --pdeath-signal TERM -- sh -c "$1" & wait"#)
        .arg(jwrap_path())
        .arg(child);
    without_jwrap_settings(&mut parent);
    let parent = Running::start(parent);
    parent.expect_line("ready");
    let jwrap = children(parent.pid())
        .into_iter()
        .find(|&pid| is_jwrap(pid))
        .expect("jwrap");
    parent.signal(libc::SIGKILL);
    parent.expect_line("got-term");
    eventually("jwrap has exited", || !is_alive(jwrap));
}

// ------------------------------------------------------------------------------------------
// A SIGTERM during start-up
// ------------------------------------------------------------------------------------------

/// Whether SIGTERM is blocked in `pid` (jwrap has run its first statement).
fn blocks_sigterm(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("SigBlk:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (libc::SIGTERM - 1)) != 0)
}

#[test]
fn a_sigterm_during_start_up_is_forwarded_not_lost() {
    // Once signals are blocked, before the command was spawned: always forwarded.
    for _ in 0..20 {
        let mut running = start(&["--", "sleep", "30"]);
        let pid = running.pid();
        eventually("jwrap blocks signals", || blocks_sigterm(pid));
        running.signal(libc::SIGTERM);
        assert_eq!(running.code_within(PATIENCE), 143);
    }
    // At any moment at all: forwarded, or jwrap killed before its first statement. Never
    // lost, which would leave the command running.
    for _ in 0..20 {
        let mut running = start(&["--", "sleep", "30"]);
        running.signal(libc::SIGTERM);
        let status = running.wait_within(PATIENCE);
        assert!(
            status.code() == Some(143) || status.signal() == Some(libc::SIGTERM),
            "{status:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// jwrap as PID 1 of a new PID namespace
// ------------------------------------------------------------------------------------------

/// `unshare --pid --fork --mount-proc jwrap ARGS...`, or None when this cannot run here.
fn as_pid1(args: &[&str]) -> Option<Command> {
    if !is_root() {
        return None;
    }
    let works = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !works {
        return None;
    }
    let mut command = Command::new("unshare");
    command
        .args(["--pid", "--fork", "--kill-child", "--mount-proc"])
        .arg(jwrap_path())
        .args(args);
    without_jwrap_settings(&mut command);
    Some(command)
}

/// jwrap's pid on the host: the child of `unshare`.
fn jwrap_under_unshare(unshare: &Running) -> i32 {
    let mut jwrap = 0;
    eventually("unshare has started jwrap", || {
        jwrap = children(unshare.pid()).first().copied().unwrap_or(0);
        jwrap != 0 && is_jwrap(jwrap)
    });
    jwrap
}

#[test]
fn as_pid1_the_child_is_pid_2_in_its_own_group_and_orphans_are_reaped() {
    let script = r#"echo "pid=$$ pgid=$(cut -d' ' -f5 /proc/$$/stat)"
        (sleep 0.1 &); (sleep 0.1 &); (sleep 0.1 &)
        sleep 0.6
        echo "zombies=$(grep -l '^State:.Z' /proc/[0-9]*/status 2>/dev/null | wc -l)""#;
    let Some(command) = as_pid1(&["--", "sh", "-c", script]) else {
        crate::skip!("needs root and unshare --pid")
    };
    let mut running = Running::start(command);
    let identity = running.next_line(PATIENCE).expect("the child's identity");
    assert_eq!(identity, "pid=2 pgid=2");
    assert_eq!(
        running.next_line(PATIENCE).as_deref(),
        Some("zombies=0"),
        "orphans must be reaped"
    );
    assert_eq!(running.code_within(PATIENCE), 0);
}

#[test]
fn as_pid1_sigterm_from_outside_is_forwarded() {
    let Some(command) = as_pid1(&["--", "sh", "-c", "echo ready; exec sleep 30"]) else {
        crate::skip!("needs root and unshare --pid")
    };
    let mut running = Running::start(command);
    running.expect_line("ready");
    send(jwrap_under_unshare(&running), libc::SIGTERM);
    assert_eq!(running.code_within(PATIENCE), 143);
}

#[test]
fn as_pid1_kill_after_ends_a_child_that_ignores_sigterm() {
    let Some(command) = as_pid1(&["--kill-after", "0.5", "--", "sh", "-c", IGNORES_TERM]) else {
        crate::skip!("needs root and unshare --pid")
    };
    let mut running = Running::start(command);
    running.expect_line("ready");
    send(jwrap_under_unshare(&running), libc::SIGTERM);
    assert_eq!(running.code_within(PATIENCE), 137);
}

#[test]
fn as_pid1_on_a_terminal_ctrl_z_is_undone_and_ctrl_c_ends_the_child() {
    let Some(python) = python() else {
        crate::skip!("needs python3")
    };
    let child = r#"
import signal, time
signal.signal(signal.SIGCONT, lambda *_: print("continued", flush=True))
print("ready", flush=True)
while True:
    time.sleep(1)
"#;
    let python = python.to_string_lossy().into_owned();
    let Some(command) = as_pid1(&["--", &python, "-c", child]) else {
        crate::skip!("needs root and unshare --pid")
    };
    let mut terminal = OnTerminal::start(command);
    terminal.wait_for_output("ready");
    let jwrap = jwrap_under_unshare(&terminal.running);
    let child = main_child_of(jwrap);
    assert_eq!(
        tpgid(child),
        Some(child),
        "the child's group is the terminal's foreground"
    );
    // Nobody could type `fg` to a container's init: jwrap continues the child itself.
    terminal.type_keys("\x1a");
    terminal.wait_for_output("continued");
    eventually("the child runs", || {
        state(child).is_some_and(|state| state != 'T')
    });
    terminal.type_keys("\x03");
    assert_eq!(terminal.running.code_within(PATIENCE), 130);
}

// ------------------------------------------------------------------------------------------
// Launching: how execvp runs what it finds
// ------------------------------------------------------------------------------------------

#[test]
fn a_script_without_a_shebang_runs_under_sh_by_path_on_path_and_with_exec() {
    let dir = scratch();
    let script = write_script(dir.path(), "no-shebang", "echo \"from sh: $1\"\nexit 7\n");
    let path = format!("{}:/usr/bin:/bin", dir.path().display());
    for args in [
        vec!["--", script.as_str(), "one"],
        vec!["--", "no-shebang", "one"],
        vec!["--exec", "--", "no-shebang", "one"],
    ] {
        let mut command = jwrap_with(&args);
        command.env("PATH", &path);
        let mut running = Running::start(command);
        assert_eq!(running.code_within(PATIENCE), 7, "{args:?}");
        assert_eq!(running.remaining_lines(), ["from sh: one"], "{args:?}");
    }
}

#[test]
fn a_missing_interpreter_is_named_not_the_script() {
    let dir = scratch();
    let script = write_script(dir.path(), "bad-interpreter", "#!/no/such/interpreter -x\n");
    for exec in [false, true] {
        let mut args = vec!["--", script.as_str()];
        if exec {
            args.insert(0, "--exec");
        }
        let mut running = start(&args);
        assert_eq!(running.code_within(PATIENCE), 126, "{args:?}");
        let stderr = running.stderr();
        assert!(
            stderr.starts_with("jwrap: ") && stderr.contains("/no/such/interpreter"),
            "{stderr:?}"
        );
    }
}

#[test]
fn exit_codes_follow_the_shell() {
    use jwrap::init::{ChildExit, exit_code};
    assert_eq!(exit_code(ChildExit::Exited(3), &[]), 3);
    assert_eq!(exit_code(ChildExit::Signaled(libc::SIGTERM), &[]), 143);
    assert_eq!(exit_code(ChildExit::Signaled(libc::SIGTERM), &[143]), 0);
    assert_eq!(exit_code(ChildExit::Exited(143), &[143]), 0);
    assert_eq!(exit_code(ChildExit::Exited(1), &[143]), 1);
}

// ------------------------------------------------------------------------------------------
// What jwrap inherited, and faults around it
// ------------------------------------------------------------------------------------------

/// Start the command with every signal at its default action except `ignored`, which are
/// ignored (any number, the ones libc keeps for itself included), and none blocked.
fn with_ignored_signals(command: &mut Command, ignored: &'static [i32]) {
    with_default_signals(command);
    // SAFETY: only system calls between fork and exec.
    unsafe {
        command.pre_exec(move || {
            // The kernel's struct sigaction: SIG_IGN (1), no flags, no restorer, empty mask.
            let ignore = [1usize, 0, 0, 0];
            for &signal in ignored {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    signal,
                    ignore.as_ptr(),
                    std::ptr::null_mut::<usize>(),
                    8usize,
                );
            }
            Ok(())
        });
    }
}

fn ignored_set(lines: &[String]) -> u64 {
    let (_, ignored) = signal_sets(lines, "");
    u64::from_str_radix(&ignored, 16).expect("a hex mask")
}

#[test]
fn an_inherited_ignored_sigchld_does_not_hang_jwrap_and_the_child_still_ignores_it() {
    let mut command = jwrap_with(&["--", "sh", "-c", "exit 3"]);
    with_ignored_signals(&mut command, &[libc::SIGCHLD]);
    let mut running = Running::start(command);
    assert_eq!(running.code_within(PATIENCE), 3);
    // (sh resets SIGCHLD for itself and its children: grep is the command here.)
    let mut command = jwrap_with(&["--", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]);
    with_ignored_signals(&mut command, &[libc::SIGCHLD]);
    let mut running = Running::start(command);
    assert_eq!(running.code_within(PATIENCE), 0);
    let ignored = ignored_set(&running.remaining_lines());
    assert_ne!(ignored & (1 << (libc::SIGCHLD - 1)), 0, "{ignored:x}");
}

/// A JDK without a release file whose `java` says it is 17 when asked for `-version` (and
/// touches `probed` beside its home), and otherwise runs `behaviour`.
fn fake_jdk(dir: &Path, behaviour: &str) -> (String, PathBuf) {
    let bin = dir.join("jdk/bin");
    fs::create_dir_all(&bin).expect("mkdir");
    let marker = dir.join("probed");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = -version ]; then\n  : > '{}'\n  echo 'openjdk version \"17.0.2\" 2022-01-18' >&2\n  exit 0\nfi\n{behaviour}\n",
        marker.display()
    );
    (write_script(&bin, "java", &script), marker)
}

#[test]
fn a_signal_ignored_at_start_stays_ignored_after_the_java_probe() {
    let dir = scratch();
    let (java, marker) = fake_jdk(dir.path(), "grep -E '^Sig(Blk|Ign)' /proc/self/status");
    // 33: glibc's own; 50: an ordinary real-time signal; PIPE: std resets it in children.
    let mut command = jwrap_with(&["--", &java, "-jar", "app.jar"]);
    with_ignored_signals(&mut command, &[33, 50, libc::SIGPIPE]);
    let mut running = Running::start(command);
    assert_eq!(running.code_within(PATIENCE), 0);
    assert!(marker.exists(), "jwrap ran `java -version`");
    let ignored = ignored_set(&running.remaining_lines());
    let wanted: u64 = (1 << 32) | (1 << 49) | (1 << (libc::SIGPIPE - 1));
    assert_eq!(
        ignored & wanted,
        wanted,
        "ignored in the child: {ignored:x}"
    );
}

#[test]
fn java_version_runs_only_for_a_java_command_with_flags_on_and_never_from_a_relative_path() {
    let dir = scratch();
    let (java, marker) = fake_jdk(dir.path(), "exit 0");
    let bin = dir.path().join("jdk/bin");
    let on_path = format!("{}:/usr/bin:/bin", bin.display());
    let cases: [(&[&str], String, &Path); 3] = [
        // Another COMMAND: the java on PATH is looked at, but not run.
        (&["--", "sh", "-c", "exit 0"], on_path.clone(), dir.path()),
        // JVM flags off: nothing would use the answer.
        (
            &["--java-flags", "off", "--", &java, "-jar", "app.jar"],
            on_path,
            dir.path(),
        ),
        // An empty PATH entry is the current directory: its java is not jwrap's to run.
        (
            &["--", "java", "-jar", "app.jar"],
            ":/usr/bin:/bin".to_string(),
            &bin,
        ),
    ];
    for (args, path, cwd) in cases {
        let mut command = jwrap_with(args);
        command.env("PATH", path).current_dir(cwd);
        let mut running = Running::start(command);
        running.code_within(PATIENCE);
        assert!(!marker.exists(), "`java -version` ran for {args:?}");
    }
}

#[test]
fn a_java_probe_that_does_not_answer_is_killed_with_its_whole_group() {
    let dir = scratch();
    let pidfile = dir.path().join("background.pid");
    let (java, _) = fake_jdk(dir.path(), "exit 0");
    // On -version: a background process, then no answer.
    let hanging = format!(
        "#!/bin/sh\nif [ \"$1\" = -version ]; then sleep 60 & echo $! > '{}'; exec sleep 60; fi\nexit 4\n",
        pidfile.display()
    );
    fs::write(&java, hanging).expect("write");
    let mut running = start(&["--", &java, "-jar", "app.jar"]);
    assert_eq!(running.code_within(PATIENCE), 4);
    let background: i32 = fs::read_to_string(&pidfile)
        .expect("the probe started its background process")
        .trim()
        .parse()
        .expect("a pid");
    eventually("the probe's background process is gone", || {
        !is_alive(background) || state(background) == Some('Z')
    });
}

#[test]
fn a_child_stopped_from_elsewhere_does_not_stop_a_jwrap_no_shell_runs() {
    let mut running = start(&["--", "sleep", "30"]);
    let jwrap = running.pid();
    let child = running.main_child();
    send(child, libc::SIGTSTP);
    eventually("the child is stopped", || state(child) == Some('T'));
    thread::sleep(Duration::from_millis(300));
    assert_ne!(state(jwrap), Some('T'), "jwrap stopped itself");
    running.signal(libc::SIGTERM);
    // A stopped process acts on SIGTERM only once continued: jwrap continues it, as a shell's
    // `kill` does for a stopped job.
    assert_eq!(running.code_within(PATIENCE), 143);
}

/// `jwrap ARGS` in a mount namespace of its own without /proc (as root), or None.
fn without_proc(args: &[&str]) -> Option<Command> {
    if !is_root() {
        return None;
    }
    let works = Command::new("unshare")
        .args([
            "--mount",
            "sh",
            "-c",
            "umount -l /proc && ! test -e /proc/self",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !works {
        return None;
    }
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "sh",
            "-c",
            "umount -l /proc && exec \"$0\" \"$@\"",
        ])
        .arg(jwrap_path())
        .args(args);
    without_jwrap_settings(&mut command);
    Some(command)
}

/// Two daemons outside the child's group (setsid) that ignore SIGTERM; their pids on stdout,
/// once both ignore it (each leaves a file in `dir` then).
fn two_stubborn_daemons(dir: &Path) -> String {
    format!(
        "cd '{}' && for i in 1 2; do setsid sh -c 'trap \"\" TERM; : > ready.$$; exec sleep 60' & echo $!; done
        while [ $(ls | grep -c '^ready') -lt 2 ]; do sleep 0.02; done; exit 0",
        dir.display()
    )
}

fn assert_daemons_killed(mut running: Running) {
    let daemons: Vec<i32> = (0..2)
        .map(|_| {
            running
                .next_line(PATIENCE)
                .and_then(|line| line.parse().ok())
                .expect("a daemon's pid")
        })
        .collect();
    assert_eq!(running.code_within(PATIENCE), 0);
    let stderr = running.stderr();
    assert!(stderr.contains("2 process(es) still running"), "{stderr}");
    for daemon in daemons {
        eventually("the daemon is gone", || {
            !is_alive(daemon) || state(daemon) == Some('Z')
        });
    }
}

#[test]
fn without_proc_orphans_outside_the_group_are_drained_and_counted() {
    let dir = scratch();
    let script = two_stubborn_daemons(dir.path());
    let Some(command) = without_proc(&["--drain-timeout", "0.5", "--", "sh", "-c", &script]) else {
        crate::skip!("needs root and unshare --mount")
    };
    assert_daemons_killed(Running::start(command));
}

#[test]
fn without_a_free_descriptor_orphans_outside_the_group_are_drained_and_counted() {
    let dir = scratch();
    let go = dir.path().join("go");
    let script = format!(
        "while [ ! -e '{}' ]; do sleep 0.02; done; {}",
        go.display(),
        two_stubborn_daemons(dir.path())
    );
    let running = start(&["--drain-timeout", "0.5", "--", "sh", "-c", &script]);
    let jwrap = running.pid();
    // jwrap has started its command (which needed descriptors of its own).
    running.main_child();
    // No descriptor above the highest one jwrap holds.
    let highest = fs::read_dir(format!("/proc/{jwrap}/fd"))
        .expect("fd list")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .expect("jwrap has descriptors");
    let limit = libc::rlimit {
        rlim_cur: highest + 1,
        rlim_max: highest + 1,
    };
    // SAFETY: prlimit reads `limit` and writes nothing (no old value asked for).
    let rc = unsafe {
        libc::prlimit(
            jwrap,
            libc::RLIMIT_NOFILE,
            &raw const limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
    fs::write(&go, "").expect("write");
    assert_daemons_killed(running);
}

#[test]
fn as_pid1_with_a_sibling_at_pid_2_jwrap_is_not_the_kernels_init() {
    if !is_root() || as_pid1(&[]).is_none() {
        crate::skip!("needs root and unshare --pid")
    }
    let script = "sleep 2 & exec \"$0\" -- sh -c 'exit 3'";
    for proc in ["--mount-proc", "--mount"] {
        let mut command = Command::new("unshare");
        command.args(["--pid", "--fork", "--kill-child", proc]);
        if proc == "--mount" {
            // No /proc at all.
            command.args(["sh", "-c", &format!("umount -l /proc; {script}")]);
        } else {
            command.args(["sh", "-c", script]);
        }
        command.arg(jwrap_path());
        without_jwrap_settings(&mut command);
        let mut running = Running::start(command);
        assert_eq!(running.code_within(PATIENCE), 3, "{proc}");
        let stderr = running.stderr();
        assert!(!stderr.contains("powering off"), "{proc}: {stderr}");
    }
}

#[test]
fn once_the_group_is_gone_a_new_group_with_its_number_gets_nothing() {
    // jwrap as PID 1: its child is pid 2 and group 2. The child exits, leaving a daemon (its
    // own session) that ignores SIGTERM, so jwrap keeps draining. Then a stranger, not jwrap's
    // child, is made pid 2 (ns_last_pid) and leader of a new group 2. A SIGUSR1 to jwrap must
    // reach the daemon, and not the stranger. (The daemon is python: no pid taken meanwhile.)
    const DAEMON: &str = "import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGUSR1, lambda *_: open(\"daemon-got-usr1\", \"w\"))
open(\"daemon-ready\", \"w\")
while True:
    time.sleep(1)";
    let Some(python) = python() else {
        crate::skip!("needs python3")
    };
    let dir = scratch();
    let script = format!(
        "cd '{}' || exit 9
        setsid {} -c '{}' &
        while [ ! -e daemon-ready ]; do sleep 0.02; done; echo ready; exit 0",
        dir.path().display(),
        python.display(),
        DAEMON
    );
    let Some(command) = as_pid1(&["--drain-timeout", "20", "--", "sh", "-c", &script]) else {
        crate::skip!("needs root and unshare --pid")
    };
    let running = Running::start(command);
    let jwrap = jwrap_under_unshare(&running);
    running.expect_line("ready");
    eventually("the command has been reaped", || {
        children(jwrap).len() == 1 && children(jwrap).iter().all(|&pid| pgrp(pid) == Some(pid))
    });
    // Pid 2 once the next pid is set to follow 1, retried in case another process took it.
    let stranger = format!(
        "cd '{}' || exit 9
        for i in 1 2 3 4 5 6 7 8 9 10; do
          echo 1 > /proc/sys/kernel/ns_last_pid
          setsid sh -c '[ $$ = 2 ] || exit 1; trap \": > stranger-got-usr1\" USR1; echo $$ > stranger; while :; do sleep 0.05; done' &
          sleep 0.1; [ -e stranger ] && break
        done; wait",
        dir.path().display()
    );
    let mut nsenter = Command::new("nsenter");
    nsenter.args(["-t", &jwrap.to_string(), "-p", "-m", "sh", "-c", &stranger]);
    let _stranger = Running::start(nsenter);
    let pid_file = dir.path().join("stranger");
    eventually("the stranger runs", || {
        fs::read_to_string(&pid_file).is_ok_and(|text| text.ends_with('\n'))
    });
    let pid = fs::read_to_string(&pid_file).unwrap_or_default();
    if pid.trim() != "2" {
        crate::skip!("the stranger got pid {} instead of 2", pid.trim())
    }
    send(jwrap, libc::SIGUSR1);
    eventually("the daemon got SIGUSR1", || {
        dir.path().join("daemon-got-usr1").exists()
    });
    thread::sleep(Duration::from_millis(300));
    assert!(
        !dir.path().join("stranger-got-usr1").exists(),
        "the stranger's group got jwrap's signal"
    );
}

#[test]
fn a_java_probe_that_cannot_tell_the_version_is_a_warning_and_the_command_runs() {
    let dir = scratch();
    let (java, _) = fake_jdk(dir.path(), "exit 5");
    // Nothing on -version: the version stays unknown.
    fs::write(&java, "#!/bin/sh\nexit 5\n").expect("write");
    let mut running = start(&["--", &java, "-jar", "app.jar"]);
    assert_eq!(running.code_within(PATIENCE), 5);
    let stderr = running.stderr();
    assert!(
        stderr.contains("jwrap: warning: the JDK's version is unknown"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
