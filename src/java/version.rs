//! Java versions: parsing what a JDK says about itself (its `release` file, `java -version`), and
//! what each version knows about containers and accepts on its command line.
//!
//! The facts come from the JDK's history (doc/sizing.md, "What a JDK can see"): container support arrived in
//! 10 and 8u191, cgroup v2 in 15, 11.0.16 and 8u372; JDKs up to 18.0.1, 17.0.4 and 11.0.16 (and
//! every 8u) turn `cpu.shares` into a CPU count; JDKs before 24 (and 21.0.8) read only their own
//! cgroup, not its parents. Everything here is pure.

use std::fmt;

/// A Java version as the JDK numbers itself: `1.8.0_181` is feature 8, update 181; `11.0.16` is
/// feature 11, interim 0, update 16; `21` is 21.0.0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaVersion {
    pub feature: u32,
    pub interim: u32,
    pub update: u32,
    /// The text it was parsed from, as the JDK wrote it.
    pub text: String,
}

impl JavaVersion {
    /// At least `feature.interim.update` (for 8: update only).
    #[must_use]
    pub fn at_least(&self, feature: u32, update: u32) -> bool {
        (self.feature, self.interim, self.update) >= (feature, 0, update)
    }
}

impl fmt::Display for JavaVersion {
    /// `8u181` for 8 and older (how people name them), `11.0.16` and `21` otherwise.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.feature <= 8 {
            write!(f, "{}u{}", self.feature, self.update)
        } else if self.interim == 0 && self.update == 0 {
            write!(f, "{}", self.feature)
        } else {
            write!(f, "{}.{}.{}", self.feature, self.interim, self.update)
        }
    }
}

/// `1.8.0_181`, `1.8.0_181-b13`, `11.0.9`, `17.0.15+6-Debian-1deb12u1`, `21`, `22-ea`,
/// `11.0.16.1` (a fourth number is a vendor's re-spin and is ignored).
#[must_use]
pub fn parse_version(text: &str) -> Option<JavaVersion> {
    let text = text.trim().trim_matches('"');
    let core = text
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .next()
        .unwrap_or("");
    let number = |part: Option<&str>| -> Option<u32> {
        match part {
            None | Some("") => Some(0),
            Some(digits) => digits.parse().ok(),
        }
    };
    let (feature, interim, update) = match core.strip_prefix("1.") {
        // The pre-9 scheme: 1.FEATURE.0_UPDATE.
        Some(rest) => {
            let (numbers, update) = rest.split_once('_').unwrap_or((rest, ""));
            let feature = numbers.split('.').next().unwrap_or("");
            (feature.parse().ok()?, 0, number(Some(update))?)
        }
        None => {
            if core.contains('_') {
                return None;
            }
            let mut parts = core.split('.');
            let feature: u32 = parts.next().unwrap_or("").parse().ok()?;
            (feature, number(parts.next())?, number(parts.next())?)
        }
    };
    (feature > 0).then(|| JavaVersion {
        feature,
        interim,
        update,
        text: text.to_string(),
    })
}

/// The keys of a JDK's `release` file that jwrap uses (`KEY="value"` lines).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseFile {
    pub java_version: Option<String>,
    pub runtime_version: Option<String>,
    pub implementor: Option<String>,
    /// `JVM_VARIANT` (`Openj9` on `OpenJ9` builds).
    pub jvm_variant: Option<String>,
    /// `BUILD_TYPE` (`commercial` on Oracle's JDK 8).
    pub build_type: Option<String>,
}

#[must_use]
pub fn parse_release(text: &str) -> ReleaseFile {
    let mut release = ReleaseFile::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').trim();
        if value.is_empty() {
            continue;
        }
        let slot = match key.trim() {
            "JAVA_VERSION" => &mut release.java_version,
            "JAVA_RUNTIME_VERSION" => &mut release.runtime_version,
            "IMPLEMENTOR" => &mut release.implementor,
            "JVM_VARIANT" => &mut release.jvm_variant,
            "BUILD_TYPE" => &mut release.build_type,
            _ => continue,
        };
        *slot = Some(value.to_string());
    }
    release
}

