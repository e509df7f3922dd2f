//! Real cgroup v1 groups for tests: run a command inside a memory, cpu, cpuacct and cpuset cgroup
//! of this machine, optionally in a private cgroup namespace (Docker `--cgroupns=private`) and a
//! PID namespace (the command is PID 1).
//!
//! The groups are made and removed with the `cgroups-rs` crate, below the test process's own
//! cgroup in each hierarchy (on this host the memory one is `/process_api/<id>`, the others `/`).
//! Traps of that crate handled here: it treats a hybrid host as v1 (right: the controllers are
//! there) and it creates a group in *every* v1 hierarchy, so `Controllers` narrows it to the four
//! that matter; relative paths only apply with a non-empty group path, which ours always is.
//!
//! The kernel enforces the limits for real: a command that goes over the memory limit is
//! OOM-killed inside the group (exit status 137), and swap is closed (`memory.memsw` = the memory
//! limit) so that it happens at the limit, not after the host's swap fills.
//!
//! `command()` runs `sh`, which writes its own PID into `cgroup.procs` of each group and then
//! execs the program (through `unshare` for the namespace modes), so the program starts inside
//! the group. When a join or a namespace set-up step fails, the command prints `realcg: ...` on
//! stderr and exits with `SETUP_FAILED`.

use cgroups_rs::fs::cgroup::{existing_path, get_cgroups_relative_paths};
use cgroups_rs::fs::cpu::CpuController;
use cgroups_rs::fs::cpuset::CpuSetController;
use cgroups_rs::fs::hierarchies::{V1, is_cgroup2_unified_mode};
use cgroups_rs::fs::memory::MemController;
use cgroups_rs::fs::{Cgroup, Hierarchy, Subsystem};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Exit status of a command whose cgroup join or namespace set-up failed (not the program's):
/// the `exit 121` of the scripts below.
pub const SETUP_FAILED: i32 = 121;

/// Where the v1 hierarchies are mounted, and what the private cgroup namespace remounts.
const CGROUP_FS: &str = "/sys/fs/cgroup";

/// Every group this module makes is named `realcg.<test process pid>.<counter>.<name>`.
const NAME_PREFIX: &str = "realcg.";

/// How long `Drop` waits for killed processes to leave a group before removing it anyway.
const EXIT_WAIT: Duration = Duration::from_secs(5);

/// Joins the group, then execs the rest. `$@`: the `cgroup.procs` files, `--`, the command.
const JOIN_AND_EXEC: &str = r#"while [ "$1" != -- ]; do
  echo $$ > "$1" || { echo "realcg: cannot join the cgroup $1" >&2; exit 121; }
  shift
done
shift
exec "$@""#;

/// Runs in the new mount and cgroup namespaces: replaces the host's view of /sys/fs/cgroup with
/// fresh mounts of every hierarchy, whose root is now the group itself, as a container runtime
/// does; no host mount is left below them in mountinfo. `$@`: triples `cgroup NAME OPTIONS`,
/// `cgroup2 NAME OPTIONS` or `link NAME TARGET`, then `--`, then the command.
const REMOUNT_AND_EXEC: &str = r#"fail() { echo "realcg: $1 failed" >&2; exit 121; }
umount -R /sys/fs/cgroup || fail "umount -R /sys/fs/cgroup"
mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup || fail "mount tmpfs on /sys/fs/cgroup"
while [ "$1" != -- ]; do
  kind=$1 name=$2 arg=$3
  shift 3
  case $kind in
    link) ln -s "$arg" "/sys/fs/cgroup/$name" || fail "ln -s $arg $name" ;;
    *) mkdir "/sys/fs/cgroup/$name" && mount -t "$kind" -o "$arg" "$kind" "/sys/fs/cgroup/$name" \
         || fail "mount -t $kind -o $arg on /sys/fs/cgroup/$name" ;;
  esac
done
shift
exec "$@""#;

/// The limits a group gets. `Default`: no limit, and the kernel's default CFS period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub cpu_quota_us: Option<u64>,
    pub cpu_period_us: u64,
    /// `cpuset.cpus`, e.g. `"0"` or `"0-1"`; `None` keeps the parent's CPUs.
    pub cpuset: Option<String>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: None,
            cpu_quota_us: None,
            cpu_period_us: 100_000,
            cpuset: None,
        }
    }
}

/// What the command sees besides its cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespaces {
    /// The host's namespaces: `/proc/self/cgroup` shows the group's full path below the mount
    /// root, and `/sys/fs/cgroup/memory` is the host's root group.
    Host,
    /// A private cgroup namespace with the hierarchies remounted: the command sees its group as
    /// `/`, and its limits in `/sys/fs/cgroup/<controller>/` (Docker `--cgroupns=private`).
    PrivateCgroup,
    /// `PrivateCgroup`, and a PID namespace in which the command is PID 1 (with its own /proc).
    PrivateCgroupAndPid,
}

