//! The command line, as plain data. Every option has its `JWRAP_*` variable (the option wins);
//! values are checked here, and `config` turns the result into a `Config`.

use crate::signals::{Rewrite, parse_rewrite, parse_signal};
use crate::units::{BadValue, parse_cpus, parse_percent, parse_seconds, parse_size};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::ffi::OsString;
use std::time::Duration;

const ABOUT: &str = "Container entrypoint: detects the container's memory and CPU limits, \
sizes the JVM (or other runtimes) to fit them, and runs COMMAND under a signal-forwarding, \
zombie-reaping init.";

const AFTER_HELP: &str = "\
Examples:
  jwrap -- java -jar app.jar          run a JVM sized to the container, under jwrap's init
  jwrap info                          show the detected limits and where each came from
  jwrap info -- java -jar app.jar     also show the Java found and the flags it would get
  jwrap --kill-after 20 -- ./start.sh  escalate a forwarded SIGTERM to SIGKILL after 20 s

Exit status: the command's; 128+N when it was killed by signal N; 125 when jwrap itself
failed (bad option or value); 126 when COMMAND could not be executed; 127 when it was not found.";

#[derive(Debug, Parser)]
#[command(
    name = "jwrap",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    override_usage = "jwrap [OPTIONS] [--] COMMAND [ARG]...\n       jwrap info [--json] [OPTIONS] [-- COMMAND [ARG]...]",
    disable_help_subcommand = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub subcommand: Option<Sub>,

    #[command(flatten)]
    pub options: Options,

    /// The command to run, and its arguments.
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    pub command: Vec<OsString>,
}

#[derive(Debug, Subcommand)]
pub enum Sub {
    /// Print what was detected and what would be done; run nothing.
    Info(InfoArgs),
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Print JSON (the keys are fixed by the contract) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// With a command: also show the Java it would run, and its final arguments and environment.
    #[arg(value_name = "COMMAND", last = true)]
    pub command: Vec<OsString>,
}

/// How the JVM flags reach the JVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum JavaFlagsMode {
    /// As arguments when COMMAND is `java`, else in JAVA_TOOL_OPTIONS.
    Auto,
    /// As arguments right after `java`.
    Args,
    /// Appended to JAVA_TOOL_OPTIONS.
    Env,
    /// No JVM flags at all.
    Off,
}

#[derive(Debug, Args)]
pub struct Options {
    /// Read /proc and /sys below DIR instead of / (tests, inspecting a copied machine).
    #[arg(long, value_name = "DIR", env = "JWRAP_ROOT", global = true)]
    pub root: Option<OsString>,

    /// Use SIZE (536870912, 512m, 512Mi, 1g, 1.5Gi) instead of the detected memory limit.
    #[arg(long, value_name = "SIZE", env = "JWRAP_MEMORY_LIMIT", value_parser = size, global = true)]
    pub memory_limit: Option<u64>,

    /// Use N CPUs (1.5 and 500m allowed) instead of the detected CPU limit.
    #[arg(long, value_name = "N", env = "JWRAP_CPUS", value_parser = cpus, global = true)]
    pub cpus: Option<f64>,

    /// Heap = P % of the memory limit, instead of the default budget.
    #[arg(long, value_name = "P", env = "JWRAP_HEAP_PERCENT", value_parser = percent, global = true)]
    pub heap_percent: Option<f64>,

    /// How JVM flags are passed: auto, args, env, off.
    #[arg(long, value_name = "MODE", env = "JWRAP_JAVA_FLAGS", value_enum, default_value = "auto",
          global = true, hide_possible_values = true)]
    pub java_flags: JavaFlagsMode,

    /// For other runtimes (Go, Node.js, .NET, Python), export the variables they read, where unset: on, off.
    #[arg(long, value_name = "on|off", env = "JWRAP_RUNTIME_ENV", value_parser = on_off,
          default_value = "on", action = clap::ArgAction::Set, global = true)]
    pub runtime_env: bool,

    /// Forward signals to the child only, not to its process group.
    #[arg(long, env = "JWRAP_SINGLE_CHILD", global = true)]
    pub single_child: bool,

    /// Deliver TO when FROM arrives (names or numbers; TO 0 drops FROM). Repeatable.
    #[arg(long, value_name = "FROM:TO", env = "JWRAP_REWRITE", value_parser = rewrite,
          value_delimiter = ',', global = true)]
    pub rewrite: Vec<Rewrite>,

    /// After forwarding SIGTERM, SIGINT or SIGQUIT, SIGKILL the child's group if it still lives after SECONDS.
    #[arg(long, value_name = "SECONDS", env = "JWRAP_KILL_AFTER", value_parser = seconds, global = true)]
    pub kill_after: Option<Duration>,

    /// When the child has exited, SIGTERM what is left of its group and of adopted orphans, wait up to
    /// SECONDS, then SIGKILL them; 0 skips draining.
    #[arg(long, value_name = "SECONDS", env = "JWRAP_DRAIN_TIMEOUT", value_parser = seconds,
          default_value = "2", global = true)]
    pub drain_timeout: Duration,

    /// Hold the first SIGTERM this long before forwarding it (lets a load balancer stop sending traffic).
    #[arg(long, value_name = "SECONDS", env = "JWRAP_TERM_DELAY", value_parser = seconds,
          default_value = "0", global = true)]
    pub term_delay: Duration,

    /// Report exit code CODE as 0 (e.g. 143, a JVM that shut down cleanly on SIGTERM). Repeatable.
    #[arg(long, value_name = "CODE", env = "JWRAP_SUCCESS_EXIT", value_parser = exit_code,
          value_delimiter = ',', global = true)]
    pub success_exit: Vec<i32>,

    /// When jwrap's parent dies, act as if SIG had arrived.
    #[arg(long, value_name = "SIG", env = "JWRAP_PDEATH_SIGNAL", value_parser = signal, global = true)]
    pub pdeath_signal: Option<i32>,

    /// No init: compute the flags, then replace jwrap with COMMAND.
    #[arg(long, env = "JWRAP_EXEC", global = true)]
    pub exec: bool,

    /// Log every decision to stderr.
    #[arg(short, long, env = "JWRAP_VERBOSE", global = true)]
    pub verbose: bool,

    /// No warnings.
    #[arg(short, long, env = "JWRAP_QUIET", global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// Whether a value came from the command line or from its variable, for the settings that
