//! `sysprint`: prints SysFlow traces as JSON, flat JSON, CSV or text tables, with the output of the Python
//! reference `sysprint` (sysflow-tools 0.6.1) byte for byte.
//!
//! * [`fields`]: the 75 exported keys in the reference's order, with headers, widths and descriptions.
//! * [`value`]: the value of each key for a [`sysflow_format::FlatRecord`] ([`field_value`]).
//! * [`Printer`]: writes records as JSON Lines, a JSON array, CSV or tabulate-0.9 "github" tables.
//! * [`parallel`]: the same output with the formatting spread over worker threads (`sysprint` decodes and links on
//!   a second thread with two CPUs or more and adds formatting workers on large inputs; `SYSPRINT_THREADS=N` or
//!   `--threads N` chooses, see `cli::plan_threads`).
//! * [`cli`]: the `sysprint` command line ([`SysprintArgs`], [`run`]): local files and directories or S3 buckets
//!   (through `sysflow-export`), sfql filters (through `sysflow-sfql`).
//!
//! The crate README lists the deliberate deviations from the reference (non-zero exit status on errors,
//! NetworkEvent and prototype traces printed, one output file for several traces, ...).
//!
//! ```no_run
//! use sysflow_format::FlatReader;
//! use sysflow_print::{OutputMode, PrintOptions, Printer};
//!
//! let mut printer = Printer::new(PrintOptions::new(OutputMode::Flatjson), std::io::stdout().lock())?;
//! printer.begin_trace()?;
//! for rec in FlatReader::open("trace.sf")? {
//!     printer.write(&rec?)?;
//! }
//! printer.end_trace()?;
//! printer.finish()?;
//! # Ok::<(), anyhow::Error>(())
//! ```
#![warn(missing_docs)]

pub mod cli;
pub mod fields;
pub mod parallel;
pub mod printer;
pub mod py;
pub mod render;
pub mod table;
pub mod value;

pub use cli::{exit_status, main_with, run, run_with, Input, RunStatus, SysprintArgs};
pub use fields::Field;
pub use printer::{OutputMode, PrintOptions, Printer};
pub use value::{field_value, FlowTuple, RecordView, Value};
