//! Datum decoding: a writer schema compiled into per-branch plans that fill the typed records.
//!
//! Resolution follows Avro's rules where they apply — union branches and enum symbols are matched by *name*,
//! fields by name, `int` promotes to `long`, fields the writer lacks take defaults, fields the reader lacks are
//! skipped — plus the SysFlow prototype layouts (whose "ProcessFlow" is really a process event, and whose Process
//! says `type` instead of `state`).

use crate::error::{Error, Result};
use crate::layout::{Layout, OptionalField};
use crate::records::*;
use crate::schema::{Node, NodeId, Schema};

/// Limit on collection sizes inside one datum (array/map items, string bytes are bounded by the block).
const MAX_ITEMS: usize = 1 << 24;
/// Limit on nesting while decoding.
const MAX_DEPTH: usize = 32;

/// Packs the 7-bit groups of the (up to) eight little-endian varint bytes in `w` into one integer (continuation
/// bits dropped).
#[inline]
fn pack7(w: u64) -> u64 {
    // Groups closed up pairwise: 7-bit groups into 14-bit halves of 16-bit lanes, those into 28-bit halves of
    // 32-bit lanes, those into 56 bits.
    let v = w & 0x7f7f_7f7f_7f7f_7f7f;
    let v = (v & 0x007f_007f_007f_007f) | ((v >> 1) & 0x3f80_3f80_3f80_3f80);
    let v = (v & 0x0000_3fff_0000_3fff) | ((v >> 2) & 0x0fff_c000_0fff_c000);
    (v & 0x0000_0000_0fff_ffff) | ((v >> 4) & 0x00ff_ffff_f000_0000)
}

/// A cursor over the bytes of a decompressed block (or one stream message).
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(crate) fn long(&mut self) -> Result<i64> {
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(i64::from(b >> 1) ^ -i64::from(b & 1));
            }
        }
        self.long_slow()
    }

    /// Multi-byte varints. With at least 10 bytes left (always, except at the very end of a block) the first 8 bytes
    /// are read as one word: the terminating byte is found with a mask and the 7-bit groups are packed with shifts,
    /// so timestamps (9-byte varints) cost no per-byte branches.
    #[inline(never)]
    fn long_slow(&mut self) -> Result<i64> {
        let buf = &self.buf[self.pos..];
        if let Some(head) = buf.get(..10) {
            let mut word = [0u8; 8];
            word.copy_from_slice(&head[..8]);
            let w = u64::from_le_bytes(word);
            let stops = !w & 0x8080_8080_8080_8080;
            let (v, used) = if stops != 0 {
                let used = (stops.trailing_zeros() / 8 + 1) as usize;
                let keep = if used == 8 {
                    w
                } else {
                    w & ((1u64 << (8 * used)) - 1)
                };
                (pack7(keep), used)
            } else if head[8] < 0x80 {
                (pack7(w) | (u64::from(head[8]) << 56), 9)
            } else if head[9] < 0x80 {
                let v = pack7(w) | (u64::from(head[8] & 0x7f) << 56) | (u64::from(head[9]) << 63);
                (v, 10)
            } else {
                return Err(Error::decode("varint longer than 10 bytes"));
            };
            self.pos += used;
            return Ok((v >> 1) as i64 ^ -((v & 1) as i64));
        }
        let mut v: u64 = 0;
        for (i, &b) in buf.iter().take(10).enumerate() {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                self.pos += i + 1;
                return Ok((v >> 1) as i64 ^ -((v & 1) as i64));
            }
        }
        Err(Error::truncated("a varint"))
    }

    #[inline]
    fn int(&mut self) -> Result<i64> {
        let v = self.long()?;
        if v < i64::from(i32::MIN) || v > i64::from(i32::MAX) {
            return Err(Error::decode(format!("int out of range: {v}")));
        }
        Ok(v)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::truncated("a string, bytes or fixed value"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    fn len(&mut self) -> Result<usize> {
        let n = self.long()?;
        if n < 0 {
            return Err(Error::decode(format!("negative length {n}")));
        }
        let n = n as u64;
        if n > self.remaining() as u64 {
            return Err(Error::truncated("a string or bytes value"));
        }
        Ok(n as usize)
    }

    #[inline]
    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    #[inline]
    fn str(&mut self) -> Result<&'a str> {
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|e| Error::decode(format!("invalid UTF-8 in string: {e}")))
    }

    fn bool(&mut self) -> Result<bool> {
        match self.take(1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::decode(format!("invalid boolean byte {b}"))),
        }
    }

    /// Reads the item count of the next array/map block; `None` at the end.
    fn block_count(&mut self) -> Result<Option<usize>> {
        let n = self.long()?;
        if n == 0 {
            return Ok(None);
        }
        let n = if n < 0 {
            let _size = self.long()?;
            n.checked_neg()
                .ok_or_else(|| Error::decode("bad block count"))?
        } else {
            n
        };
        // Every item takes at least one byte, except nulls; bound the count anyway.
        if n as u64 > MAX_ITEMS as u64 {
            return Err(Error::decode(format!(
                "collection block of {n} items exceeds the limit"
            )));
        }
        Ok(Some(n as usize))
    }
}

