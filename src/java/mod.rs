//! Java: find the JDK COMMAND will run, learn what it can see and accept, and decide its flags.
//!
//! * `discover` finds the JDK and its version (the only part that touches files or runs
//!   anything: the JDK's `release` file, `java -version` as a fallback);
//! * `version` parses versions and knows what each one supports;
//! * `userflags` finds the user's own settings in every place the JVM reads them;
//! * `budget` splits the memory limit into heap and the rest;
//! * `decide` turns all of that into flags and reasons, purely.
//!
//! `inspect` gathers the inputs (the I/O), `plan` calls `decide` and delivers the flags.

pub mod budget;
pub mod decide;
pub mod discover;
pub mod hsperf;
pub mod ranwith;
pub mod userflags;
pub mod version;

use crate::cgroup::Detection;
use crate::config::Config;
use decide::{CgroupFacts, Decision};
use discover::{FoundBy, Jdk, VersionSource};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use std::path::Path;
use userflags::{FileRead, Hidden, LAUNCHER_VARIABLES, Sources, UserSettings};

/// Everything the Java decision needs that had to be read from the system.
#[derive(Debug, Clone, PartialEq)]
pub struct JavaInputs {
    pub jdk: Jdk,
    /// COMMAND's program is `java` (flags can go on its command line).
    pub command_is_java: bool,
    pub user: UserSettings,
    pub cgroup: CgroupFacts,
}

/// Find the JDK for the configured COMMAND and the user's settings for it. `None` when there is
/// no COMMAND, or no JDK to be found for it.
/// The JDK that COMMAND runs or may start, if there is one.
#[must_use]
pub fn find_jdk(config: &Config) -> Option<Jdk> {
    let flags_on = config.java_flags != crate::config::JavaFlagsMode::Off;
    discover::find(&config.command, &config.env, flags_on)
}

/// Everything the JVM decision needs about `jdk`, the user's settings and the cgroups.
#[must_use]
pub fn inspect(config: &Config, jdk: Jdk, detection: &Detection) -> JavaInputs {
    let command_is_java = discover::program_is_java(&config.command);
    // A command line is only known to be the JVM's when COMMAND is java, or when the user
    // asked for flags on it (`--java-flags args` on a script that passes "$@" to java).
    let command_line = (command_is_java || config.java_flags == crate::config::JavaFlagsMode::Args)
        .then(|| config.command.get(1..).unwrap_or_default());
    let launcher_options = jdk.facts.has_launcher_options();
    // A byte that is not UTF-8 does not unset a variable: the JVM still reads the rest of it.
    let text = |name: &str| {
        config
            .env
            .get(name)
            .map(|value| value.to_string_lossy().into_owned())
    };
    let (tool_options, jdk_options, java_options) = (
        text("JAVA_TOOL_OPTIONS"),
        text("JDK_JAVA_OPTIONS").filter(|_| launcher_options),
        text("_JAVA_OPTIONS"),
    );
    // A start script puts its variables on java's command line; `java` itself never reads them.
    let launcher: Vec<(&'static str, String)> = if command_is_java {
        Vec::new()
    } else {
        LAUNCHER_VARIABLES
            .iter()
            .filter_map(|(name, _)| Some((*name, text(name)?)))
            .collect()
    };
    let sources = Sources {
        java_tool_options: tool_options.as_deref(),
        jdk_java_options: jdk_options.as_deref(),
        command_line,
        launcher: &launcher,
        java_options: java_options.as_deref(),
        argfiles: launcher_options,
    };
    let mut user = userflags::scan(&sources, &read_option_file);
    if !command_is_java {
        let program = config
            .command
            .first()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        user.hidden.insert(0, Hidden::Launcher(program));
    }
    JavaInputs {
        jdk,
        command_is_java,
        user,
        cgroup: CgroupFacts::from_detection(detection),
    }
}

/// An `@argfile` or `-XX:VMOptionsFile` file, if it is a regular file (`root::read_bytes`): a
/// pipe, FIFO or device is left unread for java, which reads it once (`@/dev/stdin`, `@<(…)`).
fn read_option_file(path: &Path) -> FileRead {
    match crate::root::read_bytes(path) {
        Ok(bytes) => FileRead::Text(String::from_utf8_lossy(&bytes).into_owned()),
        Err(crate::root::ReadError::NotRegular(kind)) => FileRead::NotAFile(kind),
        Err(err) => FileRead::Failed(err.to_string()),
    }
}

