//! Printing on several threads: the calling thread reads (and filters) records and hands batches of them to
//! worker threads, which format them with a [`Printer`] each; the calling thread writes the formatted batches in
//! their order. The output is byte for byte that of one [`Printer`]:
//!
//! * every worker starts a batch in the state one printer would have there (`Printer::resume`): records printed
//!   so far (the CSV header, the JSON array's separators) and, in text mode, the row index in the trace;
//! * text-mode batches end exactly where one printer prints a table (after row 1000, 2000, ... of a trace, and at
//!   the end of a trace), so that no table is split between workers;
//! * cached entity sections and plans are per worker; a cache only ever produces the bytes it replaces.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use sysflow_format::{FlatRecord, Linked};

use crate::printer::{OutputMode, PrintOptions, Printer, CHUNK_ROWS};

/// Where the per-trace record loop of `sysprint` puts records: one [`Printer`], or the parallel printer.
pub trait RecordSink {
    /// Starts a trace (see [`Printer::begin_trace`]).
    fn begin_trace(&mut self) -> io::Result<()>;
    /// Prints one record.
    fn write_record(&mut self, rec: FlatRecord) -> io::Result<()>;
    /// Prints one record linked by reference (by default: an owned copy of it).
    fn write_linked(&mut self, rec: &Linked<'_>) -> io::Result<()> {
        self.write_record(rec.to_flat())
    }
    /// Ends a trace (see [`Printer::end_trace`]).
    fn end_trace(&mut self) -> io::Result<()>;
    /// A hint, given once per record: the process slot (see [`Linked::process_slot`]) of the record that comes a
    /// fixed number of records after this one, if known.
    fn upcoming_process(&mut self, _slot: Option<(u64, u32)>) {}
}

impl<W: Write> RecordSink for Printer<W> {
    fn begin_trace(&mut self) -> io::Result<()> {
        Printer::begin_trace(self)
    }

    fn upcoming_process(&mut self, slot: Option<(u64, u32)>) {
        Printer::upcoming_process(self, slot)
    }

    fn write_record(&mut self, rec: FlatRecord) -> io::Result<()> {
        self.write(&rec)
    }

    fn write_linked(&mut self, rec: &Linked<'_>) -> io::Result<()> {
        Printer::write_linked(self, rec)
    }

    fn end_trace(&mut self) -> io::Result<()> {
        Printer::end_trace(self)
    }
}

/// Records per batch outside text mode.
const BATCH_RECORDS: usize = 512;

/// What a batch holds. Nearly every op is a record: boxing them would only add allocations.
#[allow(clippy::large_enum_variant)]
enum Op {
    Begin,
    Rec(FlatRecord),
    End,
}

struct Job {
    seq: u64,
    ops: Vec<Op>,
    /// Records printed before the batch.
    records: u64,
    /// Rows of the current trace printed before the batch.
    table_idx: u64,
    spare: Vec<u8>,
}

struct Done {
    seq: u64,
    bytes: Vec<u8>,
    ops: Vec<Op>,
}

/// The calling thread's side of the parallel printer (see the module documentation).
pub struct ParallelSink<W: Write> {
    main: Printer<W>,
    text: bool,
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    ops: Vec<Op>,
    batch_records: u64,
    batch_idx: u64,
    records: u64,
    idx: u64,
    next_seq: u64,
    next_write: u64,
    ready: BTreeMap<u64, Vec<u8>>,
    in_flight: usize,
    max_in_flight: usize,
    spare_ops: Vec<Vec<Op>>,
    spare_bytes: Vec<Vec<u8>>,
}

impl<W: Write> ParallelSink<W> {
    fn submit(&mut self) -> io::Result<()> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let ops = std::mem::replace(&mut self.ops, self.spare_ops.pop().unwrap_or_default());
        let job = Job {
            seq: self.next_seq,
            ops,
            records: self.batch_records,
            table_idx: self.batch_idx,
            spare: self.spare_bytes.pop().unwrap_or_default(),
        };
        self.next_seq += 1;
        self.batch_records = self.records;
        self.batch_idx = self.idx;
        let sent = self.jobs.as_ref().map(|tx| tx.send(job).is_ok());
        if sent != Some(true) {
            return Err(io::Error::other("a sysprint worker thread stopped"));
        }
        self.in_flight += 1;
        while let Ok(d) = self.done.try_recv() {
            self.take(d);
        }
        self.write_ready()?;
        while self.in_flight >= self.max_in_flight {
            self.wait_one()?;
        }
        Ok(())
    }

    fn take(&mut self, d: Done) {
        self.ready.insert(d.seq, d.bytes);
        self.spare_ops.push(d.ops);
    }

    fn wait_one(&mut self) -> io::Result<()> {
        match self.done.recv() {
            Ok(d) => self.take(d),
            Err(_) => return Err(io::Error::other("a sysprint worker thread stopped")),
        }
        self.write_ready()
    }

    fn write_ready(&mut self) -> io::Result<()> {
        while let Some(bytes) = self.ready.remove(&self.next_write) {
            self.main.write_raw(&bytes)?;
            self.next_write += 1;
            self.in_flight -= 1;
            self.spare_bytes.push(bytes);
        }
        Ok(())
    }

    /// Submits the last batch and writes everything.
    fn drain(&mut self) -> io::Result<()> {
        self.submit()?;
        while self.in_flight > 0 {
            self.wait_one()?;
        }
        Ok(())
    }
}