/// A decoded value, borrowing strings from the block buffer and names from the plan.
#[derive(Debug, Clone)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Long(i64),
    #[allow(dead_code)]
    // floats and doubles occur in no SysFlow schema; decoded only to be skipped.
    Double(f64),
    Bytes(&'a [u8]),
    Str(&'a str),
    Enum(&'a str),
    Oid(Oid),
    Strings(Vec<String>),
    Array(Vec<Value<'a>>),
    Map(Vec<(&'a str, Value<'a>)>),
    Record(&'a [String], Vec<Value<'a>>),
}

/// A compiled decoder for one writer schema node.
#[derive(Debug, Clone)]
enum Dec {
    Null,
    Bool,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    Str,
    Fixed(usize),
    Enum(Vec<String>),
    Oid { create_first: bool },
    Strings,
    Array(Box<Dec>),
    Map(Box<Dec>),
    Union(Vec<Dec>),
    Record(Vec<String>, Vec<Dec>),
}

impl Dec {
    fn compile(s: &Schema, id: NodeId, depth: usize) -> Result<Dec> {
        if depth > MAX_DEPTH {
            return Err(Error::schema("schema nested too deeply"));
        }
        Ok(match s.node(id) {
            Node::Null => Dec::Null,
            Node::Boolean => Dec::Bool,
            Node::Int => Dec::Int,
            Node::Long => Dec::Long,
            Node::Float => Dec::Float,
            Node::Double => Dec::Double,
            Node::Bytes => Dec::Bytes,
            Node::String => Dec::Str,
            Node::Fixed { size, .. } => Dec::Fixed(*size),
            Node::Enum { symbols, .. } => Dec::Enum(symbols.clone()),
            Node::Array(items) => {
                if matches!(s.node(*items), Node::String) {
                    Dec::Strings
                } else {
                    Dec::Array(Box::new(Dec::compile(s, *items, depth + 1)?))
                }
            }
            Node::Map(v) => Dec::Map(Box::new(Dec::compile(s, *v, depth + 1)?)),
            Node::Union(b) => Dec::Union(
                b.iter()
                    .map(|&x| Dec::compile(s, x, depth + 1))
                    .collect::<Result<_>>()?,
            ),
            Node::Record { fields, .. } => {
                let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
                let is_long = |i: usize| matches!(s.node(fields[i].1), Node::Long | Node::Int);
                if names == ["createTS", "hpid"] && is_long(0) && is_long(1) {
                    Dec::Oid { create_first: true }
                } else if names == ["hpid", "createTS"] && is_long(0) && is_long(1) {
                    Dec::Oid {
                        create_first: false,
                    }
                } else {
                    let decs = fields
                        .iter()
                        .map(|(_, t)| Dec::compile(s, *t, depth + 1))
                        .collect::<Result<_>>()?;
                    Dec::Record(fields.iter().map(|(n, _)| n.clone()).collect(), decs)
                }
            }
        })
    }

    fn decode<'a>(&'a self, c: &mut Cursor<'a>, depth: usize) -> Result<Value<'a>> {
        Ok(match self {
            Dec::Null => Value::Null,
            Dec::Bool => Value::Bool(c.bool()?),
            Dec::Int => Value::Long(c.int()?),
            Dec::Long => Value::Long(c.long()?),
            Dec::Float => {
                let b = c.take(4)?;
                Value::Double(f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            }
            Dec::Double => {
                let b = c.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Value::Double(f64::from_le_bytes(a))
            }
            Dec::Bytes => Value::Bytes(c.bytes()?),
            Dec::Str => Value::Str(c.str()?),
            Dec::Fixed(n) => Value::Bytes(c.take(*n)?),
            Dec::Enum(syms) => {
                let i = c.long()?;
                let s = usize::try_from(i)
                    .ok()
                    .and_then(|i| syms.get(i))
                    .ok_or_else(|| {
                        Error::decode(format!("enum ordinal {i} out of range (0..{})", syms.len()))
                    })?;
                Value::Enum(s)
            }
            Dec::Oid { create_first } => {
                let (a, b) = (c.long()?, c.long()?);
                Value::Oid(if *create_first {
                    Oid {
                        create_ts: a,
                        hpid: b,
                    }
                } else {
                    Oid {
                        create_ts: b,
                        hpid: a,
                    }
                })
            }
            Dec::Strings => {
                let mut v = Vec::new();
                while let Some(n) = c.block_count()? {
                    for _ in 0..n {
                        v.push(c.str()?.to_string());
                    }
                }
                Value::Strings(v)
            }
            Dec::Array(item) => {
                if depth > MAX_DEPTH {
                    return Err(Error::decode("datum nested too deeply"));
                }
                let mut v = Vec::new();
                while let Some(n) = c.block_count()? {
                    for _ in 0..n {
                        v.push(item.decode(c, depth + 1)?);
                    }
                }
                Value::Array(v)
            }
            Dec::Map(item) => {
                if depth > MAX_DEPTH {
                    return Err(Error::decode("datum nested too deeply"));
                }
                let mut v = Vec::new();
                while let Some(n) = c.block_count()? {
                    for _ in 0..n {
                        let k = c.str()?;
                        v.push((k, item.decode(c, depth + 1)?));
                    }
                }
                Value::Map(v)
            }
            Dec::Union(branches) => {
                let i = c.long()?;
                let d = usize::try_from(i)
                    .ok()
                    .and_then(|i| branches.get(i))
                    .ok_or_else(|| {
                        Error::decode(format!(
                            "union index {i} out of range (0..{})",
                            branches.len()
                        ))
                    })?;
                d.decode(c, depth + 1)?
            }
            Dec::Record(names, decs) => {
                if depth > MAX_DEPTH {
                    return Err(Error::decode("datum nested too deeply"));
                }
                let mut v = Vec::with_capacity(decs.len());
                for d in decs {
                    v.push(d.decode(c, depth + 1)?);
                }
                Value::Record(names, v)
            }
        })
    }
}

/// What a target field accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Long,
    Int,
    Bool,
    Str,
    OptStr,
    Oid,
    OptOid,
    Foid,
    OptFoid,
    Enum,
    Strings,
    Longs,
    StrMap,
    Services,
}

/// Target fields of each record kind, in v5 order (slot = position), with accepted writer aliases.
fn target_fields(kind: RecordKind) -> &'static [(&'static str, Want)] {
    use Want::*;
    match kind {
        RecordKind::Header => &[
            ("version", Long),
            ("exporter", Str),
            ("ip", Str),
            ("filename", Str),
        ],
        RecordKind::Container => &[
            ("id", Str),
            ("name", Str),
            ("image", Str),
            ("imageid", Str),
            ("type", Enum),
            ("privileged", Bool),
            ("podId", OptStr),
        ],
        RecordKind::Process => &[
            ("state", Enum),
            ("oid", Oid),
            ("poid", OptOid),
            ("ts", Long),
            ("exe", Str),
            ("exeArgs", Str),
            ("uid", Int),
            ("userName", Str),
            ("gid", Int),
            ("groupName", Str),
            ("tty", Bool),
            ("containerId", OptStr),
            ("entry", Bool),
            ("cwd", Str),
            ("env", Strings),
        ],
        RecordKind::File => &[
            ("state", Enum),
            ("oid", Foid),
            ("ts", Long),
            ("restype", Int),
            ("path", Str),
            ("containerId", OptStr),
        ],
        RecordKind::ProcessEvent => &[
            ("procOID", Oid),
            ("ts", Long),
            ("tid", Long),
            ("opFlags", Int),
            ("args", Strings),
            ("ret", Int),
            // Prototype Sp1: the operation as an EventType enum instead of opFlags.
            ("type", Enum),
        ],
        RecordKind::NetworkFlow => &[
            ("procOID", Oid),
            ("ts", Long),
            ("tid", Long),
            ("opFlags", Int),
            ("endTs", Long),
            ("sip", Int),
            ("sport", Int),
            ("dip", Int),
            ("dport", Int),
            ("proto", Int),
            ("fd", Int),
            ("numRRecvOps", Long),
            ("numWSendOps", Long),
            ("numRRecvBytes", Long),
            ("numWSendBytes", Long),
        ],
        RecordKind::FileFlow => &[
            ("procOID", Oid),
            ("ts", Long),
            ("tid", Long),
            ("opFlags", Int),
            ("openFlags", Int),
            ("endTs", Long),
            ("fileOID", Foid),
            ("fd", Int),
            ("numRRecvOps", Long),
            ("numWSendOps", Long),
            ("numRRecvBytes", Long),
            ("numWSendBytes", Long),
        ],
        RecordKind::FileEvent => &[
            ("procOID", Oid),
            ("ts", Long),
            ("tid", Long),
            ("opFlags", Int),
            ("fileOID", Foid),
            ("ret", Int),
            ("newFileOID", OptFoid),
        ],
        RecordKind::NetworkEvent => &[
            ("procOID", Oid),
            ("ts", Long),
            ("tid", Long),
            ("opFlags", Int),
            ("sip", Int),
            ("sport", Int),
            ("dip", Int),
            ("dport", Int),
            ("proto", Int),
            ("ret", Int),
        ],
        RecordKind::ProcessFlow => &[
            ("procOID", Oid),
            ("ts", Long),
            ("numThreadsCloned", Long),
            ("opFlags", Int),
            ("endTs", Long),
            ("numThreadsExited", Long),
            ("numCloneErrors", Long),
        ],
        RecordKind::Pod => &[
            ("ts", Long),
            ("id", Str),
            ("name", Str),
            ("nodeName", Str),
            ("hostIP", Longs),
            ("internalIP", Longs),
            ("namespace", Str),
            ("restartCount", Long),
            ("labels", StrMap),
            ("selectors", StrMap),
            ("services", Services),
        ],
        RecordKind::K8sEvent => &[
            ("kind", Enum),
            ("action", Enum),
            ("ts", Long),
            ("message", Str),
        ],
    }
}

/// Writer field name → target field name, for renamed fields of old layouts.
fn alias(kind: RecordKind, writer_field: &str) -> &str {
    match (kind, writer_field) {
        // Prototype Sp1 Process: `type: ActionType` (same symbols as SFObjectState).
        (RecordKind::Process, "type") => "state",
        _ => writer_field,
    }
}

fn accepts(s: &Schema, id: NodeId, want: Want) -> bool {
    let node = s.node(id);
    let nullable_of = |inner: &dyn Fn(&Node) -> bool| match node {
        Node::Union(b) => {
            b.iter()
                .all(|&x| matches!(s.node(x), Node::Null) || inner(s.node(x)))
                && b.iter().any(|&x| inner(s.node(x)))
        }
        n => inner(n),
    };
    let is_oid = |n: &Node| {
        matches!(n, Node::Record { fields, .. }
            if fields.len() == 2 && fields.iter().all(|(f, t)| (f == "createTS" || f == "hpid") && matches!(s.node(*t), Node::Long | Node::Int)))
    };
    let is_foid = |n: &Node| matches!(n, Node::Fixed { size: 20, .. } | Node::Bytes);
    match want {
        Want::Long => matches!(node, Node::Long | Node::Int),
        Want::Int => matches!(node, Node::Int),
        Want::Bool => matches!(node, Node::Boolean),
        Want::Str => matches!(node, Node::String),
        Want::OptStr => nullable_of(&|n| matches!(n, Node::String)),
        Want::Oid => is_oid(node),
        Want::OptOid => nullable_of(&is_oid),
        Want::Foid => is_foid(node),
        Want::OptFoid => nullable_of(&is_foid),
        Want::Enum => matches!(node, Node::Enum { .. }),
        Want::Strings => matches!(node, Node::Array(i) if matches!(s.node(*i), Node::String)),
        Want::Longs => {
            matches!(node, Node::Array(i) if matches!(s.node(*i), Node::Long | Node::Int))
        }
        Want::StrMap => matches!(node, Node::Map(i) if matches!(s.node(*i), Node::String)),
        Want::Services => {
            matches!(node, Node::Array(i) if matches!(s.node(*i), Node::Record { .. }))
        }
    }
}

/// The compiled plan of one union branch.
#[derive(Debug, Clone)]
enum Branch {
    /// A SysFlow record: decode each writer field, put it in its target slot (or drop it).
    Record {
        kind: RecordKind,
        steps: Vec<(Option<u8>, Dec)>,
    },
    /// A branch that is not a SysFlow record (or an unknown one): decoded and dropped.
    Skip(Dec),
}

/// A writer schema compiled for decoding `sysflow.SysFlow` datums into [`Record`]s.
#[derive(Debug, Clone)]
pub struct DatumDecoder {
    branches: Vec<Branch>,
    layout: Layout,
}

impl DatumDecoder {
    /// Compiles a writer schema (the JSON embedded in a container, or the v5 schema for stream datums).
    pub fn new(schema_json: &str) -> Result<DatumDecoder> {
        let schema = Schema::parse(schema_json)?;
        Self::compile(&schema)
    }

    fn compile(s: &Schema) -> Result<DatumDecoder> {
        let root = s.root();
        let union = match s.node(root) {
            Node::Record { fields, .. } if fields.len() == 1 => fields[0].1,
            Node::Union(_) => root,
            _ => {
                return Err(Error::schema(
                    "top-level schema is not a SysFlow record with one union field",
                ))
            }
        };
        let Node::Union(branch_ids) = s.node(union) else {
            return Err(Error::schema("the SysFlow record's field is not a union"));
        };
        let mut layout = Layout::EMPTY;
        let mut branches = Vec::with_capacity(branch_ids.len());
        let mut known = 0;
        for &b in branch_ids {
            let Node::Record { name, fields } = s.node(b) else {
                branches.push(Branch::Skip(Dec::compile(s, b, 0)?));
                continue;
            };
            let has = |f: &str| fields.iter().any(|(n, _)| n == f);
            let kind = match RecordKind::from_full_name(name) {
                // Prototype layouts (Sp1/Sp2) call a process *event* "ProcessFlow": it has args/ret, no endTs.
                Some(RecordKind::ProcessFlow) if !has("endTs") && has("args") => {
                    RecordKind::ProcessEvent
                }
                Some(k) => k,
                None => {
                    branches.push(Branch::Skip(Dec::compile(s, b, 0)?));
                    continue;
                }
            };
            known += 1;
            let targets = target_fields(kind);
            let mut steps = Vec::with_capacity(fields.len());
            for (fname, fty) in fields {
                let tname = alias(kind, fname);
                let slot = targets.iter().position(|(n, _)| *n == tname);
                if let Some(slot) = slot {
                    let want = targets[slot].1;
                    if !accepts(s, *fty, want) {
                        return Err(Error::schema(format!(
                            "field {name}.{fname} has a type that cannot be read as {want:?}"
                        )));
                    }
                }
                steps.push((slot.map(|x| x as u8), Dec::compile(s, *fty, 0)?));
            }
            let mut mark = |f: &str, opt: OptionalField| {
                if has(f) {
                    layout.insert(opt);
                }
            };
            match kind {
                RecordKind::Header => {
                    mark("ip", OptionalField::HeaderIp);
                    mark("filename", OptionalField::HeaderFilename);
                }
                RecordKind::Container => {
                    mark("privileged", OptionalField::ContainerPrivileged);
                    mark("podId", OptionalField::ContainerPodId);
                }
                RecordKind::Process => {
                    mark("tty", OptionalField::ProcessTty);
                    mark("entry", OptionalField::ProcessEntry);
                    mark("cwd", OptionalField::ProcessCwd);
                    mark("env", OptionalField::ProcessEnv);
                }
                RecordKind::NetworkFlow => mark("fd", OptionalField::NetworkFlowFd),
                RecordKind::FileFlow => mark("openFlags", OptionalField::FileFlowOpenFlags),
                _ => {}
            }
            branches.push(Branch::Record { kind, steps });
        }
        if known == 0 {
            return Err(Error::schema("the union has no SysFlow record branch"));
        }
        Ok(DatumDecoder { branches, layout })
    }

    /// Which optional fields the writer schema has.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Decodes one datum at the cursor: `None` for a branch that is not a SysFlow record.
    pub(crate) fn decode<'a>(&'a self, c: &mut Cursor<'a>) -> Result<Option<Record>> {
        let i = c.long()?;
        let branch = usize::try_from(i)
            .ok()
            .and_then(|i| self.branches.get(i))
            .ok_or_else(|| {
                Error::decode(format!(
                    "union index {i} out of range (0..{})",
                    self.branches.len()
                ))
            })?;
        match branch {
            Branch::Skip(d) => {
                d.decode(c, 0)?;
                Ok(None)
            }
            Branch::Record { kind, steps } => {
                let mut rec = empty(*kind);
                for (slot, dec) in steps {
                    match (slot, dec) {
                        (Some(s), Dec::Long) => apply_long(&mut rec, *s, c.long()?),
                        (Some(s), Dec::Int) => apply_long(&mut rec, *s, c.int()?),
                        (Some(s), Dec::Oid { create_first: true }) => {
                            let (create_ts, hpid) = (c.long()?, c.long()?);
                            apply(&mut rec, *s, Value::Oid(Oid { create_ts, hpid }))
                        }
                        (Some(s), Dec::Fixed(20)) => apply_foid(&mut rec, *s, c.take(20)?),
                        (Some(s), Dec::Str) => apply(&mut rec, *s, Value::Str(c.str()?)),
                        (Some(s), d) => apply(&mut rec, *s, d.decode(c, 0)?),
                        (None, d) => {
                            d.decode(c, 0)?;
                        }
                    }
                }
                Ok(Some(rec))
            }
        }
    }

    /// Decodes a single bare datum (one stream message) that must use all of `bytes`. Returns `None` for a branch
    /// that is not a SysFlow record.
    pub fn decode_datum(&self, bytes: &[u8]) -> Result<Option<Record>> {
        let mut c = Cursor::new(bytes);
        let r = self.decode(&mut c)?;
        if c.remaining() != 0 {
            return Err(Error::decode(format!(
                "{} trailing bytes after the datum",
                c.remaining()
            )));
        }
        Ok(r)
    }
}

