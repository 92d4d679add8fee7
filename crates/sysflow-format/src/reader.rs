//! Reading Avro object container files of SysFlow records, with the writer schema each file embeds.
//!
//! The reader streams one block at a time (memory is bounded by the largest block, whatever the file size) and
//! yields one `Result` per record. When it meets damage — a truncated block, a bad sync marker, a block that does
//! not decompress or decode — it first yields every record it could recover before the damage, then an [`Error`]
//! naming the file, the byte offset and the block, then skips to the next sync marker and goes on. Truncation at the
//! end of the file ends the iteration after the error.

use std::fs;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::ahead::{Batches, Next, Status};
use crate::codec::Codec;
use crate::decode::{Cursor, DatumDecoder};
use crate::error::{Error, ErrorKind, Result};
use crate::flatten::{FlatRecord, Flattener, Linked};
use crate::layout::Layout;
use crate::records::Record;
use crate::replica::{self, Replica, Shipment, Shipping};

/// The Avro object container magic.
pub const MAGIC: [u8; 4] = *b"Obj\x01";

/// Limits applied to untrusted input.
#[derive(Debug, Clone, Copy)]
pub struct ReaderOptions {
    /// Largest compressed block accepted, in bytes. Default: 64 MiB (the reference writes ~80 KB blocks).
    pub max_block_bytes: usize,
    /// Largest decompressed block accepted, in bytes (decompression-bomb guard). Default: 256 MiB.
    pub max_inflated_bytes: usize,
    /// Largest container metadata (schema and codec) accepted, in bytes. Default: 16 MiB.
    pub max_metadata_bytes: usize,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            max_block_bytes: 64 << 20,
            max_inflated_bytes: 256 << 20,
            max_metadata_bytes: 16 << 20,
        }
    }
}

/// Counters of what a reader has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// Blocks read.
    pub blocks: u64,
    /// Records yielded.
    pub records: u64,
    /// Datums of union branches that are not SysFlow records (decoded and dropped).
    pub skipped: u64,
    /// Errors yielded.
    pub errors: u64,
    /// Bytes consumed from the underlying reader.
    pub bytes: u64,
}

struct Counting<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Counting<R> {
    /// Reads as many bytes as possible into `buf`; returns how many (less than `buf.len()` only at EOF).
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.inner.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.pos += n as u64;
                    return Err(e);
                }
            }
        }
        self.pos += n as u64;
        Ok(n)
    }

    fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<()> {
        let n = self.fill(buf)?;
        if n < buf.len() {
            return Err(Error::truncated(what));
        }
        Ok(())
    }

    fn byte(&mut self) -> Result<Option<u8>> {
        let mut b = [0u8];
        Ok((self.fill(&mut b)? == 1).then_some(b[0]))
    }

    /// Reads a zig-zag varint; `Ok(None)` on a clean EOF before its first byte.
    fn varint(&mut self, what: &'static str) -> Result<Option<i64>> {
        let mut v: u64 = 0;
        let mut shift = 0;
        let mut first = true;
        loop {
            let Some(b) = self.byte()? else {
                return if first {
                    Ok(None)
                } else {
                    Err(Error::truncated(what))
                };
            };
            first = false;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(Some((v >> 1) as i64 ^ -((v & 1) as i64)));
            }
            shift += 7;
            if shift > 63 {
                return Err(Error::new(ErrorKind::BadBlock(format!(
                    "varint in {what} longer than 10 bytes"
                ))));
            }
        }
    }

    fn need_varint(&mut self, what: &'static str) -> Result<i64> {
        self.varint(what)?.ok_or_else(|| Error::truncated(what))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    /// Skip to the next sync marker before reading the next block.
    Resync,
    Done,
}