/// What `java -version` printed (on stderr), reduced to what jwrap uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionOutput {
    /// The quoted version on the first line: `1.8.0_181`, `17.0.15`, `21`.
    pub version: String,
    /// The runtime line, e.g. `OpenJDK Runtime Environment Corretto-8.402.08.1 (build 1.8.0_402-b08)`.
    pub runtime: Option<String>,
    /// `Java(TM)` / `HotSpot(TM)`: Oracle's own build.
    pub oracle: bool,
    pub openj9: bool,
}

/// Lines before the version line (`Picked up JAVA_TOOL_OPTIONS: ...`, warnings) are skipped.
pub fn parse_version_output(text: &str) -> Option<VersionOutput> {
    let mut lines = text
        .lines()
        .skip_while(|line| !line.contains(" version \""));
    let first = lines.next()?;
    let version = first.split('"').nth(1)?.to_string();
    let runtime = lines
        .next()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string);
    Some(VersionOutput {
        version,
        runtime,
        oracle: text.contains("Java(TM)") || text.contains("HotSpot(TM)"),
        openj9: text.contains("OpenJ9"),
    })
}

/// What a JDK reads from cgroups, by version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerSupport {
    /// Before 8u191 (and 9): sizes itself from the host.
    None,
    /// A vendor's 8u191–8u211 build: the backport may or may not be in it.
    Uncertain,
    /// cgroup v1 only (8u191–8u362, 10–14, 11.0.0–11.0.15): on a v2 host it sees the host.
    V1,
    /// cgroup v1 and v2 (8u372+, 11.0.16+, 15+).
    V1AndV2,
    /// The version could not be learnt.
    Unknown,
}

impl ContainerSupport {
    /// The words `info` shows.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            ContainerSupport::None => "none",
            ContainerSupport::Uncertain => "uncertain (vendor build 8u191-8u211)",
            ContainerSupport::V1 => "cgroup v1",
            ContainerSupport::V1AndV2 => "cgroup v1 and v2",
            ContainerSupport::Unknown => "unknown (version unknown)",
        }
    }
}

/// What jwrap knows about the JDK that will run: its version and its kind. The version is
/// `None` when neither the `release` file nor `java -version` gave one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JdkFacts {
    pub version: Option<JavaVersion>,
    /// Oracle's own JDK (for 8u191–8u211, the build known to carry container support).
    pub oracle: bool,
    /// Eclipse `OpenJ9` rather than `HotSpot`.
    pub openj9: bool,
}

/// The first update of JDK 8 with container support (Oracle's 8u191).
const JDK8_CONTAINER_SUPPORT: u32 = 191;
/// From this update every vendor's 8u carries container support (Debian, for one, went from
/// 8u181 straight to 8u212).
const JDK8_CONTAINER_SUPPORT_EVERYWHERE: u32 = 212;
/// The 8u release that brought cgroup v2 (April 2023).
const JDK8_CGROUP_V2: u32 = 372;
/// The 11u release that brought cgroup v2 (July 2022).
const JDK11_CGROUP_V2: u32 = 16;
/// The first updates carrying JDK-8349988 (v2 found from `/sys/fs/cgroup`, not
/// `/proc/cgroups`): the backports went into 11u and 21u in April 2026 and into 8u in May 2026,
/// so the July 2026 updates are the first with them.
const JDK8_V2_DETECTION_FROM_MOUNT: u32 = 502;
const JDK11_V2_DETECTION_FROM_MOUNT: u32 = 32;
const JDK21_V2_DETECTION_FROM_MOUNT: u32 = 12;

impl JdkFacts {
    #[must_use]
    pub fn container_support(&self) -> ContainerSupport {
        let Some(v) = &self.version else {
            return ContainerSupport::Unknown;
        };
        match v.feature {
            0..=7 | 9 => ContainerSupport::None,
            8 if v.update < JDK8_CONTAINER_SUPPORT => ContainerSupport::None,
            8 if v.update < JDK8_CONTAINER_SUPPORT_EVERYWHERE && !self.oracle => {
                ContainerSupport::Uncertain
            }
            8 if v.update < JDK8_CGROUP_V2 => ContainerSupport::V1,
            8 => ContainerSupport::V1AndV2,
            11 if v.update >= JDK11_CGROUP_V2 => ContainerSupport::V1AndV2,
            10..=14 => ContainerSupport::V1,
            _ => ContainerSupport::V1AndV2,
        }
    }