// ---- conversion of slots into typed records --------------------------------------------------------------------

fn long(v: &Value<'_>) -> i64 {
    match v {
        Value::Long(x) => *x,
        _ => 0,
    }
}

fn int(v: &Value<'_>) -> i32 {
    long(v) as i32
}

fn boolean(v: &Value<'_>) -> bool {
    matches!(v, Value::Bool(true))
}

fn string(v: &Value<'_>) -> String {
    match v {
        Value::Str(s) => (*s).to_string(),
        _ => String::new(),
    }
}

fn opt_string(v: &Value<'_>) -> Option<String> {
    match v {
        Value::Str(s) => Some((*s).to_string()),
        _ => None,
    }
}

fn oid(v: &Value<'_>) -> Oid {
    match v {
        Value::Oid(o) => *o,
        _ => Oid::default(),
    }
}

fn opt_oid(v: &Value<'_>) -> Option<Oid> {
    match v {
        Value::Oid(o) => Some(*o),
        _ => None,
    }
}

fn opt_foid(v: &Value<'_>) -> Option<Foid> {
    match v {
        Value::Bytes(b) if b.len() == 20 => {
            let mut a = [0u8; 20];
            a.copy_from_slice(b);
            Some(Foid(a))
        }
        _ => None,
    }
}

