//! Operation flags, open flags, IPv4 encoding, timestamp helpers and base64 (shared by the exporters and the policy
//! engine).

/// Operation flags (`opFlags`): a bitmap of the operations an event or flow saw.
pub mod op {
    /// Process cloned.
    pub const CLONE: i32 = 1 << 0;
    /// Process executed a program.
    pub const EXEC: i32 = 1 << 1;
    /// Process exited.
    pub const EXIT: i32 = 1 << 2;
    /// Process changed its user id.
    pub const SETUID: i32 = 1 << 3;
    /// Process entered a namespace.
    pub const SETNS: i32 = 1 << 4;
    /// Connection accepted.
    pub const ACCEPT: i32 = 1 << 5;
    /// Connection made.
    pub const CONNECT: i32 = 1 << 6;
    /// File opened.
    pub const OPEN: i32 = 1 << 7;
    /// Data read or received.
    pub const READ_RECV: i32 = 1 << 8;
    /// Data written or sent.
    pub const WRITE_SEND: i32 = 1 << 9;
    /// Descriptor closed.
    pub const CLOSE: i32 = 1 << 10;
    /// Flow cut (exporter shutdown, process exit, related close).
    pub const TRUNCATE: i32 = 1 << 11;
    /// Socket shut down.
    pub const SHUTDOWN: i32 = 1 << 12;
    /// File memory-mapped.
    pub const MMAP: i32 = 1 << 13;
    /// Periodic export of a long flow.
    pub const DIGEST: i32 = 1 << 14;
    /// Directory created.
    pub const MKDIR: i32 = 1 << 15;
    /// Directory removed.
    pub const RMDIR: i32 = 1 << 16;
    /// Hard link created.
    pub const LINK: i32 = 1 << 17;
    /// File unlinked.
    pub const UNLINK: i32 = 1 << 18;
    /// Symbolic link created.
    pub const SYMLINK: i32 = 1 << 19;
    /// File renamed.
    pub const RENAME: i32 = 1 << 20;
    /// Process traced (extended constant of the Go API).
    pub const PTRACE: i32 = 1 << 21;

    /// `(bit, name)` for every flag, in bit order.
    pub const NAMES: &[(i32, &str)] = &[
        (CLONE, "CLONE"),
        (EXEC, "EXEC"),
        (EXIT, "EXIT"),
        (SETUID, "SETUID"),
        (SETNS, "SETNS"),
        (ACCEPT, "ACCEPT"),
        (CONNECT, "CONNECT"),
        (OPEN, "OPEN"),
        (READ_RECV, "READ"),
        (WRITE_SEND, "WRITE"),
        (CLOSE, "CLOSE"),
        (TRUNCATE, "TRUNCATE"),
        (SHUTDOWN, "SHUTDOWN"),
        (MMAP, "MMAP"),
        (DIGEST, "DIGEST"),
        (MKDIR, "MKDIR"),
        (RMDIR, "RMDIR"),
        (LINK, "LINK"),
        (UNLINK, "UNLINK"),
        (SYMLINK, "SYMLINK"),
        (RENAME, "RENAME"),
        (PTRACE, "PTRACE"),
    ];
}

/// Renders op flags as the reference Python `getOpFlagsStr` does (the `opflags` field of `sysprint`):
/// file-event names concatenated if any (`MKDIR`…`RENAME`), else process-event names concatenated (`CLONEEXIT`),
/// else an 11-character positional string such as `"O     M C  "`.
pub fn op_flags_str(flags: i32) -> String {
    use op::*;
    let mut s = String::new();
    for (bit, name) in [
        (MKDIR, "MKDIR"),
        (RMDIR, "RMDIR"),
        (LINK, "LINK"),
        (SYMLINK, "SYMLINK"),
        (UNLINK, "UNLINK"),
        (RENAME, "RENAME"),
    ] {
        if flags & bit != 0 {
            s.push_str(name);
        }
    }
    if !s.is_empty() {
        return s;
    }
    for (bit, name) in [
        (CLONE, "CLONE"),
        (EXEC, "EXEC"),
        (EXIT, "EXIT"),
        (SETUID, "SETUID"),
    ] {
        if flags & bit != 0 {
            s.push_str(name);
        }
    }
    if !s.is_empty() {
        return s;
    }
    for (bit, c) in [
        (OPEN, 'O'),
        (ACCEPT, 'A'),
        (CONNECT, 'C'),
        (WRITE_SEND, 'W'),
        (READ_RECV, 'R'),
        (SETNS, 'N'),
        (MMAP, 'M'),
        (SHUTDOWN, 'S'),
        (CLOSE, 'C'),
        (TRUNCATE, 'T'),
        (DIGEST, 'D'),
    ] {
        s.push(if flags & bit != 0 { c } else { ' ' });
    }
    s
}

