//! `/proc/self/cgroup`: any text. The parsers must not panic, and a line's membership does not
//! depend on its neighbours: parsing the text whole gives what parsing each line alone gives.
#![no_main]

use jwrap::cgroup::parse::{controller_list, memberships};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let all = memberships(&text);
    let line_by_line: Vec<_> = text.lines().flat_map(memberships).collect();
    assert_eq!(all, line_by_line, "a membership depends on the lines around it");
    let _ = controller_list(&text);
});
