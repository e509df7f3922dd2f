//! Orchestration: options → configuration → detection → plan → report or run.
//! The only module that sees all the others.

use crate::cgroup::{self, Detection, events::MemoryEvents};
use crate::cli;
use crate::config::{self, Action, Config, Environment};
use crate::init::{self, Inherited};
use crate::java;
use crate::java::ranwith::{Observed, Watch};
use crate::limits::{self, Limit, Limits, Source};
use crate::log;
use crate::memwatch::sample::Sample;
use crate::memwatch::{Sampler, Sizing, Watching, blame};
use crate::oom;
use crate::plan::{self, Plan};
use crate::report::Report;
use crate::runtimes;
use anyhow::Context;
use std::ffi::OsString;
use std::io::{self, Write};

/// jwrap's exit code when jwrap itself failed (bad option or value, fork failure).
pub const EXIT_USAGE: i32 = 125;

/// Everything after signals were blocked. Returns the exit code.
pub fn main(args: Vec<OsString>, inherited: Inherited) -> i32 {
    let parsed = match cli::parse(args) {
        Ok(parsed) => parsed,
        Err(err) => return report_clap_error(&err),
    };
    let config = match config::build(parsed, Environment::from_process()) {
        Ok(config) => config,
        Err(err) => {
            log::error(&err.0);
            return EXIT_USAGE;
        }
    };
    log::set_verbosity(config.verbosity);
    match run(&config, &inherited) {
        Ok(code) => code,
        Err(err) => {
            // A closed stdout (`jwrap info | head`) is not worth a message.
            if err.downcast_ref::<io::Error>().map(io::Error::kind)
                == Some(io::ErrorKind::BrokenPipe)
            {
                return 0;
            }
            log::error(&format!("{err:#}"));
            EXIT_USAGE
        }
    }
}

fn run(config: &Config, inherited: &Inherited) -> anyhow::Result<i32> {
    // Decided before anything is spawned: the kernel's init has a PID 2 sibling (kthreadd).
    let kernel_init = config.action == Action::Run && !config.exec && init::is_kernel_init();
    let detection = cgroup::detect(&config.root);
    let limits = resolve(config, &detection);
    let jdk = (!config.command.is_empty())
        .then(|| java::find_jdk(config))
        .flatten();
    // A java COMMAND whose JDK's version could not be learned (no release file, and
    // `java -version` could not run or answer) is sized as a JDK that sees the host: say so.
    let running_java = |jdk: &&java::discover::Jdk| {
        config.action == Action::Run && jdk.found_by == java::discover::FoundBy::Command
    };
    if let Some(jdk) = jdk.as_ref().filter(running_java) {
        if let java::discover::VersionSource::Unknown(why) = &jdk.version_source {
            log::warn(&format!("the JDK's version is unknown: {why}"));
        }
    }
    let plan = (!config.command.is_empty()).then(|| {
        let java = jdk.map(|jdk| java::inspect(config, jdk, &detection));
        let runtime = runtimes::inspect(config, &detection);
        plan::plan(config, &limits, java.as_ref(), &runtime)
    });

    if let Action::Info { json } = config.action {
        let report = Report {
            root: config.root.prefix(),
            detection: &detection,
            limits: &limits,
            plan: plan.as_ref(),
            java: plan.as_ref().and_then(|plan| plan.java.as_ref()),
        };
        let text = if json {
            let mut text =
                serde_json::to_string_pretty(&report.json()).context("cannot encode JSON")?;
            text.push('\n');
            text
        } else {
            report.table()
        };
        let mut stdout = io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
        return Ok(0);
    }

    for warning in &detection.warnings {
        // The kernel's init starts before /proc and /sys are mounted (its command mounts
        // them): missing files are expected there, not worth a warning on the console.
        if kernel_init {
            log::info(warning);
        } else {
            log::warn(warning);
        }
    }
    let Some(plan) = plan else {
        return Ok(EXIT_USAGE);
    };
    for note in plan.notes() {
        log::info(note);
    }
    for warning in plan.warnings() {
        log::warn(warning);
    }
    if config.exec {
        let failure = init::exec(&plan.argv, &plan.env, inherited);
        log::error(&failure.message);
        return Ok(failure.code);
    }
    // Read before the child exists, so that a kill during the run shows as a rise.
    let events_before = cgroup::events::read_baseline(&config.root, &detection);
    // When a JDK is involved: the check of what the JVMs really run with.
    let mut watch = plan.expected_jvm.clone().map(Watch::new);
    // The memory watch, for the explanation of a kill and a change of the limit.
    let mut memory = config
        .memory_watch
        .then(|| {
            let sizing = Sizing {
                limit_bytes: limits.memory.value(),
                heap_mib: plan.expected_jvm.as_ref().and_then(|e| e.budget_heap_mib),
                jdk_feature: plan.java.as_ref().and_then(|j| j.feature),
            };
            Sampler::new(&config.root, &detection, sizing)
        })
        .flatten()
        .map(|sampler| Watching {
            sampler,
            program: program_name(config),
        });
    let mut periodic: Vec<&mut dyn init::Periodic> = Vec::new();
    if let Some(watch) = watch.as_mut() {
        periodic.push(watch);
    }
    if let Some(memory) = memory.as_mut() {
        periodic.push(memory);
    }
    let code = match init::run(
        &plan.argv,
        &plan.env,
        &config.supervision,
        inherited,
        periodic,
    ) {
        Ok(exit) => {
            let sampler = memory.as_ref().map(|m| &m.sampler);
            let jvm = watch
                .as_ref()
                .and_then(Watch::main_jvm)
                .or_else(|| sampler.and_then(Sampler::jvm));
            explain_oom_kill(
                config,
                &detection,
                &limits,
                &plan,
                exit,
                events_before.as_ref(),
                jvm,
                sampler,
            );
            init::exit_code(exit, &config.supervision.success_exits)
        }
        Err(failure) => {
            log::error(&failure.message);
            failure.code
        }
    };
    if kernel_init {
        log::notice(&format!(
            "the command ended with exit code {code}; powering off"
        ));
        init::power_off();
    }
    Ok(code)
}

