//! Errors of the format library: what failed, and where (file, byte offset, block, record).

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What went wrong while reading or writing a trace.
#[derive(Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An I/O error from the underlying reader or writer.
    Io(io::Error),
    /// The file does not start with the Avro magic `Obj\x01`.
    BadMagic,
    /// The container header's metadata is malformed or lacks `avro.schema`.
    BadMetadata(String),
    /// The codec named in the header is not supported.
    UnsupportedCodec(String),
    /// The writer schema is not valid Avro or not a SysFlow schema.
    Schema(String),
    /// The data ended in the middle of a header, block or record.
    Truncated {
        /// What was being read.
        what: &'static str,
    },
    /// A block is not followed by the file's sync marker.
    BadSyncMarker,
    /// A block's header is impossible (negative count or size, or size above the configured limit).
    BadBlock(String),
    /// A compressed block could not be decompressed.
    Decompress(String),
    /// A datum could not be decoded (invalid varint, union index, enum ordinal, UTF-8, length, ...).
    Decode(String),
    /// A block decoded to fewer or more bytes than its records use.
    BlockMismatch(String),
    /// A record could not be encoded.
    Encode(String),
}

/// An error of the format library, with the location where it happened.
///
/// `Display` renders `<file>: <what> at byte offset <n> (block <b>, record <r>)`, leaving out what is unknown.
#[derive(Debug)]
pub struct Error {
    kind: Box<ErrorKind>,
    path: Option<PathBuf>,
    offset: Option<u64>,
    block: Option<u64>,
    record: Option<u64>,
}

impl Error {
    /// A new error of the given kind, with no location yet.
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind: Box::new(kind),
            path: None,
            offset: None,
            block: None,
            record: None,
        }
    }

    pub(crate) fn decode(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Decode(msg.into()))
    }

    pub(crate) fn schema(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Schema(msg.into()))
    }

    pub(crate) fn truncated(what: &'static str) -> Self {
        Error::new(ErrorKind::Truncated { what })
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The file the error happened in, if known.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Byte offset in the file where the damaged unit (header, block, sync marker) starts, if known.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// Index of the block (0-based), if known.
    pub fn block(&self) -> Option<u64> {
        self.block
    }

    /// Index of the record within the file (0-based), if known.
    pub fn record(&self) -> Option<u64> {
        self.record
    }

    /// Sets the file path (keeps an existing one).
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        if self.path.is_none() {
            self.path = Some(path.into());
        }
        self
    }

    /// Sets the byte offset (keeps an existing one).
    pub fn at_offset(mut self, offset: u64) -> Self {
        self.offset.get_or_insert(offset);
        self
    }

    /// Sets the block index (keeps an existing one).
    pub fn in_block(mut self, block: u64) -> Self {
        self.block.get_or_insert(block);
        self
    }

    /// Sets the record index (keeps an existing one).
    pub fn at_record(mut self, record: u64) -> Self {
        self.record.get_or_insert(record);
        self
    }

    /// Whether the error is an end of data in the middle of something (a truncated file or stream).
    pub fn is_truncation(&self) -> bool {
        matches!(*self.kind, ErrorKind::Truncated { .. })
            || matches!(&*self.kind, ErrorKind::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Io(e) => write!(f, "I/O error: {e}"),
            ErrorKind::BadMagic => f.write_str("not an Avro object container file (bad magic)"),
            ErrorKind::BadMetadata(m) => write!(f, "bad container metadata: {m}"),
            ErrorKind::UnsupportedCodec(c) => write!(
                f,
                "unsupported codec {c:?} (supported: null, deflate, snappy, zstandard)"
            ),
            ErrorKind::Schema(m) => write!(f, "bad writer schema: {m}"),
            ErrorKind::Truncated { what } => write!(f, "truncated data: file ends inside {what}"),
            ErrorKind::BadSyncMarker => {
                f.write_str("block is not followed by the file's sync marker (corrupt data)")
            }
            ErrorKind::BadBlock(m) => write!(f, "bad block: {m}"),
            ErrorKind::Decompress(m) => write!(f, "cannot decompress block: {m}"),
            ErrorKind::Decode(m) => write!(f, "cannot decode record: {m}"),
            ErrorKind::BlockMismatch(m) => write!(f, "block contents do not match its header: {m}"),
            ErrorKind::Encode(m) => write!(f, "cannot encode record: {m}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        write!(f, "{}", self.kind)?;
        if let Some(o) = self.offset {
            write!(f, " at byte offset {o}")?;
        }
        match (self.block, self.record) {
            (Some(b), Some(r)) => write!(f, " (block {b}, record {r})"),
            (Some(b), None) => write!(f, " (block {b})"),
            (None, Some(r)) => write!(f, " (record {r})"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.kind {
            ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return Error::truncated("the container");
        }
        Error::new(ErrorKind::Io(e))
    }
}

/// Result alias of the format library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
