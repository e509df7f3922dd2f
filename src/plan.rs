//! What running COMMAND will look like: the final argv, the environment changes, the JVM flags
//! and the reasons for each. Pure: built from the configuration, the limits and the facts
//! gathered about the JDK (`java::inspect`) and COMMAND's program (`runtimes::inspect`),
//! nothing else.
//!
//! One function per concern adds its part to the plan; each leaves what it does not own alone.

use crate::cli::JavaFlagsMode;
use crate::config::{Action, Config};
use crate::java::decide::{self, Policy};
use crate::java::ranwith::Expected;
use crate::java::userflags::Knob;
use crate::java::{self, JavaInputs};
use crate::limits::Limits;
use crate::runtimes;
use serde_json::Value;
use std::ffi::OsString;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// The command as it will be executed.
    pub argv: Vec<OsString>,
    /// Variables set for the child (added or changed), in order.
    pub env: Vec<(OsString, OsString)>,
    /// The JVM flags jwrap adds, wherever they are delivered.
    pub jvm_flags: Vec<String>,
    /// One line per decision, for `info` and `-v`; problems start with `warning: `.
    pub reasons: Vec<String>,
    /// The Java facts for `info` (`null` when no JDK is involved, and when running).
    pub java: Value,
    /// What decided the JVM's maximum heap (`None` when no JDK is involved): what the
    /// explanation of an out-of-memory kill tells the user.
    pub heap: Option<JavaHeap>,
    /// What the JVMs COMMAND runs should run with, for the check of what ran (`None` when no
    /// JDK is involved).
    pub expected_jvm: Option<Expected>,
}

/// What decided the maximum heap of the JVM that COMMAND is or starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JavaHeap {
    /// COMMAND's program is `java`; otherwise the heap is that of any JVM it starts.
    pub command_is_java: bool,
    pub decided_by: HeapDecidedBy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeapDecidedBy {
    /// jwrap's flag (`-Xmx384m`), delivered as `delivery` names it (`arguments`,
    /// `JAVA_TOOL_OPTIONS`).
    Jwrap { flag: String, delivery: String },
    /// The user's own option (`-Xmx1g`) and where it was given (`the command line`).
    User { option: String, channel: String },
    /// No heap flag reached the JVM: its own default applies, for the reason given.
    JvmDefault { why: String },
}

/// The tag of a reason that is a problem: shown even without `-v`.
const WARNING_TAG: &str = "warning: ";

impl Plan {
    fn warn(&mut self, message: &str) {
        self.reasons.push(format!("{WARNING_TAG}{message}"));
    }

    /// The reasons that are problems, without their tag.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.reasons
            .iter()
            .filter_map(|r| r.strip_prefix(WARNING_TAG))
    }

    /// The other reasons.
    pub fn notes(&self) -> impl Iterator<Item = &str> {
        self.reasons
            .iter()
            .filter(|r| !r.starts_with(WARNING_TAG))
            .map(String::as_str)
    }
}

pub fn plan(
    config: &Config,
    limits: &Limits,
    java: Option<&JavaInputs>,
    runtime: &runtimes::Inputs,
) -> Plan {
    let mut plan = Plan {
        argv: config.command.clone(),
        ..Plan::default()
    };
    if let Some(java) = java {
        add_jvm_flags(&mut plan, config, limits, java);
    }
    add_runtime_env(&mut plan, config, limits, runtime);
    plan
}

/// The variables other runtimes read, and jwrap's own pair for scripts (`runtimes`).
fn add_runtime_env(plan: &mut Plan, config: &Config, limits: &Limits, runtime: &runtimes::Inputs) {
    let decided = runtimes::decide(config, limits, runtime);
    plan.env.extend(decided.env);
    plan.reasons.extend(decided.reasons);
}

/// What decides the heap: the user's setting (the same ones `decide` defers to), jwrap's
/// `-Xmx` when it reaches the JVM, or else the JVM's default.
fn heap_decided_by(java: &JavaInputs, flags: &[String], delivery: Delivery) -> HeapDecidedBy {
    let user = [Knob::MaxHeap, Knob::RamShare, Knob::MaxRam]
        .into_iter()
        .find_map(|knob| java.user.get(knob));
    if let Some(setting) = user {
        return HeapDecidedBy::User {
            option: setting.option.clone(),
            channel: setting.channel.to_string(),
        };
    }
    match flags.iter().find(|flag| flag.starts_with("-Xmx")) {
        Some(flag) if delivery == Delivery::Off => HeapDecidedBy::JvmDefault {
            why: format!("--java-flags off kept jwrap's {flag} from it"),
        },
        Some(flag) => HeapDecidedBy::Jwrap {
            flag: flag.clone(),
            delivery: delivery.name().to_string(),
        },
        None => HeapDecidedBy::JvmDefault {
            why: "jwrap knew no memory limit to size it for".to_string(),
        },
    }
}