/// A streaming reader of one SysFlow trace (an Avro object container file).
///
/// ```no_run
/// # fn main() -> Result<(), sysflow_format::Error> {
/// use sysflow_format::reader::TraceReader;
/// for rec in TraceReader::open("trace.sf")? {
///     let rec = rec?;
///     println!("{}", rec.kind());
/// }
/// # Ok(()) }
/// ```
pub struct TraceReader<R> {
    src: Counting<R>,
    path: Option<PathBuf>,
    decoder: DatumDecoder,
    codec: Codec,
    codec_name: String,
    schema_json: String,
    sync: [u8; 16],
    opts: ReaderOptions,
    raw: Vec<u8>,
    block: Vec<u8>,
    inflater: Option<libdeflater::Decompressor>,
    block_pos: usize,
    block_left: u64,
    block_index: u64,
    block_offset: u64,
    /// Error to report once the recovered records of a damaged block are out.
    pending: Option<Error>,
    /// Whether the pending error ends the file (truncation) or is followed by a resync.
    pending_is_final: bool,
    state: State,
    stats: ReaderStats,
}

impl TraceReader<BufReader<fs::File>> {
    /// Opens a trace file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, ReaderOptions::default())
    }

    /// Opens a trace file with explicit limits.
    pub fn open_with(path: impl AsRef<Path>, opts: ReaderOptions) -> Result<Self> {
        let path = path.as_ref();
        let f = fs::File::open(path).map_err(|e| Error::new(ErrorKind::Io(e)).with_path(path))?;
        let mut r = TraceReader::with_options(BufReader::with_capacity(256 << 10, f), opts)
            .map_err(|e| e.with_path(path))?;
        r.path = Some(path.to_path_buf());
        Ok(r)
    }
}

impl<R: Read> TraceReader<R> {
    /// Reads the container header from `inner`.
    pub fn new(inner: R) -> Result<Self> {
        Self::with_options(inner, ReaderOptions::default())
    }

    /// Reads the container header from `inner`, with explicit limits.
    pub fn with_options(inner: R, opts: ReaderOptions) -> Result<Self> {
        let mut src = Counting { inner, pos: 0 };
        let mut magic = [0u8; 4];
        let n = src
            .fill(&mut magic)
            .map_err(|e| Error::from(e).at_offset(0))?;
        if n < 4 {
            return Err(if n == 0 {
                Error::truncated("the container header")
            } else {
                Error::new(ErrorKind::BadMagic)
            }
            .at_offset(0));
        }
        if magic != MAGIC {
            return Err(Error::new(ErrorKind::BadMagic).at_offset(0));
        }
        let (schema_json, codec_name) =
            read_metadata(&mut src, opts.max_metadata_bytes).map_err(|e| e.at_offset(4))?;
        let mut sync = [0u8; 16];
        let off = src.pos;
        src.exact(&mut sync, "the container header")
            .map_err(|e| e.at_offset(off))?;
        let codec = Codec::from_name(&codec_name).map_err(|e| e.at_offset(4))?;
        let decoder = DatumDecoder::new(&schema_json).map_err(|e| e.at_offset(4))?;
        let block_offset = src.pos;
        Ok(TraceReader {
            src,
            path: None,
            decoder,
            codec,
            codec_name,
            schema_json,
            sync,
            opts,
            raw: Vec::new(),
            block: Vec::new(),
            inflater: None,
            block_pos: 0,
            block_left: 0,
            block_index: 0,
            block_offset,
            pending: None,
            pending_is_final: false,
            state: State::Running,
            stats: ReaderStats::default(),
        })
    }

    /// Names the source in error messages (set by [`TraceReader::open`]).
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Which optional fields the file's writer schema has.
    pub fn layout(&self) -> Layout {
        self.decoder.layout()
    }

    /// The writer schema JSON embedded in the file.
    pub fn schema_json(&self) -> &str {
        &self.schema_json
    }

    /// The codec named in the file's metadata.
    pub fn codec_name(&self) -> &str {
        &self.codec_name
    }

    /// What the reader has seen so far.
    pub fn stats(&self) -> ReaderStats {
        ReaderStats {
            bytes: self.src.pos,
            ..self.stats
        }
    }

    fn locate(&self, e: Error) -> Error {
        let e = e.at_offset(self.block_offset).in_block(self.block_index);
        match &self.path {
            Some(p) => e.with_path(p),
            None => e,
        }
    }

