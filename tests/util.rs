//! Shared by every test module: the binary under test with a clean environment, fixture paths,
//! and the skip convention.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The jwrap binary under test: `$JWRAP_BIN` when set (tests/arm64/run.sh runs a subset of
/// these tests with the arm64 binary behind an emulator that way), else the one Cargo built
/// for these tests.
pub fn jwrap_path() -> PathBuf {
    std::env::var_os("JWRAP_BIN")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_jwrap")), PathBuf::from)
}

/// `jwrap` with every variable that changes its behaviour removed: JWRAP_*, and the Java and
/// runtime variables the sizing reads.
pub fn jwrap() -> Command {
    let mut command = Command::new(jwrap_path());
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("JWRAP_")
            || [
                "JAVA_TOOL_OPTIONS",
                "JDK_JAVA_OPTIONS",
                "_JAVA_OPTIONS",
                "JAVA_HOME",
                "GOMAXPROCS",
                "GOMEMLIMIT",
                "NODE_OPTIONS",
                "DOTNET_GCHeapHardLimit",
                "DOTNET_PROCESSOR_COUNT",
                "PYTHON_CPU_COUNT",
            ]
            .contains(&name_text.as_ref())
        {
            command.env_remove(&name);
        }
    }
    command
}

/// `fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Print why a test did not run and return from it. Use as `skip!("needs root")`.
#[macro_export]
macro_rules! skip {
    ($($reason:tt)*) => {{
        eprintln!("SKIPPED {}: {}", module_path!(), format!($($reason)*));
        return;
    }};
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
