//! Pure parsers, one per kernel file, over text. None of them touches the filesystem and none
//! of them can panic; the property tests in `tests/parsers.rs` feed them arbitrary text.

use procfs_core::process::MountInfo;
use procfs_core::{FromBufRead, ProcessCGroups};

/// A cgroup filesystem mount, from one line of `/proc/self/mountinfo` (proc(5)):
///
/// ```text
/// 36 35 98:0 /docker/1f2e /sys/fs/cgroup/memory ro,nosuid shared:5 - cgroup cgroup rw,memory
/// |  |  |    |            |                     |          |        | |      |      |
/// id parent  root         mount point           options    optional - type   source super options
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// The directory of the cgroup tree that is mounted (`/` unless bind-mounted or namespaced).
    pub root: String,
    /// Where it is mounted, as the process sees it.
    pub mount_point: String,
    /// `true` for cgroup2, `false` for a v1 hierarchy.
    pub unified: bool,
    /// v1 controllers this hierarchy carries (`cpu`, `cpuacct`, `memory`, `name=systemd`...).
    pub controllers: Vec<String>,
    /// Position in mountinfo: a later mount on the same point hides an earlier one.
    pub line: usize,
}

/// The cgroup mounts listed in `/proc/self/mountinfo`. Lines that are not cgroup mounts, and
/// lines that cannot be parsed, are skipped: one odd mount (a 9p share with spaces in its
/// options, say) must not hide the cgroup mounts.
pub fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    mountinfo
        .lines()
        .enumerate()
        .filter_map(|(index, line)| cgroup_mount(line, index))
        .collect()
}

/// The cgroup2 mounts and the v1 hierarchies that carry one of `controllers`: what
/// `cgroup_mounts` gives, less the other v1 hierarchies, whose lines are not even parsed (a v1
/// host mounts a dozen; the full parse of a line is most of what reading mountinfo costs).
pub fn cgroup_mounts_carrying(mountinfo: &str, controllers: &[&str]) -> Vec<CgroupMount> {
    mountinfo
        .lines()
        .enumerate()
        .filter(|(_, line)| may_carry(line, controllers))
        .filter_map(|(index, line)| cgroup_mount(line, index))
        .filter(|mount| {
            mount.unified
                || mount
                    .controllers
                    .iter()
                    .any(|controller| controllers.contains(&controller.as_str()))
        })
        .collect()
}

/// False only for a v1 cgroup line whose super options name none of `controllers`.
fn may_carry(line: &str, controllers: &[&str]) -> bool {
    let Some(after_separator) = after_separator(line) else {
        return true;
    };
    let mut fields = after_separator.splitn(3, ' ');
    if fields.next() != Some("cgroup") {
        return true;
    }
    // Everything after the source, split at blanks too: the full parse takes one blank-separated
    // field of it as the super options, and must never find a controller this check missed. It
    // also reads `key=value` options by their key.
    let super_options = fields.nth(1).unwrap_or("");
    super_options
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|option| option.split_once('=').map_or(option, |(key, _)| key))
        .any(|option| controllers.contains(&option))
}

fn cgroup_mount(line: &str, index: usize) -> Option<CgroupMount> {
    // The fields after the lone "-" are type, source and super options; super options may hold
    // spaces (Docker Desktop's 9p), so only the type is checked before handing the line over.
    let after_separator = after_separator(line)?;
    let fs_type = after_separator.split(' ').next()?;
    if fs_type != "cgroup" && fs_type != "cgroup2" {
        return None;
    }
    let info = MountInfo::from_line(line).ok()?;
    // The kernel writes one lone "-" per line. With a second one (in a copied or forged file)
    // the procfs parser may take another field for the type than the check above did: such a
    // line is skipped, so that every reader of it agrees (found by fuzz/ `mountinfo`).
    if info.fs_type != fs_type || after_separator.contains(" - ") {
        return None;
    }
    let mut controllers: Vec<String> = info
        .super_options
        .keys()
        .filter(|option| is_v1_controller(option))
        .cloned()
        .collect();
    if let Some(Some(name)) = info.super_options.get("name") {
        controllers.push(format!("name={name}"));
    }
    controllers.sort();
    Some(CgroupMount {
        root: unescape_octal(&info.root),
        mount_point: unescape_octal(&info.mount_point.to_string_lossy()),
        unified: info.fs_type == "cgroup2",
        controllers: if info.fs_type == "cgroup2" {
            Vec::new()
        } else {
            controllers
        },
        line: index,
    })
}

