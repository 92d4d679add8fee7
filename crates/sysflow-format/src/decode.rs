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
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(Error::truncated("a varint"));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return Err(Error::decode("varint longer than 10 bytes"));
            }
        }
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
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
            n.checked_neg().ok_or_else(|| Error::decode("bad block count"))?
        } else {
            n
        };
        // Every item takes at least one byte, except nulls; bound the count anyway.
        if n as u64 > MAX_ITEMS as u64 {
            return Err(Error::decode(format!("collection block of {n} items exceeds the limit")));
        }
        Ok(Some(n as usize))
    }
}

/// A decoded value, borrowing strings from the block buffer and names from the plan.
#[derive(Debug, Clone)]
pub(crate) enum Value<'a> {
    Absent,
    Null,
    Bool(bool),
    Long(i64),
    #[allow(dead_code)] // floats and doubles occur in no SysFlow schema; decoded only to be skipped.
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
            Node::Union(b) => {
                Dec::Union(b.iter().map(|&x| Dec::compile(s, x, depth + 1)).collect::<Result<_>>()?)
            }
            Node::Record { fields, .. } => {
                let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
                let is_long = |i: usize| matches!(s.node(fields[i].1), Node::Long | Node::Int);
                if names == ["createTS", "hpid"] && is_long(0) && is_long(1) {
                    Dec::Oid { create_first: true }
                } else if names == ["hpid", "createTS"] && is_long(0) && is_long(1) {
                    Dec::Oid { create_first: false }
                } else {
                    let decs = fields.iter().map(|(_, t)| Dec::compile(s, *t, depth + 1)).collect::<Result<_>>()?;
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
                    .ok_or_else(|| Error::decode(format!("enum ordinal {i} out of range (0..{})", syms.len())))?;
                Value::Enum(s)
            }
            Dec::Oid { create_first } => {
                let (a, b) = (c.long()?, c.long()?);
                Value::Oid(if *create_first { Oid { create_ts: a, hpid: b } } else { Oid { create_ts: b, hpid: a } })
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
                    .ok_or_else(|| Error::decode(format!("union index {i} out of range (0..{})", branches.len())))?;
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
        RecordKind::Header => &[("version", Long), ("exporter", Str), ("ip", Str), ("filename", Str)],
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
        RecordKind::K8sEvent => &[("kind", Enum), ("action", Enum), ("ts", Long), ("message", Str)],
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
            b.iter().all(|&x| matches!(s.node(x), Node::Null) || inner(s.node(x)))
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
        Want::Longs => matches!(node, Node::Array(i) if matches!(s.node(*i), Node::Long | Node::Int)),
        Want::StrMap => matches!(node, Node::Map(i) if matches!(s.node(*i), Node::String)),
        Want::Services => matches!(node, Node::Array(i) if matches!(s.node(*i), Node::Record { .. })),
    }
}

const MAX_SLOTS: usize = 16;

/// The compiled plan of one union branch.
#[derive(Debug, Clone)]
enum Branch {
    /// A SysFlow record: decode each writer field, put it in its target slot (or drop it).
    Record { kind: RecordKind, steps: Vec<(Option<u8>, Dec)> },
    /// A branch that is not a SysFlow record (or an unknown one): decoded and dropped.
    Skip(Dec),
}

/// A writer schema compiled for decoding `sysflow.SysFlow` datums into [`Record`]s.
#[derive(Debug, Clone)]
pub struct DatumDecoder {
    branches: Vec<Branch>,
    layout: Layout,
}

/// The outcome of decoding one datum.
pub(crate) enum Decoded {
    Record(Record),
    Skipped,
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
            _ => return Err(Error::schema("top-level schema is not a SysFlow record with one union field")),
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
                Some(RecordKind::ProcessFlow) if !has("endTs") && has("args") => RecordKind::ProcessEvent,
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