/// One real cgroup in the memory, cpu, cpuacct and cpuset hierarchies; removed on drop, with
/// every process still in it (or below it) killed first.
#[derive(Debug)]
pub struct RealCgroup {
    cgroup: Cgroup,
    /// The group's path relative to the test process's own group in each hierarchy.
    relative_path: String,
    memory_dir: PathBuf,
    cpu_dir: PathBuf,
    cpuset_dir: PathBuf,
    /// All the group's directories (cpuacct too, when mounted), without duplicates: where
    /// `command()` joins and what `Drop` empties.
    dirs: Vec<PathBuf>,
    /// What `Namespaces::PrivateCgroup` remounts: the arguments of `REMOUNT_AND_EXEC`.
    remount_spec: Vec<String>,
}

impl RealCgroup {
    /// Make a group below the test process's own groups, with `limits`.
    ///
    /// Err(reason) when this machine cannot do it (not root, no writable cgroup v1 memory, cpu
    /// and cpuset hierarchies): callers `skip!` with the reason.
    pub fn create(name: &str, limits: Limits) -> Result<RealCgroup, String> {
        machine_can_create()?;
        sweep_stale_groups_once();
        RealCgroup::make(unique_name(name)?, limits)
    }

    /// A group below this one, with its own limits (e.g. none, to test that a parent's limit
    /// is found from a child).
    pub fn child(&self, name: &str, limits: Limits) -> Result<RealCgroup, String> {
        RealCgroup::make(
            format!("{}/{}", self.relative_path, unique_name(name)?),
            limits,
        )
    }

    /// A command that runs `program args` inside the group, in the namespaces `ns`. The program
    /// is already in the group when it starts.
    ///
    /// With `Host` and `PrivateCgroup` the spawned child *is* the program (each step execs the
    /// next), so its PID and signals reach the program. With `PrivateCgroupAndPid` the child is
    /// `unshare`, which forks the program as PID 1 of the new namespace and does not forward
    /// signals: signal the program through the PIDs in `memory_dir()/cgroup.procs`. Killing
    /// the child kills the program (`--kill-child`).
    pub fn command(
        &self,
        ns: Namespaces,
        program: impl AsRef<OsStr>,
        args: &[impl AsRef<OsStr>],
    ) -> Command {
        let mut command = Command::new("sh");
        command.arg("-c").arg(JOIN_AND_EXEC).arg("realcg-join");
        command.args(self.dirs.iter().map(|dir| dir.join("cgroup.procs")));
        command.arg("--");
        match ns {
            Namespaces::Host => {}
            Namespaces::PrivateCgroup | Namespaces::PrivateCgroupAndPid => {
                // --kill-child: killing the returned child (a test's timeout) kills the
                // program too, instead of leaving it running in the group.
                command.args(["unshare", "--cgroup", "--mount"]);
                if ns == Namespaces::PrivateCgroupAndPid {
                    command.args(["--pid", "--fork", "--mount-proc", "--kill-child"]);
                }
                command.args(["--", "sh", "-c", REMOUNT_AND_EXEC, "realcg-remount"]);
                command.args(&self.remount_spec);
                command.arg("--");
            }
        }
        command.arg(program).args(args);
        command
    }

    /// `command` in the host's namespaces, with the environment `util::jwrap()` gives: none of
    /// the variables jwrap reads or sets, so a runtime in the group sizes itself as it would alone.
    pub fn clean_command(&self, program: impl AsRef<OsStr>, args: &[impl AsRef<OsStr>]) -> Command {
        let mut command = self.command(Namespaces::Host, program, args);
        for (name, value) in crate::util::jwrap().get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command
    }

    /// The real path of the group's memory directory.
    pub fn memory_dir(&self) -> PathBuf {
        self.memory_dir.clone()
    }

    /// The real path of the group's cpu directory.
    pub fn cpu_dir(&self) -> PathBuf {
        self.cpu_dir.clone()
    }

    /// The real path of the group's cpuset directory.
    pub fn cpuset_dir(&self) -> PathBuf {
        self.cpuset_dir.clone()
    }

