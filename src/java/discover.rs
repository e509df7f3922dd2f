//! Finding the JDK that COMMAND will run, and learning its version.
//!
//! The JDK is the one COMMAND runs: a COMMAND named `java` (a path, or found on PATH) is that
//! JDK; for any other COMMAND it is `$JAVA_HOME/bin/java`, else the `java` on PATH. Symlinks
//! are followed (`/usr/bin/java` → `/etc/alternatives/java` → `/usr/lib/jvm/.../bin/java`) to
//! the JDK's home, whose `release` file gives the version; `java -version` is run only when
//! that file is missing, COMMAND is `java` itself and JVM flags are not off. A `java` in a
//! relative PATH entry (an empty one is the current directory) is never looked at.
//!
//! These are real files of the image jwrap runs in, not of `--root` (which holds only `/proc`
//! and `/sys`). The reading is kept thin; everything it reads is parsed by `version`.

use super::version::{self, JdkFacts, ReleaseFile, VersionOutput};
use crate::config::Environment;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;
use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

/// How long `java -version` may take. A JVM answers in well under a second; one that hangs
/// must not hold up the container's start.
const VERSION_TIMEOUT: Duration = Duration::from_secs(2);

/// The search path `execvp` uses when PATH is not set (glibc's; musl adds /usr/local/bin).
pub(crate) const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Variables that hold JVM options: removed for `java -version`, so a user's option cannot
/// break or slow the probe (and no "Picked up ..." line appears).
const OPTION_VARIABLES: [&str; 3] = ["JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundBy {
    /// COMMAND itself is `java`.
    Command,
    JavaHome,
    Path,
}

/// Where the version came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionSource {
    ReleaseFile(PathBuf),
    JavaVersion,
    /// Neither worked: why.
    Unknown(String),
}

/// The JDK COMMAND will run.
#[derive(Debug, Clone, PartialEq)]
pub struct Jdk {
    /// The `java` as found (on PATH, in `JAVA_HOME`, or as COMMAND said).
    pub java: PathBuf,
    /// The same file with every symlink followed.
    pub resolved: PathBuf,
    /// The JDK's home (for JDK 8's `jre/bin/java`, the JDK above `jre`).
    pub home: PathBuf,
    pub found_by: FoundBy,
    /// How it was found, in words (for `info`).
    pub how: String,
    pub facts: JdkFacts,
    pub version_source: VersionSource,
    /// `IMPLEMENTOR` from the release file, or the runtime line of `java -version`.
    pub vendor: Option<String>,
    /// `JAVA_RUNTIME_VERSION`, or the build in `java -version`.
    pub runtime_version: Option<String>,
}

/// COMMAND's program is `java` (by name: `java`, `./java`, `/opt/jdk/bin/java`).
#[must_use]
pub fn program_is_java(command: &[OsString]) -> bool {
    crate::config::program_name(command).is_some_and(|name| name == "java")
}

/// Find the JDK for `command`. `None` when there is none to find.
#[must_use]
pub fn find(command: &[OsString], env: &Environment, may_run: bool) -> Option<Jdk> {
    let (java, found_by, how) = locate(command, env)?;
    let resolved = follow_links(&java);
    let home = home_of(&resolved);
    let (release, version_source) = read_release(&home);
    let mut jdk = Jdk {
        java,
        resolved,
        home,
        found_by,
        how,
        facts: JdkFacts::default(),
        version_source,
        vendor: None,
        runtime_version: None,
    };
    match release {
        Some(release) => apply_release(&mut jdk, &release),
        // `java -version` runs only for a COMMAND that runs java itself, and only when the
        // answer is used (JVM flags are not off).
        None if !(may_run && program_is_java(command)) => {
            jdk.version_source = VersionSource::Unknown(
                "no release file (`java -version` is run only when COMMAND is java)".to_string(),
            );
        }
        None => match run_java_version(&jdk.java, env) {
            Ok(text) => {
                if let Some(output) = version::parse_version_output(&text) {
                    apply_version_output(&mut jdk, &output)
                } else {
                    let first = text.lines().next().unwrap_or("").trim().to_string();
                    jdk.version_source = VersionSource::Unknown(format!(
                        "no release file, and `java -version` printed no version ({first:?})"
                    ));
                }
            }
            Err(why) => {
                jdk.version_source = VersionSource::Unknown(format!("no release file, and {why}"));
            }
        },
    }
    Some(jdk)
}

