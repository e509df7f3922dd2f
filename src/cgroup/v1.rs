//! cgroup v1 files: one hierarchy per controller (or per group of co-mounted controllers).

use super::layout::Placement;
use super::parse;
use super::{Level, Reader, Reading, byte_limit, bytes_level, garbage, tightest};
use crate::limits::{CpuList, Limit, Source};
use crate::root::ReadError;

const MEMORY_LIMIT: &str = "memory.limit_in_bytes";
const MEMORY_STAT: &str = "memory.stat";
const HIERARCHICAL_MEMORY_LIMIT: &str = "hierarchical_memory_limit";
const MEMORY_SOFT_LIMIT: &str = "memory.soft_limit_in_bytes";
const MEMSW_LIMIT: &str = "memory.memsw.limit_in_bytes";
const MEMORY_USAGE: &str = "memory.usage_in_bytes";
const MEMORY_MAX_USAGE: &str = "memory.max_usage_in_bytes";
const CFS_QUOTA: &str = "cpu.cfs_quota_us";
const CFS_PERIOD: &str = "cpu.cfs_period_us";
const CPU_SHARES: &str = "cpu.shares";
const CPUSET_EFFECTIVE: &str = "cpuset.effective_cpus";
const CPUSET_CPUS: &str = "cpuset.cpus";

/// The process's own `memory.limit_in_bytes`, `hierarchical_memory_limit` from its
/// `memory.stat` (which sees limits above the mount root, too), and each parent's limit up to
/// the mount point; the tightest wins.
pub(super) fn memory(
    reader: &mut Reader<'_>,
    placement: &Placement,
    host: Option<u64>,
) -> Limit<u64> {
    let mut levels = Vec::new();
    for (index, dir) in placement.levels().iter().enumerate() {
        let path = format!("{dir}/{MEMORY_LIMIT}");
        levels.push(match reader.read(&path) {
            Ok(text) => byte_limit(&path, &text, host),
            Err(ReadError::Missing) if index > 0 => Level::Absent,
            Err(err) => Level::Bad(format!("{path}: {err}")),
        });
    }
    let stat_path = format!("{}/{MEMORY_STAT}", placement.dir);
    if let Ok(text) = reader.read(&stat_path) {
        if let Some(bytes) = parse::keyed_u64(&text, HIERARCHICAL_MEMORY_LIMIT) {
            let source = Source::file(
                stat_path.as_str(),
                &format!("{HIERARCHICAL_MEMORY_LIMIT} {bytes}"),
            );
            levels.push(bytes_level(bytes, source, host));
        }
    }
    tightest(reader, levels)
}

pub(super) struct MemoryExtras {
    pub high: Option<Limit<u64>>,
    pub swap: Option<Limit<u64>>,
    pub usage: Option<Reading>,
    pub peak: Option<Reading>,
}

pub(super) fn memory_extras(
    reader: &mut Reader<'_>,
    placement: &Placement,
    host: Option<u64>,
) -> MemoryExtras {
    let dir = &placement.dir;
    MemoryExtras {
        high: reader.optional_limit(&format!("{dir}/{MEMORY_SOFT_LIMIT}"), host),
        swap: reader.optional_limit(&format!("{dir}/{MEMSW_LIMIT}"), host),
        usage: reader.optional_number(&format!("{dir}/{MEMORY_USAGE}")),
        peak: reader.optional_number(&format!("{dir}/{MEMORY_MAX_USAGE}")),
    }
}