    /// Decodes one datum at the cursor.
    pub(crate) fn decode<'a>(&'a self, c: &mut Cursor<'a>) -> Result<Decoded> {
        let i = c.long()?;
        let branch = usize::try_from(i)
            .ok()
            .and_then(|i| self.branches.get(i))
            .ok_or_else(|| Error::decode(format!("union index {i} out of range (0..{})", self.branches.len())))?;
        match branch {
            Branch::Skip(d) => {
                d.decode(c, 0)?;
                Ok(Decoded::Skipped)
            }
            Branch::Record { kind, steps } => {
                let mut slots: [Value<'a>; MAX_SLOTS] = std::array::from_fn(|_| Value::Absent);
                for (slot, dec) in steps {
                    let v = dec.decode(c, 0)?;
                    if let Some(s) = slot {
                        slots[*s as usize] = v;
                    }
                }
                Ok(Decoded::Record(build(*kind, &mut slots)))
            }
        }
    }

    /// Decodes a single bare datum (one stream message) that must use all of `bytes`. Returns `None` for a branch
    /// that is not a SysFlow record.
    pub fn decode_datum(&self, bytes: &[u8]) -> Result<Option<Record>> {
        let mut c = Cursor::new(bytes);
        let r = self.decode(&mut c)?;
        if c.remaining() != 0 {
            return Err(Error::decode(format!("{} trailing bytes after the datum", c.remaining())));
        }
        Ok(match r {
            Decoded::Record(r) => Some(r),
            Decoded::Skipped => None,
        })
    }
}

// ---- conversion of slots into typed records --------------------------------------------------------------------

fn take<'a>(slots: &mut [Value<'a>], i: usize) -> Value<'a> {
    std::mem::replace(&mut slots[i], Value::Absent)
}

fn long(v: &Value<'_>) -> i64 {
    match v {
        Value::Long(x) => *x,
        _ => 0,
    }
}

fn long_opt(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::Long(x) => Some(*x),
        _ => None,
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
        Value::Map(m) => m.iter().map(|(k, v)| ((*k).to_string(), string(v))).collect(),
        _ => Vec::new(),
    }
}

fn field<'v, 'a>(names: &[String], vals: &'v [Value<'a>], name: &str) -> Option<&'v Value<'a>> {
    names.iter().position(|n| n == name).map(|i| &vals[i])
}