/// The `java` to look at, how it was found, and the words for it.
fn locate(command: &[OsString], env: &Environment) -> Option<(PathBuf, FoundBy, String)> {
    // Only absolute entries: jwrap never runs or reads a `java` that depends on where it was
    // started (`PATH=:/usr/bin` would otherwise mean `./java`).
    let path = env.get("PATH").unwrap_or(OsStr::new(DEFAULT_PATH));
    let absolute = std::env::split_paths(path).filter(|dir| dir.is_absolute());
    let search_path = std::env::join_paths(absolute).unwrap_or_default();
    let search_path = search_path.as_os_str();
    if program_is_java(command) {
        let program = command.first()?;
        let program_path = Path::new(program);
        if program_path.components().count() > 1 {
            return is_executable(program_path).then(|| {
                let how = format!("COMMAND's own, {}", program_path.display());
                (program_path.to_path_buf(), FoundBy::Command, how)
            });
        }
        let found = search(search_path, "java")?;
        let how = format!("COMMAND's own, found on PATH: {}", found.display());
        return Some((found, FoundBy::Command, how));
    }
    let mut how = String::new();
    if let Some(home) = env.get("JAVA_HOME").filter(|home| !home.is_empty()) {
        let java = Path::new(home).join("bin").join("java");
        if is_executable(&java) {
            let how = format!(
                "$JAVA_HOME/bin/java (JAVA_HOME={})",
                Path::new(home).display()
            );
            return Some((java, FoundBy::JavaHome, how));
        }
        how = format!(
            "JAVA_HOME={} has no bin/java, so ",
            Path::new(home).display()
        );
    }
    let found = search(search_path, "java")?;
    how.push_str(&format!("the java on PATH: {}", found.display()));
    Some((found, FoundBy::Path, how))
}