    /// Reads the next block into `self.block`. `Ok(false)` at a clean end of file.
    fn next_block(&mut self) -> Result<bool> {
        if self.block_pos != self.block.len() && self.stats.blocks > 0 {
            let left = self.block.len() - self.block_pos;
            self.block_pos = self.block.len();
            return Err(Error::new(ErrorKind::BlockMismatch(format!(
                "{left} bytes left over after the block's last record"
            ))));
        }
        if self.stats.blocks > 0 {
            self.block_index += 1;
        }
        self.block_offset = self.src.pos;
        let Some(count) = self.src.varint("a block header")? else {
            return Ok(false);
        };
        let size = self.src.need_varint("a block header")?;
        if count < 0 || size < 0 {
            return Err(Error::new(ErrorKind::BadBlock(format!(
                "negative record count {count} or size {size}"
            ))));
        }
        if size as u64 > self.opts.max_block_bytes as u64 {
            return Err(Error::new(ErrorKind::BadBlock(format!(
                "block of {size} bytes exceeds the limit of {} bytes",
                self.opts.max_block_bytes
            ))));
        }
        // Every record takes at least one byte (its union index) once decompressed.
        if count as u64 > self.opts.max_inflated_bytes as u64 {
            return Err(Error::new(ErrorKind::BadBlock(format!(
                "impossible record count {count}"
            ))));
        }
        self.stats.blocks += 1;
        self.raw.resize(size as usize, 0);
        let got = self.src.fill(&mut self.raw)?;
        let mut sync = [0u8; 16];
        let sync_got = if got == self.raw.len() {
            self.src.fill(&mut sync)?
        } else {
            0
        };
        if got < self.raw.len() || sync_got < 16 {
            // Cut short: recover what the available bytes hold, then report the truncation.
            let avail = got.min(self.raw.len());
            let raw = std::mem::take(&mut self.raw);
            let mut block = std::mem::take(&mut self.block);
            if got == raw.len() {
                // Only the sync marker is cut: the block itself is whole.
                if self
                    .codec
                    .decompress(&raw, &mut block, self.opts.max_inflated_bytes)
                    .is_err()
                {
                    block.clear();
                }
            } else {
                self.codec.decompress_prefix(
                    &raw[..avail],
                    &mut block,
                    self.opts.max_inflated_bytes,
                );
            }
            self.raw = raw;
            self.block = block;
            self.block_pos = 0;
            self.block_left = count as u64;
            self.pending = Some(Error::truncated(if got < self.raw.len() {
                "a block"
            } else {
                "a sync marker"
            }));
            self.pending_is_final = true;
            return Ok(true);
        }
        let mut block = std::mem::take(&mut self.block);
        let res = self.codec.decompress_with(
            &self.raw,
            &mut block,
            self.opts.max_inflated_bytes,
            &mut self.inflater,
        );
        self.block = block;
        self.block_pos = 0;
        res?;
        self.block_left = count as u64;
        if sync != self.sync {
            // The records may still be good; yield them, then report the marker.
            self.pending = Some(Error::new(ErrorKind::BadSyncMarker));
            self.pending_is_final = false;
        }
        Ok(true)
    }

    /// Skips input up to and including the next sync marker. `Ok(false)` if the end of file comes first.
    fn resync(&mut self) -> Result<bool> {
        let mut window = [0u8; 16];
        let mut filled = 0usize;
        loop {
            let Some(b) = self.src.byte()? else {
                return Ok(false);
            };
            if filled < 16 {
                window[filled] = b;
                filled += 1;
            } else {
                window.copy_within(1.., 0);
                window[15] = b;
            }
            if filled == 16 && window == self.sync {
                self.block.clear();
                self.block_pos = 0;
                self.block_left = 0;
                return Ok(true);
            }
        }
    }

    fn fail(&mut self, e: Error, final_: bool) -> Option<Result<Record>> {
        self.stats.errors += 1;
        self.block_left = 0;
        self.block_pos = self.block.len();
        self.state = if final_ { State::Done } else { State::Resync };
        let rec = self.stats.records;
        Some(Err(self.locate(e).at_record(rec)))
    }