fn services(v: &Value<'_>) -> Vec<Service> {
    let Value::Array(items) = v else { return Vec::new() };
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

fn build(kind: RecordKind, s: &mut [Value<'_>; MAX_SLOTS]) -> Record {
    match kind {
        RecordKind::Header => Record::Header(Header {
            version: long(&s[0]),
            exporter: string(&s[1]),
            ip: string(&s[2]),
            filename: string(&s[3]),
        }),
        RecordKind::Container => Record::Container(Container {
            id: string(&s[0]),
            name: string(&s[1]),
            image: string(&s[2]),
            imageid: string(&s[3]),
            container_type: ContainerType::from_symbol(sym(&s[4])).unwrap_or_default(),
            privileged: boolean(&s[5]),
            pod_id: opt_string(&s[6]),
        }),
        RecordKind::Process => Record::Process(Process {
            state: ObjectState::from_symbol(sym(&s[0])).unwrap_or_default(),
            oid: oid(&s[1]),
            poid: opt_oid(&s[2]),
            ts: long(&s[3]),
            exe: string(&s[4]),
            exe_args: string(&s[5]),
            uid: int(&s[6]),
            user_name: string(&s[7]),
            gid: int(&s[8]),
            group_name: string(&s[9]),
            tty: boolean(&s[10]),
            container_id: opt_string(&s[11]),
            entry: boolean(&s[12]),
            cwd: string(&s[13]),
            env: strings(take(s, 14)),
        }),
        RecordKind::File => Record::File(File {
            state: ObjectState::from_symbol(sym(&s[0])).unwrap_or_default(),
            oid: foid(&s[1]),
            ts: long(&s[2]),
            restype: int(&s[3]),
            path: string(&s[4]),
            container_id: opt_string(&s[5]),
        }),
        RecordKind::ProcessEvent => {
            let op_flags = match (long_opt(&s[3]), sym(&s[6])) {
                (Some(x), _) => x as i32,
                (_, "CLONE") => crate::flags::op::CLONE,
                (_, "EXEC") => crate::flags::op::EXEC,
                (_, "EXIT") => crate::flags::op::EXIT,
                (_, "SETUID") => crate::flags::op::SETUID,
                _ => 0,
            };
            Record::ProcessEvent(ProcessEvent {
                proc_oid: oid(&s[0]),
                ts: long(&s[1]),
                tid: long(&s[2]),
                op_flags,
                args: strings(take(s, 4)),
                ret: int(&s[5]),
            })
        }
        RecordKind::NetworkFlow => Record::NetworkFlow(NetworkFlow {
            proc_oid: oid(&s[0]),
            ts: long(&s[1]),
            tid: long(&s[2]),
            op_flags: int(&s[3]),
            end_ts: long(&s[4]),
            sip: int(&s[5]),
            sport: int(&s[6]),
            dip: int(&s[7]),
            dport: int(&s[8]),
            proto: int(&s[9]),
            fd: int(&s[10]),
            num_r_recv_ops: long(&s[11]),
            num_w_send_ops: long(&s[12]),
            num_r_recv_bytes: long(&s[13]),
            num_w_send_bytes: long(&s[14]),
        }),
        RecordKind::FileFlow => Record::FileFlow(FileFlow {
            proc_oid: oid(&s[0]),
            ts: long(&s[1]),
            tid: long(&s[2]),
            op_flags: int(&s[3]),
            open_flags: int(&s[4]),
            end_ts: long(&s[5]),
            file_oid: foid(&s[6]),
            fd: int(&s[7]),
            num_r_recv_ops: long(&s[8]),
            num_w_send_ops: long(&s[9]),
            num_r_recv_bytes: long(&s[10]),
            num_w_send_bytes: long(&s[11]),
        }),
        RecordKind::FileEvent => Record::FileEvent(FileEvent {
            proc_oid: oid(&s[0]),
            ts: long(&s[1]),
            tid: long(&s[2]),
            op_flags: int(&s[3]),
            file_oid: foid(&s[4]),
            ret: int(&s[5]),
            new_file_oid: opt_foid(&s[6]),
        }),
        RecordKind::NetworkEvent => Record::NetworkEvent(NetworkEvent {
            proc_oid: oid(&s[0]),
            ts: long(&s[1]),
            tid: long(&s[2]),
            op_flags: int(&s[3]),
            sip: int(&s[4]),
            sport: int(&s[5]),
            dip: int(&s[6]),
            dport: int(&s[7]),
            proto: int(&s[8]),
            ret: int(&s[9]),
        }),
        RecordKind::ProcessFlow => Record::ProcessFlow(ProcessFlow {
            proc_oid: oid(&s[0]),
            ts: long(&s[1]),
            num_threads_cloned: long(&s[2]),
            op_flags: int(&s[3]),
            end_ts: long(&s[4]),
            num_threads_exited: long(&s[5]),
            num_clone_errors: long(&s[6]),
        }),
        RecordKind::Pod => Record::Pod(Pod {
            ts: long(&s[0]),
            id: string(&s[1]),
            name: string(&s[2]),
            node_name: string(&s[3]),
            host_ip: longs(&s[4]),
            internal_ip: longs(&s[5]),
            namespace: string(&s[6]),
            restart_count: long(&s[7]),
            labels: str_map(&s[8]),
            selectors: str_map(&s[9]),
            services: services(&s[10]),
        }),
        RecordKind::K8sEvent => Record::K8sEvent(K8sEvent {
            kind: K8sComponent::from_symbol(sym(&s[0])).unwrap_or(K8sComponent::Unknown),
            action: K8sAction::from_symbol(sym(&s[1])).unwrap_or(K8sAction::Unknown),
            ts: long(&s[2]),
            message: string(&s[3]),
        }),
    }
}
