//! The init: run COMMAND as a child, forward signals to it, reap zombies, escalate and drain.
//!
//! It reads top to bottom in the order things happen:
//!
//! 1. `block_signals` — the very first thing `main` does, before options are parsed or limits
//!    detected, so a SIGTERM that arrives during start-up stays pending and is forwarded later.
//!    Every signal is blocked, the real-time ones libc keeps for itself included.
//! 2. `spawn` — the child gets its own process group, the terminal's foreground when jwrap has
//!    it, exactly the signal mask and ignored signals jwrap inherited, and none of jwrap's files.
//! 3. `Supervisor::run` — one loop: wait for a signal or a deadline, forward, reap, and once the
//!    main child is gone, drain what is left of its processes (SIGTERM, and SIGKILL after
//!    `--drain-timeout`), then return its status.
//!
//! After the child is spawned nothing here may end jwrap early or panic: while the child lives,
//! a dead init takes the container down. A failed forward or wait is a warning, and the loop goes
//! on.
//!
//! Job control: the child's group owns the terminal, so Ctrl-C and Ctrl-Z from a terminal go to
//! the child, not to jwrap. SIGTSTP, SIGTTIN and SIGTTOU sent to jwrap are forwarded like any
//! other signal; jwrap itself never stops on them. When the child is stopped by one of them:
//! * not PID 1 (a shell started jwrap): jwrap stops itself too, so the shell sees the job as
//!   stopped; `fg` or `bg` continues jwrap, which continues the child and, on `fg`, hands the
//!   terminal back to it;
//! * PID 1 (a container): nobody could resume the child, so a stop that jwrap did not forward
//!   (Ctrl-Z on `docker run -it`) is undone at once with SIGCONT; Ctrl-Z then does what it does
//!   to an app that is PID 1 itself: nothing. A stop signal sent to jwrap on purpose
//!   (`docker kill -s TSTP`) is forwarded and respected.

use crate::config::Supervision;
use crate::java::discover::DEFAULT_PATH;
use crate::launch::{ChildSetup, ExecError, Launch};
use crate::log;
use crate::signals::{rewritten, signal_name};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::SigSet;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::{Pid, getpid, getppid};
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// What jwrap inherited and must hand on to the child unchanged.
#[derive(Debug, Clone, Copy)]
pub struct Inherited {
    /// The signal mask, as the kernel keeps it: bit N-1 set when signal N is blocked.
    mask: u64,
    /// The parent at start-up, so `--pdeath-signal` can tell that it died before it was watched.
    parent: Pid,
}

/// Block every signal, and return what was inherited.
///
/// Blocked signals stay pending until the loop reads them from a signalfd. The kernel's own
/// fault signals (a real SIGSEGV in jwrap) are still fatal even when blocked; the same signals
/// sent with kill(2) are merely forwarded, so they cannot kill jwrap and orphan the child.
pub fn block_signals() -> Inherited {
    let mut mask = 0;
    // Only an invalid `how` or pointer makes this fail; neither can happen here.
    let _ = set_signal_mask(EVERY_SIGNAL, Some(&mut mask));
    Inherited {
        mask,
        parent: getppid(),
    }
}

/// Signals 1 to 64, as a kernel mask. Not `sigfillset`: libc leaves out the signals it keeps for
/// itself (32 and 33 in glibc, 32 to 34 in musl) and glibc's `sigprocmask` refuses to block
/// them, yet anyone may send them; unblocked, their default action would kill jwrap.
const EVERY_SIGNAL: u64 = u64::MAX;

/// rt_sigprocmask(2) itself, bypassing libc's filter (see `EVERY_SIGNAL`). Async-signal-safe:
/// the child calls it between fork and exec.
fn set_signal_mask(mask: u64, old: Option<&mut u64>) -> Result<(), Errno> {
    let old = old.map_or(std::ptr::null_mut(), |old| old as *mut u64);
    // SAFETY: the kernel reads and writes 8 bytes (the size passed) at these valid pointers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &mask as *const u64,
            old,
            std::mem::size_of::<u64>(),
        )
    };
    if rc == 0 { Ok(()) } else { Err(Errno::last()) }
}

