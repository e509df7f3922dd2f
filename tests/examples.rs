//! The examples in `examples/`, checked without Docker or Kubernetes: each Dockerfile's
//! ENTRYPOINT and the Deployment's command are run by the real binary, with their own options,
//! against a fake root and a fake JDK standing in for the image's; the results must be what the
//! example's comments promise. Shell scripts must parse, and the YAML must say what its
//! comments say.

use crate::util::{fixture, jwrap};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tempfile::TempDir;

/// Every directory in `examples/`, and the test that checks it. A new example fails
/// `every_example_is_checked` until it is added here with a test.
const CHECKED_EXAMPLES: [(&str, &str); 4] = [
    (
        "jdk8-legacy",
        "jdk8_legacy_gets_only_flags_jdk_8u181_accepts",
    ),
    ("scratch", "scratch_treats_the_jlinked_java_as_java"),
    (
        "launcher",
        "launcher_delivers_the_flags_through_java_tool_options",
    ),
    (
        "kubernetes",
        "kubernetes_command_limits_and_grace_period_agree",
    ),
];

/// The fake root the examples run against: a Kubernetes pod on cgroup v2 with 1 GiB and 1.5 CPUs
/// set on the pod's cgroup, on a 4-CPU host, so that a JVM would see the host.
const ROOT_FIXTURE: &str = "k8s-v2-pod-limit";

/// A directory on PATH that does not exist: PATH then finds only the fake JDK.
const NO_DIR: &str = "/nonexistent-jwrap-test-dir";

/// How long one jwrap run may take before the test gives up on it.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

pub fn repo_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn examples_dir() -> PathBuf {
    repo_dir().join("examples")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// A JDK at `home` whose `release` file says `java_version`. Its `bin/java` prints each
/// argument (`arg=`) and `JAVA_TOOL_OPTIONS`, then exits with $`FAKE_JAVA_EXIT` (default 0).
/// Shell built-ins only: the PATH of some tests holds no system directory.
pub fn fake_jdk(home: &Path, java_version: &str) -> PathBuf {
    fs::create_dir_all(home.join("bin")).unwrap();
    fs::write(
        home.join("release"),
        format!("JAVA_VERSION=\"{java_version}\"\nOS_NAME=\"Linux\"\n"),
    )
    .unwrap();
    let java = home.join("bin/java");
    fs::write(
        &java,
        "#!/bin/sh\n\
         for arg in \"$@\"; do printf 'arg=%s\\n' \"$arg\"; done\n\
         printf 'JAVA_TOOL_OPTIONS=%s\\n' \"$JAVA_TOOL_OPTIONS\"\n\
         exit \"${FAKE_JAVA_EXIT:-0}\"\n",
    )
    .unwrap();
    fs::set_permissions(&java, fs::Permissions::from_mode(0o755)).unwrap();
    java
}

/// The fake java's arguments and `JAVA_TOOL_OPTIONS`, as it printed them.
fn printed_by_fake_java(output: &Output) -> (Vec<String>, String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let args = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("arg="))
        .map(String::from)
        .collect();
    let tool_options = stdout
        .lines()
        .find_map(|line| line.strip_prefix("JAVA_TOOL_OPTIONS="))
        .unwrap_or_else(|| panic!("the fake java did not run; stdout: {stdout}"))
        .to_string();
    (args, tool_options)
}

/// Run `command` to its end, or kill it after `RUN_TIMEOUT` and fail.
pub fn output_within_timeout(command: &mut Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
    let pid = child.id();
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    if let Ok(output) = result.recv_timeout(RUN_TIMEOUT) {
        output.unwrap()
    } else {
        // SAFETY: kill has no memory-safety preconditions; pid is our unreaped child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
        panic!("{command:?} did not finish within {RUN_TIMEOUT:?}");
    }
}

/// Run `command` and require exit code 0.
pub fn succeed(command: &mut Command) -> Output {
    let output = output_within_timeout(command);
    assert!(
        output.status.success(),
        "{command:?} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn info_json(command: &mut Command) -> Value {
    let output = succeed(command);
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "{command:?}: not JSON ({err}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|item| {
            item.as_str()
                .unwrap_or_else(|| panic!("{item}"))
                .to_string()
        })
        .collect()
}

