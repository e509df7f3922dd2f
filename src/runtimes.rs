//! Runtimes other than Java: the variables Go, Node.js, .NET and Python read to size
//! themselves, for a COMMAND that is not `java`; and jwrap's own pair for scripts.
//!
//! A variable is exported only when the limit it stands for is known, and never when the user
//! set it (present in the environment, even empty) or set the same thing another way.
//! `--runtime-env off` drops all of them, jwrap's own pair too: it is the one switch that
//! leaves the child's environment as it was (apart from JVM flags in JAVA_TOOL_OPTIONS), and
//! a JWRAP_CPUS the user did not ask for would become a nested jwrap's `--cpus`.
//! `doc/runtimes.md` has the table.
//!
//! The numbers:
//! * CPUs: `cpu.effective` of `info --json` (doc/contract.md: the fewest of the host's CPUs, the cpuset and the CPU
//!   limit rounded up), exported only when it is below the host's CPUs (with the host's count
//!   unknown: when a CPU limit is set). Rounding up, not automaxprocs' floor: a 1.5 CPU quota
//!   gets 2 threads that can use all of it, as Go 1.25+, .NET and the JVM count for themselves;
//!   with floor, half a CPU of the quota would stay idle. One number for every runtime, so
//!   GOMAXPROCS, DOTNET_PROCESSOR_COUNT, PYTHON_CPU_COUNT and the JVM's
//!   `-XX:ActiveProcessorCount` agree.
//! * Go: GOMEMLIMIT = 90 % of the memory limit (automemlimit's ratio), in whole MiB.
//! * Node.js: `--max-old-space-size` = 75 % of the limit, appended to NODE_OPTIONS. The old
//!   space is most of V8's heap; the other quarter holds the young generation, code, Buffers
//!   (outside V8's heap) and Node's native memory.
//! * .NET: DOTNET_GCHeapHardLimit = 75 % of the limit, .NET's own default share in a
//!   container, so what changes is only *which* limit it applies to (a parent's, an override).
//!   .NET reads its GC variables as hexadecimal, with or without `0x`; jwrap writes the `0x` so
//!   that nobody reading `info` takes it for decimal. DOTNET_PROCESSOR_COUNT is decimal (the
//!   runtime parses that one in base 10).
//! * Python: PYTHON_CPU_COUNT (read by Python 3.13+) for every command that is not Java: Python
//!   is usually reached through a shell script or a console script (gunicorn, celery), and the
//!   variable means nothing to anything else.

use crate::config::{Config, Environment};
use crate::java::discover;
use crate::limits::{Limit, Limits};
use crate::units::MIB;
use crate::units::{human_bytes, human_cpus};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
/// GOMEMLIMIT's share of the memory limit.
const GO_MEMORY_PER_MILLE: u64 = 900;
/// `--max-old-space-size`'s share of the memory limit.
const NODE_OLD_SPACE_PER_MILLE: u64 = 750;
/// DOTNET_GCHeapHardLimit's share of the memory limit.
const DOTNET_HEAP_PER_MILLE: u64 = 750;

/// How much of a file the kernel reads for its `#!` line (`BINPRM_BUF_SIZE`).
const SHEBANG_BYTES: usize = 256;

/// The Node.js options that size the old space (V8 takes `_` for `-` too).
const NODE_HEAP_OPTIONS: [&str; 2] = ["--max-old-space-size", "--max_old_space_size"];
/// Variables that set the .NET GC heap limit, as prefixes (`...Percent`, `...SOH`...).
const DOTNET_HEAP_VARIABLES: [&str; 2] = ["DOTNET_GCHeapHardLimit", "COMPlus_GCHeapHardLimit"];
const DOTNET_CPU_VARIABLES: [&str; 2] = ["DOTNET_PROCESSOR_COUNT", "COMPlus_PROCESSOR_COUNT"];
/// The runtimeconfig.json properties that set the GC heap limit, as a prefix.
const DOTNET_HEAP_PROPERTY: &str = "System.GC.HeapHardLimit";

pub const MEMORY_LIMIT_BYTES: &str = "JWRAP_MEMORY_LIMIT_BYTES";
pub const CPUS: &str = "JWRAP_CPUS";