    /// Decodes the next record of the current block, if any is left.
    fn next_in_block(&mut self) -> Option<Result<Record>> {
        while self.block_left > 0 {
            let mut c = Cursor::new(&self.block[self.block_pos..]);
            let r = self.decoder.decode(&mut c);
            let used = c.pos();
            match r {
                Ok(Some(rec)) => {
                    self.block_pos += used;
                    self.block_left -= 1;
                    self.stats.records += 1;
                    return Some(Ok(rec));
                }
                Ok(None) => {
                    self.block_pos += used;
                    self.block_left -= 1;
                    self.stats.skipped += 1;
                }
                Err(e) => {
                    // In a block cut short, running out of data is the truncation already pending.
                    let e = match self.pending.take() {
                        Some(p) if self.pending_is_final => p,
                        Some(p) => {
                            self.pending = Some(p);
                            e
                        }
                        None => e,
                    };
                    let final_ = self.pending_is_final && self.pending.is_none();
                    self.pending = None;
                    return self.fail(e, final_);
                }
            }
        }
        None
    }
}

fn read_metadata<R: Read>(src: &mut Counting<R>, max: usize) -> Result<(String, String)> {
    let mut schema = None;
    let mut codec = None;
    let mut total = 0usize;
    loop {
        let n = src.need_varint("the container metadata")?;
        if n == 0 {
            break;
        }
        let n = if n < 0 {
            src.need_varint("the container metadata")?;
            n.checked_neg()
                .ok_or_else(|| Error::new(ErrorKind::BadMetadata("bad map block".into())))?
        } else {
            n
        };
        for _ in 0..n {
            let key = read_bytes(src, max, &mut total)?;
            let val = read_bytes(src, max, &mut total)?;
            match key.as_slice() {
                b"avro.schema" => {
                    schema = Some(String::from_utf8(val).map_err(|_| {
                        Error::new(ErrorKind::BadMetadata("schema is not UTF-8".into()))
                    })?)
                }
                b"avro.codec" => {
                    codec = Some(String::from_utf8(val).map_err(|_| {
                        Error::new(ErrorKind::BadMetadata("codec is not UTF-8".into()))
                    })?)
                }
                _ => {}
            }
        }
    }
    let schema =
        schema.ok_or_else(|| Error::new(ErrorKind::BadMetadata("no avro.schema entry".into())))?;
    Ok((schema, codec.unwrap_or_else(|| "null".to_string())))
}

fn read_bytes<R: Read>(src: &mut Counting<R>, max: usize, total: &mut usize) -> Result<Vec<u8>> {
    let n = src.need_varint("the container metadata")?;
    if n < 0 || n as u64 > (max - (*total).min(max)) as u64 {
        return Err(Error::new(ErrorKind::BadMetadata(format!(
            "metadata entry of {n} bytes is impossible or too large"
        ))));
    }
    *total += n as usize;
    let mut v = vec![0u8; n as usize];
    src.exact(&mut v, "the container metadata")?;
    Ok(v)
}

impl<R: Read> Iterator for TraceReader<R> {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        loop {
            match self.state {
                State::Done => return None,
                State::Resync => match self.resync() {
                    Ok(true) => self.state = State::Running,
                    Ok(false) => {
                        self.state = State::Done;
                        return None;
                    }
                    Err(e) => return self.fail(e, true),
                },
                State::Running => {}
            }
            if let Some(r) = self.next_in_block() {
                return Some(r);
            }
            if let Some(e) = self.pending.take() {
                let final_ = self.pending_is_final;
                if final_ {
                    return self.fail(e, true);
                }
                // A bad sync marker after a good block: report it, then look for the next marker.
                self.stats.errors += 1;
                self.state = State::Resync;
                let rec = self.stats.records;
                return Some(Err(self.locate(e).at_record(rec)));
            }
            match self.next_block() {
                Ok(true) => {}
                Ok(false) => {
                    self.state = State::Done;
                    return None;
                }
                Err(e) => {
                    let final_ = e.is_truncation() || matches!(e.kind(), ErrorKind::Io(_));
                    return self.fail(e, final_);
                }
            }
        }
    }
}

