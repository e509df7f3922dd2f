//! `/proc/self/mountinfo`: any text. The parsers must not panic, and a line's mount does not
//! depend on its neighbours: parsing the text whole gives what parsing each line alone gives
//! (one odd line is skipped, never fatal, and never changes another line's answer).
#![no_main]

use jwrap::cgroup::parse::{cgroup_mounts, is_fuse_mount, unescape_octal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let all = cgroup_mounts(&text);
    let line_by_line: Vec<_> = text
        .lines()
        .enumerate()
        .flat_map(|(index, line)| {
            cgroup_mounts(line).into_iter().map(move |mut mount| {
                mount.line = index;
                mount
            })
        })
        .collect();
    assert_eq!(all, line_by_line, "a mount depends on the lines around it");
    for mount in &all {
        let _ = is_fuse_mount(&text, &mount.mount_point);
    }
    let _ = is_fuse_mount(&text, "/sys/fs/cgroup");
    let _ = unescape_octal(&text);
});