impl<W: Write> RecordSink for ParallelSink<W> {
    fn begin_trace(&mut self) -> io::Result<()> {
        self.ops.push(Op::Begin);
        self.idx = 0;
        Ok(())
    }

    fn write_record(&mut self, rec: FlatRecord) -> io::Result<()> {
        self.ops.push(Op::Rec(rec));
        self.records += 1;
        let idx = self.idx;
        self.idx += 1;
        let cut = if self.text {
            // One printer prints a table right after this row.
            idx > 0 && idx % CHUNK_ROWS == 0
        } else {
            self.ops.len() >= BATCH_RECORDS
        };
        if cut {
            self.submit()?;
        }
        Ok(())
    }

    fn end_trace(&mut self) -> io::Result<()> {
        self.ops.push(Op::End);
        if self.text {
            self.submit()?;
        }
        Ok(())
    }
}

fn worker(mut p: Printer<Vec<u8>>, jobs: Arc<Mutex<Receiver<Job>>>, done: Sender<Done>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(mut job) = job else { return };
        p.resume(job.records, job.table_idx);
        for op in job.ops.drain(..) {
            // Writing to memory cannot fail.
            let _ = match op {
                Op::Begin => p.begin_trace(),
                Op::Rec(r) => p.write(&r),
                Op::End => p.end_trace(),
            };
        }
        let bytes = p.take_bytes(job.spare);
        if done
            .send(Done {
                seq: job.seq,
                bytes,
                ops: job.ops,
            })
            .is_err()
        {
            return;
        }
    }
}

/// The number of threads to use: `requested`, else the `SYSPRINT_THREADS` environment variable, else `None` (the
/// caller's default). At least 1.
pub fn requested_threads(requested: Option<usize>) -> Option<usize> {
    requested
        .or_else(|| {
            std::env::var("SYSPRINT_THREADS")
                .ok()
                .and_then(|v| v.trim().parse().ok())
        })
        .map(|n: usize| n.max(1))
}

/// The number of CPUs this process may use.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Prints what `feed` puts into the sink with `workers` formatting threads (see the module documentation), then
/// finishes the output like [`Printer::finish`]. With no workers, prints on the calling thread.
pub fn print_with_threads<W, F>(opts: PrintOptions, out: W, workers: usize, feed: F) -> Result<W>
where
    W: Write,
    F: FnOnce(&mut dyn RecordSink) -> io::Result<()>,
{
    let mut main = Printer::new(opts.clone(), out)?;
    if workers == 0 {
        feed(&mut main)?;
        return Ok(main.finish()?);
    }
    let threads = workers;
    let mut workers = Vec::with_capacity(threads);
    for _ in 0..threads {
        let mut p = Printer::new(opts.clone(), Vec::new())?;
        p.set_batch();
        workers.push(p);
    }
    let text = opts.mode == OutputMode::Str;
    let out = std::thread::scope(|scope| -> io::Result<W> {
        let max_in_flight = threads * 4;
        let (job_tx, job_rx) = sync_channel::<Job>(max_in_flight);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done_rx) = channel::<Done>();
        for p in workers {
            let (rx, tx) = (job_rx.clone(), done_tx.clone());
            scope.spawn(move || worker(p, rx, tx));
        }
        drop(done_tx);
        let mut sink = ParallelSink {
            main,
            text,
            jobs: Some(job_tx),
            done: done_rx,
            ops: Vec::new(),
            batch_records: 0,
            batch_idx: 0,
            records: 0,
            idx: 0,
            next_seq: 0,
            next_write: 0,
            ready: BTreeMap::new(),
            in_flight: 0,
            max_in_flight,
            spare_ops: Vec::new(),
            spare_bytes: Vec::new(),
        };
        let r = feed(&mut sink).and_then(|_| sink.drain());
        // Closing the job queue ends the workers.
        sink.jobs = None;
        r?;
        let records = sink.records;
        let mut main = sink.main;
        main.resume(records, 0);
        main.finish()
    })?;
    Ok(out)
}
