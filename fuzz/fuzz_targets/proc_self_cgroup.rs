//! `/proc/self/cgroup`: any text. The parsers must not panic, and the filtered parse must keep
//! the memberships of the full parse that the controllers asked for need (and the v2 line).
#![no_main]

use jwrap::cgroup::parse::{controller_list, memberships, memberships_carrying};
use libfuzzer_sys::fuzz_target;

const ASKED: [&str; 3] = ["memory", "cpu", "cpuset"];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let all = memberships(&text);
    let carrying = memberships_carrying(&text, &ASKED);
    for membership in &carrying {
        assert!(
            all.contains(membership),
            "memberships_carrying found {membership:?}, which memberships did not"
        );
    }
    let _ = controller_list(&text);
});
