//! Block compression codecs of Avro object container files.

use std::io::{Read, Write};

use crate::error::{Error, ErrorKind, Result};

/// A block codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// No compression.
    Null,
    /// Raw deflate (RFC 1951), the codec the reference collector writes. The level is 0–9.
    Deflate(u32),
    /// Snappy, followed by the big-endian CRC-32 of the uncompressed data.
    Snappy,
    /// Zstandard. The level is 1–22.
    Zstandard(i32),
    /// Deflate at the default level (6).
    #[default]
    DeflateDefault,
}

impl Codec {
    /// The name written in the `avro.codec` metadata.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Null => "null",
            Codec::Deflate(_) | Codec::DeflateDefault => "deflate",
            Codec::Snappy => "snappy",
            Codec::Zstandard(_) => "zstandard",
        }
    }

    /// Parses an `avro.codec` value (or a user's choice: `null`, `deflate`, `snappy`, `zstandard`/`zstd`).
    pub fn from_name(name: &str) -> Result<Codec> {
        match name {
            "null" | "" => Ok(Codec::Null),
            "deflate" => Ok(Codec::DeflateDefault),
            "snappy" => Ok(Codec::Snappy),
            "zstandard" | "zstd" => Ok(Codec::Zstandard(3)),
            other => Err(Error::new(ErrorKind::UnsupportedCodec(other.to_string()))),
        }
    }

    /// Compresses `data` into `out` (cleared first).
    pub fn compress(self, data: &[u8], out: &mut Vec<u8>) -> Result<()> {
        out.clear();
        let enc = |e: std::io::Error| {
            Error::new(ErrorKind::Encode(format!(
                "{} compression failed: {e}",
                self.name()
            )))
        };
        match self {
            Codec::Null => out.extend_from_slice(data),
            Codec::Deflate(_) | Codec::DeflateDefault => {
                let level = match self {
                    Codec::Deflate(l) => l.min(9),
                    _ => 6,
                };
                let mut e = flate2::write::DeflateEncoder::new(
                    std::mem::take(out),
                    flate2::Compression::new(level),
                );
                e.write_all(data).map_err(enc)?;
                *out = e.finish().map_err(enc)?;
            }
            Codec::Snappy => {
                let max = snap::raw::max_compress_len(data.len());
                out.resize(max, 0);
                let n = snap::raw::Encoder::new().compress(data, out).map_err(|e| {
                    Error::new(ErrorKind::Encode(format!("snappy compression failed: {e}")))
                })?;
                out.truncate(n);
                out.extend_from_slice(&crc32fast::hash(data).to_be_bytes());
            }
            Codec::Zstandard(level) => {
                *out = zstd::bulk::compress(data, level).map_err(enc)?;
            }
        }
        Ok(())
    }

    /// Decompresses `data` into `out`, refusing to produce more than `limit` bytes, reusing the inflater in
    /// `scratch` (deflate only) and the buffer's capacity, so that a reader allocates nothing per block.
    pub(crate) fn decompress_with(
        self,
        data: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
        scratch: &mut Option<libdeflater::Decompressor>,
    ) -> Result<()> {
        match self {
            Codec::Deflate(_) | Codec::DeflateDefault => inflate(
                data,
                out,
                limit,
                scratch.get_or_insert_with(Default::default),
            ),
            _ => self.decompress(data, out, limit),
        }
    }

    /// Decompresses `data` into `out` (cleared first), refusing to produce more than `limit` bytes.
    pub fn decompress(self, data: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<()> {
        out.clear();
        let bomb = || {
            Error::new(ErrorKind::Decompress(format!(
                "block inflates beyond the limit of {limit} bytes"
            )))
        };
        let dec =
            |e: std::io::Error| Error::new(ErrorKind::Decompress(format!("{}: {e}", self.name())));
        match self {
            Codec::Null => {
                if data.len() > limit {
                    return Err(bomb());
                }
                out.extend_from_slice(data);
            }
            Codec::Deflate(_) | Codec::DeflateDefault => {
                inflate(data, out, limit, &mut libdeflater::Decompressor::new())?;
            }
            Codec::Snappy => {
                if data.len() < 4 {
                    return Err(Error::new(ErrorKind::Decompress(
                        "snappy block shorter than its CRC".into(),
                    )));
                }
                let (body, crc) = data.split_at(data.len() - 4);
                let n = snap::raw::decompress_len(body)
                    .map_err(|e| Error::new(ErrorKind::Decompress(format!("snappy: {e}"))))?;
                if n > limit {
                    return Err(bomb());
                }
                out.resize(n, 0);
                snap::raw::Decoder::new()
                    .decompress(body, out)
                    .map_err(|e| Error::new(ErrorKind::Decompress(format!("snappy: {e}"))))?;
                let want = u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]);
                let got = crc32fast::hash(out);
                if want != got {
                    return Err(Error::new(ErrorKind::Decompress(format!(
                        "snappy CRC mismatch (expected {want:08x}, got {got:08x})"
                    ))));
                }
            }
            Codec::Zstandard(_) => {
                let mut d = zstd::stream::read::Decoder::new(data)
                    .map_err(dec)?
                    .take(limit as u64 + 1);
                d.read_to_end(out).map_err(dec)?;
                if out.len() > limit {
                    return Err(bomb());
                }
            }
        }
        Ok(())
    }

    /// Best-effort decompression of a block cut short: returns whatever prefix of the data can be recovered.
    pub(crate) fn decompress_prefix(self, data: &[u8], out: &mut Vec<u8>, limit: usize) {
        out.clear();
        match self {
            Codec::Null => out.extend_from_slice(&data[..data.len().min(limit)]),
            Codec::Deflate(_) | Codec::DeflateDefault => {
                let mut d = flate2::read::DeflateDecoder::new(data).take(limit as u64);
                let mut buf = [0u8; 8192];
                while let Ok(n) = d.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&buf[..n]);
                }
            }
            Codec::Zstandard(_) => {
                if let Ok(d) = zstd::stream::read::Decoder::new(data) {
                    let mut d = d.take(limit as u64);
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = d.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        out.extend_from_slice(&buf[..n]);
                    }
                }
            }
            // A snappy block cannot be decoded without its end.
            Codec::Snappy => {}
        }
    }
}

