//! Input drivers: where SysFlow records come from.
//!
//! * [`FileDriver`]: an Avro object container file, or a directory of them (non-recursive, every regular file, in
//!   sorted order), optionally followed for files that appear later.
//! * [`SocketDriver`]: a unix `SOCK_SEQPACKET` socket; every message is one bare schema-v5 Avro datum (the collector's
//!   stream, header first). The driver accepts a new connection after each disconnect.
//!
//! A driver sends batches of `(Record, Layout)` to the reader stage and returns when its input is exhausted or when
//! the shared stop flag is raised.

use std::collections::BTreeSet;
use std::io;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};
use crossbeam_channel::Sender;
use socket2::{Domain, SockAddr, Socket, Type};
use sysflow_format::{Layout, Record, TraceReader};
use tracing::{error, info, warn};

use crate::stats::Counter;

/// Records per batch sent by a driver.
pub const DRIVER_BATCH: usize = 1024;

/// One record as read, with the layout of its writer schema.
pub type Input = (Record, Layout);

/// A batch of input records.
pub type InputBatch = Vec<Input>;

/// Largest socket message accepted (the reference reads 16 KiB; larger datums are accepted here).
pub const MAX_MESSAGE: usize = 1 << 20;

/// Sends full batches downstream; returns `false` when the receiver is gone.
struct Batcher<'a> {
    tx: &'a Sender<InputBatch>,
    batch: InputBatch,
    counter: &'a Counter,
}

impl<'a> Batcher<'a> {
    fn new(tx: &'a Sender<InputBatch>, counter: &'a Counter) -> Self {
        Batcher {
            tx,
            batch: Vec::with_capacity(DRIVER_BATCH),
            counter,
        }
    }

    fn push(&mut self, rec: Input) -> bool {
        self.batch.push(rec);
        if self.batch.len() >= DRIVER_BATCH {
            return self.flush();
        }
        true
    }

    fn flush(&mut self) -> bool {
        if self.batch.is_empty() {
            return true;
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(DRIVER_BATCH));
        self.counter.add(batch.len() as u64);
        self.tx.send(batch).is_ok()
    }
}

/// Reads trace files.
#[derive(Debug, Clone)]
pub struct FileDriver {
    /// A trace file or a directory of traces.
    pub path: PathBuf,
    /// On a directory: keep watching it for new files until stopped.
    pub follow: bool,
    /// How long a followed file must stay unchanged before it is read.
    pub settle: Duration,
}

impl FileDriver {
    /// A driver for `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileDriver {
            path: path.into(),
            follow: false,
            settle: Duration::from_secs(2),
        }
    }

    /// Checks that the path exists (run before anything is started).
    pub fn check(&self) -> Result<()> {
        if self.s3_location().is_some() {
            if self.follow {
                bail!("-follow is not supported on s3:// inputs");
            }
            s3_config_from_env()?;
            return Ok(());
        }
        let meta = std::fs::metadata(&self.path)
            .with_context(|| format!("input path {}", self.path.display()))?;
        if self.follow && !meta.is_dir() {
            bail!(
                "-follow needs a directory, {} is not one",
                self.path.display()
            );
        }
        Ok(())
    }

    /// The `bucket[/prefix]` of an `s3://bucket/prefix` input path, if it is one.
    pub fn s3_location(&self) -> Option<String> {
        let s = self.path.to_str()?;
        s.strip_prefix("s3://")
            .map(|l| l.trim_end_matches('/').to_string())
    }

    /// Reads every record and sends it downstream. Stops early when `stop` is raised or the receiver is gone.
    pub fn run(&self, tx: &Sender<InputBatch>, stop: &AtomicBool, counter: &Counter) -> Result<()> {
        let mut out = Batcher::new(tx, counter);
        if let Some(location) = self.s3_location() {
            read_bucket(&location, &mut out, stop)?;
            out.flush();
            return Ok(());
        }
        let meta = std::fs::metadata(&self.path)
            .with_context(|| format!("input path {}", self.path.display()))?;
        if !meta.is_dir() {
            read_file(&self.path, &mut out, stop)?;
            out.flush();
            return Ok(());
        }
        if !self.follow {
            for file in list_files(&self.path)? {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                read_file(&file, &mut out, stop)?;
            }
            out.flush();
            return Ok(());
        }
        info!(dir = %self.path.display(), "Reading the directory and watching it for new trace files.");
        // A file is read once it has not been modified for `settle` (a writer may still be filling it).
        let mut done: BTreeSet<PathBuf> = BTreeSet::new();
        while !stop.load(Ordering::Relaxed) {
            let files = match list_files(&self.path) {
                Ok(f) => f,
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "Cannot list the watched directory.");
                    Vec::new()
                }
            };
            let now = SystemTime::now();
            for file in files {
                if done.contains(&file) || stop.load(Ordering::Relaxed) {
                    continue;
                }
                let Ok(modified) = std::fs::metadata(&file).and_then(|m| m.modified()) else {
                    continue;
                };
                if now.duration_since(modified).unwrap_or(Duration::ZERO) < self.settle {
                    // Still being written (or the clock moved back): look again later, keep the order.
                    break;
                }
                if let Err(e) = read_file(&file, &mut out, stop) {
                    error!(file = %file.display(), error = %format!("{e:#}"), "Cannot read the trace file.");
                }
                done.insert(file);
            }
            if !out.flush() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        out.flush();
        Ok(())
    }
}