/// The same set as a `SigSet`, for the signalfd.
fn every_signal_set() -> SigSet {
    // SAFETY: sigset_t is plain data, and all zeroes is the empty set; the kernel reads the first
    // 8 bytes (_NSIG / 8) as one bit per signal, which is what we write.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        std::ptr::write_unaligned(
            (&mut set as *mut libc::sigset_t).cast::<u64>(),
            EVERY_SIGNAL,
        );
        SigSet::from_sigset_t_unchecked(set)
    }
}

/// How the main child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    Exited(i32),
    Signaled(i32),
}

impl ChildExit {
    /// The shell's convention: the exit code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            ChildExit::Exited(code) => code,
            ChildExit::Signaled(signal) => 128 + signal,
        }
    }
}

/// jwrap's exit code for a child that ended with `exit`: its code or 128 + signal, or 0 when
/// that code was listed with `--success-exit`.
pub fn exit_code(exit: ChildExit, success_exits: &[i32]) -> i32 {
    let code = exit.code();
    if success_exits.contains(&code) {
        0
    } else {
        code
    }
}

/// Why COMMAND did not start: exit code 127 when it was not found, 126 when it was found but
/// could not be executed, 125 when jwrap could not start a process.
#[derive(Debug)]
pub struct SpawnError {
    pub code: i32,
    pub message: String,
}

/// The exit code and message for a command that could not be run: 127 when it was not found,
/// 126 when it was found but could not be executed, 125 when jwrap could not start a process.
fn spawn_error(program: &OsStr, error: ExecError) -> SpawnError {
    let ExecError(errno) = error;
    let reason = io::Error::from_raw_os_error(errno).to_string();
    let reason = reason.split(" (os error").next().unwrap_or(&reason);
    let code = match errno {
        libc::ENOENT | libc::ENOTDIR => 127,
        libc::EAGAIN | libc::ENOMEM => 125,
        _ => 126,
    };
    SpawnError {
        code,
        message: format!("cannot run {}: {reason}", program.to_string_lossy()),
    }
}

/// COMMAND's program, as given.
fn program(argv: &[OsString]) -> &OsStr {
    argv.first().map(OsString::as_os_str).unwrap_or_default()
}

/// argv and the environment as `execve` wants them, or why they cannot be passed.
fn launch(argv: &[OsString], env: &[(OsString, OsString)]) -> Result<Launch, SpawnError> {
    Launch::new(argv, env, DEFAULT_PATH).map_err(|_| SpawnError {
        code: 126,
        message: format!(
            "cannot run {}: an argument or variable contains a NUL byte",
            program(argv).to_string_lossy()
        ),
    })
}

/// `--exec`: replace jwrap with the command. Returns only if that failed.
pub fn exec(argv: &[OsString], env: &[(OsString, OsString)], inherited: &Inherited) -> SpawnError {
    let setup = ChildSetup {
        own_group: false,
        take_terminal: false,
        mask: inherited.mask,
    };
    match launch(argv, env) {
        Ok(launch) => {
            let error = launch.exec(setup);
            // Back to blocking everything: jwrap is about to report the failure and exit.
            let _ = set_signal_mask(EVERY_SIGNAL, None);
            spawn_error(program(argv), error)
        }
        Err(failure) => failure,
    }
}

/// Whether stdin is a terminal whose foreground process group is jwrap's: then the child takes
/// the foreground, so keys like Ctrl-C reach it. A jwrap started in the background leaves the
/// terminal alone.
fn owns_terminal() -> bool {
    // SAFETY: plain queries on fd 0.
    unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() }
}

/// Start the child in its own process group (and the terminal's foreground when jwrap holds it),
/// with the signal mask jwrap inherited. Signal dispositions are left alone: jwrap installs no
/// handler, so the child gets the ignored set jwrap was given.
fn spawn(
    argv: &[OsString],
    env: &[(OsString, OsString)],
    inherited: &Inherited,
) -> Result<Pid, SpawnError> {
    let setup = ChildSetup {
        own_group: true,
        take_terminal: owns_terminal(),
        mask: inherited.mask,
    };
    match launch(argv, env)?.spawn(setup) {
        Ok(pid) => Ok(Pid::from_raw(pid)),
        Err(error) => Err(spawn_error(program(argv), error)),
    }
}

/// Work the loop does now and then while the main child runs (the check of what a JVM runs
/// with): `due` says when, `run` does it with the main child's pid. The loop only calls it at
/// its time and knows nothing else of it.
pub trait Periodic {
    fn due(&self) -> Option<Instant>;
    fn run(&mut self, child: i32);
}