/// What COMMAND's program is, as far as the runtimes' variables go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// `java`: sized by its JVM flags, not by these variables.
    Java,
    /// `node`, `nodejs`, or a script whose `#!` line runs node (`npm`, `next`, `pm2-runtime`).
    Node {
        /// How it was recognised, for the reasons.
        how: String,
    },
    /// `dotnet`, or a .NET app host: an executable with `NAME.runtimeconfig.json` or
    /// `NAME.deps.json` beside it.
    Dotnet {
        /// How it was recognised, for the reasons.
        how: String,
        /// A `System.GC.HeapHardLimit*` property in the app's runtimeconfig.json, with the file:
        /// the user's own heap limit (environment variables would override it).
        heap_setting: Option<String>,
    },
    Other,
}

/// What `decide` needs that had to be read from the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inputs {
    pub program: Program,
    /// The host's online CPUs, when known.
    pub host_cpus: Option<u32>,
}

/// The variables for the child, and one reason per decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeEnv {
    pub env: Vec<(OsString, OsString)>,
    pub reasons: Vec<String>,
}

/// Learn what COMMAND's program is: its name, else the file it runs (found on PATH as `execvp`
/// does): a .NET app host's companion files, a script's `#!` line.
pub fn inspect(config: &Config, host_cpus: Option<u32>) -> Inputs {
    Inputs {
        program: program(&config.command, &config.env),
        host_cpus,
    }
}

fn program(command: &[OsString], env: &Environment) -> Program {
    if discover::program_is_java(command) {
        return Program::Java;
    }
    let (Some(first), Some(name)) = (command.first(), crate::config::program_name(command)) else {
        return Program::Other;
    };
    let name = name.to_string_lossy();
    if is_node(&name) {
        return Program::Node {
            how: format!("COMMAND is {name}"),
        };
    }
    if name == "dotnet" {
        // `dotnet [options] app.dll`: the app's settings are in app.runtimeconfig.json.
        let app = command
            .iter()
            .skip(1)
            .map(Path::new)
            .find(|arg| arg.extension().is_some_and(|ext| ext == "dll"));
        return Program::Dotnet {
            how: "COMMAND is dotnet".to_string(),
            heap_setting: app
                .and_then(|dll| heap_setting(&dll.with_extension("runtimeconfig.json"))),
        };
    }
    let Some(path) = locate(first, env) else {
        return Program::Other;
    };
    let beside = |suffix: &str| {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        PathBuf::from(file)
    };
    let runtime_config = beside(".runtimeconfig.json");
    let deps = beside(".deps.json");
    if let Some(companion) = [&runtime_config, &deps].into_iter().find(|f| f.is_file()) {
        return Program::Dotnet {
            how: format!(
                "{} is a .NET app host ({} beside it)",
                path.display(),
                companion.file_name().unwrap_or_default().to_string_lossy()
            ),
            heap_setting: heap_setting(&runtime_config),
        };
    }
    match read_head(&path).as_deref().and_then(shebang_program) {
        Some(interpreter) if is_node(&interpreter) => Program::Node {
            how: format!("{}'s #! line runs {interpreter}", path.display()),
        },
        _ => Program::Other,
    }
}

fn is_node(name: &str) -> bool {
    name == "node" || name == "nodejs"
}

/// The program `execvp` would run for `program`: a path as given, else the first executable
/// of that name in PATH (an empty entry is the current directory).
fn locate(program: &OsStr, env: &Environment) -> Option<PathBuf> {
    let given = Path::new(program);
    if given.components().count() > 1 {
        return Some(given.to_path_buf());
    }
    discover::search(
        env.get("PATH")
            .unwrap_or(OsStr::new(discover::DEFAULT_PATH)),
        given,
    )
}

/// The start of a file, as text, as far as the kernel reads it for `#!`.
fn read_head(path: &Path) -> Option<String> {
    let mut file = crate::root::open_regular(path).ok()?;
    // Read into a buffer of the final size: `read_to_end` would probe with reads of 32 bytes.
    let mut head = vec![0; SHEBANG_BYTES];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(String::from_utf8_lossy(&head[..filled]).into_owned())
}

