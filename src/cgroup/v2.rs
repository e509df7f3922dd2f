//! cgroup v2 files: one unified hierarchy.
//!
//! A limit set on any parent applies to every cgroup below it (a Kubernetes pod's cgroup, a
//! systemd slice), so each file is read at the process's directory and at every parent up to
//! the mount point. Where a file is missing, the cgroup's `cgroup.controllers` says whether
//! that is normal (the controller is not enabled there) or a problem.

use super::layout::{Controller, Placement};
use super::parse;
use super::v1::cpu_list;
use super::{Level, Reader, Reading, byte_limit, garbage, tightest};
use crate::limits::{CpuList, Limit, Source};
use crate::root::ReadError;

const MEMORY_MAX: &str = "memory.max";
const MEMORY_HIGH: &str = "memory.high";
const MEMORY_SWAP_MAX: &str = "memory.swap.max";
const MEMORY_CURRENT: &str = "memory.current";
const MEMORY_PEAK: &str = "memory.peak";
const CPU_MAX: &str = "cpu.max";
const CPU_WEIGHT: &str = "cpu.weight";
const CPUSET_CPUS_EFFECTIVE: &str = "cpuset.cpus.effective";

/// Read `file` at each level and turn its text into a `Level` with `parse_level`.
fn walk<T>(
    reader: &mut Reader<'_>,
    placement: &Placement,
    file: &str,
    controller: Controller,
    parse_level: impl Fn(&str, &str) -> Level<T>,
) -> Vec<Level<T>> {
    let mut levels = Vec::new();
    for dir in placement.levels() {
        let path = format!("{dir}/{file}");
        levels.push(match reader.read(&path) {
            Ok(text) => parse_level(&path, &text),
            Err(ReadError::Missing) if absence_is_normal(reader, placement, &dir, controller) => {
                Level::Absent
            }
            Err(err) => Level::Bad(format!("{path}: {err}")),
        });
    }
    levels
}

/// The mount point may be the real root cgroup, which has no limit files. Below it, a file
/// is missing exactly when its controller is not enabled for that cgroup.
fn absence_is_normal(
    reader: &Reader<'_>,
    placement: &Placement,
    dir: &str,
    controller: Controller,
) -> bool {
    dir == placement.mount_point || reader.v2_controller_enabled(dir, controller) == Some(false)
}

pub(super) fn memory(
    reader: &mut Reader<'_>,
    placement: &Placement,
    host: Option<u64>,
) -> Limit<u64> {
    let levels = walk(
        reader,
        placement,
        MEMORY_MAX,
        Controller::Memory,
        |path, text| byte_limit(path, text, host),
    );
    tightest(reader, levels)
}

/// `memory.high` here and in each parent; the tightest wins. Unlike `memory.max`, a missing
/// file is no problem at any level: the value only ever lowers the size runtimes get.
pub(super) fn memory_high(
    reader: &mut Reader<'_>,
    placement: &Placement,
    host: Option<u64>,
) -> Limit<u64> {
    let mut levels = Vec::new();
    for dir in placement.levels() {
        let path = format!("{dir}/{MEMORY_HIGH}");
        levels.push(match reader.read(&path) {
            Ok(text) => byte_limit(&path, &text, host),
            Err(ReadError::Missing) => Level::Absent,
            Err(err) => Level::Bad(format!("{path}: {err}")),
        });
    }
    tightest(reader, levels)
}

pub(super) struct MemoryExtras {
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
        swap: reader.optional_limit(&format!("{dir}/{MEMORY_SWAP_MAX}"), host),
        usage: reader.optional_number(&format!("{dir}/{MEMORY_CURRENT}")),
        peak: reader.optional_number(&format!("{dir}/{MEMORY_PEAK}")),
    }
}

/// `cpu.max` (`QUOTA PERIOD`, or `max PERIOD`) here and in each parent; the fewest CPUs win.
pub(super) fn cpu(reader: &mut Reader<'_>, placement: &Placement) -> Limit<f64> {
    let levels = walk(
        reader,
        placement,
        CPU_MAX,
        Controller::Cpu,
        |path, text| match parse::cpu_max(text) {
            Some(Some(quota)) => Level::Limit(quota.cpus(), Source::file(path, text)),
            Some(None) => Level::NoLimit(Source::file(path, text)),
            None => Level::Bad(garbage(path, text)),
        },
    );
    tightest(reader, levels)
}

pub(super) fn cpu_weight(reader: &mut Reader<'_>, placement: &Placement) -> Option<Reading> {
    reader.optional_number(&format!("{}/{CPU_WEIGHT}", placement.dir))
}

/// `cpuset.cpus.effective` already folds in every parent's set; when the cpuset controller is
/// not enabled here, the nearest parent that has the file speaks for this cgroup.
pub(super) fn cpuset(reader: &mut Reader<'_>, placement: &Placement) -> Limit<CpuList> {
    for dir in placement.levels() {
        let path = format!("{dir}/{CPUSET_CPUS_EFFECTIVE}");
        match reader.read(&path) {
            Ok(text) => return cpu_list(reader, &path, &text),
            Err(ReadError::Missing) => continue,
            Err(err) => {
                let reason = format!("{path}: {err}");
                reader.warn(reason.clone());
                return Limit::Unknown { reason };
            }
        }
    }
    Limit::Unlimited { source: None }
}
