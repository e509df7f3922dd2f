//! Detection: the container's memory and CPU limits, read through a `Root`.
//!
//! `detect` reads `/proc/self/mountinfo` and `/proc/self/cgroup`, decides where each controller's
//! files are (`layout`), then reads the limits there and in every parent cgroup up to the mount
//! point, keeping the tightest (`v1`, `v2`). Every problem becomes an `Unknown` value plus one
//! warning that names the file; nothing here fails or panics.

pub mod events;
pub mod layout;
pub mod parse;
mod v1;
mod v2;

use crate::limits::{CpuList, Host, Limit, Source};
use crate::root::{ReadError, Root};
use layout::{Controller, Layout, Mode, Placement};
use std::path::Path;

const PROC_SELF_MOUNTINFO: &str = "/proc/self/mountinfo";
const PROC_SELF_CGROUP: &str = "/proc/self/cgroup";
const PROC_MEMINFO: &str = "/proc/meminfo";
const CPU_ONLINE: &str = "/sys/devices/system/cpu/online";
const PROC_CGROUPS: &str = "/proc/cgroups";
const SYS_FS_CGROUP: &str = "/sys/fs/cgroup";

/// Values at or above this many bytes are "no limit" even when the host's memory is unknown:
/// the v1 "unlimited" values are 2^63 rounded down to a page (4 KiB or 64 KiB).
pub(crate) const UNLIMITED_FLOOR: u64 = 1 << 62;

/// A number read from one file, for values that are reported but are not limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub value: u64,
    pub source: Source,
}

/// Everything detection found.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Where each controller was read: the process's own directory, or its mount point when
    /// that directory is not there.
    pub layout: Layout,
    pub host: Host,
    /// The tightest memory limit on the way up the hierarchy.
    pub memory: Limit<u64>,
    /// v2 `memory.high` (throttling, not a kill limit).
    pub memory_high: Option<Limit<u64>>,
    /// v1 `memory.soft_limit_in_bytes`.
    pub memory_soft_limit: Option<Limit<u64>>,
    /// Swap: v2 `memory.swap.max`, v1 `memory.memsw.limit_in_bytes` (memory + swap).
    pub swap: Option<Limit<u64>>,
    pub memory_usage: Option<Reading>,
    pub memory_peak: Option<Reading>,
    /// The tightest CPU quota ÷ period on the way up, as CPUs.
    pub cpu: Limit<f64>,
    pub cpuset: Limit<CpuList>,
    /// v1 `cpu.shares` or v2 `cpu.weight`: reported, never used as a limit.
    pub cpu_weight: Option<Reading>,
    /// What the kernel reports about its controllers, which a JDK reads to decide whether it
    /// runs in a container at all.
    pub controllers: KernelControllers,
    /// One line per problem, each naming its file.
    pub warnings: Vec<String>,
}

/// The files a JDK reads before any limit, to decide which cgroup version it is on and whether
/// the controllers it needs are there. They do not change jwrap's own limits: jwrap finds the
/// controllers from mountinfo and `/proc/self/cgroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelControllers {
    /// The rows of `/proc/cgroups`; `None` when the file is not there or cannot be read.
    pub proc_cgroups: Option<Vec<parse::ControllerRow>>,
    /// `/sys/fs/cgroup` is a cgroup2 mount (what a JDK's `statfs` of it finds).
    pub sys_fs_cgroup_is_v2: bool,
    /// `/sys/fs/cgroup/cgroup.controllers`, when `/sys/fs/cgroup` is a cgroup2 mount and the
    /// file can be read.
    pub v2_root: Option<Vec<String>>,
}

/// Reads files through the root and keeps the warnings.
pub(crate) struct Reader<'a> {
    root: &'a Root,
    warnings: Vec<String>,
    /// `/proc/self/mountinfo` or `/proc/self/cgroup` could not be read.
    essential_missing: bool,
}

/// What one level of the hierarchy says about a limit.
pub(crate) enum Level<T> {
    Limit(T, Source),
    NoLimit(Source),
    /// The file is not there, and that is normal at this level.
    Absent,
    /// The file is missing where it must exist, unreadable or garbage: the message names it.
    Bad(String),
}