/// A PATH of `dirs` followed by a directory that does not exist.
fn path_of(dirs: &[&Path]) -> std::ffi::OsString {
    let dirs = dirs.iter().map(|d| d.to_path_buf());
    std::env::join_paths(dirs.chain([PathBuf::from(NO_DIR)])).unwrap()
}

/// An exec-form command line split where jwrap's own part ends: the program (`jwrap` or a path
/// to it), jwrap's options, and COMMAND after `--`.
#[derive(Debug)]
pub struct JwrapCommand {
    pub program: String,
    pub options: Vec<String>,
    pub command: Vec<String>,
}

impl JwrapCommand {
    /// `what` names the source in failure messages.
    pub fn split(argv: &[String], what: &str) -> JwrapCommand {
        let (program, rest) = argv
            .split_first()
            .unwrap_or_else(|| panic!("{what}: an empty command"));
        assert!(
            program == "jwrap" || program.ends_with("/jwrap"),
            "{what}: the command does not start with jwrap: {argv:?}"
        );
        // Written with `--`, the command can never be taken for one of jwrap's options.
        let dashes = rest
            .iter()
            .position(|arg| arg == "--")
            .unwrap_or_else(|| panic!("{what}: no `--` before the command: {argv:?}"));
        JwrapCommand {
            program: program.clone(),
            options: rest[..dashes].to_vec(),
            command: rest[dashes + 1..].to_vec(),
        }
    }

    /// `jwrap OPTIONS info --json --root ROOT -- COMMAND`: what running it would do.
    pub fn info(&self, root: &Path, command: &[String]) -> Command {
        let mut info = jwrap();
        info.args(&self.options)
            .args(["info", "--json", "--root"])
            .arg(root)
            .arg("--")
            .args(command);
        info
    }

    /// `jwrap OPTIONS --root ROOT -- COMMAND`: the entrypoint itself, against a fake root.
    pub fn run(&self, root: &Path, command: &[String]) -> Command {
        let mut run = jwrap();
        run.args(&self.options)
            .arg("--root")
            .arg(root)
            .arg("--")
            .args(command);
        run
    }
}

/// A Dockerfile's instructions, one string each: comments dropped, continuation lines joined.
pub fn instructions(dockerfile: &str) -> Vec<String> {
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(continued) = trimmed.strip_suffix('\\') {
            current.push_str(continued);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            instructions.push(std::mem::take(&mut current));
        }
    }
    instructions
}

/// The exec-form (JSON array) ENTRYPOINT of the last stage. A shell-form ENTRYPOINT would put a
/// shell in front of jwrap as PID 1, so it fails.
pub fn entrypoint(dockerfile: &str, what: &str) -> Vec<String> {
    let last = instructions(dockerfile)
        .into_iter()
        .filter_map(|i| {
            i.strip_prefix("ENTRYPOINT")
                .map(|rest| rest.trim().to_string())
        })
        .next_back()
        .unwrap_or_else(|| panic!("{what}: no ENTRYPOINT"));
    let array: Value = serde_json::from_str(&last)
        .unwrap_or_else(|err| panic!("{what}: ENTRYPOINT is not exec form (a JSON array): {err}"));
    strings(&array)
}

/// COPY instructions without `--from`: (source in the build context, destination in the image).
fn copies_from_context(dockerfile: &str) -> Vec<(String, String)> {
    instructions(dockerfile)
        .iter()
        .filter_map(|i| i.strip_prefix("COPY "))
        .filter(|rest| !rest.contains("--from"))
        .filter_map(|rest| {
            let words: Vec<&str> = rest
                .split_whitespace()
                .filter(|w| !w.starts_with("--"))
                .collect();
            match words.as_slice() {
                [source, destination] => Some((source.to_string(), destination.to_string())),
                _ => None,
            }
        })
        .collect()
}

