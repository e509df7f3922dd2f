//! What running COMMAND will look like: the final argv, the environment changes, the JVM flags
//! and the reasons for each. Pure: built from the configuration, the limits and the facts
//! gathered about the JDK (`java::inspect`), nothing else.
//!
//! One function per concern adds its part to the plan; each leaves what it does not own alone.

use crate::cli::JavaFlagsMode;
use crate::config::Config;
use crate::java::decide::{self, Policy};
use crate::java::{self, JavaInputs};
use crate::limits::Limits;
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
    /// The Java facts for `info` (`null` when no JDK is involved).
    pub java: Value,
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

pub fn plan(config: &Config, limits: &Limits, java: Option<&JavaInputs>) -> Plan {
    let mut plan = Plan {
        argv: config.command.clone(),
        ..Plan::default()
    };
    if let Some(java) = java {
        add_jvm_flags(&mut plan, config, limits, java);
    }
    plan
}

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
    plan.java = java::summary(java, &decision, delivery.name());
    let flags = decision.flags;
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
            plan.env.push((OsString::from("JAVA_TOOL_OPTIONS"), value));
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
        assert!(plan.env.is_empty());
        assert_eq!(plan.java["delivery"], "arguments");
        assert_eq!(plan.java["version"], "17");
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
            plan.env,
            [(
                OsString::from("JAVA_TOOL_OPTIONS"),
                OsString::from(format!("-Dmine=1 {}", plan.jvm_flags.join(" ")))
            )]
        );
    }

    #[test]
    fn a_blank_java_tool_options_is_replaced() {
        let config = config(
            &["--java-flags", "env", "--", "java", "-jar", "app.jar"],
            &[("JAVA_TOOL_OPTIONS", "  ")],
        );
        let plan = plan(&config, &limits(), Some(&inputs("17", true)));
        assert_eq!(plan.env[0].1, OsString::from(plan.jvm_flags.join(" ")));
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
            &["--java-flags", "off", "--", "java", "-jar", "app.jar"],
            &[],
        );
        let plan = plan(&config, &limits(), Some(&inputs("17", true)));
        assert_eq!(words(&plan.argv), ["java", "-jar", "app.jar"]);
        assert!(plan.env.is_empty() && plan.jvm_flags.is_empty());
        assert_eq!(plan.java["delivery"], "off");
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
                    let tool_options = plan
                        .env
                        .iter()
                        .find(|(name, _)| name == "JAVA_TOOL_OPTIONS")
                        .map(|(_, value)| value.to_string_lossy().into_owned());
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
        assert!(plan.jvm_flags.is_empty() && plan.env.is_empty() && plan.reasons.is_empty());
        assert_eq!(plan.java, Value::Null);
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
        assert!(warnings[0].contains("too small"));
        assert!(plan.notes().all(|note| !note.starts_with("warning")));
    }
}