/// The names of the operations set in `flags`, the way the reference query languages see them: the read bit yields
/// both `READ` and `RECV`, the write bit both `WRITE` and `SEND`.
pub fn op_flag_names(flags: i32) -> Vec<&'static str> {
    use op::*;
    let mut v = Vec::new();
    for &(bit, name) in op::NAMES {
        if flags & bit == 0 {
            continue;
        }
        match bit {
            READ_RECV => v.extend(["READ", "RECV"]),
            WRITE_SEND => v.extend(["WRITE", "SEND"]),
            _ => v.push(name),
        }
    }
    v
}

/// Open flags (`openFlags`) in the sysdig PPM encoding (not Linux `O_*` values).
pub mod open {
    /// No flag.
    pub const NONE: i32 = 0;
    /// Read only.
    pub const RDONLY: i32 = 1 << 0;
    /// Write only.
    pub const WRONLY: i32 = 1 << 1;
    /// Read and write (`RDONLY | WRONLY`).
    pub const RDWR: i32 = RDONLY | WRONLY;
    /// Create.
    pub const CREAT: i32 = 1 << 2;
    /// Append.
    pub const APPEND: i32 = 1 << 3;
    /// Data sync.
    pub const DSYNC: i32 = 1 << 4;
    /// Exclusive.
    pub const EXCL: i32 = 1 << 5;
    /// Non-blocking.
    pub const NONBLOCK: i32 = 1 << 6;
    /// Sync.
    pub const SYNC: i32 = 1 << 7;
    /// Truncate.
    pub const TRUNC: i32 = 1 << 8;
    /// Direct I/O.
    pub const DIRECT: i32 = 1 << 9;
    /// Directory.
    pub const DIRECTORY: i32 = 1 << 10;
    /// Large file.
    pub const LARGEFILE: i32 = 1 << 11;
    /// Close on exec.
    pub const CLOEXEC: i32 = 1 << 12;
    /// Temporary file (collector side).
    pub const TMPFILE: i32 = 1 << 13;
    /// The open created the file (collector side).
    pub const F_CREATED: i32 = 1 << 14;

    /// `(bits, name)` for each flag except `NONE`, `RDONLY`/`WRONLY`/`RDWR` first.
    pub const NAMES: &[(i32, &str)] = &[
        (RDONLY, "RDONLY"),
        (WRONLY, "WRONLY"),
        (RDWR, "RDWR"),
        (CREAT, "CREAT"),
        (APPEND, "APPEND"),
        (DSYNC, "DSYNC"),
        (EXCL, "EXCL"),
        (NONBLOCK, "NONBLOCK"),
        (SYNC, "SYNC"),
        (TRUNC, "TRUNC"),
        (DIRECT, "DIRECT"),
        (DIRECTORY, "DIRECTORY"),
        (LARGEFILE, "LARGEFILE"),
        (CLOEXEC, "CLOEXEC"),
        (TMPFILE, "TMPFILE"),
        (F_CREATED, "F_CREATED"),
    ];
}

/// Names of the open flags set in `flags`, correctly: `NONE` for 0; `RDWR` only when both access bits are set
/// (then `RDONLY`/`WRONLY` are not listed). The reference Python adds `RDWR` whenever either access bit is set; that
/// is a documented deviation.
pub fn open_flag_names(flags: i32) -> Vec<&'static str> {
    use open::*;
    if flags == 0 {
        return vec!["NONE"];
    }
    let mut v = Vec::new();
    match flags & RDWR {
        RDWR => v.push("RDWR"),
        RDONLY => v.push("RDONLY"),
        WRONLY => v.push("WRONLY"),
        _ => {}
    }
    for &(bit, name) in &NAMES[3..] {
        if flags & bit != 0 {
            v.push(name);
        }
    }
    v
}

/// Formats an IPv4 address stored the SysFlow way (network byte order read as a little-endian integer: the first
/// octet is the least-significant byte). Works for the negative `int` values of flows and the `long`s of pods.
pub fn ipv4_str(ip: i64) -> String {
    let mut s = String::with_capacity(15);
    write_ipv4(&mut s, ip);
    s
}

