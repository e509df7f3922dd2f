//! What was detected, as values that carry their provenance.
//!
//! A limit is set (with the file or option it came from), unlimited, or unknown (with the reason).
//! There are no sentinels: `-1`, `max` and "as large as the host" all become `Unlimited`, and a
//! file that could not be read or understood becomes `Unknown`, never a number.

use serde::Serialize;
use std::fmt;

/// Where a number came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A file, by its path as the process sees it, and the text it held (trimmed).
    File { path: String, text: String },
    /// A command-line option (`--memory-limit`) or its variable (`JWRAP_MEMORY_LIMIT`).
    Setting { name: String, text: String },
}

impl Source {
    pub fn file(path: impl Into<String>, text: &str) -> Source {
        Source::File {
            path: path.into(),
            text: text.trim().to_string(),
        }
    }

    /// The file path or the option name: what `info` prints and `source` in JSON holds.
    #[must_use]
    pub fn origin(&self) -> &str {
        match self {
            Source::File { path, .. } => path,
            Source::Setting { name, .. } => name,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.origin())
    }
}

/// One limit, or the absence of one, or why it is not known.
#[derive(Debug, Clone, PartialEq)]
pub enum Limit<T> {
    Set {
        value: T,
        source: Source,
    },
    /// No limit applies. `source` is the file that said so (`max`, `-1`, a value at or above the
    /// host's memory), when there was one.
    Unlimited {
        source: Option<Source>,
    },
    Unknown {
        reason: String,
    },
}

impl<T: Clone> Limit<T> {
    pub fn value(&self) -> Option<T> {
        match self {
            Limit::Set { value, .. } => Some(value.clone()),
            _ => None,
        }
    }

    pub fn source(&self) -> Option<&Source> {
        match self {
            Limit::Set { source, .. } => Some(source),
            Limit::Unlimited { source } => source.as_ref(),
            Limit::Unknown { .. } => None,
        }
    }

    pub fn state(&self) -> &'static str {
        match self {
            Limit::Set { .. } => "set",
            Limit::Unlimited { .. } => "unlimited",
            Limit::Unknown { .. } => "unknown",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Limit::Unknown { reason } => Some(reason),
            _ => None,
        }
    }
}

/// A set of CPUs, as the kernel lists it (`0-3,6`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList {
    pub list: String,
    pub count: u32,
}

/// The host, as seen through the root: the ceiling every limit is compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub memory: Limit<u64>,
    pub cpus: Limit<u32>,
}

/// The limits the rest of jwrap works with, after the user's overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub memory: Limit<u64>,
    /// CPU quota ÷ period, as CPUs.
    pub cpu: Limit<f64>,
    /// The CPUs a runtime should plan for: the smallest of the host's CPUs, the cpuset and
    /// ⌈cpu⌉; at least 1.
    pub effective_cpus: u32,
}

/// The memory to size for: v2 `memory.high` when it is set and lower than `memory.max` (above
/// it the kernel throttles the cgroup hard and reclaims; Kubernetes' Memory `QoS` sets it below
/// the limit), else the limit itself.
#[must_use]
pub fn lower_of_max_and_high(max: &Limit<u64>, high: Option<&Limit<u64>>) -> Limit<u64> {
    match (max, high) {
        (
            Limit::Set { value, .. },
            Some(
                high @ Limit::Set {
                    value: high_value, ..
                },
            ),
        ) if high_value < value => high.clone(),
        (Limit::Set { .. }, _) => max.clone(),
        (_, Some(high @ Limit::Set { .. })) => high.clone(),
        _ => max.clone(),
    }
}

/// ⌈quota⌉, the cpuset and the host, whichever is smallest; at least one CPU.
#[must_use]
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the ceiling is checked against u32::MAX first, and CPU counts are positive"
)]
pub fn effective_cpus(host: Option<u32>, cpuset: Option<u32>, quota: Option<f64>) -> u32 {
    let quota_cpus = quota.map(|cpus| {
        let ceiling = cpus.ceil();
        if ceiling >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            ceiling as u32
        }
    });
    [host, cpuset, quota_cpus]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(1)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_cpus_takes_the_smallest() {
        assert_eq!(effective_cpus(Some(8), Some(4), Some(1.5)), 2);
        assert_eq!(effective_cpus(Some(8), Some(2), Some(3.0)), 2);
        assert_eq!(effective_cpus(Some(2), None, Some(16.0)), 2);
        assert_eq!(effective_cpus(Some(8), None, Some(0.1)), 1);
        assert_eq!(effective_cpus(None, None, None), 1);
        assert_eq!(effective_cpus(Some(4), None, None), 4);
    }
}
