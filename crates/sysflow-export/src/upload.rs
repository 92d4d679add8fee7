//! Uploading one file and confirming that the store holds exactly its bytes.

use std::borrow::Cow;
use std::os::unix::fs::MetadataExt;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};
use md5::{Digest, Md5};
use object_store::aws::AmazonS3;
use object_store::path::Path;
use object_store::{
    Attribute, AttributeValue, Attributes, ObjectStore, ObjectStoreExt, PutMultipartOptions,
    PutOptions, PutPayload,
};
use tokio::io::AsyncReadExt;

use crate::naming::NodeMetadata;
use crate::scan::TraceFile;

/// Multipart settings.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// Files larger than this are uploaded in parts (S3's single PUT limit is 5 GiB).
    pub multipart_threshold: u64,
    /// Size of each part (S3 requires at least 5 MiB for all parts but the last).
    pub part_size: usize,
    /// Parts in flight at once.
    pub part_concurrency: usize,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            multipart_threshold: 32 << 20,
            part_size: 8 << 20,
            part_concurrency: 4,
        }
    }
}

/// What happened to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Uploaded and confirmed.
    Uploaded,
    /// An identical object was already in the store (an earlier run uploaded it but stopped before
    /// deleting the local file); nothing was sent.
    AlreadyPresent,
}

/// Checksums of a local file, in the forms S3 servers use for ETags.
#[derive(Debug, Clone)]
struct LocalDigest {
    /// MD5 of the whole content (single-part ETag).
    whole: String,
    /// `md5(concat(md5(part_i)))-N` for the configured part size (multipart ETag), when multipart.
    multipart: Option<String>,
}

