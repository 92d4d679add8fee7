//! Where records go: Avro files with rotation, the unix-socket stream, both, or a callback/channel.
//!
//! The collector calls a [`RecordSink`] in one place. A sink is organized in *segments*: each segment starts with a
//! header (written by [`RecordSink::begin`]) and is self-contained, because the collector re-emits every entity a
//! segment references.

use std::fs::File;
use std::io::BufWriter;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use sysflow_format::writer::{TraceWriter, WriterOptions};
use sysflow_format::{Header, Record};

/// A destination of records.
pub trait RecordSink {
    /// Starts a new segment (a new file, or a header on the stream) at wall-clock second `now_secs`, and writes its
    /// header: `base` with `filename` filled in by the sink.
    fn begin(&mut self, base: &Header, now_secs: i64) -> Result<()>;
    /// Writes one record of the current segment.
    fn write(&mut self, rec: &Record) -> Result<()>;
    /// Whether the sink wants a new segment now (e.g. the socket reconnected).
    fn needs_reset(&mut self) -> bool {
        false
    }
    /// Flushes and closes.
    fn finish(&mut self) -> Result<()>;
}

/// Naming of output files (`-w`).
#[derive(Debug, Clone)]
pub struct FileNaming {
    target: String,
}

impl FileNaming {
    /// `-w` value: a path ending in `/` is a directory (files named `<epoch>`), anything else a prefix
    /// (files named `<prefix>.<epoch>`).
    pub fn new(target: impl Into<String>) -> FileNaming {
        FileNaming {
            target: target.into(),
        }
    }

    /// The file of the segment started at `epoch`.
    pub fn path_for(&self, epoch: i64) -> PathBuf {
        if self.target.ends_with('/') {
            PathBuf::from(format!("{}{epoch}", self.target))
        } else {
            PathBuf::from(format!("{}.{epoch}", self.target))
        }
    }
}

/// Avro files, one per segment, written with [`TraceWriter`] (deflate, as the reference).
pub struct FileSink {
    naming: FileNaming,
    writer: Option<(PathBuf, TraceWriter<BufWriter<File>>)>,
    last_epoch: i64,
}

impl FileSink {
    /// A sink writing files named after `naming`.
    pub fn new(naming: FileNaming) -> FileSink {
        FileSink {
            naming,
            writer: None,
            last_epoch: i64::MIN,
        }
    }

    /// Path of the current file.
    pub fn current_path(&self) -> Option<&Path> {
        self.writer.as_ref().map(|(p, _)| p.as_path())
    }

    fn close(&mut self) -> Result<()> {
        if let Some((path, w)) = self.writer.take() {
            let mut buf = w
                .finish()
                .with_context(|| format!("finishing {}", path.display()))?;
            std::io::Write::flush(&mut buf)
                .with_context(|| format!("flushing {}", path.display()))?;
        }
        Ok(())
    }
}

impl RecordSink for FileSink {
    fn begin(&mut self, base: &Header, now_secs: i64) -> Result<()> {
        self.close()?;
        // two segments in the same second would share a name: keep names unique
        let epoch = now_secs.max(self.last_epoch + 1);
        self.last_epoch = epoch;
        let path = self.naming.path_for(epoch);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let f = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = TraceWriter::new(BufWriter::new(f), WriterOptions::default())
            .with_context(|| format!("writing the container header of {}", path.display()))?;
        let mut h = base.clone();
        h.filename = path.to_string_lossy().into_owned();
        w.write(&Record::Header(h))
            .with_context(|| format!("writing to {}", path.display()))?;
        self.writer = Some((path, w));
        Ok(())
    }

    fn write(&mut self, rec: &Record) -> Result<()> {
        match &mut self.writer {
            Some((path, w)) => w
                .write(rec)
                .with_context(|| format!("writing to {}", path.display())),
            None => bail!("file sink used before begin()"),
        }
    }

    fn finish(&mut self) -> Result<()> {
        self.close()
    }
}

/// Largest message the reference processor reads from the socket; longer datums are counted.
pub const SOCKET_MESSAGE_LIMIT: usize = 16 * 1024;

/// The unix SOCK_SEQPACKET stream of the reference: one bare Avro datum per message, header first and again at
/// every segment; records are dropped while disconnected, reconnects are tried 10, 20, 40 and 80 s after the first
/// error, after which the sink fails (the reference then shuts the collector down).
pub struct SocketSink {
    path: PathBuf,
    fd: Option<OwnedFd>,
    buf: Vec<u8>,
    first_error: Option<Instant>,
    attempts: u32,
    reset: bool,
    /// Records dropped while disconnected.
    pub dropped: u64,
    /// Datums longer than [`SOCKET_MESSAGE_LIMIT`].
    pub oversize: u64,
}

