//! jwrap's own messages: stderr only (stdout belongs to the child), each line `jwrap: ...`.
//!
//! The level is set once, from the configuration, before anything is logged. A write error
//! (stderr closed or a full pipe) is ignored: losing a message must never stop the init.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors only.
    Quiet = 0,
    /// Warnings and errors.
    Normal = 1,
    /// `-v`: every decision too.
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Verbosity::Normal as u8);

pub fn set_verbosity(verbosity: Verbosity) {
    LEVEL.store(verbosity as u8, Ordering::Relaxed);
}

pub fn verbosity() -> Verbosity {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Verbosity::Quiet,
        1 => Verbosity::Normal,
        _ => Verbosity::Verbose,
    }
}

/// Always shown: jwrap itself failed.
pub fn error(message: &str) {
    emit("", &[message]);
}

/// An error that spans lines (the parser's, with its usage line).
pub fn error_lines(lines: &[&str]) {
    emit("", lines);
}

/// Shown unless `-q`.
pub fn warn(message: &str) {
    if verbosity() >= Verbosity::Normal {
        emit("warning: ", &[message]);
    }
}

/// Shown with `-v`.
pub fn info(message: &str) {
    if verbosity() >= Verbosity::Verbose {
        emit("", &[message]);
    }
}

#[must_use]
pub fn is_verbose() -> bool {
    verbosity() >= Verbosity::Verbose
}

/// Shown unless `-q`, without a `warning:` tag: something worth knowing that is not a
/// problem yet (the memory limit changed), one line per fact.
pub fn notice_lines(lines: &[&str]) {
    if verbosity() >= Verbosity::Normal {
        emit("", lines);
    }
}

/// Always shown, `-q` too: why the command died (the explanation of an out-of-memory kill),
/// one line per fact. Quiet keeps jwrap's warnings off, never the reason for a death.
pub fn report_lines(lines: &[&str]) {
    emit("", lines);
}

/// As `notice_lines`, for one line.
pub fn notice(message: &str) {
    notice_lines(&[message]);
}

/// `text` with its control characters escaped (`\n`, `\t`, `\u{1b}`): for a value from the
/// user or a file inside one of jwrap's messages, where a newline would start a line of its own.
#[must_use]
pub fn escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Each line as `jwrap: TAG LINE`. Every control character inside a line is escaped, a newline
/// too: a line is one line, whatever the values in it hold.
fn emit(tag: &str, lines: &[&str]) {
    let mut text = String::new();
    for line in lines {
        text.push_str("jwrap: ");
        text.push_str(tag);
        text.push_str(&escape(line));
        text.push('\n');
    }
    // One write per message, so lines from jwrap and the child do not interleave mid-line.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
