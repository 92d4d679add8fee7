//! Container metadata over the CRI (containerd, CRI-O): one gRPC `runtime.v1.RuntimeService/ContainerStatus` call on
//! the runtime's unix socket.
//!
//! The call is tiny and rare (once per new container), so it is spoken with a minimal blocking HTTP/2 client instead
//! of a gRPC stack: prior-knowledge HTTP/2 without TLS, request headers as HPACK literals (no table, no Huffman), a
//! large flow-control window so the server never waits for us, and response headers skipped — success is a DATA
//! payload holding one uncompressed gRPC message; an error status comes as headers only, which reads as "not found".
//! Protobuf fields are decoded by hand (field numbers of the CRI `api.proto`, v1).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// What the runtime says about one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CriContainer {
    /// `ContainerStatus.metadata.name` (the Kubernetes container name).
    pub name: String,
    /// `ContainerStatus.image.image` (e.g. `docker.io/library/nginx:1.25`).
    pub image: String,
    /// `ContainerStatus.image_ref` (the image digest or id).
    pub image_ref: String,
    /// Privileged, from the verbose info (containerd: `config.linux.security_context.privileged`; CRI-O:
    /// `privileged`); false when the runtime does not say.
    pub privileged: bool,
    /// `ContainerStatus.labels` (Kubernetes pod name, namespace, uid, ...).
    pub labels: Vec<(String, String)>,
}

const PATH: &str = "/runtime.v1.RuntimeService/ContainerStatus";
/// The most response bytes accepted (a verbose status with a full OCI spec is ~10–50 KiB).
const MAX_RESPONSE: usize = 4 << 20;
const WINDOW: u32 = 1 << 24;

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const GOAWAY: u8 = 7;
const WINDOW_UPDATE: u8 = 8;
const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;

/// Asks the runtime behind `sock` for container `id` (a full id or an unambiguous prefix, as both runtimes accept).
/// `Ok(None)`: the runtime answered without a status (unknown container, or any gRPC error).
pub fn container_status(
    sock: &Path,
    id: &str,
    timeout: Duration,
) -> io::Result<Option<CriContainer>> {
    let mut s = UnixStream::connect(sock)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(&request(id))?;
    let Some(body) = read_response(&mut s)? else {
        return Ok(None);
    };
    // One gRPC message: compressed flag, 4-byte big-endian length, protobuf.
    let Some((&[0], rest)) = body.split_first_chunk::<1>() else {
        return Ok(None);
    };
    let Some((len, msg)) = rest.split_first_chunk::<4>() else {
        return Ok(None);
    };
    let msg = msg.get(..u32::from_be_bytes(*len) as usize).unwrap_or(msg);
    Ok(parse_status_response(msg))
}

/// The client's whole side of the exchange: preface, settings, window, the request headers and its one message.
fn request(id: &str) -> Vec<u8> {
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // SETTINGS: ENABLE_PUSH = 0, INITIAL_WINDOW_SIZE = WINDOW.
    let mut settings = Vec::new();
    for (k, v) in [(2u16, 0u32), (4, WINDOW)] {
        settings.extend_from_slice(&k.to_be_bytes());
        settings.extend_from_slice(&v.to_be_bytes());
    }
    frame(&mut out, SETTINGS, 0, 0, &settings);
    frame(
        &mut out,
        WINDOW_UPDATE,
        0,
        0,
        &(WINDOW - 65_535).to_be_bytes(),
    );
    let mut hdrs = Vec::new();
    for (k, v) in [
        (":method", "POST"),
        (":scheme", "http"),
        (":path", PATH),
        (":authority", "localhost"),
        ("content-type", "application/grpc"),
        ("te", "trailers"),
    ] {
        // Literal header field without indexing, new name, no Huffman coding.
        hdrs.push(0);
        hpack_string(&mut hdrs, k.as_bytes());
        hpack_string(&mut hdrs, v.as_bytes());
    }
    frame(&mut out, HEADERS, END_HEADERS, 1, &hdrs);
    // ContainerStatusRequest { container_id = 1; verbose = 2 }.
    let mut msg = Vec::new();
    proto_bytes(&mut msg, 1, id.as_bytes());
    msg.extend_from_slice(&[0x10, 1]);
    let mut data = vec![0];
    data.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    data.extend_from_slice(&msg);
    frame(&mut out, DATA, END_STREAM, 1, &data);
    out
}