/// The name of the program a `#!` line runs: `#!/usr/bin/node` and `#!/usr/bin/env node` both
/// give `node`; `env`'s options (`-S`, `-i`) and variable assignments are skipped.
pub fn shebang_program(head: &str) -> Option<String> {
    let line = head.strip_prefix("#!")?.lines().next()?;
    let mut words = line.split_whitespace();
    let interpreter = base_name(words.next()?);
    if interpreter != "env" {
        return Some(interpreter.to_string());
    }
    words
        .find(|word| !word.starts_with('-') && !word.contains('='))
        .map(|word| base_name(word).to_string())
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The user's GC heap limit in a runtimeconfig.json file, if it sets one.
fn heap_setting(runtime_config: &Path) -> Option<String> {
    let text = crate::root::read_text(runtime_config).ok()?;
    runtimeconfig_heap_property(&text)
        .map(|property| format!("{property} in {}", runtime_config.display()))
}

/// The first `System.GC.HeapHardLimit*` property of a runtimeconfig.json text
/// (`runtimeOptions.configProperties`).
pub fn runtimeconfig_heap_property(text: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    json.get("runtimeOptions")?
        .get("configProperties")?
        .as_object()?
        .keys()
        .find(|key| key.starts_with(DOTNET_HEAP_PROPERTY))
        .cloned()
}

/// `per_mille` thousandths of `bytes`, rounded down.
fn share(bytes: u64, per_mille: u64) -> u64 {
    u64::try_from(u128::from(bytes) * u128::from(per_mille) / 1000).unwrap_or(u64::MAX)
}

/// GOMEMLIMIT for a memory limit: 90 % of it in whole MiB (`921MiB`), or in bytes (`900000B`)
/// when that is less than one MiB. Go accepts both spellings (B, KiB, MiB, GiB, TiB).
pub fn go_memory_limit(limit: u64) -> String {
    let bytes = share(limit, GO_MEMORY_PER_MILLE);
    match bytes / MIB {
        0 => format!("{bytes}B"),
        mib => format!("{mib}MiB"),
    }
}

/// `--max-old-space-size` (MiB) for a memory limit: 75 % of it, at least 1.
pub fn node_old_space_mib(limit: u64) -> u64 {
    (share(limit, NODE_OLD_SPACE_PER_MILLE) / MIB).max(1)
}

/// DOTNET_GCHeapHardLimit for a memory limit: 75 % of it, in whole MiB, hexadecimal with `0x`.
pub fn dotnet_heap_limit(limit: u64) -> String {
    let bytes = share(limit, DOTNET_HEAP_PER_MILLE);
    let rounded = if bytes >= MIB {
        bytes / MIB * MIB
    } else {
        bytes
    };
    format!("0x{rounded:X}")
}

/// The Node.js option that sizes the old space, among `words` (NODE_OPTIONS, or the command
/// line), including `--max-old-space-size-percentage`.
fn node_heap_option<'a>(words: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    words.into_iter().find(|word| {
        NODE_HEAP_OPTIONS
            .iter()
            .any(|option| word.starts_with(option))
    })
}

/// The first variable in `env` whose name starts with one of `prefixes`.
fn variable_with_prefix<'a>(env: &'a Environment, prefixes: &[&str]) -> Option<&'a OsStr> {
    env.vars()
        .iter()
        .map(|(name, _)| name.as_os_str())
        .find(|name| {
            let name = name.to_string_lossy();
            prefixes.iter().any(|prefix| name.starts_with(prefix))
        })
}

/// The memory limit, for the reasons: `the 512 MiB limit (from /sys/fs/cgroup/memory.max)`.
struct Memory {
    bytes: u64,
    described: String,
}

/// The CPU count to export, and where it comes from.
struct Cpus {
    count: u32,
    why: String,
}

/// The variables for COMMAND. Pure.
pub fn decide(config: &Config, limits: &Limits, inputs: &Inputs) -> RuntimeEnv {
    let mut out = RuntimeEnv::default();
    let env = &config.env;
    let memory = match &limits.memory {
        Limit::Set { value, source } => Some(Memory {
            bytes: *value,
            described: format!("the {} limit (from {source})", human_bytes(*value)),
        }),
        _ => None,
    };
    let cpus = cpus_to_plan_for(limits, inputs.host_cpus);
    if !config.runtime_env {
        out.reasons.push(
            "--runtime-env off: no variables for Go, Node.js, .NET, Python or scripts".to_string(),
        );
        return out;
    }
    if inputs.program != Program::Java {
        if memory.is_none() {
            out.reasons.push(format!(
                "other runtimes: the memory limit is {}, so no memory variables for them",
                limits.memory.state()
            ));
        }
        if cpus.is_none() {
            out.reasons.push(
                "other runtimes: no CPU limit below the host's CPUs, so no CPU counts for them"
                    .to_string(),
            );
        }
        go(&mut out, env, memory.as_ref(), cpus.as_ref());
        match &inputs.program {
            Program::Node { how } => node(&mut out, config, memory.as_ref(), how),
            Program::Dotnet { how, heap_setting } => dotnet(
                &mut out,
                env,
                memory.as_ref(),
                cpus.as_ref(),
                how,
                heap_setting.as_deref(),
            ),
            Program::Java | Program::Other => {}
        }
        python(&mut out, env, cpus.as_ref());
    }
    for_scripts(&mut out, env, limits);
    out
}