const TOOL_OPTIONS: &str = "JAVA_TOOL_OPTIONS";

/// The kernel's limit on one argument or environment string, its NUL included
/// (`MAX_ARG_STRLEN`, 32 pages of 4 KiB): a longer one fails exec with E2BIG.
const MAX_ARG_STRLEN: usize = 32 * 4096;

/// How the JVM flags reach the JVM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Right after `java`, before everything the user wrote.
    Arguments,
    /// Appended to JAVA_TOOL_OPTIONS, for a COMMAND that starts java later.
    ToolOptions,
    Off,
}

impl Delivery {
    fn for_mode(mode: JavaFlagsMode, command_is_java: bool) -> Delivery {
        match mode {
            JavaFlagsMode::Auto if command_is_java => Delivery::Arguments,
            JavaFlagsMode::Auto | JavaFlagsMode::Env => Delivery::ToolOptions,
            JavaFlagsMode::Args => Delivery::Arguments,
            JavaFlagsMode::Off => Delivery::Off,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Delivery::Arguments => "arguments",
            Delivery::ToolOptions => "JAVA_TOOL_OPTIONS",
            Delivery::Off => "off",
        }
    }
}

/// The JVM flags for the JDK COMMAND runs, delivered as `--java-flags` says.
fn add_jvm_flags(plan: &mut Plan, config: &Config, limits: &Limits, java: &JavaInputs) {
    plan.reasons.push(java::describe_jdk(&java.jdk));
    for unreadable in &java.user.unreadable {
        plan.warn(&format!(
            "{unreadable}; the user's settings in it are not known"
        ));
    }
    let policy = Policy {
        heap_percent: config.heap_percent,
    };
    let decision = decide::decide(limits, &java.jdk.facts, &java.cgroup, &policy, &java.user);
    plan.reasons.extend(decision.reasons.iter().cloned());
    for warning in &decision.warnings {
        plan.warn(warning);
    }
    let delivery = Delivery::for_mode(config.java_flags, java.command_is_java);
    // The Java facts are for `info` to show; a run would build them for nothing.
    if matches!(config.action, Action::Info { .. }) {
        plan.java = java::summary(java, &decision, delivery.name());
    }
    let flags = decision.flags;
    plan.heap = Some(JavaHeap {
        command_is_java: java.command_is_java,
        decided_by: heap_decided_by(java, &flags, delivery),
    });
    plan.expected_jvm = Some(Expected {
        collectors: decision.collectors.clone(),
        budget_heap_mib: decision.budget.as_ref().map(|b| b.heap_mib),
        jwrap_heap_flag: flags
            .iter()
            .find(|f| f.starts_with("-Xmx"))
            .filter(|_| delivery != Delivery::Off)
            .cloned(),
    });
    if flags.is_empty() {
        return;
    }
    match delivery {
        Delivery::Off => {
            plan.reasons
                .push(format!("--java-flags off: not adding {}", flags.join(" ")));
            return;
        }
        Delivery::Arguments => {
            if !java.command_is_java {
                plan.reasons.push(
                    "--java-flags args: COMMAND is not java, yet its first arguments are now the \
                     JVM flags, as asked"
                        .to_string(),
                );
            }
            let after_program = plan.argv.len().min(1);
            plan.argv.splice(
                after_program..after_program,
                flags.iter().map(OsString::from),
            );
            plan.reasons
                .push("flags delivered as arguments right after java".to_string());
        }
        Delivery::ToolOptions => {
            let mut value = OsString::new();
            if let Some(existing) = config.env.get("JAVA_TOOL_OPTIONS") {
                if !existing.to_string_lossy().trim().is_empty() {
                    value.push(existing);
                    value.push(" ");
                }
            }
            value.push(flags.join(" "));
            // `NAME=value` and its NUL must fit the kernel's bound on one string, or exec fails.
            let entry = TOOL_OPTIONS.len() + 1 + value.len() + 1;
            if entry > MAX_ARG_STRLEN {
                plan.warn(&format!(
                    "{TOOL_OPTIONS} would be {entry} bytes with jwrap's flags, over the kernel's \
                     {MAX_ARG_STRLEN}-byte limit on one variable: left as it is, without \
                     jwrap's {}",
                    flags.join(" ")
                ));
                let decided_by = match heap_decided_by(java, &flags, delivery) {
                    HeapDecidedBy::Jwrap { flag, .. } => HeapDecidedBy::JvmDefault {
                        why: format!("{TOOL_OPTIONS} was too long to take jwrap's {flag}"),
                    },
                    other => other,
                };
                plan.heap = Some(JavaHeap {
                    command_is_java: java.command_is_java,
                    decided_by,
                });
                if let Some(expected) = plan.expected_jvm.as_mut() {
                    expected.jwrap_heap_flag = None;
                }
                return;
            }
            plan.env.push((OsString::from(TOOL_OPTIONS), value));
            plan.reasons.push(
                "flags delivered in JAVA_TOOL_OPTIONS, after what it already held".to_string(),
            );
        }
    }
    plan.jvm_flags = flags;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli;
    use crate::config::{self, Environment};
    use crate::java::decide::{CgroupFacts, Placed};
    use crate::java::discover::{FoundBy, Jdk, VersionSource};
    use crate::java::userflags::UserSettings;
    use crate::java::version::{JdkFacts, parse_version};
    use crate::limits::{Limit, Source};
    use std::path::PathBuf;

    const GIB: u64 = 1 << 30;

    fn config(args: &[&str], env: &[(&str, &str)]) -> Config {
        let parsed = cli::parse(args.iter().map(OsString::from)).unwrap();
        config::build(parsed, Environment::from_pairs(env.iter().copied())).unwrap()
    }

    fn inputs(version: &str, command_is_java: bool) -> JavaInputs {
        let home = PathBuf::from("/opt/jdk");
        JavaInputs {
            jdk: Jdk {
                java: home.join("bin/java"),
                resolved: home.join("bin/java"),
                home: home.clone(),
                found_by: FoundBy::Path,
                how: "the java on PATH".to_string(),
                facts: JdkFacts {
                    version: parse_version(version),
                    ..JdkFacts::default()
                },
                version_source: VersionSource::ReleaseFile(home.join("release")),
                vendor: None,
                runtime_version: None,
            },
            command_is_java,
            user: UserSettings::default(),
            cgroup: CgroupFacts {
                version: Some(2),
                memory: Some(Placed {
                    value: GIB,
                    own_cgroup: true,
                }),
                host_cpus: Some(2),
                ..CgroupFacts::default()
            },
        }
    }

    fn limits() -> Limits {
        Limits {
            memory: Limit::Set {
                value: GIB,
                source: Source::file("/sys/fs/cgroup/memory.max", "1073741824"),
            },
            cpu: Limit::Unlimited { source: None },
            effective_cpus: 2,
        }
    }

    /// The plan, with COMMAND's program recognised by name as `runtimes::inspect` would.
    fn plan(config: &Config, limits: &Limits, java: Option<&JavaInputs>) -> Plan {
        let program = if java::discover::program_is_java(&config.command) {
            runtimes::Program::Java
        } else {
            runtimes::Program::Other
        };
        let runtime = runtimes::Inputs {
            program,
            host_cpus: Some(2),
        };
        super::plan(config, limits, java, &runtime)
    }

    /// The plan's JAVA_TOOL_OPTIONS, if it sets it.
    fn tool_options(plan: &Plan) -> Option<String> {
        plan.env
            .iter()
            .find(|(name, _)| name == "JAVA_TOOL_OPTIONS")
            .map(|(_, value)| value.to_string_lossy().into_owned())
    }

    fn words(argv: &[OsString]) -> Vec<String> {
        argv.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn auto_puts_flags_right_after_java_and_keeps_the_users_order() {
        let config = config(&["--", "java", "-Xss1m", "-jar", "app.jar", "-x"], &[]);
        let plan = plan(&config, &limits(), Some(&inputs("17", true)));
        assert!(!plan.jvm_flags.is_empty());
        let mut expected = vec!["java".to_string()];
        expected.extend(plan.jvm_flags.iter().cloned());
        expected.extend(["-Xss1m", "-jar", "app.jar", "-x"].map(String::from));
        assert_eq!(words(&plan.argv), expected);
        assert_eq!(tool_options(&plan), None);
        // The facts are built for `info` only.
        assert_eq!(plan.java, Value::Null);
    }

    #[test]
    fn info_gets_the_java_facts_and_the_same_command() {
        let args = ["--", "java", "-Xss1m", "-jar", "app.jar"];
        let run = plan(&config(&args, &[]), &limits(), Some(&inputs("17", true)));
        let info_args: Vec<&str> = std::iter::once("info").chain(args).collect();
        let info = plan(
            &config(&info_args, &[]),
            &limits(),
            Some(&inputs("17", true)),
        );
        assert_eq!(info.argv, run.argv);
        assert_eq!(info.java["delivery"], "arguments");
        assert_eq!(info.java["version"], "17");
    }

    #[test]
    fn auto_uses_java_tool_options_for_other_commands_and_keeps_their_contents() {
        let config = config(
            &["--", "./start.sh", "a"],
            &[("JAVA_TOOL_OPTIONS", "-Dmine=1")],
        );
        let plan = plan(&config, &limits(), Some(&inputs("17", false)));
        assert_eq!(words(&plan.argv), ["./start.sh", "a"]);
        assert_eq!(
            tool_options(&plan),
            Some(format!("-Dmine=1 {}", plan.jvm_flags.join(" ")))
        );
        assert_eq!(
            plan.heap,
            Some(JavaHeap {
                command_is_java: false,
                decided_by: HeapDecidedBy::Jwrap {
                    flag: plan.jvm_flags[0].clone(),
                    delivery: "JAVA_TOOL_OPTIONS".to_string()
                }
            })
        );
    }

    #[test]
    fn a_blank_java_tool_options_is_replaced() {
        let config = config(
            &["--java-flags", "env", "--", "java", "-jar", "app.jar"],
            &[("JAVA_TOOL_OPTIONS", "  ")],
        );
        let plan = plan(&config, &limits(), Some(&inputs("17", true)));
        assert_eq!(tool_options(&plan), Some(plan.jvm_flags.join(" ")));
        assert_eq!(words(&plan.argv), ["java", "-jar", "app.jar"]);
    }

    #[test]
    fn args_mode_on_another_command_says_so() {
        let config = config(&["--java-flags", "args", "--", "./start.sh", "a"], &[]);
        let plan = plan(&config, &limits(), Some(&inputs("17", false)));
        assert_eq!(words(&plan.argv)[0], "./start.sh");
        assert_eq!(
            words(&plan.argv)[1..=plan.jvm_flags.len()],
            plan.jvm_flags[..]
        );
        assert_eq!(words(&plan.argv).last().map(String::as_str), Some("a"));
        assert!(
            plan.reasons
                .iter()
                .any(|r| r.contains("COMMAND is not java"))
        );
    }

    #[test]
    fn off_adds_nothing_but_still_explains() {
        let config = config(
            &[
                "info",
                "--java-flags",
                "off",
                "--",
                "java",
                "-jar",
                "app.jar",
            ],
            &[],
        );
        let plan = plan(&config, &limits(), Some(&inputs("17", true)));
        assert_eq!(words(&plan.argv), ["java", "-jar", "app.jar"]);
        assert!(tool_options(&plan).is_none() && plan.jvm_flags.is_empty());
        assert_eq!(plan.java["delivery"], "off");
        assert!(matches!(
            plan.heap.map(|heap| heap.decided_by),
            Some(HeapDecidedBy::JvmDefault { why }) if why.starts_with("--java-flags off")
        ));
        assert!(
            plan.reasons
                .iter()
                .any(|r| r.starts_with("--java-flags off: not adding -Xmx"))
        );
    }

    #[test]
    fn every_mode_delivers_each_flag_once_and_keeps_the_users_arguments() {
        let modes = ["auto", "args", "env", "off"];
        for version in ["1.8.0_181", "1.8.0_372", "11.0.9", "17", "21"] {
            for mode in modes {
                for command in [&["java", "-Dx=1", "Main", "a"][..], &["./run.sh", "a"]] {
                    let mut args = vec!["--java-flags", mode, "--"];
                    args.extend_from_slice(command);
                    let config = config(&args, &[("JAVA_TOOL_OPTIONS", "-Dtool=1")]);
                    let is_java = command[0] == "java";
                    let plan = plan(&config, &limits(), Some(&inputs(version, is_java)));
                    let context = format!("{version} {mode} {command:?}: {plan:#?}");
                    let argv = words(&plan.argv);
                    let tool_options = tool_options(&plan);
                    let by_args = mode == "args" || (mode == "auto" && is_java);
                    if mode == "off" {
                        assert!(plan.jvm_flags.is_empty(), "{context}");
                    } else {
                        assert!(
                            plan.jvm_flags.iter().any(|f| f.starts_with("-Xmx")),
                            "{context}"
                        );
                    }
                    for flag in &plan.jvm_flags {
                        let in_argv = argv.iter().filter(|a| *a == flag).count();
                        let in_env = tool_options
                            .as_deref()
                            .map_or(0, |t| t.split(' ').filter(|w| w == flag).count());
                        assert_eq!(
                            (in_argv, in_env),
                            if by_args { (1, 0) } else { (0, 1) },
                            "{context}"
                        );
                    }
                    let flags_in_argv = if by_args { plan.jvm_flags.len() } else { 0 };
                    assert_eq!(argv[0], command[0], "{context}");
                    assert_eq!(argv[1 + flags_in_argv..], command[1..], "{context}");
                    if let Some(tool_options) = tool_options {
                        assert!(tool_options.starts_with("-Dtool=1 "), "{context}");
                    }
                }
            }
        }
    }

    #[test]
    fn no_jdk_no_java() {
        let config = config(&["--", "node", "server.js"], &[]);
        let plan = plan(&config, &limits(), None);
        assert_eq!(words(&plan.argv), ["node", "server.js"]);
        assert!(plan.jvm_flags.is_empty() && tool_options(&plan).is_none());
        assert!(plan.reasons.iter().all(|r| !r.contains("JDK")));
        assert_eq!(plan.java, Value::Null);
        assert_eq!(plan.heap, None);
    }

    #[test]
    fn the_runtime_variables_follow_the_java_flags() {
        let config = config(&["--", "./start.sh"], &[("JAVA_TOOL_OPTIONS", "-Dmine=1")]);
        let script = plan(&config, &limits(), Some(&inputs("17", false)));
        let names: Vec<_> = script
            .env
            .iter()
            .map(|(n, _)| n.to_string_lossy())
            .collect();
        assert_eq!(
            names,
            [
                "JAVA_TOOL_OPTIONS",
                "GOMEMLIMIT",
                runtimes::MEMORY_LIMIT_BYTES
            ]
        );
        assert!(
            script
                .reasons
                .iter()
                .any(|r| r.starts_with("Go: GOMEMLIMIT=921MiB"))
        );
        // A java command gets only jwrap's own pair.
        let config = self::config(&["--", "java", "-jar", "app.jar"], &[]);
        let java = plan(&config, &limits(), Some(&inputs("17", true)));
        let names: Vec<_> = java.env.iter().map(|(n, _)| n.to_string_lossy()).collect();
        assert_eq!(names, [runtimes::MEMORY_LIMIT_BYTES]);
    }

    #[test]
    fn the_users_heap_setting_decides_the_heap() {
        let config = config(&["--", "java", "-Xmx1g", "-jar", "app.jar"], &[]);
        let mut java = inputs("17", true);
        java.user
            .settings
            .push(crate::java::userflags::UserSetting {
                knob: Knob::MaxHeap,
                option: "-Xmx1g".to_string(),
                channel: crate::java::userflags::Channel::CommandLine,
            });
        let by_user = plan(&config, &limits(), Some(&java));
        assert_eq!(
            by_user.heap.map(|heap| heap.decided_by),
            Some(HeapDecidedBy::User {
                option: "-Xmx1g".to_string(),
                channel: "the command line".to_string()
            })
        );
        // No limit: no flag, the JVM's default.
        let unlimited = Limits {
            memory: Limit::Unlimited { source: None },
            ..limits()
        };
        let by_default = plan(&config, &unlimited, Some(&inputs("17", true)));
        assert!(matches!(
            by_default.heap.map(|heap| heap.decided_by),
            Some(HeapDecidedBy::JvmDefault { .. })
        ));
    }

    #[test]
    fn warnings_are_reasons_with_a_tag() {
        let config = config(
            &["--memory-limit", "64m", "--", "java", "-jar", "app.jar"],
            &[],
        );
        let mut small = limits();
        small.memory = Limit::Set {
            value: 64 << 20,
            source: Source::file("x", "x"),
        };
        let plan = plan(&config, &small, Some(&inputs("17", true)));
        let warnings: Vec<&str> = plan.warnings().collect();
        assert_eq!(warnings.len(), 1, "{:?}", plan.reasons);
        assert!(warnings[0].contains("safe and useful"));
        assert!(plan.notes().all(|note| !note.starts_with("warning")));
    }
}