/// `cpu.cfs_quota_us` ÷ `cpu.cfs_period_us` here and in each parent; the fewest CPUs win.
pub(super) fn cpu(reader: &mut Reader<'_>, placement: &Placement) -> Limit<f64> {
    let mut levels = Vec::new();
    for (index, dir) in placement.levels().iter().enumerate() {
        let quota_path = format!("{dir}/{CFS_QUOTA}");
        let period_path = format!("{dir}/{CFS_PERIOD}");
        // A quota of -1 is no limit whatever the period says, so the period is read only for
        // a quota that counts (one file less at each level of an unlimited host or container).
        let level = match reader.read(&quota_path) {
            Ok(quota) if parse::single_i64(&quota) == Some(-1) => {
                Level::NoLimit(Source::file(quota_path.as_str(), &quota))
            }
            Ok(quota) => match reader.read(&period_path) {
                Ok(period) => match parse::cfs_quota(&quota, &period) {
                    Some(Some(q)) => Level::Limit(
                        q.cpus(),
                        Source::file(
                            quota_path.as_str(),
                            &format!("{} / {}", q.quota_us, q.period_us),
                        ),
                    ),
                    Some(None) => Level::NoLimit(Source::file(quota_path.as_str(), &quota)),
                    None if parse::single_i64(&quota).is_none() => {
                        Level::Bad(garbage(&quota_path, &quota))
                    }
                    None => Level::Bad(garbage(&period_path, &period)),
                },
                Err(ReadError::Missing) if index > 0 => Level::Absent,
                Err(err) => Level::Bad(format!("{period_path}: {err}")),
            },
            Err(ReadError::Missing) if index > 0 => Level::Absent,
            Err(err) => Level::Bad(format!("{quota_path}: {err}")),
        };
        levels.push(level);
    }
    tightest(reader, levels)
}

pub(super) fn cpu_shares(reader: &mut Reader<'_>, placement: &Placement) -> Option<Reading> {
    reader.optional_number(&format!("{}/{CPU_SHARES}", placement.dir))
}

/// `cpuset.effective_cpus` (kernels that have it), else `cpuset.cpus`. A child's set is always
/// inside its parent's, so the process's own directory is enough.
pub(super) fn cpuset(reader: &mut Reader<'_>, placement: &Placement) -> Limit<CpuList> {
    let effective = format!("{}/{CPUSET_EFFECTIVE}", placement.dir);
    let configured = format!("{}/{CPUSET_CPUS}", placement.dir);
    let (path, text) = match reader.read(&effective) {
        Ok(text) => (effective, text),
        Err(_) => match reader.read(&configured) {
            Ok(text) => (configured, text),
            Err(err) => {
                let reason = format!("{configured}: {err}");
                reader.warn(reason.clone());
                return Limit::Unknown { reason };
            }
        },
    };
    cpu_list(reader, &path, &text)
}

/// A cpuset list file's text. An empty set (a v1 cpuset nobody configured) restricts nothing.
pub(super) fn cpu_list(reader: &mut Reader<'_>, path: &str, text: &str) -> Limit<CpuList> {
    match parse::cpu_list_count(text) {
        Some(0) => Limit::Unlimited {
            source: Some(Source::file(path, text)),
        },
        Some(count) => Limit::Set {
            value: CpuList {
                list: text.trim().to_string(),
                count,
            },
            source: Source::file(path, text),
        },
        None => {
            let reason = garbage(path, text);
            reader.warn(reason.clone());
            Limit::Unknown { reason }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cgroup::{Detail, detect};
    use crate::limits::Limit;
    use crate::root::Root;

    use crate::cgroup::write_test_file as write;

    /// A v1 host whose cpu hierarchy holds only `cpu.cfs_quota_us` with `quota`.
    fn cpu_with_quota_only(quota: &str) -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(
            root,
            "proc/self/mountinfo",
            "30 23 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n",
        );
        write(root, "proc/self/cgroup", "3:cpu:/\n");
        write(root, "proc/meminfo", "MemTotal: 16000000 kB\n");
        write(root, "sys/fs/cgroup/cpu/cpu.cfs_quota_us", quota);
        let root = Root::new(dir.path());
        (dir, root)
    }

    #[test]
    fn a_quota_of_minus_one_needs_no_period() {
        let (_dir, root) = cpu_with_quota_only("-1\n");
        let detection = detect(
            &root,
            Detail::Limits {
                cpu_shares: false,
                jdk_view: false,
            },
        );
        assert!(matches!(
            detection.cpu,
            Limit::Unlimited { source: Some(_) }
        ));
        assert!(
            !detection
                .warnings
                .iter()
                .any(|w| w.contains("cfs_period_us")),
            "{:?}",
            detection.warnings
        );
    }

    #[test]
    fn a_real_quota_without_its_period_is_unknown() {
        let (_dir, root) = cpu_with_quota_only("50000\n");
        let detection = detect(
            &root,
            Detail::Limits {
                cpu_shares: false,
                jdk_view: false,
            },
        );
        assert!(matches!(detection.cpu, Limit::Unknown { .. }));
        assert!(
            detection
                .warnings
                .iter()
                .any(|w| w.contains("cpu.cfs_period_us"))
        );
    }
}
