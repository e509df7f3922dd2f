//! The init: run COMMAND as a child, forward signals to it, reap zombies, escalate and drain.
//!
//! It reads top to bottom in the order things happen:
//!
//! 1. `block_signals` — the very first thing `main` does, before options are parsed or limits
//!    detected, so a SIGTERM that arrives during start-up stays pending and is forwarded later.
//!    Every signal is blocked, the real-time ones libc keeps for itself included.
//! 2. `run` starts the child (`launch::spawn`): its own process group, the terminal's foreground
//!    when jwrap has it, exactly the signal mask and ignored signals jwrap inherited, and none
//!    of jwrap's files.
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
//! * not PID 1, and a shell runs jwrap as a job (jwrap started as the terminal's foreground
//!   group), or jwrap forwarded the stop: jwrap stops itself too, so the shell sees the job as
//!   stopped; `fg` or `bg` continues jwrap, which continues the child and, on `fg`, hands the
//!   terminal back to it;
//! * not PID 1 and no shell's job (a service manager, another init), for a stop jwrap did not
//!   forward: jwrap keeps running, so the signals that follow still reach the child;
//! * PID 1 (a container): nobody could resume the child, so a stop that jwrap did not forward
//!   (Ctrl-Z on `docker run -it`) is undone at once with SIGCONT; Ctrl-Z then does what it does
//!   to an app that is PID 1 itself: nothing. A stop signal sent to jwrap on purpose
//!   (`docker kill -s TSTP`) is forwarded and respected.
//!
//! A SIGTERM, SIGINT or SIGQUIT forwarded to a child jwrap saw stopped is followed by SIGCONT,
//! as a shell's `kill` does for a stopped job: a stopped process acts on neither until continued.

use crate::config::Supervision;
use crate::launch::{self, ChildSetup, Failure, SignalState};
use crate::log;
use crate::signals::{rewritten, signal_name};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::SigSet;
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::{Pid, getpgid, getpgrp, getpid, getppid};
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// What jwrap inherited and must hand on to the child unchanged.
#[derive(Debug, Clone, Copy)]
pub struct Inherited {
    signals: SignalState,
    /// The parent at start-up, so `--pdeath-signal` can tell that it died before it was watched.
    parent: Pid,
}

/// Block every signal, and return what was inherited.
///
/// Blocked signals stay pending until the loop reads them from a signalfd. The kernel's own
/// fault signals (a real SIGSEGV in jwrap) are still fatal even when blocked; the same signals
/// sent with kill(2) are merely forwarded, so they cannot kill jwrap and orphan the child.
/// An inherited "ignore" of SIGCHLD is undone for jwrap (the kernel would reap its children
/// before it could learn how they ended) and given back to the child.
#[must_use]
pub fn block_signals() -> Inherited {
    Inherited {
        signals: SignalState::take_over(),
        parent: getppid(),
    }
}

/// Every signal as a `SigSet`, for the signalfd.
fn every_signal_set() -> SigSet {
    // Not `SigSet::all`: that is libc's `sigfillset`, which leaves out the signals libc keeps for
    // itself.
    // SAFETY: sigset_t is plain data, and all zeroes is the empty set; the kernel reads the first
    // 8 bytes (_NSIG / 8) as one bit per signal, which is what we write.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        std::ptr::write_unaligned((&raw mut set).cast::<u64>(), launch::EVERY_SIGNAL);
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
    #[must_use]
    pub fn code(self) -> i32 {
        match self {
            ChildExit::Exited(code) => code,
            ChildExit::Signaled(signal) => 128 + signal,
        }
    }
}

/// jwrap's exit code for a child that ended with `exit`: its code or 128 + signal, or 0 when
/// that code was listed with `--success-exit`.
#[must_use]
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

