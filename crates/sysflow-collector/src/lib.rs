//! Live SysFlow collector (`sysporter`) on CO-RE eBPF, with flows aggregated in the kernel.
//!
//! The flow of a run ([`runner::run_live`]): the [`bpf::Probe`] loads `src/bpf/sysflow.bpf.c` (per-syscall
//! tracepoints and scheduler BTF tracepoints only) and attaches the programs of the [`config::Mode`]; read, write,
//! send, recv, mmap, shutdown and setns hits are added up per (process, fd) in a kernel hash map, so the ring buffer
//! carries one record per flow start and end, plus process and file events ([`events`]). The [`collector::Collector`]
//! turns those into SysFlow records (entities written lazily, ancestors root first) and hands them to a
//! [`sink::RecordSink`]: rotated Avro files, the processor's SEQPACKET socket, or a callback/channel for in-process
//! consumers.
//!
//! The CLI of `sysflow collect` / `sysporter` is [`CollectArgs`] + [`run`].
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use sysflow_collector::{run_live, LiveOptions, VecSink};
//! use sysflow_format::Header;
//!
//! let stop = AtomicBool::new(true); // set from another thread or a signal handler to stop
//! let opts = LiveOptions::new(Header { version: 5, exporter: "node".into(), ..Default::default() });
//! let summary = run_live(opts, VecSink::default(), &stop, None)?;
//! println!("{} records", summary.sink.records.len());
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod bpf;
pub mod cli;
pub mod collector;
pub mod config;
pub mod container;
pub mod cri;
pub mod events;
pub mod filter;
pub mod procfs;
pub mod runner;
pub mod sink;

pub use cli::{run, CollectArgs};
pub use collector::{Collector, UserStats};
pub use config::{CollectorConfig, FileReadMode, Mode};
pub use runner::{run_live, LiveOptions, RunSummary};
pub use sink::{CallbackSink, FileNaming, FileSink, MultiSink, RecordSink, SocketSink, VecSink};