/// `cpu.effective`, when it is below the host's CPUs (or, with the host's count unknown, when
/// a CPU limit is set): otherwise every runtime already counts the same CPUs by itself.
fn cpus_to_plan_for(limits: &Limits, host_cpus: Option<u32>) -> Option<Cpus> {
    let count = limits.effective_cpus;
    let limit = match &limits.cpu {
        Limit::Set { value, source } => Some((*value, source)),
        _ => None,
    };
    let restricted = match host_cpus {
        Some(host) => count < host,
        None => limit.is_some(),
    };
    if !restricted {
        return None;
    }
    let why = match limit {
        Some((cpus, source)) if cpus.ceil() <= f64::from(count) => {
            format!("CPU limit {} from {source}, rounded up", human_cpus(cpus))
        }
        _ => "the CPUs of the cpuset".to_string(),
    };
    Some(Cpus { count, why })
}

/// Set `name` unless the user did; say which.
fn offer(
    out: &mut RuntimeEnv,
    env: &Environment,
    runtime: &str,
    name: &str,
    value: String,
    why: &str,
) {
    match env.get(name) {
        Some(existing) => out.reasons.push(format!(
            "{runtime}: {name} is already set ({:?}): kept",
            existing.to_string_lossy()
        )),
        None => {
            out.reasons
                .push(format!("{runtime}: {name}={value}: {why}"));
            out.env.push((OsString::from(name), OsString::from(value)));
        }
    }
}

/// Go reads GOMAXPROCS (before 1.25 it ignores CPU quotas) and GOMEMLIMIT (it never reads the
/// memory limit). Go binaries carry no mark, so every command that is not Java gets them.
fn go(out: &mut RuntimeEnv, env: &Environment, memory: Option<&Memory>, cpus: Option<&Cpus>) {
    if let Some(cpus) = cpus {
        let why = format!("{} ({})", plural_cpus(cpus.count), cpus.why);
        offer(out, env, "Go", "GOMAXPROCS", cpus.count.to_string(), &why);
    }
    if let Some(memory) = memory {
        let why = format!(
            "90 % of {}: Go's garbage collector works harder near it instead of growing into it",
            memory.described
        );
        offer(
            out,
            env,
            "Go",
            "GOMEMLIMIT",
            go_memory_limit(memory.bytes),
            &why,
        );
    }
}

/// Node.js reads `--max-old-space-size` from NODE_OPTIONS; what the user has there stays, and
/// a size given anywhere (NODE_OPTIONS or the command line) wins.
fn node(out: &mut RuntimeEnv, config: &Config, memory: Option<&Memory>, how: &str) {
    let Some(memory) = memory else {
        return;
    };
    let existing = config.env.get_str("NODE_OPTIONS").unwrap_or_default();
    if let Some(option) = node_heap_option(existing.split_whitespace()) {
        out.reasons
            .push(format!("Node.js: NODE_OPTIONS already has {option}: kept"));
        return;
    }
    let arguments = config.command.iter().skip(1).filter_map(|a| a.to_str());
    if let Some(option) = node_heap_option(arguments) {
        out.reasons.push(format!(
            "Node.js: the command line has {option}: NODE_OPTIONS left alone"
        ));
        return;
    }
    let option = format!("--max-old-space-size={}", node_old_space_mib(memory.bytes));
    let value = if existing.trim().is_empty() {
        option.clone()
    } else {
        format!("{existing} {option}")
    };
    out.reasons.push(format!(
        "Node.js ({how}): NODE_OPTIONS gets {option}: 75 % of {} for V8's old space; the rest \
         is for the young generation, code, Buffers and native memory",
        memory.described
    ));
    out.env
        .push((OsString::from("NODE_OPTIONS"), OsString::from(value)));
}

