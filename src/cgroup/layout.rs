//! Which cgroup directory holds the process's memory, CPU and cpuset settings.
//!
//! Decided from parsed mountinfo and `/proc/self/cgroup` alone, not from `statfs` magic, so
//! every layout (v1, v2, hybrid, namespaced, nested, odd) can be described by a fake root.

use super::parse::{CgroupMount, Membership};
use serde::Serialize;

/// The controllers jwrap reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    Memory,
    Cpu,
    Cpuset,
}

impl Controller {
    /// The v1 controller name, which is also the name in a v2 `cgroup.controllers` file.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuset => "cpuset",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// No cgroup hierarchy that jwrap can use.
    None,
    V1,
    V2,
    /// v1 controllers plus a cgroup2 mount (usually `/sys/fs/cgroup/unified`). v1 wins.
    Hybrid,
}

impl Mode {
    /// The number `info --json` gives as `cgroup.version` (doc/contract.md).
    #[must_use]
    pub fn version(self) -> Option<u8> {
        match self {
            Mode::None => None,
            Mode::V1 | Mode::Hybrid => Some(1),
            Mode::V2 => Some(2),
        }
    }
}

/// Where one controller's files are for this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// `true` for cgroup2.
    pub unified: bool,
    /// The process's own cgroup directory, as the process sees it.
    pub dir: String,
    /// The mount point: the walk up the hierarchy stops here.
    pub mount_point: String,
}

impl Placement {
    /// The directory itself, then each parent up to and including the mount point.
    pub fn levels(&self) -> Vec<String> {
        let mut levels = vec![self.dir.clone()];
        let mut current = self.dir.as_str();
        while current != self.mount_point && current.len() > self.mount_point.len() {
            match current.rfind('/') {
                Some(cut) if cut >= self.mount_point.len() => {
                    current = &current[..cut];
                    levels.push(current.to_string());
                }
                _ => break,
            }
        }
        if levels.last().map(String::as_str) != Some(self.mount_point.as_str()) {
            levels.push(self.mount_point.clone());
        }
        levels
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub mode: Mode,
    pub memory: Option<Placement>,
    pub cpu: Option<Placement>,
    pub cpuset: Option<Placement>,
    /// Odd layouts that were resolved by a fallback; one line each.
    pub warnings: Vec<String>,
}

const PREFERRED_MOUNT_PARENT: &str = "/sys/fs/cgroup";

#[must_use]
pub fn layout(mounts: &[CgroupMount], memberships: &[Membership]) -> Layout {
    let mut warnings = Vec::new();
    let unified_path = memberships
        .iter()
        .find(|m| m.hierarchy == 0 && m.controllers.is_empty())
        .map(|m| m.path.as_str());
    let unified_mounts: Vec<&CgroupMount> = mounts.iter().filter(|m| m.unified).collect();
    let unified =
        unified_path.and_then(|path| best_mount(&unified_mounts, path).map(|mount| (mount, path)));

    let mut v1_used = false;
    let mut v1_unmounted = false;
    let mut place = |controller: Controller, warnings: &mut Vec<String>| -> Option<Placement> {
        if let Some(placement) = v1_placement(mounts, memberships, controller, warnings) {
            v1_used = true;
            return Some(placement);
        }
        // A controller that /proc/self/cgroup lists on a v1 hierarchy is not on the unified
        // one, even when that v1 hierarchy is not mounted here: its limits are unknown, and the
        // controller-less cgroup2 of a hybrid host would wrongly say "no limit".
        if bound_to_v1(memberships, controller) {
            v1_unmounted = true;
            return None;
        }
        unified.map(|(mount, path)| Placement {
            unified: true,
            dir: translate(mount, path, warnings),
            mount_point: mount.mount_point.clone(),
        })
    };
    let memory = place(Controller::Memory, &mut warnings);
    let cpu = place(Controller::Cpu, &mut warnings);
    let cpuset = place(Controller::Cpuset, &mut warnings);

    let mode = match (v1_used, unified.is_some()) {
        (true, true) => Mode::Hybrid,
        (true, false) => Mode::V1,
        // Controllers on v1 hierarchies that are not mounted here, beside a cgroup2 mount.
        (false, true) if v1_unmounted => Mode::Hybrid,
        (false, true) => Mode::V2,
        (false, false) => Mode::None,
    };
    warnings.dedup();
    Layout {
        mode,
        memory,
        cpu,
        cpuset,
        warnings,
    }
}

fn bound_to_v1(memberships: &[Membership], controller: Controller) -> bool {
    memberships
        .iter()
        .any(|m| m.hierarchy != 0 && m.controllers.iter().any(|c| c == controller.name()))
}

fn v1_placement(
    mounts: &[CgroupMount],
    memberships: &[Membership],
    controller: Controller,
    warnings: &mut Vec<String>,
) -> Option<Placement> {
    let name = controller.name();
    let path = memberships
        .iter()
        .find(|m| m.hierarchy != 0 && m.controllers.iter().any(|c| c == name))?
        .path
        .as_str();
    let candidates: Vec<&CgroupMount> = mounts
        .iter()
        .filter(|m| !m.unified && m.controllers.iter().any(|c| c == name))
        .collect();
    let mount = best_mount(&candidates, path)?;
    Some(Placement {
        unified: false,
        dir: translate(mount, path, warnings),
        mount_point: mount.mount_point.clone(),
    })
}

/// Among several mounts of one hierarchy, the one to read:
/// 1. one whose root contains the process's path (so the path can be translated), and whose
///    root does not climb out of the cgroup namespace (`/..`);
/// 2. one under `/sys/fs/cgroup` (extra mounts at `/cpusets`, `/memory` or `/cgroup-in` are
///    someone else's view);
/// 3. the later line: a later mount on the same point hides the earlier one.
fn best_mount<'a>(candidates: &[&'a CgroupMount], path: &str) -> Option<&'a CgroupMount> {
    candidates.iter().copied().max_by_key(|mount| {
        let translatable = relative_part(&mount.root, path).is_some() && !has_dot_dot(&mount.root);
        let preferred = mount.mount_point == PREFERRED_MOUNT_PARENT
            || mount
                .mount_point
                .strip_prefix(PREFERRED_MOUNT_PARENT)
                .is_some_and(|rest| rest.starts_with('/'));
        (translatable, preferred, mount.line)
    })
}

