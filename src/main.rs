//! The `jwrap` binary.
//!
//! `#![no_main]` on purpose: Rust's runtime start-up sets SIGPIPE to "ignore" before `main`,
//! which would lose the disposition jwrap inherited, and the child must start with exactly the
//! signal mask and ignored signals jwrap was given. With our own C `main`, nothing runs before
//! the signals are blocked, and argv comes straight from the kernel (std's `args()` cannot see
//! it on musl without the runtime).

#![no_main]

use std::ffi::{CStr, OsString, c_char, c_int};
use std::os::unix::ffi::OsStrExt;

#[unsafe(no_mangle)]
pub extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    // Before anything else: a SIGTERM during start-up must be queued, then forwarded.
    let inherited = jwrap::init::block_signals();
    let args = arguments(argc, argv);
    jwrap::app::main(args, inherited)
}

/// argv without the program name.
fn arguments(argc: c_int, argv: *const *const c_char) -> Vec<OsString> {
    let count = usize::try_from(argc).unwrap_or(0);
    (1..count)
        .filter_map(|index| {
            // SAFETY: the C runtime passes `argc` valid, NUL-terminated strings in `argv`.
            let arg = unsafe { *argv.add(index) };
            (!arg.is_null()).then(|| {
                // SAFETY: `arg` is non-null and NUL-terminated (see above).
                let bytes = unsafe { CStr::from_ptr(arg) }.to_bytes();
                std::ffi::OsStr::from_bytes(bytes).to_os_string()
            })
        })
        .collect()
}