/// `name` in the directories of a PATH value, as `execvp` looks (an empty entry is the current
/// directory).
pub(crate) fn search(path: &OsStr, name: impl AsRef<Path>) -> Option<PathBuf> {
    let name = name.as_ref();
    let mut tried: Vec<PathBuf> = Vec::new();
    std::env::split_paths(path)
        // A directory listed twice is looked in once.
        .filter(|dir| {
            let first = !tried.contains(dir);
            if first {
                tried.push(dir.clone());
            }
            first
        })
        .map(|dir| {
            if dir.as_os_str().is_empty() {
                PathBuf::from(".").join(name)
            } else {
                dir.join(name)
            }
        })
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `java` with the symbolic links of its last component followed, as far as they go
/// (`/usr/bin/java` -> `/etc/alternatives/java` -> `/usr/lib/jvm/java-17/bin/java`): what finding
/// the JDK's home needs, for one `readlink` per link. A link target that climbs with `..` is
/// left to `canonicalize`, which resolves it as the kernel does (`..` of a linked directory is
/// its target's parent) at the price of a `readlink` for every component of every path.
fn follow_links(java: &Path) -> PathBuf {
    // The kernel's own limit on links followed in one lookup.
    const MAX_LINKS: usize = 40;
    let mut path = java.to_path_buf();
    for _ in 0..MAX_LINKS {
        let Ok(target) = std::fs::read_link(&path) else {
            return path;
        };
        if target.components().any(|part| part == Component::ParentDir) {
            return std::fs::canonicalize(&path).unwrap_or(path);
        }
        path = match path.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
    }
    path
}

/// The JDK's home from its resolved `java`: `HOME/bin/java`, or `JDK/jre/bin/java` (JDK 8),
/// whose home is `JDK`.
#[must_use]
pub fn home_of(resolved_java: &Path) -> PathBuf {
    let bin = resolved_java.parent().unwrap_or(Path::new("/"));
    let home = if bin.file_name() == Some(OsStr::new("bin")) {
        bin.parent().unwrap_or(bin)
    } else {
        bin
    };
    match home.parent() {
        Some(jdk) if home.file_name() == Some(OsStr::new("jre")) => jdk.to_path_buf(),
        _ => home.to_path_buf(),
    }
}

/// The release file: at the home, or in its `jre` (a JDK 8 whose root has none).
fn read_release(home: &Path) -> (Option<ReleaseFile>, VersionSource) {
    for path in [home.join("release"), home.join("jre").join("release")] {
        let text = crate::root::read_text(&path).ok();
        if let Some(text) = text {
            let release = version::parse_release(&text);
            if release.java_version.is_some() {
                return (Some(release), VersionSource::ReleaseFile(path));
            }
        }
    }
    (None, VersionSource::JavaVersion)
}

fn apply_release(jdk: &mut Jdk, release: &ReleaseFile) {
    let version = release
        .java_version
        .as_deref()
        .and_then(version::parse_version);
    if version.is_none() {
        jdk.version_source = VersionSource::Unknown(format!(
            "the release file's JAVA_VERSION {:?} is not a Java version",
            release.java_version.as_deref().unwrap_or("")
        ));
    }
    let implementor = release.implementor.as_deref().unwrap_or("");
    jdk.facts = JdkFacts {
        version,
        oracle: implementor.starts_with("Oracle")
            || release.build_type.as_deref() == Some("commercial"),
        openj9: release
            .jvm_variant
            .as_deref()
            .is_some_and(|variant| variant.eq_ignore_ascii_case("openj9")),
    };
    jdk.vendor = release.implementor.clone();
    jdk.runtime_version = release.runtime_version.clone();
}

fn apply_version_output(jdk: &mut Jdk, output: &VersionOutput) {
    let version = version::parse_version(&output.version);
    if version.is_none() {
        jdk.version_source = VersionSource::Unknown(format!(
            "`java -version` printed {:?}, which is not a Java version",
            output.version
        ));
    }
    jdk.facts = JdkFacts {
        version,
        oracle: output.oracle,
        openj9: output.openj9,
    };
    jdk.vendor = output.runtime.clone();
    jdk.runtime_version = output
        .runtime
        .as_deref()
        .and_then(|line| line.rsplit_once("(build "))
        .map(|(_, build)| build.trim_end_matches(')').to_string());
}

/// Run `java -version` and return what it printed on stderr, within `VERSION_TIMEOUT`. The
/// probe runs in a process group of its own, which is killed once it has answered or the time
/// is up, so nothing it started is left behind. No thread: the output is read here, with a
/// deadline.
fn run_java_version(java: &Path, env: &Environment) -> Result<String, String> {
    let mut command = Command::new(java);
    command
        .arg("-version")
        .env_clear()
        .envs(
            env.vars()
                .iter()
                .filter(|(name, _)| !OPTION_VARIABLES.iter().any(|v| name == v))
                .map(|(name, value)| (name, value)),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: runs in the child between fork and exec and makes one system call. jwrap blocks
    // every signal for itself; the probe starts with none blocked, like any program.
    unsafe {
        command.pre_exec(|| Ok(crate::launch::set_mask(0, None)?));
    }
    let mut child = command
        .spawn()
        .map_err(|err| format!("`{} -version` could not start: {err}", java.display()))?;
    let deadline = Instant::now() + VERSION_TIMEOUT;
    let output = child
        .stderr
        .take()
        .map(|stderr| read_until(stderr, deadline));
    let exited = finish(&mut child, deadline);
    match output {
        Some(Some(bytes)) if exited => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        _ => Err(format!(
            "`{} -version` did not answer within {} s",
            java.display(),
            VERSION_TIMEOUT.as_secs()
        )),
    }
}

/// Everything `pipe` gives until it is closed, or `None` at `deadline`. At most `MAX_OUTPUT`.
fn read_until(mut pipe: ChildStderr, deadline: Instant) -> Option<Vec<u8>> {
    const MAX_OUTPUT: usize = 64 * 1024;
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        let millis = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::from(millis)) {
            Ok(0) | Err(Errno::EINTR) => continue,
            Ok(_) => {}
            Err(_) => return None,
        }
        match pipe.read(&mut buffer) {
            Ok(0) => return Some(bytes),
            Ok(count) => {
                bytes.extend_from_slice(&buffer[..count]);
                if bytes.len() >= MAX_OUTPUT {
                    return Some(bytes);
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Wait for the probe until `deadline`, then kill its process group (the probe is not reaped
/// before that, so the group's id cannot be another's) and reap it. Whether it exited by itself.
fn finish(child: &mut Child, deadline: Instant) -> bool {
    let pid = Pid::from_raw(child.id() as i32);
    let exited_by_itself = loop {
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Ok(WaitStatus::StillAlive) => break false,
            Ok(_) => break true,
            Err(Errno::EINTR) => {}
            // A status nix cannot name (a real-time signal): the probe has ended.
            Err(_) => break true,
        }
    };
    let _ = killpg(pid, Signal::SIGKILL);
    let _ = child.wait();
    exited_by_itself
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_is_recognised_by_name() {
        let command = |words: &[&str]| words.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(program_is_java(&command(&["java", "-jar", "a.jar"])));
        assert!(program_is_java(&command(&["/opt/jdk/bin/java"])));
        assert!(program_is_java(&command(&["./java"])));
        assert!(!program_is_java(&command(&["javac"])));
        assert!(!program_is_java(&command(&["sh", "-c", "java"])));
        assert!(!program_is_java(&[]));
    }

    fn executable(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn the_java_command_runs_then_java_home_then_path() {
        let dir = tempfile::TempDir::new().unwrap();
        let on_path = dir.path().join("path/java");
        let in_home = dir.path().join("home/bin/java");
        let explicit = dir.path().join("explicit/bin/java");
        for java in [&on_path, &in_home, &explicit] {
            executable(java);
        }
        std::fs::create_dir_all(dir.path().join("empty-home")).unwrap();
        let path = dir.path().join("path");
        let home = dir.path().join("home");
        let env = |java_home: &Path| {
            Environment::from_pairs([
                ("PATH", path.as_os_str()),
                ("JAVA_HOME", java_home.as_os_str()),
            ])
        };
        let command = |words: &[&OsStr]| words.iter().map(|w| w.to_os_string()).collect::<Vec<_>>();
        let found = |command: &[OsString], env: &Environment| {
            locate(command, env).map(|(java, by, _)| (java, by))
        };

        let java = command(&[OsStr::new("java"), OsStr::new("-jar")]);
        assert_eq!(
            found(&java, &env(&home)),
            Some((on_path.clone(), FoundBy::Command))
        );
        let explicit_command = command(&[explicit.as_os_str()]);
        assert_eq!(
            found(&explicit_command, &env(&home)),
            Some((explicit.clone(), FoundBy::Command))
        );
        let missing = command(&[dir.path().join("nope/java").as_os_str()]);
        assert_eq!(found(&missing, &env(&home)), None);

        let script = command(&[OsStr::new("./start.sh")]);
        assert_eq!(
            found(&script, &env(&home)),
            Some((in_home, FoundBy::JavaHome))
        );
        let (java, by, how) = locate(&script, &env(&dir.path().join("empty-home"))).unwrap();
        assert_eq!((java, by), (on_path, FoundBy::Path));
        assert!(how.contains("has no bin/java"), "{how}");
        let nowhere = Environment::from_pairs([("PATH", dir.path().join("none").as_os_str())]);
        assert_eq!(found(&script, &nowhere), None);
    }

    #[test]
    fn links_to_java_are_followed_to_the_jdk() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::TempDir::new().unwrap();
        let real = dir.path().join("jvm/jdk-17/bin/java");
        executable(&real);
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::create_dir_all(dir.path().join("alternatives")).unwrap();
        // bin/java -> alternatives/java (absolute) -> ../jvm/jdk-17/bin/java (climbs with ..)
        symlink(
            dir.path().join("alternatives/java"),
            dir.path().join("bin/java"),
        )
        .unwrap();
        symlink(
            "../jvm/jdk-17/bin/java",
            dir.path().join("alternatives/java"),
        )
        .unwrap();
        let canonical = real.canonicalize().unwrap();
        assert_eq!(follow_links(&dir.path().join("bin/java")), canonical);
        // A relative link within its directory, no `..`: joined to the link's directory.
        symlink("java", dir.path().join("jvm/jdk-17/bin/java-link")).unwrap();
        assert_eq!(
            follow_links(&dir.path().join("jvm/jdk-17/bin/java-link")),
            real
        );
        assert_eq!(follow_links(&real), real);
        // A loop ends (at the kernel's limit) instead of hanging.
        symlink("loop-b", dir.path().join("bin/loop-a")).unwrap();
        symlink("loop-a", dir.path().join("bin/loop-b")).unwrap();
        let end = follow_links(&dir.path().join("bin/loop-a"));
        assert!(end.starts_with(dir.path().join("bin")), "{}", end.display());
    }

    #[test]
    fn homes_of_both_layouts() {
        assert_eq!(
            home_of(Path::new("/usr/lib/jvm/java-17-openjdk-amd64/bin/java")),
            Path::new("/usr/lib/jvm/java-17-openjdk-amd64")
        );
        assert_eq!(
            home_of(Path::new("/opt/jdk8/jre/bin/java")),
            Path::new("/opt/jdk8")
        );
        assert_eq!(home_of(Path::new("/opt/odd/java")), Path::new("/opt/odd"));
    }
}