    /// Make the group `relative_path` (below the test process's own groups) and set its limits.
    fn make(relative_path: String, limits: Limits) -> Result<RealCgroup, String> {
        let own_paths = get_cgroups_relative_paths()
            .and_then(existing_path)
            .map_err(|err| format!("cannot read this process's cgroups: {err}"))?;
        let cgroup = Cgroup::load_with_relative_paths(
            Box::new(Controllers(V1::new())),
            &relative_path,
            own_paths,
        );
        let dir_of = |wanted: fn(&Subsystem) -> bool, what: &str| {
            cgroup
                .subsystems()
                .iter()
                .find(|subsystem| wanted(subsystem))
                .map(|subsystem| subsystem.to_controller().path().to_path_buf())
                .ok_or_else(|| format!("no cgroup v1 {what} hierarchy is mounted"))
        };
        let memory_dir = dir_of(|s| matches!(s, Subsystem::Mem(_)), "memory")?;
        let cpu_dir = dir_of(|s| matches!(s, Subsystem::Cpu(_)), "cpu")?;
        let cpuset_dir = dir_of(|s| matches!(s, Subsystem::CpuSet(_)), "cpuset")?;
        let mut dirs: Vec<PathBuf> = Vec::new();
        for subsystem in cgroup.subsystems() {
            let dir = subsystem.to_controller().path().to_path_buf();
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        let group = RealCgroup {
            cgroup,
            relative_path,
            memory_dir,
            cpu_dir,
            cpuset_dir,
            dirs,
            remount_spec: remount_spec()?,
        };
        // From here on an error drops the group, which removes what was made of it.
        // cgroups-rs copies cpuset.cpus and cpuset.mems from the parent when it makes the
        // cpuset group: without them no process could join it.
        group
            .cgroup
            .create()
            .map_err(|err| format!("cannot create cgroup {}: {err}", group.relative_path))?;
        group.apply(&limits)?;
        Ok(group)
    }

    fn apply(&self, limits: &Limits) -> Result<(), String> {
        let context = |what: &str, err: &dyn std::fmt::Display| {
            format!("cgroup {}: cannot set {what}: {err}", self.relative_path)
        };
        let memory: &MemController = self
            .cgroup
            .controller_of()
            .ok_or_else(|| context("memory", &"no memory controller"))?;
        // A parent that disabled the OOM killer passes that on to new groups; the tests want
        // the kernel's kill at the limit.
        std::fs::write(self.memory_dir.join("memory.oom_control"), "0")
            .map_err(|err| context("memory.oom_control", &err))?;
        if let Some(bytes) = limits.memory_bytes {
            let bytes = i64::try_from(bytes).map_err(|err| context("memory limit", &err))?;
            memory
                .set_limit(bytes)
                .map_err(|err| context("memory.limit_in_bytes", &err))?;
            // memory+swap = memory: no swap, so going over the limit is an OOM kill. The file
            // exists only when the kernel accounts swap.
            if self.memory_dir.join("memory.memsw.limit_in_bytes").exists() {
                memory
                    .set_memswap_limit(bytes)
                    .map_err(|err| context("memory.memsw.limit_in_bytes", &err))?;
            }
        }
        let cpu: &CpuController = self
            .cgroup
            .controller_of()
            .ok_or_else(|| context("cpu", &"no cpu controller"))?;
        cpu.set_cfs_period(limits.cpu_period_us)
            .map_err(|err| context("cpu.cfs_period_us", &err))?;
        if let Some(quota) = limits.cpu_quota_us {
            let quota = i64::try_from(quota).map_err(|err| context("cpu quota", &err))?;
            cpu.set_cfs_quota(quota)
                .map_err(|err| context("cpu.cfs_quota_us", &err))?;
        }
        if let Some(cpus) = &limits.cpuset {
            let cpuset: &CpuSetController = self
                .cgroup
                .controller_of()
                .ok_or_else(|| context("cpuset", &"no cpuset controller"))?;
            cpuset
                .set_cpus(cpus)
                .map_err(|err| context("cpuset.cpus", &err))?;
        }
        Ok(())
    }
}

impl Drop for RealCgroup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            empty_and_remove_below(dir);
        }
        if let Err(err) = self.cgroup.delete() {
            eprintln!(
                "realcg: could not remove cgroup {}: {err}",
                self.relative_path
            );
        }
    }
}

/// The v1 hierarchy, narrowed to the controllers the tests limit: cgroups-rs would otherwise
/// make the group in every hierarchy (devices, freezer, pids, ...).
#[derive(Debug)]
struct Controllers(V1);

impl Hierarchy for Controllers {
    fn subsystems(&self) -> Vec<Subsystem> {
        self.0
            .subsystems()
            .into_iter()
            .filter(|subsystem| {
                matches!(
                    subsystem,
                    Subsystem::Mem(_)
                        | Subsystem::Cpu(_)
                        | Subsystem::CpuAcct(_)
                        | Subsystem::CpuSet(_)
                )
            })
            .collect()
    }

    fn root(&self) -> PathBuf {
        self.0.root()
    }

    fn root_control_group(&self) -> Cgroup {
        self.0.root_control_group()
    }

    fn parent_control_group(&self, path: &str) -> Cgroup {
        self.0.parent_control_group(path)
    }

    fn v2(&self) -> bool {
        false
    }
}