/// Where the image holds `program`: a path as it is, a bare name in one of the usual PATH
/// directories of a Debian or Alpine image.
fn image_paths(program: &str) -> Vec<String> {
    if program.starts_with('/') {
        vec![program.to_string()]
    } else {
        ["/usr/local/bin", "/usr/bin", "/bin"]
            .iter()
            .map(|dir| format!("{dir}/{program}"))
            .collect()
    }
}

/// The example's Dockerfile, its ENTRYPOINT split at `--`, and its context-to-image copies.
fn dockerfile(example: &str) -> (JwrapCommand, Vec<(String, String)>) {
    let path = examples_dir().join(example).join("Dockerfile");
    let text = read(&path);
    let what = path.display().to_string();
    let entry = JwrapCommand::split(&entrypoint(&text, &what), &what);
    let copies = copies_from_context(&text);
    let jwrap_places = image_paths(&entry.program);
    assert!(
        copies.iter().any(|(_, to)| jwrap_places.contains(to)),
        "{what}: ENTRYPOINT runs {} but no COPY puts jwrap at {jwrap_places:?}: {copies:?}",
        entry.program
    );
    (entry, copies)
}

fn flag_present(flags: &[String], prefix: &str) -> bool {
    flags.iter().any(|flag| flag.starts_with(prefix))
}

#[test]
fn every_example_is_checked() {
    let mut found: Vec<String> = fs::read_dir(examples_dir())
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    let mut checked: Vec<String> = CHECKED_EXAMPLES
        .iter()
        .map(|(d, _)| d.to_string())
        .collect();
    checked.sort();
    assert_eq!(
        found, checked,
        "examples/ and CHECKED_EXAMPLES in tests/examples.rs differ: add a test for each new \
         example (checked now: {CHECKED_EXAMPLES:?})"
    );
    let readme = read(&examples_dir().join("README.md"));
    for (example, _) in CHECKED_EXAMPLES {
        assert!(
            readme.contains(&format!("`{example}/`")),
            "examples/README.md does not describe {example}/"
        );
    }
}

