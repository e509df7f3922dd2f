//! `jwrap info`: what was detected, where each number came from, and what would be done.
//! A table for people, JSON for tools (the keys are the contract: doc/contract.md).

use crate::cgroup::Detection;
use crate::cgroup::layout::{Mode, Placement};
use crate::java::Summary;
use crate::limits::{CpuList, Limit, Limits, Source};
use crate::plan::{Plan, Reason};
use crate::units::{human_bytes, human_cpus};
use serde::Serialize;
use serde_json::Value;
use std::path::Path;

/// Everything `info` shows.
pub struct Report<'a> {
    pub root: &'a Path,
    pub detection: &'a Detection,
    pub limits: &'a Limits,
    /// Present when `info` was given a command.
    pub plan: Option<&'a Plan>,
    /// The Java facts (`null` in JSON when there is no Java command).
    pub java: Option<&'a Summary>,
}

/// `info --json`: the keys and their meaning are the contract (doc/contract.md, "info --json").
#[derive(Serialize)]
pub struct Json<'a> {
    root: String,
    cgroup: CgroupJson<'a>,
    memory: MemoryJson<'a>,
    cpu: CpuJson<'a>,
    host: HostJson<'a>,
    java: Option<&'a Summary>,
    jvm_flags: &'a [String],
    command: Option<CommandJson<'a>>,
    warnings: &'a [String],
}

#[derive(Serialize)]
struct CgroupJson<'a> {
    version: Option<u8>,
    mode: Mode,
    memory_dir: Option<&'a str>,
    cpu_dir: Option<&'a str>,
    cpuset_dir: Option<&'a str>,
}

#[derive(Serialize)]
struct MemoryJson<'a> {
    limit_bytes: Option<u64>,
    source: Option<&'a str>,
    state: &'static str,
    reason: Option<&'a str>,
    detected_bytes: Option<u64>,
    detected_source: Option<&'a str>,
    max_bytes: Option<u64>,
    max_source: Option<&'a str>,
    high_bytes: Option<u64>,
    high_source: Option<&'a str>,
    soft_limit_bytes: Option<u64>,
    swap_limit_bytes: Option<u64>,
    usage_bytes: Option<u64>,
    peak_bytes: Option<u64>,
}

#[derive(Serialize)]
struct CpuJson<'a> {
    limit: Option<f64>,
    source: Option<&'a str>,
    state: &'static str,
    reason: Option<&'a str>,
    effective: u32,
    cpuset: Option<&'a str>,
    cpuset_cpus: Option<u32>,
    cpuset_source: Option<&'a str>,
    weight: Option<u64>,
    weight_source: Option<&'a str>,
}

#[derive(Serialize)]
struct HostJson<'a> {
    memory_bytes: Option<u64>,
    memory_source: Option<&'a str>,
    cpus: Option<u32>,
    cpus_source: Option<&'a str>,
}

#[derive(Serialize)]
struct CommandJson<'a> {
    argv: Vec<String>,
    env: Vec<EnvJson>,
    reasons: &'a [Reason],
}

#[derive(Serialize)]
struct EnvJson {
    name: String,
    value: String,
}

fn origin(source: Option<&Source>) -> Option<&str> {
    source.map(Source::origin)
}

fn bytes(limit: Option<&Limit<u64>>) -> Option<u64> {
    limit.and_then(Limit::value)
}

fn dir_of(placement: Option<&Placement>) -> Option<&str> {
    placement.map(|p| p.dir.as_str())
}

fn cpu_list(limit: &Limit<CpuList>) -> Option<&CpuList> {
    match limit {
        Limit::Set { value, .. } => Some(value),
        _ => None,
    }
}