/// A [`TraceReader`] running on a thread of its own: blocks are read, decompressed and decoded there, in batches of
/// records, while the caller works on the previous batch. Yields exactly what the trace reader yields, in order
/// (errors included); the thread stops when the trace ends or the `ReadAhead` is dropped.
pub struct ReadAhead {
    batches: Batches<Result<Record>>,
    layout: Layout,
}

impl ReadAhead {
    /// Starts reading `reader` on a new thread; gives the reader back if no thread can be started.
    pub fn new<R: Read + Send + 'static>(
        reader: TraceReader<R>,
    ) -> std::result::Result<ReadAhead, Box<TraceReader<R>>> {
        let layout = reader.layout();
        match Batches::spawn("sysflow-read", reader, |r| r) {
            Ok(batches) => Ok(ReadAhead { batches, layout }),
            Err(reader) => Err(Box::new(reader)),
        }
    }

    /// Which optional fields the writer schema has.
    pub fn layout(&self) -> Layout {
        self.layout
    }
}

/// The error for items lost with a producing thread that died.
fn thread_died() -> Error {
    Error::new(ErrorKind::Io(io::Error::other(
        "the read-ahead thread stopped unexpectedly",
    )))
}

impl Iterator for ReadAhead {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        match self.batches.advance() {
            Next::Item(slot) => slot.take(),
            Next::End => None,
            Next::Died => Some(Err(thread_died())),
        }
    }
}

/// A trace reader and a flattener linking its records (on the caller's thread, or on a read-ahead thread).
pub(crate) struct Linking<R> {
    records: TraceReader<R>,
    flattener: Flattener,
    layout: Layout,
}

impl<R: Read> Linking<R> {
    pub(crate) fn new(records: TraceReader<R>, flattener: Flattener) -> Self {
        Linking {
            layout: records.layout(),
            records,
            flattener,
        }
    }