/// The exit code and message for a command that could not be run.
fn spawn_error(program: &OsStr, failure: Failure) -> SpawnError {
    let program = program.to_string_lossy();
    let (code, message) = match failure {
        Failure::Exec(errno) => {
            let reason = io::Error::from_raw_os_error(errno).to_string();
            let reason = reason
                .split(" (os error")
                .next()
                .unwrap_or(&reason)
                .to_string();
            let code = match errno {
                libc::ENOENT | libc::ENOTDIR => 127,
                // jwrap could not make the process: no memory, pids or descriptors left.
                libc::EAGAIN | libc::ENOMEM | libc::EMFILE | libc::ENFILE => 125,
                _ => 126,
            };
            (code, format!("cannot run {program}: {reason}"))
        }
        Failure::MissingInterpreter {
            program: path,
            interpreter: Some(interpreter),
        } => (
            126,
            format!(
                "cannot run {program}: the interpreter its #! line names, {}, was not found ({})",
                interpreter.to_string_lossy(),
                path.display()
            ),
        ),
        Failure::MissingInterpreter {
            program: path,
            interpreter: None,
        } => (
            126,
            format!(
                "cannot run {program}: {} exists, but the program loader it needs was not found",
                path.display()
            ),
        ),
        Failure::NulByte => (
            126,
            format!("cannot run {program}: an argument or variable contains a NUL byte"),
        ),
    };
    SpawnError { code, message }
}

/// COMMAND's program, as given.
fn program(argv: &[OsString]) -> &OsStr {
    argv.first().map(OsString::as_os_str).unwrap_or_default()
}

/// `--exec`: replace jwrap with the command. Returns only if that failed.
#[must_use]
pub fn exec(argv: &[OsString], env: &[(OsString, OsString)], inherited: &Inherited) -> SpawnError {
    let setup = ChildSetup {
        own_group: false,
        take_terminal: false,
        signals: inherited.signals,
    };
    spawn_error(program(argv), launch::exec(argv, env, setup))
}

/// Whether stdin is a terminal whose foreground process group is jwrap's: then the child takes
/// the foreground, so keys like Ctrl-C reach it. A jwrap started in the background leaves the
/// terminal alone. It is also the evidence that a shell with job control runs jwrap as a job.
fn owns_terminal() -> bool {
    let stdin = io::stdin();
    nix::unistd::isatty(stdin.as_fd()).unwrap_or(false)
        && nix::unistd::tcgetpgrp(stdin.as_fd()).is_ok_and(|group| group == getpgrp())
}

/// Work the loop does now and then while the main child runs (the check of what a JVM runs
/// with, the memory watch): `due` says when, `run` does it with the main child's pid. The loop
/// only calls each at its time and knows nothing else of them.
pub trait Periodic {
    fn due(&self) -> Option<Instant>;
    fn run(&mut self, child: i32);
    /// Called once, right after the child was started: what must be ready before the child
    /// gets far, and must not delay its start.
    fn started(&mut self) {}
    /// A descriptor that, when ready, makes the work due at once (the memory watch's
    /// threshold notifications), and for what readiness.
    fn wake_fd(&self) -> Option<(BorrowedFd<'_>, Wake)> {
        None
    }
}

/// What readiness of a periodic job's descriptor wakes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// `POLLIN` (an eventfd).
    Readable,
    /// `POLLPRI` (a cgroup file that changed).
    Priority,
}