/// .NET reads DOTNET_GCHeapHardLimit (hexadecimal) and DOTNET_PROCESSOR_COUNT (decimal); the
/// `COMPlus_` spellings of older versions and the app's runtimeconfig.json count as the user's.
fn dotnet(
    out: &mut RuntimeEnv,
    env: &Environment,
    memory: Option<&Memory>,
    cpus: Option<&Cpus>,
    how: &str,
    heap_setting: Option<&str>,
) {
    let runtime = format!(".NET ({how})");
    if let Some(memory) = memory {
        if let Some(name) = variable_with_prefix(env, &DOTNET_HEAP_VARIABLES) {
            out.reasons.push(format!(
                "{runtime}: {} sets the GC heap limit: kept",
                name.to_string_lossy()
            ));
        } else if let Some(setting) = heap_setting {
            out.reasons
                .push(format!("{runtime}: {setting} sets the GC heap limit: kept"));
        } else {
            let value = dotnet_heap_limit(memory.bytes);
            let why = format!(
                "75 % of {} (.NET's own share in a container), in hexadecimal as .NET reads it",
                memory.described
            );
            offer(out, env, &runtime, "DOTNET_GCHeapHardLimit", value, &why);
        }
    }
    if let Some(cpus) = cpus {
        match variable_with_prefix(env, &DOTNET_CPU_VARIABLES) {
            Some(name) => out.reasons.push(format!(
                "{runtime}: {} is already set: kept",
                name.to_string_lossy()
            )),
            None => {
                let why = format!("{} ({})", plural_cpus(cpus.count), cpus.why);
                offer(
                    out,
                    env,
                    &runtime,
                    "DOTNET_PROCESSOR_COUNT",
                    cpus.count.to_string(),
                    &why,
                );
            }
        }
    }
}

/// Python 3.13+ reads PYTHON_CPU_COUNT for `os.cpu_count()` and `os.process_cpu_count()`,
/// which otherwise count the host's CPUs (or the affinity) and never the CPU limit.
fn python(out: &mut RuntimeEnv, env: &Environment, cpus: Option<&Cpus>) {
    if let Some(cpus) = cpus {
        let why = format!(
            "{} ({}), for os.cpu_count() of Python 3.13+ started by any command",
            plural_cpus(cpus.count),
            cpus.why
        );
        offer(
            out,
            env,
            "Python",
            "PYTHON_CPU_COUNT",
            cpus.count.to_string(),
            &why,
        );
    }
}

/// jwrap's own pair, for every command: the limits jwrap used, where known. JWRAP_CPUS is the
/// CPU limit itself (`1.5`), the value a jwrap that COMMAND starts reads back as `--cpus`: it
/// then sees the same limit and plans for the same CPUs. These always describe this run, so an
/// inherited value is replaced.
fn for_scripts(out: &mut RuntimeEnv, env: &Environment, limits: &Limits) {
    let mut export = |name: &str, value: String, why: &str| {
        out.reasons.push(format!("scripts: {name}={value}: {why}"));
        if env.get_str(name) != Some(value.as_str()) {
            out.env.push((OsString::from(name), OsString::from(value)));
        }
    };
    if let Some(bytes) = limits.memory.value() {
        export(
            MEMORY_LIMIT_BYTES,
            bytes.to_string(),
            "the memory limit jwrap used",
        );
    }
    if let Some(cpus) = limits.cpu.value() {
        export(
            CPUS,
            human_cpus(cpus),
            "the CPU limit jwrap used (a jwrap started by COMMAND reads it as --cpus)",
        );
    }
}