fn foid(v: &Value<'_>) -> Foid {
    opt_foid(v).unwrap_or_default()
}

fn strings(v: Value<'_>) -> Vec<String> {
    match v {
        Value::Strings(s) => s,
        _ => Vec::new(),
    }
}

fn longs(v: &Value<'_>) -> Vec<i64> {
    match v {
        Value::Array(a) => a.iter().map(long).collect(),
        _ => Vec::new(),
    }
}

fn str_map(v: &Value<'_>) -> Vec<(String, String)> {
    match v {
        Value::Map(m) => m
            .iter()
            .map(|(k, v)| ((*k).to_string(), string(v)))
            .collect(),
        _ => Vec::new(),
    }
}

fn field<'v, 'a>(names: &[String], vals: &'v [Value<'a>], name: &str) -> Option<&'v Value<'a>> {
    names.iter().position(|n| n == name).map(|i| &vals[i])
}

fn services(v: &Value<'_>) -> Vec<Service> {
    let Value::Array(items) = v else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|s| match s {
            Value::Record(names, vals) => {
                let g = |n: &str| field(names, vals, n);
                Some(Service {
                    name: g("name").map(string).unwrap_or_default(),
                    id: g("id").map(string).unwrap_or_default(),
                    namespace: g("namespace").map(string).unwrap_or_default(),
                    port_list: match g("portList") {
                        Some(Value::Array(ports)) => ports
                            .iter()
                            .filter_map(|p| match p {
                                Value::Record(pn, pv) => {
                                    let g = |n: &str| field(pn, pv, n);
                                    Some(Port {
                                        port: g("port").map(int).unwrap_or_default(),
                                        target_port: g("targetPort").map(int).unwrap_or_default(),
                                        node_port: g("nodePort").map(int).unwrap_or_default(),
                                        proto: g("proto").map(string).unwrap_or_default(),
                                    })
                                }
                                _ => None,
                            })
                            .collect(),
                        _ => Vec::new(),
                    },
                    cluster_ip: g("clusterIP").map(longs).unwrap_or_default(),
                })
            }
            _ => None,
        })
        .collect()
}