impl Report<'_> {
    #[must_use]
    pub fn json(&self) -> Json<'_> {
        let d = self.detection;
        let l = self.limits;
        let command = self.plan.map(|plan| CommandJson {
            argv: plan
                .argv
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            env: plan
                .env
                .iter()
                .map(|(name, value)| EnvJson {
                    name: name.to_string_lossy().into_owned(),
                    value: value.to_string_lossy().into_owned(),
                })
                .collect(),
            reasons: &plan.reasons,
        });
        Json {
            root: self.root.to_string_lossy().into_owned(),
            cgroup: CgroupJson {
                version: d.layout.mode.version(),
                mode: d.layout.mode,
                memory_dir: dir_of(d.layout.memory.as_ref()),
                cpu_dir: dir_of(d.layout.cpu.as_ref()),
                cpuset_dir: dir_of(d.layout.cpuset.as_ref()),
            },
            memory: MemoryJson {
                limit_bytes: l.memory.value(),
                source: origin(l.memory.source()),
                state: l.memory.state(),
                reason: l.memory.reason(),
                detected_bytes: d.memory.value(),
                detected_source: origin(d.memory.source()),
                max_bytes: d.memory.value(),
                max_source: origin(d.memory.source()),
                high_bytes: bytes(d.memory_high.as_ref()),
                high_source: origin(d.memory_high.as_ref().and_then(Limit::source)),
                soft_limit_bytes: bytes(d.memory_soft_limit.as_ref()),
                swap_limit_bytes: bytes(d.swap.as_ref()),
                usage_bytes: d.memory_usage.as_ref().map(|r| r.value),
                peak_bytes: d.memory_peak.as_ref().map(|r| r.value),
            },
            cpu: CpuJson {
                limit: l.cpu.value(),
                source: origin(l.cpu.source()),
                state: l.cpu.state(),
                reason: l.cpu.reason(),
                effective: l.effective_cpus,
                cpuset: cpu_list(&d.cpuset).map(|set| set.list.as_str()),
                cpuset_cpus: cpu_list(&d.cpuset).map(|set| set.count),
                cpuset_source: origin(d.cpuset.source()),
                weight: d.cpu_weight.as_ref().map(|r| r.value),
                weight_source: origin(d.cpu_weight.as_ref().map(|r| &r.source)),
            },
            host: HostJson {
                memory_bytes: d.host.memory.value(),
                memory_source: origin(d.host.memory.source()),
                cpus: d.host.cpus.value(),
                cpus_source: origin(d.host.cpus.source()),
            },
            java: self.java,
            jvm_flags: self.plan.map_or(&[], |p| p.jvm_flags.as_slice()),
            command,
            warnings: &d.warnings,
        }
    }

    #[must_use]
    pub fn table(&self) -> String {
        let d = self.detection;
        let l = self.limits;
        let mut rows: Vec<Row> = Vec::new();
        let cgroup = match d.layout.mode {
            Mode::None => "none found: no cgroup hierarchy in /proc/self/mountinfo".to_string(),
            Mode::V1 => "v1".to_string(),
            Mode::V2 => "v2".to_string(),
            Mode::Hybrid => "v1 (hybrid: v1 controllers, cgroup2 also mounted)".to_string(),
        };
        rows.push(Row::new(
            "cgroup",
            cgroup,
            "/proc/self/mountinfo, /proc/self/cgroup",
        ));
        for (name, placement) in [
            ("  memory dir", &d.layout.memory),
            ("  cpu dir", &d.layout.cpu),
            ("  cpuset dir", &d.layout.cpuset),
        ] {
            if let Some(p) = placement {
                rows.push(Row::new(name, p.dir.clone(), ""));
            }
        }
        rows.push(limit_row("memory limit", &l.memory, |b| human_bytes(*b)));
        if d.memory_high.is_some() {
            rows.push(limit_row("  memory.max", &d.memory, |b| human_bytes(*b)));
        }
        for (name, limit) in [
            ("  memory.high", &d.memory_high),
            ("  soft limit", &d.memory_soft_limit),
            ("  swap limit", &d.swap),
        ] {
            if let Some(limit) = limit {
                rows.push(limit_row(name, limit, |b| human_bytes(*b)));
            }
        }
        for (name, reading) in [("  usage", &d.memory_usage), ("  peak", &d.memory_peak)] {
            if let Some(r) = reading {
                rows.push(Row::new(name, human_bytes(r.value), r.source.origin()));
            }
        }
        rows.push(limit_row("cpu limit", &l.cpu, |cpus| {
            format!("{} CPUs", human_cpus(*cpus))
        }));
        rows.push(limit_row("cpuset", &d.cpuset, |set| {
            format!("{} ({} CPUs)", set.list, set.count)
        }));
        if let Some(weight) = &d.cpu_weight {
            rows.push(Row::new(
                "cpu weight",
                format!("{} (shares and weights are not limits)", weight.value),
                weight.source.origin(),
            ));
        }
        rows.push(Row::new(
            "effective cpus",
            l.effective_cpus.to_string(),
            "smallest of host CPUs, cpuset and the rounded-up cpu limit",
        ));
        rows.push(limit_row("host memory", &d.host.memory, |b| {
            human_bytes(*b)
        }));
        rows.push(limit_row(
            "host cpus",
            &d.host.cpus,
            std::string::ToString::to_string,
        ));
        if let Some(plan) = self.plan {
            rows.extend(plan_rows(plan, self.java));
        }
        let mut out = render(&rows);
        for warning in &d.warnings {
            out.push_str("warning: ");
            out.push_str(warning);
            out.push('\n');
        }
        out
    }
}

