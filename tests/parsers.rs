//! Property tests over every pure parser: arbitrary text must never panic, and well-formed text
//! built from known parts must parse back to those parts. The case count is proptest's default,
//! so `PROPTEST_CASES` sets it (CI runs 100000).

use jwrap::cgroup::layout::{Controller, Layout, Mode, Placement, layout};
use jwrap::cgroup::parse::{
    CgroupMount, LimitValue, Membership, Quota, cfs_quota, cgroup_mounts, controller_list,
    cpu_list_count, cpu_max, keyed_u64, limit_value, memberships, meminfo_total, proc_cgroups,
    single_i64, single_u64, unescape_octal,
};
use jwrap::signals::{MAX_SIGNAL, Rewrite, parse_rewrite, parse_signal, signal_name};
use jwrap::units::{parse_cpus, parse_percent, parse_seconds, parse_size};
use proptest::collection::{btree_map, btree_set, vec};
use proptest::prelude::*;
use proptest::sample::select;
use std::fmt::Write as _;
use std::time::Duration;

const KIB: u64 = 1024;

/// Arbitrary text. Mostly over an alphabet chosen to hit the parsers' edges (digits, unit
/// letters, the separators these files use, whitespace and control characters, multi-byte
/// characters such as Unicode spaces, U+FFFD, an emoji, U+10FFFF and a right-to-left override);
/// one case in ten is any string at all, which proptest makes far more slowly.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => text_from(
            "0123456789abcdefgkmxAGMSIT  \t\n\n\r\0\x0c\\//::,--.=+%#_@;\"'()\u{e9}\u{df}\u{2003}\u{85}\u{fffd}\u{1F600}\u{10FFFF}\u{7f}\u{202e}",
            0,
            63,
        ),
        1 => any::<String>(),
    ]
}

/// A string of `min..=max` characters drawn from `alphabet`. Made from bytes, which proptest
/// generates far faster than characters or regular expressions.
fn text_from(alphabet: &'static str, min: usize, max: usize) -> impl Strategy<Value = String> {
    let characters: Vec<char> = alphabet.chars().collect();
    vec(any::<u8>(), min..=max).prop_map(move |bytes| {
        bytes
            .iter()
            .map(|b| characters[usize::from(*b) % characters.len()])
            .collect()
    })
}

/// Text made of the characters these files are made of, so that near-valid input is common.
fn near_text() -> impl Strategy<Value = String> {
    text_from("0123456789abcdefmkx:,/ -\n\t.=+%", 0, 40)
}

// ---------------------------------------------------------------------------------------------
// /proc/self/mountinfo

/// mountinfo escapes these four characters in paths (proc(5)).
fn escape_mountinfo(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            ' ' => out.push_str("\\040"),
            '\t' => out.push_str("\\011"),
            '\n' => out.push_str("\\012"),
            '\\' => out.push_str("\\134"),
            other => out.push(other),
        }
    }
    out
}

/// An absolute path whose components hold characters that need escaping, or `/`.
fn path() -> impl Strategy<Value = String> {
    vec(text_from("abcXYZ019_.@:,=+ \t\n\\-", 1, 8), 0..4)
        .prop_map(|parts| format!("/{}", parts.join("/")))
}

const V1_CONTROLLERS: [&str; 12] = [
    "blkio",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "hugetlb",
    "memory",
    "net_cls",
    "net_prio",
    "perf_event",
    "pids",
];

#[derive(Debug, Clone)]
enum Filesystem {
    CgroupV1 {
        controllers: Vec<String>,
        named: bool,
    },
    Cgroup2,
    /// Not a cgroup mount; its super options may hold raw spaces (Docker Desktop's 9p).
    Other {
        fs_type: String,
        super_options: String,
    },
}

#[derive(Debug, Clone)]
struct MountLine {
    root: String,
    mount_point: String,
    optional_fields: Vec<String>,
    filesystem: Filesystem,
}

