//! `/proc/self/mountinfo`: any text. The parsers must not panic, and the filtered parse must
//! keep exactly the mounts of the full parse that carry the controllers asked for.
#![no_main]

use jwrap::cgroup::parse::{cgroup_mounts, cgroup_mounts_carrying, is_fuse_mount, unescape_octal};
use libfuzzer_sys::fuzz_target;

const ASKED: [&str; 3] = ["memory", "cpu", "cpuset"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let all = cgroup_mounts(&text);
    let carrying = cgroup_mounts_carrying(&text, &ASKED);
    let expected: Vec<_> = all
        .iter()
        .filter(|m| m.unified || m.controllers.iter().any(|c| ASKED.contains(&c.as_str())))
        .cloned()
        .collect();
    assert_eq!(
        carrying, expected,
        "cgroup_mounts_carrying and cgroup_mounts disagree"
    );
    for mount in &all {
        let _ = is_fuse_mount(&text, &mount.mount_point);
    }
    let _ = is_fuse_mount(&text, "/sys/fs/cgroup");
    let _ = unescape_octal(&text);
});
