//! The one place where options and the environment become a `Config`.
//!
//! clap reads the `JWRAP_*` variables while parsing; everything else jwrap needs from the
//! environment (JAVA_HOME, PATH, JAVA_TOOL_OPTIONS...) is captured here once, as an
//! `Environment` value that the pure parts of jwrap take as an argument.

use crate::cli::{self, JavaFlagsMode, Origin, Parsed, Sub};
use crate::limits::Source;
use crate::log::Verbosity;
use crate::root::Root;
use crate::signals::{Rewrite, parse_rewrite, parse_signal};
use crate::units::{BadValue, parse_cpus, parse_percent, parse_seconds, parse_size};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::Duration;

/// The process environment, as ordered name/value pairs (what the child will inherit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: Vec<(OsString, OsString)>,
}

impl Environment {
    pub fn from_process() -> Environment {
        Environment {
            vars: std::env::vars_os().collect(),
        }
    }

    pub fn from_pairs<K: Into<OsString>, V: Into<OsString>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Environment {
        Environment {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

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

    pub fn vars(&self) -> &[(OsString, OsString)] {
        &self.vars
    }
}

/// What `jwrap` was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run COMMAND (under the init, or by exec with `--exec`).
    Run,
    /// Print what was detected and what would be done.
    Info { json: bool },
}

/// A value the user gave in place of a detected one.
#[derive(Debug, Clone, PartialEq)]
pub struct Override<T> {
    pub value: T,
    pub source: Source,
}

/// How the init behaves; see SPEC.md for each option.
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
    pub memory_override: Option<Override<u64>>,
    pub cpus_override: Option<Override<f64>>,
    pub heap_percent: Option<f64>,
    pub java_flags: JavaFlagsMode,
    pub runtime_env: bool,
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

pub fn build(parsed: Parsed, env: Environment) -> Result<Config, UsageError> {
    // The name the user wrote for an option's value: the option, or its variable.
    let named = |id: &str| -> &'static str {
        let (_, option, variable) = cli::CHECKED
            .iter()
            .find(|(known, _, _)| *known == id)
            .copied()
            .unwrap_or(("", "an option", "a variable"));
        match parsed.origin(id) {
            Origin::Option => option,
            Origin::Environment => variable,
        }
    };
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
    let setting = |id: &str, text: &str| Source::Setting {
        name: named(id).to_string(),
        text: text.to_string(),
    };
    let memory_override = match &options.memory_limit {
        Some(text) => Some(Override {
            value: checked(named("memory_limit"), text, parse_size)?,
            source: setting("memory_limit", text),
        }),
        None => None,
    };
    let cpus_override = match &options.cpus {
        Some(text) => Some(Override {
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
    let rewrites = options
        .rewrite
        .iter()
        .map(|text| checked(named("rewrite"), text, parse_rewrite))
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
        Some(text) => Some(checked(named("pdeath_signal"), text, |t| {
            parse_signal(t, false)
        })?),
        None => None,
    };
    let root = match &options.root {
        Some(dir) if dir.is_empty() => {
            return Err(UsageError("--root: the directory is empty".to_string()));
        }
        Some(dir) => {
            let path = PathBuf::from(dir);
            if !path.is_dir() {
                return Err(UsageError(format!(
                    "--root {}: not a directory",
                    path.display()
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

/// One value checked; the message names the option or variable it came from.
fn checked<T>(
    name: &str,
    text: &str,
    parse: impl Fn(&str) -> Result<T, BadValue>,
) -> Result<T, UsageError> {
    parse(text).map_err(|err| UsageError(format!("{name}: {err}")))
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
    use crate::cli;

    fn config(args: &[&str]) -> Result<Config, UsageError> {
        let parsed =
            cli::parse(args.iter().map(OsString::from)).map_err(|e| UsageError(e.to_string()))?;
        build(parsed, Environment::default())
    }

    #[test]
    fn run_needs_a_command() {
        assert!(config(&[]).is_err());
        assert!(config(&["-v"]).is_err());
        assert!(config(&["--", ""]).is_err());
        assert!(config(&["info"]).is_ok());
    }

    #[test]
    fn overrides_name_their_option() {
        let config = config(&["--memory-limit", "512m", "--cpus", "1.5", "--", "java"]).unwrap();
        let memory = config.memory_override.unwrap();
        assert_eq!(memory.value, 512 << 20);
        assert_eq!(memory.source.origin(), "--memory-limit");
        assert_eq!(config.cpus_override.unwrap().value, 1.5);
        assert_eq!(config.supervision.drain_timeout, Duration::from_secs(2));
        assert_eq!(config.supervision.term_delay, Duration::ZERO);
    }

    #[test]
    fn bad_values_are_usage_errors_naming_their_option() {
        for args in [
            &["--memory-limit", "-1", "--", "x"][..],
            &["--memory-limit", "0", "--", "x"],
            &["--memory-limit", "12x", "--", "x"],
            &["--memory-limit", "", "--", "x"],
            &["--cpus", "0", "--", "x"],
            &["--cpus", "-1", "--", "x"],
            &["--java-flags", "sometimes", "--", "x"],
            &["--success-exit", "256", "--", "x"],
            &["--pdeath-signal", "NOPE", "--", "x"],
            &["--rewrite", "KILL:TERM", "--", "x"],
            &["--drain-timeout", "soon", "--", "x"],
        ] {
            let err = config(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} was accepted"));
            assert!(err.0.starts_with(args[0]), "{args:?}: {}", err.0);
        }
    }

    #[test]
    fn root_must_be_a_directory() {
        assert!(config(&["--root", "/definitely/not/here", "info"]).is_err());
    }

    #[test]
    fn environment_lookup_takes_the_last_value() {
        let env = Environment::from_pairs([("A", "1"), ("B", "2"), ("A", "3")]);
        assert_eq!(env.get_str("A"), Some("3"));
        assert_eq!(env.get_str("C"), None);
    }
}