#[test]
fn jdk8_legacy_gets_only_flags_jdk_8u181_accepts() {
    let (entry, _) = dockerfile("jdk8-legacy");
    assert_eq!(
        entry.command.first().map(String::as_str),
        Some("java"),
        "{entry:?}"
    );
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("jdk8u181");
    fake_jdk(&home, "1.8.0_181");
    let bin = home.join("bin");
    let root = fixture(ROOT_FIXTURE);

    let info = info_json(
        entry
            .info(&root, &entry.command)
            .env("PATH", path_of(&[&bin])),
    );
    assert_eq!(info["java"]["version"], "1.8.0_181", "{info:#}");
    assert_eq!(
        info["java"]["blind"], true,
        "8u181 cannot see cgroups: {info:#}"
    );
    let cpus = &info["cpu"];
    assert!(
        cpus["effective"].as_u64() < info["host"]["cpus"].as_u64(),
        "the fixture must limit the CPUs below the host's for this test to mean anything: {info:#}"
    );
    let flags = strings(&info["jvm_flags"]);
    // The comments promise: -Xmx and -XX:MaxRAM, GC and compiler threads for the CPU limit,
    // and only flags every JDK 8 accepts (ActiveProcessorCount came in 8u191,
    // MaxRAMPercentage in 8u191 too).
    for wanted in [
        "-Xmx",
        "-XX:MaxRAM=",
        "-XX:ParallelGCThreads=",
        "-XX:CICompilerCount=",
    ] {
        assert!(flag_present(&flags, wanted), "no {wanted}: {flags:?}");
    }
    for unknown_to_8u181 in ["-XX:ActiveProcessorCount", "-XX:MaxRAMPercentage"] {
        assert!(
            !flags.iter().any(|f| f.contains(unknown_to_8u181)),
            "{unknown_to_8u181} would stop JDK 8u181 from starting: {flags:?}"
        );
    }

    // The entrypoint itself: the flags reach java as arguments, and the JVM's exit code 143
    // after a clean SIGTERM shutdown is reported as 0 (--success-exit).
    let output = output_within_timeout(
        entry
            .run(&root, &entry.command)
            .env("PATH", path_of(&[&bin]))
            .env("FAKE_JAVA_EXIT", "143"),
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let (args, _) = printed_by_fake_java(&output);
    assert_eq!(args[..flags.len()], flags[..], "{args:?}");
    assert_eq!(args[flags.len()..], entry.command[1..], "{args:?}");
}

#[test]
fn scratch_treats_the_jlinked_java_as_java() {
    let (entry, _) = dockerfile("scratch");
    let java_in_image = entry.command.first().cloned().unwrap_or_default();
    let java_home_in_image = java_in_image
        .strip_suffix("/bin/java")
        .unwrap_or_else(|| panic!("the command is not a JDK's bin/java: {entry:?}"));
    // The jlinked JRE (17, from Debian bookworm), at the same path below a temporary directory.
    let dir = TempDir::new().unwrap();
    let java = fake_jdk(
        &dir.path().join(java_home_in_image.trim_start_matches('/')),
        "17.0.13",
    );
    let mut command = entry.command.clone();
    command[0] = java.to_string_lossy().into_owned();
    let root = fixture(ROOT_FIXTURE);

    // No PATH in a scratch image: the java is the command's own.
    let info = info_json(entry.info(&root, &command).env("PATH", path_of(&[])));
    assert_eq!(info["java"]["path"], command[0].as_str(), "{info:#}");
    assert_eq!(info["java"]["found_by"], "command", "{info:#}");
    assert_eq!(info["java"]["delivery"], "arguments", "{info:#}");
    let flags = strings(&info["jvm_flags"]);
    // A JDK before 24 does not see a limit set only on the pod's cgroup: jwrap tells it.
    assert!(flag_present(&flags, "-XX:MaxRAM="), "{flags:?}");

    let output = succeed(entry.run(&root, &command).env("PATH", path_of(&[])));
    let (args, tool_options) = printed_by_fake_java(&output);
    assert_eq!(args[..flags.len()], flags[..], "{args:?}");
    assert_eq!(args[flags.len()..], command[1..], "{args:?}");
    assert!(tool_options.is_empty(), "{tool_options}");
}

#[test]
fn launcher_delivers_the_flags_through_java_tool_options() {
    let (entry, copies) = dockerfile("launcher");
    let example = examples_dir().join("launcher");
    // The script the image runs is the one next to the Dockerfile.
    let script_in_image = entry.command.first().cloned().unwrap_or_default();
    let (script_name, _) = copies
        .iter()
        .find(|(_, to)| *to == script_in_image)
        .unwrap_or_else(|| panic!("no COPY puts {script_in_image} in the image: {copies:?}"));
    let script = example.join(script_name);
    let mode = fs::metadata(&script).unwrap().permissions().mode();
    assert!(
        mode & 0o111 != 0,
        "{} is not executable: the image could not run it (126)",
        script.display()
    );
    let mut command = entry.command.clone();
    command[0] = script.to_string_lossy().into_owned();

    let dir = TempDir::new().unwrap();
    let home = dir.path().join("temurin17");
    fake_jdk(&home, "17.0.13");
    let bin = home.join("bin");
    // The fake java first, then the system for the script's own `sh`.
    let path = || path_of(&[&bin, Path::new("/usr/bin"), Path::new("/bin")]);
    let root = fixture(ROOT_FIXTURE);

    let info = info_json(entry.info(&root, &command).env("PATH", path()));
    assert_eq!(info["java"]["delivery"], "JAVA_TOOL_OPTIONS", "{info:#}");
    let flags = strings(&info["jvm_flags"]);
    assert!(flag_present(&flags, "-XX:MaxRAM="), "{flags:?}");

    let output = succeed(entry.run(&root, &command).env("PATH", path()));
    let (args, tool_options) = printed_by_fake_java(&output);
    let delivered: Vec<&str> = tool_options.split_whitespace().collect();
    assert_eq!(delivered, flags, "JAVA_TOOL_OPTIONS: {tool_options}");
    // The script's own java command, untouched.
    assert!(
        !args.iter().any(|a| flags.contains(a)),
        "flags in the arguments as well: {args:?}"
    );
    for word in ["-cp", "com.example.shop.Main"] {
        assert!(args.iter().any(|a| a == word), "{word} missing: {args:?}");
    }
}

#[test]
fn shell_scripts_parse() {
    let mut scripts = Vec::new();
    for entry in fs::read_dir(examples_dir()).unwrap() {
        let dir = entry.unwrap().path();
        if dir.is_dir() {
            for file in fs::read_dir(&dir).unwrap() {
                let file = file.unwrap().path();
                if file.extension().is_some_and(|e| e == "sh") {
                    scripts.push(file);
                }
            }
        }
    }
    assert!(!scripts.is_empty(), "no shell scripts found in examples/");
    for script in scripts {
        let output = Command::new("sh").arg("-n").arg(&script).output().unwrap();
        assert!(
            output.status.success(),
            "sh -n {}: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Bytes in a Kubernetes quantity (`1Gi`, `512Mi`, `1G`, `1073741824`), as the downward API
/// reports `limits.memory` with the default divisor of 1.
fn quantity_bytes(quantity: &str) -> Option<u64> {
    const SUFFIXES: [(&str, u64); 8] = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("Ti", 1 << 40),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
        ("T", 1_000_000_000_000),
    ];
    let (number, unit) = SUFFIXES
        .iter()
        .find_map(|(suffix, unit)| quantity.strip_suffix(suffix).map(|n| (n, *unit)))
        .unwrap_or((quantity, 1));
    number.parse::<u64>().ok()?.checked_mul(unit)
}

#[test]
fn kubernetes_quantities_in_bytes() {
    assert_eq!(quantity_bytes("1Gi"), Some(1_073_741_824));
    assert_eq!(quantity_bytes("512Mi"), Some(536_870_912));
    assert_eq!(quantity_bytes("2G"), Some(2_000_000_000));
    assert_eq!(quantity_bytes("1073741824"), Some(1_073_741_824));
    assert_eq!(quantity_bytes("1.5Gi"), None);
}

/// The YAML documents of `path` as JSON, through python3's yaml module; `Err` says why that
/// module cannot be used.
fn yaml_documents(path: &Path) -> Result<Vec<Value>, String> {
    const TO_JSON: &str = "import json, sys, yaml; json.dump(list(yaml.safe_load_all(open(sys.argv[1]))), sys.stdout)";
    let output = Command::new("python3")
        .args(["-c", "import yaml"])
        .output()
        .map_err(|err| format!("no python3: {err}"))?;
    if !output.status.success() {
        return Err("python3 has no yaml module (Debian: python3-yaml)".to_string());
    }
    let output = Command::new("python3")
        .args(["-c", TO_JSON])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{} is not valid YAML: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(serde_json::from_slice(&output.stdout).unwrap())
}

/// A container's variables with literal values.
fn literal_env(container: &Value) -> BTreeMap<String, String> {
    container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|var| Some((var["name"].as_str()?.into(), var["value"].as_str()?.into())))
        .collect()
}

/// The value of `--name VALUE` or `--name=VALUE` in `options`.
fn option_value<'a>(options: &'a [String], name: &str) -> Option<&'a str> {
    let prefix = format!("{name}=");
    options.iter().enumerate().find_map(|(i, option)| {
        if option == name {
            options.get(i + 1).map(String::as_str)
        } else {
            option.strip_prefix(&prefix)
        }
    })
}