/// Run the command under the init and return how it ended, once it and what it left behind
/// are gone (or have been killed after `--drain-timeout`). `periodic`, if any, is called at its
/// times while the main child runs.
pub fn run<'a>(
    argv: &[OsString],
    env: &[(OsString, OsString)],
    supervision: &'a Supervision,
    inherited: &Inherited,
    periodic: Option<&'a mut dyn Periodic>,
) -> Result<ChildExit, SpawnError> {
    let own_pid = getpid().as_raw();
    let is_pid1 = own_pid == 1;
    // Orphans of the child's processes must come to jwrap to be reaped (PID 1 gets them anyway).
    if !is_pid1 {
        if let Err(err) = nix::sys::prctl::set_child_subreaper(true) {
            log::warn(&format!(
                "cannot become a child subreaper ({err}); orphans will not be reaped by jwrap"
            ));
        }
    }
    let parent_died = match supervision.pdeath_signal {
        Some(signal) => watch_parent(signal, inherited.parent),
        None => false,
    };
    let signals = match SignalFd::with_flags(
        &every_signal_set(),
        SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK,
    ) {
        Ok(fd) => fd,
        Err(err) => {
            return Err(SpawnError {
                code: 125,
                message: format!("cannot create a signalfd: {err}"),
            });
        }
    };
    let child = spawn(argv, env, inherited)?;
    log::info(&format!(
        "started {} as pid {child}{}",
        argv.first()
            .map(|p| p.to_string_lossy())
            .unwrap_or_default(),
        if is_pid1 { " (jwrap is PID 1)" } else { "" }
    ));
    let mut supervisor = Supervisor::new(child, supervision, own_pid, signals);
    supervisor.periodic = periodic;
    if parent_died {
        if let Some(signal) = supervision.pdeath_signal {
            log::info("the parent was gone before jwrap started watching it");
            supervisor.on_signal(signal, 0);
        }
    }
    Ok(supervisor.run())
}

/// Unmap the pages of jwrap's own code and constants that start-up touched.
///
/// Option parsing, detection and the JVM decision run once; the init then lives as long as the
/// container, needing only the few pages of its loop. The kernel maps a binary's file pages
/// in 64 KiB runs around each one touched, so a static binary stays resident at nearly its file
/// size. The pages are clean copies of the file (code and read-only data, from the start of the
/// image to the end of its code), so dropping them loses nothing: the ones the loop needs come
/// back on first use, and the page cache keeps them reclaimable instead of pinned by jwrap.
fn release_start_up_pages() {
    unsafe extern "C" {
        // Defined by the linker: the first byte of the image and the end of its code.
        static __executable_start: u8;
        static etext: u8;
    }
    // Only the addresses of the linker's symbols are taken; nothing is read through them.
    let start = std::ptr::addr_of!(__executable_start) as usize;
    let end = std::ptr::addr_of!(etext) as usize;
    // SAFETY: a plain query.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    let first = start.div_ceil(page) * page;
    let last = end / page * page;
    if last > first {
        // SAFETY: the range lies inside jwrap's own read-only, file-backed image, which is
        // never written; MADV_DONTNEED on such a private mapping only drops the page-table
        // entries, and later accesses fault the same contents back in from the file.
        unsafe {
            libc::madvise(
                first as *mut libc::c_void,
                last - first,
                libc::MADV_DONTNEED,
            );
        }
    }
}

/// `--pdeath-signal`: ask the kernel to send SIG when the parent dies. Returns true when the
/// parent that started jwrap is already gone (jwrap was re-parented before it asked).
fn watch_parent(signal: i32, parent: Pid) -> bool {
    // The signal number was validated (1-64); the kernel checks it again.
    // SAFETY: prctl(PR_SET_PDEATHSIG, signal) takes plain integers.
    let rc = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        log::warn(&format!(
            "cannot watch the parent process: {}",
            io::Error::last_os_error()
        ));
        return false;
    }
    getppid() != parent
}