impl MountLine {
    fn text(&self, id: usize) -> String {
        let optional: String = self
            .optional_fields
            .iter()
            .flat_map(|f| [" ", f.as_str()])
            .collect();
        let (fs_type, source, super_options) = match &self.filesystem {
            Filesystem::CgroupV1 { controllers, named } => {
                let mut options = vec!["rw".to_string()];
                options.extend(controllers.iter().cloned());
                if *named {
                    options.push("name=systemd".to_string());
                }
                options.push("xattr".to_string());
                (
                    "cgroup".to_string(),
                    "cgroup".to_string(),
                    options.join(","),
                )
            }
            Filesystem::Cgroup2 => (
                "cgroup2".to_string(),
                "none".to_string(),
                "rw,nsdelegate".to_string(),
            ),
            Filesystem::Other {
                fs_type,
                super_options,
            } => (
                fs_type.clone(),
                "C:\\134Program\\040Files".to_string(),
                super_options.clone(),
            ),
        };
        format!(
            "{} {} 0:{} {} {} rw,nosuid,relatime{optional} - {fs_type} {source} {super_options}",
            id + 20,
            id + 1,
            id + 30,
            escape_mountinfo(&self.root),
            escape_mountinfo(&self.mount_point),
        )
    }

    /// What `cgroup_mounts` must return for this line, found at `line` in the text.
    fn expected(&self, line: usize) -> Option<CgroupMount> {
        let (unified, controllers) = match &self.filesystem {
            Filesystem::CgroupV1 { controllers, named } => {
                let mut all = controllers.clone();
                if *named {
                    all.push("name=systemd".to_string());
                }
                all.sort();
                (false, all)
            }
            Filesystem::Cgroup2 => (true, Vec::new()),
            Filesystem::Other { .. } => return None,
        };
        Some(CgroupMount {
            root: self.root.clone(),
            mount_point: self.mount_point.clone(),
            unified,
            controllers,
            line,
        })
    }
}

fn filesystem() -> impl Strategy<Value = Filesystem> {
    prop_oneof![
        (btree_set(select(&V1_CONTROLLERS[..]), 0..4), any::<bool>()).prop_map(|(set, named)| {
            Filesystem::CgroupV1 {
                controllers: set.into_iter().map(str::to_string).collect(),
                named,
            }
        }),
        Just(Filesystem::Cgroup2),
        (
            select(
                &[
                    "tmpfs", "ext4", "9p", "overlay", "cgroupfs", "cgroup3", "proc"
                ][..]
            ),
            text_from("abcxyz=;,:\\ ", 0, 24),
        )
            .prop_map(|(fs_type, super_options)| Filesystem::Other {
                fs_type: fs_type.to_string(),
                super_options: format!("rw,{super_options}"),
            }),
    ]
}

fn mount_line() -> impl Strategy<Value = MountLine> {
    let optional_field = prop_oneof![
        (1u32..999).prop_map(|n| format!("shared:{n}")),
        (1u32..999).prop_map(|n| format!("master:{n}")),
        (1u32..999).prop_map(|n| format!("propagate_from:{n}")),
        Just("unbindable".to_string()),
    ];
    (path(), path(), vec(optional_field, 0..3), filesystem()).prop_map(
        |(root, mount_point, optional_fields, filesystem)| MountLine {
            root,
            mount_point,
            optional_fields,
            filesystem,
        },
    )
}

/// A line that is not a cgroup mount, whatever else it is.
fn junk_line() -> impl Strategy<Value = String> {
    any_text()
        .prop_map(|text| text.replace('\n', " "))
        .prop_filter("not a cgroup mount", |line| !line.contains(" - cgroup"))
}

proptest! {
    #[test]
    fn mountinfo_lines_parse_back_to_their_parts(
        lines in vec(prop_oneof![3 => mount_line().prop_map(Ok), 1 => junk_line().prop_map(Err)], 0..7)
    ) {
        let mut text = String::new();
        let mut expected = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            match line {
                Ok(mount) => {
                    text.push_str(&mount.text(index));
                    expected.extend(mount.expected(index));
                }
                Err(junk) => text.push_str(junk),
            }
            text.push('\n');
        }
        prop_assert_eq!(cgroup_mounts(&text), expected);
    }

    #[test]
    fn octal_unescaping_never_panics(
        parts in vec(prop_oneof![text_from("\\09az", 1, 2), (0u32..0o1000).prop_map(|n| format!("\\{n:o}"))], 0..12)
    ) {
        let text = parts.concat();
        // Each escape is four bytes and becomes one (or one replacement character).
        prop_assert!(unescape_octal(&text).len() <= text.len());
    }
}

// ---------------------------------------------------------------------------------------------
// /proc/self/cgroup

/// A cgroup path: it may hold `:` (containerd on Kubernetes), spaces and commas.
fn cgroup_path() -> impl Strategy<Value = String> {
    vec(text_from("abcXYZ019_.@:,= -", 1, 8), 0..4)
        .prop_map(|parts| format!("/{}", parts.join("/")))
}

