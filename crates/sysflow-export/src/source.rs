//! Reading traces back from a bucket (`sysprint -i s3`, the processor's file driver).

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::naming::sort_by_digits;
use crate::store::{Bucket, S3Config};

/// Order of the objects returned by [`S3Source::list`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ObjectOrder {
    /// Numerically by the integer made of all digits of the key, as the reference sysprint orders the
    /// files of a local directory (ties and digit-less keys: see [`crate::naming::sort_by_digits`]).
    #[default]
    Digits,
    /// Lexicographically by key (the order an S3 listing returns, which the reference's `-i s3` mode
    /// used as is).
    Lexicographic,
}

/// One object under the listed location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Object {
    /// Bucket name.
    pub bucket: String,
    /// Full object key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification time.
    pub last_modified: SystemTime,
    /// ETag as reported by the store.
    pub e_tag: Option<String>,
}

/// Traces stored under `bucket[/prefix]` of an S3-compatible store.
///
/// This is a blocking API (it owns a small tokio runtime); do not call it from inside an async
/// runtime — the methods return an error when they detect one.
///
/// ```no_run
/// # fn main() -> anyhow::Result<()> {
/// use sysflow_export::{S3Config, S3Source};
/// let cfg = S3Config { endpoint: "127.0.0.1".into(), port: 9000, secure: false, ..Default::default() };
/// let src = S3Source::open(&cfg, "sysflow/cluster1/node1")?;
/// for obj in src.list()? {
///     let mut reader = src.reader(&obj)?; // impl std::io::Read, streamed
///     let mut bytes = Vec::new();
///     std::io::Read::read_to_end(&mut reader, &mut bytes)?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct S3Source {
    rt: Arc<tokio::runtime::Runtime>,
    store: Arc<AmazonS3>,
    bucket: Bucket,
    prefix: Option<Path>,
    order: ObjectOrder,
}

impl S3Source {
    /// Connects (lazily) to `location` = `bucket` or `bucket/prefix`.
    pub fn open(cfg: &S3Config, location: &str) -> Result<Self> {
        let location = location.trim_start_matches("s3://").trim_matches('/');
        let (bucket, prefix) = match location.split_once('/') {
            Some((b, p)) => (b, Some(p)),
            None => (location, None),
        };
        if bucket.is_empty() {
            bail!("empty bucket name in S3 location '{location}'");
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the I/O runtime")?;
        let store = Arc::new(cfg.store(bucket)?);
        let prefix = match prefix.filter(|p| !p.is_empty()) {
            Some(p) => Some(Path::parse(p).with_context(|| format!("invalid S3 prefix '{p}'"))?),
            None => None,
        };
        let bucket = Bucket::new(cfg, bucket, store.clone())?;
        Ok(Self {
            rt: Arc::new(rt),
            store,
            bucket,
            prefix,
            order: ObjectOrder::default(),
        })
    }

    /// Sets the listing order (default [`ObjectOrder::Digits`]).
    pub fn with_order(mut self, order: ObjectOrder) -> Self {
        self.order = order;
        self
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> Result<F::Output> {
        if tokio::runtime::Handle::try_current().is_ok() {
            bail!("S3Source is a blocking API and cannot be used inside an async runtime");
        }
        Ok(self.rt.block_on(f))
    }

    /// Whether the bucket exists (the reference logs `Bucket <name> does not exist.` otherwise).
    pub fn bucket_exists(&self) -> Result<bool> {
        self.block_on(self.bucket.exists())?
    }

    /// Lists every object under the location (recursively), in the configured order.
    pub fn list(&self) -> Result<Vec<S3Object>> {
        let bucket = self.bucket.name().to_string();
        let metas: Vec<_> = self
            .block_on(
                self.store
                    .list(self.prefix.as_ref())
                    .try_collect::<Vec<_>>(),
            )?
            .with_context(|| format!("cannot list bucket '{bucket}'"))?;
        let mut objs: Vec<S3Object> = metas
            .into_iter()
            .map(|m| S3Object {
                bucket: bucket.clone(),
                key: m.location.to_string(),
                size: m.size,
                last_modified: m.last_modified.into(),
                e_tag: m.e_tag,
            })
            .collect();
        match self.order {
            ObjectOrder::Digits => sort_by_digits(&mut objs, |o| o.key.as_str()),
            ObjectOrder::Lexicographic => objs.sort_by(|a, b| a.key.cmp(&b.key)),
        }
        Ok(objs)
    }

    /// Opens a streaming reader over an object's bytes.
    pub fn reader(&self, obj: &S3Object) -> Result<S3ObjectReader> {
        let path = Path::from(obj.key.as_str());
        let res = self
            .block_on(self.store.get(&path))?
            .with_context(|| format!("cannot get s3://{}/{}", obj.bucket, obj.key))?;
        Ok(S3ObjectReader {
            rt: self.rt.clone(),
            stream: res.into_stream().map_err(io::Error::other).boxed(),
            buf: Bytes::new(),
            name: format!("s3://{}/{}", obj.bucket, obj.key),
        })
    }

    /// Reads a whole object into memory.
    pub fn read_all(&self, obj: &S3Object) -> Result<Vec<u8>> {
        let mut v = Vec::with_capacity(obj.size as usize);
        self.reader(obj)?
            .read_to_end(&mut v)
            .with_context(|| format!("cannot read s3://{}/{}", obj.bucket, obj.key))?;
        Ok(v)
    }

    /// Downloads an object to `dest` (written to `dest.part` then renamed). Returns the byte count.
    pub fn download(&self, obj: &S3Object, dest: &std::path::Path) -> Result<u64> {
        let tmp = dest.with_extension("part");
        let mut out = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        let n = io::copy(&mut self.reader(obj)?, &mut out).with_context(|| {
            format!(
                "cannot download s3://{}/{} to {}",
                obj.bucket,
                obj.key,
                tmp.display()
            )
        })?;
        out.flush()
            .and_then(|_| out.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, dest)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), dest.display()))?;
        Ok(n)
    }
}

/// Blocking `Read` over a streamed object body.
pub struct S3ObjectReader {
    rt: Arc<tokio::runtime::Runtime>,
    stream: BoxStream<'static, io::Result<Bytes>>,
    buf: Bytes,
    name: String,
}

impl std::fmt::Debug for S3ObjectReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3ObjectReader")
            .field("name", &self.name)
            .finish()
    }
}

impl Read for S3ObjectReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.buf.is_empty() {
            if tokio::runtime::Handle::try_current().is_ok() {
                return Err(io::Error::other(
                    "S3ObjectReader cannot be read inside an async runtime",
                ));
            }
            match self.rt.block_on(self.stream.next()) {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => {
                    return Err(io::Error::new(e.kind(), format!("{}: {e}", self.name)))
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf.split_to(n));
        Ok(n)
    }
}