    /// Why `container_support` says what it says, in one clause.
    #[must_use]
    pub fn support_reason(&self) -> String {
        let Some(v) = &self.version else {
            return "the JDK's version is unknown, so jwrap assumes the oldest behaviour: no \
                    container support, and only flags every JDK accepts"
                .to_string();
        };
        match self.container_support() {
            ContainerSupport::None if v.feature == 9 => {
                "JDK 9 has no container support (it came in 10 and 8u191)".to_string()
            }
            ContainerSupport::None => format!("JDK {v} predates container support (8u191 and 10)"),
            ContainerSupport::Uncertain => format!(
                "JDK {v} is a vendor build between 8u191 (Oracle's first with container support) \
                 and 8u212 (the first every vendor's build has it): it may or may not see the \
                 container, so jwrap takes the safe side: it sizes the JVM as if it were blind, \
                 with flags every 8u accepts (no -XX:ActiveProcessorCount)"
            ),
            ContainerSupport::V1 => {
                format!("JDK {v} reads cgroup v1 only (v2 came in 15, 11.0.16 and 8u372)")
            }
            ContainerSupport::V1AndV2 => format!("JDK {v} reads cgroup v1 and v2"),
            ContainerSupport::Unknown => "the JDK's version is unknown".to_string(),
        }
    }

    /// `-XX:ActiveProcessorCount` exists: 10+, and the 8u builds known to carry container
    /// support.
    #[must_use]
    pub fn has_active_processor_count(&self) -> bool {
        matches!(
            self.container_support(),
            ContainerSupport::V1 | ContainerSupport::V1AndV2
        )
    }

    /// Metaspace (and `-XX:MaxMetaspaceSize`) exists from JDK 8; JDK 7 had `PermGen` and would
    /// reject the flag.
    #[must_use]
    pub fn has_metaspace(&self) -> bool {
        self.version.as_ref().is_some_and(|v| v.feature >= 8)
    }

    /// The launcher reads `JDK_JAVA_OPTIONS` and expands `@argfiles` from JDK 9 on; JDK 8
    /// ignores both. An unknown version is assumed to read them, so a user's setting there is
    /// never duplicated.
    #[must_use]
    pub fn has_launcher_options(&self) -> bool {
        self.version.as_ref().is_none_or(|v| v.feature >= 9)
    }

    /// JDKs that turn `cpu.shares` (v1) or `cpu.weight` (v2) into a CPU count: every 8u, 10,
    /// and until 11.0.16, 17.0.4 and 18.0.1 (JDK-8281181 stopped it in 19 and its backports).
    #[must_use]
    pub fn counts_cpu_shares(&self) -> bool {
        let Some(v) = &self.version else {
            return false;
        };
        match v.feature {
            8 | 10 | 12..=16 => true,
            11 => !v.at_least(11, 17),
            17 => !v.at_least(17, 5),
            18 => !v.at_least(18, 2),
            _ => false,
        }
    }

    /// With both a quota and shares, the quota decides (`PreferContainerQuotaForCPUCount`,
    /// default on, in 11+ and 8u); JDK 10 took the smaller of the two.
    #[must_use]
    pub fn prefers_quota(&self) -> bool {
        self.version.as_ref().is_none_or(|v| v.feature != 10)
    }

    /// JDKs that look for limits in parent cgroups too (JDK-8322420: 24, and 21.0.8). The
    /// others read only their own cgroup, apart from v1's `hierarchical_memory_limit`.
    #[must_use]
    pub fn reads_parent_cgroups(&self) -> bool {
        self.version
            .as_ref()
            .is_some_and(|v| v.feature >= 24 || (v.feature == 21 && v.at_least(21, 8)))
    }

