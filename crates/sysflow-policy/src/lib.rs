//! SFPL — the Falco-derived SysFlow policy language — and the policy engine of the SysFlow processor.
//!
//! * [`PolicyEngine`]: loads policy files or directories ([`PolicyEngine::load`]), compiles them once, and
//!   evaluates [`FlatRecord`](sysflow_format::FlatRecord)s from any number of threads (`&self`, `Send + Sync`).
//!   [`PolicyEngine::evaluate`] returns a [`Verdict`]: whether to emit the record, whether a filter dropped it,
//!   and the matching [`Rule`]s (name, description, [`Priority`], tags). [`Evaluator`] is the per-thread variant
//!   that batches statistics; [`PolicyEngine::cost_report`] gives per-rule evaluations, matches and time share.
//! * [`fields`]: the field table — every `sf.*` field and Falco alias, and its value for a record — shared with the
//!   exporters.
//! * Modes ([`Mode`]): `alert` emits matching records; `enrich` emits every record that no filter drops.
//! * [`Compat`]: reference bugs are fixed by default; `Compat::Reference` reproduces them (see the README).
//!
//! Policy files are read the way the reference reads them — as tokens, not YAML — so tabs and loose indentation
//! are accepted. Errors name the file, line, column and rule ([`PolicyError`]).
//!
//! ```
//! use std::sync::Arc;
//! use sysflow_format::{Container, FlatRecord, Layout, Process, ProcessEvent, Record, flags::op};
//! use sysflow_policy::{EngineConfig, PolicyEngine, Priority};
//!
//! let policy = "- rule: Python in a container\n  desc: python started\n  condition: sf.opflags = EXEC and sf.proc.name = python and sf.container.id exists\n  priority: high\n  tags: [mitre:T1059]\n";
//! let engine = PolicyEngine::from_sources(&[("inline.yaml", policy)], &EngineConfig::default()).unwrap();
//!
//! let rec = FlatRecord {
//!     record: Record::ProcessEvent(ProcessEvent { op_flags: op::EXEC, ..Default::default() }),
//!     header: None, pod: None, parent: None, file: None, new_file: None, ancestors: Default::default(), layout: Layout::V5,
//!     container: Some(Arc::new(Container { id: "abc123".into(), ..Default::default() })),
//!     process: Some(Arc::new(Process { exe: "/usr/bin/python".into(), ..Default::default() })),
//! };
//! let verdict = engine.evaluate(&rec);
//! assert!(verdict.emit);
//! assert_eq!(verdict.rules[0].priority, Priority::High);
//! assert_eq!(verdict.tags().collect::<Vec<_>>(), ["mitre:T1059"]);
//! ```
#![warn(missing_docs)]

mod compile;
mod engine;
pub mod error;
mod eval;
pub mod fields;
mod jsonpath;
mod optimize;
mod parser;
mod procctx;
mod sigma;

pub use engine::{
    CostReport, EngineConfig, Evaluator, Filter, Inventory, Language, Mode, PolicyEngine, Priority,
    Rule, RuleCost, Verdict,
};
pub use error::{ErrorKind, Location, PolicyError, Warning};
pub use fields::{Compat, Field, Value};

#[cfg(test)]
mod send_sync {
    fn assert_send_sync<T: Send + Sync>() {}
    #[test]
    fn engine_is_send_sync() {
        assert_send_sync::<crate::PolicyEngine>();
        assert_send_sync::<crate::Verdict>();
    }
}