/// S3 settings of an `s3://` input, from the environment: `S3_ENDPOINT` (required), `S3_PORT` (443), `S3_SECURE`
/// (true), `S3_ACCESS_KEY`/`S3_SECRET_KEY` (falling back to `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`), `S3_CA_CERT`.
pub fn s3_config_from_env() -> Result<sysflow_export::S3Config> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let endpoint = var("S3_ENDPOINT")
        .context("an s3:// input needs S3_ENDPOINT (and S3_PORT, S3_SECURE, keys)")?;
    let args = sysflow_export::SysprintS3Args {
        s3endpoint: Some(endpoint),
        s3port: var("S3_PORT")
            .map(|p| p.parse())
            .transpose()
            .context("S3_PORT")?
            .unwrap_or(443),
        s3accesskey: var("S3_ACCESS_KEY"),
        s3secretkey: var("S3_SECRET_KEY"),
        secure: !matches!(
            var("S3_SECURE")
                .as_deref()
                .map(str::to_lowercase)
                .as_deref(),
            Some("false" | "0" | "no" | "n" | "f")
        ),
        cacert: var("S3_CA_CERT").map(PathBuf::from),
    };
    args.to_config()
}

/// Reads every object of `bucket[/prefix]` (in the reference's order) as a trace.
fn read_bucket(location: &str, out: &mut Batcher<'_>, stop: &AtomicBool) -> Result<()> {
    let cfg = s3_config_from_env()?;
    let src = sysflow_export::S3Source::open(&cfg, location)
        .with_context(|| format!("s3://{location}"))?;
    for obj in src
        .list()
        .with_context(|| format!("cannot list s3://{location}"))?
    {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = format!("s3://{}/{}", obj.bucket, obj.key);
        info!(object = %name, "Reading trace object.");
        let reader = match src
            .reader(&obj)
            .and_then(|r| Ok(TraceReader::new(std::io::BufReader::new(r))?))
        {
            Ok(r) => r.with_path(&name),
            Err(e) => {
                error!(object = %name, error = %format!("{e:#}"), "Cannot read the trace object.");
                continue;
            }
        };
        if !send_records(reader, out, stop) {
            return Ok(());
        }
    }
    Ok(())
}

/// Regular files of a directory, sorted by name (the reference reads every file, not only `*.sf`).
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn read_file(path: &Path, out: &mut Batcher<'_>, stop: &AtomicBool) -> Result<()> {
    info!(file = %path.display(), "Reading trace file.");
    let reader =
        TraceReader::open(path).with_context(|| format!("cannot open trace {}", path.display()))?;
    send_records(reader, out, stop);
    Ok(())
}

/// Sends every record of a trace downstream; `false` when the receiver is gone. Bad records are logged (the error
/// names the trace and offset) and reading goes on: the reader resynchronises after a bad block when it can.
fn send_records<R: std::io::Read>(
    reader: TraceReader<R>,
    out: &mut Batcher<'_>,
    stop: &AtomicBool,
) -> bool {
    let layout = reader.layout();
    for (i, rec) in reader.enumerate() {
        if i % 4096 == 0 && stop.load(Ordering::Relaxed) {
            break;
        }
        match rec {
            Ok(rec) => {
                if !out.push((rec, layout)) {
                    return false;
                }
            }
            Err(e) => error!(error = %e, "Bad record in trace."),
        }
    }
    true
}

/// Receives the collector's stream on a unix `SOCK_SEQPACKET` socket.
#[derive(Debug, Clone)]
pub struct SocketDriver {
    /// Socket path (removed and re-created at start).
    pub path: PathBuf,
}

