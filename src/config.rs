//! The one place where options and the environment become a `Config`.
//!
//! clap reads the `JWRAP_*` variables while parsing; everything else jwrap needs from the
//! environment (`JAVA_HOME`, PATH, `JAVA_TOOL_OPTIONS`...) is captured here once, as an
//! `Environment` value that the pure parts of jwrap take as an argument.

use crate::cli::{Parsed, Sub};
use crate::limits::{Limit, Source};
use crate::log::{self, Verbosity};
use crate::root::Root;
use crate::signals::{Rewrite, parse_rewrite, parse_signal, signal_name};
use crate::units::{BadValue, parse_cpus, parse_percent, parse_seconds, parse_size};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The process environment, as ordered name/value pairs (what the child will inherit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: Vec<(OsString, OsString)>,
}

/// An environment from name/value pairs, in order (`std::env::vars_os()`, or a test's).
impl<K: Into<OsString>, V: Into<OsString>> FromIterator<(K, V)> for Environment {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Environment {
        Environment {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl Environment {
    #[must_use]
    pub fn from_process() -> Environment {
        std::env::vars_os().collect()
    }

    /// An environment made up by a test.
    #[cfg(test)]
    pub fn from_pairs<K: Into<OsString>, V: Into<OsString>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Environment {
        pairs.into_iter().collect()
    }

    #[must_use]
    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.vars
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_os_str())
    }

    /// The value as text; a value that is not UTF-8 is treated as unset.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(OsStr::to_str)
    }

    #[must_use]
    pub fn vars(&self) -> &[(OsString, OsString)] {
        &self.vars
    }
}

/// The file name of COMMAND's program: `java` for `java`, `./java` and `/opt/jdk/bin/java`.
#[must_use]
pub fn program_name(command: &[OsString]) -> Option<&OsStr> {
    command
        .first()
        .and_then(|program| std::path::Path::new(program).file_name())
}

/// What `jwrap` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run COMMAND (under the init, or by exec with `--exec`).
    Run,
    /// Print what was detected and what would be done.
    Info { json: bool },
}

/// How the JVM flags reach the JVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JavaFlagsMode {
    /// As arguments when COMMAND is `java`, else in `JAVA_TOOL_OPTIONS`.
    Auto,
    /// As arguments right after `java`.
    Args,
    /// Appended to `JAVA_TOOL_OPTIONS`.
    Env,
    /// No JVM flags at all.
    Off,
}

/// How the init behaves; doc/contract.md describes each option.
#[derive(Debug, Clone, PartialEq)]
pub struct Supervision {
    pub single_child: bool,
    pub rewrites: Vec<Rewrite>,
    pub kill_after: Option<Duration>,
    pub drain_timeout: Duration,
    pub term_delay: Duration,
    pub success_exits: Vec<i32>,
    pub pdeath_signal: Option<i32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub action: Action,
    pub root: Root,
    /// `--memory-limit`: a `Limit::Set` whose source is the option or its variable.
    pub memory_override: Option<Limit<u64>>,
    /// `--cpus`, likewise.
    pub cpus_override: Option<Limit<f64>>,
    pub heap_percent: Option<f64>,
    pub java_flags: JavaFlagsMode,
    pub runtime_env: bool,
    /// `--memory-watch`: sample the container's memory while COMMAND runs.
    pub memory_watch: bool,
    /// `--memory-report`: where to write the samples when the kernel kills COMMAND.
    pub memory_report: Option<PathBuf>,
    pub supervision: Supervision,
    pub exec: bool,
    pub verbosity: Verbosity,
    pub command: Vec<OsString>,
    pub env: Environment,
}