fn has_dot_dot(path: &str) -> bool {
    path.split('/').any(|part| part == "..")
}

/// The process's cgroup directory under `mount`, as the process sees it.
///
/// * root `/`: mount point + path (a host, or a namespace whose root is mounted);
/// * path equal to the root: the mount point (Docker on v1 bind-mounts the container's cgroup);
/// * path below the root: mount point + the rest;
/// * anything else (a path outside the root, or one that climbs out with `..` after the process
///   was moved): the mount point, with a warning. Its limits still apply to the process.
fn translate(mount: &CgroupMount, path: &str, warnings: &mut Vec<String>) -> String {
    let relative = if has_dot_dot(path) {
        None
    } else {
        relative_part(&mount.root, path)
    };
    if let Some(rest) = relative {
        join(&mount.mount_point, rest)
    } else {
        warnings.push(format!(
            "cgroup path {path} is outside the root {} of the cgroup mount at {}; reading the mount point",
            mount.root, mount.mount_point
        ));
        mount.mount_point.clone()
    }
}

/// The part of `path` below `root`, without a leading `/`; `None` when `path` is not at or
/// below `root`.
fn relative_part<'a>(root: &str, path: &'a str) -> Option<&'a str> {
    let root = root.trim_end_matches('/');
    if root.is_empty() {
        return Some(path.trim_start_matches('/'));
    }
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