/// The main loop's state.
struct Supervisor<'a> {
    child: Pid,
    options: &'a Supervision,
    is_pid1: bool,
    /// jwrap's own pid, to recognise the signals it caused itself.
    own_pid: i32,
    signals: SignalFd,
    /// Set once the main child has been reaped.
    exit: Option<ChildExit>,
    /// `--kill-after`: when to SIGKILL the group after a forwarded TERM/INT/QUIT.
    kill_at: Option<Instant>,
    /// `--term-delay`: a held SIGTERM (already rewritten) and when to deliver it.
    held_term: Option<(Instant, i32)>,
    /// The first SIGTERM has been seen (only that one is held).
    term_seen: bool,
    /// jwrap forwarded a stop signal that has not been followed by SIGCONT.
    stop_requested: bool,
    /// Draining: when to SIGKILL what is left, and who already got SIGTERM.
    drain_until: Option<Instant>,
    drained: HashSet<i32>,
    /// No child of jwrap is left (waitpid said ECHILD).
    no_children: bool,
    /// When to drop the pages start-up touched (`release_start_up_pages`); done once.
    release_pages_at: Option<Instant>,
    /// Forward errors already reported, so a signal storm cannot flood stderr.
    reported: HashSet<i32>,
    /// Called at its times while the main child runs (`Periodic`).
    periodic: Option<&'a mut dyn Periodic>,
}

const TERMINATING: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];
const TERMINAL_STOPS: [i32; 3] = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];
/// How long the start-up pages stay mapped after the child is spawned. Dropping them costs a
/// `madvise` and the faults of the pages the loop then uses again, which a command that ends
/// at once (a health check, `true`) should not pay; a long-running one waits 100 ms longer for
/// jwrap's memory to shrink.
const START_UP_PAGES_HELD: Duration = Duration::from_millis(100);
/// After the final SIGKILL, how long to wait for the killed processes to be reaped.
const KILL_REAP_GRACE: Duration = Duration::from_secs(1);
/// While draining, how often to look for new orphans: one whose parent was not jwrap's child
/// is adopted without a SIGCHLD, so nothing else would wake the loop for it.
const DRAIN_RESCAN: Duration = Duration::from_millis(50);

