//! Starting COMMAND with `std::process::Command`, plus what an init's child needs between fork
//! and exec: a process group of its own, the terminal's foreground when jwrap holds it, and
//! exactly the signal mask and ignored signals jwrap inherited.
//!
//! The program is looked up as `execvp` does. A file that the kernel cannot execute (a script
//! without `#!`) runs under `/bin/sh`, as `execvp` does: glibc does that inside `execvp`, musl
//! does not, so jwrap does it itself when the error comes back, and both builds behave alike.
//! `--exec` goes through the same code, with `exec` in place of `spawn`.

use crate::java::discover::{DEFAULT_PATH, search};
use nix::errno::Errno;
use nix::sys::signal::{SigHandler, Signal};
use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The shell `execvp` runs a file without `#!` with.
const SHELL: &str = "/bin/sh";

/// The signal state jwrap was started with, which the child must get back unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalState {
    /// The signal mask, as the kernel keeps it: bit N-1 set when signal N is blocked.
    pub mask: u64,
    /// The ignored signals jwrap changes for itself, in the same form: SIGCHLD and SIGPIPE.
    pub ignored: u64,
}

/// Signals 1 to 64, as a kernel mask. Not `sigfillset`: libc leaves out the signals it keeps for
/// itself (32 and 33 in glibc, 32 to 34 in musl) and glibc's `sigprocmask` refuses to block
/// them, yet anyone may send them; unblocked, their default action would kill jwrap.
pub const EVERY_SIGNAL: u64 = u64::MAX;

/// The ignored signals jwrap must change for itself, and give back to the child.
/// * SIGCHLD: ignored, the kernel reaps jwrap's children itself and the init never learns how
///   its child ended;
/// * SIGPIPE: `std::process::Command` sets it to the default action in every child.
const RESTORED: [Signal; 2] = [Signal::SIGCHLD, Signal::SIGPIPE];

fn bit(signal: i32) -> u64 {
    1 << (signal - 1)
}

impl SignalState {
    /// Block every signal, give SIGCHLD its default action, and return what was inherited.
    /// The first thing jwrap does: a SIGTERM that arrives during start-up stays pending and is
    /// forwarded once the child runs.
    #[must_use]
    pub fn take_over() -> SignalState {
        let mut mask = 0;
        // Only an invalid `how` or pointer makes this fail; neither can happen here.
        let _ = set_mask(EVERY_SIGNAL, Some(&mut mask));
        let ignored = RESTORED
            .iter()
            .filter(|&&signal| is_ignored(signal))
            .fold(0, |set, &signal| set | bit(signal as i32));
        if ignored & bit(Signal::SIGCHLD as i32) != 0 {
            // SAFETY: SIG_DFL installs no handler.
            let _ = unsafe { nix::sys::signal::signal(Signal::SIGCHLD, SigHandler::SigDfl) };
        }
        SignalState { mask, ignored }
    }

    /// In the child, between fork and exec: the ignored signals and the mask as inherited.
    /// Only system calls (async-signal-safe).
    fn restore(&self) -> io::Result<()> {
        for signal in RESTORED {
            if self.ignored & bit(signal as i32) != 0 {
                // SAFETY: SIG_IGN installs no handler, so no code of ours can run on a signal.
                unsafe { nix::sys::signal::signal(signal, SigHandler::SigIgn) }?;
            }
        }
        set_mask(self.mask, None)?;
        Ok(())
    }
}

/// Whether `signal` is ignored (a query: nothing is changed).
fn is_ignored(signal: Signal) -> bool {
    // SAFETY: `struct sigaction` is plain data (all zeroes is a valid value); with a null new
    // action, sigaction only writes the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal as i32, std::ptr::null(), &raw mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

/// `rt_sigprocmask(2)` itself, bypassing libc's filter (see `EVERY_SIGNAL`): there is no API
/// that sets the real-time signals glibc keeps for itself. Async-signal-safe: the child calls
/// it between fork and exec.
pub fn set_mask(mask: u64, old: Option<&mut u64>) -> Result<(), Errno> {
    let old = old.map_or(std::ptr::null_mut(), std::ptr::from_mut::<u64>);
    // SAFETY: the kernel reads and writes 8 bytes (the size passed) at these valid pointers.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &raw const mask,
            old,
            std::mem::size_of::<u64>(),
        )
    };
    if rc == 0 { Ok(()) } else { Err(Errno::last()) }
}

/// What the child gets besides argv and the environment.
#[derive(Debug, Clone, Copy)]
pub struct ChildSetup {
    /// Put the child in a process group of its own.
    pub own_group: bool,
    /// Make that group the foreground of the terminal on fd 0 (SIGTTOU is still blocked then,
    /// which is what lets a background group take it).
    pub take_terminal: bool,
    pub signals: SignalState,
}