fn plural_cpus(count: u32) -> String {
    if count == 1 {
        "the 1 CPU to plan for".to_string()
    } else {
        format!("the {count} CPUs to plan for")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli;
    use crate::config::{self, Environment};
    use crate::limits::Source;

    const GIB: u64 = 1 << 30;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Config {
        let parsed = cli::parse(args.iter().map(OsString::from)).unwrap();
        config::build(parsed, Environment::from_pairs(env.iter().copied())).unwrap()
    }

    /// 1 GiB, 1.5 CPUs (2 effective) on a 4-CPU host.
    fn limits() -> Limits {
        Limits {
            memory: Limit::Set {
                value: GIB,
                source: Source::file("/sys/fs/cgroup/memory.max", "1073741824"),
            },
            cpu: Limit::Set {
                value: 1.5,
                source: Source::file("/sys/fs/cgroup/cpu.max", "150000 100000"),
            },
            effective_cpus: 2,
        }
    }

    fn unlimited() -> Limits {
        Limits {
            memory: Limit::Unlimited { source: None },
            cpu: Limit::Unlimited { source: None },
            effective_cpus: 4,
        }
    }

    fn inputs(program: Program) -> Inputs {
        Inputs {
            program,
            host_cpus: Some(4),
        }
    }

    fn node_program() -> Program {
        Program::Node {
            how: "COMMAND is node".to_string(),
        }
    }

    fn dotnet_program(heap_setting: Option<&str>) -> Program {
        Program::Dotnet {
            how: "COMMAND is dotnet".to_string(),
            heap_setting: heap_setting.map(String::from),
        }
    }

    fn value<'a>(out: &'a RuntimeEnv, name: &str) -> Option<&'a str> {
        out.env
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.to_str())
    }

    fn names(out: &RuntimeEnv) -> Vec<String> {
        out.env
            .iter()
            .map(|(n, _)| n.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn any_command_gets_go_python_and_the_scripts_pair() {
        let config = config(&["--", "./server"], &[]);
        let out = decide(&config, &limits(), &inputs(Program::Other));
        assert_eq!(value(&out, "GOMAXPROCS"), Some("2"));
        assert_eq!(value(&out, "GOMEMLIMIT"), Some("921MiB"));
        assert_eq!(value(&out, "PYTHON_CPU_COUNT"), Some("2"));
        assert_eq!(value(&out, MEMORY_LIMIT_BYTES), Some("1073741824"));
        assert_eq!(value(&out, CPUS), Some("1.5"));
        assert_eq!(value(&out, "NODE_OPTIONS"), None);
        assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), None);
        assert!(out.reasons.iter().any(|r| {
            r.starts_with("Go: GOMAXPROCS=2: the 2 CPUs to plan for (CPU limit 1.5 from")
        }));
    }

    #[test]
    fn the_users_value_wins_even_when_empty() {
        let config = config(
            &["--", "./server"],
            &[
                ("GOMAXPROCS", "8"),
                ("GOMEMLIMIT", ""),
                ("PYTHON_CPU_COUNT", "3"),
            ],
        );
        let out = decide(&config, &limits(), &inputs(Program::Other));
        assert_eq!(names(&out), [MEMORY_LIMIT_BYTES, CPUS]);
        assert!(
            out.reasons
                .iter()
                .any(|r| r == "Go: GOMAXPROCS is already set (\"8\"): kept")
        );
        assert!(
            out.reasons
                .iter()
                .any(|r| r == "Go: GOMEMLIMIT is already set (\"\"): kept")
        );
    }

    #[test]
    fn no_limit_no_variables() {
        let config = config(&["--", "node", "app.js"], &[]);
        let out = decide(&config, &unlimited(), &inputs(node_program()));
        assert!(out.env.is_empty(), "{out:?}");
        assert!(
            out.reasons
                .iter()
                .any(|r| r.contains("memory limit is unlimited"))
        );
        // A CPU limit at or above the host's CPUs changes nothing a runtime counts itself.
        let mut wide = unlimited();
        wide.cpu = Limit::Set {
            value: 16.0,
            source: Source::file("/sys/fs/cgroup/cpu.max", "1600000 100000"),
        };
        let out = decide(&config, &wide, &inputs(node_program()));
        assert_eq!(names(&out), [CPUS]);
    }

    #[test]
    fn a_cpuset_alone_restricts_the_cpus() {
        let mut pinned = unlimited();
        pinned.effective_cpus = 1;
        let out = decide(&config(&["--", "x"], &[]), &pinned, &inputs(Program::Other));
        assert_eq!(value(&out, "GOMAXPROCS"), Some("1"));
        assert_eq!(value(&out, CPUS), None);
        assert!(
            out.reasons
                .iter()
                .any(|r| r.contains("the CPUs of the cpuset"))
        );
        // With the host's CPU count unknown, only a CPU limit says the count is restricted.
        let unknown_host = Inputs {
            program: Program::Other,
            host_cpus: None,
        };
        let out = decide(&config(&["--", "x"], &[]), &pinned, &unknown_host);
        assert_eq!(value(&out, "GOMAXPROCS"), None);
        let out = decide(&config(&["--", "x"], &[]), &limits(), &unknown_host);
        assert_eq!(value(&out, "GOMAXPROCS"), Some("2"));
    }

    #[test]
    fn java_gets_only_the_scripts_pair() {
        let config = config(&["--", "java", "-jar", "app.jar"], &[]);
        let out = decide(&config, &limits(), &inputs(Program::Java));
        assert_eq!(names(&out), [MEMORY_LIMIT_BYTES, CPUS]);
    }

    #[test]
    fn runtime_env_off_sets_nothing() {
        // (JWRAP_RUNTIME_ENV=0 is read by clap from the process: tests/runtimes.rs.)
        let config = config(&["--runtime-env", "off", "--", "node", "a.js"], &[]);
        let out = decide(&config, &limits(), &inputs(node_program()));
        assert!(out.env.is_empty(), "{out:?}");
        assert!(
            out.reasons
                .iter()
                .any(|r| r.starts_with("--runtime-env off"))
        );
    }

    #[test]
    fn node_options_are_appended_to() {
        let config = config(
            &["--", "node", "server.js"],
            &[("NODE_OPTIONS", "--enable-source-maps")],
        );
        let out = decide(&config, &limits(), &inputs(node_program()));
        assert_eq!(
            value(&out, "NODE_OPTIONS"),
            Some("--enable-source-maps --max-old-space-size=768")
        );
        let blank = self::config(&["--", "node", "server.js"], &[("NODE_OPTIONS", " ")]);
        let out = decide(&blank, &limits(), &inputs(node_program()));
        assert_eq!(
            value(&out, "NODE_OPTIONS"),
            Some("--max-old-space-size=768")
        );
    }

    #[test]
    fn a_node_heap_size_given_anywhere_wins() {
        for (args, env) in [
            (&["--", "node", "s.js"][..], "--max-old-space-size=100"),
            (
                &["--", "node", "s.js"],
                "--trace-gc --max_old_space_size=100",
            ),
            (
                &["--", "node", "s.js"],
                "--max-old-space-size-percentage=50",
            ),
            (&["--", "node", "--max-old-space-size=100", "s.js"], ""),
        ] {
            let config = config(args, &[("NODE_OPTIONS", env)]);
            let out = decide(&config, &limits(), &inputs(node_program()));
            assert_eq!(value(&out, "NODE_OPTIONS"), None, "{args:?} {env:?}");
            assert!(
                out.reasons
                    .iter()
                    .any(|r| r.ends_with(": kept") || r.ends_with("left alone"))
            );
        }
    }

    #[test]
    fn dotnet_gets_a_hexadecimal_heap_limit_and_a_decimal_cpu_count() {
        let config = config(&["--", "dotnet", "app.dll"], &[]);
        let out = decide(&config, &limits(), &inputs(dotnet_program(None)));
        assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), Some("0x30000000"));
        assert_eq!(value(&out, "DOTNET_PROCESSOR_COUNT"), Some("2"));
        assert_eq!(value(&out, "NODE_OPTIONS"), None);
    }

    #[test]
    fn dotnet_users_heap_limits_in_any_spelling_win() {
        for env in [
            ("DOTNET_GCHeapHardLimit", "0x10000000"),
            ("DOTNET_GCHeapHardLimitPercent", "0x32"),
            ("COMPlus_GCHeapHardLimit", "10000000"),
            ("DOTNET_GCHeapHardLimitSOH", "0x8000000"),
        ] {
            let config = config(&["--", "dotnet", "app.dll"], &[env]);
            let out = decide(&config, &limits(), &inputs(dotnet_program(None)));
            assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), None, "{env:?}");
            assert_eq!(value(&out, "DOTNET_PROCESSOR_COUNT"), Some("2"));
        }
        let config = config(
            &["--", "dotnet", "app.dll"],
            &[("COMPlus_PROCESSOR_COUNT", "4")],
        );
        let setting = "System.GC.HeapHardLimitPercent in app.runtimeconfig.json";
        let out = decide(&config, &limits(), &inputs(dotnet_program(Some(setting))));
        assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), None);
        assert_eq!(value(&out, "DOTNET_PROCESSOR_COUNT"), None);
        assert!(out.reasons.iter().any(|r| r.contains(setting)));
    }

    #[test]
    fn the_scripts_pair_replaces_an_inherited_value_and_skips_an_equal_one() {
        let config = config(&["--", "x"], &[(MEMORY_LIMIT_BYTES, "1"), (CPUS, "1.5")]);
        let out = decide(&config, &limits(), &inputs(Program::Other));
        assert_eq!(value(&out, MEMORY_LIMIT_BYTES), Some("1073741824"));
        assert_eq!(value(&out, CPUS), None);
        assert!(
            out.reasons
                .iter()
                .any(|r| r.starts_with("scripts: JWRAP_CPUS=1.5"))
        );
    }

    #[test]
    fn formats() {
        assert_eq!(go_memory_limit(512 * MIB), "460MiB");
        assert_eq!(go_memory_limit(GIB), "921MiB");
        assert_eq!(go_memory_limit(MIB), "943718B");
        assert_eq!(node_old_space_mib(512 * MIB), 384);
        assert_eq!(node_old_space_mib(1000), 1);
        // 0x1E000000 = 480 MiB = 75 % of 640 MiB.
        assert_eq!(dotnet_heap_limit(640 * MIB), "0x1E000000");
        assert_eq!(dotnet_heap_limit(GIB), "0x30000000");
        // Whole MiB: 75 % of 1000 MiB is 750 MiB.
        assert_eq!(dotnet_heap_limit(1000 * MIB), format!("0x{:X}", 750 * MIB));
        // No overflow on the way.
        assert_eq!(share(u64::MAX, 1000), u64::MAX);
    }

    #[test]
    fn shebang_lines() {
        assert_eq!(
            shebang_program("#!/usr/bin/node\nx"),
            Some("node".to_string())
        );
        assert_eq!(
            shebang_program("#!/usr/bin/env node\n"),
            Some("node".to_string())
        );
        assert_eq!(
            shebang_program("#!/usr/bin/env -S NODE_ENV=production node --harmony\n"),
            Some("node".to_string())
        );
        assert_eq!(shebang_program("#! /bin/sh -e\n"), Some("sh".to_string()));
        assert_eq!(shebang_program("#!/usr/bin/env\n"), None);
        assert_eq!(shebang_program("\x7fELF\x02\x01"), None);
        assert_eq!(shebang_program(""), None);
    }

    #[test]
    fn runtimeconfig_heap_properties() {
        let with = r#"{"runtimeOptions": {"tfm": "net8.0",
            "configProperties": {"System.GC.Server": true, "System.GC.HeapHardLimitPercent": 50}}}"#;
        assert_eq!(
            runtimeconfig_heap_property(with).as_deref(),
            Some("System.GC.HeapHardLimitPercent")
        );
        let without = r#"{"runtimeOptions": {"configProperties": {"System.GC.Server": true}}}"#;
        assert_eq!(runtimeconfig_heap_property(without), None);
        assert_eq!(
            runtimeconfig_heap_property(r#"{"runtimeOptions": {}}"#),
            None
        );
        assert_eq!(runtimeconfig_heap_property("not json"), None);
    }

    #[test]
    fn programs_by_name_companion_file_and_shebang() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let mut permissions = std::fs::metadata(&path).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
            std::fs::set_permissions(&path, permissions).unwrap();
        };
        write("MyApi", "\x7fELF");
        write(
            "MyApi.runtimeconfig.json",
            r#"{"runtimeOptions": {"configProperties": {"System.GC.HeapHardLimit": 209715200}}}"#,
        );
        write("Worker", "\x7fELF");
        write("Worker.deps.json", "{}");
        write("npm", "#!/usr/bin/env node\nrequire('npm')\n");
        write("tool", "#!/bin/sh\nexec node x.js\n");
        let path = [("PATH", dir.path().to_str().unwrap())];
        let env = Environment::from_pairs(path);
        let kind = |argv: &[&str]| {
            let argv: Vec<OsString> = argv.iter().map(OsString::from).collect();
            program(&argv, &env)
        };
        assert_eq!(
            kind(&["/usr/lib/jvm/bin/java", "-jar", "a.jar"]),
            Program::Java
        );
        assert_eq!(
            kind(&["nodejs", "a.js"]),
            Program::Node {
                how: "COMMAND is nodejs".to_string()
            }
        );
        match kind(&["MyApi"]) {
            Program::Dotnet { how, heap_setting } => {
                assert!(how.contains("MyApi.runtimeconfig.json beside it"), "{how}");
                assert!(
                    heap_setting
                        .unwrap()
                        .starts_with("System.GC.HeapHardLimit in ")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            kind(&["Worker"]),
            Program::Dotnet {
                heap_setting: None,
                ..
            }
        ));
        let dll = dir.path().join("MyApi.dll");
        match kind(&["dotnet", dll.to_str().unwrap()]) {
            Program::Dotnet { heap_setting, .. } => assert!(heap_setting.is_some()),
            other => panic!("{other:?}"),
        }
        assert!(matches!(kind(&["npm", "start"]), Program::Node { .. }));
        assert_eq!(kind(&["tool"]), Program::Other);
        assert_eq!(kind(&["not-on-path"]), Program::Other);
        assert_eq!(kind(&["python3", "app.py"]), Program::Other);
    }
}