    /// JDKs that decide cgroup v2 from `/sys/fs/cgroup` itself and its `cgroup.controllers`,
    /// not from `/proc/cgroups` (JDK-8349988: 25; backported in 2026 to 21u, 11u and 8u, first
    /// in 21.0.12, 11.0.32 and 8u502, the updates after the backports were integrated). The
    /// others read `/proc/cgroups`, from which kernels 6.12 and later built without cgroup v1
    /// memory leave the memory row out: those JDKs then turn container support off.
    #[must_use]
    pub fn detects_v2_from_its_mount(&self) -> bool {
        self.version.as_ref().is_some_and(|v| match v.feature {
            8 => v.at_least(8, JDK8_V2_DETECTION_FROM_MOUNT),
            11 => v.at_least(11, JDK11_V2_DETECTION_FROM_MOUNT),
            21 => v.at_least(21, JDK21_V2_DETECTION_FROM_MOUNT),
            feature => feature >= 25,
        })
    }

    /// JDKs that run without the cpuset controller (JDK-8347129, 25). Before it, a cpuset
    /// controller missing from `/proc/cgroups` turned container support off. No backport is
    /// counted: where one exists, the JDK is at worst sized as blind, which only adds flags.
    #[must_use]
    pub fn cpuset_optional(&self) -> bool {
        self.version.as_ref().is_some_and(|v| v.feature >= 25)
    }

    /// `-XX:MaxRAM` is deprecated from JDK 26 (JDK-8369346): the JVM warns at start-up. It is
    /// obsolete in 27 (ignored, with a warning) and gone in 28 (the JVM refuses to start).
    #[must_use]
    pub fn max_ram_deprecated(&self) -> bool {
        self.version.as_ref().is_some_and(|v| v.feature >= 26)
    }

    /// The default `InitialRAMPercentage`: 1/64 of the memory (1.5625 %), 0.2 % from JDK 26
    /// (JDK-8353837).
    #[must_use]
    pub fn default_initial_ram_percent(&self) -> f64 {
        if self.version.as_ref().is_some_and(|v| v.feature >= 26) {
            0.2
        } else {
            1.5625
        }
    }

