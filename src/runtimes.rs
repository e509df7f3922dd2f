//! Runtimes other than Java: the variables Go, Node.js, .NET and Python read to size
//! themselves, for a COMMAND that is not `java`; and jwrap's own pair for scripts.
//!
//! Go 1.25+, Node.js and .NET read the container's limits themselves, and a variable set for
//! them switches that off. So a runtime's variable is exported only where the runtime would get
//! it wrong by itself (`info` says which case it is), only when the limit behind it is known,
//! and never when the user set it (present in the environment, even empty) or set the same thing
//! another way. `--runtime-env off` drops all of them, jwrap's own pair too: it is the one switch
//! that leaves the child's environment as it was (apart from JVM flags in `JAVA_TOOL_OPTIONS`), and
//! a `JWRAP_CPUS` the user did not ask for would become a nested jwrap's `--cpus`.
//! `doc/runtimes.md` has the table and the measurements behind each number.
//!
//! * Go (an executable with Go build information, `gobuildinfo`): GOMAXPROCS by Go's own rule
//!   (the CPU limit rounded up, at least 2, at most the CPUs) where Go would count otherwise: Go
//!   before 1.25, `containermaxprocs=0` (binary default or the user's GODEBUG), or a limit Go
//!   does not see (Go reads only its own cgroup). GOMEMLIMIT = 90 % of the tightest limit.
//! * Node.js: half the limit as `--max-old-space-size` where Node.js's own choice is wrong: a
//!   limit it does not see (with V8's young generation for that size), or one below 512 MiB
//!   (Node.js never gives V8 less than 256 MiB by itself).
//! * .NET: reads every level of v1 and v2 and takes 75 % by itself; jwrap sets its variables only
//!   for a limit given to jwrap: 75 % in hexadecimal (`0x`), the CPU count in decimal.
//! * Python: `PYTHON_CPU_COUNT` (read by Python 3.13+) for every command that is not Java: Python
//!   is usually reached through a shell script or a console script (gunicorn, celery), and the
//!   variable means nothing to anything else.
//! * CPUs to plan for: `cpu.effective` (the fewest of the host's CPUs, the cpuset and the CPU
//!   limit rounded up), exported only when below the host's CPUs.

use crate::cgroup::Detection;
use crate::config::{Config, Environment};
use crate::gobuildinfo::{self, BuildInfo, GoVersion};
use crate::java::discover;
use crate::limits::{Limit, Limits, Source};
use crate::units::MIB;
use crate::units::{human_bytes, human_cpus};
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
/// GOMEMLIMIT's share of the memory limit.
const GO_MEMORY_PER_MILLE: u64 = 900;
/// `--max-old-space-size`'s share of the memory limit: Node.js's own above 512 MiB.
const NODE_OLD_SPACE_PER_MILLE: u64 = 500;
/// The smallest old space Node.js 20 chooses by itself, whatever the limit (measured: V8's
/// `heap_size_limit` is 259 MiB in every cgroup from 64 to 512 MiB).
const NODE_OWN_FLOOR_MIB: u64 = 256;
/// V8's old space to semi-space ratio when it sizes the heap itself, and its largest semi-space.
const NODE_OLD_TO_SEMI_SPACE: u64 = 128;
const NODE_MAX_SEMI_SPACE_MIB: u64 = 16;
/// Node.js reads cgroup v2 limits from this major version on (v1 since 12).
const NODE_READS_V2: u32 = 20;
/// The first .NET that reads the memory limits of parent cgroups (dotnet/runtime#93611).
const DOTNET_READS_PARENTS: u32 = 9;
/// The first Go release that reads its cgroup's CPU limit.
const GO_CGROUP_AWARE: GoVersion = GoVersion {
    major: 1,
    minor: 25,
};
/// `DOTNET_GCHeapHardLimit`'s share of the memory limit.
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Program {
    /// `java`: sized by its JVM flags, not by these variables.
    Java,
    /// A Go executable, by its build information.
    Go {
        /// The file, for the reasons.
        path: PathBuf,
        info: BuildInfo,
    },
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
        /// The .NET major version the app's runtimeconfig.json asks for (`8` for 8.0.x).
        framework: Option<u32>,
    },
    #[default]
    Other,
}

/// What `decide` needs that had to be read from the system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    pub program: Program,
    /// The host's online CPUs, when known.
    pub host_cpus: Option<u32>,
    /// The CPUs the process may run on: the host's, narrowed by the cpuset (what Go and .NET
    /// count before any CPU limit), when known.
    pub cpus: Option<u32>,
    /// Where the process's own cgroup is, per controller: the one level Go and Node.js read.
    pub own_memory_dir: Option<String>,
    pub own_cpu_dir: Option<String>,
    /// The memory controller is on cgroup v2 (Node.js reads v2 limits since version 20).
    pub memory_v2: bool,
    /// `NODE_VERSION` (set by the official Node.js images), as `MAJOR.MINOR`.
    pub node_version: Option<(u32, u32)>,
}

/// The variables for the child, and one reason per decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuntimeEnv {
    pub env: Vec<(OsString, OsString)>,
    pub reasons: Vec<String>,
}

