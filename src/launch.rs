//! Starting COMMAND: everything `execve` needs is built first, then a child that shares jwrap's
//! memory until it execs (`clone` with `CLONE_VM | CLONE_VFORK`, what `posix_spawn` does) makes
//! a handful of system calls and execs.
//!
//! Not `std::process::Command`: it forks, which copies jwrap's page tables and then makes every
//! page jwrap writes fault once more, opens a socket pair to learn whether exec worked, and
//! resets SIGPIPE in the child. Not `posix_spawn` either: it cannot make the child's group the
//! terminal's foreground (musl), and glibc's version silently unblocks signals 32 and 33 in the
//! mask it sets, while the child must get exactly the mask jwrap inherited. Here the child
//! writes exec's error where jwrap reads it, because they share memory until the exec.

use std::ffi::{CStr, CString, OsString, c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicI32, Ordering};

unsafe extern "C" {
    /// The process's environment, as the C library keeps it.
    static environ: *const *const c_char;
}

/// What the child does between `clone` and `execve`.
#[derive(Debug, Clone, Copy)]
pub struct ChildSetup {
    /// Put the child in a process group of its own.
    pub own_group: bool,
    /// Make that group the foreground of the terminal on fd 0 (SIGTTOU is still blocked, which
    /// is what lets a background group take it).
    pub take_terminal: bool,
    /// The signal mask to exec with, as the kernel keeps it.
    pub mask: u64,
}

/// COMMAND ready for `execve`: the paths to try, argv and the environment, as C strings.
pub struct Launch {
    /// The program itself when it names a path, else each PATH entry joined with it, in order
    /// (what `execvp` tries).
    candidates: Vec<CString>,
    /// Keeps the strings `argv` points to alive.
    _args: Vec<CString>,
    argv: Vec<*const c_char>,
    /// Keeps the variables jwrap sets alive; the inherited ones are the C library's.
    _set: Vec<CString>,
    envp: Vec<*const c_char>,
}

/// Why COMMAND could not be prepared or executed: an errno value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecError(pub i32);