impl<'a> Reader<'a> {
    fn new(root: &'a Root) -> Reader<'a> {
        Reader {
            root,
            warnings: Vec::new(),
            essential_missing: false,
        }
    }

    pub(crate) fn read(&self, path: &str) -> Result<String, ReadError> {
        self.root.read(Path::new(path))
    }

    pub(crate) fn warn(&mut self, message: String) {
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    /// `dir/cgroup.controllers` lists `controller`: `Some(true/false)`, `None` if unreadable.
    pub(crate) fn v2_controller_enabled(&self, dir: &str, controller: Controller) -> Option<bool> {
        let text = self.read(&format!("{dir}/cgroup.controllers")).ok()?;
        Some(
            parse::controller_list(&text)
                .iter()
                .any(|c| c == controller.name()),
        )
    }

    /// A reported, optional value (usage, peak, weight): absent is fine, garbage is a warning.
    pub(crate) fn optional_number(&mut self, path: &str) -> Option<Reading> {
        match self.read(path) {
            Ok(text) => {
                if let Some(value) = parse::single_u64(&text) {
                    Some(Reading {
                        value,
                        source: Source::file(path, &text),
                    })
                } else {
                    self.warn(garbage(path, &text));
                    None
                }
            }
            Err(ReadError::Missing) => None,
            Err(err) => {
                self.warn(format!("{path}: {err}; ignored"));
                None
            }
        }
    }

    /// An optional limit file (`memory.high`, `memory.swap.max`...) at one directory.
    pub(crate) fn optional_limit(
        &mut self,
        path: &str,
        host_memory: Option<u64>,
    ) -> Option<Limit<u64>> {
        match self.read(path) {
            Ok(text) => Some(match byte_limit(path, &text, host_memory) {
                Level::Limit(value, source) => Limit::Set { value, source },
                Level::NoLimit(source) => Limit::Unlimited {
                    source: Some(source),
                },
                Level::Absent => Limit::Unlimited { source: None },
                Level::Bad(message) => {
                    self.warn(message.clone());
                    Limit::Unknown { reason: message }
                }
            }),
            Err(ReadError::Missing) => None,
            Err(err) => {
                let message = format!("{path}: {err}");
                self.warn(message.clone());
                Some(Limit::Unknown { reason: message })
            }
        }
    }
}

/// The message for a file whose text is not what the kernel writes there.
pub(crate) fn garbage(path: &str, text: &str) -> String {
    let shown: String = text.trim().chars().take(40).collect();
    format!("{path}: unexpected content {shown:?}")
}

/// A memory limit file's text at one level: bytes, or no limit (`max`, `-1`, or at least the
/// host's memory, which is what the v1 "unlimited" values are).
pub(crate) fn byte_limit(path: &str, text: &str, host_memory: Option<u64>) -> Level<u64> {
    match parse::limit_value(text) {
        Some(parse::LimitValue::Max) => Level::NoLimit(Source::file(path, text)),
        Some(parse::LimitValue::Value(bytes)) => {
            bytes_level(bytes, Source::file(path, text), host_memory)
        }
        None => Level::Bad(garbage(path, text)),
    }
}

/// A limit of `bytes`, unless it is at least the host's memory: then there is none.
pub(crate) fn bytes_level(bytes: u64, source: Source, host_memory: Option<u64>) -> Level<u64> {
    let ceiling = host_memory.unwrap_or(UNLIMITED_FLOOR).min(UNLIMITED_FLOOR);
    if bytes >= ceiling {
        Level::NoLimit(source)
    } else {
        Level::Limit(bytes, source)
    }
}

/// The tightest of the levels' limits. A level that could not be read (missing where it must
/// exist, unreadable, garbage) does not throw away the levels that were read: the tightest limit
/// read is the answer, with one warning naming the bad file (the real limit may be lower). With
/// no limit read at all, a bad level makes the value unknown: "no limit" would be a guess.
pub(crate) fn tightest<T: PartialOrd + Copy>(
    reader: &mut Reader<'_>,
    levels: Vec<Level<T>>,
) -> Limit<T> {
    let mut best: Option<(T, Source)> = None;
    let mut unlimited_source: Option<Source> = None;
    let mut bad: Vec<String> = Vec::new();
    for level in levels {
        match level {
            Level::Limit(value, source) => {
                if best.as_ref().is_none_or(|(current, _)| value < *current) {
                    best = Some((value, source));
                }
            }
            Level::NoLimit(source) => {
                unlimited_source.get_or_insert(source);
            }
            Level::Absent => {}
            Level::Bad(message) => bad.push(message),
        }
    }
    if let Some((value, source)) = best {
        for message in bad {
            reader.warn(format!(
                "{message}; using the tightest limit read ({}), the real limit may be lower",
                source.origin()
            ));
        }
        Limit::Set { value, source }
    } else {
        for message in &bad {
            reader.warn(message.clone());
        }
        match bad.into_iter().next() {
            Some(reason) => Limit::Unknown { reason },
            None => Limit::Unlimited {
                source: unlimited_source,
            },
        }
    }
}

/// Detect the limits of the process whose files `root` holds.
#[must_use]
pub fn detect(root: &Root) -> Detection {
    let mut reader = Reader::new(root);
    let mountinfo = essential_text(&mut reader, PROC_SELF_MOUNTINFO);
    let host = read_host(&mut reader, mountinfo.as_deref());
    let host_memory = host.memory.value();

    let mut layout = read_layout(&mut reader, mountinfo.as_deref());
    for warning in layout.warnings.clone() {
        reader.warn(warning);
    }
    // A missing controller is worth a warning only when some cgroup hierarchy exists; with none
    // at all, one warning below says so.
    let missing = |reader: &mut Reader<'_>, what: &str| {
        let reason =
            format!("no cgroup {what} controller in /proc/self/cgroup and /proc/self/mountinfo");
        if layout.mode != Mode::None {
            reader.warn(reason.clone());
        }
        reason
    };

    // From here on, the directories actually read: the layout's, or their mount points. A
    // mount point that is not there leaves that controller's limits unknown.
    let memory_placement = layout.memory.as_ref().map(|p| existing(&mut reader, p));
    let cpu_placement = layout.cpu.as_ref().map(|p| existing(&mut reader, p));
    let cpuset_placement = layout.cpuset.as_ref().map(|p| existing(&mut reader, p));
    for (slot, read) in [
        (&mut layout.memory, &memory_placement),
        (&mut layout.cpu, &cpu_placement),
        (&mut layout.cpuset, &cpuset_placement),
    ] {
        if let Some(Ok(placement)) = read {
            *slot = Some(placement.clone());
        }
    }

    let memory = match &memory_placement {
        Some(Err(reason)) => Limit::Unknown {
            reason: reason.clone(),
        },
        Some(Ok(p)) if p.unified => v2::memory(&mut reader, p, host_memory),
        Some(Ok(p)) => v1::memory(&mut reader, p, host_memory),
        None => Limit::Unknown {
            reason: missing(&mut reader, "memory"),
        },
    };
    // v2 memory.high throttles hard above it: runtimes are sized for it when it is lower than
    // memory.max.
    let memory_high = match &memory_placement {
        Some(Ok(p)) if p.unified => Some(v2::memory_high(&mut reader, p, host_memory)),
        _ => None,
    };
    let (memory_soft_limit, swap, memory_usage, memory_peak) = match &memory_placement {
        Some(Ok(p)) if p.unified => {
            let extras = v2::memory_extras(&mut reader, p, host_memory);
            (None, extras.swap, extras.usage, extras.peak)
        }
        Some(Ok(p)) => {
            let extras = v1::memory_extras(&mut reader, p, host_memory);
            (extras.high, extras.swap, extras.usage, extras.peak)
        }
        _ => (None, None, None, None),
    };
    let (cpu, cpu_weight) = match &cpu_placement {
        Some(Err(reason)) => (
            Limit::Unknown {
                reason: reason.clone(),
            },
            None,
        ),
        Some(Ok(p)) if p.unified => (v2::cpu(&mut reader, p), v2::cpu_weight(&mut reader, p)),
        Some(Ok(p)) => (v1::cpu(&mut reader, p), v1::cpu_shares(&mut reader, p)),
        None => (
            Limit::Unknown {
                reason: missing(&mut reader, "cpu"),
            },
            None,
        ),
    };
    let cpuset = match &cpuset_placement {
        Some(Err(reason)) => Limit::Unknown {
            reason: reason.clone(),
        },
        Some(Ok(p)) if p.unified => v2::cpuset(&mut reader, p),
        Some(Ok(p)) => v1::cpuset(&mut reader, p),
        None => Limit::Unlimited { source: None },
    };
    let controllers = read_controllers(&reader, mountinfo.as_deref());

    // Unless a file it needs was already reported (then every limit is unknown for that reason).
    if layout.mode == Mode::None && !reader.essential_missing {
        reader.warn(
            "no cgroup hierarchy is mounted (see /proc/self/mountinfo); memory and CPU limits are unknown"
                .to_string(),
        );
    }

    Detection {
        layout,
        host,
        memory,
        memory_high,
        memory_soft_limit,
        swap,
        memory_usage,
        memory_peak,
        cpu,
        cpuset,
        cpu_weight,
        controllers,
        warnings: reader.warnings,
    }
}

/// A file detection cannot do without; when it is missing every limit is unknown.
fn essential_text(reader: &mut Reader<'_>, path: &str) -> Option<String> {
    match reader.read(path) {
        Ok(text) => Some(text),
        Err(err) => {
            reader.essential_missing = true;
            reader.warn(format!("{path}: {err}; memory and CPU limits are unknown"));
            None
        }
    }
}

fn read_layout(reader: &mut Reader<'_>, mountinfo: Option<&str>) -> Layout {
    let cgroup = essential_text(reader, PROC_SELF_CGROUP);
    match (mountinfo, cgroup) {
        (Some(mountinfo), Some(cgroup)) => layout::layout(
            &parse::cgroup_mounts(mountinfo),
            &parse::memberships(&cgroup),
        ),
        _ => layout::layout(&[], &[]),
    }
}

/// The placement itself, or its mount point when the process's directory is not there (the
/// process was moved, or the path names a cgroup this mount namespace cannot see). `Err` when
/// the mount point itself is not there: nothing below it can be read, and "no file, no limit"
/// would be a guess.
fn existing(reader: &mut Reader<'_>, placement: &Placement) -> Result<Placement, String> {
    if !reader.root.is_dir(Path::new(&placement.mount_point)) {
        let reason = format!(
            "{}: no such directory, although /proc/self/mountinfo lists a cgroup mount there; \
             its limits are unknown",
            placement.mount_point
        );
        reader.warn(reason.clone());
        return Err(reason);
    }
    if placement.dir == placement.mount_point || reader.root.is_dir(Path::new(&placement.dir)) {
        return Ok(placement.clone());
    }
    reader.warn(format!(
        "{}: no such cgroup directory; reading the mount point {}",
        placement.dir, placement.mount_point
    ));
    Ok(Placement {
        dir: placement.mount_point.clone(),
        ..placement.clone()
    })
}

/// `/proc/cgroups` and, on a cgroup2 `/sys/fs/cgroup`, its `cgroup.controllers`. Neither is
/// needed for jwrap's own limits, so a missing or unreadable file is no warning.
fn read_controllers(reader: &Reader<'_>, mountinfo: Option<&str>) -> KernelControllers {
    let proc_cgroups = reader
        .read(PROC_CGROUPS)
        .ok()
        .map(|text| parse::proc_cgroups(&text));
    let sys_fs_cgroup_is_v2 = mountinfo.is_some_and(|text| {
        parse::cgroup_mounts(text)
            .iter()
            .any(|m| m.unified && m.mount_point == SYS_FS_CGROUP)
    });
    let v2_root = sys_fs_cgroup_is_v2
        .then(|| {
            reader
                .read(&format!("{SYS_FS_CGROUP}/cgroup.controllers"))
                .ok()
        })
        .flatten()
        .map(|text| parse::controller_list(&text));
    KernelControllers {
        proc_cgroups,
        sys_fs_cgroup_is_v2,
        v2_root,
    }
}

fn read_host(reader: &mut Reader<'_>, mountinfo: Option<&str>) -> Host {
    // lxcfs mounts its own /proc/meminfo over the real one, showing the container's limit as
    // MemTotal. Taken as the host's memory, it would make that limit "as large as the host",
    // that is no limit at all; the host's memory is simply not known there.
    let virtualised = mountinfo.is_some_and(|text| parse::is_fuse_mount(text, PROC_MEMINFO));
    let memory = match reader.read(PROC_MEMINFO) {
        Ok(_) if virtualised => Limit::Unknown {
            reason: format!(
                "{PROC_MEMINFO} is a FUSE mount (lxcfs): it shows the container's memory, not the host's"
            ),
        },
        Ok(text) => match parse::meminfo_total(&text) {
            Some(0) => Limit::Unknown {
                reason: format!("{PROC_MEMINFO}: MemTotal is 0"),
            },
            Some(bytes) => Limit::Set {
                value: bytes,
                source: Source::file(PROC_MEMINFO, &format!("MemTotal {bytes}")),
            },
            None => Limit::Unknown {
                reason: format!("{PROC_MEMINFO}: no MemTotal line"),
            },
        },
        Err(err) => Limit::Unknown {
            reason: format!("{PROC_MEMINFO}: {err}"),
        },
    };
    let cpus = match reader.read(CPU_ONLINE) {
        Ok(text) => match parse::cpu_list_count(&text) {
            Some(count) if count > 0 => Limit::Set {
                value: count,
                source: Source::file(CPU_ONLINE, &text),
            },
            _ => Limit::Unknown {
                reason: garbage(CPU_ONLINE, &text),
            },
        },
        Err(err) => Limit::Unknown {
            reason: format!("{CPU_ONLINE}: {err}"),
        },
    };
    let memory_problem = memory.reason().filter(|_| !virtualised);
    for reason in [memory_problem, cpus.reason()].into_iter().flatten() {
        reader.warn(reason.to_string());
    }
    Host { memory, cpus }
}

/// For the unit tests that build a small fake root file by file.
#[cfg(test)]
pub(crate) fn write_test_file(dir: &std::path::Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(file, text).unwrap();
}
