//! The command line, as plain data. Every option has its `JWRAP_*` variable (the option wins);
//! values are checked here, and `config` turns the result into a `Config`.

use clap::builder::BoolishValueParser;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsString;

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
failed (bad option or value); 126 when COMMAND could not be executed; 127 when it was not found.\n";

/// The command line as given: `info` or not, the options, and COMMAND.
#[derive(Debug)]
pub struct Cli {
    pub subcommand: Option<Sub>,
    pub options: Options,
    pub command: Vec<OsString>,
}

/// The top level of the command line, without its subcommand (`command` adds it).
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
struct TopLevel {
    #[command(flatten)]
    options: Options,

    /// The command to run, and its arguments.
    #[arg(value_name = "COMMAND", trailing_var_arg = true)]
    command: Vec<OsString>,
}

/// jwrap's whole command line, as clap defines it: what parsing, `--help`, the man page and the
/// shell completions use. Every option is global, so it may come before or after `info`.
#[must_use]
pub fn command() -> clap::Command {
    let options_everywhere = TopLevel::command().mut_args(|arg| {
        if arg.is_positional() {
            arg
        } else {
            arg.global(true)
        }
    });
    Sub::augment_subcommands(options_everywhere)
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

/// The options, as given. Values stay text here: `config` checks them once it knows whether
/// each came from the option or from its variable (so a bad variable cannot fail a run whose
/// option overrides it, and every message names what the user actually wrote).
#[derive(Debug, Args)]
pub struct Options {
    /// Read /proc and /sys below DIR instead of / (tests, inspecting a copied machine).
    #[arg(long, value_name = "DIR", env = "JWRAP_ROOT")]
    pub root: Option<OsString>,

    /// Use SIZE (536870912, 512m, 512Mi, 1g, 1.5Gi) instead of the detected memory limit.
    #[arg(
        long,
        value_name = "SIZE",
        env = "JWRAP_MEMORY_LIMIT",
        allow_negative_numbers = true
    )]
    pub memory_limit: Option<String>,

    /// Use N CPUs (1.5 and 500m allowed) instead of the detected CPU limit.
    #[arg(
        long,
        value_name = "N",
        env = "JWRAP_CPUS",
        allow_negative_numbers = true
    )]
    pub cpus: Option<String>,

    /// Heap = P % of the memory limit, instead of the default budget.
    #[arg(
        long,
        value_name = "P",
        env = "JWRAP_HEAP_PERCENT",
        allow_negative_numbers = true
    )]
    pub heap_percent: Option<String>,

    // Help text, not Markdown: clap shows it as written.
    #[arg(
        long,
        help = "How JVM flags are passed: auto (arguments when COMMAND is java, else \
                JAVA_TOOL_OPTIONS), args, env, off",
        value_name = "MODE",
        env = "JWRAP_JAVA_FLAGS",
        default_value = "auto"
    )]
    pub java_flags: String,

    /// For other runtimes (Go, Node.js, .NET, Python), export the variables they read, where unset: on, off.
    #[arg(
        long,
        value_name = "on|off",
        env = "JWRAP_RUNTIME_ENV",
        default_value = "on"
    )]
    pub runtime_env: String,

    /// Watch the container's memory while COMMAND runs, to say what filled it if the kernel kills it: on, off.
    #[arg(
        long,
        value_name = "on|off",
        env = "JWRAP_MEMORY_WATCH",
        default_value = "on"
    )]
    pub memory_watch: String,

    /// When the kernel kills COMMAND for memory, write the watch's samples before the kill to FILE (JSON lines).
    #[arg(long, value_name = "FILE", env = "JWRAP_MEMORY_REPORT")]
    pub memory_report: Option<OsString>,

    /// Forward signals to the child only, not to its process group.
    #[arg(long, env = "JWRAP_SINGLE_CHILD", value_parser = BoolishValueParser::new())]
    pub single_child: bool,

    /// Deliver TO when FROM arrives (names or numbers; TO 0 drops FROM). Repeatable.
    #[arg(
        long,
        value_name = "FROM:TO",
        env = "JWRAP_REWRITE",
        value_delimiter = ','
    )]
    pub rewrite: Vec<String>,

    /// After forwarding SIGTERM, SIGINT or SIGQUIT, SIGKILL the child's group if it still lives after SECONDS.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "JWRAP_KILL_AFTER",
        allow_negative_numbers = true
    )]
    pub kill_after: Option<String>,

    /// When the child has exited, SIGTERM what is left of its group and of adopted orphans, wait up to
    /// SECONDS, then SIGKILL them; 0 skips draining.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "JWRAP_DRAIN_TIMEOUT",
        allow_negative_numbers = true,
        default_value = "2"
    )]
    pub drain_timeout: String,

    /// Hold the first SIGTERM this long before forwarding it (lets a load balancer stop sending traffic).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "JWRAP_TERM_DELAY",
        allow_negative_numbers = true,
        default_value = "0"
    )]
    pub term_delay: String,

    /// Report exit code CODE as 0 (e.g. 143, a JVM that shut down cleanly on SIGTERM). Repeatable.
    #[arg(
        long,
        value_name = "CODE",
        env = "JWRAP_SUCCESS_EXIT",
        allow_negative_numbers = true,
        value_delimiter = ','
    )]
    pub success_exit: Vec<String>,

    /// When jwrap's parent dies, act as if SIG had arrived.
    #[arg(long, value_name = "SIG", env = "JWRAP_PDEATH_SIGNAL")]
    pub pdeath_signal: Option<String>,

    /// No init: compute the flags, then replace jwrap with COMMAND.
    #[arg(long, env = "JWRAP_EXEC", value_parser = BoolishValueParser::new())]
    pub exec: bool,

    /// Log every decision to stderr.
    #[arg(short, long, env = "JWRAP_VERBOSE", value_parser = BoolishValueParser::new())]
    pub verbose: bool,

    /// No warnings (the explanation of an out-of-memory kill is still shown).
    #[arg(short, long, env = "JWRAP_QUIET", value_parser = BoolishValueParser::new(),
          conflicts_with = "verbose")]
    pub quiet: bool,
}