fn connect_seqpacket(path: &Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh, valid descriptor owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "socket path too long",
        ));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1) as libc::socklen_t;
    // SAFETY: addr is a valid sockaddr_un of at least `len` bytes and fd is open.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            len,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

impl SocketSink {
    /// Connects to the processor's socket at `path`.
    pub fn connect(path: impl Into<PathBuf>) -> Result<SocketSink> {
        let path = path.into();
        let fd = connect_seqpacket(&path)
            .with_context(|| format!("connecting to {}", path.display()))?;
        Ok(SocketSink {
            path,
            fd: Some(fd),
            buf: Vec::new(),
            first_error: None,
            attempts: 0,
            reset: false,
            dropped: 0,
            oversize: 0,
        })
    }

    fn send(&mut self, rec: &Record) -> Result<()> {
        if self.fd.is_none() {
            // dropped while disconnected; after a reconnect the collector starts a new segment (header, entities)
            self.try_reconnect()?;
            self.dropped += 1;
            return Ok(());
        }
        self.buf.clear();
        sysflow_format::datum::encode_datum(rec, &mut self.buf);
        if self.buf.len() > SOCKET_MESSAGE_LIMIT {
            self.oversize += 1;
        }
        let fd = self.fd.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1);
        // SAFETY: buf is a valid slice; fd is an open socket (or -1, which send rejects).
        let rc = unsafe {
            libc::send(
                fd,
                self.buf.as_ptr().cast(),
                self.buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if rc < 0 {
            let err = std::io::Error::last_os_error();
            tracing::warn!(socket = %self.path.display(), error = %err, "Socket send failed; records are dropped until reconnected.");
            self.fd = None;
            self.first_error.get_or_insert_with(Instant::now);
            self.dropped += 1;
        }
        Ok(())
    }

    fn try_reconnect(&mut self) -> Result<()> {
        let first = *self.first_error.get_or_insert_with(Instant::now);
        let schedule = [10u64, 20, 40, 80];
        let Some(due) = schedule.get(self.attempts as usize) else {
            bail!(
                "the socket {} stayed unreachable for 80 s",
                self.path.display()
            );
        };
        if first.elapsed() < Duration::from_secs(*due) {
            return Ok(());
        }
        self.attempts += 1;
        match connect_seqpacket(&self.path) {
            Ok(fd) => {
                tracing::info!(socket = %self.path.display(), "Reconnected.");
                self.fd = Some(fd);
                self.first_error = None;
                self.attempts = 0;
                self.reset = true;
                Ok(())
            }
            Err(e) if self.attempts as usize >= schedule.len() => Err(e).with_context(|| {
                format!(
                    "the socket {} stayed unreachable for 80 s",
                    self.path.display()
                )
            }),
            Err(_) => Ok(()),
        }
    }
}

impl RecordSink for SocketSink {
    fn begin(&mut self, base: &Header, _now_secs: i64) -> Result<()> {
        let mut h = base.clone();
        h.filename = String::new();
        self.send(&Record::Header(h))
    }

    fn write(&mut self, rec: &Record) -> Result<()> {
        self.send(rec)
    }

    fn needs_reset(&mut self) -> bool {
        if self.fd.is_none() {
            // attempts happen on writes; also give idle periods a chance
            let _ = self.try_reconnect();
        }
        std::mem::take(&mut self.reset)
    }