/// What follows the lone `-` of a mountinfo line: `type source super-options`. The same as
/// `split_once(" - ")`, found with a byte search for `-` (mountinfo is read at every start,
/// and a substring search per line is a good part of what parsing it costs).
fn after_separator(line: &str) -> Option<&str> {
    let bytes = line.as_bytes();
    let mut from = 0;
    while let Some(offset) = line[from..].find('-') {
        let dash = from + offset;
        if dash > 0 && bytes[dash - 1] == b' ' && bytes.get(dash + 1) == Some(&b' ') {
            return Some(&line[dash + 2..]);
        }
        from = dash + 1;
    }
    None
}

/// Super options of a v1 mount that name controllers, as opposed to mount flags.
fn is_v1_controller(option: &str) -> bool {
    const NOT_CONTROLLERS: [&str; 8] = [
        "rw",
        "ro",
        "name",
        "none",
        "noprefix",
        "xattr",
        "clone_children",
        "release_agent",
    ];
    !NOT_CONTROLLERS.contains(&option)
        && option.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// mountinfo writes space, tab, newline and backslash in paths as `\040`, `\011`, `\012`, `\134`.
pub fn unescape_octal(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 4)
            .filter(|_| bytes[i] == b'\\')
            .filter(|digits| digits.iter().all(|d| (b'0'..=b'7').contains(d)))
            .map(|d| (d[0] - b'0') as u32 * 64 + (d[1] - b'0') as u32 * 8 + (d[2] - b'0') as u32)
            .filter(|value| *value <= 0xff);
        match escaped {
            Some(value) => {
                out.push(value as u8);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `path` is the mount point of a FUSE file system (lxcfs mounts its own
/// `/proc/meminfo`, `/proc/cpuinfo` and friends over the kernel's).
pub fn is_fuse_mount(mountinfo: &str, path: &str) -> bool {
    mountinfo.lines().any(|line| {
        // Cheap checks first: most lines are not FUSE, and the full parse allocates.
        let is_fuse = after_separator(line)
            .and_then(|after| after.split(' ').next())
            .is_some_and(|fs_type| fs_type == "fuse" || fs_type.starts_with("fuse."));
        is_fuse
            && MountInfo::from_line(line)
                .is_ok_and(|info| unescape_octal(&info.mount_point.to_string_lossy()) == path)
    })
}

/// One line of `/proc/self/cgroup`: `hierarchy-id:controllers:path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub hierarchy: u32,
    /// Empty for the v2 line (`0::/path`).
    pub controllers: Vec<String>,
    /// The cgroup path. It may contain `:` (containerd on Kubernetes), so only the first two
    /// colons split the line.
    pub path: String,
}

/// The lines of `/proc/self/cgroup` that parse; a malformed line is skipped, not fatal.
/// The v2 line and the v1 lines of hierarchies that carry one of `controllers`: what
/// `memberships` gives, less the other v1 hierarchies, whose lines are not parsed at all.
pub fn memberships_carrying(proc_self_cgroup: &str, controllers: &[&str]) -> Vec<Membership> {
    // Left out: a line of a v1 hierarchy (a number other than 0) that lists none of them.
    let wanted = |line: &&str| {
        let mut fields = line.splitn(3, ':');
        match (fields.next().map(str::parse::<u64>), fields.next()) {
            (Some(Ok(hierarchy)), Some(list)) if hierarchy != 0 => {
                list.split(',').any(|c| controllers.contains(&c))
            }
            _ => true,
        }
    };
    // Whole lines, endings included, so that a kept line parses exactly as it would in place.
    let relevant: String = proc_self_cgroup
        .split_inclusive('\n')
        .filter(wanted)
        .collect();
    memberships(&relevant)
        .into_iter()
        .filter(|m| {
            m.hierarchy == 0
                || m.controllers
                    .iter()
                    .any(|controller| controllers.contains(&controller.as_str()))
        })
        .collect()
}

pub fn memberships(proc_self_cgroup: &str) -> Vec<Membership> {
    proc_self_cgroup
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter_map(|line| {
            let parsed = ProcessCGroups::from_buf_read(line.as_bytes()).ok()?;
            let entry = parsed.0.into_iter().next()?;
            entry.pathname.starts_with('/').then_some(Membership {
                hierarchy: entry.hierarchy,
                controllers: entry.controllers,
                path: entry.pathname,
            })
        })
        .collect()
}

/// A limit file's value: a number of bytes (or a quota), or no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitValue {
    Max,
    Value(u64),
}

/// `memory.max`, `memory.limit_in_bytes`, `memory.swap.max`, `pids.max`...: a single number,
/// `max` (v2) or `-1` (v1, as written by tools). Anything else is `None`.
pub fn limit_value(text: &str) -> Option<LimitValue> {
    let trimmed = text.trim();
    match trimmed {
        "max" | "-1" => Some(LimitValue::Max),
        _ => single_u64(trimmed).map(LimitValue::Value),
    }
}

/// A plain unsigned decimal, nothing else on the line.
pub fn single_u64(text: &str) -> Option<u64> {
    let trimmed = text.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    trimmed.parse().ok()
}

/// A signed decimal (`cpu.cfs_quota_us` is `-1` when unset).
pub fn single_i64(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix('-').unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    trimmed.parse().ok()
}

/// A CPU quota: so many microseconds of CPU time per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub quota_us: u64,
    pub period_us: u64,
}

impl Quota {
    pub fn cpus(&self) -> f64 {
        self.quota_us as f64 / self.period_us as f64
    }
}

/// The default `cpu.max` period when the file gives only a quota.
const DEFAULT_PERIOD_US: u64 = 100_000;

/// v2 `cpu.max`: `max 100000`, `150000 100000`, or a lone quota. `Some(None)` is "no quota".
pub fn cpu_max(text: &str) -> Option<Option<Quota>> {
    let mut fields = text.split_whitespace();
    let quota = fields.next()?;
    let period = match fields.next() {
        Some(period) => single_u64(period).filter(|p| *p > 0)?,
        None => DEFAULT_PERIOD_US,
    };
    if fields.next().is_some() {
        return None;
    }
    if quota == "max" {
        return Some(None);
    }
    let quota_us = single_u64(quota).filter(|q| *q > 0)?;
    Some(Some(Quota {
        quota_us,
        period_us: period,
    }))
}

/// v1 `cpu.cfs_quota_us` + `cpu.cfs_period_us`. `Some(None)` is "no quota" (`-1`).
pub fn cfs_quota(quota_text: &str, period_text: &str) -> Option<Option<Quota>> {
    let quota = single_i64(quota_text)?;
    if quota == -1 {
        return Some(None);
    }
    let quota_us = u64::try_from(quota).ok().filter(|q| *q > 0)?;
    let period_us = single_u64(period_text).filter(|p| *p > 0)?;
    Some(Some(Quota {
        quota_us,
        period_us,
    }))
}

/// A CPU list (`0-3,6,8-9`, as in `cpuset.cpus` or `/sys/devices/system/cpu/online`) → how many
/// CPUs it holds. An empty list is `Some(0)`; garbage is `None`.
pub fn cpu_list_count(text: &str) -> Option<u32> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Some(0);
    }
    let mut count: u32 = 0;
    for range in trimmed.split(',') {
        let (first, last) = match range.split_once('-') {
            Some((first, last)) => (single_u64(first)?, single_u64(last)?),
            None => {
                let only = single_u64(range)?;
                (only, only)
            }
        };
        if last < first || last > 1 << 20 {
            return None;
        }
        count = count.checked_add(u32::try_from(last - first + 1).ok()?)?;
    }
    Some(count)
}

