//! Helpers shared by the integration tests: locating `../shared`, reading gzip goldens, printing a trace
//! in-process, and a small order-preserving JSON parser.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

use sysflow_format::{FlatReader, TraceReader};
use sysflow_print::{OutputMode, PrintOptions, Printer};

/// `../shared` seen from the workspace root, or `None` (with the reason printed) when absent.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if dir.join("traces").is_dir() && dir.join("golden").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIP: {} is absent (no reference traces and goldens to compare with)",
            dir.display()
        );
        None
    }
}

/// The decompressed bytes of a `.gz` file: through the system `gzip` when there is one (unoptimised test builds
/// of the Rust inflater take minutes over the ~1 GB of goldens), else through flate2.
pub fn gunzip(path: &Path) -> Vec<u8> {
    if let Ok(out) = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .output()
    {
        if out.status.success() {
            return out.stdout;
        }
    }
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(f)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

/// Every trace that has goldens, as (relative path, trace path, golden prefix path), sorted.
pub fn golden_traces(shared: &Path) -> Vec<(String, PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![shared.join("golden")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap_or_else(|e| panic!("{e}")).path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(name) = p.to_str().and_then(|s| s.strip_suffix(".json.gz")) {
                let rel = Path::new(name)
                    .strip_prefix(shared.join("golden"))
                    .unwrap_or_else(|e| panic!("{e}"))
                    .to_string_lossy()
                    .into_owned();
                out.push((
                    rel.clone(),
                    shared.join("traces").join(&rel),
                    PathBuf::from(name),
                ));
            }
        }
    }
    out.sort();
    out
}

/// Prints a trace in-process like `sysprint -o <mode>` (80-column text tables, JSON Lines); returns the output,
/// the number of records printed and the read errors.
pub fn print_trace(trace: &Path, mode: OutputMode) -> (Vec<u8>, u64, Vec<String>) {
    let mut printer =
        Printer::new(PrintOptions::new(mode), Vec::new()).unwrap_or_else(|e| panic!("{e}"));
    let mut errors = Vec::new();
    printer.begin_trace().unwrap_or_else(|e| panic!("{e}"));
    for rec in FlatReader::open(trace).unwrap_or_else(|e| panic!("{e}")) {
        match rec {
            Ok(r) => printer.write(&r).unwrap_or_else(|e| panic!("{e}")),
            Err(e) => errors.push(e.to_string()),
        }
    }
    printer.end_trace().unwrap_or_else(|e| panic!("{e}"));
    let n = printer.records();
    (
        printer.finish().unwrap_or_else(|e| panic!("{e}")),
        n,
        errors,
    )
}

/// Number of event and flow records of a trace (what sysprint prints), counted with the plain reader.
pub fn count_events(trace: &Path) -> u64 {
    TraceReader::open(trace)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .filter(|r| !r.kind().is_entity())
        .count() as u64
}

/// A parsed JSON value that keeps object key order and number text.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

/// Parses one JSON document.
pub fn parse_json(text: &str) -> Result<Json, String> {
    let mut p = P {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return Err(format!("trailing data at {}", p.i));
    }
    Ok(v)
}

struct P<'a> {
    s: &'a [u8],
    i: usize,
}

impl P<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} at {}", b as char, self.i))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Obj(v));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.eat(b':')?;
                    let val = self.value()?;
                    v.push((k, val));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Obj(v));
                        }
                        _ => return Err(format!("bad object at {}", self.i)),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut v = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Arr(v));
                }
                loop {
                    v.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Arr(v));
                        }
                        _ => return Err(format!("bad array at {}", self.i)),
                    }
                }
            }
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Json::Bool(false))
            }
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Json::Null)
            }
            Some(b'-' | b'0'..=b'9') => {
                let st = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                Ok(Json::Num(
                    String::from_utf8_lossy(&self.s[st..self.i]).into_owned(),
                ))
            }
            _ => Err(format!("unexpected data at {}", self.i)),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(h).map_err(|e| e.to_string())?, 16)
            .map_err(|e| e.to_string())
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = String::new();
        loop {
            let st = self.i;
            while self.i < self.s.len() && self.s[self.i] != b'"' && self.s[self.i] != b'\\' {
                self.i += 1;
            }
            out.push_str(std::str::from_utf8(&self.s[st..self.i]).map_err(|e| e.to_string())?);
            match self.s.get(self.i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    let c = *self.s.get(self.i + 1).ok_or("short escape")?;
                    self.i += 2;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xd800..0xdc00).contains(&cp)
                                && self.s[self.i..].starts_with(b"\\u")
                            {
                                self.i += 2;
                                let lo = self.hex4()?;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                            }
                            out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(format!("bad escape at {}", self.i)),
                    }
                }
                _ => return Err("unterminated string".into()),
            }
        }
    }
}

/// The first difference between two JSON values, as `(path, expected, actual)`; key order counts.
pub fn json_diff(path: &str, exp: &Json, act: &Json) -> Option<(String, String, String)> {
    match (exp, act) {
        (Json::Obj(a), Json::Obj(b)) => {
            for (i, (k, v)) in a.iter().enumerate() {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match b.get(i) {
                    Some((k2, _)) if k2 != k => {
                        return Some((
                            p,
                            format!("key {k:?} at position {i}"),
                            format!("key {k2:?}"),
                        ));
                    }
                    Some((_, v2)) => {
                        if let Some(d) = json_diff(&p, v, v2) {
                            return Some(d);
                        }
                    }
                    None => return Some((p, format!("{v:?}"), "missing".into())),
                }
            }
            (b.len() > a.len()).then(|| {
                (
                    format!("{path}.{}", b[a.len()].0),
                    "nothing".into(),
                    "extra key".into(),
                )
            })
        }
        (Json::Arr(a), Json::Arr(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| json_diff(&format!("{path}[{i}]"), x, y)),
        _ => (exp != act).then(|| (path.to_string(), format!("{exp:?}"), format!("{act:?}"))),
    }
}

/// A private s3s-fs server (an S3-compatible store where a bucket is a directory under `root`), killed on drop.
pub struct S3Server {
    /// Port on 127.0.0.1.
    pub port: u16,
    child: std::process::Child,
}

/// Access key of [`S3Server`].
pub const S3_ACCESS: &str = "sysprint-test-ak";
/// Secret key of [`S3Server`].
pub const S3_SECRET: &str = "sysprint-test-secret-0123456789";

impl S3Server {
    /// Starts s3s-fs serving `root`, or returns `None` (printing why) when it is not installed.
    pub fn start(root: &Path) -> Option<S3Server> {
        let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        if let Some(h) = std::env::var_os("CARGO_HOME") {
            dirs.push(PathBuf::from(h).join("bin"));
        }
        if let Some(h) = std::env::var_os("HOME") {
            dirs.push(PathBuf::from(h).join(".cargo/bin"));
        }
        let Some(bin) = dirs
            .into_iter()
            .map(|d| d.join("s3s-fs"))
            .find(|p| p.is_file())
        else {
            eprintln!("SKIP: s3s-fs not found (install: cargo install s3s-fs --version 0.14.1 --features binary)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("cannot bind loopback: {e}"));
        let child = std::process::Command::new(bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--access-key",
                S3_ACCESS,
            ])
            .args(["--secret-key", S3_SECRET])
            .arg(root)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start s3s-fs: {e}"));
        let server = S3Server { port, child };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        while std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(100))
            .is_err()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "s3s-fs did not start listening on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(server)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