/// Appends the dotted-quad rendering of `ip` (see [`ipv4_str`]) to `out`.
pub fn write_ipv4(out: &mut String, ip: i64) {
    let mut buf = itoa_buf();
    for i in 0..4 {
        if i > 0 {
            out.push('.');
        }
        let octet = ((ip >> (8 * i)) & 0xff) as u8;
        out.push_str(fmt_u8(&mut buf, octet));
    }
}

fn itoa_buf() -> [u8; 3] {
    [0; 3]
}

fn fmt_u8(buf: &mut [u8; 3], v: u8) -> &str {
    let mut n = 3;
    let mut x = v;
    loop {
        n -= 1;
        buf[n] = b'0' + x % 10;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[n..]).unwrap_or("0")
}

/// Encodes a dotted-quad IPv4 address the SysFlow way (inverse of [`ipv4_str`]), as the `int` of a flow.
pub fn ipv4_from_octets(octets: [u8; 4]) -> i32 {
    i32::from_le_bytes(octets)
}

/// Timestamp helpers.
pub mod time {
    /// Renders a nanosecond timestamp the way the reference Python `getTimeStrIso8601` does: UTC, through f64
    /// seconds, microseconds rounded half-to-even, `.ffffff` omitted when the microseconds are 0, no zone suffix
    /// (`1554914834717699659` → `"2019-04-10T16:47:14.717700"`).
    pub fn iso8601_py(ts_ns: i64) -> String {
        let mut s = String::with_capacity(26);
        write_iso8601_py(&mut s, ts_ns);
        s
    }

    /// Appends [`iso8601_py`] of `ts_ns` to `out`.
    pub fn write_iso8601_py(out: &mut String, ts_ns: i64) {
        let t = ts_ns as f64 / 1e9;
        // Python's datetime.fromtimestamp: frac, t = modf(t); us = round_half_even(frac * 1e6), with carries.
        let mut secs = t.floor();
        let frac = t - secs;
        let mut us = round_half_even(frac * 1e6);
        if us >= 1_000_000.0 {
            secs += 1.0;
            us -= 1_000_000.0;
        }
        if us < 0.0 {
            secs -= 1.0;
            us += 1_000_000.0;
        }
        let secs = secs as i64;
        let us = us as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (sod / 3600, (sod % 3600) / 60, sod % 60);
        use std::fmt::Write;
        let _ = write!(out, "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}");
        if us != 0 {
            let _ = write!(out, ".{us:06}");
        }
    }

    fn round_half_even(x: f64) -> f64 {
        let r = x.round();
        if (x - x.trunc()).abs() == 0.5 {
            2.0 * (x / 2.0).round()
        } else {
            r
        }
    }

    /// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day).
    pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }
}

/// Standard base64 (RFC 4648 alphabet, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_flags_render_like_the_reference() {
        assert_eq!(op_flags_str(9344), "O     M C  ");
        assert_eq!(op_flags_str(1856), "  CWR   C  ");
        assert_eq!(op_flags_str(0), "           ");
        assert_eq!(op_flags_str(5), "CLONEEXIT");
        assert_eq!(op_flags_str(op::RENAME), "RENAME");
    }

    #[test]
    fn open_flags_are_correct() {
        assert_eq!(open_flag_names(0), ["NONE"]);
        assert_eq!(open_flag_names(4097), ["RDONLY", "CLOEXEC"]);
        assert_eq!(open_flag_names(262), ["WRONLY", "CREAT", "TRUNC"]);
        assert_eq!(open_flag_names(3), ["RDWR"]);
    }

    #[test]
    fn ipv4_round_trip() {
        assert_eq!(ipv4_str(16777343), "127.0.0.1");
        assert_eq!(ipv4_str(-215500022), "10.187.39.243");
        assert_eq!(ipv4_str(1681631424), "192.168.59.100");
        assert_eq!(ipv4_from_octets([127, 0, 0, 1]), 16777343);
    }

    #[test]
    fn iso8601_matches_python() {
        assert_eq!(
            time::iso8601_py(1554914834717699659),
            "2019-04-10T16:47:14.717700"
        );
        assert_eq!(
            time::iso8601_py(1700000000123457789),
            "2023-11-14T22:13:20.123458"
        );
        assert_eq!(
            time::iso8601_py(1_000_000_000_000_000_000),
            "2001-09-09T01:46:40"
        );
        assert_eq!(time::iso8601_py(0), "1970-01-01T00:00:00");
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), enc);
        }
    }
}