fn machine_can_create() -> Result<(), String> {
    if !crate::util::is_root() {
        return Err("real cgroups need root".to_string());
    }
    if is_cgroup2_unified_mode() {
        return Err(format!(
            "{CGROUP_FS} is cgroup v2 only; these tests use cgroup v1"
        ));
    }
    Ok(())
}

/// `realcg.<pid>.<counter>.<name>`: unique among parallel tests and test processes.
fn unique_name(name: &str) -> Result<String, String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    if name.is_empty() || name.contains(['/', '\n']) || name.starts_with('.') {
        return Err(format!("bad cgroup name {name:?}"));
    }
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(format!(
        "{NAME_PREFIX}{}.{counter}.{name}",
        std::process::id()
    ))
}

/// A test process killed outright (a CI timeout) leaves its groups, and whatever ran in them,
/// behind: the first `create` of a later run removes the groups of processes that are gone.
fn sweep_stale_groups_once() {
    static SWEEP: Once = Once::new();
    SWEEP.call_once(|| {
        let Ok(own_paths) = get_cgroups_relative_paths().and_then(existing_path) else {
            return;
        };
        let parents = Controllers(V1::new())
            .subsystems()
            .into_iter()
            .filter_map(|subsystem| {
                // Not entered into any group: the path is the mount point.
                let mount_point = subsystem.to_controller().path();
                let own = own_paths.get(&subsystem.controller_name())?;
                Some(mount_point.join(own.trim_start_matches('/')))
            });
        for parent in parents {
            let Ok(entries) = std::fs::read_dir(&parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let owner = name
                    .strip_prefix(NAME_PREFIX)
                    .and_then(|rest| rest.split('.').next())
                    .and_then(|pid| pid.parse::<u32>().ok());
                let owner_gone =
                    owner.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
                if owner_gone {
                    empty_and_remove_below(&entry.path());
                    remove_group_dir(&entry.path());
                }
            }
        }
    });
}

/// Kill every process in `dir` and in the groups below it, and remove those groups (not `dir`).
fn empty_and_remove_below(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                empty_and_remove_below(&entry.path());
                remove_group_dir(&entry.path());
            }
        }
    }
    kill_members(dir);
}

/// SIGKILL each process in `dir/cgroup.procs` until none is left (a process may fork meanwhile),
/// or `EXIT_WAIT` has passed.
fn kill_members(dir: &Path) {
    let deadline = Instant::now() + EXIT_WAIT;
    loop {
        let members: Vec<i32> = std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect();
        if members.is_empty() || Instant::now() > deadline {
            return;
        }
        for pid in members {
            // SAFETY: kill has no memory preconditions; a pid that is already gone gives ESRCH.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `rmdir` a group that the crate does not know about (made by a test's program, or stale);
/// a group whose last process is still exiting refuses for a moment.
fn remove_group_dir(dir: &Path) {
    let deadline = Instant::now() + EXIT_WAIT;
    while let Err(err) = std::fs::remove_dir(dir) {
        if err.kind() == std::io::ErrorKind::NotFound {
            return;
        }
        if Instant::now() > deadline {
            eprintln!("realcg: could not remove {}: {err}", dir.display());
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The arguments of `REMOUNT_AND_EXEC`: each cgroup hierarchy mounted directly below
/// /sys/fs/cgroup (the top one where mounts are stacked) and each symlink there
/// (`cpu -> cpu,cpuacct` on some hosts).
fn remount_spec() -> Result<Vec<String>, String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|err| format!("/proc/self/mountinfo: {err}"))?;
    let mut entries: BTreeMap<String, [String; 2]> = BTreeMap::new();
    for line in mountinfo.lines() {
        // "36 25 0:31 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory"
        let Some((mount, filesystem)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = mount.split(' ').nth(4).unwrap_or_default();
        let mut filesystem = filesystem.split(' ');
        let (Some(kind), Some(_source), Some(options)) =
            (filesystem.next(), filesystem.next(), filesystem.next())
        else {
            continue;
        };
        let Some(name) = mount_point.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        if (kind == "cgroup" || kind == "cgroup2") && !name.contains('/') {
            entries.insert(name.to_string(), [kind.to_string(), options.to_string()]);
        }
    }
    let listing = std::fs::read_dir(CGROUP_FS).map_err(|err| format!("{CGROUP_FS}: {err}"))?;
    for entry in listing.flatten() {
        if let Ok(target) = std::fs::read_link(entry.path()) {
            let name = entry.file_name().to_string_lossy().into_owned();
            entries.insert(
                name,
                ["link".to_string(), target.to_string_lossy().into_owned()],
            );
        }
    }
    if !entries.values().any(|[kind, _]| kind == "cgroup") {
        return Err(format!(
            "no cgroup v1 hierarchy is mounted below {CGROUP_FS}"
        ));
    }
    Ok(entries
        .into_iter()
        .flat_map(|(name, [kind, arg])| [kind, name, arg])
        .collect())
}