fn plan_rows(plan: &Plan, java: Option<&Summary>) -> Vec<Row> {
    let mut rows = Vec::new();
    // The table lists the same fields as the JSON, in the same order.
    let java = java.and_then(|summary| serde_json::to_value(summary).ok());
    if let Some(fields) = java.as_ref().and_then(Value::as_object) {
        for (key, value) in fields {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null => "-".to_string(),
                Value::Array(items) if items.is_empty() => "(none)".to_string(),
                Value::Array(items) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map_or_else(|| item.to_string(), str::to_string)
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                // Nested details (the heap budget) are in the reasons below, in words.
                Value::Object(_) => continue,
                other => other.to_string(),
            };
            rows.push(Row::new(&format!("java {key}"), text, ""));
        }
    }
    let flags = if plan.jvm_flags.is_empty() {
        "(none)".to_string()
    } else {
        plan.jvm_flags.join(" ")
    };
    rows.push(Row::new("jvm flags", flags, ""));
    for reason in &plan.reasons {
        rows.push(Row::new("  why", reason.to_string(), ""));
    }
    let argv: Vec<String> = plan
        .argv
        .iter()
        .map(|a| shell_word(&a.to_string_lossy()))
        .collect();
    rows.push(Row::new("command", argv.join(" "), ""));
    for (name, value) in &plan.env {
        rows.push(Row::new(
            "  env",
            format!("{}={}", name.to_string_lossy(), value.to_string_lossy()),
            "",
        ));
    }
    rows
}

/// A word as a shell would need it quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_=./:@%+,".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[derive(Serialize)]
struct Row {
    name: String,
    value: String,
    source: String,
}

impl Row {
    fn new(name: &str, value: String, source: &str) -> Row {
        Row {
            name: name.to_string(),
            value,
            source: source.to_string(),
        }
    }
}

fn limit_row<T: Clone>(name: &str, limit: &Limit<T>, show: impl Fn(&T) -> String) -> Row {
    match limit {
        Limit::Set { value, source } => Row::new(name, show(value), &source_detail(source)),
        Limit::Unlimited { source } => Row::new(
            name,
            "unlimited".to_string(),
            &source.as_ref().map(source_detail).unwrap_or_default(),
        ),
        Limit::Unknown { reason } => Row::new(name, "unknown".to_string(), reason),
    }
}

/// `/sys/fs/cgroup/memory.max = 536870912`, or `--memory-limit 512m`.
fn source_detail(source: &Source) -> String {
    match source {
        Source::File { path, text } => format!("{path} = {text}"),
        Source::Setting { name, text } => format!("{name} {text}"),
    }
}

fn render(rows: &[Row]) -> String {
    let name_width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    let value_width = rows
        .iter()
        .filter(|r| !r.source.is_empty())
        .map(|r| r.value.chars().count())
        .max()
        .unwrap_or(0)
        .min(40);
    let mut out = String::new();
    for row in rows {
        let line = if row.source.is_empty() {
            format!("{:name_width$}  {}", row.name, row.value)
        } else {
            format!(
                "{:name_width$}  {:value_width$}  {}",
                row.name, row.value, row.source
            )
        };
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("-Xmx512m"), "-Xmx512m");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn rows_align() {
        let rows = [
            Row::new("a", "1".to_string(), "x"),
            Row::new("longer", "22".to_string(), "y"),
        ];
        assert_eq!(render(&rows), "a       1   x\nlonger  22  y\n");
    }
}