/// Why the command line cannot be used (exit code 125).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// The configuration for `parsed` in `env`.
///
/// # Errors
/// A `UsageError` naming the option or variable whose value cannot be used, or saying that
/// COMMAND is missing.
pub fn build(parsed: Parsed, env: Environment) -> Result<Config, UsageError> {
    // The name the user wrote for an option's value: the option, or its variable.
    let named = |id: &'static str| parsed.name(id);
    let options = &parsed.cli.options;
    let (action, command) = match &parsed.cli.subcommand {
        Some(Sub::Info(info)) => (Action::Info { json: info.json }, info.command.clone()),
        None => (Action::Run, parsed.cli.command.clone()),
    };
    if action == Action::Run && command.is_empty() {
        return Err(UsageError(
            "no command given; usage: jwrap [OPTIONS] [--] COMMAND [ARG]... (or jwrap info)"
                .to_string(),
        ));
    }
    if command.first().is_some_and(|program| program.is_empty()) {
        return Err(UsageError("the command is an empty string".to_string()));
    }
    let setting = |id: &'static str, text: &str| Source::Setting {
        name: named(id).to_string(),
        text: text.to_string(),
    };
    let memory_override = match &options.memory_limit {
        Some(text) => Some(Limit::Set {
            value: checked(named("memory_limit"), text, parse_size)?,
            source: setting("memory_limit", text),
        }),
        None => None,
    };
    let cpus_override = match &options.cpus {
        Some(text) => Some(Limit::Set {
            value: checked(named("cpus"), text, parse_cpus)?,
            source: setting("cpus", text),
        }),
        None => None,
    };
    let heap_percent = match &options.heap_percent {
        Some(text) => Some(checked(named("heap_percent"), text, parse_percent)?),
        None => None,
    };
    let java_flags = checked(named("java_flags"), &options.java_flags, java_flags_mode)?;
    let runtime_env = checked(named("runtime_env"), &options.runtime_env, on_off)?;
    let memory_watch = checked(named("memory_watch"), &options.memory_watch, on_off)?;
    let memory_report = match &options.memory_report {
        Some(file) if file.is_empty() => {
            return Err(UsageError(format!(
                "{}: the file name is empty",
                named("memory_report")
            )));
        }
        Some(file) => {
            let path = PathBuf::from(file);
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(UsageError(format!(
                    "{} {}: {} is not a directory",
                    named("memory_report"),
                    log::escape(&path.to_string_lossy()),
                    log::escape(&parent.to_string_lossy())
                )));
            }
            Some(path)
        }
        None => None,
    };
    let rewrites = options
        .rewrite
        .iter()
        .map(|text| checked(named("rewrite"), text, rewrite))
        .collect::<Result<Vec<_>, _>>()?;
    let kill_after = match &options.kill_after {
        Some(text) => Some(checked(named("kill_after"), text, parse_seconds)?),
        None => None,
    };
    let success_exits = options
        .success_exit
        .iter()
        .map(|text| checked(named("success_exit"), text, exit_code))
        .collect::<Result<Vec<_>, _>>()?;
    let pdeath_signal = match &options.pdeath_signal {
        Some(text) => Some(checked(named("pdeath_signal"), text, pdeath_signal)?),
        None => None,
    };
    let root = match &options.root {
        Some(dir) if dir.is_empty() => {
            return Err(UsageError(format!(
                "{}: the directory is empty",
                named("root")
            )));
        }
        Some(dir) => {
            let path = PathBuf::from(dir);
            if !path.is_dir() {
                return Err(UsageError(format!(
                    "{} {}: not a directory",
                    named("root"),
                    log::escape(&path.to_string_lossy())
                )));
            }
            Root::new(path)
        }
        None => Root::host(),
    };
    let verbosity = if options.quiet {
        Verbosity::Quiet
    } else if options.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    Ok(Config {
        action,
        root,
        memory_override,
        cpus_override,
        heap_percent,
        java_flags,
        runtime_env,
        memory_watch,
        memory_report,
        supervision: Supervision {
            single_child: options.single_child,
            rewrites,
            kill_after,
            drain_timeout: checked(
                named("drain_timeout"),
                &options.drain_timeout,
                parse_seconds,
            )?,
            term_delay: checked(named("term_delay"), &options.term_delay, parse_seconds)?,
            success_exits,
            pdeath_signal,
        },
        exec: options.exec,
        verbosity,
        command,
        env,
    })
}

/// One value checked; the message names the option or variable it came from. No value of
/// jwrap's options holds a control character: one is refused before the value is parsed, and
/// shown escaped, so a newline in a value cannot make a line of its own in jwrap's messages.
fn checked<T>(
    name: &str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, BadValue>,
) -> Result<T, UsageError> {
    if text.chars().any(char::is_control) {
        return Err(UsageError(format!(
            "{name}: invalid value \"{}\": control characters are not allowed",
            log::escape(text)
        )));
    }
    parse(text).map_err(|err| UsageError(format!("{name}: {err}")))
}

/// The signals `--pdeath-signal` cannot name: KILL and STOP would kill or stop jwrap itself
/// (they cannot be caught), CHLD only wakes the reaper and would never reach the command, and a
/// terminal stop (TSTP, TTIN, TTOU) would stop the command with no shell left to resume it.
const PDEATH_REFUSED: [i32; 6] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGCHLD,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

fn pdeath_signal(text: &str) -> Result<i32, BadValue> {
    let signal = parse_signal(text, false)?;
    if PDEATH_REFUSED.contains(&signal) {
        return Err(BadValue(format!(
            "{} cannot be the parent-death signal: it would kill or stop jwrap, or never reach \
             the command (use TERM, INT, HUP, QUIT, USR1, USR2 or a real-time signal)",
            signal_name(signal)
        )));
    }
    Ok(signal)
}

/// `--rewrite FROM:TO`, except FROM = CHLD: jwrap's init consumes SIGCHLD to reap the command,
/// so a rewrite of it could never apply.
fn rewrite(text: &str) -> Result<Rewrite, BadValue> {
    let rewrite = parse_rewrite(text)?;
    if rewrite.from == libc::SIGCHLD {
        return Err(BadValue(format!(
            "invalid rewrite '{text}': SIGCHLD tells jwrap that the command changed state; it is \
             never forwarded, so it cannot be rewritten"
        )));
    }
    Ok(rewrite)
}

fn java_flags_mode(text: &str) -> Result<JavaFlagsMode, BadValue> {
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => Ok(JavaFlagsMode::Auto),
        "args" => Ok(JavaFlagsMode::Args),
        "env" => Ok(JavaFlagsMode::Env),
        "off" => Ok(JavaFlagsMode::Off),
        _ => Err(BadValue(format!(
            "invalid mode '{text}': expected auto, args, env or off"
        ))),
    }
}

fn on_off(text: &str) -> Result<bool, BadValue> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" | "yes" => Ok(true),
        "off" | "0" | "false" | "no" => Ok(false),
        _ => Err(BadValue(format!(
            "invalid value '{text}': expected on or off"
        ))),
    }
}

fn exit_code(text: &str) -> Result<i32, BadValue> {
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|code| (0..=255).contains(code))
        .ok_or_else(|| {
            BadValue(format!(
                "invalid exit code '{text}': expected a number 0-255"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_lookup_takes_the_last_value() {
        let env = Environment::from_pairs([("A", "1"), ("B", "2"), ("A", "3")]);
        assert_eq!(env.get_str("A"), Some("3"));
        assert_eq!(env.get_str("C"), None);
    }
}
