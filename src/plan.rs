//! What running COMMAND will look like: the final argv, the environment changes, the JVM flags
//! and the reasons for each. Pure: built from the configuration and the limits, nothing else.

use crate::config::Config;
use crate::limits::Limits;
use std::ffi::OsString;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// The command as it will be executed.
    pub argv: Vec<OsString>,
    /// Variables set for the child (added or changed), in order.
    pub env: Vec<(OsString, OsString)>,
    /// The JVM flags jwrap adds, wherever they are delivered.
    pub jvm_flags: Vec<String>,
    /// One line per decision, for `info` and `-v`.
    pub reasons: Vec<String>,
}

pub fn plan(config: &Config, _limits: &Limits) -> Plan {
    Plan {
        argv: config.command.clone(),
        ..Plan::default()
    }
}