/// One line naming the JDK, its version and where the version came from.
#[must_use]
pub fn describe_jdk(jdk: &Jdk) -> String {
    let version = match &jdk.facts.version {
        Some(v) => format!("version {v}"),
        None => "version unknown".to_string(),
    };
    let vendor = jdk
        .vendor
        .as_deref()
        .map(|v| format!(" ({v})"))
        .unwrap_or_default();
    let source = match &jdk.version_source {
        VersionSource::ReleaseFile(path) => format!("from {}", path.display()),
        VersionSource::JavaVersion => "from `java -version`".to_string(),
        VersionSource::Unknown(why) => why.clone(),
    };
    format!(
        "JDK {}{vendor}, {version} {source}; its java: {}",
        jdk.home.display(),
        jdk.how
    )
}

/// The `java` object of `jwrap info --json`: what jwrap knows of the JDK and why it decided.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub path: String,
    pub resolved: String,
    pub home: String,
    pub found_by: &'static str,
    pub found: String,
    pub version: Option<String>,
    pub feature: Option<u32>,
    pub runtime_version: Option<String>,
    pub vendor: Option<String>,
    pub version_source: String,
    pub container_support: &'static str,
    pub blind: bool,
    pub why: String,
    pub sees_memory_bytes: Option<u64>,
    pub sees_cpus: Option<u32>,
    pub sees_cpus_why: Option<String>,
    pub heap_budget: Option<BudgetSummary>,
    pub user_settings: Vec<String>,
    pub unseen_options: Vec<String>,
    pub collectors: Vec<&'static str>,
    pub users_heap_mib: Option<u64>,
    pub delivery: String,
}

/// The heap budget in `info --json`: each region by its key, in the budget's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetSummary {
    pub limit_mib: u64,
    pub heap_mib: u64,
    pub regions: Regions,
    pub arithmetic: String,
}

/// Region keys and sizes in MiB, serialised as one JSON object in this order.
#[derive(Debug, Clone, PartialEq)]
pub struct Regions(pub Vec<(&'static str, u64)>);

impl Serialize for Regions {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, mib) in &self.0 {
            map.serialize_entry(key, mib)?;
        }
        map.end()
    }
}

/// The `java` object of `jwrap info --json`.
#[must_use]
pub fn summary(inputs: &JavaInputs, decision: &Decision, delivery: &str) -> Summary {
    let jdk = &inputs.jdk;
    let version = jdk.facts.version.as_ref();
    let view = decision.sight.views.first();
    let heap_budget = decision.budget.as_ref().map(|b| BudgetSummary {
        limit_mib: b.limit_mib,
        heap_mib: b.heap_mib,
        regions: Regions(b.regions.iter().map(|r| (r.region.key(), r.mib)).collect()),
        arithmetic: b.to_string(),
    });
    Summary {
        path: jdk.java.to_string_lossy().into_owned(),
        resolved: jdk.resolved.to_string_lossy().into_owned(),
        home: jdk.home.to_string_lossy().into_owned(),
        found_by: match jdk.found_by {
            FoundBy::Command => "command",
            FoundBy::JavaHome => "JAVA_HOME",
            FoundBy::Path => "PATH",
        },
        found: jdk.how.clone(),
        version: version.map(|v| v.text.clone()),
        feature: version.map(|v| v.feature),
        runtime_version: jdk.runtime_version.clone(),
        vendor: jdk.vendor.clone(),
        version_source: match &jdk.version_source {
            VersionSource::ReleaseFile(path) => path.to_string_lossy().into_owned(),
            VersionSource::JavaVersion => "java -version".to_string(),
            VersionSource::Unknown(why) => format!("unknown: {why}"),
        },
        container_support: jdk.facts.container_support().describe(),
        blind: decision.sight.blind,
        why: decision.sight.why.clone(),
        sees_memory_bytes: view.and_then(|v| v.memory),
        sees_cpus: view.and_then(|v| v.cpus),
        sees_cpus_why: view.map(|v| v.cpus_why.clone()),
        heap_budget,
        user_settings: inputs
            .user
            .settings
            .iter()
            .map(ToString::to_string)
            .collect(),
        unseen_options: inputs.user.hidden.iter().map(ToString::to_string).collect(),
        collectors: decision.collectors.iter().map(|c| c.name()).collect(),
        users_heap_mib: decision.users_heap.as_ref().map(|(mib, _)| *mib),
        delivery: delivery.to_string(),
    }
}