/// `info` names as sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Option,
    Environment,
}

#[derive(Debug)]
pub struct Parsed {
    pub cli: Cli,
    pub memory_limit_origin: Origin,
    pub cpus_origin: Origin,
}

/// Parse `args` (argv without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, clap::Error> {
    let program = std::iter::once(OsString::from("jwrap"));
    let matches = Cli::command().try_get_matches_from(program.chain(args))?;
    let cli = Cli::from_arg_matches(&matches)?;
    let origin = |id: &str| {
        let from_env = [Some(&matches), matches.subcommand().map(|(_, sub)| sub)]
            .into_iter()
            .flatten()
            .any(|m| m.value_source(id) == Some(clap::parser::ValueSource::EnvVariable));
        if from_env {
            Origin::Environment
        } else {
            Origin::Option
        }
    };
    Ok(Parsed {
        memory_limit_origin: origin("memory_limit"),
        cpus_origin: origin("cpus"),
        cli,
    })
}

fn size(text: &str) -> Result<u64, BadValue> {
    parse_size(text)
}

fn cpus(text: &str) -> Result<f64, BadValue> {
    parse_cpus(text)
}

fn percent(text: &str) -> Result<f64, BadValue> {
    parse_percent(text)
}

fn seconds(text: &str) -> Result<Duration, BadValue> {
    parse_seconds(text)
}

fn rewrite(text: &str) -> Result<Rewrite, BadValue> {
    parse_rewrite(text)
}

fn signal(text: &str) -> Result<i32, BadValue> {
    parse_signal(text, false)
}

fn exit_code(text: &str) -> Result<i32, BadValue> {
    text.trim()
        .parse::<i32>()
        .ok()
        .filter(|code| (0..=255).contains(code))
        .ok_or_else(|| BadValue(format!("invalid exit code '{text}': expected a number 0-255")))
}

fn on_off(text: &str) -> Result<bool, BadValue> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" | "yes" => Ok(true),
        "off" | "0" | "false" | "no" => Ok(false),
        _ => Err(BadValue(format!("invalid value '{text}': expected on or off"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Parsed, clap::Error> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn command_with_and_without_double_dash() {
        let parsed = parse_strs(&["--", "java", "-jar", "app.jar"]).unwrap();
        assert_eq!(parsed.cli.command, ["java", "-jar", "app.jar"]);
        let parsed = parse_strs(&["-v", "java", "-Xss1m", "-v"]).unwrap();
        assert!(parsed.cli.options.verbose);
        assert_eq!(parsed.cli.command, ["java", "-Xss1m", "-v"]);
    }

    #[test]
    fn info_is_a_subcommand_only_before_double_dash() {
        let parsed = parse_strs(&["info", "--json", "--root", "/x", "--", "java"]).unwrap();
        match parsed.cli.subcommand {
            Some(Sub::Info(info)) => {
                assert!(info.json);
                assert_eq!(info.command, ["java"]);
            }
            None => panic!("info not recognised"),
        }
        assert_eq!(parsed.cli.options.root, Some(OsString::from("/x")));
        let parsed = parse_strs(&["--", "info", "--json"]).unwrap();
        assert!(parsed.cli.subcommand.is_none());
        assert_eq!(parsed.cli.command, ["info", "--json"]);
    }

    #[test]
    fn options_before_info_and_valued_switches() {
        let parsed = parse_strs(&["--memory-limit", "512m", "info", "--", "java", "-version"]).unwrap();
        assert!(matches!(parsed.cli.subcommand, Some(Sub::Info(_))));
        assert_eq!(parsed.cli.options.memory_limit, Some(512 << 20));
        let parsed = parse_strs(&["--runtime-env", "off", "--", "x"]).unwrap();
        assert!(!parsed.cli.options.runtime_env);
        assert_eq!(parsed.cli.command, ["x"]);
        let parsed = parse_strs(&["--runtime-env=on", "x"]).unwrap();
        assert!(parsed.cli.options.runtime_env);
    }

    #[test]
    fn repeatable_and_delimited_values() {
        let parsed = parse_strs(&[
            "--rewrite", "TERM:QUIT", "--rewrite", "INT:0,HUP:USR1", "--success-exit", "143,130", "--", "x",
        ])
        .unwrap();
        assert_eq!(parsed.cli.options.rewrite.len(), 3);
        assert_eq!(parsed.cli.options.success_exit, [143, 130]);
    }

    #[test]
    fn bad_values_are_errors() {
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
            &["--bogus", "--", "x"],
        ] {
            assert!(parse_strs(args).is_err(), "{args:?} was accepted");
        }
    }
}