/// Why COMMAND could not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// `execve` (or `fork`) failed with this errno.
    Exec(i32),
    /// The program exists, but the interpreter its `#!` line names does not (`None`: it is a
    /// binary whose loader is missing).
    MissingInterpreter {
        program: PathBuf,
        interpreter: Option<OsString>,
    },
    /// An argument or variable holds a NUL byte, which `execve` cannot pass.
    NulByte,
}

/// Start COMMAND as a child; its pid.
pub fn spawn(
    argv: &[OsString],
    env: &[(OsString, OsString)],
    setup: ChildSetup,
) -> Result<u32, Failure> {
    run(argv, env, setup, |command| {
        command.spawn().map(|child| child.id())
    })
}

/// Replace jwrap with COMMAND. Returns only when that failed; every signal is blocked again
/// then.
#[must_use]
pub fn exec(argv: &[OsString], env: &[(OsString, OsString)], setup: ChildSetup) -> Failure {
    let failure = match run(argv, env, setup, |command| {
        Err::<std::convert::Infallible, _>(command.exec())
    }) {
        Ok(never) => match never {},
        Err(failure) => failure,
    };
    let _ = set_mask(EVERY_SIGNAL, None);
    failure
}

/// The one way COMMAND starts: `start` on the command as given, and on ENOEXEC once more under
/// `/bin/sh`.
fn run<T>(
    argv: &[OsString],
    env: &[(OsString, OsString)],
    setup: ChildSetup,
    start: impl Fn(&mut Command) -> io::Result<T>,
) -> Result<T, Failure> {
    let program = argv.first().map(OsString::as_os_str).unwrap_or_default();
    let args = argv.get(1..).unwrap_or_default();
    let has_nul = |text: &OsStr| text.as_bytes().contains(&0);
    if argv.iter().any(|arg| has_nul(arg))
        || env
            .iter()
            .any(|(name, value)| has_nul(name) || has_nul(value))
    {
        return Err(Failure::NulByte);
    }
    let error = match start(&mut command(program, args, env, setup)) {
        Ok(started) => return Ok(started),
        Err(error) => error,
    };
    let errno = error.raw_os_error().unwrap_or(libc::EIO);
    let found = || located(program, env);
    match errno {
        libc::ENOEXEC => {
            let Some(path) = found() else {
                return Err(Failure::Exec(errno));
            };
            let args: Vec<OsString> = std::iter::once(path.into_os_string())
                .chain(args.iter().cloned())
                .collect();
            start(&mut command(OsStr::new(SHELL), &args, env, setup))
                .map_err(|error| Failure::Exec(error.raw_os_error().unwrap_or(libc::EIO)))
        }
        // Not found, yet the file is there: what is missing is its interpreter.
        libc::ENOENT => match found().filter(|path| path.is_file()) {
            Some(program) => Err(Failure::MissingInterpreter {
                interpreter: interpreter_of(&program),
                program,
            }),
            None => Err(Failure::Exec(errno)),
        },
        _ => Err(Failure::Exec(errno)),
    }
}

fn command(
    program: &OsStr,
    args: &[OsString],
    env: &[(OsString, OsString)],
    setup: ChildSetup,
) -> Command {
    let mut command = Command::new(program);
    // The command sees the program name as given, as `execvp` passes it.
    command
        .args(args)
        .envs(env.iter().map(|(name, value)| (name, value)));
    if setup.own_group {
        command.process_group(0);
    }
    let stdin = io::stdin();
    let ChildSetup {
        take_terminal,
        signals,
        ..
    } = setup;
    // SAFETY: the closure runs in the child between fork and exec, and makes only system calls
    // (tcsetpgrp, sigaction, rt_sigprocmask); it allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            if take_terminal {
                // A terminal lost meanwhile (hung up) is no reason not to run the command.
                let _ = nix::unistd::tcsetpgrp(stdin.as_fd(), nix::unistd::getpgrp());
            }
            signals.restore()
        });
    }
    command
}

/// The file `execvp` tried for `program`: the path as given, else the first executable of that
/// name in the command's PATH.
fn located(program: &OsStr, env: &[(OsString, OsString)]) -> Option<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(program));
    }
    let path = env
        .iter()
        .rev()
        .find(|(name, _)| name == "PATH")
        .map(|(_, value)| value.clone())
        .or_else(|| std::env::var_os("PATH"))
        .unwrap_or_else(|| OsString::from(DEFAULT_PATH));
    search(&path, program)
}

/// The interpreter a file's `#!` line names, if it has one.
fn interpreter_of(program: &Path) -> Option<OsString> {
    // As much as the kernel reads for the `#!` line.
    const HEAD: u64 = 256;
    let mut head = Vec::new();
    std::fs::File::open(program)
        .ok()?
        .take(HEAD)
        .read_to_end(&mut head)
        .ok()?;
    let line = head
        .strip_prefix(b"#!")?
        .split(|byte| *byte == b'\n')
        .next()?;
    let word = line
        .split(|byte| *byte == b' ' || *byte == b'\t')
        .find(|word| !word.is_empty())?;
    Some(OsStr::from_bytes(word).to_os_string())
}