fn frame(out: &mut Vec<u8>, ty: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(ty);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
}

/// An HPACK string literal (7-bit prefix length, not Huffman coded).
fn hpack_string(out: &mut Vec<u8>, s: &[u8]) {
    let mut n = s.len();
    if n < 127 {
        out.push(n as u8);
    } else {
        out.push(127);
        n -= 127;
        while n >= 128 {
            out.push((n % 128) as u8 | 0x80);
            n /= 128;
        }
        out.push(n as u8);
    }
    out.extend_from_slice(s);
}

fn proto_bytes(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    push_varint(out, u64::from(field << 3 | 2));
    push_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn push_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads frames until stream 1 ends; returns its DATA payload, or `None` when it carried none.
fn read_response(s: &mut UnixStream) -> io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    loop {
        let mut head = [0u8; 9];
        s.read_exact(&mut head)?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let (ty, flags) = (head[3], head[4]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        if len > MAX_RESPONSE || body.len() + len > MAX_RESPONSE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "CRI response too large",
            ));
        }
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload)?;
        match ty {
            SETTINGS if flags & ACK == 0 && stream == 0 => {
                let mut ack = Vec::new();
                frame(&mut ack, SETTINGS, ACK, 0, &[]);
                s.write_all(&ack)?;
            }
            PING if flags & ACK == 0 => {
                let mut pong = Vec::new();
                frame(&mut pong, PING, ACK, 0, &payload);
                s.write_all(&pong)?;
            }
            DATA if stream == 1 => {
                let data = if flags & PADDED != 0 {
                    let pad = usize::from(*payload.first().unwrap_or(&0));
                    payload.get(1..len.saturating_sub(pad)).unwrap_or(&[])
                } else {
                    &payload[..]
                };
                body.extend_from_slice(data);
                if flags & END_STREAM != 0 {
                    return Ok((!body.is_empty()).then_some(body));
                }
            }
            HEADERS if stream == 1 && flags & END_STREAM != 0 => {
                return Ok((!body.is_empty()).then_some(body));
            }
            RST_STREAM if stream == 1 => return Ok(None),
            GOAWAY => return Ok((!body.is_empty()).then_some(body)),
            _ => {}
        }
    }
}

/// Iterates the length-delimited fields of a protobuf message as `(field number, payload)`; fields of other wire
/// types are skipped. Stops at malformed input.
fn fields(mut b: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    std::iter::from_fn(move || loop {
        let key = take_varint(&mut b)?;
        let (num, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                take_varint(&mut b)?;
            }
            1 => b = b.get(8..)?,
            2 => {
                let n = usize::try_from(take_varint(&mut b)?).ok()?;
                let v = b.get(..n)?;
                b = &b[n..];
                return Some((num, v));
            }
            5 => b = b.get(4..)?,
            _ => return None,
        }
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn take_varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&x, rest) = b.split_first()?;
        *b = rest;
        v |= u64::from(x & 0x7f) << (7 * i);
        if x < 0x80 {
            return Some(v);
        }
    }
    None
}

/// A `map<string, string>` entry.
fn map_entry(b: &[u8]) -> (String, String) {
    let (mut k, mut v) = (String::new(), String::new());
    for (num, f) in fields(b) {
        match num {
            1 => k = text(f),
            2 => v = text(f),
            _ => {}
        }
    }
    (k, v)
}

/// `ContainerStatusResponse { ContainerStatus status = 1; map<string, string> info = 2; }`.
fn parse_status_response(msg: &[u8]) -> Option<CriContainer> {
    let mut out = None;
    let mut privileged = false;
    for (num, f) in fields(msg) {
        match num {
            1 => out = Some(parse_status(f)),
            2 => {
                let (k, v) = map_entry(f);
                if k == "info" {
                    privileged = privileged_from_info(&v);
                }
            }
            _ => {}
        }
    }
    let mut c = out?;
    c.privileged = privileged;
    Some(c)
}