    /// The next event or flow, linked by reference (see [`FlatReader::next_linked`]).
    fn next_linked(&mut self) -> Option<Result<Linked<'_>>> {
        loop {
            match self.records.next()? {
                Ok(rec) => {
                    if self.flattener.accept(rec, self.layout) {
                        return self.flattener.current().map(Ok);
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl<R: Read> Iterator for Linking<R> {
    type Item = Result<FlatRecord>;

    fn next(&mut self) -> Option<Result<FlatRecord>> {
        loop {
            match self.records.next()? {
                Ok(rec) => {
                    if let Some(flat) = self.flattener.push(rec, self.layout) {
                        return Some(Ok(flat));
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// How many items ahead [`FlatReader::next_linked`] prefetches the replica's process entries.
const REPLICA_PREFETCH: usize = 8;

/// Records read and linked on a thread of their own, and the replica of that thread's links (see
/// [`crate::replica`]).
struct Ahead {
    batches: Batches<Shipment>,
    replica: Replica,
}

impl Ahead {
    /// Moves to the next item the caller reads, applying the updates before it to the replica. `None` at the end;
    /// an error when the thread died.
    fn forward(&mut self) -> Option<Result<()>> {
        loop {
            match self.batches.forward() {
                Status::Item => {}
                Status::End => return None,
                Status::Died => return Some(Err(thread_died())),
            }
            let Some(place) = self.batches.current() else {
                continue;
            };
            match place {
                Some(item) if item.is_read() => return Some(Ok(())),
                _ => {
                    if let Some(update) = place.take() {
                        self.replica.apply(update);
                    }
                }
            }
        }
    }
}

/// Where a [`FlatReader`] gets its records. (One per reader: the variants' sizes do not matter.)
#[allow(clippy::large_enum_variant)]
enum Records<R> {
    /// Read and linked on the caller's thread.
    Here(Linking<R>),
    /// Read and linked on a thread of their own.
    Ahead(Ahead),
}

/// Reads the records of a trace and links events and flows to their entities (see [`crate::flatten`]).
pub struct FlatReader<R> {
    records: Records<R>,
}

impl FlatReader<BufReader<fs::File>> {
    /// Opens a trace file, returning only events and flows.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(FlatReader::new(TraceReader::open(path)?))
    }
}

impl<R: Read> FlatReader<R> {
    /// Wraps a trace reader, returning only events and flows.
    pub fn new(inner: TraceReader<R>) -> Self {
        FlatReader {
            records: Records::Here(Linking::new(inner, Flattener::new())),
        }
    }

    /// Wraps a trace reader, returning entities too.
    pub fn with_entities(inner: TraceReader<R>) -> Self {
        FlatReader {
            records: Records::Here(Linking::new(inner, Flattener::with_entities())),
        }
    }

    /// The underlying trace reader (`None` once it reads ahead on its own thread).
    pub fn trace_reader(&self) -> Option<&TraceReader<R>> {
        match &self.records {
            Records::Here(l) => Some(&l.records),
            Records::Ahead(_) => None,
        }
    }
}

impl<R: Read + Send + 'static> FlatReader<R> {
    /// Reads and links the trace on a thread of its own from now on, in batches, while the caller uses the
    /// previous batch: blocks are decompressed and decoded, and records linked, there. Records cross with the
    /// indices of their entities in a replica of that thread's links kept on the caller's side (see
    /// `replica.rs`): no reference count is touched per record. If no thread can be started, the reader goes on
    /// on the caller's thread.
    pub fn read_ahead(self) -> Self {
        let records = match self.records {
            Records::Here(linking) => {
                let layout = linking.layout;
                let shipping = Shipping::new(linking.records, linking.flattener);
                match Batches::spawn("sysflow-read", shipping, |s| s) {
                    Ok(batches) => Records::Ahead(Ahead {
                        batches,
                        replica: Replica::new(layout),
                    }),
                    Err(shipping) => Records::Here(shipping.into_linking()),
                }
            }
            ahead => ahead,
        };
        FlatReader { records }
    }
}

impl<R: Read> FlatReader<R> {
    /// The process slot (see [`Linked::process_slot`]) of the record `k` places after the next one, when the
    /// reader has it at hand already (reading ahead): a hint for callers that prefetch per-process data.
    pub fn upcoming_process_slot(&self, k: usize) -> Option<(u64, u32)> {
        match &self.records {
            Records::Ahead(ahead) => match ahead.batches.peek(k)? {
                Shipment::Event { refs, .. } => ahead.replica.slot_hint(refs),
                _ => None,
            },
            Records::Here(..) => None,
        }
    }

    /// The next event or flow linked to its entities by reference (see [`Linked`]): the iterator's records
    /// without their reference-counted copies. `None` at the end of the trace.
    pub fn next_linked(&mut self) -> Option<Result<Linked<'_>>> {
        match &mut self.records {
            Records::Here(linking) => linking.next_linked(),
            Records::Ahead(ahead) => {
                if let Err(e) = ahead.forward()? {
                    return Some(Err(e));
                }
                // The replica entry of a record a few on is fetched into the cache meanwhile.
                if let Some(Shipment::Event { refs, .. }) = ahead.batches.peek(REPLICA_PREFETCH) {
                    ahead.replica.prefetch(refs);
                }
                let place = ahead.batches.current()?;
                match place {
                    Some(Shipment::Event { record, refs }) => {
                        Some(Ok(ahead.replica.link(record, *refs)))
                    }
                    Some(Shipment::Entity(flat)) => Some(Ok(flat.linked())),
                    // Taken: errors are not `Clone`, and the caller moves on past them.
                    _ => match place.take() {
                        Some(Shipment::Error(e)) => Some(Err(e)),
                        _ => None,
                    },
                }
            }
        }
    }
}

impl<R: Read> Iterator for FlatReader<R> {
    type Item = Result<FlatRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.records {
            Records::Here(linking) => linking.next(),
            Records::Ahead(ahead) => {
                if let Err(e) = ahead.forward()? {
                    return Some(Err(e));
                }
                let item = ahead.batches.current()?.take()?;
                replica::owned(&ahead.replica, item)
            }
        }
    }
}