/// Run the command under the init and return how it ended, once it and what it left behind
/// are gone (or have been killed after `--drain-timeout`). Each of `periodic` is called at its
/// times while the main child runs.
pub fn run<'a>(
    argv: &[OsString],
    env: &[(OsString, OsString)],
    supervision: &'a Supervision,
    inherited: &Inherited,
    periodic: Vec<&'a mut dyn Periodic>,
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
    // Start the child in its own process group (and the terminal's foreground when jwrap holds
    // it), with the signal mask and ignored signals jwrap inherited.
    let job_control = owns_terminal();
    let setup = ChildSetup {
        own_group: true,
        take_terminal: job_control,
        signals: inherited.signals,
    };
    let child = match launch::spawn(argv, env, setup) {
        Ok(pid) => Pid::from_raw(pid as i32),
        Err(failure) => return Err(spawn_error(program(argv), failure)),
    };
    log::info(&format!(
        "started {} as pid {child}{}",
        program(argv).to_string_lossy(),
        if is_pid1 { " (jwrap is PID 1)" } else { "" }
    ));
    let mut supervisor = Supervisor::new(child, supervision, own_pid, signals, job_control);
    supervisor.periodic = periodic;
    for periodic in &mut supervisor.periodic {
        periodic.started();
    }
    if parent_died {
        if let Some(signal) = supervision.pdeath_signal {
            log::info("the parent was gone before jwrap started watching it");
            supervisor.on_signal(signal, 0);
        }
    }
    Ok(supervisor.run())
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
    /// The main child was seen stopped and has not been continued by jwrap since.
    child_stopped: bool,
    /// Draining: when to SIGKILL what is left, and who already got SIGTERM.
    drain_until: Option<Instant>,
    drained: HashSet<i32>,
    /// No child of jwrap is left (waitpid said ECHILD).
    no_children: bool,
    /// jwrap was started as the terminal's foreground job: a shell with job control runs it.
    job_control: bool,
    /// jwrap's children as last listed, less those reaped since (see `Children`).
    children: Children,
    /// Once the main child is gone: jwrap's children that were in its group while its zombie
    /// still held the group's id, less those reaped since. While one is left, the id is still
    /// that group's.
    group_holders: Vec<i32>,
    /// Forward errors already reported, so a signal storm cannot flood stderr.
    reported: HashSet<i32>,
    /// Called at their times while the main child runs (`Periodic`).
    periodic: Vec<&'a mut dyn Periodic>,
    /// Which of them the last wait woke through their descriptor.
    woken: Vec<usize>,
}