/// `ContainerStatus`: id 1, metadata 2 (`name` 1), image 8 (`ImageSpec.image` 1), image_ref 9, labels 12.
fn parse_status(b: &[u8]) -> CriContainer {
    let mut c = CriContainer::default();
    for (num, f) in fields(b) {
        match num {
            2 => {
                if let Some((_, n)) = fields(f).find(|(n, _)| *n == 1) {
                    c.name = text(n);
                }
            }
            8 => {
                if let Some((_, i)) = fields(f).find(|(n, _)| *n == 1) {
                    c.image = text(i);
                }
            }
            9 => c.image_ref = text(f),
            12 => c.labels.push(map_entry(f)),
            _ => {}
        }
    }
    c
}

fn privileged_from_info(info: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(info) else {
        return false;
    };
    ["/config/linux/security_context/privileged", "/privileged"]
        .iter()
        .any(|p| v.pointer(p).and_then(|x| x.as_bool()) == Some(true))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encodes a `ContainerStatusResponse` as a CRI runtime would.
    pub(crate) fn status_response(c: &CriContainer, info: Option<&str>) -> Vec<u8> {
        let mut meta = Vec::new();
        proto_bytes(&mut meta, 1, c.name.as_bytes());
        meta.extend_from_slice(&[0x10, 0]); // attempt = 0
        let mut image = Vec::new();
        proto_bytes(&mut image, 1, c.image.as_bytes());
        let mut st = Vec::new();
        proto_bytes(&mut st, 1, b"0123456789abcdef");
        proto_bytes(&mut st, 2, &meta);
        st.extend_from_slice(&[0x18, 1]); // state = RUNNING
        st.extend_from_slice(&[0x20, 0x80, 0x80, 0x04]); // created_at
        proto_bytes(&mut st, 8, &image);
        proto_bytes(&mut st, 9, c.image_ref.as_bytes());
        for (k, v) in &c.labels {
            let mut e = Vec::new();
            proto_bytes(&mut e, 1, k.as_bytes());
            proto_bytes(&mut e, 2, v.as_bytes());
            proto_bytes(&mut st, 12, &e);
        }
        proto_bytes(&mut st, 15, b"/var/log/pods/x.log");
        let mut resp = Vec::new();
        proto_bytes(&mut resp, 1, &st);
        if let Some(info) = info {
            let mut e = Vec::new();
            proto_bytes(&mut e, 1, b"info");
            proto_bytes(&mut e, 2, info.as_bytes());
            proto_bytes(&mut resp, 2, &e);
        }
        resp
    }

    #[test]
    fn decodes_a_status_response() {
        let want = CriContainer {
            name: "nginx".into(),
            image: "docker.io/library/nginx:1.25".into(),
            image_ref: "sha256:abcd".into(),
            privileged: true,
            labels: vec![("io.kubernetes.pod.name".into(), "web-0".into())],
        };
        let info = r#"{"pid":42,"config":{"linux":{"security_context":{"privileged":true}}}}"#;
        assert_eq!(
            parse_status_response(&status_response(&want, Some(info))),
            Some(want.clone())
        );
        let crio = parse_status_response(&status_response(&want, Some(r#"{"privileged":false}"#)));
        assert!(!crio.is_some_and(|c| c.privileged));
        // Garbage never panics.
        for n in 0..64 {
            let junk: Vec<u8> = (0..n).map(|i| (i * 37 + n) as u8).collect();
            let _ = parse_status_response(&junk);
        }
    }

    #[test]
    fn request_frames_are_well_formed() {
        let r = request("0123456789ab");
        assert!(r.starts_with(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        let mut b = &r[24..];
        let mut kinds = Vec::new();
        while b.len() >= 9 {
            let len = u32::from_be_bytes([0, b[0], b[1], b[2]]) as usize;
            kinds.push((b[3], b[4]));
            b = &b[9 + len..];
        }
        assert!(b.is_empty());
        assert_eq!(
            kinds,
            [
                (SETTINGS, 0),
                (WINDOW_UPDATE, 0),
                (HEADERS, END_HEADERS),
                (DATA, END_STREAM)
            ]
        );
    }
}