impl SocketDriver {
    /// A driver listening on `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SocketDriver { path: path.into() }
    }

    /// Creates the socket: removes a stale path, creates the parent directory, binds and listens.
    pub fn bind(&self) -> Result<Socket> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot remove stale socket {}", self.path.display()))
            }
        }
        let sock = Socket::new(Domain::UNIX, Type::SEQPACKET, None)
            .context("cannot create a SEQPACKET socket")?;
        let addr = SockAddr::unix(&self.path)
            .with_context(|| format!("bad socket path {}", self.path.display()))?;
        sock.bind(&addr)
            .with_context(|| format!("cannot bind {}", self.path.display()))?;
        sock.listen(16)
            .with_context(|| format!("cannot listen on {}", self.path.display()))?;
        sock.set_nonblocking(true)
            .context("cannot make the listening socket non-blocking")?;
        Ok(sock)
    }

    /// Accepts connections one after another until `stop` is raised; forwards every decoded datum.
    pub fn run(
        &self,
        listener: Socket,
        tx: &Sender<InputBatch>,
        stop: &AtomicBool,
        counter: &Counter,
    ) -> Result<()> {
        info!(path = %self.path.display(), "Listening for the SysFlow stream.");
        let mut out = Batcher::new(tx, counter);
        let mut buf: Vec<MaybeUninit<u8>> = vec![MaybeUninit::uninit(); MAX_MESSAGE];
        while !stop.load(Ordering::Relaxed) {
            let conn = match listener.accept() {
                Ok((conn, _)) => conn,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::Interrupted =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("accept on {}", self.path.display()))
                }
            };
            info!("Collector connected.");
            conn.set_nonblocking(false).context("socket mode")?;
            conn.set_read_timeout(Some(Duration::from_millis(100)))
                .context("socket timeout")?;
            let (mut received, mut bad) = (0u64, 0u64);
            loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match conn.recv(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        received += 1;
                        // SAFETY: `recv` initialised the first `n` bytes of `buf`, and `MaybeUninit<u8>` has the
                        // same layout as `u8`.
                        let bytes =
                            unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n) };
                        match sysflow_format::datum::decode_datum(bytes) {
                            Ok(rec) => {
                                if !out.push((rec, Layout::V5)) {
                                    return Ok(());
                                }
                            }
                            Err(e) => {
                                bad += 1;
                                error!(message = received, bytes = n, error = %e, "Cannot decode a SysFlow datum; dropped.");
                            }
                        }
                    }
                    Err(e)
                        if e.kind() == io::ErrorKind::WouldBlock
                            || e.kind() == io::ErrorKind::TimedOut =>
                    {
                        // Idle: pass on what we have so that alerts are not held back.
                        if !out.flush() {
                            return Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        warn!(error = %e, "Collector connection failed.");
                        break;
                    }
                }
            }
            if !out.flush() {
                return Ok(());
            }
            info!(
                messages = received,
                undecodable = bad,
                "Collector disconnected; waiting for a new connection."
            );
        }
        out.flush();
        let _ = std::fs::remove_file(&self.path);
        Ok(())
    }
}

/// A driver selected by the command line or the config.
#[derive(Debug, Clone)]
pub enum Driver {
    /// Trace files.
    File(FileDriver),
    /// Unix socket stream.
    Socket(SocketDriver),
    /// Records handed over in the same process (the collector in `sysflow run`).
    Channel(ChannelDriver),
}

/// Receives batches of records from another part of the same process (no socket, no encoding).
#[derive(Debug, Clone)]
pub struct ChannelDriver {
    /// Where the batches come from; the driver ends when every sender is dropped.
    pub rx: crossbeam_channel::Receiver<InputBatch>,
}

impl ChannelDriver {
    /// Forwards batches downstream until the senders are gone or `stop` is raised (then what is queued is drained).
    pub fn run(&self, tx: &Sender<InputBatch>, stop: &AtomicBool, counter: &Counter) -> Result<()> {
        loop {
            match self.rx.recv_timeout(Duration::from_millis(200)) {
                Ok(batch) => {
                    counter.add(batch.len() as u64);
                    if tx.send(batch).is_err() {
                        return Ok(());
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) && self.rx.is_empty() {
                        return Ok(());
                    }
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Ok(()),
            }
        }
    }
}

impl Driver {
    /// Human-readable name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Driver::File(_) => "file",
            Driver::Socket(_) => "socket",
            Driver::Channel(_) => "channel",
        }
    }
}

/// SIGINT and SIGTERM raise `stop` (the pipeline then drains and exits); a second signal exits at once.
pub fn install_signal_handlers(stop: &Arc<AtomicBool>) -> Result<()> {
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(stop))
            .context("cannot install the signal handler")?;
        signal_hook::flag::register(sig, Arc::clone(stop))
            .context("cannot install the signal handler")?;
    }
    Ok(())
}