fn sym<'a>(v: &Value<'a>) -> &'a str {
    match v {
        Value::Enum(s) => s,
        _ => "",
    }
}

fn empty(kind: RecordKind) -> Record {
    match kind {
        RecordKind::Header => Record::Header(Header::default()),
        RecordKind::Container => Record::Container(Box::default()),
        RecordKind::Process => Record::Process(Box::default()),
        RecordKind::File => Record::File(File::default()),
        RecordKind::ProcessEvent => Record::ProcessEvent(ProcessEvent::default()),
        RecordKind::NetworkFlow => Record::NetworkFlow(NetworkFlow::default()),
        RecordKind::FileFlow => Record::FileFlow(FileFlow::default()),
        RecordKind::FileEvent => Record::FileEvent(FileEvent::default()),
        RecordKind::NetworkEvent => Record::NetworkEvent(NetworkEvent::default()),
        RecordKind::ProcessFlow => Record::ProcessFlow(ProcessFlow::default()),
        RecordKind::Pod => Record::Pod(Box::default()),
        RecordKind::K8sEvent => Record::K8sEvent(K8sEvent::default()),
    }
}

/// Stores an integer field (the common case, without building a [`Value`]).
#[inline]
fn apply_long(rec: &mut Record, slot: u8, x: i64) {
    let i = x as i32;
    match rec {
        Record::FileFlow(f) => match slot {
            1 => f.ts = x,
            2 => f.tid = x,
            3 => f.op_flags = i,
            4 => f.open_flags = i,
            5 => f.end_ts = x,
            7 => f.fd = i,
            8 => f.num_r_recv_ops = x,
            9 => f.num_w_send_ops = x,
            10 => f.num_r_recv_bytes = x,
            11 => f.num_w_send_bytes = x,
            _ => {}
        },
        Record::NetworkFlow(f) => match slot {
            1 => f.ts = x,
            2 => f.tid = x,
            3 => f.op_flags = i,
            4 => f.end_ts = x,
            5 => f.sip = i,
            6 => f.sport = i,
            7 => f.dip = i,
            8 => f.dport = i,
            9 => f.proto = i,
            10 => f.fd = i,
            11 => f.num_r_recv_ops = x,
            12 => f.num_w_send_ops = x,
            13 => f.num_r_recv_bytes = x,
            14 => f.num_w_send_bytes = x,
            _ => {}
        },
        _ => apply(rec, slot, Value::Long(x)),
    }
}