    /// JDK 8 and older before 8u131 counted the host's online CPUs, not the process's affinity;
    /// later ones honour a cpuset even when blind.
    #[must_use]
    pub fn honours_affinity(&self) -> bool {
        self.version
            .as_ref()
            .is_some_and(|v| v.feature >= 9 || v.at_least(8, 131))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(text: &str) -> JdkFacts {
        JdkFacts {
            version: parse_version(text),
            ..JdkFacts::default()
        }
    }

    #[test]
    fn versions_in_every_scheme() {
        let cases = [
            ("1.8.0_181", (8, 0, 181), "8u181"),
            ("1.8.0_181-b13", (8, 0, 181), "8u181"),
            ("1.8.0", (8, 0, 0), "8u0"),
            ("1.7.0_80", (7, 0, 80), "7u80"),
            ("11.0.9", (11, 0, 9), "11.0.9"),
            ("17.0.15+6-Debian-1deb12u1", (17, 0, 15), "17.0.15"),
            ("21", (21, 0, 0), "21"),
            ("22-ea", (22, 0, 0), "22"),
            ("\"11.0.16.1\"", (11, 0, 16), "11.0.16"),
            ("9.0.4", (9, 0, 4), "9.0.4"),
        ];
        for (text, (feature, interim, update), shown) in cases {
            let v = parse_version(text).unwrap_or_else(|| panic!("{text} did not parse"));
            assert_eq!(
                (v.feature, v.interim, v.update),
                (feature, interim, update),
                "{text}"
            );
            assert_eq!(v.to_string(), shown);
        }
        for bad in ["", "abc", "0", "x17", "1.x", "17_2"] {
            assert_eq!(parse_version(bad), None, "{bad:?} parsed");
        }
    }

    #[test]
    fn release_files() {
        let debian = "IMPLEMENTOR=\"Debian\"\nJAVA_RUNTIME_VERSION=\"17.0.15+6-Debian-1deb12u1\"\n\
                      JAVA_VERSION=\"17.0.15\"\nJAVA_VERSION_DATE=\"2025-04-15\"\nLIBC=\"gnu\"\n\
                      MODULES=\"java.base java.compiler\"\nSOURCE=\"\"\n";
        let release = parse_release(debian);
        assert_eq!(release.java_version.as_deref(), Some("17.0.15"));
        assert_eq!(
            release.runtime_version.as_deref(),
            Some("17.0.15+6-Debian-1deb12u1")
        );
        assert_eq!(release.implementor.as_deref(), Some("Debian"));

        let oracle8 = "JAVA_VERSION=\"1.8.0_191\"\nOS_NAME=\"Linux\"\nOS_VERSION=\"2.6\"\n\
                       OS_ARCH=\"amd64\"\nSOURCE=\" .:f3b1ad2b3d6b\"\nBUILD_TYPE=\"commercial\"\n";
        let release = parse_release(oracle8);
        assert_eq!(release.java_version.as_deref(), Some("1.8.0_191"));
        assert_eq!(release.build_type.as_deref(), Some("commercial"));
        assert_eq!(release.implementor, None);

        let zulu = "IMPLEMENTOR=\"Azul Systems, Inc.\"\nIMPLEMENTOR_VERSION=\"Zulu8.76+0.17-CA\"\n\
                    JAVA_VERSION=\"1.8.0_402\"\n";
        assert_eq!(
            parse_release(zulu).implementor.as_deref(),
            Some("Azul Systems, Inc.")
        );

        let semeru =
            "IMPLEMENTOR=\"IBM Corporation\"\nJAVA_VERSION=\"17.0.8.1\"\nJVM_VARIANT=\"Openj9\"\n";
        assert_eq!(parse_release(semeru).jvm_variant.as_deref(), Some("Openj9"));
        assert_eq!(
            parse_release("garbage\n=\nJAVA_VERSION=\n"),
            ReleaseFile::default()
        );
    }

    #[test]
    fn version_outputs_of_real_vendors() {
        let cases = [
            (
                "openjdk version \"1.8.0_181\"\nOpenJDK Runtime Environment (AdoptOpenJDK)(build 1.8.0_181-b13)\n\
                 OpenJDK 64-Bit Server VM (AdoptOpenJDK)(build 25.181-b13, mixed mode)\n",
                "1.8.0_181",
                false,
            ),
            (
                "openjdk version \"17.0.15\" 2025-04-15\nOpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)\n\
                 OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)\n",
                "17.0.15",
                false,
            ),
            (
                "openjdk version \"1.8.0_402\"\nOpenJDK Runtime Environment (Zulu 8.76.0.17-CA-linux64) (build 1.8.0_402-b06)\n\
                 OpenJDK 64-Bit Server VM (Zulu 8.76.0.17-CA-linux64) (build 25.402-b06, mixed mode)\n",
                "1.8.0_402",
                false,
            ),
            (
                "openjdk version \"1.8.0_402\"\nOpenJDK Runtime Environment Corretto-8.402.08.1 (build 1.8.0_402-b08)\n\
                 OpenJDK 64-Bit Server VM Corretto-8.402.08.1 (build 25.402-b08, mixed mode)\n",
                "1.8.0_402",
                false,
            ),
            (
                "java version \"1.8.0_191\"\nJava(TM) SE Runtime Environment (build 1.8.0_191-b12)\n\
                 Java HotSpot(TM) 64-Bit Server VM (build 25.191-b12, mixed mode)\n",
                "1.8.0_191",
                true,
            ),
            (
                "Picked up JAVA_TOOL_OPTIONS: -Xmx1g\nopenjdk version \"11.0.13\" 2021-10-19\n\
                 OpenJDK Runtime Environment Temurin-11.0.13+8 (build 11.0.13+8)\n\
                 OpenJDK 64-Bit Server VM Temurin-11.0.13+8 (build 11.0.13+8, mixed mode)\n",
                "11.0.13",
                false,
            ),
            (
                "openjdk version \"21\" 2023-09-19\nOpenJDK Runtime Environment (build 21+35-2513)\n\
                 OpenJDK 64-Bit Server VM (build 21+35-2513, mixed mode, sharing)\n",
                "21",
                false,
            ),
        ];
        for (text, version, oracle) in cases {
            let output =
                parse_version_output(text).unwrap_or_else(|| panic!("no version in {text}"));
            assert_eq!(output.version, version);
            assert_eq!(output.oracle, oracle, "{version}");
            assert!(!output.openj9);
            assert!(
                output
                    .runtime
                    .as_deref()
                    .is_some_and(|r| r.contains("Runtime Environment"))
            );
            assert!(parse_version(&output.version).is_some());
        }
        let openj9 = "openjdk version \"17.0.8.1\" 2023-08-24\nIBM Semeru Runtime Open Edition 17.0.8.1 (build 17.0.8.1+1)\n\
                      Eclipse OpenJ9 VM 17.0.8.1 (build openj9-0.40.0, JRE 17 Linux amd64-64-Bit)\n";
        assert!(parse_version_output(openj9).is_some_and(|o| o.openj9));
        assert_eq!(
            parse_version_output("bash: java: command not found\n"),
            None
        );
    }

    #[test]
    fn container_support_by_version() {
        let cases = [
            ("1.7.0_80", ContainerSupport::None),
            ("1.8.0_181", ContainerSupport::None),
            ("1.8.0_191", ContainerSupport::Uncertain),
            ("1.8.0_211", ContainerSupport::Uncertain),
            ("1.8.0_212", ContainerSupport::V1),
            ("1.8.0_362", ContainerSupport::V1),
            ("1.8.0_372", ContainerSupport::V1AndV2),
            ("9.0.4", ContainerSupport::None),
            ("10.0.2", ContainerSupport::V1),
            ("11.0.9", ContainerSupport::V1),
            ("11.0.15", ContainerSupport::V1),
            ("11.0.16", ContainerSupport::V1AndV2),
            ("14.0.2", ContainerSupport::V1),
            ("15", ContainerSupport::V1AndV2),
            ("17", ContainerSupport::V1AndV2),
            ("21", ContainerSupport::V1AndV2),
        ];
        for (text, support) in cases {
            assert_eq!(facts(text).container_support(), support, "{text}");
        }
        let oracle = JdkFacts {
            oracle: true,
            ..facts("1.8.0_191")
        };
        assert_eq!(oracle.container_support(), ContainerSupport::V1);
        assert!(oracle.has_active_processor_count());
        assert!(!facts("1.8.0_191").has_active_processor_count());
        assert_eq!(
            JdkFacts::default().container_support(),
            ContainerSupport::Unknown
        );
    }

    #[test]
    fn cpu_and_hierarchy_behaviour_by_version() {
        let shares = ["1.8.0_402", "10.0.2", "11.0.16", "13", "17.0.4", "18.0.1"];
        let no_shares = ["11.0.17", "17.0.5", "18.0.2", "19", "21", "25"];
        for text in shares {
            assert!(facts(text).counts_cpu_shares(), "{text}");
        }
        for text in no_shares {
            assert!(!facts(text).counts_cpu_shares(), "{text}");
        }
        for (text, walks) in [
            ("21.0.7", false),
            ("21.0.8", true),
            ("23", false),
            ("24", true),
            ("17.0.15", false),
        ] {
            assert_eq!(facts(text).reads_parent_cgroups(), walks, "{text}");
        }
        assert!(!facts("1.8.0_402").has_launcher_options());
        assert!(facts("11.0.9").has_launcher_options());
        assert!(JdkFacts::default().has_launcher_options());
        assert!(!facts("1.7.0_80").has_metaspace());
        assert!(!JdkFacts::default().has_metaspace());
        assert!(!facts("10").prefers_quota());
        assert!(!facts("1.8.0_121").honours_affinity());
        for (text, from_mount) in [
            ("1.8.0_482", false),
            ("1.8.0_502", true),
            ("11.0.31", false),
            ("11.0.32", true),
            ("17.0.18", false),
            ("21.0.11", false),
            ("21.0.12", true),
            ("24", false),
            ("25", true),
            ("27", true),
        ] {
            assert_eq!(
                facts(text).detects_v2_from_its_mount(),
                from_mount,
                "{text}"
            );
        }
        assert!(!JdkFacts::default().detects_v2_from_its_mount());
        assert!(!facts("24").cpuset_optional());
        assert!(facts("25").cpuset_optional());
        assert!(!facts("25").max_ram_deprecated());
        assert!(facts("26").max_ram_deprecated());
        assert_eq!(facts("25").default_initial_ram_percent(), 1.5625);
        assert_eq!(facts("26").default_initial_ram_percent(), 0.2);
    }
}