/// Whether a value came from the command line or from its variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Option,
    Environment,
}

/// The command line as given, and how to name each option's value in a message.
#[derive(Debug)]
pub struct Parsed {
    pub cli: Cli,
    /// For each option given, by clap's id (`memory_limit`): what the user wrote it as, the
    /// option (`--memory-limit`) or its variable (`JWRAP_MEMORY_LIMIT`), as clap defines them.
    names: Vec<(String, String)>,
}

impl Parsed {
    /// The option or variable the value of option `id` came from, for messages.
    #[must_use]
    pub fn name<'a>(&'a self, id: &'a str) -> &'a str {
        self.names
            .iter()
            .find(|(known, _)| known == id)
            .map_or(id, |(_, name)| name.as_str())
    }
}

/// Parse `args` (argv without the program name).
///
/// # Errors
/// clap's error for an unknown option or a missing value, and for `--help` and `--version`.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Parsed, clap::Error> {
    use clap::parser::ValueSource;
    let definition = command();
    let program = std::iter::once(OsString::from("jwrap"));
    let matches = definition
        .clone()
        .try_get_matches_from(program.chain(args))?;
    let top = TopLevel::from_arg_matches(&matches)?;
    let subcommand = match matches.subcommand() {
        Some(_) => Some(Sub::from_arg_matches(&matches)?),
        None => None,
    };
    let cli = Cli {
        subcommand,
        options: top.options,
        command: top.command,
    };
    // A global option given after `info` is recorded in the subcommand's matches too.
    let levels = [Some(&matches), matches.subcommand().map(|(_, sub)| sub)];
    let names = definition
        .get_arguments()
        .filter_map(|arg| {
            let id = arg.get_id().as_str();
            let long = arg.get_long()?;
            let sources = levels
                .iter()
                .flatten()
                .map(|m| m.value_source(id))
                .collect::<Vec<_>>();
            let from_command_line = sources.contains(&Some(ValueSource::CommandLine));
            let from_env = sources.contains(&Some(ValueSource::EnvVariable));
            let origin = if from_env && !from_command_line {
                Origin::Environment
            } else {
                Origin::Option
            };
            let name = match (origin, arg.get_env()) {
                (Origin::Environment, Some(variable)) => variable.to_string_lossy().into_owned(),
                _ => format!("--{long}"),
            };
            Some((id.to_string(), name))
        })
        .collect();
    Ok(Parsed { cli, names })
}