impl LocalDigest {
    /// Whether `etag` (as returned by the store) is consistent with this content. ETags that are not
    /// MD5-shaped (SSE-KMS, some gateways) cannot be checked and are accepted; the size check still
    /// applies.
    fn matches(&self, etag: Option<&str>) -> EtagCheck {
        let Some(raw) = etag else {
            return EtagCheck::Unknown;
        };
        let e = raw.trim_matches('"').to_ascii_lowercase();
        let (hex, suffix) = match e.split_once('-') {
            Some((h, n)) => (h, Some(n)),
            None => (e.as_str(), None),
        };
        let md5_shaped = hex.len() == 32
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && suffix.is_none_or(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !md5_shaped {
            return EtagCheck::Unknown;
        }
        if e == self.whole || self.multipart.as_deref() == Some(e.as_str()) {
            EtagCheck::Match
        } else {
            EtagCheck::Mismatch(e)
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum EtagCheck {
    Match,
    Mismatch(String),
    Unknown,
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(meta: &NodeMetadata) -> Attributes {
    let mut a = Attributes::new();
    for (k, v) in meta.object_metadata() {
        a.insert(
            Attribute::Metadata(Cow::Borrowed(k)),
            AttributeValue::from(v.to_string()),
        );
    }
    a
}

/// Reads up to `buf.len()` bytes, stopping early only at end of file.
async fn read_full(f: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let r = f.read(&mut buf[n..]).await?;
        if r == 0 {
            break;
        }
        n += r;
    }
    Ok(n)
}

/// Uploads `file` to `key` and confirms it (size, and MD5 ETag when the store reports one).
///
/// The object becomes visible under `key` only when complete: a single `PUT` is atomic, and a
/// multipart upload appears on `CompleteMultipartUpload`. With `check_existing`, an object with the
/// same size and checksum already there is not sent again (for files an earlier run may have uploaded). Fails (leaving the local file alone) when the file changes while
/// it is read, or when the store's confirmation does not match the local content.
pub async fn upload_file(
    store: &AmazonS3,
    key: &Path,
    file: &TraceFile,
    meta: &NodeMetadata,
    opts: &UploadOptions,
    check_existing: bool,
) -> Result<UploadOutcome> {
    let path = &file.path;
    let size = file.size;
    let multipart = size > opts.multipart_threshold;
    let part_size = opts.part_size.max(5 << 20);

    // Resume: an object of the same size may already be there (checked against the MD5 below).
    let existing = match check_existing {
        true => store.head(key).await.ok().filter(|m| m.size == size),
        false => None,
    };

    let (etag, digest) = if multipart {
        if let Some(ex) = &existing {
            let digest = digest_parts(file, part_size).await?;
            if digest.matches(ex.e_tag.as_deref()) == EtagCheck::Match {
                ensure_unchanged(file).await?;
                return Ok(UploadOutcome::AlreadyPresent);
            }
        }
        // One pass: the checksums are computed while the parts are read for sending.
        upload_parts(
            store,
            key,
            file,
            meta,
            part_size,
            opts.part_concurrency.max(1),
        )
        .await?
    } else {
        let mut data = Vec::with_capacity(size as usize);
        tokio::fs::File::open(path)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?
            .read_to_end(&mut data)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        if data.len() as u64 != size {
            bail!(
                "{} changed size while being read; will retry",
                path.display()
            );
        }
        let data = Bytes::from(data);
        let (ctx, _) = md5_off_thread(Md5::new(), data.clone()).await?;
        let digest = LocalDigest {
            whole: hex(&ctx.finalize()),
            multipart: None,
        };
        if let Some(ex) = &existing {
            if digest.matches(ex.e_tag.as_deref()) == EtagCheck::Match {
                ensure_unchanged(file).await?;
                return Ok(UploadOutcome::AlreadyPresent);
            }
        }
        let put = PutOptions {
            attributes: attributes(meta),
            ..Default::default()
        };
        let etag = store
            .put_opts(key, PutPayload::from_bytes(data), put)
            .await
            .with_context(|| format!("upload of {} to {key} failed", path.display()))?
            .e_tag;
        (etag, digest)
    };
    if let EtagCheck::Mismatch(e) = digest.matches(etag.as_deref()) {
        bail!(
            "store reported ETag {e} for {key}, local MD5 is {}; keeping {}",
            digest.whole,
            path.display()
        );
    }

    // Confirm what is visible under the final name.
    let head = store
        .head(key)
        .await
        .with_context(|| format!("cannot confirm upload of {key}"))?;
    if head.size != size {
        bail!(
            "{key} has {} bytes in the store, {} locally; keeping {}",
            head.size,
            size,
            path.display()
        );
    }
    if let EtagCheck::Mismatch(e) = digest.matches(head.e_tag.as_deref()) {
        bail!(
            "{key} has ETag {e} in the store, local MD5 is {}; keeping {}",
            digest.whole,
            path.display()
        );
    }
    ensure_unchanged(file).await?;
    Ok(UploadOutcome::Uploaded)
}

async fn upload_parts(
    store: &AmazonS3,
    key: &Path,
    file: &TraceFile,
    meta: &NodeMetadata,
    part_size: usize,
    concurrency: usize,
) -> Result<(Option<String>, LocalDigest)> {
    let path = &file.path;
    let mut upload = store
        .put_multipart_opts(
            key,
            PutMultipartOptions {
                attributes: attributes(meta),
                ..Default::default()
            },
        )
        .await
        .with_context(|| {
            format!(
                "cannot start multipart upload of {} to {key}",
                path.display()
            )
        })?;
    let result: Result<(Option<String>, LocalDigest)> = async {
        let mut f = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("cannot open {}", path.display()))?;
        let mut inflight = FuturesUnordered::new();
        let mut total = 0u64;
        let mut whole = Md5::new();
        let mut parts_md5 = Md5::new();
        let mut nparts = 0usize;
        loop {
            let mut buf = vec![0u8; part_size];
            let n = read_full(&mut f, &mut buf)
                .await
                .with_context(|| format!("cannot read {}", path.display()))?;
            if n == 0 {
                break;
            }
            buf.truncate(n);
            total += n as u64;
            let data = Bytes::from(buf);
            let (w, part) = md5_off_thread(whole, data.clone()).await?;
            whole = w;
            parts_md5.update(part);
            nparts += 1;
            inflight.push(upload.put_part(PutPayload::from_bytes(data)));
            while inflight.len() >= concurrency {
                if let Some(r) = inflight.next().await {
                    r.with_context(|| format!("part upload of {key} failed"))?;
                }
            }
        }
        while let Some(r) = inflight.next().await {
            r.with_context(|| format!("part upload of {key} failed"))?;
        }
        if total != file.size {
            bail!(
                "{} changed size while being uploaded; will retry",
                path.display()
            );
        }
        let done = upload
            .complete()
            .await
            .with_context(|| format!("cannot complete multipart upload of {key}"))?;
        let digest = LocalDigest {
            whole: hex(&whole.finalize()),
            multipart: Some(format!("{}-{nparts}", hex(&parts_md5.finalize()))),
        };
        Ok((done.e_tag, digest))
    }
    .await;
    if result.is_err() {
        // Best effort: parts of an aborted upload are invisible anyway, this only frees space.
        let _ = upload.abort().await;
    }
    result
}

/// Feeds `data` into the running whole-file digest and computes the chunk's own MD5, on the blocking
/// pool (MD5 runs at a few hundred MB/s; it should not stall the I/O tasks).
async fn md5_off_thread(mut whole: Md5, data: Bytes) -> Result<(Md5, [u8; 16])> {
    tokio::task::spawn_blocking(move || {
        whole.update(&data);
        let part: [u8; 16] = Md5::digest(&data).into();
        (whole, part)
    })
    .await
    .context("checksum task failed")
}

/// Checksums of a file read in `part_size` parts (to compare with an object already in the store).
async fn digest_parts(file: &TraceFile, part_size: usize) -> Result<LocalDigest> {
    let path = &file.path;
    let mut f = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut whole = Md5::new();
    let mut parts_md5 = Md5::new();
    let mut nparts = 0usize;
    loop {
        let mut buf = vec![0u8; part_size];
        let n = read_full(&mut f, &mut buf)
            .await
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        buf.truncate(n);
        let (w, part) = md5_off_thread(whole, Bytes::from(buf)).await?;
        whole = w;
        parts_md5.update(part);
        nparts += 1;
    }
    Ok(LocalDigest {
        whole: hex(&whole.finalize()),
        multipart: Some(format!("{}-{nparts}", hex(&parts_md5.finalize()))),
    })
}

async fn ensure_unchanged(file: &TraceFile) -> Result<()> {
    let md = tokio::fs::metadata(&file.path)
        .await
        .with_context(|| format!("cannot stat {}", file.path.display()))?;
    let modified = md.modified().unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    if md.len() != file.size || modified != file.modified || (md.dev(), md.ino()) != file.dev_ino {
        bail!(
            "{} changed since it was scanned; will retry",
            file.path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_checks() {
        let d = LocalDigest {
            whole: "0123456789abcdef0123456789abcdef".into(),
            multipart: Some("fedcba9876543210fedcba9876543210-3".into()),
        };
        assert_eq!(
            d.matches(Some("\"0123456789ABCDEF0123456789abcdef\"")),
            EtagCheck::Match
        );
        assert_eq!(
            d.matches(Some("fedcba9876543210fedcba9876543210-3")),
            EtagCheck::Match
        );
        assert!(matches!(
            d.matches(Some("fedcba9876543210fedcba9876543210-2")),
            EtagCheck::Mismatch(_)
        ));
        assert!(matches!(
            d.matches(Some("00000000000000000000000000000000")),
            EtagCheck::Mismatch(_)
        ));
        assert_eq!(d.matches(Some("not-an-md5")), EtagCheck::Unknown);
        assert_eq!(d.matches(None), EtagCheck::Unknown);
    }
}