/// Learn what COMMAND's program is: its name, else the file it runs (found on PATH as `execvp`
/// does): a Go executable's build information, a .NET app host's companion files, a script's
/// `#!` line. And where the process's own cgroup is, which is all Go and Node.js read.
pub fn inspect(config: &Config, detection: &Detection) -> Inputs {
    let host_cpus = detection.host.cpus.value();
    let cpuset = detection.cpuset.value().map(|set| set.count);
    let cpus = match (host_cpus, cpuset) {
        (Some(host), Some(set)) => Some(host.min(set)),
        (host, set) => host.or(set),
    };
    Inputs {
        program: program(&config.command, &config.env),
        host_cpus,
        cpus,
        own_memory_dir: detection.layout.memory.as_ref().map(|p| p.dir.clone()),
        own_cpu_dir: detection.layout.cpu.as_ref().map(|p| p.dir.clone()),
        memory_v2: detection.layout.memory.as_ref().is_some_and(|p| p.unified),
        node_version: config
            .env
            .get_str("NODE_VERSION")
            .and_then(parse_node_version),
    }
}

/// `20.11.1` or `v22.21.0` as (major, minor).
#[must_use]
pub fn parse_node_version(text: &str) -> Option<(u32, u32)> {
    let text = text.trim().trim_start_matches('v');
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |minor| minor.parse().ok())?;
    Some((major, minor))
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
        let config = app.map(|dll| dll.with_extension("runtimeconfig.json"));
        return Program::Dotnet {
            how: "COMMAND is dotnet".to_string(),
            heap_setting: config.as_deref().and_then(heap_setting),
            framework: config.as_deref().and_then(framework_major),
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
    if let Some(info) = gobuildinfo::read_file(&path) {
        return Program::Go { path, info };
    }
    if let Some(companion) = [&runtime_config, &deps].into_iter().find(|f| f.is_file()) {
        return Program::Dotnet {
            how: format!(
                "{} is a .NET app host ({} beside it)",
                path.display(),
                companion.file_name().unwrap_or_default().to_string_lossy()
            ),
            heap_setting: heap_setting(&runtime_config),
            framework: framework_major(&runtime_config),
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
#[must_use]
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

/// The .NET major version a runtimeconfig.json file asks for.
fn framework_major(runtime_config: &Path) -> Option<u32> {
    let text = crate::root::read_text(runtime_config).ok()?;
    runtimeconfig_framework_major(&text)
}

/// `runtimeOptions.framework.version` (or the first of `frameworks`) of a runtimeconfig.json
/// text, as its major version: `8.0.0` gives 8.
#[must_use]
pub fn runtimeconfig_framework_major(text: &str) -> Option<u32> {
    let json: serde_json::Value = serde_json::from_str(text).ok()?;
    let options = json.get("runtimeOptions")?;
    let framework = options
        .get("framework")
        .or_else(|| options.get("frameworks")?.get(0))?;
    framework
        .get("version")?
        .as_str()?
        .split('.')
        .next()?
        .parse()
        .ok()
}

/// The user's GC heap limit in a runtimeconfig.json file, if it sets one.
fn heap_setting(runtime_config: &Path) -> Option<String> {
    let text = crate::root::read_text(runtime_config).ok()?;
    runtimeconfig_heap_property(&text)
        .map(|property| format!("{property} in {}", runtime_config.display()))
}

/// The first `System.GC.HeapHardLimit*` property of a runtimeconfig.json text
/// (`runtimeOptions.configProperties`).
#[must_use]
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
#[must_use]
pub fn go_memory_limit(limit: u64) -> String {
    let bytes = share(limit, GO_MEMORY_PER_MILLE);
    match bytes / MIB {
        0 => format!("{bytes}B"),
        mib => format!("{mib}MiB"),
    }
}

/// Go's own GOMAXPROCS for `cpus` CPUs under a CPU limit (Go 1.25+, `runtime/cgroup_linux.go)`:
/// the limit rounded up, at least 2, at most the CPUs.
#[must_use]
pub fn go_maxprocs_rule(cpus: u32, limit: Option<f64>) -> u32 {
    match limit {
        Some(limit) if limit > 0.0 => {
            let rounded = limit.ceil().max(2.0);
            if rounded >= f64::from(cpus) {
                cpus
            } else {
                rounded as u32
            }
        }
        _ => cpus,
    }
}

/// `--max-old-space-size` (MiB) for a memory limit: half of it (Node.js's own share above
/// 512 MiB), at least 1.
#[must_use]
pub fn node_old_space_mib(limit: u64) -> u64 {
    (share(limit, NODE_OLD_SPACE_PER_MILLE) / MIB).max(1)
}

/// `--max-semi-space-size` (MiB) for an old space of `old_space_mib`: V8's own ratio when it
/// sizes the heap from a limit it sees (old space ÷ 128), from 1 to 16 MiB.
#[must_use]
pub fn node_semi_space_mib(old_space_mib: u64) -> u64 {
    (old_space_mib / NODE_OLD_TO_SEMI_SPACE).clamp(1, NODE_MAX_SEMI_SPACE_MIB)
}

/// `DOTNET_GCHeapHardLimit` for a memory limit: 75 % of it, in whole MiB, hexadecimal with `0x`.
#[must_use]
pub fn dotnet_heap_limit(limit: u64) -> String {
    let bytes = share(limit, DOTNET_HEAP_PER_MILLE);
    let rounded = if bytes >= MIB {
        bytes / MIB * MIB
    } else {
        bytes
    };
    format!("0x{rounded:X}")
}

/// The Node.js option that sizes the old space, among `words` (`NODE_OPTIONS`, or the command
/// line), including `--max-old-space-size-percentage`. Bytes, so that a word that is not
/// UTF-8 elsewhere in `NODE_OPTIONS` hides nothing.
fn node_heap_option<'a>(words: impl IntoIterator<Item = &'a [u8]>) -> Option<String> {
    words
        .into_iter()
        .find(|word| {
            NODE_HEAP_OPTIONS
                .iter()
                .any(|option| word.starts_with(option.as_bytes()))
        })
        .map(|word| String::from_utf8_lossy(word).into_owned())
}

/// The words of `NODE_OPTIONS`, split at ASCII white space as Node.js does.
fn node_option_words(value: &OsStr) -> impl Iterator<Item = &[u8]> {
    value
        .as_bytes()
        .split(u8::is_ascii_whitespace)
        .filter(|word| !word.is_empty())
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
    source: Source,
}

/// The CPU count to export, and where it comes from.
struct Cpus {
    count: u32,
    why: String,
}

/// Where a limit is, as a runtime that reads its own cgroup sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Visible {
    /// In the process's own cgroup directory: Go 1.25+ and Node.js read it there.
    OwnLevel,
    /// In a parent cgroup: only runtimes that walk up the hierarchy (.NET, the JVM) see it.
    ParentLevel,
    /// Given to jwrap (`--memory-limit`, `--cpus`): no runtime can see it.
    Override,
}

fn visibility(source: &Source, own_dir: Option<&str>) -> Visible {
    match source {
        Source::Setting { .. } => Visible::Override,
        // v1 memory.stat's hierarchical_memory_limit: a parent's limit, read below.
        Source::File { path, .. } if path.ends_with("/memory.stat") => Visible::ParentLevel,
        Source::File { path, .. } => {
            let dir = Path::new(path).parent();
            if own_dir.is_some_and(|own| dir == Some(Path::new(own))) {
                Visible::OwnLevel
            } else {
                Visible::ParentLevel
            }
        }
    }
}

/// The variables for COMMAND. Pure.
#[must_use]
pub fn decide(config: &Config, limits: &Limits, inputs: &Inputs) -> RuntimeEnv {
    let mut out = RuntimeEnv::default();
    let env = &config.env;
    let memory = match &limits.memory {
        Limit::Set { value, source } => Some(Memory {
            bytes: *value,
            described: format!("the {} limit (from {source})", human_bytes(*value)),
            source: source.clone(),
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
        match &inputs.program {
            Program::Go { path, info } => {
                go(&mut out, env, limits, inputs, memory.as_ref(), path, info);
            }
            Program::Node { how } => node(&mut out, config, inputs, memory.as_ref(), how),
            Program::Dotnet {
                how,
                heap_setting,
                framework,
            } => dotnet(
                &mut out,
                env,
                limits,
                inputs,
                memory.as_ref(),
                cpus.as_ref(),
                (how, heap_setting.as_deref(), *framework),
            ),
            Program::Java | Program::Other => out.reasons.push(
                "Go: COMMAND's program is not a Go executable (no Go build information): no Go \
                 variables"
                    .to_string(),
            ),
        }
        if cpus.is_none() {
            out.reasons.push(
                "Python: no CPU limit below the host's CPUs, so no PYTHON_CPU_COUNT".to_string(),
            );
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
    if let Some(existing) = env.get(name) {
        out.reasons.push(format!(
            "{runtime}: {name} is already set ({:?}): kept",
            existing.to_string_lossy()
        ));
    } else {
        out.reasons
            .push(format!("{runtime}: {name}={value}: {why}"));
        out.env.push((OsString::from(name), OsString::from(value)));
    }
}

/// Why Go by itself does not apply its cgroup rule, if it does not: a release before 1.25, or
/// `containermaxprocs=0` (the user's GODEBUG over the binary's defaults, as Go reads them).
fn go_ignores_cpu_limits(env: &Environment, info: &BuildInfo) -> Option<String> {
    match info.version() {
        Some(version) if version >= GO_CGROUP_AWARE => {}
        Some(version) => {
            return Some(format!(
                "Go {version} ignores CPU limits (1.25+ reads them)"
            ));
        }
        None => {
            return Some(format!(
                "{} names no Go release, so jwrap counts it as not reading CPU limits",
                info.go_version
            ));
        }
    }
    let user = env
        .get("GODEBUG")
        .map(|value| gobuildinfo::godebug_settings(&value.to_string_lossy()))
        .unwrap_or_default();
    let setting = |list: &[(String, String)]| {
        list.iter()
            .rev()
            .find(|(name, _)| name == "containermaxprocs")
            .map(|(_, value)| value.clone())
    };
    match (setting(&user), setting(&info.default_godebug())) {
        (Some(value), _) if value == "0" => {
            Some("the user's GODEBUG has containermaxprocs=0".to_string())
        }
        (Some(_), _) => None,
        (None, Some(value)) if value == "0" => Some(
            "the binary's default GODEBUG has containermaxprocs=0 (its go.mod says go 1.24 or \
             older)"
                .to_string(),
        ),
        _ => None,
    }
}

/// Go: GOMAXPROCS only where Go's own count would be wrong, with Go's own rule; GOMEMLIMIT
/// (Go never reads the memory limit) from the tightest limit.
fn go(
    out: &mut RuntimeEnv,
    env: &Environment,
    limits: &Limits,
    inputs: &Inputs,
    memory: Option<&Memory>,
    path: &Path,
    info: &BuildInfo,
) {
    let runtime = format!("Go ({} built with {})", path.display(), info.go_version);
    let limit = match &limits.cpu {
        Limit::Set { value, source } => Some((*value, source)),
        _ => None,
    };
    match (inputs.cpus, limit) {
        (None, _) => out.reasons.push(format!(
            "{runtime}: the CPUs the process may use are unknown: GOMAXPROCS not set"
        )),
        (Some(cpus), None) => out.reasons.push(format!(
            "{runtime}: no CPU limit: Go counts the {cpus} CPU(s) it may run on by itself"
        )),
        (Some(cpus), Some((quota, source))) => {
            let wanted = go_maxprocs_rule(cpus, Some(quota));
            let visible = visibility(source, inputs.own_cpu_dir.as_deref());
            let (by_itself, why) = match go_ignores_cpu_limits(env, info) {
                Some(why) => (cpus, why),
                None if visible == Visible::OwnLevel => (
                    wanted,
                    format!(
                        "Go reads the CPU limit {} in its own cgroup",
                        human_cpus(quota)
                    ),
                ),
                None if visible == Visible::ParentLevel => (
                    cpus,
                    format!(
                        "the CPU limit {} is on a parent cgroup ({source}), which Go does not read",
                        human_cpus(quota)
                    ),
                ),
                None => (
                    cpus,
                    format!(
                        "the CPU limit {} was given to jwrap ({source})",
                        human_cpus(quota)
                    ),
                ),
            };
            if wanted < by_itself {
                let why = format!(
                    "{why}, so Go would run {by_itself}; Go's own rule for the limit (rounded \
                     up, at least 2, at most the {cpus} CPUs) gives {wanted}"
                );
                offer(out, env, &runtime, "GOMAXPROCS", wanted.to_string(), &why);
            } else {
                out.reasons.push(format!(
                    "{runtime}: GOMAXPROCS not set: {why}; Go runs {by_itself}, which is what \
                     its rule gives for the limit"
                ));
            }
        }
    }
    if let Some(memory) = memory {
        let why = format!(
            "90 % of {} (Go sets no memory limit by itself): Go's garbage collector works \
             harder near it instead of growing into it",
            memory.described
        );
        offer(
            out,
            env,
            &runtime,
            "GOMEMLIMIT",
            go_memory_limit(memory.bytes),
            &why,
        );
    }
}

/// Node.js sizes V8's heap from the memory limit of its own cgroup (v1 since Node.js 12, v2
/// since 20): old space half the limit, but never below 256 MiB, which at 128 and 256 MiB
/// limits is more than the container has (measured: BENCHMARKS.md). jwrap sets a size only
/// where that goes wrong: a limit Node.js does not see, or one below 512 MiB.
fn node(
    out: &mut RuntimeEnv,
    config: &Config,
    inputs: &Inputs,
    memory: Option<&Memory>,
    how: &str,
) {
    let runtime = format!("Node.js ({how})");
    let Some(memory) = memory else {
        return;
    };
    let existing = config.env.get("NODE_OPTIONS");
    if let Some(option) = existing.and_then(|value| node_heap_option(node_option_words(value))) {
        out.reasons.push(format!(
            "{runtime}: NODE_OPTIONS already has {option}: kept"
        ));
        return;
    }
    let arguments = config.command.iter().skip(1).map(|a| a.as_bytes());
    if let Some(option) = node_heap_option(arguments) {
        out.reasons.push(format!(
            "{runtime}: the command line has {option}: NODE_OPTIONS left alone"
        ));
        return;
    }
    let old_space = node_old_space_mib(memory.bytes);
    let reads_v2 = inputs
        .node_version
        .is_none_or(|(major, _)| major >= NODE_READS_V2);
    let sees = match visibility(&memory.source, inputs.own_memory_dir.as_deref()) {
        Visible::OwnLevel if inputs.memory_v2 && !reads_v2 => Err(format!(
            "NODE_VERSION says Node.js {}, which does not read cgroup v2 limits",
            inputs.node_version.map_or(0, |v| v.0)
        )),
        Visible::OwnLevel => Ok(()),
        Visible::ParentLevel => Err(format!(
            "{} is on a parent cgroup, which Node.js does not read",
            memory.described
        )),
        Visible::Override => Err(format!(
            "{} was given to jwrap, so Node.js cannot see it",
            memory.described
        )),
    };
    let mut options = vec![format!("--max-old-space-size={old_space}")];
    let why = match sees {
        Ok(()) if old_space >= NODE_OWN_FLOOR_MIB => {
            out.reasons.push(format!(
                "{runtime}: NODE_OPTIONS left alone: Node.js reads {} itself and gives V8's old \
                 space half of it ({old_space} MiB)",
                memory.described
            ));
            return;
        }
        Ok(()) => format!(
            "Node.js reads {} itself, but gives V8's old space at least {NODE_OWN_FLOOR_MIB} \
             MiB, more than half of it; half the limit leaves room for Buffers, code and the \
             young generation",
            memory.described
        ),
        Err(why) => {
            options.push(format!(
                "--max-semi-space-size={}",
                node_semi_space_mib(old_space)
            ));
            format!(
                "{why}: it would size V8's heap from the host's memory; half the limit for the \
                 old space and V8's own young generation for that size, as Node.js does for a \
                 limit it sees"
            )
        }
    };
    let added = options.join(" ");
    let mut value = OsString::new();
    if let Some(existing) =
        existing.filter(|v| v.as_bytes().iter().any(|b| !b.is_ascii_whitespace()))
    {
        value.push(existing);
        value.push(" ");
    }
    value.push(&added);
    out.reasons
        .push(format!("{runtime}: NODE_OPTIONS gets {added}: {why}"));
    out.env.push((OsString::from("NODE_OPTIONS"), value));
}

/// Why .NET cannot see the memory limit jwrap found, if it cannot: a limit given to jwrap, or
/// a parent's limit for an app that asks for .NET 8 or older (.NET reads the parents' limits
/// since 9: dotnet/runtime#93611; an app whose version is unknown is taken for a supported one).
fn dotnet_unseen(memory: &Memory, inputs: &Inputs, framework: Option<u32>) -> Option<String> {
    match visibility(&memory.source, inputs.own_memory_dir.as_deref()) {
        Visible::Override => Some("this one was given to jwrap, which .NET cannot see".to_string()),
        Visible::ParentLevel => {
            framework
                .filter(|major| *major < DOTNET_READS_PARENTS)
                .map(|major| {
                    format!(
                        "this one is on a parent cgroup, and .NET {major} reads only its own (.NET \
                     {DOTNET_READS_PARENTS}+ reads the parents' too)"
                    )
                })
        }
        Visible::OwnLevel => None,
    }
}

/// .NET reads the memory and CPU limits of its cgroup (and, since 9, every parent's memory
/// limit), v1 and v2, and takes 75 % of the memory limit for its GC heap by itself: jwrap sets
/// `DOTNET_GCHeapHardLimit` (hexadecimal) only for a memory limit .NET cannot see (`dotnet_unseen`)
/// and `DOTNET_PROCESSOR_COUNT` (decimal) only for a CPU limit given to jwrap. The `COMPlus_` spellings of older versions and the app's
/// runtimeconfig.json count as the user's.
fn dotnet(
    out: &mut RuntimeEnv,
    env: &Environment,
    limits: &Limits,
    inputs: &Inputs,
    memory: Option<&Memory>,
    cpus: Option<&Cpus>,
    (how, heap_setting, framework): (&str, Option<&str>, Option<u32>),
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
        } else if let Some(unseen) = dotnet_unseen(memory, inputs, framework) {
            let value = dotnet_heap_limit(memory.bytes);
            let why = format!(
                "75 % of {} (.NET's own share of a limit it sees; {unseen}), in hexadecimal as \
                 .NET reads it",
                memory.described
            );
            offer(out, env, &runtime, "DOTNET_GCHeapHardLimit", value, &why);
        } else {
            out.reasons.push(format!(
                "{runtime}: DOTNET_GCHeapHardLimit not set: .NET reads {} itself and gives its \
                 GC heap 75 % of it; a fixed value would hide a later change of the limit",
                memory.described
            ));
        }
    }
    let Some(cpus) = cpus else {
        return;
    };
    if let Some(name) = variable_with_prefix(env, &DOTNET_CPU_VARIABLES) {
        out.reasons.push(format!(
            "{runtime}: {} is already set: kept",
            name.to_string_lossy()
        ));
    } else if !matches!(limits.cpu.source(), Some(Source::Setting { .. })) {
        out.reasons.push(format!(
            "{runtime}: DOTNET_PROCESSOR_COUNT not set: .NET counts {} itself from the cgroup \
             and the CPUs it may run on",
            plural_cpus(cpus.count)
        ));
    } else {
        let why = format!(
            "{} ({}), which .NET cannot see",
            plural_cpus(cpus.count),
            cpus.why
        );
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

/// Python 3.13+ reads `PYTHON_CPU_COUNT` for `os.cpu_count()` and `os.process_cpu_count()`,
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

/// jwrap's own pair, for every command: the limits jwrap used, where known. `JWRAP_CPUS` is the
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

    /// `bytes` and `cpus` in the process's own cgroup (v2, `/sys/fs/cgroup`), 2 CPUs to plan
    /// for on a 4-CPU host.
    fn limits_at(dir: &str, bytes: u64, cpus: f64) -> Limits {
        Limits {
            memory: Limit::Set {
                value: bytes,
                source: Source::file(format!("{dir}/memory.max"), &bytes.to_string()),
            },
            cpu: Limit::Set {
                value: cpus,
                source: Source::file(format!("{dir}/cpu.max"), "150000 100000"),
            },
            effective_cpus: (cpus.ceil() as u32).min(4),
        }
    }

    /// 1 GiB, 1.5 CPUs (2 effective) on a 4-CPU host, in the process's own cgroup.
    fn limits() -> Limits {
        limits_at(OWN, GIB, 1.5)
    }

    const OWN: &str = "/sys/fs/cgroup/app";
    const PARENT: &str = "/sys/fs/cgroup";

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
            cpus: Some(4),
            own_memory_dir: Some(OWN.to_string()),
            own_cpu_dir: Some(OWN.to_string()),
            memory_v2: true,
            node_version: None,
        }
    }

    fn go_program(version: &str, defaults: &str) -> Program {
        Program::Go {
            path: PathBuf::from("/app/server"),
            info: BuildInfo {
                go_version: version.to_string(),
                module_text: format!("path\tx\nbuild\tDefaultGODEBUG={defaults}\n"),
            },
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
            framework: None,
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

    fn has_reason(out: &RuntimeEnv, part: &str) -> bool {
        out.reasons.iter().any(|r| r.contains(part))
    }

    #[test]
    fn a_program_that_is_not_go_gets_python_and_the_scripts_pair_only() {
        let config = config(&["--", "./server"], &[]);
        let out = decide(&config, &limits(), &inputs(Program::Other));
        assert_eq!(names(&out), ["PYTHON_CPU_COUNT", MEMORY_LIMIT_BYTES, CPUS]);
        assert_eq!(value(&out, "PYTHON_CPU_COUNT"), Some("2"));
        assert_eq!(value(&out, MEMORY_LIMIT_BYTES), Some("1073741824"));
        assert_eq!(value(&out, CPUS), Some("1.5"));
        assert!(has_reason(&out, "not a Go executable"));
    }

    #[test]
    fn gomaxprocs_only_where_go_counts_wrong_and_then_by_gos_rule() {
        let config = self::config(&["--", "/app/server"], &[]);
        // (program, where the limit is, the user's GODEBUG, GOMAXPROCS expected)
        let cases = [
            (go_program("go1.19.8", ""), OWN, "", Some("2")),
            (go_program("go1.27.3", ""), OWN, "", None),
            (
                go_program("go1.27.3", "containermaxprocs=0"),
                OWN,
                "",
                Some("2"),
            ),
            (
                go_program("go1.27.3", "containermaxprocs=0"),
                OWN,
                "containermaxprocs=1",
                None,
            ),
            (
                go_program("go1.27.3", ""),
                OWN,
                "x=1,containermaxprocs=0",
                Some("2"),
            ),
            (go_program("go1.27.3", ""), PARENT, "", Some("2")),
            (go_program("devel +abc", ""), OWN, "", Some("2")),
        ];
        for (program, dir, godebug, expected) in cases {
            let config = if godebug.is_empty() {
                config.clone()
            } else {
                self::config(&["--", "/app/server"], &[("GODEBUG", godebug)])
            };
            let out = decide(&config, &limits_at(dir, GIB, 1.5), &inputs(program.clone()));
            assert_eq!(
                value(&out, "GOMAXPROCS"),
                expected,
                "{program:?} {dir} {godebug}"
            );
            assert_eq!(value(&out, "GOMEMLIMIT"), Some("921MiB"));
        }
        // Go's rule: at least 2, rounded up, at most the CPUs.
        let out = decide(
            &config,
            &limits_at(OWN, GIB, 0.5),
            &inputs(go_program("go1.19.8", "")),
        );
        assert_eq!(value(&out, "GOMAXPROCS"), Some("2"));
        let out = decide(
            &config,
            &limits_at(OWN, GIB, 2.2),
            &inputs(go_program("go1.19.8", "")),
        );
        assert_eq!(value(&out, "GOMAXPROCS"), Some("3"));
        // Where the rule gives all the CPUs, Go is right by itself.
        let mut two = inputs(go_program("go1.19.8", ""));
        two.cpus = Some(2);
        let out = decide(&config, &limits_at(OWN, GIB, 0.5), &two);
        assert_eq!(value(&out, "GOMAXPROCS"), None);
        assert!(has_reason(
            &out,
            "GOMAXPROCS not set: Go 1.19 ignores CPU limits"
        ));
        // An override is seen by no runtime.
        let config = self::config(&["--cpus", "1", "--", "/app/server"], &[]);
        let mut overridden = limits();
        overridden.cpu = Limit::Set {
            value: 1.0,
            source: Source::Setting {
                name: "--cpus".to_string(),
                text: "1".to_string(),
            },
        };
        let out = decide(&config, &overridden, &inputs(go_program("go1.27.3", "")));
        assert_eq!(value(&out, "GOMAXPROCS"), Some("2"));
    }

    #[test]
    fn go_maxprocs_rule() {
        assert_eq!(super::go_maxprocs_rule(8, Some(0.1)), 2);
        assert_eq!(super::go_maxprocs_rule(8, Some(2.0)), 2);
        assert_eq!(super::go_maxprocs_rule(8, Some(2.01)), 3);
        assert_eq!(super::go_maxprocs_rule(8, Some(100.0)), 8);
        assert_eq!(super::go_maxprocs_rule(1, Some(0.5)), 1);
        assert_eq!(super::go_maxprocs_rule(4, None), 4);
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
        let out = decide(&config, &limits(), &inputs(go_program("go1.19.8", "")));
        assert_eq!(names(&out), [MEMORY_LIMIT_BYTES, CPUS]);
        assert!(has_reason(
            &out,
            ": GOMAXPROCS is already set (\"8\"): kept"
        ));
        assert!(has_reason(&out, ": GOMEMLIMIT is already set (\"\"): kept"));
    }

    #[test]
    fn no_limit_no_variables() {
        let config = config(&["--", "node", "app.js"], &[]);
        let out = decide(&config, &unlimited(), &inputs(node_program()));
        assert!(out.env.is_empty(), "{out:?}");
        assert!(has_reason(&out, "memory limit is unlimited"));
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
        assert_eq!(value(&out, "PYTHON_CPU_COUNT"), Some("1"));
        assert_eq!(value(&out, CPUS), None);
        assert!(has_reason(&out, "the CPUs of the cpuset"));
        // With the host's CPU count unknown, only a CPU limit says the count is restricted.
        let unknown_host = Inputs {
            host_cpus: None,
            ..inputs(Program::Other)
        };
        let out = decide(&config(&["--", "x"], &[]), &pinned, &unknown_host);
        assert_eq!(value(&out, "PYTHON_CPU_COUNT"), None);
        let out = decide(&config(&["--", "x"], &[]), &limits(), &unknown_host);
        assert_eq!(value(&out, "PYTHON_CPU_COUNT"), Some("2"));
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
        assert!(has_reason(&out, "--runtime-env off"));
    }

    #[test]
    fn node_gets_a_size_only_where_its_own_would_be_wrong() {
        let config = config(&["--", "node", "server.js"], &[]);
        let node = |limits: &Limits, inputs: &Inputs| {
            decide(&config, limits, inputs)
                .env
                .into_iter()
                .find(|(n, _)| n == "NODE_OPTIONS")
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        // Seen, at 512 MiB or more: Node.js's own half.
        assert_eq!(node(&limits(), &inputs(node_program())), None);
        assert_eq!(
            node(&limits_at(OWN, 512 << 20, 1.5), &inputs(node_program())),
            None
        );
        // Seen, below 512 MiB: Node.js's own floor of 256 MiB is too much.
        assert_eq!(
            node(&limits_at(OWN, 256 << 20, 1.5), &inputs(node_program())).as_deref(),
            Some("--max-old-space-size=128")
        );
        // Not seen: a parent's limit, or a Node.js before 20 on cgroup v2.
        assert_eq!(
            node(&limits_at(PARENT, GIB, 1.5), &inputs(node_program())).as_deref(),
            Some("--max-old-space-size=512 --max-semi-space-size=4")
        );
        let old = Inputs {
            node_version: Some((18, 20)),
            ..inputs(node_program())
        };
        assert!(node(&limits(), &old).is_some());
        let v1 = Inputs {
            memory_v2: false,
            ..old
        };
        assert_eq!(node(&limits(), &v1), None);
    }

    #[test]
    fn node_options_are_appended_to_even_when_not_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let small = limits_at(OWN, 256 << 20, 1.5);
        let config = config(
            &["--", "node", "server.js"],
            &[("NODE_OPTIONS", "--enable-source-maps")],
        );
        let out = decide(&config, &small, &inputs(node_program()));
        assert_eq!(
            value(&out, "NODE_OPTIONS"),
            Some("--enable-source-maps --max-old-space-size=128")
        );
        let blank = self::config(&["--", "node", "server.js"], &[("NODE_OPTIONS", " ")]);
        let out = decide(&blank, &small, &inputs(node_program()));
        assert_eq!(
            value(&out, "NODE_OPTIONS"),
            Some("--max-old-space-size=128")
        );
        // A byte that is not UTF-8: the user's words stay as they are, and a size among them
        // is still the user's.
        let mut config = self::config(&["--", "node", "server.js"], &[]);
        let raw = b"--title=caf\xe9".to_vec();
        config.env = Environment::from_pairs([(
            OsString::from("NODE_OPTIONS"),
            OsString::from_vec(raw.clone()),
        )]);
        let out = decide(&config, &small, &inputs(node_program()));
        let (_, value) = out.env.iter().find(|(n, _)| n == "NODE_OPTIONS").unwrap();
        let mut expected = raw.clone();
        expected.extend_from_slice(b" --max-old-space-size=128");
        assert_eq!(value.as_bytes(), expected);
        let mut sized = raw;
        sized.extend_from_slice(b" --max-old-space-size=64");
        config.env =
            Environment::from_pairs([(OsString::from("NODE_OPTIONS"), OsString::from_vec(sized))]);
        let out = decide(&config, &small, &inputs(node_program()));
        assert!(out.env.iter().all(|(n, _)| n != "NODE_OPTIONS"), "{out:?}");
        assert!(has_reason(
            &out,
            "NODE_OPTIONS already has --max-old-space-size=64: kept"
        ));
    }

    #[test]
    fn a_node_heap_size_given_anywhere_wins() {
        let small = limits_at(OWN, 256 << 20, 1.5);
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
            let out = decide(&config, &small, &inputs(node_program()));
            assert_eq!(value(&out, "NODE_OPTIONS"), None, "{args:?} {env:?}");
            assert!(
                out.reasons
                    .iter()
                    .any(|r| r.ends_with(": kept") || r.ends_with("left alone"))
            );
        }
    }

    #[test]
    fn dotnet_gets_variables_only_for_a_limit_it_cannot_see() {
        let config = config(&["--", "dotnet", "app.dll"], &[]);
        let out = decide(&config, &limits(), &inputs(dotnet_program(None)));
        assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), None);
        assert_eq!(value(&out, "DOTNET_PROCESSOR_COUNT"), None);
        assert!(has_reason(
            &out,
            "DOTNET_GCHeapHardLimit not set: .NET reads"
        ));
        let out = decide(
            &config,
            &limits_at(PARENT, GIB, 1.5),
            &inputs(dotnet_program(None)),
        );
        assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), None);
        let overridden = overridden();
        let out = decide(&config, &overridden, &inputs(dotnet_program(None)));
        assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), Some("0x30000000"));
        assert_eq!(value(&out, "DOTNET_PROCESSOR_COUNT"), Some("2"));
        assert_eq!(value(&out, "NODE_OPTIONS"), None);
    }

    #[test]
    fn an_old_dotnet_does_not_see_a_parents_memory_limit() {
        let config = config(&["--", "dotnet", "app.dll"], &[]);
        let with = |framework| Program::Dotnet {
            how: "COMMAND is dotnet".to_string(),
            heap_setting: None,
            framework,
        };
        let parent = limits_at(PARENT, GIB, 1.5);
        let out = decide(&config, &parent, &inputs(with(Some(8))));
        assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), Some("0x30000000"));
        assert!(has_reason(&out, ".NET 8 reads only its own"));
        for framework in [Some(9), Some(10), None] {
            let out = decide(&config, &parent, &inputs(with(framework)));
            assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), None, "{framework:?}");
        }
        let out = decide(&config, &limits(), &inputs(with(Some(8))));
        assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), None);
        assert_eq!(
            runtimeconfig_framework_major(
                r#"{"runtimeOptions": {"tfm": "net8.0", "framework": {"name": "Microsoft.NETCore.App", "version": "8.0.0"}}}"#
            ),
            Some(8)
        );
        assert_eq!(
            runtimeconfig_framework_major(
                r#"{"runtimeOptions": {"frameworks": [{"name": "Microsoft.AspNetCore.App", "version": "10.0.1"}]}}"#
            ),
            Some(10)
        );
        assert_eq!(
            runtimeconfig_framework_major(r#"{"runtimeOptions": {}}"#),
            None
        );
        assert_eq!(runtimeconfig_framework_major("junk"), None);
    }

    /// 1 GiB and 1.5 CPUs given to jwrap.
    fn overridden() -> Limits {
        let setting = |name: &str, text: &str| Source::Setting {
            name: name.to_string(),
            text: text.to_string(),
        };
        Limits {
            memory: Limit::Set {
                value: GIB,
                source: setting("--memory-limit", "1g"),
            },
            cpu: Limit::Set {
                value: 1.5,
                source: setting("--cpus", "1.5"),
            },
            effective_cpus: 2,
        }
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
            let out = decide(&config, &overridden(), &inputs(dotnet_program(None)));
            assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), None, "{env:?}");
            assert_eq!(value(&out, "DOTNET_PROCESSOR_COUNT"), Some("2"));
        }
        let config = config(
            &["--", "dotnet", "app.dll"],
            &[("COMPlus_PROCESSOR_COUNT", "4")],
        );
        let setting = "System.GC.HeapHardLimitPercent in app.runtimeconfig.json";
        let out = decide(
            &config,
            &overridden(),
            &inputs(dotnet_program(Some(setting))),
        );
        assert_eq!(value(&out, "DOTNET_GCHeapHardLimit"), None);
        assert_eq!(value(&out, "DOTNET_PROCESSOR_COUNT"), None);
        assert!(has_reason(&out, setting));
    }

    #[test]
    fn the_scripts_pair_replaces_an_inherited_value_and_skips_an_equal_one() {
        let config = config(&["--", "x"], &[(MEMORY_LIMIT_BYTES, "1"), (CPUS, "1.5")]);
        let out = decide(&config, &limits(), &inputs(Program::Other));
        assert_eq!(value(&out, MEMORY_LIMIT_BYTES), Some("1073741824"));
        assert_eq!(value(&out, CPUS), None);
        assert!(has_reason(&out, "scripts: JWRAP_CPUS=1.5"));
    }

    #[test]
    fn formats() {
        assert_eq!(go_memory_limit(512 * MIB), "460MiB");
        assert_eq!(go_memory_limit(GIB), "921MiB");
        assert_eq!(go_memory_limit(MIB), "943718B");
        assert_eq!(node_old_space_mib(512 * MIB), 256);
        assert_eq!(node_old_space_mib(1000), 1);
        assert_eq!(node_semi_space_mib(64), 1);
        assert_eq!(node_semi_space_mib(512), 4);
        assert_eq!(node_semi_space_mib(8192), 16);
        assert_eq!(parse_node_version("20.11.1"), Some((20, 11)));
        assert_eq!(parse_node_version("v22.21.0"), Some((22, 21)));
        assert_eq!(parse_node_version("24"), Some((24, 0)));
        assert_eq!(parse_node_version("lts"), None);
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
            Program::Dotnet {
                how, heap_setting, ..
            } => {
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
