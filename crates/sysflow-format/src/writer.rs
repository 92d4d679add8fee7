//! Writing SysFlow traces: Avro object container files with the schema v5, which the reference tools read.

use std::io::Write;

use crate::codec::Codec;
use crate::encode::{encode_datum, put_long, schema_v5_json};
use crate::error::{Error, ErrorKind, Result};
use crate::reader::MAGIC;
use crate::records::Record;

/// Options of a [`TraceWriter`].
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Block codec. Default: deflate (what the reference collector writes).
    pub codec: Codec,
    /// A block is written once its uncompressed size reaches this many bytes. Default: 80,000 (the reference
    /// collector's sync interval).
    pub block_bytes: usize,
    /// The sync marker. Default: random.
    pub sync_marker: Option<[u8; 16]>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            codec: Codec::DeflateDefault,
            block_bytes: 80_000,
            sync_marker: None,
        }
    }
}

/// Writes SysFlow records into an Avro object container (schema v5).
///
/// Call [`finish`](TraceWriter::finish) (or [`flush`](TraceWriter::flush)) before dropping: records still buffered
/// in the current block are only written then, and errors while dropping cannot be reported.
///
/// ```
/// use sysflow_format::{Header, Record};
/// use sysflow_format::writer::{TraceWriter, WriterOptions};
/// # fn main() -> Result<(), sysflow_format::Error> {
/// let mut w = TraceWriter::new(Vec::new(), WriterOptions::default())?;
/// w.write(&Record::Header(Header { version: 5, exporter: "host".into(), ..Default::default() }))?;
/// let bytes = w.finish()?;
/// assert_eq!(&bytes[..4], b"Obj\x01");
/// # Ok(()) }
/// ```
pub struct TraceWriter<W: Write> {
    out: Option<W>,
    opts: WriterOptions,
    sync: [u8; 16],
    block: Vec<u8>,
    count: u64,
    zbuf: Vec<u8>,
    written: u64,
    records: u64,
}

impl<W: Write> TraceWriter<W> {
    /// Writes the container header (schema v5 and codec) to `out`.
    pub fn new(mut out: W, opts: WriterOptions) -> Result<Self> {
        let sync = opts.sync_marker.unwrap_or_else(random_marker);
        let mut head = Vec::with_capacity(8 << 10);
        head.extend_from_slice(&MAGIC);
        put_long(&mut head, 2);
        for (k, v) in [
            ("avro.schema", schema_v5_json()),
            ("avro.codec", opts.codec.name()),
        ] {
            put_long(&mut head, k.len() as i64);
            head.extend_from_slice(k.as_bytes());
            put_long(&mut head, v.len() as i64);
            head.extend_from_slice(v.as_bytes());
        }
        put_long(&mut head, 0);
        head.extend_from_slice(&sync);
        out.write_all(&head)
            .map_err(|e| Error::new(ErrorKind::Io(e)))?;
        Ok(TraceWriter {
            out: Some(out),
            opts,
            sync,
            block: Vec::with_capacity(opts.block_bytes + 4096),
            count: 0,
            zbuf: Vec::new(),
            written: head.len() as u64,
            records: 0,
        })
    }

    /// Appends a record; a block is written when the current one is full.
    pub fn write(&mut self, rec: &Record) -> Result<()> {
        encode_datum(rec, &mut self.block);
        self.count += 1;
        self.records += 1;
        if self.block.len() >= self.opts.block_bytes {
            self.write_block()?;
        }
        Ok(())
    }

    /// Appends an already encoded datum (see [`crate::datum::encode_datum`]).
    pub fn write_datum(&mut self, datum: &[u8]) -> Result<()> {
        self.block.extend_from_slice(datum);
        self.count += 1;
        self.records += 1;
        if self.block.len() >= self.opts.block_bytes {
            self.write_block()?;
        }
        Ok(())
    }

    fn write_block(&mut self) -> Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| Error::new(ErrorKind::Encode("writer already finished".into())))?;
        self.opts.codec.compress(&self.block, &mut self.zbuf)?;
        let mut head = Vec::with_capacity(20);
        put_long(&mut head, self.count as i64);
        put_long(&mut head, self.zbuf.len() as i64);
        let io = |e| Error::new(ErrorKind::Io(e));
        out.write_all(&head).map_err(io)?;
        out.write_all(&self.zbuf).map_err(io)?;
        out.write_all(&self.sync).map_err(io)?;
        self.written += (head.len() + self.zbuf.len() + 16) as u64;
        self.block.clear();
        self.count = 0;
        Ok(())
    }

    /// Writes the current block (if any) and flushes the underlying writer.
    pub fn flush(&mut self) -> Result<()> {
        self.write_block()?;
        if let Some(out) = self.out.as_mut() {
            out.flush().map_err(|e| Error::new(ErrorKind::Io(e)))?;
        }
        Ok(())
    }

    /// Bytes written to the underlying writer so far (header and complete blocks).
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Records written so far (including those still buffered).
    pub fn records_written(&self) -> u64 {
        self.records
    }

    /// Writes the last block, flushes, and returns the underlying writer.
    pub fn finish(mut self) -> Result<W> {
        self.flush()?;
        self.out
            .take()
            .ok_or_else(|| Error::new(ErrorKind::Encode("writer already finished".into())))
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> Option<&W> {
        self.out.as_ref()
    }
}

/// A fresh sync marker: 16 bytes from the process's randomly seeded hasher, the time and a counter.
fn random_marker() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let state = std::collections::hash_map::RandomState::new();
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut h = state.build_hasher();
        h.write_u128(now);
        h.write_u64(n);
        h.write_usize(i);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}