fn join(mount_point: &str, rest: &str) -> String {
    let rest = rest.trim_matches('/');
    if rest.is_empty() {
        mount_point.to_string()
    } else {
        format!("{}/{rest}", mount_point.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{cgroup_mounts, memberships};
    use super::*;

    fn decide(mountinfo: &str, cgroup: &str) -> Layout {
        layout(&cgroup_mounts(mountinfo), &memberships(cgroup))
    }

    const V1_HOST: &str = "\
30 24 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw
31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
33 30 0:29 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset
";

    #[test]
    fn v1_host_path_is_appended() {
        let got = decide(
            V1_HOST,
            "4:memory:/user.slice\n3:cpu,cpuacct:/a/b\n2:cpuset:/\n",
        );
        assert_eq!(got.mode, Mode::V1);
        assert_eq!(
            got.memory.as_ref().map(|p| p.dir.as_str()),
            Some("/sys/fs/cgroup/memory/user.slice")
        );
        assert_eq!(
            got.cpu.as_ref().map(|p| p.dir.as_str()),
            Some("/sys/fs/cgroup/cpu,cpuacct/a/b")
        );
        assert_eq!(
            got.cpuset.as_ref().map(|p| p.dir.as_str()),
            Some("/sys/fs/cgroup/cpuset")
        );
        assert!(got.warnings.is_empty());
    }

    #[test]
    fn docker_v1_root_equals_path() {
        let mountinfo =
            "40 30 0:27 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n";
        let got = decide(mountinfo, "4:memory:/docker/abc\n");
        assert_eq!(
            got.memory.map(|p| p.dir),
            Some("/sys/fs/cgroup/memory".to_string())
        );
    }

    #[test]
    fn path_below_root_and_outside_root() {
        let mountinfo = "40 30 0:27 /foo/bar /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let below = decide(mountinfo, "4:memory:/foo/bar/baz/some\n");
        assert_eq!(
            below.memory.map(|p| p.dir),
            Some("/sys/fs/cgroup/memory/baz/some".to_string())
        );
        let sibling = decide(mountinfo, "4:memory:/foo/barn\n");
        assert_eq!(
            sibling.memory.map(|p| p.dir),
            Some("/sys/fs/cgroup/memory".to_string())
        );
        assert_eq!(sibling.warnings.len(), 1);
    }

    #[test]
    fn v2_dot_dot_path_falls_back_to_mount_point() {
        let mountinfo = "50 30 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let got = decide(mountinfo, "0::/../../system.slice/x.scope\n");
        assert_eq!(got.mode, Mode::V2);
        assert_eq!(
            got.memory.map(|p| p.dir),
            Some("/sys/fs/cgroup".to_string())
        );
        assert_eq!(got.warnings.len(), 1);
    }

    #[test]
    fn hybrid_prefers_v1_controllers() {
        let mountinfo =
            format!("{V1_HOST}34 30 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
        let got = decide(
            &mountinfo,
            "4:memory:/a\n3:cpu,cpuacct:/a\n2:cpuset:/\n0::/a\n",
        );
        assert_eq!(got.mode, Mode::Hybrid);
        assert_eq!(got.mode.version(), Some(1));
        assert!(!got.memory.as_ref().is_some_and(|p| p.unified));
    }

    #[test]
    fn duplicate_mounts_prefer_sys_fs_cgroup_and_the_top_mount() {
        let mountinfo = "\
40 30 0:27 / /memory rw - cgroup cgroup rw,memory
41 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
        let got = decide(mountinfo, "4:memory:/x\n");
        assert_eq!(
            got.memory.map(|p| p.dir),
            Some("/sys/fs/cgroup/memory/x".to_string())
        );

        // A new mount on top of the old one (a namespace remount that left the host's mount).
        let shadowed = "\
41 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
90 41 0:27 /ns/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
        let got = decide(shadowed, "4:memory:/ns/x\n");
        assert_eq!(
            got.memory.map(|p| p.dir),
            Some("/sys/fs/cgroup/memory".to_string())
        );

        let foreign = "\
41 30 0:27 /../.. /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
90 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
";
        let got = decide(foreign, "4:memory:/\n");
        assert_eq!(
            got.memory.map(|p| p.dir),
            Some("/sys/fs/cgroup/memory".to_string())
        );
        assert!(got.warnings.is_empty());
    }

    #[test]
    fn a_v1_controller_without_its_mount_is_not_looked_up_on_cgroup2() {
        // Hybrid host whose memory hierarchy is not mounted in this mount namespace.
        let mountinfo = "\
32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
34 30 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
";
        let got = decide(mountinfo, "4:memory:/a\n3:cpu,cpuacct:/a\n0::/a\n");
        assert_eq!(got.memory, None);
        assert_eq!(
            got.cpu.map(|p| p.dir),
            Some("/sys/fs/cgroup/cpu,cpuacct/a".to_string())
        );
        assert_eq!(got.mode, Mode::Hybrid);
        // No v1 hierarchy mounted at all: still not v2, and nothing to read.
        let unified_only = "34 30 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let got = decide(
            unified_only,
            "4:memory:/a\n3:cpu,cpuacct:/a\n2:cpuset:/\n0::/a\n",
        );
        assert_eq!((got.memory, got.cpu, got.cpuset), (None, None, None));
        assert_eq!(got.mode, Mode::Hybrid);
        // Without a v1 line for the controller, cgroup2 is where it lives.
        let got = decide(mountinfo, "3:cpu,cpuacct:/a\n0::/a\n");
        assert_eq!(
            got.memory.map(|p| p.dir),
            Some("/sys/fs/cgroup/unified/a".to_string())
        );
    }

    #[test]
    fn no_cgroups_at_all() {
        let got = decide("22 1 0:20 / /proc rw - proc proc rw\n", "");
        assert_eq!(got.mode, Mode::None);
        assert_eq!(got.memory, None);
        assert_eq!(got.mode.version(), None);
    }

    #[test]
    fn levels_walk_up_to_the_mount_point() {
        let placement = Placement {
            unified: true,
            dir: "/sys/fs/cgroup/a/b".to_string(),
            mount_point: "/sys/fs/cgroup".to_string(),
        };
        assert_eq!(
            placement.levels(),
            vec!["/sys/fs/cgroup/a/b", "/sys/fs/cgroup/a", "/sys/fs/cgroup"]
        );
        let at_mount = Placement {
            unified: true,
            dir: "/sys/fs/cgroup".to_string(),
            mount_point: "/sys/fs/cgroup".to_string(),
        };
        assert_eq!(at_mount.levels(), vec!["/sys/fs/cgroup"]);
    }
}