/// The detected limits with the user's overrides applied: an override replaces the detected
/// value, and is its own source.
fn resolve(config: &Config, detection: &Detection) -> Limits {
    let memory = config.memory_override.clone().unwrap_or_else(|| {
        limits::lower_of_max_and_high(&detection.memory, detection.memory_high.as_ref())
    });
    let cpu = config
        .cpus_override
        .clone()
        .unwrap_or_else(|| detection.cpu.clone());
    let effective_cpus = limits::effective_cpus(
        detection.host.cpus.value(),
        detection.cpuset.value().map(|set| set.count),
        cpu.value(),
    );
    Limits {
        memory,
        cpu,
        effective_cpus,
    }
}

/// COMMAND's program, as the user wrote it.
fn program_name(config: &Config) -> String {
    config
        .command
        .first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// When the kernel's OOM killer ended the child, say so (`-q` too), with what the memory
/// watch saw, and write its samples to `--memory-report`.
#[allow(
    clippy::too_many_arguments,
    reason = "each is one fact of the death, from run"
)]
fn explain_oom_kill(
    config: &Config,
    detection: &Detection,
    limits: &Limits,
    plan: &Plan,
    exit: init::ChildExit,
    before: Option<&MemoryEvents>,
    jvm: Option<&Observed>,
    sampler: Option<&Sampler>,
) {
    if !oom::killed(exit) {
        return;
    }
    let after = cgroup::events::read(&config.root, detection);
    let program = program_name(config);
    // A limit changed while COMMAND ran is the one it died at.
    let enforced = match sampler.and_then(Sampler::changed_limit) {
        Some((value, file)) => Limit::Set {
            value,
            source: Source::file(file, &value.to_string()),
        },
        None => detection.memory.clone(),
    };
    let samples = sampler.map(Sampler::samples).unwrap_or_default();
    let context = blame::Context {
        jvm_args: jvm.map(|j| j.jvm_args.clone()),
    };
    let finding = blame::blame(&samples, &context);
    // Only a watch that ran can say it saw nothing (`--memory-watch off` says nothing).
    let unseen = (finding.is_none() && sampler.is_some())
        .then(|| blame::unseen(&samples))
        .flatten();
    let death = oom::Death {
        exit,
        program: &program,
        before,
        after: after.as_ref(),
        enforced: &enforced,
        sized_for: &limits.memory,
        heap: plan.heap.as_ref(),
        heap_percent: config.heap_percent,
        jvm,
        finding: finding.as_ref(),
        unseen: unseen.as_deref(),
    };
    let Some(text) = oom::explain(&death) else {
        return;
    };
    log::report_lines(&text.lines().collect::<Vec<_>>());
    if let Some(path) = &config.memory_report {
        if let Err(err) = write_report(path, blame::before_kill(&samples)) {
            log::warn(&format!(
                "cannot write the memory report {}: {err}",
                log::escape(&path.to_string_lossy())
            ));
        }
    }
}

/// The samples as JSON lines, oldest first.
fn write_report(path: &std::path::Path, samples: &[Sample]) -> io::Result<()> {
    let mut text = String::new();
    for sample in samples {
        text.push_str(&serde_json::to_string(sample).map_err(io::Error::other)?);
        text.push('\n');
    }
    std::fs::write(path, text)
}

/// `--help` and `--version` go to stdout with exit code 0; every other parse error is a
/// `jwrap: ` message on stderr with exit code 125.
fn report_clap_error(err: &clap::Error) -> i32 {
    use clap::error::{ContextValue, ErrorKind};
    match err.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let mut stdout = io::stdout().lock();
            let _ = write!(stdout, "{}", err.render());
            let _ = stdout.flush();
            0
        }
        _ => {
            let mut rendered = err.render().to_string();
            // The words the parser echoes, with their control characters escaped: a newline in
            // one must not start a line of its own.
            for (_, value) in err.context() {
                let words = match value {
                    ContextValue::String(word) => std::slice::from_ref(word),
                    ContextValue::Strings(words) => words.as_slice(),
                    _ => &[],
                };
                for word in words.iter().filter(|w| w.chars().any(char::is_control)) {
                    rendered = rendered.replace(word.as_str(), &log::escape(word));
                }
            }
            let text = rendered.strip_prefix("error: ").unwrap_or(&rendered);
            let lines: Vec<&str> = text
                .lines()
                .filter(|line| !line.trim().is_empty())
                .collect();
            log::error_lines(&lines);
            EXIT_USAGE
        }
    }
}