    fn finish(&mut self) -> Result<()> {
        self.fd = None;
        Ok(())
    }
}

/// Files and socket together (the reference's multi-writer).
pub struct MultiSink {
    /// The sinks, written in order.
    pub sinks: Vec<Box<dyn RecordSink + Send>>,
}

impl RecordSink for MultiSink {
    fn begin(&mut self, base: &Header, now_secs: i64) -> Result<()> {
        self.sinks
            .iter_mut()
            .try_for_each(|s| s.begin(base, now_secs))
    }
    fn write(&mut self, rec: &Record) -> Result<()> {
        self.sinks.iter_mut().try_for_each(|s| s.write(rec))
    }
    fn needs_reset(&mut self) -> bool {
        let mut any = false;
        // every sink gets the call (a socket retries its connection in it)
        for s in self.sinks.iter_mut() {
            any |= s.needs_reset();
        }
        any
    }
    fn finish(&mut self) -> Result<()> {
        self.sinks.iter_mut().try_for_each(|s| s.finish())
    }
}

/// Hands every record (headers included) to a closure: the in-process path of `sysflow run`.
pub struct CallbackSink<F: FnMut(Record) -> Result<()>>(pub F);

impl<F: FnMut(Record) -> Result<()>> RecordSink for CallbackSink<F> {
    fn begin(&mut self, base: &Header, _now_secs: i64) -> Result<()> {
        (self.0)(Record::Header(base.clone()))
    }
    fn write(&mut self, rec: &Record) -> Result<()> {
        (self.0)(rec.clone())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Sends every record (headers included) on a bounded channel; a full channel blocks the collector (backpressure),
/// a closed one stops it.
impl RecordSink for SyncSender<Record> {
    fn begin(&mut self, base: &Header, _now_secs: i64) -> Result<()> {
        self.send(Record::Header(base.clone()))
            .context("the record channel is closed")
    }
    fn write(&mut self, rec: &Record) -> Result<()> {
        self.send(rec.clone())
            .context("the record channel is closed")
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Collects records in memory (tests, examples).
#[derive(Debug, Default)]
pub struct VecSink {
    /// Every record, headers included.
    pub records: Vec<Record>,
}

impl RecordSink for VecSink {
    fn begin(&mut self, base: &Header, _now_secs: i64) -> Result<()> {
        self.records.push(Record::Header(base.clone()));
        Ok(())
    }
    fn write(&mut self, rec: &Record) -> Result<()> {
        self.records.push(rec.clone());
        Ok(())
    }
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_naming_follows_the_trailing_slash_rule() {
        assert_eq!(
            FileNaming::new("/data/").path_for(1700000000),
            PathBuf::from("/data/1700000000")
        );
        assert_eq!(
            FileNaming::new("/data/trace").path_for(1700000000),
            PathBuf::from("/data/trace.1700000000")
        );
    }

    #[test]
    fn file_sink_writes_readable_segments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = FileSink::new(FileNaming::new(format!("{}/", dir.path().display())));
        let base = Header {
            version: 5,
            exporter: "t".into(),
            ip: String::new(),
            filename: String::new(),
        };
        s.begin(&base, 100).expect("begin");
        s.write(&Record::Header(base.clone())).expect("write");
        s.begin(&base, 100)
            .expect("second segment in the same second");
        s.finish().expect("finish");
        let first = dir.path().join("100");
        let second = dir.path().join("101");
        let recs: Vec<Record> = sysflow_format::TraceReader::open(&first)
            .expect("open")
            .collect::<Result<_, _>>()
            .expect("decode");
        assert_eq!(recs.len(), 2);
        match &recs[0] {
            Record::Header(h) => assert_eq!(h.filename, first.to_string_lossy()),
            other => panic!("expected a header, got {other:?}"),
        }
        assert!(second.exists());
    }

    fn listen_seqpacket(path: &Path) -> OwnedFd {
        use std::os::unix::ffi::OsStrExt;
        // SAFETY: plain socket/bind/listen calls on a fresh descriptor with a zeroed, filled sockaddr_un.
        unsafe {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0);
            assert!(fd >= 0);
            let mut addr: libc::sockaddr_un = std::mem::zeroed();
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (d, s) in addr.sun_path.iter_mut().zip(path.as_os_str().as_bytes()) {
                *d = *s as libc::c_char;
            }
            let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            assert_eq!(
                libc::bind(fd, (&addr as *const libc::sockaddr_un).cast(), len),
                0
            );
            assert_eq!(libc::listen(fd, 1), 0);
            OwnedFd::from_raw_fd(fd)
        }
    }

    #[test]
    fn socket_sink_sends_one_datum_per_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sf.sock");
        let l = listen_seqpacket(&path);
        let mut s = SocketSink::connect(&path).expect("connect");
        // SAFETY: accept on a listening socket; null address pointers are allowed.
        let conn =
            unsafe { libc::accept(l.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut()) };
        assert!(conn >= 0);
        // SAFETY: conn is a fresh descriptor we own.
        let conn = unsafe { OwnedFd::from_raw_fd(conn) };
        let base = Header {
            version: 5,
            exporter: "e".into(),
            ip: "1.2.3.4".into(),
            filename: "x".into(),
        };
        s.begin(&base, 1).expect("header");
        let pe = sysflow_format::ProcessEvent {
            ts: 7,
            tid: 3,
            op_flags: 2,
            ..Default::default()
        };
        s.write(&Record::ProcessEvent(pe.clone())).expect("record");
        let mut got = Vec::new();
        for _ in 0..2 {
            let mut buf = vec![0u8; SOCKET_MESSAGE_LIMIT];
            // SAFETY: buf is writable for its length.
            let n = unsafe { libc::recv(conn.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            assert!(n > 0);
            got.push(sysflow_format::datum::decode_datum(&buf[..n as usize]).expect("datum"));
        }
        let want_h = Header {
            filename: String::new(),
            ..base
        };
        assert_eq!(got, vec![Record::Header(want_h), Record::ProcessEvent(pe)]);
        assert_eq!((s.dropped, s.oversize), (0, 0));
    }
}