impl<'a> Supervisor<'a> {
    fn new(
        child: Pid,
        options: &'a Supervision,
        own_pid: i32,
        signals: SignalFd,
    ) -> Supervisor<'a> {
        Supervisor {
            child,
            options,
            is_pid1: own_pid == 1,
            own_pid,
            signals,
            exit: None,
            kill_at: None,
            held_term: None,
            term_seen: false,
            stop_requested: false,
            drain_until: None,
            drained: HashSet::new(),
            no_children: false,
            release_pages_at: Some(Instant::now() + START_UP_PAGES_HELD),
            reported: HashSet::new(),
            periodic: None,
        }
    }

    fn run(&mut self) -> ChildExit {
        loop {
            // Wait for one or more signals, or the next deadline.
            self.wait_for_signals();
            // Forward what arrived (SIGCHLD only wakes the reaper).
            self.read_signals();
            // Act on deadlines: dropping start-up pages, a held SIGTERM, --kill-after, the end
            // of draining.
            self.fire_deadlines();
            // Reap every child that has exited: the main one, and adopted orphans.
            self.reap();
            // Once the main child is gone: drain its leftovers, then report its status.
            if let Some(exit) = self.exit {
                if self.drain_until.is_none() {
                    self.start_drain();
                } else if !self.no_children && !self.options.drain_timeout.is_zero() {
                    self.terminate_new_orphans();
                }
                if self.no_children || self.options.drain_timeout.is_zero() {
                    return exit;
                }
                if self
                    .drain_until
                    .is_some_and(|until| Instant::now() >= until)
                {
                    self.kill_leftovers();
                    return exit;
                }
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let rescan = self.drain_until.map(|_| Instant::now() + DRAIN_RESCAN);
        [
            self.kill_at,
            self.held_term.map(|(at, _)| at),
            self.drain_until,
            rescan,
            self.release_pages_at,
            self.periodic_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn wait_for_signals(&self) {
        let timeout = match self.next_deadline() {
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                // Round up, so the deadline has passed when poll returns.
                let millis = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let mut fds = [PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(err) => {
                log::warn(&format!("poll failed: {err}"));
                // Do not spin if poll keeps failing; reaping still happens below.
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    fn read_signals(&mut self) {
        loop {
            match self.signals.read_signal() {
                Ok(Some(info)) => {
                    let signal = info.ssi_signo as i32;
                    if signal == libc::SIGCHLD {
                        continue;
                    }
                    // A signal jwrap caused itself (SIGPIPE from writing to a closed stderr)
                    // is not the child's business.
                    if info.ssi_pid != 0 && info.ssi_pid as i32 == self.own_pid {
                        continue;
                    }
                    self.on_signal(signal, info.ssi_pid as i32);
                }
                Ok(None) | Err(Errno::EAGAIN) => break,
                Err(Errno::EINTR) => continue,
                Err(err) => {
                    log::warn(&format!("reading signals failed: {err}"));
                    break;
                }
            }
        }
    }

    /// A signal arrived for jwrap: rewrite it, hold it, or forward it.
    fn on_signal(&mut self, received: i32, sender: i32) {
        let Some(signal) = rewritten(&self.options.rewrites, received) else {
            log::info(&format!(
                "dropped {} (rewritten to 0)",
                signal_name(received)
            ));
            return;
        };
        if received == libc::SIGCONT && !self.is_pid1 {
            self.stop_requested = false;
            self.take_terminal_back();
        }
        if received == libc::SIGTERM && !self.options.term_delay.is_zero() && self.exit.is_none() {
            match self.held_term.take() {
                // A second SIGTERM during the delay: the sender insists; deliver now.
                Some(_) => {}
                None if !self.term_seen => {
                    self.term_seen = true;
                    log::info(&format!(
                        "holding SIGTERM for {:?} (--term-delay) before forwarding it",
                        self.options.term_delay
                    ));
                    self.held_term = Some((Instant::now() + self.options.term_delay, signal));
                    return;
                }
                None => {}
            }
        }
        self.term_seen |= received == libc::SIGTERM;
        // (Messages on the paths a storm of signals or orphans takes are only built when shown.)
        if sender > 0 && log::is_verbose() {
            log::info(&format!(
                "received {} from pid {sender}",
                signal_name(received)
            ));
        }
        self.forward(signal);
    }

    fn forward(&mut self, signal: i32) {
        if TERMINAL_STOPS.contains(&signal) || signal == libc::SIGSTOP {
            self.stop_requested = true;
        } else if signal == libc::SIGCONT {
            self.stop_requested = false;
        }
        let target = self.target();
        match send(target, signal) {
            Ok(()) if log::is_verbose() => log::info(&format!(
                "forwarded {} to {}",
                signal_name(signal),
                describe(target)
            )),
            Ok(()) => {}
            // The child left its process group (setsid, setpgid): reach it directly.
            Err(Errno::ESRCH) if target < 0 && self.exit.is_none() => {
                if let Err(err) = send(self.child.as_raw(), signal) {
                    self.report_forward_error(signal, err);
                }
            }
            Err(err) => self.report_forward_error(signal, err),
        }
        // While draining, what is left outside the group is jwrap's to signal too.
        if self.exit.is_some() {
            for pid in self.own_children_outside_group() {
                let _ = send(pid, signal);
            }
        }
        if TERMINATING.contains(&signal) && self.exit.is_none() && self.kill_at.is_none() {
            if let Some(after) = self.options.kill_after {
                self.kill_at = Some(Instant::now() + after);
            }
        }
    }

    fn report_forward_error(&mut self, signal: i32, err: Errno) {
        if err == Errno::ESRCH {
            log::info(&format!(
                "{} not forwarded: no such process",
                signal_name(signal)
            ));
        } else if self.reported.insert(err as i32) || log::is_verbose() {
            log::warn(&format!("forwarding {} failed: {err}", signal_name(signal)));
        }
    }

    /// The child's process group (negative pid), or the child itself with `--single-child`.
    fn target(&self) -> i32 {
        if self.options.single_child {
            self.child.as_raw()
        } else {
            -self.child.as_raw()
        }
    }

    /// When the periodic work is next due: only while the main child runs.
    fn periodic_due(&self) -> Option<Instant> {
        self.exit
            .is_none()
            .then(|| self.periodic.as_ref()?.due())
            .flatten()
    }

    fn fire_deadlines(&mut self) {
        let now = Instant::now();
        if self.periodic_due().is_some_and(|at| now >= at) {
            if let Some(periodic) = self.periodic.as_mut() {
                periodic.run(self.child.as_raw());
            }
        }
        if self.release_pages_at.is_some_and(|at| now >= at) {
            self.release_pages_at = None;
            release_start_up_pages();
        }
        if let Some((at, signal)) = self.held_term {
            if now >= at {
                self.held_term = None;
                self.forward(signal);
            }
        }
        if let Some(at) = self.kill_at {
            if now >= at && self.exit.is_none() {
                self.kill_at = None;
                log::warn(&format!(
                    "the command did not exit within {:?} (--kill-after); sending SIGKILL",
                    self.options.kill_after.unwrap_or_default()
                ));
                let _ = send(-self.child.as_raw(), libc::SIGKILL);
                let _ = send(self.child.as_raw(), libc::SIGKILL);
            }
        }
    }

    /// waitpid(2) itself rather than nix's: nix turns a status it cannot name (a child killed
    /// by a real-time signal) into an error after the kernel has already released the zombie,
    /// and the main child's status would be lost.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: `status` is a valid place for the kernel to write the status.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::WUNTRACED) };
            match pid {
                0 => break,
                -1 => match Errno::last() {
                    Errno::EINTR => {}
                    Errno::ECHILD => {
                        self.no_children = true;
                        break;
                    }
                    err => {
                        log::warn(&format!("waitpid failed: {err}"));
                        break;
                    }
                },
                pid if libc::WIFEXITED(status) => {
                    self.on_exit(pid, ChildExit::Exited(libc::WEXITSTATUS(status)))
                }
                pid if libc::WIFSIGNALED(status) => {
                    self.on_exit(pid, ChildExit::Signaled(libc::WTERMSIG(status)))
                }
                pid if libc::WIFSTOPPED(status) && pid == self.child.as_raw() => {
                    self.on_child_stopped(libc::WSTOPSIG(status))
                }
                _ => {}
            }
        }
    }

    fn on_exit(&mut self, pid: i32, exit: ChildExit) {
        if pid == self.child.as_raw() {
            log::info(&format!(
                "the command (pid {pid}) ended: {}",
                describe_exit(exit)
            ));
            self.exit = Some(exit);
        } else if log::is_verbose() {
            log::info(&format!("reaped pid {pid}: {}", describe_exit(exit)));
        }
    }

    /// See the module comment: mirror the stop for a shell, or undo it as PID 1.
    fn on_child_stopped(&mut self, signal: i32) {
        if !TERMINAL_STOPS.contains(&signal) {
            return;
        }
        if self.is_pid1 {
            if !self.stop_requested {
                log::info(&format!(
                    "the command was stopped by {} with no shell to resume it; continuing it",
                    signal_name(signal)
                ));
                let _ = send(self.target(), libc::SIGCONT);
            }
        } else if is_stopped(self.child.as_raw()) {
            // (A SIGCONT forwarded since the stop already resumed it: then jwrap stays running.)
            log::info("the command was stopped; stopping jwrap too, for the shell's job control");
            // SIGSTOP cannot be blocked; jwrap resumes here when the shell sends SIGCONT.
            let _ = send(self.own_pid, libc::SIGSTOP);
        }
    }

    /// After `fg`, the shell gave the terminal to jwrap's group: pass it on to the child's.
    fn take_terminal_back(&self) {
        if owns_terminal() {
            // SAFETY: plain call; SIGTTOU is blocked in jwrap.
            unsafe {
                libc::tcsetpgrp(0, self.child.as_raw());
            }
        }
    }

    /// The main child has exited: SIGTERM what is left of its group and every adopted orphan.
    fn start_drain(&mut self) {
        let timeout = self.options.drain_timeout;
        self.drain_until = Some(Instant::now() + timeout);
        self.kill_at = None;
        self.held_term = None;
        if timeout.is_zero() || self.no_children {
            return;
        }
        self.reap();
        if self.no_children {
            return;
        }
        log::info(&format!(
            "draining: SIGTERM to what the command left behind, SIGKILL after {timeout:?}"
        ));
        self.terminate_leftovers();
    }

    fn terminate_leftovers(&mut self) {
        let _ = send(-self.child.as_raw(), libc::SIGTERM);
        let _ = send(-self.child.as_raw(), libc::SIGCONT);
        self.terminate_new_orphans();
    }

    /// SIGTERM each child of jwrap that has not had one yet: processes outside the group
    /// (a daemon that called setsid) and orphans adopted while draining. Members of the group
    /// already had theirs.
    fn terminate_new_orphans(&mut self) {
        for pid in self.own_children_outside_group() {
            if self.drained.insert(pid) {
                let _ = send(pid, libc::SIGTERM);
                let _ = send(pid, libc::SIGCONT);
            }
        }
    }

    fn own_children_outside_group(&self) -> Vec<i32> {
        let group = self.child.as_raw();
        // SAFETY: getpgid takes a plain pid; a process that is gone gives -1, which is kept.
        own_children()
            .into_iter()
            .filter(|&pid| unsafe { libc::getpgid(pid) } != group)
            .collect()
    }

    /// The drain timeout passed: SIGKILL everything left and reap it.
    fn kill_leftovers(&mut self) {
        let left = own_children();
        log::warn(&format!(
            "{} process(es) still running {:?} after the command exited (--drain-timeout); sending SIGKILL",
            left.len().max(1),
            self.options.drain_timeout
        ));
        let _ = send(-self.child.as_raw(), libc::SIGKILL);
        for pid in left {
            let _ = send(pid, libc::SIGKILL);
        }
        let until = Instant::now() + KILL_REAP_GRACE;
        while !self.no_children && Instant::now() < until {
            self.reap();
            if !self.no_children {
                std::thread::sleep(Duration::from_millis(5));
                // Orphans of killed processes come to jwrap and need the same treatment.
                for pid in own_children() {
                    let _ = send(pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// jwrap's own children (the main child and adopted orphans), from /proc.
fn own_children() -> Vec<i32> {
    let me = getpid().as_raw();
    let listed = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children"));
    match listed {
        Ok(text) => text
            .split_whitespace()
            .filter_map(|pid| pid.parse().ok())
            .collect(),
        // Kernels without CONFIG_PROC_CHILDREN: scan every process's parent.
        Err(_) => scan_children(me),
    }
}

fn scan_children(parent: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // The name in parentheses may contain spaces: parse after the last ')'.
                    let after = &stat[stat.rfind(')')? + 1..];
                    after.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Whether the process is in a stop (state T in /proc); true when that cannot be read.
fn is_stopped(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|end| stat.get(end + 1..))
            .and_then(|after| after.split_whitespace().next())
            .is_none_or(|state| state == "T"),
        Err(_) => true,
    }
}

/// kill(2) with a raw signal number: real-time signals have no `nix::Signal`.
fn send(target: i32, signal: i32) -> Result<(), Errno> {
    // SAFETY: kill takes plain integers.
    let rc = unsafe { libc::kill(target, signal) };
    if rc == 0 { Ok(()) } else { Err(Errno::last()) }
}

fn describe(target: i32) -> String {
    if target < 0 {
        format!("process group {}", -target)
    } else {
        format!("pid {target}")
    }
}

fn describe_exit(exit: ChildExit) -> String {
    match exit {
        ChildExit::Exited(code) => format!("exit code {code}"),
        ChildExit::Signaled(signal) => format!("killed by {}", signal_name(signal)),
    }
}

/// Whether jwrap is the kernel's own init (started by `init=`/`rdinit=`), not PID 1 of a
/// container. Call it before spawning: only the kernel's init finds a process with PID 2
/// (kthreadd) already there; a new PID namespace has none until jwrap's child.
pub fn is_kernel_init() -> bool {
    getpid().as_raw() == 1 && matches!(send(2, 0), Ok(()) | Err(Errno::EPERM))
}

/// The kernel panics when its init exits; power the machine off cleanly instead.
pub fn power_off() {
    nix::unistd::sync();
    let Err(err) = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    log::warn(&format!("cannot power off: {err}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(ChildExit::Exited(3), &[]), 3);
        assert_eq!(exit_code(ChildExit::Signaled(libc::SIGTERM), &[]), 143);
        assert_eq!(exit_code(ChildExit::Signaled(libc::SIGTERM), &[143]), 0);
        assert_eq!(exit_code(ChildExit::Exited(143), &[143]), 0);
        assert_eq!(exit_code(ChildExit::Exited(1), &[143]), 1);
    }

    #[test]
    fn spawn_errors_map_to_126_and_127() {
        assert_eq!(
            spawn_error(OsStr::new("x"), ExecError(libc::ENOENT)).code,
            127
        );
        assert_eq!(
            spawn_error(OsStr::new("x"), ExecError(libc::ENOTDIR)).code,
            127
        );
        assert_eq!(
            spawn_error(OsStr::new("x"), ExecError(libc::ENOEXEC)).code,
            126
        );
        assert_eq!(
            spawn_error(OsStr::new("x"), ExecError(libc::EAGAIN)).code,
            125
        );
        let err = spawn_error(OsStr::new("x"), ExecError(libc::EACCES));
        assert_eq!(err.code, 126);
        assert_eq!(err.message, "cannot run x: Permission denied");
    }
}
