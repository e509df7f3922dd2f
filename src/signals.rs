//! Signal names and numbers as users write them, and the rewrite table.
//!
//! Signals are kept as plain numbers (`i32`) because the real-time signals, which jwrap forwards
//! too, have no names in `nix::sys::signal::Signal`.

use crate::units::BadValue;

/// The highest signal number on Linux (SIGRTMAX).
pub const MAX_SIGNAL: i32 = 64;

const NAMES: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// SIGRTMIN as the kernel numbers it. libc reserves the first two or three for itself and
/// reports a higher `SIGRTMIN()`, but a process may still be sent any of them.
const KERNEL_RTMIN: i32 = 32;

/// `TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN+3`, `SIGRTMAX-1` → a signal number.
/// With `allow_zero`, `0` is accepted (a rewrite target that drops the signal).
pub fn parse_signal(text: &str, allow_zero: bool) -> Result<i32, BadValue> {
    let bad = || {
        BadValue(format!(
            "invalid signal '{text}': expected a name such as TERM or SIGUSR1, or a number 1-{MAX_SIGNAL}"
        ))
    };
    let upper = text.trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Ok(number) = name.parse::<i32>() {
        return match number {
            0 if allow_zero => Ok(0),
            1..=MAX_SIGNAL => Ok(number),
            _ => Err(bad()),
        };
    }
    if let Some(&(_, number)) = NAMES.iter().find(|(known, _)| *known == name) {
        return Ok(number);
    }
    let realtime = |base: &str, sign: i32, anchor: i32| -> Option<i32> {
        let rest = name.strip_prefix(base)?;
        let offset = if rest.is_empty() {
            0
        } else {
            let digits = rest.strip_prefix(if sign > 0 { '+' } else { '-' })?;
            // Digits only: `parse` would also take a sign (`RTMIN+-0`, `RTMIN++3`).
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse::<i32>().ok()?
        };
        let number = anchor + sign * offset;
        (KERNEL_RTMIN..=MAX_SIGNAL)
            .contains(&number)
            .then_some(number)
    };
    realtime("RTMIN", 1, KERNEL_RTMIN)
        .or_else(|| realtime("RTMAX", -1, MAX_SIGNAL))
        .ok_or_else(bad)
}

/// `SIGTERM`, `SIGRTMIN+3`, or `signal 70` for numbers Linux does not have.
#[must_use]
pub fn signal_name(number: i32) -> String {
    match NAMES.iter().find(|(_, known)| *known == number) {
        Some((name, _)) => format!("SIG{name}"),
        None if (KERNEL_RTMIN..=MAX_SIGNAL).contains(&number) => {
            format!("SIGRTMIN+{}", number - KERNEL_RTMIN)
        }
        None => format!("signal {number}"),
    }
}

/// One `--rewrite FROM:TO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite {
    pub from: i32,
    /// 0 drops the signal.
    pub to: i32,
}

pub fn parse_rewrite(text: &str) -> Result<Rewrite, BadValue> {
    let (from, to) = text.split_once(':').ok_or_else(|| {
        BadValue(format!(
            "invalid rewrite '{text}': expected FROM:TO, such as TERM:QUIT or 15:3 (TO 0 drops FROM)"
        ))
    })?;
    let from = parse_signal(from, false)?;
    let to = parse_signal(to, true)?;
    if from == libc::SIGKILL || from == libc::SIGSTOP {
        return Err(BadValue(format!(
            "invalid rewrite '{text}': {} cannot be caught, so it cannot be rewritten",
            signal_name(from)
        )));
    }
    Ok(Rewrite { from, to })
}

/// What jwrap delivers when `signal` arrives: `Some(to)`, or `None` when the rewrite drops it.
/// The last rewrite given for a signal wins, like the last of repeated options.
#[must_use]
pub fn rewritten(rewrites: &[Rewrite], signal: i32) -> Option<i32> {
    match rewrites.iter().rev().find(|rewrite| rewrite.from == signal) {
        Some(Rewrite { to: 0, .. }) => None,
        Some(rewrite) => Some(rewrite.to),
        None => Some(signal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse_signal("TERM", false), Ok(15));
        assert_eq!(parse_signal("SIGTERM", false), Ok(15));
        assert_eq!(parse_signal("sigusr1", false), Ok(10));
        assert_eq!(parse_signal("9", false), Ok(9));
        assert_eq!(parse_signal("RTMIN", false), Ok(32));
        assert_eq!(parse_signal("SIGRTMIN+3", false), Ok(35));
        assert_eq!(parse_signal("RTMAX-1", false), Ok(63));
        assert_eq!(parse_signal("0", true), Ok(0));
        for bad in ["0", "65", "-1", "TERMS", "", "RTMIN+40", "RTMAX+1"] {
            assert!(parse_signal(bad, false).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn names_round_trip() {
        for number in 1..=MAX_SIGNAL {
            let name = signal_name(number);
            assert_eq!(parse_signal(&name, false), Ok(number), "{name}");
        }
    }

    #[test]
    fn rewrite_table() {
        let table = [
            parse_rewrite("TERM:QUIT").unwrap(),
            parse_rewrite("INT:0").unwrap(),
            parse_rewrite("15:USR1").unwrap(),
        ];
        assert_eq!(rewritten(&table, libc::SIGTERM), Some(libc::SIGUSR1));
        assert_eq!(rewritten(&table, libc::SIGINT), None);
        assert_eq!(rewritten(&table, libc::SIGHUP), Some(libc::SIGHUP));
        assert!(parse_rewrite("KILL:TERM").is_err());
        assert!(parse_rewrite("TERM").is_err());
        assert!(parse_rewrite("TERM:").is_err());
    }
}