impl Launch {
    /// `argv` with jwrap's environment, `env` set on top of it (replacing variables of the
    /// same name). The program is looked up in the resulting PATH, or `default_path` without one.
    pub fn new(
        argv: &[OsString],
        env: &[(OsString, OsString)],
        default_path: &str,
    ) -> Result<Launch, ExecError> {
        let c_string = |bytes: &[u8]| CString::new(bytes).map_err(|_| ExecError(libc::EINVAL));
        let args = argv
            .iter()
            .map(|arg| c_string(arg.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        // A name set twice keeps its last value, as `Command::env` would.
        let set = env
            .iter()
            .enumerate()
            .filter(|(index, (name, _))| !env[index + 1..].iter().any(|(later, _)| later == name))
            .map(|(_, (name, value))| c_string(&[name.as_bytes(), b"=", value.as_bytes()].concat()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut envp: Vec<*const c_char> = inherited_environment()
            .filter(|entry| {
                !env.iter()
                    .any(|(name, _)| name_of(entry) == name.as_bytes())
            })
            .map(CStr::as_ptr)
            .collect();
        envp.extend(set.iter().map(|entry| entry.as_ptr()));
        envp.push(std::ptr::null());

        let program = argv.first().map(OsString::as_os_str).unwrap_or_default();
        let candidates = if program.as_bytes().contains(&b'/') {
            vec![c_string(program.as_bytes())?]
        } else if program.is_empty() {
            Vec::new()
        } else {
            let path = env
                .iter()
                .rev()
                .find(|(name, _)| name == "PATH")
                .map(|(_, value)| value.clone())
                .or_else(|| std::env::var_os("PATH"))
                .unwrap_or_else(|| OsString::from(default_path));
            path.as_bytes()
                .split(|byte| *byte == b':')
                .map(|dir| match dir {
                    // An empty entry is the current directory.
                    b"" => c_string(program.as_bytes()),
                    dir => c_string(&[dir, b"/", program.as_bytes()].concat()),
                })
                .collect::<Result<Vec<_>, _>>()?
        };
        let mut argv: Vec<*const c_char> = args.iter().map(|arg| arg.as_ptr()).collect();
        argv.push(std::ptr::null());
        Ok(Launch {
            candidates,
            _args: args,
            argv,
            _set: set,
            envp,
        })
    }

    /// Start the child; its pid, or why it could not run (it has then been reaped).
    pub fn spawn(&self, setup: ChildSetup) -> Result<i32, ExecError> {
        let shared = Shared {
            launch: self,
            setup,
            error: AtomicI32::new(0),
        };
        // The child's stack until it execs (jwrap is suspended meanwhile): allocated, not
        // initialised, and not on jwrap's own stack, whose probes would touch every page. The
        // child uses only its top.
        let mut stack: Vec<u8> = Vec::with_capacity(CHILD_STACK);
        let top = (stack.as_mut_ptr() as usize + CHILD_STACK) & !15;
        // SAFETY: `child` only makes system calls and reads `shared`, which outlives the child's
        // use of it (CLONE_VFORK: clone returns once the child has exec'd or exited); the stack
        // is ours and unused meanwhile.
        let pid = unsafe {
            libc::clone(
                child,
                top as *mut c_void,
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                &shared as *const Shared as *mut c_void,
            )
        };
        if pid < 0 {
            return Err(ExecError(last_errno()));
        }
        match shared.error.load(Ordering::Acquire) {
            0 => Ok(pid),
            errno => {
                // SAFETY: reaping our own child, which has exited.
                unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                Err(ExecError(errno))
            }
        }
    }

    /// Replace jwrap with the command. Returns only when that failed.
    pub fn exec(&self, setup: ChildSetup) -> ExecError {
        ExecError(self.prepare_and_exec(setup))
    }

    /// The child's part, also `--exec`'s: system calls only, no allocation. Returns the errno of
    /// the failure.
    fn prepare_and_exec(&self, setup: ChildSetup) -> i32 {
        // SAFETY: plain system calls on the calling process, with valid pointers; argv and envp
        // are NULL-terminated arrays of C strings that `self` keeps alive.
        unsafe {
            if setup.own_group {
                libc::setpgid(0, 0);
            }
            if setup.take_terminal {
                let group: libc::pid_t = libc::getpid();
                libc::ioctl(0, libc::TIOCSPGRP, &group);
            }
            // rt_sigprocmask itself: glibc's wrapper would drop signals 32 and 33 from the mask.
            libc::syscall(
                libc::SYS_rt_sigprocmask,
                libc::SIG_SETMASK,
                &setup.mask as *const u64,
                std::ptr::null_mut::<u64>(),
                std::mem::size_of::<u64>(),
            );
            // As execvp: a directory where the program is missing, or cannot be searched, is
            // skipped; a program found but not executable is remembered and reported if nothing
            // else runs; any other failure stops the search.
            let mut last = libc::ENOENT;
            let mut denied = false;
            for candidate in &self.candidates {
                libc::execve(candidate.as_ptr(), self.argv.as_ptr(), self.envp.as_ptr());
                last = last_errno();
                match last {
                    libc::EACCES => denied = true,
                    libc::ENOENT
                    | libc::ENOTDIR
                    | libc::ESTALE
                    | libc::ELOOP
                    | libc::ENAMETOOLONG
                    | libc::ENODEV
                    | libc::ETIMEDOUT => {}
                    _ => return last,
                }
            }
            if denied { libc::EACCES } else { last }
        }
    }
}

/// Enough for `prepare_and_exec` and the C library's `clone` trampoline.
const CHILD_STACK: usize = 16 * 1024;

/// What jwrap hands the child: the launch, and where the child reports a failed exec.
struct Shared<'a> {
    launch: &'a Launch,
    setup: ChildSetup,
    error: AtomicI32,
}

extern "C" fn child(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `Shared` that `spawn` passed, alive until the child execs or exits.
    let shared = unsafe { &*(arg as *const Shared) };
    let errno = shared.launch.prepare_and_exec(shared.setup);
    shared.error.store(errno.max(1), Ordering::Release);
    127
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The entries of the process's environment, as the C library keeps them.
fn inherited_environment() -> impl Iterator<Item = &'static CStr> {
    // SAFETY: `environ` is a NULL-terminated array of C strings; jwrap never changes its
    // environment, so they live (unchanged) as long as the process.
    let mut next = unsafe { environ };
    std::iter::from_fn(move || {
        if next.is_null() {
            return None;
        }
        // SAFETY: see above; `next` stays within the array, stopping at its NULL.
        unsafe {
            let entry = *next;
            if entry.is_null() {
                return None;
            }
            next = next.add(1);
            Some(CStr::from_ptr(entry))
        }
    })
}

/// `NAME` of a `NAME=value` entry.
fn name_of(entry: &CStr) -> &[u8] {
    let bytes = entry.to_bytes();
    let end = bytes
        .iter()
        .position(|byte| *byte == b'=')
        .unwrap_or(bytes.len());
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(items: &[&str]) -> Vec<OsString> {
        items.iter().map(OsString::from).collect()
    }

    fn strings(pointers: &[*const c_char]) -> Vec<String> {
        pointers
            .iter()
            .take_while(|pointer| !pointer.is_null())
            .map(|pointer| {
                unsafe { CStr::from_ptr(*pointer) }
                    .to_string_lossy()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn candidates_follow_path_or_the_given_path() {
        let env = vec![(OsString::from("PATH"), OsString::from("/a::/b"))];
        let launch = Launch::new(&os(&["tool", "x"]), &env, "/bin").unwrap();
        let candidates: Vec<_> = launch
            .candidates
            .iter()
            .map(|c| c.to_str().unwrap())
            .collect();
        assert_eq!(candidates, ["/a/tool", "tool", "/b/tool"]);
        let launch = Launch::new(&os(&["./tool"]), &env, "/bin").unwrap();
        assert_eq!(launch.candidates, [CString::new("./tool").unwrap()]);
        assert!(
            Launch::new(&os(&[""]), &[], "/bin")
                .unwrap()
                .candidates
                .is_empty()
        );
    }

    #[test]
    fn set_variables_replace_inherited_ones() {
        let inherited_path = std::env::var_os("PATH").is_some();
        let env = vec![
            (OsString::from("PATH"), OsString::from("/only")),
            (OsString::from("JWRAP_LAUNCH_TEST"), OsString::from("a=b")),
        ];
        let launch = Launch::new(&os(&["tool", "arg"]), &env, "/bin").unwrap();
        let envp = strings(&launch.envp);
        assert_eq!(envp.iter().filter(|e| e.starts_with("PATH=")).count(), 1);
        assert!(envp.contains(&"PATH=/only".to_string()), "{envp:?}");
        assert!(envp.contains(&"JWRAP_LAUNCH_TEST=a=b".to_string()));
        assert!(!inherited_path || envp.len() > 2);
        assert_eq!(strings(&launch.argv), ["tool", "arg"]);
        let twice = vec![
            (OsString::from("JWRAP_LAUNCH_TEST"), OsString::from("first")),
            (OsString::from("JWRAP_LAUNCH_TEST"), OsString::from("last")),
        ];
        let launch = Launch::new(&os(&["tool"]), &twice, "/bin").unwrap();
        let envp = strings(&launch.envp);
        let set: Vec<_> = envp
            .iter()
            .filter(|e| e.starts_with("JWRAP_LAUNCH_TEST="))
            .collect();
        assert_eq!(set, ["JWRAP_LAUNCH_TEST=last"]);
    }

    #[test]
    fn a_nul_byte_cannot_be_passed() {
        let env = vec![(OsString::from("X"), OsString::from("a\0b"))];
        assert_eq!(
            Launch::new(&os(&["tool"]), &env, "/bin").err(),
            Some(ExecError(libc::EINVAL))
        );
    }
}