#[test]
fn kubernetes_command_limits_and_grace_period_agree() {
    let path = examples_dir().join("kubernetes/deployment.yaml");
    let documents = match yaml_documents(&path) {
        Ok(documents) => documents,
        Err(reason) => crate::skip!("{reason}"),
    };
    let pod = documents
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .map_or_else(
            || panic!("no Deployment in {}", path.display()),
            |d| &d["spec"]["template"]["spec"],
        );
    let containers = pod["containers"].as_array().cloned().unwrap_or_default();
    let container = containers
        .iter()
        .find(|c| {
            c["command"][0]
                .as_str()
                .is_some_and(|p| p.ends_with("jwrap"))
        })
        .unwrap_or_else(|| panic!("no container runs jwrap: {pod:#}"));
    // The container runs `command` followed by `args`.
    let mut argv = strings(&container["command"]);
    if !container["args"].is_null() {
        argv.extend(strings(&container["args"]));
    }
    let entry = JwrapCommand::split(&argv, &path.display().to_string());
    let env = literal_env(container);

    // Shutdown: the held SIGTERM plus the time to SIGKILL must end before the kubelet's own
    // SIGKILL at the end of the grace period, so jwrap decides how the pod ends.
    let grace = pod["terminationGracePeriodSeconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("no terminationGracePeriodSeconds: {pod:#}"));
    let seconds = |option: &str, variable: &str| {
        option_value(&entry.options, option)
            .or(env.get(variable).map(String::as_str))
            .map(|text| {
                jwrap::units::parse_seconds(text)
                    .unwrap_or_else(|err| panic!("{option} {text}: {}", err.0))
                    .as_secs_f64()
            })
    };
    let term_delay = seconds("--term-delay", "JWRAP_TERM_DELAY").unwrap_or(0.0);
    let kill_after = seconds("--kill-after", "JWRAP_KILL_AFTER")
        .unwrap_or_else(|| panic!("without --kill-after the kubelet, not jwrap, ends the pod"));
    assert!(
        term_delay + kill_after < grace,
        "--term-delay {term_delay} + --kill-after {kill_after} does not fit in \
         terminationGracePeriodSeconds {grace}"
    );

    let limits = &container["resources"]["limits"];
    for resource in ["memory", "cpu"] {
        assert!(
            !limits[resource].is_null(),
            "no limits.{resource}: {container:#}"
        );
    }
    let memory_limit = limits["memory"].as_str().unwrap_or_default();
    let limit_bytes = quantity_bytes(memory_limit)
        .unwrap_or_else(|| panic!("limits.memory {memory_limit}: not a quantity"));

    // The downward API variable: limits.memory of this container, in bytes (divisor 1).
    let downward = container["env"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|var| var["name"] == "JWRAP_MEMORY_LIMIT")
        .map_or_else(
            || panic!("no JWRAP_MEMORY_LIMIT from the downward API: {container:#}"),
            |var| &var["valueFrom"]["resourceFieldRef"],
        );
    assert_eq!(downward["resource"], "limits.memory", "{downward:#}");
    assert!(
        downward["containerName"].is_null() || downward["containerName"] == container["name"],
        "{downward:#}"
    );
    assert!(
        downward["divisor"].is_null() || downward["divisor"] == "1",
        "a divisor would make JWRAP_MEMORY_LIMIT a count of units, read as bytes: {downward:#}"
    );

    // The options parse and run, as `info`, with a fake JDK.
    let dir = TempDir::new().unwrap();
    let home = dir.path().join("jdk17");
    fake_jdk(&home, "17.0.13");
    let bin = home.join("bin");
    let info = info_json(
        entry
            .info(&fixture(ROOT_FIXTURE), &entry.command)
            .env("PATH", path_of(&[&bin])),
    );
    assert!(
        flag_present(&strings(&info["jvm_flags"]), "-Xmx"),
        "{info:#}"
    );

    // Where the cgroup files are not visible, the variable is the limit.
    let info = info_json(
        entry
            .info(&fixture("no-cgroup-mounts"), &entry.command)
            .env("PATH", path_of(&[&bin]))
            .env("JWRAP_MEMORY_LIMIT", limit_bytes.to_string()),
    );
    assert_eq!(info["memory"]["limit_bytes"], limit_bytes, "{info:#}");
    assert_eq!(info["memory"]["source"], "JWRAP_MEMORY_LIMIT", "{info:#}");
}
