//! SysFlow records and their Avro container files.
//!
//! This crate is the one place the SysFlow format lives; every other crate of the project uses its types.
//!
//! * [`records`]: typed records for the 12 branches of the schema v5 union ([`Record`], [`RecordKind`], [`Oid`],
//!   [`Foid`], the enums).
//! * [`reader`]: [`TraceReader`] reads Avro object container files with the writer schema each file embeds — every
//!   layout the reference ever wrote (header versions 1000, 1001, 2–5, the SELinux branch and the prototype
//!   layouts), branches matched by name — with the null, deflate, snappy and zstandard codecs, one block at a time.
//!   Damage yields the good records, then an [`Error`] naming file, byte offset and block.
//! * [`flatten`]: the flattened reader ([`Flattener`], [`FlatReader`], [`FlatRecord`]) that links events and flows
//!   to their process, parent, container, pod and files, resetting its caches on every header.
//! * [`writer`]: [`TraceWriter`] writes schema-v5 files that the reference tools read (deflate by default).
//! * [`datum`]: bare v5 datums, one per message of the collector's unix-socket stream.
//! * [`layout`]: which optional fields a file's writer schema has ([`Layout`]).
//! * [`flags`]: op flags, open flags, IPv4 and timestamp helpers.
//!
//! ```
//! use sysflow_format::{FlatReader, Header, Oid, Process, ProcessEvent, Record, TraceReader, TraceWriter};
//! use sysflow_format::flags::op;
//! # fn main() -> Result<(), sysflow_format::Error> {
//! let oid = Oid { create_ts: 1, hpid: 42 };
//! let mut w = TraceWriter::new(Vec::new(), Default::default())?;
//! w.write(&Record::Header(Header { version: 5, exporter: "host".into(), ..Default::default() }))?;
//! w.write(&Record::Process(Box::new(Process { oid, exe: "/bin/sh".into(), ..Default::default() })))?;
//! w.write(&Record::ProcessEvent(ProcessEvent { proc_oid: oid, op_flags: op::EXEC, ..Default::default() }))?;
//! let bytes = w.finish()?;
//!
//! // Typed records, in file order.
//! assert_eq!(TraceReader::new(&bytes[..])?.count(), 3);
//! // Events and flows linked to their entities.
//! let flat = FlatReader::new(TraceReader::new(&bytes[..])?).next().unwrap()?;
//! assert_eq!(flat.process.unwrap().exe, "/bin/sh");
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod ahead;
pub mod codec;
pub mod datum;
pub mod decode;
mod encode;
pub mod error;
pub mod flags;
pub mod flatten;
pub mod hint;
pub mod layout;
pub mod reader;
pub mod records;
mod replica;
pub mod schema;
pub mod writer;

pub use codec::Codec;
pub use error::{Error, ErrorKind, Result};
pub use flatten::{FlatRecord, Flattener, Linked};
pub use layout::{Layout, OptionalField};
pub use reader::{FlatReader, ReadAhead, ReaderOptions, TraceReader};
pub use records::*;
pub use writer::{TraceWriter, WriterOptions};