/// Stores a FOID field.
#[inline]
fn apply_foid(rec: &mut Record, slot: u8, b: &[u8]) {
    let mut a = [0u8; 20];
    a.copy_from_slice(b);
    match (rec, slot) {
        (Record::FileFlow(f), 6) => f.file_oid = Foid(a),
        (Record::File(f), 1) => f.oid = Foid(a),
        (Record::FileEvent(e), 4) => e.file_oid = Foid(a),
        (rec, slot) => apply(rec, slot, Value::Bytes(b)),
    }
}

/// Stores one decoded writer field into its target slot (slots as in [`target_fields`]).
#[inline]
fn apply(rec: &mut Record, slot: u8, v: Value<'_>) {
    match rec {
        Record::Header(h) => match slot {
            0 => h.version = long(&v),
            1 => h.exporter = string(&v),
            2 => h.ip = string(&v),
            3 => h.filename = string(&v),
            _ => {}
        },
        Record::Container(c) => match slot {
            0 => c.id = string(&v),
            1 => c.name = string(&v),
            2 => c.image = string(&v),
            3 => c.imageid = string(&v),
            4 => c.container_type = ContainerType::from_symbol(sym(&v)).unwrap_or_default(),
            5 => c.privileged = boolean(&v),
            6 => c.pod_id = opt_string(&v),
            _ => {}
        },
        Record::Process(p) => match slot {
            0 => p.state = ObjectState::from_symbol(sym(&v)).unwrap_or_default(),
            1 => p.oid = oid(&v),
            2 => p.poid = opt_oid(&v),
            3 => p.ts = long(&v),
            4 => p.exe = string(&v),
            5 => p.exe_args = string(&v),
            6 => p.uid = int(&v),
            7 => p.user_name = string(&v),
            8 => p.gid = int(&v),
            9 => p.group_name = string(&v),
            10 => p.tty = boolean(&v),
            11 => p.container_id = opt_string(&v),
            12 => p.entry = boolean(&v),
            13 => p.cwd = string(&v),
            14 => p.env = strings(v),
            _ => {}
        },
        Record::File(f) => match slot {
            0 => f.state = ObjectState::from_symbol(sym(&v)).unwrap_or_default(),
            1 => f.oid = foid(&v),
            2 => f.ts = long(&v),
            3 => f.restype = int(&v),
            4 => f.path = string(&v),
            5 => f.container_id = opt_string(&v),
            _ => {}
        },
        Record::ProcessEvent(e) => match slot {
            0 => e.proc_oid = oid(&v),
            1 => e.ts = long(&v),
            2 => e.tid = long(&v),
            3 => e.op_flags = int(&v),
            4 => e.args = strings(v),
            5 => e.ret = int(&v),
            // Prototype Sp1: the operation as an EventType symbol (such layouts have no opFlags field).
            6 => {
                e.op_flags = match sym(&v) {
                    "CLONE" => crate::flags::op::CLONE,
                    "EXEC" => crate::flags::op::EXEC,
                    "EXIT" => crate::flags::op::EXIT,
                    "SETUID" => crate::flags::op::SETUID,
                    _ => 0,
                }
            }
            _ => {}
        },
        Record::NetworkFlow(f) => match slot {
            0 => f.proc_oid = oid(&v),
            1 => f.ts = long(&v),
            2 => f.tid = long(&v),
            3 => f.op_flags = int(&v),
            4 => f.end_ts = long(&v),
            5 => f.sip = int(&v),
            6 => f.sport = int(&v),
            7 => f.dip = int(&v),
            8 => f.dport = int(&v),
            9 => f.proto = int(&v),
            10 => f.fd = int(&v),
            11 => f.num_r_recv_ops = long(&v),
            12 => f.num_w_send_ops = long(&v),
            13 => f.num_r_recv_bytes = long(&v),
            14 => f.num_w_send_bytes = long(&v),
            _ => {}
        },
        Record::FileFlow(f) => match slot {
            0 => f.proc_oid = oid(&v),
            1 => f.ts = long(&v),
            2 => f.tid = long(&v),
            3 => f.op_flags = int(&v),
            4 => f.open_flags = int(&v),
            5 => f.end_ts = long(&v),
            6 => f.file_oid = foid(&v),
            7 => f.fd = int(&v),
            8 => f.num_r_recv_ops = long(&v),
            9 => f.num_w_send_ops = long(&v),
            10 => f.num_r_recv_bytes = long(&v),
            11 => f.num_w_send_bytes = long(&v),
            _ => {}
        },
        Record::FileEvent(e) => match slot {
            0 => e.proc_oid = oid(&v),
            1 => e.ts = long(&v),
            2 => e.tid = long(&v),
            3 => e.op_flags = int(&v),
            4 => e.file_oid = foid(&v),
            5 => e.ret = int(&v),
            6 => e.new_file_oid = opt_foid(&v),
            _ => {}
        },
        Record::NetworkEvent(e) => match slot {
            0 => e.proc_oid = oid(&v),
            1 => e.ts = long(&v),
            2 => e.tid = long(&v),
            3 => e.op_flags = int(&v),
            4 => e.sip = int(&v),
            5 => e.sport = int(&v),
            6 => e.dip = int(&v),
            7 => e.dport = int(&v),
            8 => e.proto = int(&v),
            9 => e.ret = int(&v),
            _ => {}
        },
        Record::ProcessFlow(f) => match slot {
            0 => f.proc_oid = oid(&v),
            1 => f.ts = long(&v),
            2 => f.num_threads_cloned = long(&v),
            3 => f.op_flags = int(&v),
            4 => f.end_ts = long(&v),
            5 => f.num_threads_exited = long(&v),
            6 => f.num_clone_errors = long(&v),
            _ => {}
        },
        Record::Pod(p) => match slot {
            0 => p.ts = long(&v),
            1 => p.id = string(&v),
            2 => p.name = string(&v),
            3 => p.node_name = string(&v),
            4 => p.host_ip = longs(&v),
            5 => p.internal_ip = longs(&v),
            6 => p.namespace = string(&v),
            7 => p.restart_count = long(&v),
            8 => p.labels = str_map(&v),
            9 => p.selectors = str_map(&v),
            10 => p.services = services(&v),
            _ => {}
        },
        Record::K8sEvent(k) => match slot {
            0 => k.kind = K8sComponent::from_symbol(sym(&v)).unwrap_or(K8sComponent::Unknown),
            1 => k.action = K8sAction::from_symbol(sym(&v)).unwrap_or(K8sAction::Unknown),
            2 => k.ts = long(&v),
            3 => k.message = string(&v),
            _ => {}
        },
    }
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn seven_bit_groups_pack_in_order() {
        // Group by group, as the varint definition reads.
        fn by_group(w: u64) -> u64 {
            (0..8).fold(0, |v, i| v | (((w >> (8 * i)) & 0x7f) << (7 * i)))
        }
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..1_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            assert_eq!(super::pack7(x), by_group(x), "{x:#x}");
        }
        for w in [0, u64::MAX, 0x8080_8080_8080_8080, 0x7f7f_7f7f_7f7f_7f7f] {
            assert_eq!(super::pack7(w), by_group(w), "{w:#x}");
        }
    }

    fn zigzag_varint(v: i64, out: &mut Vec<u8>) {
        let mut u = ((v << 1) ^ (v >> 63)) as u64;
        while u >= 0x80 {
            out.push((u as u8) | 0x80);
            u >>= 7;
        }
        out.push(u as u8);
    }

    #[test]
    fn varints_of_every_length_decode_in_the_middle_and_at_the_end_of_a_buffer() {
        let mut values = vec![
            0,
            1,
            -1,
            63,
            -64,
            64,
            i64::MAX,
            i64::MIN,
            1_700_000_000_123_456_789,
        ];
        for shift in 0..64 {
            values.push(1i64 << shift);
            values.push((1i64 << shift).wrapping_neg());
            values.push((1i64 << shift).wrapping_sub(1));
        }
        for &v in &values {
            let mut buf = Vec::new();
            zigzag_varint(v, &mut buf);
            // At the end of the buffer (the byte-wise path) and followed by padding (the word path).
            let end = buf.clone();
            buf.extend_from_slice(&[0xff; 12]);
            for bytes in [&end, &buf] {
                let mut c = Cursor::new(bytes);
                assert_eq!(c.long().ok(), Some(v), "{v} in {bytes:02x?}");
                assert_eq!(c.pos(), end.len());
            }
        }
    }

    #[test]
    fn overlong_and_truncated_varints_are_errors() {
        assert!(Cursor::new(&[0xff; 12]).long().is_err());
        assert!(Cursor::new(&[0xff; 9]).long().is_err());
        assert!(Cursor::new(&[0x80]).long().is_err());
    }
}