/// The value of `key` in a flat keyed file (`memory.stat`, `memory.events`, `memory.oom_control`).
pub fn keyed_u64(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        // Most lines are other keys (memory.stat has dozens): skip them before splitting.
        let rest = line.strip_prefix(key)?;
        if !rest.starts_with(char::is_whitespace) {
            return None;
        }
        let mut fields = line.split_whitespace();
        (fields.next()? == key).then_some(())?;
        let value = single_u64(fields.next()?)?;
        fields.next().is_none().then_some(value)
    })
}

/// `MemTotal:  24570600 kB` from `/proc/meminfo`, in bytes.
pub fn meminfo_total(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let rest = line.strip_prefix("MemTotal:")?;
        let mut fields = rest.split_whitespace();
        let kib = single_u64(fields.next()?)?;
        match fields.next() {
            Some("kB") | None => kib.checked_mul(1024),
            Some(_) => None,
        }
    })
}

/// The controllers a v2 cgroup offers (`cgroup.controllers`: `cpuset cpu io memory pids`).
pub fn controller_list(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_with_optional_fields_escapes_and_odd_lines() {
        let text = "\
36 35 98:0 /docker/1f2e /sys/fs/cgroup/memory ro,nosuid shared:5 master:1 - cgroup cgroup rw,memory
37 35 98:1 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpuacct,cpu
38 35 0:24 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
39 35 0:25 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
40 35 0:26 / /mnt/with\\040space rw - cgroup cgroup rw,pids
41 35 0:27 / /host rw - 9p C:\\134Program\\040Files rw,dirsync,aname=drvfs;path=C:\\;uid=0 with spaces
garbage line
42 35 0:28 /x /sys/fs/cgroup/cpuset rw - tmpfs tmpfs rw
";
        let mounts = cgroup_mounts(text);
        assert_eq!(mounts.len(), 5);
        assert_eq!(mounts[0].root, "/docker/1f2e");
        assert_eq!(mounts[0].mount_point, "/sys/fs/cgroup/memory");
        assert_eq!(mounts[0].controllers, vec!["memory"]);
        assert_eq!(mounts[1].controllers, vec!["cpu", "cpuacct"]);
        assert!(mounts[2].unified);
        assert_eq!(mounts[3].controllers, vec!["name=systemd"]);
        assert_eq!(mounts[4].mount_point, "/mnt/with space");
        assert_eq!(mounts[4].line, 4);
    }

    #[test]
    fn fuse_mounts() {
        let text = "\
1086 1073 0:57 /proc/meminfo /proc/meminfo rw,nosuid - fuse.lxcfs lxcfs rw,allow_other
22 1 0:20 / /proc rw - proc proc rw
";
        assert!(is_fuse_mount(text, "/proc/meminfo"));
        assert!(!is_fuse_mount(text, "/proc"));
        assert!(!is_fuse_mount(
            "22 1 0:20 / /proc/meminfo rw - proc proc rw\n",
            "/proc/meminfo"
        ));
    }

    #[test]
    fn octal_escapes() {
        assert_eq!(unescape_octal(r"a\040b\134c\011d"), "a b\\c\td");
        assert_eq!(unescape_octal(r"trailing\04"), r"trailing\04");
        assert_eq!(unescape_octal(r"\999"), r"\999");
    }

    #[test]
    fn cgroup_lines_split_on_the_first_two_colons() {
        let text = "\
12:memory:/system.slice/containerd.service/kubepods-burstable-pod1.slice:cri-containerd:86ac
11:cpu,cpuacct:/a
0::/
not a line
1:name=systemd:/user.slice
";
        let lines = memberships(text);
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0].path,
            "/system.slice/containerd.service/kubepods-burstable-pod1.slice:cri-containerd:86ac"
        );
        assert_eq!(lines[1].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(lines[2].hierarchy, 0);
        assert!(lines[2].controllers.is_empty());
        assert_eq!(lines[3].controllers, vec!["name=systemd"]);
    }

    #[test]
    fn limit_values() {
        assert_eq!(limit_value("max\n"), Some(LimitValue::Max));
        assert_eq!(limit_value("-1"), Some(LimitValue::Max));
        assert_eq!(
            limit_value("268435456\n"),
            Some(LimitValue::Value(268_435_456))
        );
        assert_eq!(
            limit_value("9223372036854771712"),
            Some(LimitValue::Value(9_223_372_036_854_771_712))
        );
        for bad in [
            "",
            "12x",
            "-2",
            "1 2",
            "maxx",
            "0x10",
            "99999999999999999999999",
        ] {
            assert_eq!(limit_value(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cpu_max_forms() {
        let q = |quota_us, period_us| {
            Some(Some(Quota {
                quota_us,
                period_us,
            }))
        };
        assert_eq!(cpu_max("150000 100000\n"), q(150_000, 100_000));
        assert_eq!(cpu_max("max 100000"), Some(None));
        assert_eq!(cpu_max("50000"), q(50_000, 100_000));
        for bad in [
            "",
            "abc 100000",
            "100 0",
            "100 100 100",
            "-1 100000",
            "0 100000",
        ] {
            assert_eq!(cpu_max(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cfs_forms() {
        assert_eq!(cfs_quota("-1\n", "100000\n"), Some(None));
        assert_eq!(
            cfs_quota("50000", "100000"),
            Some(Some(Quota {
                quota_us: 50_000,
                period_us: 100_000
            }))
        );
        assert_eq!(cfs_quota("50000", "0"), None);
        assert_eq!(cfs_quota("x", "100000"), None);
        assert_eq!(cfs_quota("-5", "100000"), None);
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(cpu_list_count("0-3,6,8-9\n"), Some(7));
        assert_eq!(cpu_list_count("0"), Some(1));
        assert_eq!(cpu_list_count(""), Some(0));
        assert_eq!(cpu_list_count("\n"), Some(0));
        for bad in ["3-1", "a", "0-", ",", "0,,1", "0-99999999"] {
            assert_eq!(cpu_list_count(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn keyed_files_and_meminfo() {
        let stat = "cache 0\nhierarchical_memory_limit 536870912\nhierarchical_memsw_limit 9\n";
        assert_eq!(
            keyed_u64(stat, "hierarchical_memory_limit"),
            Some(536_870_912)
        );
        assert_eq!(keyed_u64(stat, "missing"), None);
        assert_eq!(
            meminfo_total("MemTotal:       24570600 kB\nMemFree: 1 kB\n"),
            Some(24_570_600 * 1024)
        );
        assert_eq!(meminfo_total("MemFree: 1 kB\n"), None);
        assert_eq!(meminfo_total("MemTotal: lots kB\n"), None);
    }

    #[test]
    fn the_separator_is_the_first_lone_dash() {
        let line = "36 35 98:0 /a-b /sys/fs/cgroup/x-y rw shared:5 - cgroup cgroup rw,memory";
        assert_eq!(after_separator(line), Some("cgroup cgroup rw,memory"));
        for text in [
            "",
            "-",
            " - ",
            "a -b",
            "a- b",
            "x - y - z",
            "a --  - b",
            "- - x",
        ] {
            assert_eq!(
                after_separator(text),
                text.split_once(" - ").map(|(_, after)| after),
                "{text:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn the_separator_search_is_split_once(text in "[ ab-]{0,24}") {
            proptest::prop_assert_eq!(
                after_separator(&text),
                text.split_once(" - ").map(|(_, after)| after)
            );
        }
    }

    #[test]
    fn only_the_lines_of_other_v1_hierarchies_are_left_out() {
        let names = ["memory", "cpu", "cpuset"];
        let text = "12:pids:/a\n4:memory:/b\n3:cpu,cpuacct:/c\n1:name=systemd:/d\n0::/e\n";
        let kept: Vec<String> = memberships_carrying(text, &names)
            .into_iter()
            .map(|m| m.path)
            .collect();
        assert_eq!(kept, ["/b", "/c", "/e"]);
        // Lines are kept whole, so a kept line parses exactly as it would in place.
        for odd in ["0::/\r", "00::/x\n", "4:memory:/b\r\n", "x:memory:/y"] {
            assert_eq!(
                memberships_carrying(odd, &names),
                memberships(odd),
                "{odd:?}"
            );
        }
    }
}
