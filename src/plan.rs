//! What running COMMAND will look like: the final argv, the environment changes, the JVM flags
//! and the reasons for each. Pure: built from the configuration, the limits and the facts
//! gathered about the JDK (`java::inspect`) and COMMAND's program (`runtimes::inspect`),
//! nothing else.
//!
//! One function per concern adds its part to the plan; each leaves what it does not own alone.

use crate::config::JavaFlagsMode;
use crate::config::{Action, Config};
use crate::java::decide::{self, Policy};
use crate::java::ranwith::Expected;
use crate::java::{self, JavaInputs};
use crate::limits::Limits;
use crate::runtimes;
use std::ffi::OsString;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// The command as it will be executed.
    pub argv: Vec<OsString>,
    /// Variables set for the child (added or changed), in order.
    pub env: Vec<(OsString, OsString)>,
    /// The JVM flags jwrap adds, wherever they are delivered.
    pub jvm_flags: Vec<String>,
    /// One line per decision, for `info` and `-v`, and the problems, shown always.
    pub reasons: Vec<Reason>,
    /// The Java facts for `info` (`None` when no JDK is involved).
    pub java: Option<java::Summary>,
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

/// One line of a plan's explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A decision: shown with `-v`, and by `info`.
    Note(String),
    /// A problem: shown even without `-v`.
    Warning(String),
}

impl Reason {
    #[must_use]
    pub fn text(&self) -> &str {
        match self {
            Reason::Note(text) | Reason::Warning(text) => text,
        }
    }
}

/// As `info` shows it: a warning tagged `warning: ` (the form `command.reasons` holds in JSON).
impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Note(text) => f.write_str(text),
            Reason::Warning(text) => write!(f, "warning: {text}"),
        }
    }
}

impl serde::Serialize for Reason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Plan {
    fn note(&mut self, text: impl Into<String>) {
        self.reasons.push(Reason::Note(text.into()));
    }

    fn warn(&mut self, text: impl Into<String>) {
        self.reasons.push(Reason::Warning(text.into()));
    }

    /// The problems.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.reasons.iter().filter_map(|reason| match reason {
            Reason::Warning(text) => Some(text.as_str()),
            Reason::Note(_) => None,
        })
    }

    /// The decisions.
    pub fn notes(&self) -> impl Iterator<Item = &str> {
        self.reasons.iter().filter_map(|reason| match reason {
            Reason::Note(text) => Some(text.as_str()),
            Reason::Warning(_) => None,
        })
    }
}

#[must_use]
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
    plan.reasons
        .extend(decided.reasons.into_iter().map(Reason::Note));
}

/// What decides the heap: the user's setting (the same ones `decide` defers to), jwrap's
/// `-Xmx` when it reaches the JVM, or else the JVM's default.
fn heap_decided_by(java: &JavaInputs, flags: &[String], delivery: Delivery) -> HeapDecidedBy {
    if let Some(setting) = decide::user_heap_setting(&java.user) {
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
    /// Appended to `JAVA_TOOL_OPTIONS`, for a COMMAND that starts java later.
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
    plan.note(java::describe_jdk(&java.jdk));
    for unreadable in &java.user.unreadable {
        plan.warn(format!(
            "{unreadable}; the user's settings in it are not known"
        ));
    }
    let policy = Policy {
        heap_percent: config.heap_percent,
    };
    let decision = decide::decide(limits, &java.jdk.facts, &java.cgroup, &policy, &java.user);
    plan.reasons
        .extend(decision.reasons.iter().cloned().map(Reason::Note));
    for warning in &decision.warnings {
        plan.warn(warning.as_str());
    }
    let delivery = Delivery::for_mode(config.java_flags, java.command_is_java);
    // The Java facts are for `info` to show; a run would build them for nothing.
    if matches!(config.action, Action::Info { .. }) {
        plan.java = Some(java::summary(java, &decision, delivery.name()));
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
            plan.note(format!("--java-flags off: not adding {}", flags.join(" ")));
            return;
        }
        Delivery::Arguments => {
            if !java.command_is_java {
                plan.note(
                    "--java-flags args: COMMAND is not java, yet its first arguments are now the \
                     JVM flags, as asked",
                );
            }
            let after_program = plan.argv.len().min(1);
            plan.argv.splice(
                after_program..after_program,
                flags.iter().map(OsString::from),
            );
            plan.note("flags delivered as arguments right after java");
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
                plan.warn(format!(
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
            plan.note("flags delivered in JAVA_TOOL_OPTIONS, after what it already held");
        }
    }
    plan.jvm_flags = flags;
}
