//! SysFlow records and their Avro container files.
//!
//! This crate is the one place the SysFlow format lives; every other crate of the project uses its types.
//!
//! * [`records`]: typed records for the 12 branches of the schema v5 union ([`Record`], [`RecordKind`]).
//! * [`flatten`]: the flattened reader that links events and flows to their process, parent, container, pod and
//!   files ([`Flattener`], [`FlatRecord`]).
//! * [`layout`]: which optional fields a file's writer schema has ([`Layout`]).
//! * [`flags`]: op flags, open flags, IPv4 and timestamp helpers.
#![warn(missing_docs)]

pub mod flags;
pub mod flatten;
pub mod layout;
pub mod records;

pub use flatten::{FlatRecord, Flattener};
pub use layout::{Layout, OptionalField};
pub use records::*;
pub mod codec;
pub mod decode;
pub mod error;
pub mod reader;
pub mod schema;

pub use codec::Codec;
pub use error::{Error, ErrorKind, Result};
pub use reader::{FlatReader, ReaderOptions, TraceReader};
pub mod datum;
mod encode;
pub mod writer;

pub use writer::{TraceWriter, WriterOptions};