/// Inflates one whole raw-deflate block with libdeflate, which needs the whole output buffer up front. Avro blocks
/// do not record their inflated size, so the first guess is the buffer's capacity left by the previous block (at
/// least four and at most sixteen times the input), doubled while too small, up to `limit`.
fn inflate(
    data: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
    d: &mut libdeflater::Decompressor,
) -> Result<()> {
    let mut size = out
        .capacity()
        .min(data.len().saturating_mul(16))
        .max(data.len().saturating_mul(4))
        .max(4096)
        .min(limit);
    loop {
        // Only bytes beyond the previous block's length are zeroed.
        out.resize(size, 0);
        match d.deflate_decompress(data, out) {
            Ok(n) => {
                out.truncate(n);
                return Ok(());
            }
            Err(libdeflater::DecompressionError::InsufficientSpace) if size < limit => {
                size = size.saturating_mul(2).min(limit);
            }
            Err(libdeflater::DecompressionError::InsufficientSpace) => {
                out.clear();
                return Err(Error::new(ErrorKind::Decompress(format!(
                    "block inflates beyond the limit of {limit} bytes"
                ))));
            }
            Err(libdeflater::DecompressionError::BadData) => {
                out.clear();
                return Err(Error::new(ErrorKind::Decompress(
                    "deflate: invalid or truncated data".into(),
                )));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..10_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for c in [
            Codec::Null,
            Codec::DeflateDefault,
            Codec::Deflate(1),
            Codec::Snappy,
            Codec::Zstandard(3),
        ] {
            let mut z = Vec::new();
            c.compress(&data, &mut z).unwrap();
            let mut back = Vec::new();
            c.decompress(&z, &mut back, 1 << 20).unwrap();
            assert_eq!(back, data, "{c:?}");
        }
    }

    #[test]
    fn decompression_is_bounded() {
        let data = vec![0u8; 1 << 20];
        for c in [
            Codec::DeflateDefault,
            Codec::Snappy,
            Codec::Zstandard(3),
            Codec::Null,
        ] {
            let mut z = Vec::new();
            c.compress(&data, &mut z).unwrap();
            let mut back = Vec::new();
            let e = c.decompress(&z, &mut back, 1000).unwrap_err();
            assert!(matches!(e.kind(), ErrorKind::Decompress(_)), "{c:?}: {e}");
        }
    }

    #[test]
    fn inflating_reuses_and_grows_the_buffer() {
        // Blocks of very different sizes and ratios through one buffer and one inflater: the guess from the
        // previous block is too small, right or too large, and each block comes back whole.
        let blocks: Vec<Vec<u8>> = vec![
            vec![7u8; 3 << 20],
            (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect(),
            b"tiny".to_vec(),
            Vec::new(),
            vec![0u8; 1 << 20],
        ];
        let mut out = Vec::new();
        let mut scratch = None;
        for b in &blocks {
            let mut z = Vec::new();
            Codec::DeflateDefault.compress(b, &mut z).unwrap();
            Codec::DeflateDefault
                .decompress_with(&z, &mut out, 3 << 20, &mut scratch)
                .unwrap();
            assert_eq!(&out, b);
        }
    }

    #[test]
    fn inflating_to_exactly_the_limit_is_allowed() {
        let data = vec![1u8; 100_000];
        let mut z = Vec::new();
        Codec::DeflateDefault.compress(&data, &mut z).unwrap();
        let mut out = Vec::new();
        Codec::DeflateDefault
            .decompress(&z, &mut out, 100_000)
            .unwrap();
        assert_eq!(out, data);
        let e = Codec::DeflateDefault
            .decompress(&z, &mut out, 99_999)
            .unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
    }

    #[test]
    fn damaged_deflate_is_an_error() {
        let data: Vec<u8> = (0..20_000u32).flat_map(|i| (i * 7).to_le_bytes()).collect();
        let mut z = Vec::new();
        Codec::DeflateDefault.compress(&data, &mut z).unwrap();
        let mut out = Vec::new();
        // Cut short.
        let e = Codec::DeflateDefault
            .decompress(&z[..z.len() / 2], &mut out, 1 << 20)
            .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Decompress(_)), "{e}");
        // An invalid block type (first header bits 11).
        let e = Codec::DeflateDefault
            .decompress(&[0x07, 0, 0, 0], &mut out, 1 << 20)
            .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Decompress(_)), "{e}");
    }

    #[test]
    fn snappy_crc_is_checked() {
        let mut z = Vec::new();
        Codec::Snappy
            .compress(b"hello hello hello", &mut z)
            .unwrap();
        let n = z.len();
        z[n - 1] ^= 1;
        assert!(Codec::Snappy.decompress(&z, &mut Vec::new(), 100).is_err());
    }
}