const TERMINATING: [i32; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT];
const TERMINAL_STOPS: [i32; 3] = [libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];
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
        job_control: bool,
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
            child_stopped: false,
            drain_until: None,
            drained: HashSet::new(),
            no_children: false,
            job_control,
            children: Children::default(),
            group_holders: Vec::new(),
            reported: HashSet::new(),
            periodic: Vec::new(),
            woken: Vec::new(),
        }
    }

    fn run(&mut self) -> ChildExit {
        loop {
            // Wait for one or more signals, or the next deadline.
            self.wait_for_signals();
            // Forward what arrived (SIGCHLD only wakes the reaper).
            self.read_signals();
            // Act on deadlines: a held SIGTERM, --kill-after, the end
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
            self.periodic_due(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn wait_for_signals(&mut self) {
        let timeout = match self.next_deadline() {
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                // Round up, so the deadline has passed when poll returns.
                let millis = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
                PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        let mut fds = vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN)];
        // The periodic work's descriptors, while the main child runs.
        let mut owners = Vec::new();
        if self.exit.is_none() {
            for (index, periodic) in self.periodic.iter().enumerate() {
                if let Some((fd, wake)) = periodic.wake_fd() {
                    let flags = match wake {
                        Wake::Readable => PollFlags::POLLIN,
                        Wake::Priority => PollFlags::POLLPRI,
                    };
                    fds.push(PollFd::new(fd, flags));
                    owners.push(index);
                }
            }
        }
        let result = poll(&mut fds, timeout);
        let woken: Vec<usize> = fds[1..]
            .iter()
            .zip(&owners)
            .filter(|(fd, _)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|(_, &index)| index)
            .collect();
        drop(fds);
        self.woken = woken;
        match result {
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
            self.child_stopped = false;
        }
        let result = self.send_to_target(signal);
        // A stopped process acts on SIGTERM only once continued (a shell's `kill` continues a
        // stopped job the same way).
        if TERMINATING.contains(&signal) && self.child_stopped && result.is_ok() {
            self.child_stopped = false;
            self.stop_requested = false;
            let _ = self.send_to_target(libc::SIGCONT);
        }
        match result {
            Ok(()) if log::is_verbose() => log::info(&format!(
                "forwarded {} to {}",
                signal_name(signal),
                self.describe_target()
            )),
            Ok(()) => {}
            // The child left its process group (setsid, setpgid): reach it directly.
            Err(Errno::ESRCH) if !self.options.single_child && self.exit.is_none() => {
                if let Err(err) = self.send_to_child(signal) {
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

    /// The main child with `--single-child`, else its group.
    fn send_to_target(&mut self, signal: i32) -> Result<(), Errno> {
        if self.options.single_child {
            self.send_to_child(signal)
        } else {
            self.send_to_group(signal)
        }
    }

    /// The main child, while it has not been reaped: until then its pid is its own.
    fn send_to_child(&self, signal: i32) -> Result<(), Errno> {
        if self.exit.is_some() {
            return Err(Errno::ESRCH);
        }
        send(self.child.as_raw(), signal)
    }

    /// The child's process group, while a member is known to be alive: the main child before
    /// it is reaped, or a child of jwrap that was in the group before that and has not been
    /// reaped (a zombie included). Each holds the group's id, so it cannot name another group
    /// meanwhile; without one, the id may already be reused, and the signal is not sent.
    fn send_to_group(&mut self, signal: i32) -> Result<(), Errno> {
        if !self.group_is_held() {
            return Err(Errno::ESRCH);
        }
        send(-self.child.as_raw(), signal)
    }

    fn group_is_held(&self) -> bool {
        self.exit.is_none() || !self.group_holders.is_empty()
    }

    /// The main child has exited and is not reaped yet: note which children of jwrap share its
    /// group (its zombie holds the group's id until then, so they are members of that group).
    /// Only from /proc: the scan of every pid is not worth making at every exit, and without
    /// holders the group's members that are jwrap's children are signalled one by one.
    fn note_group_holders(&mut self) {
        let group = self.child;
        if !self.children.refresh_from_proc() {
            return;
        }
        self.group_holders = self
            .children
            .list()
            .iter()
            .copied()
            .filter(|&pid| pid != group.as_raw())
            .filter(|&pid| getpgid(Some(Pid::from_raw(pid))) == Ok(group))
            .collect();
    }

    fn describe_target(&self) -> String {
        if self.options.single_child {
            format!("pid {}", self.child)
        } else {
            format!("process group {}", self.child)
        }
    }

    /// When periodic work is next due: only while the main child runs.
    fn periodic_due(&self) -> Option<Instant> {
        if self.exit.is_some() {
            return None;
        }
        self.periodic.iter().filter_map(|p| p.due()).min()
    }

    fn fire_deadlines(&mut self) {
        let now = Instant::now();
        let woken = std::mem::take(&mut self.woken);
        if self.exit.is_none() {
            let child = self.child.as_raw();
            for (index, periodic) in self.periodic.iter_mut().enumerate() {
                if woken.contains(&index) || periodic.due().is_some_and(|at| now >= at) {
                    periodic.run(child);
                }
            }
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
                let _ = self.send_to_group(libc::SIGKILL);
                let _ = self.send_to_child(libc::SIGKILL);
            }
        }
    }

    /// waitpid(2) itself rather than nix's: nix turns a status it cannot name (a child killed
    /// by a real-time signal) into an error after the kernel has already released the zombie,
    /// and the main child's status would be lost.
    fn reap(&mut self) {
        if self.exit.is_none() {
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
            match waitid(Id::Pid(self.child), flags) {
                Ok(WaitStatus::StillAlive) | Err(Errno::EINTR) => {}
                // Exited (or a status nix cannot name): reaped just below.
                _ => self.note_group_holders(),
            }
        }
        loop {
            let mut status = 0;
            let flags = libc::WNOHANG | libc::WUNTRACED;
            // SAFETY: `status` is a valid place for the kernel to write the status.
            let pid = unsafe { libc::waitpid(-1, &raw mut status, flags) };
            match pid {
                0 => break,
                -1 => match Errno::last() {
                    Errno::EINTR => {}
                    Errno::ECHILD => {
                        self.no_children = true;
                        self.children.clear();
                        break;
                    }
                    err => {
                        log::warn(&format!("waitpid failed: {err}"));
                        break;
                    }
                },
                pid if libc::WIFEXITED(status) => {
                    self.on_exit(pid, ChildExit::Exited(libc::WEXITSTATUS(status)));
                }
                pid if libc::WIFSIGNALED(status) => {
                    self.on_exit(pid, ChildExit::Signaled(libc::WTERMSIG(status)));
                }
                pid if libc::WIFSTOPPED(status) && pid == self.child.as_raw() => {
                    self.on_child_stopped(libc::WSTOPSIG(status));
                }
                _ => {}
            }
        }
    }

    fn on_exit(&mut self, pid: i32, exit: ChildExit) {
        // Its pid may belong to another process from now on.
        self.children.reaped(pid);
        self.group_holders.retain(|&holder| holder != pid);
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
        self.child_stopped = true;
        if self.is_pid1 {
            if !self.stop_requested {
                log::info(&format!(
                    "the command was stopped by {} with no shell to resume it; continuing it",
                    signal_name(signal)
                ));
                let _ = self.send_to_target(libc::SIGCONT);
            }
        } else if !self.stop_requested && !self.job_control {
            // No shell runs jwrap as a job (a service manager, another init): stopping jwrap
            // would only leave it deaf to the signals that follow.
            log::info(&format!(
                "the command was stopped by {}; jwrap keeps running (it is no shell's job)",
                signal_name(signal)
            ));
        } else if is_stopped(self.child.as_raw()) {
            // (A SIGCONT forwarded since the stop already resumed it: then jwrap stays running.)
            log::info("the command was stopped; stopping jwrap too, for the shell's job control");
            // SIGSTOP cannot be blocked; jwrap resumes here when the shell sends SIGCONT.
            let _ = send(self.own_pid, libc::SIGSTOP);
        }
    }

    /// After `fg`, the shell gave the terminal to jwrap's group: pass it on to the child's.
    fn take_terminal_back(&self) {
        if self.exit.is_none() && owns_terminal() {
            // SIGTTOU is blocked in jwrap, so a background jwrap may do this too.
            let _ = nix::unistd::tcsetpgrp(io::stdin().as_fd(), self.child);
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
        let _ = self.send_to_group(libc::SIGTERM);
        let _ = self.send_to_group(libc::SIGCONT);
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

    /// jwrap's children that a signal to the main child's group does not reach: those outside
    /// it, or all of them once the group's id is no longer held. Each is unreaped, so its pid
    /// is still its own.
    fn own_children_outside_group(&mut self) -> Vec<i32> {
        let group = self.child;
        let held = self.group_is_held();
        self.children
            .list()
            .iter()
            .copied()
            .filter(|&pid| !held || getpgid(Some(Pid::from_raw(pid))) != Ok(group))
            .collect()
    }

    /// The drain timeout passed: SIGKILL everything left and reap it.
    fn kill_leftovers(&mut self) {
        self.children.refresh();
        let left = census(self.child.as_raw(), self.children.list());
        log::warn(&format!(
            "{left} process(es) still running {:?} after the command exited (--drain-timeout); sending SIGKILL",
            self.options.drain_timeout
        ));
        let _ = self.send_to_group(libc::SIGKILL);
        for pid in self.children.list().to_vec() {
            let _ = send(pid, libc::SIGKILL);
        }
        let until = Instant::now() + KILL_REAP_GRACE;
        while !self.no_children && Instant::now() < until {
            self.reap();
            if !self.no_children {
                std::thread::sleep(Duration::from_millis(5));
                // Orphans of killed processes come to jwrap and need the same treatment.
                for pid in self.children.list().to_vec() {
                    let _ = send(pid, libc::SIGKILL);
                }
            }
        }
    }
}

/// jwrap's own children (the main child and adopted orphans), as last listed, less those reaped
/// since: a listed pid is never reused while it is here, as jwrap alone reaps its children.
///
/// Listed from /proc; without /proc, or without a free descriptor to read it, by asking the
/// kernel about every pid (waitid with WNOWAIT answers only for one's own children). That scan
/// takes a fraction of a second, so it is made only when asked for (`refresh`: when draining
/// starts and before the final SIGKILL); in between, its listing stands, less reaped pids.
#[derive(Default)]
struct Children {
    listed: Vec<i32>,
    /// The last listing came from the scan of every pid.
    scanned: bool,
}

impl Children {
    /// The children as listed now, or by the last scan.
    fn list(&mut self) -> &[i32] {
        if !self.scanned {
            self.refresh();
        }
        &self.listed
    }

    fn refresh(&mut self) {
        // Kernels without CONFIG_PROC_CHILDREN, no /proc, no descriptor left: the scan.
        (self.listed, self.scanned) = match Children::from_proc() {
            Some(listed) => (listed, false),
            None => (scan_children(), true),
        };
    }

    /// A fresh listing from /proc, if /proc can tell.
    fn refresh_from_proc(&mut self) -> bool {
        let Some(listed) = Children::from_proc() else {
            return false;
        };
        (self.listed, self.scanned) = (listed, false);
        true
    }

    fn from_proc() -> Option<Vec<i32>> {
        let me = getpid().as_raw();
        let text = std::fs::read_to_string(format!("/proc/{me}/task/{me}/children")).ok()?;
        Some(
            text.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect(),
        )
    }

    fn reaped(&mut self, pid: i32) {
        self.listed.retain(|&listed| listed != pid);
    }

    fn clear(&mut self) {
        self.listed.clear();
    }
}

/// The highest pid the kernel hands out (`pid_max`), or its upper limit when it cannot be read.
fn pid_max() -> i32 {
    const PID_MAX_LIMIT: i32 = 4 * 1024 * 1024;
    std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(PID_MAX_LIMIT)
}

/// jwrap's children, by asking for each pid whether it is one (system calls only: no /proc, no
/// descriptor). WNOWAIT leaves any status to be collected by `reap`.
fn scan_children() -> Vec<i32> {
    let me = getpid().as_raw();
    let flags = WaitPidFlag::WEXITED
        | WaitPidFlag::WSTOPPED
        | WaitPidFlag::WCONTINUED
        | WaitPidFlag::WNOHANG
        | WaitPidFlag::WNOWAIT;
    (2..=pid_max())
        .filter(|&pid| pid != me)
        // A pid that does not exist is skipped at the cost of one cheap system call.
        .filter(|&pid| getpgid(Some(Pid::from_raw(pid))).is_ok())
        .filter(|&pid| match waitid(Id::Pid(Pid::from_raw(pid)), flags) {
            Ok(_) => true,
            // A status nix cannot name is still a child's.
            Err(err) => err != Errno::ECHILD,
        })
        .collect()
}

/// How many processes are left: jwrap's children and the other members of the main child's
/// group (those only with /proc to list them).
fn census(group: i32, children: &[i32]) -> usize {
    let in_group = |pid: i32| getpgid(Some(Pid::from_raw(pid))) == Ok(Pid::from_raw(group));
    let pids: Vec<i32> = match std::fs::read_dir("/proc") {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    let members = pids
        .into_iter()
        .filter(|&pid| in_group(pid) && !children.contains(&pid))
        .count();
    members + children.len()
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

fn describe_exit(exit: ChildExit) -> String {
    match exit {
        ChildExit::Exited(code) => format!("exit code {code}"),
        ChildExit::Signaled(signal) => format!("killed by {}", signal_name(signal)),
    }
}

/// The inode number of the kernel's first PID namespace (`PROC_PID_INIT_INO`), the one the
/// kernel's init runs in.
const INITIAL_PID_NAMESPACE: &str = "pid:[4026531836]";

/// Whether jwrap is the kernel's own init (started by `init=`/`rdinit=`), not PID 1 of a
/// container. Call it before spawning. PID 1 of a container may have a process at PID 2 too (a
/// sibling its parent started), so that proves nothing by itself; what holds only for the
/// kernel's init:
/// * with /proc mounted, jwrap's PID namespace is the kernel's first one;
/// * without (the kernel's init starts before /proc is mounted), PID 2 (kthreadd) exists and is
///   not jwrap's child: a sibling in a container is.
#[must_use]
pub fn is_kernel_init() -> bool {
    if getpid().as_raw() != 1 {
        return false;
    }
    if let Ok(namespace) = std::fs::read_link("/proc/self/ns/pid") {
        return namespace.as_os_str() == INITIAL_PID_NAMESPACE;
    }
    let two = Pid::from_raw(2);
    let exists = matches!(send(2, 0), Ok(()) | Err(Errno::EPERM));
    let own_child = !matches!(
        waitid(
            Id::Pid(two),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT
        ),
        Err(Errno::ECHILD)
    );
    exists && !own_child
}

/// The kernel panics when its init exits; power the machine off cleanly instead.
pub fn power_off() {
    nix::unistd::sync();
    let Err(err) = nix::sys::reboot::reboot(nix::sys::reboot::RebootMode::RB_POWER_OFF);
    log::warn(&format!("cannot power off: {err}"));
}