fn membership() -> impl Strategy<Value = Membership> {
    let controllers = btree_set(
        select(&["cpu", "cpuacct", "memory", "cpuset", "name=systemd", "pids"][..]),
        1..4,
    );
    prop_oneof![
        cgroup_path().prop_map(|path| Membership {
            hierarchy: 0,
            controllers: Vec::new(),
            path
        }),
        (1u32..20, controllers, cgroup_path()).prop_map(|(hierarchy, set, path)| Membership {
            hierarchy,
            controllers: set.into_iter().map(str::to_string).collect(),
            path,
        }),
    ]
}

fn membership_text(line: &Membership) -> String {
    format!(
        "{}:{}:{}",
        line.hierarchy,
        line.controllers.join(","),
        line.path
    )
}

proptest! {
    #[test]
    fn cgroup_lines_parse_back_to_their_parts(
        lines in vec(
            prop_oneof![
                4 => membership().prop_map(Ok),
                1 => select(&["", "invalid-line:", "x:cpu:/a", "3:cpu:relative", "no colon", "#1:cpu:/a"][..])
                    .prop_map(Err),
            ],
            0..8,
        )
    ) {
        let text: String = lines
            .iter()
            .map(|line| match line {
                Ok(membership) => format!("{}\n", membership_text(membership)),
                Err(junk) => format!("{junk}\n"),
            })
            .collect();
        let expected: Vec<Membership> = lines.iter().filter_map(|line| line.as_ref().ok().cloned()).collect();
        prop_assert_eq!(memberships(&text), expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Single values: memory.max, pids.max, cpu.max, cpu.cfs_*, cpusets, keyed files, meminfo

/// Whitespace the kernel or a copy may leave around a value.
fn padding() -> impl Strategy<Value = String> {
    select(&["", "\n", " ", "\t", " \n", "\r\n"][..]).prop_map(str::to_string)
}

proptest! {
    #[test]
    fn limit_values_round_trip(n in any::<u64>(), before in padding(), after in padding()) {
        prop_assert_eq!(limit_value(&format!("{before}{n}{after}")), Some(LimitValue::Value(n)));
        prop_assert_eq!(limit_value(&format!("{before}max{after}")), Some(LimitValue::Max));
        prop_assert_eq!(limit_value(&format!("{before}-1{after}")), Some(LimitValue::Max));
        prop_assert_eq!(single_u64(&format!("{before}{n}{after}")), Some(n));
        // One past u64::MAX, and a number with a unit, are not values.
        prop_assert_eq!(limit_value(&format!("{}0", u64::MAX / 10 + 1 + n % 100)), None);
        prop_assert_eq!(limit_value(&format!("{n}k")), None);
    }

    #[test]
    fn signed_values_round_trip(n in any::<i64>(), before in padding(), after in padding()) {
        prop_assert_eq!(single_i64(&format!("{before}{n}{after}")), Some(n));
        prop_assert_eq!(single_i64(&format!("--{}", n.unsigned_abs())), None);
    }

    #[test]
    fn cpu_max_round_trips(quota in 1u64.., period in 1u64.., after in padding()) {
        let expected = Quota { quota_us: quota, period_us: period };
        prop_assert_eq!(cpu_max(&format!("{quota} {period}{after}")), Some(Some(expected)));
        prop_assert_eq!(cpu_max(&format!("max {period}{after}")), Some(None));
        // The kernel always writes two fields: one alone is garbage, not a guessed period.
        prop_assert_eq!(cpu_max(&format!("{quota}{after}")), None);
        prop_assert_eq!(cpu_max(&format!("max{after}")), None);
        prop_assert_eq!(cpu_max(&format!("{quota} 0")), None);
        prop_assert_eq!(cpu_max(&format!("0 {period}")), None);
        prop_assert_eq!(cpu_max(&format!("{quota} {period} {period}")), None);
    }

    #[test]
    fn proc_cgroups_rows_round_trip(
        rows in vec(("[a-z_]{1,12}", 0u32..16, 1u32..500, any::<bool>()), 0..14),
        garbage in near_text(),
    ) {
        let mut text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n".to_string();
        for (name, hierarchy, count, enabled) in &rows {
            text.push_str(&format!("{name}\t{hierarchy}\t{count}\t{}\n", u8::from(*enabled)));
        }
        let parsed = proc_cgroups(&text);
        prop_assert_eq!(parsed.len(), rows.len());
        for (row, (name, hierarchy, _, enabled)) in parsed.iter().zip(&rows) {
            prop_assert_eq!(&row.name, name);
            prop_assert_eq!(row.hierarchy, *hierarchy);
            prop_assert_eq!(row.enabled, *enabled);
        }
        // A line that is not four fields with a number and 0/1 is no row, never a panic.
        let _ = proc_cgroups(&garbage);
        prop_assert!(proc_cgroups("memory 0 1 yes\ncpu x 1 1\ncpuset 0 1\n").is_empty());
    }

    #[test]
    fn cfs_quota_round_trips(quota in 1i64.., period in 1u64.., negative in i64::MIN..-1, garbage in near_text()) {
        prop_assert_eq!(
            cfs_quota(&format!("{quota}\n"), &format!("{period}\n")),
            Some(Some(Quota { quota_us: quota as u64, period_us: period }))
        );
        // -1 is "no quota", whatever the period file says.
        prop_assert_eq!(cfs_quota("-1\n", &garbage), Some(None));
        prop_assert_eq!(cfs_quota(&negative.to_string(), &period.to_string()), None);
        prop_assert_eq!(cfs_quota("0", &period.to_string()), None);
        prop_assert_eq!(cfs_quota(&quota.to_string(), "0"), None);
    }

    #[test]
    fn cpu_lists_count_what_they_list(
        ranges in vec((0u32..5, 1u32..9), 0..16),
        after in padding(),
        too_far in (1u32 << 20) + 1..u32::MAX,
    ) {
        // Disjoint, ascending ranges, as the kernel writes them: 0-3,6,8-9
        let mut next = 0;
        let mut parts = Vec::new();
        let mut count = 0;
        for (gap, len) in ranges {
            let first = next + gap;
            let last = first + len - 1;
            parts.push(if len == 1 { first.to_string() } else { format!("{first}-{last}") });
            count += len;
            next = last + 2;
        }
        prop_assert_eq!(cpu_list_count(&format!("{}{after}", parts.join(","))), Some(count));
        prop_assert_eq!(cpu_list_count(&format!("0-{too_far}")), None);
        if count > 0 {
            prop_assert_eq!(cpu_list_count(&format!("{},", parts.join(","))), None);
        }
    }

    #[test]
    fn keyed_files_find_every_key(
        values in btree_map(text_from("abcdefghijklmnopqrstuvwxyz_", 1, 16), any::<u64>(), 1..6),
        absent in text_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1, 8),
    ) {
        let text: String = values.iter().fold(String::new(), |mut text, (key, value)| {
            let _ = writeln!(text, "{key} {value}");
            text
        });
        for (key, value) in &values {
            prop_assert_eq!(keyed_u64(&text, key), Some(*value));
        }
        prop_assert_eq!(keyed_u64(&text, &absent), None);
    }

    #[test]
    fn meminfo_total_is_in_bytes(kib in 0u64..=u64::MAX / KIB, free in any::<u64>()) {
        let text = format!("MemFree:        {free} kB\nMemTotal:       {kib} kB\nBuffers:  12 kB\n");
        prop_assert_eq!(meminfo_total(&text), Some(kib * KIB));
        let overflowing = format!("MemTotal: {} kB\n", u64::MAX / KIB + 1 + free % 1000);
        prop_assert_eq!(meminfo_total(&overflowing), None);
    }

    #[test]
    fn controller_lists_split_on_any_whitespace(
        names in vec(text_from("abcdefghijklmnopqrstuvwxyz_", 1, 10), 0..10),
        separators in vec(select(&[" ", "  ", "\t", "\n", " \x0c", "\r\n"][..]), 10),
    ) {
        let mut text = String::from(separators[0]);
        for (index, name) in names.iter().enumerate() {
            text.push_str(name);
            text.push_str(separators[index % separators.len()]);
        }
        prop_assert_eq!(controller_list(&text), names);
    }
}

// ---------------------------------------------------------------------------------------------
// Sizes, CPU counts, seconds, percentages

const SIZE_UNITS: [(u64, &[&str]); 5] = [
    (1, &["", "b", "B"]),
    (KIB, &["k", "K", "kb", "KB", "ki", "Ki", "kib", "KiB"]),
    (KIB * KIB, &["m", "M", "mb", "MB", "mi", "Mi", "mib", "MiB"]),
    (
        KIB * KIB * KIB,
        &["g", "G", "gb", "GB", "gi", "Gi", "gib", "GiB"],
    ),
    (
        KIB * KIB * KIB * KIB,
        &["t", "T", "tb", "TB", "ti", "Ti", "tib", "TiB"],
    ),
];

fn size_unit() -> impl Strategy<Value = (u64, &'static str)> {
    (0..SIZE_UNITS.len(), any::<prop::sample::Index>()).prop_map(|(power, pick)| {
        let (multiplier, spellings) = SIZE_UNITS[power];
        (multiplier, *pick.get(spellings))
    })
}

proptest! {
    #[test]
    fn sizes_with_units_are_the_right_bytes(
        (multiplier, unit) in size_unit(),
        pick in any::<u64>(),
        before in select(&["", " "][..]),
    ) {
        // Stay where f64 holds every integer exactly.
        let n = 1 + pick % ((1u64 << 53) / multiplier);
        prop_assert_eq!(parse_size(&format!("{before}{n}{unit}")), Ok(n * multiplier));
        prop_assert!(parse_size(&format!("-{n}{unit}")).is_err(), "a negative size was accepted");
        prop_assert!(parse_size(&format!("{n}{unit}x")).is_err(), "an unknown unit was accepted");
        prop_assert!(parse_size(&format!("0{unit}")).is_err(), "a zero size was accepted");
    }

    #[test]
    fn fractional_sizes_are_close(whole in 0u64..4096, hundredths in 0u64..100, (multiplier, unit) in size_unit()) {
        let text = format!("{whole}.{hundredths:02}{unit}");
        // The exact value, in hundredths of a byte.
        let exact = (whole * 100 + hundredths) * multiplier;
        match parse_size(&text) {
            Ok(bytes) => prop_assert!(bytes * 100 + 100 >= exact && bytes * 100 <= exact + 100, "{text} -> {bytes}"),
            Err(_) => prop_assert!(exact < 100, "{text} rejected"),
        }
    }

    #[test]
    fn cpu_counts_parse(whole in 1u32..=1_000_000, millis in 1u64..=1_000_000_000, fraction in 0u32..1000) {
        prop_assert_eq!(parse_cpus(&whole.to_string()), Ok(f64::from(whole)));
        let from_millis = parse_cpus(&format!("{millis}m"))?;
        prop_assert!((from_millis - millis as f64 / 1000.0).abs() <= 1e-9 * from_millis);
        if whole < 1_000_000 {
            let decimal = parse_cpus(&format!("{whole}.{fraction:03}"))?;
            let exact = f64::from(whole) + f64::from(fraction) / 1000.0;
            prop_assert!((decimal - exact).abs() <= 1e-9 * exact);
        }
        prop_assert!(parse_cpus(&format!("-{whole}")).is_err(), "a negative CPU count was accepted");
        prop_assert!(parse_cpus(&(u64::from(whole) + 1_000_000).to_string()).is_err(), "too many CPUs were accepted");
        prop_assert!(parse_cpus("0").is_err());
        prop_assert!(parse_cpus("0m").is_err());
    }

    #[test]
    fn seconds_parse(secs in 0u64..=7 * 24 * 3600, millis in 0u32..1000, beyond in 7 * 24 * 3600 + 1u64..1 << 40) {
        prop_assert_eq!(parse_seconds(&secs.to_string()), Ok(Duration::from_secs(secs)));
        let below_week = secs.min(7 * 24 * 3600 - 1);
        let with_fraction = parse_seconds(&format!("{below_week}.{millis:03}"))?;
        let exact = Duration::from_secs(below_week) + Duration::from_millis(u64::from(millis));
        prop_assert!(with_fraction.abs_diff(exact) <= Duration::from_micros(1));
        prop_assert!(parse_seconds(&beyond.to_string()).is_err());
        prop_assert!(parse_seconds(&format!("-{}", secs.max(1))).is_err(), "negative seconds were accepted");
    }

    #[test]
    fn percentages_parse(tenths in 1u32..=10_000, sign in select(&["", "%"][..])) {
        let text = format!("{}.{}{sign}", tenths / 10, tenths % 10);
        let value = parse_percent(&text)?;
        prop_assert!((value - f64::from(tenths) / 10.0).abs() < 1e-9);
        prop_assert!(parse_percent(&(1000 + tenths).to_string()).is_err(), "over 1000 % was accepted");
        prop_assert!(parse_percent(&format!("-{tenths}")).is_err(), "a negative percentage was accepted");
    }
}

// ---------------------------------------------------------------------------------------------
// Signals

/// A way a user may write `signal`: a number or a name, in any case, with or without `SIG`.
fn spelling(signal: i32) -> impl Strategy<Value = String> {
    let name = signal_name(signal);
    (0..4usize).prop_map(move |form| {
        let bare = name.strip_prefix("SIG").unwrap_or(&name).to_string();
        match form {
            0 => signal.to_string(),
            1 => name.clone(),
            2 => bare.to_ascii_lowercase(),
            _ => format!(" {bare} "),
        }
    })
}

proptest! {
    #[test]
    fn every_signal_spelling_parses(text in (1..=MAX_SIGNAL).prop_flat_map(|n| (Just(n), spelling(n)))) {
        let (signal, spelled) = text;
        prop_assert_eq!(parse_signal(&spelled, false), Ok(signal));
        prop_assert_eq!(parse_signal(&spelled, true), Ok(signal));
    }

    #[test]
    fn signal_numbers_outside_the_range_are_rejected(high in MAX_SIGNAL + 1.., low in i32::MIN..0) {
        prop_assert!(parse_signal(&high.to_string(), true).is_err());
        prop_assert!(parse_signal(&low.to_string(), true).is_err());
        prop_assert!(parse_signal("0", false).is_err());
        prop_assert_eq!(parse_signal("0", true), Ok(0));
    }

    #[test]
    fn rewrites_parse_back(
        (from, from_text) in (1..=MAX_SIGNAL).prop_flat_map(|n| (Just(n), spelling(n))),
        (to, to_text) in prop_oneof![
            Just((0, "0".to_string())),
            (1..=MAX_SIGNAL).prop_flat_map(|n| (Just(n), spelling(n))),
        ],
    ) {
        let parsed = parse_rewrite(&format!("{from_text}:{to_text}"));
        if from == libc::SIGKILL || from == libc::SIGSTOP {
            prop_assert!(parsed.is_err());
        } else {
            prop_assert_eq!(parsed, Ok(Rewrite { from, to }));
        }
        prop_assert!(parse_rewrite(&from_text).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Layout: where each controller's files are, from any mounts and memberships

const LAYOUT_CONTROLLERS: [&str; 6] =
    ["memory", "cpu", "cpuacct", "cpuset", "pids", "name=systemd"];
const MOUNT_POINTS: [&str; 9] = [
    "/sys/fs/cgroup",
    "/sys/fs/cgroup/memory",
    "/sys/fs/cgroup/cpu,cpuacct",
    "/sys/fs/cgroup/cpuset",
    "/sys/fs/cgroup/unified",
    "/memory",
    "/cpusets",
    "/cgroup-in",
    "/",
];

/// Paths from few components, so that roots and paths often share prefixes; `..` included.
fn layout_path() -> impl Strategy<Value = String> {
    vec(
        select(&["docker", "a", "b", "x y", "..", "kubepods"][..]),
        0..4,
    )
    .prop_map(|parts| format!("/{}", parts.join("/")))
}

fn layout_mount() -> impl Strategy<Value = (String, String, bool, Vec<String>)> {
    (
        layout_path(),
        select(&MOUNT_POINTS[..]),
        any::<bool>(),
        btree_set(select(&LAYOUT_CONTROLLERS[..]), 0..4),
    )
        .prop_map(|(root, mount_point, unified, set)| {
            let controllers = if unified {
                Vec::new()
            } else {
                set.into_iter().map(str::to_string).collect()
            };
            (root, mount_point.to_string(), unified, controllers)
        })
}

fn layout_membership() -> impl Strategy<Value = Membership> {
    (
        0u32..4,
        btree_set(select(&LAYOUT_CONTROLLERS[..]), 0..3),
        layout_path(),
    )
        .prop_map(|(hierarchy, set, path)| Membership {
            hierarchy,
            controllers: set.into_iter().map(str::to_string).collect(),
            path,
        })
}

/// `dir` is `mount_point` or below it, without climbing back out.
fn below(dir: &str, mount_point: &str) -> bool {
    let base = mount_point.trim_end_matches('/');
    dir == mount_point
        || dir
            .strip_prefix(base)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn check_placement(
    placement: &Placement,
    controller: Controller,
    mounts: &[CgroupMount],
    lines: &[Membership],
) -> Result<(), TestCaseError> {
    prop_assert!(
        below(&placement.dir, &placement.mount_point),
        "{placement:?}"
    );
    let rest = &placement.dir[placement.mount_point.trim_end_matches('/').len()..];
    prop_assert!(
        !rest.split('/').any(|part| part == ".."),
        "{placement:?} climbs out of its mount"
    );
    let name = controller.name();
    prop_assert!(
        mounts.iter().any(|m| m.mount_point == placement.mount_point
            && m.unified == placement.unified
            && (m.unified || m.controllers.iter().any(|c| c == name))),
        "{placement:?} is not on a mount that carries {name}"
    );
    let on_v1 = lines
        .iter()
        .any(|m| m.hierarchy != 0 && m.controllers.iter().any(|c| c == name));
    // A controller is on a v1 hierarchy exactly when /proc/self/cgroup lists it there.
    prop_assert_eq!(!placement.unified, on_v1, "{:?}", placement);

    let levels = placement.levels();
    prop_assert_eq!(levels.first(), Some(&placement.dir));
    prop_assert_eq!(levels.last(), Some(&placement.mount_point));
    for pair in levels.windows(2) {
        prop_assert!(
            pair[1].len() < pair[0].len() && pair[0].starts_with(pair[1].as_str()),
            "{levels:?}"
        );
    }
    Ok(())
}

fn check_layout(
    got: &Layout,
    mounts: &[CgroupMount],
    lines: &[Membership],
) -> Result<(), TestCaseError> {
    let placements = [
        (Controller::Memory, &got.memory),
        (Controller::Cpu, &got.cpu),
        (Controller::Cpuset, &got.cpuset),
    ];
    for (controller, placement) in placements {
        if let Some(placement) = placement {
            check_placement(placement, controller, mounts, lines)?;
            match got.mode {
                Mode::V1 => prop_assert!(!placement.unified),
                Mode::V2 => prop_assert!(placement.unified),
                Mode::Hybrid => {}
                Mode::None => prop_assert!(false, "mode none with {placement:?}"),
            }
        }
    }
    let version = got.mode.version();
    prop_assert_eq!(version.is_none(), got.mode == Mode::None);
    Ok(())
}

proptest! {
    #[test]
    fn layout_of_any_mounts_and_memberships_is_consistent(
        mounts in vec(layout_mount(), 0..6),
        lines in vec(layout_membership(), 0..5),
    ) {
        let mounts: Vec<CgroupMount> = mounts
            .into_iter()
            .enumerate()
            .map(|(line, (root, mount_point, unified, controllers))| CgroupMount {
                root,
                mount_point,
                unified,
                controllers,
                line,
            })
            .collect();
        let got = layout(&mounts, &lines);
        check_layout(&got, &mounts, &lines)?;
    }

    #[test]
    fn layout_of_parsed_near_valid_text_is_consistent(
        mount_lines in vec(mount_line(), 0..4),
        member_lines in vec(membership(), 0..4),
    ) {
        let mountinfo: String =
            mount_lines.iter().enumerate().flat_map(|(id, line)| [line.text(id), "\n".to_string()]).collect();
        let cgroup: String = member_lines.iter().flat_map(|line| [membership_text(line), "\n".to_string()]).collect();
        let mounts = cgroup_mounts(&mountinfo);
        let lines = memberships(&cgroup);
        check_layout(&layout(&mounts, &lines), &mounts, &lines)?;
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary text through every parser. One test, so that each case's text (the costly part) is
// made once and fed to all of them.

fn check_mountinfo(text: &str) -> Result<(), TestCaseError> {
    let line_count = text.lines().count();
    for mount in cgroup_mounts(text) {
        prop_assert!(mount.line < line_count);
        prop_assert!(!mount.unified || mount.controllers.is_empty());
        prop_assert!(mount.controllers.windows(2).all(|pair| pair[0] <= pair[1]));
    }
    prop_assert_eq!(unescape_octal(&escape_mountinfo(text)), text);
    if !text.contains('\\') {
        prop_assert_eq!(unescape_octal(text), text);
    }
    Ok(())
}

fn check_cgroup_file(text: &str) -> Result<(), TestCaseError> {
    for line in memberships(text) {
        prop_assert!(line.path.starts_with('/'));
    }
    Ok(())
}

fn check_values(text: &str, other: &str) -> Result<(), TestCaseError> {
    let trimmed = text.trim();
    if let Some(LimitValue::Value(n)) = limit_value(text) {
        prop_assert_eq!(trimmed.parse::<u64>().ok(), Some(n));
    }
    if let Some(n) = single_u64(text) {
        prop_assert!(trimmed.bytes().all(|b| b.is_ascii_digit()));
        prop_assert_eq!(trimmed.parse::<u64>().ok(), Some(n));
    }
    if let Some(n) = single_i64(text) {
        prop_assert_eq!(trimmed.parse::<i64>().ok(), Some(n));
    }
    if let Some(Some(quota)) = cpu_max(text) {
        prop_assert!(quota.quota_us > 0 && quota.period_us > 0);
    }
    // cpu.max is two fields or garbage.
    if cpu_max(text).is_some() {
        prop_assert_eq!(text.split_whitespace().count(), 2);
    }
    // Every /proc/cgroups row comes from a line of four fields.
    let four_field_lines = text
        .lines()
        .filter(|line| !line.starts_with('#') && line.split_whitespace().count() == 4)
        .count();
    prop_assert!(proc_cgroups(text).len() <= four_field_lines);
    if let Some(Some(quota)) = cfs_quota(text, other) {
        prop_assert!(quota.quota_us > 0 && quota.period_us > 0);
    }
    // Every range counts at least one CPU: only an empty list counts none.
    prop_assert_eq!(cpu_list_count(text) == Some(0), trimmed.is_empty());
    if let Some(value) = keyed_u64(text, "total_rss") {
        let has_line = text.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() == 2
                && fields[0] == "total_rss"
                && fields[1].parse::<u64>().ok() == Some(value)
        });
        prop_assert!(has_line, "no total_rss line holds {}", value);
    }
    if let Some(bytes) = meminfo_total(text) {
        prop_assert!(bytes % KIB == 0 && text.contains("MemTotal:"));
    }
    for name in controller_list(text) {
        prop_assert!(!name.is_empty() && !name.contains(char::is_whitespace));
    }
    Ok(())
}

fn check_units(text: &str) -> Result<(), TestCaseError> {
    if let Ok(bytes) = parse_size(text) {
        prop_assert!(bytes >= 1);
    }
    if let Ok(cpus) = parse_cpus(text) {
        prop_assert!(cpus.is_finite() && cpus > 0.0 && cpus <= 1_000_000.0);
    }
    if let Ok(seconds) = parse_seconds(text) {
        prop_assert!(seconds <= Duration::from_secs(7 * 24 * 3600));
    }
    if let Ok(percent) = parse_percent(text) {
        prop_assert!(percent > 0.0 && percent <= 1000.0);
    }
    Ok(())
}

fn check_signals(text: &str) -> Result<(), TestCaseError> {
    for allow_zero in [false, true] {
        if let Ok(n) = parse_signal(text, allow_zero) {
            prop_assert!((1..=MAX_SIGNAL).contains(&n) || (allow_zero && n == 0));
        }
    }
    if let Ok(Rewrite { from, to }) = parse_rewrite(text) {
        prop_assert!((1..=MAX_SIGNAL).contains(&from));
        prop_assert!(from != libc::SIGKILL && from != libc::SIGSTOP);
        prop_assert!((0..=MAX_SIGNAL).contains(&to));
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_a_parser(text in any_text(), other in near_text()) {
        for (first, second) in [(&text, &other), (&other, &text)] {
            check_mountinfo(first)?;
            check_cgroup_file(first)?;
            check_values(first, second)?;
            check_units(first)?;
            check_signals(first)?;
            let mounts = cgroup_mounts(first);
            let lines = memberships(second);
            check_layout(&layout(&mounts, &lines), &mounts, &lines)?;
        }
    }
}

/// Found by the `mountinfo` fuzz target: a line with a second lone `-` (which the kernel never
/// writes) was a v1 line to the filtered parse and a cgroup2 mount to the full one.
#[test]
fn a_mountinfo_line_with_two_separators_is_skipped_by_both_parses() {
    let text = "911 32 0:47 / /s:476 - cgroup relatime shared:10 - cgroup2 cgroup rw,nsdelegate\n";
    assert_eq!(cgroup_mounts(text), Vec::<CgroupMount>::new());
    check_mountinfo(text).unwrap();
}

/// Found by the `mountinfo` fuzz target: super options followed by more blank-separated text.
/// The full parse takes the first field (`rw,cpu`); the filter must not miss its controller.
#[test]
fn a_controller_before_more_text_in_the_super_options_is_found_by_both_parses() {
    let text = "40 30 0:36 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu more text\n";
    assert_eq!(cgroup_mounts(text).len(), 1);
    check_mountinfo(text).unwrap();
}

/// Found by the `mountinfo` fuzz target: `cpu=cpuacct` in the super options is the option `cpu`
/// to the full parse (key and value); the filter must see it too.
#[test]
fn a_controller_option_with_a_value_is_found_by_both_parses() {
    let text =
        "7 5 0:6 /docker /sys/fs/cgroup/cpu rw,relatime shared:4 - cgroup cgroup rw,cpu=cpuacct\n";
    assert_eq!(cgroup_mounts(text).len(), 1);
    check_mountinfo(text).unwrap();
}
