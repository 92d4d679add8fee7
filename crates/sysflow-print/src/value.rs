//! The value of each exported field for one flattened record, as the reference `SFFormatter._flatten` computes it.
//!
//! Values borrow from the record; derived strings (op flags, ISO times, addresses, resources) stay symbolic until a
//! writer renders them, so no per-record allocation happens here.

use sysflow_format::flags::{op_flags_str, time::write_iso8601_py, write_ipv4};
use sysflow_format::{
    Container, File, FlatRecord, Header, Layout, Linked, OptionalField, Pod, Process, Record,
    RecordKind, Service,
};

use crate::fields::Field;

/// A field value, typed like the Python value the reference puts in its dict.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Python `None` (JSON `null`, empty CSV cell, empty table cell).
    Null,
    /// A Python `int`.
    Int(i64),
    /// A Python `bool` (`true`/`True`/`1` in JSON/CSV/table).
    Bool(bool),
    /// A string stored in the record.
    Str(&'a str),
    /// `chr(restype)` of a file; invalid code points render as U+FFFD.
    Char(i32),
    /// `getOpFlagsStr(opFlags)`.
    OpFlags(i32),
    /// `getTimeStrIso8601(ts)`.
    Iso(i64),
    /// `getIpIntStr(ip)`.
    Ipv4(i64),
    /// `getNetFlowStr(flow)`: `sip:sport-dip:dport`.
    NetRes(FlowTuple),
    /// The resource of a file flow or event: `path` + `", " + newpath` when the second file is known.
    FileRes(Option<&'a str>, Option<&'a str>),
    /// `getEnvStr(env)`: entries joined with `;`, skipping `""` and `"="`.
    Env(&'a [String]),
    /// A list of IPv4 addresses (`pod.hostip`, `pod.internalip`).
    IpList(&'a [i64]),
    /// The services of a pod, as the reference's `_obj_to_dict`.
    Services(&'a [Service]),
    /// The empty tuple `()` of `tags`.
    EmptyTuple,
}

/// The addresses and ports of a network flow or event (the resource of [`Value::NetRes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowTuple {
    /// Source address.
    pub sip: i32,
    /// Source port.
    pub sport: i32,
    /// Destination address.
    pub dip: i32,
    /// Destination port.
    pub dport: i32,
}

impl Value<'_> {
    /// Python truthiness of the value (used by the nesting rules of dotty-dict).
    pub fn truthy(&self) -> bool {
        match *self {
            Value::Null | Value::EmptyTuple => false,
            Value::Int(i) => i != 0,
            Value::Bool(b) => b,
            Value::Str(s) => !s.is_empty(),
            Value::Char(_)
            | Value::OpFlags(_)
            | Value::Iso(_)
            | Value::Ipv4(_)
            | Value::NetRes(_) => true,
            Value::FileRes(a, b) => a.is_some_and(|s| !s.is_empty()) || b.is_some(),
            Value::Env(env) => env.iter().any(|e| !e.is_empty() && e != "="),
            Value::IpList(l) => !l.is_empty(),
            Value::Services(s) => !s.is_empty(),
        }
    }

    /// Whether the value is a string in Python (as opposed to int, bool, None, list, tuple).
    pub fn is_text(&self) -> bool {
        matches!(
            self,
            Value::Str(_)
                | Value::Char(_)
                | Value::OpFlags(_)
                | Value::Iso(_)
                | Value::Ipv4(_)
                | Value::NetRes(_)
                | Value::FileRes(..)
                | Value::Env(_)
        )
    }

    /// Appends the text of a string value (see [`Value::is_text`]) to `out`; other values append nothing.
    pub fn write_text(&self, out: &mut String) {
        match *self {
            Value::Str(s) => out.push_str(s),
            Value::Char(c) => out.push(char::from_u32(c as u32).unwrap_or('\u{fffd}')),
            Value::OpFlags(f) => out.push_str(&op_flags_str(f)),
            Value::Iso(ts) => write_iso8601_py(out, ts),
            Value::Ipv4(ip) => write_ipv4(out, ip),
            Value::NetRes(t) => {
                write_ipv4(out, i64::from(t.sip));
                out.push(':');
                push_int(out, i64::from(t.sport));
                out.push('-');
                write_ipv4(out, i64::from(t.dip));
                out.push(':');
                push_int(out, i64::from(t.dport));
            }
            Value::FileRes(a, b) => {
                if let Some(a) = a {
                    out.push_str(a);
                }
                if let Some(b) = b {
                    out.push_str(", ");
                    out.push_str(b);
                }
            }
            Value::Env(env) => {
                let mut first = true;
                for e in env.iter().filter(|e| !e.is_empty() && *e != "=") {
                    if !first {
                        out.push(';');
                    }
                    first = false;
                    out.push_str(e);
                }
            }
            Value::Null
            | Value::Int(_)
            | Value::Bool(_)
            | Value::IpList(_)
            | Value::Services(_)
            | Value::EmptyTuple => {}
        }
    }
}

/// Appends the decimal rendering of `v` to `out`.
pub fn push_int(out: &mut String, v: i64) {
    let mut buf = [0u8; fast::INT_BYTES];
    out.push_str(int_str(&mut buf, v));
}

/// Renders `v` in decimal into `buf`, returning the text.
pub fn int_str(buf: &mut [u8; fast::INT_BYTES], v: i64) -> &str {
    let n = fast::int_text(buf, v);
    // Only ASCII digits and '-' were written.
    std::str::from_utf8(&buf[..n]).unwrap_or("0")
}

/// The value of `field` for `rec`, as the reference `_flatten` computes it (with the documented deviations for
/// NetworkEvent records and writer schemas that lack a field).
pub fn field_value(field: Field, rec: &FlatRecord) -> Value<'_> {
    RecordView::new(rec).get(field)
}

/// A record with its linked entities resolved once, for reading many fields.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    layout: Layout,
    r: &'a Record,
    kind: RecordKind,
    proc: Option<&'a Process>,
    pproc: Option<&'a Process>,
    cont: Option<&'a Container>,
    pod: Option<&'a Pod>,
    header: Option<&'a Header>,
    file: Option<&'a File>,
    new_file: Option<&'a File>,
}

impl<'a> RecordView<'a> {
    /// Resolves the entities of `rec`.
    #[inline]
    pub fn new(rec: &'a FlatRecord) -> Self {
        Self::of(&rec.linked())
    }

    /// Resolves the entities of a record linked by reference.
    #[inline]
    pub fn of(rec: &Linked<'a>) -> Self {
        RecordView {
            layout: rec.layout,
            r: rec.record,
            kind: rec.record.kind(),
            proc: rec.process.map(|a| &**a),
            pproc: rec.parent.map(|a| &**a),
            cont: rec.container.map(|a| &**a),
            pod: rec.pod.map(|a| &**a),
            header: rec.header.map(|a| &**a),
            file: rec.file.map(|a| &**a),
            new_file: rec.new_file.map(|a| &**a),
        }
    }

    /// The value of `field` (see [`field_value`]).
    pub fn get(&self, field: Field) -> Value<'a> {
        use Field as F;
        let RecordView {
            layout,
            r,
            kind,
            proc,
            pproc,
            cont,
            pod,
            header,
            file,
            new_file,
        } = *self;
        let int = |v: Option<i64>| v.map_or(Value::Null, Value::Int);
        match field {
            F::Version => Value::Str("4"),
            F::Type => Value::Str(kind.code()),
            F::State => match (proc, file) {
                (Some(p), _) => Value::Str(p.state.symbol()),
                (None, Some(f)) => Value::Str(f.state.symbol()),
                _ => Value::Str(""),
            },
            F::OpFlags => r.op_flags().map_or(Value::Str(""), Value::OpFlags),
            F::OpFlagsBitmap => r
                .op_flags()
                .map_or(Value::Str(""), |f| Value::Int(f as i64)),
            F::Ret => ret(r).map_or(Value::Null, Value::Int),
            F::Ts => evflow_ts(r).map_or(Value::Str(""), Value::Iso),
            F::TsUts => int(evflow_ts(r)),
            F::EndTs => end_ts(r).map_or(Value::Str(""), Value::Iso),
            F::EndTsUts => int(end_ts(r)),
            F::ProcPid => int(proc.map(|p| p.oid.hpid)),
            F::ProcTid => int(tid(r)),
            F::ProcUid => int(proc.map(|p| p.uid as i64)),
            F::ProcUser => s(proc.map(|p| p.user_name.as_str())),
            F::ProcGid => int(proc.map(|p| p.gid as i64)),
            F::ProcGroup => s(proc.map(|p| p.group_name.as_str())),
            F::ProcCwd => s(proc
                .filter(|_| layout.has(OptionalField::ProcessCwd))
                .map(|p| p.cwd.as_str())),
            F::ProcExe => s(proc.map(|p| p.exe.as_str())),
            F::ProcArgs => s(proc.map(|p| p.exe_args.as_str())),
            F::ProcTty => bool_or_empty(
                proc.filter(|_| layout.has(OptionalField::ProcessTty))
                    .map(|p| p.tty),
            ),
            F::ProcEntry => bool_or_empty(
                proc.filter(|_| layout.has(OptionalField::ProcessEntry))
                    .map(|p| p.entry),
            ),
            F::ProcEnv => match proc.filter(|_| layout.has(OptionalField::ProcessEnv)) {
                Some(p) => Value::Env(&p.env),
                None => Value::Str(""),
            },
            F::ProcCreateTs => int(proc.map(|p| p.oid.create_ts)),
            F::PprocPid => int(pproc.map(|p| p.oid.hpid)),
            F::PprocGid => int(pproc.map(|p| p.gid as i64)),
            F::PprocUid => int(pproc.map(|p| p.uid as i64)),
            F::PprocGroup => s(pproc.map(|p| p.group_name.as_str())),
            F::PprocTty => bool_or_empty(
                pproc
                    .filter(|_| layout.has(OptionalField::ProcessTty))
                    .map(|p| p.tty),
            ),
            F::PprocEntry => bool_or_empty(
                pproc
                    .filter(|_| layout.has(OptionalField::ProcessEntry))
                    .map(|p| p.entry),
            ),
            F::PprocEnv => match pproc.filter(|_| layout.has(OptionalField::ProcessEnv)) {
                Some(p) => Value::Env(&p.env),
                None => Value::Str(""),
            },
            F::PprocUser => s(pproc.map(|p| p.user_name.as_str())),
            F::PprocCwd => s(pproc
                .filter(|_| layout.has(OptionalField::ProcessCwd))
                .map(|p| p.cwd.as_str())),
            F::PprocExe => s(pproc.map(|p| p.exe.as_str())),
            F::PprocArgs => s(pproc.map(|p| p.exe_args.as_str())),
            F::PprocCreateTs => pproc.map_or(Value::Str(""), |p| Value::Int(p.oid.create_ts)),
            F::FileFd => match r {
                Record::NetworkFlow(_) if !layout.has(OptionalField::NetworkFlowFd) => {
                    Value::Str("")
                }
                _ => fd(r).map_or(Value::Str(""), Value::Int),
            },
            F::FilePath => s(file.map(|f| f.path.as_str())),
            F::FileNewPath => s(new_file.map(|f| f.path.as_str())),
            F::FileType => file.map_or(Value::Str(""), |f| Value::Char(f.restype)),
            F::FileOpenFlags => open_flags(r)
                .filter(|_| layout.has(OptionalField::FileFlowOpenFlags))
                .map_or(Value::Str(""), Value::Int),
            F::NetProto => net(r).map_or(Value::Str(""), |n| Value::Int(n.proto as i64)),
            F::NetSport => int(net(r).map(|n| n.sport as i64)),
            F::NetDport => int(net(r).map(|n| n.dport as i64)),
            F::NetSip => net(r).map_or(Value::Str(""), |n| Value::Ipv4(n.sip as i64)),
            F::NetDip => net(r).map_or(Value::Str(""), |n| Value::Ipv4(n.dip as i64)),
            F::Res => match kind {
                RecordKind::FileFlow | RecordKind::FileEvent => Value::FileRes(
                    Some(file.map_or("", |f| f.path.as_str())),
                    new_file.map(|f| f.path.as_str()),
                ),
                _ => match net(r) {
                    Some(n) => Value::NetRes(FlowTuple {
                        sip: n.sip,
                        sport: n.sport,
                        dip: n.dip,
                        dport: n.dport,
                    }),
                    None => Value::Str(""),
                },
            },
            F::FlowRbytes => int(counters(r).map(|c| c.rbytes)),
            F::FlowRops => int(counters(r).map(|c| c.rops)),
            F::FlowWbytes => int(counters(r).map(|c| c.wbytes)),
            F::FlowWops => int(counters(r).map(|c| c.wops)),
            F::PfNthreads => int(pf(r).map(|p| p.num_threads_cloned)),
            F::PfNexits => int(pf(r).map(|p| p.num_threads_exited)),
            F::PfNerrors => int(pf(r).map(|p| p.num_clone_errors)),
            F::ContainerId => s(cont.map(|c| c.id.as_str())),
            F::ContainerName => s(cont.map(|c| c.name.as_str())),
            F::ContainerImageId => s(cont.map(|c| c.imageid.as_str())),
            F::ContainerImage => s(cont.map(|c| c.image.as_str())),
            F::ContainerType => s(cont.map(|c| c.container_type.symbol())),
            F::ContainerPrivileged => bool_or_empty(
                cont.filter(|_| layout.has(OptionalField::ContainerPrivileged))
                    .map(|c| c.privileged),
            ),
            F::PodId => s(pod.map(|p| p.id.as_str())),
            F::PodName => s(pod.map(|p| p.name.as_str())),
            F::PodNname => s(pod.map(|p| p.node_name.as_str())),
            F::PodHostIp => pod.map_or(Value::Str(""), |p| Value::IpList(&p.host_ip)),
            F::PodInternalIp => pod.map_or(Value::Str(""), |p| Value::IpList(&p.internal_ip)),
            F::PodNs => s(pod.map(|p| p.namespace.as_str())),
            F::PodRstrtCnt => int(pod.map(|p| p.restart_count)),
            F::PodServices => pod.map_or(Value::Str(""), |p| Value::Services(&p.services)),
            F::NodeId => s(header.map(|h| h.exporter.as_str())),
            F::NodeIp => s(header
                .filter(|_| layout.has(OptionalField::HeaderIp))
                .map(|h| h.ip.as_str())),
            F::Filename => s(header
                .filter(|_| layout.has(OptionalField::HeaderFilename))
                .map(|h| h.filename.as_str())),
            F::Schema => header.map_or(Value::Str(""), |h| Value::Int(h.version)),
            F::Tags => Value::EmptyTuple,
            F::K8sAction => match r {
                Record::K8sEvent(k) => Value::Str(k.action.symbol()),
                _ => Value::Str(""),
            },
            F::K8sKind => match r {
                Record::K8sEvent(k) => Value::Str(k.kind.symbol()),
                _ => Value::Str(""),
            },
            F::K8sMsg => match r {
                Record::K8sEvent(k) => Value::Str(&k.message),
                _ => Value::Str(""),
            },
        }
    }
}

/// A field read straight off the record, for fields whose value is one integer of the record itself: a row
/// program specialised for one kind and layout calls the reader instead of going through [`RecordView::get`] and
/// the [`Value`] it builds.
///
/// Contract (checked by a test over every kind): for a record of the kind and layout the reader was chosen for,
/// `Int(g)` with `g(r) == Some(v)` means `get` returns `Value::Int(v)`, `Iso(g)` with `g(r) == Some(ts)` means
/// `get` returns `Value::Iso(ts)`; `None` means nothing is promised (ask `get`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Direct {
    /// A value `get` renders as an integer.
    Int(fn(&Record) -> Option<i64>),
    /// A nanosecond timestamp `get` renders as an ISO 8601 date and time.
    Iso(fn(&Record) -> Option<i64>),
}

impl Direct {
    /// The direct reader of `field` for records of `kind` written with `layout`, if it has one.
    pub(crate) fn of(field: Field, kind: RecordKind, layout: Layout) -> Option<Direct> {
        use Field as F;
        if kind.is_entity() {
            return None;
        }
        Some(match field {
            F::Ts => Direct::Iso(evflow_ts),
            F::TsUts => Direct::Int(evflow_ts),
            F::EndTs => Direct::Iso(end_ts),
            F::EndTsUts => Direct::Int(end_ts),
            F::ProcTid => Direct::Int(tid),
            F::OpFlagsBitmap => Direct::Int(|r| r.op_flags().map(i64::from)),
            F::Ret => Direct::Int(ret),
            F::FileFd
                if kind != RecordKind::NetworkFlow || layout.has(OptionalField::NetworkFlowFd) =>
            {
                Direct::Int(fd)
            }
            F::FileOpenFlags if layout.has(OptionalField::FileFlowOpenFlags) => {
                Direct::Int(open_flags)
            }
            F::NetProto => Direct::Int(|r| net(r).map(|n| i64::from(n.proto))),
            F::NetSport => Direct::Int(|r| net(r).map(|n| i64::from(n.sport))),
            F::NetDport => Direct::Int(|r| net(r).map(|n| i64::from(n.dport))),
            F::FlowRbytes => Direct::Int(|r| counters(r).map(|c| c.rbytes)),
            F::FlowRops => Direct::Int(|r| counters(r).map(|c| c.rops)),
            F::FlowWbytes => Direct::Int(|r| counters(r).map(|c| c.wbytes)),
            F::FlowWops => Direct::Int(|r| counters(r).map(|c| c.wops)),
            F::PfNthreads => Direct::Int(|r| pf(r).map(|p| p.num_threads_cloned)),
            F::PfNexits => Direct::Int(|r| pf(r).map(|p| p.num_threads_exited)),
            F::PfNerrors => Direct::Int(|r| pf(r).map(|p| p.num_clone_errors)),
            _ => return None,
        })
    }
}

fn s(v: Option<&str>) -> Value<'_> {
    v.map_or(Value::Str(""), Value::Str)
}

fn bool_or_empty(b: Option<bool>) -> Value<'static> {
    b.map_or(Value::Str(""), Value::Bool)
}

/// `evflow.ts`: every event and flow has one; entities are never printed by sysprint and count as "no evflow".
fn evflow_ts(r: &Record) -> Option<i64> {
    if r.kind().is_entity() {
        None
    } else {
        r.ts()
    }
}

fn end_ts(r: &Record) -> Option<i64> {
    match r {
        Record::NetworkFlow(f) => Some(f.end_ts),
        Record::FileFlow(f) => Some(f.end_ts),
        Record::ProcessFlow(f) => Some(f.end_ts),
        _ => None,
    }
}

fn tid(r: &Record) -> Option<i64> {
    match r {
        Record::ProcessEvent(e) => Some(e.tid),
        Record::NetworkFlow(e) => Some(e.tid),
        Record::FileFlow(e) => Some(e.tid),
        Record::FileEvent(e) => Some(e.tid),
        Record::NetworkEvent(e) => Some(e.tid),
        _ => None,
    }
}

/// The network part of a network flow or (deviation: the reference crashes on them) a network event.
struct Net {
    proto: i32,
    sip: i32,
    sport: i32,
    dip: i32,
    dport: i32,
}

fn net(r: &Record) -> Option<Net> {
    match r {
        Record::NetworkFlow(f) => Some(Net {
            proto: f.proto,
            sip: f.sip,
            sport: f.sport,
            dip: f.dip,
            dport: f.dport,
        }),
        Record::NetworkEvent(e) => Some(Net {
            proto: e.proto,
            sip: e.sip,
            sport: e.sport,
            dip: e.dip,
            dport: e.dport,
        }),
        _ => None,
    }
}

/// The return value of an event.
fn ret(r: &Record) -> Option<i64> {
    match r {
        Record::ProcessEvent(e) => Some(i64::from(e.ret)),
        Record::FileEvent(e) => Some(i64::from(e.ret)),
        Record::NetworkEvent(e) => Some(i64::from(e.ret)),
        _ => None,
    }
}

/// The descriptor of a flow (a network flow's only where the writer schema has it: see the layout).
fn fd(r: &Record) -> Option<i64> {
    match r {
        Record::FileFlow(f) => Some(i64::from(f.fd)),
        Record::NetworkFlow(f) => Some(i64::from(f.fd)),
        _ => None,
    }
}

/// The open flags of a file flow (where the writer schema has them: see the layout).
fn open_flags(r: &Record) -> Option<i64> {
    match r {
        Record::FileFlow(f) => Some(i64::from(f.open_flags)),
        _ => None,
    }
}

/// The read and write counters of a network or file flow.
struct Counters {
    rbytes: i64,
    rops: i64,
    wbytes: i64,
    wops: i64,
}

fn counters(r: &Record) -> Option<Counters> {
    match r {
        Record::NetworkFlow(f) => Some(Counters {
            rbytes: f.num_r_recv_bytes,
            rops: f.num_r_recv_ops,
            wbytes: f.num_w_send_bytes,
            wops: f.num_w_send_ops,
        }),
        Record::FileFlow(f) => Some(Counters {
            rbytes: f.num_r_recv_bytes,
            rops: f.num_r_recv_ops,
            wbytes: f.num_w_send_bytes,
            wops: f.num_w_send_ops,
        }),
        _ => None,
    }
}

fn pf(r: &Record) -> Option<&sysflow_format::ProcessFlow> {
    match r {
        Record::ProcessFlow(p) => Some(p),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One record of every event and flow kind, each number distinct.
    fn every_event_and_flow() -> Vec<Record> {
        use sysflow_format::*;
        let oid = Oid {
            hpid: 11,
            create_ts: 12,
        };
        vec![
            Record::ProcessEvent(ProcessEvent {
                proc_oid: oid,
                ts: 1_700_000_000_123_456_789,
                tid: 21,
                op_flags: 22,
                ret: -23,
                ..Default::default()
            }),
            Record::NetworkFlow(NetworkFlow {
                proc_oid: oid,
                ts: 1_700_000_001_000_000_001,
                tid: 31,
                op_flags: 32,
                end_ts: 1_700_000_002_000_000_002,
                sip: 33,
                sport: 34,
                dip: 35,
                dport: 36,
                proto: 37,
                fd: 38,
                num_r_recv_ops: 39,
                num_w_send_ops: 40,
                num_r_recv_bytes: 41,
                num_w_send_bytes: 42,
            }),
            Record::FileFlow(FileFlow {
                proc_oid: oid,
                ts: 1_700_000_003_000_000_003,
                tid: 51,
                op_flags: 52,
                open_flags: 53,
                end_ts: 1_700_000_004_000_000_004,
                fd: 54,
                num_r_recv_ops: 55,
                num_w_send_ops: 56,
                num_r_recv_bytes: 57,
                num_w_send_bytes: 58,
                ..Default::default()
            }),
            Record::FileEvent(FileEvent {
                proc_oid: oid,
                ts: 1_700_000_005_000_000_005,
                tid: 61,
                op_flags: 62,
                ret: 63,
                ..Default::default()
            }),
            Record::NetworkEvent(NetworkEvent {
                proc_oid: oid,
                ts: 1_700_000_006_000_000_006,
                tid: 71,
                op_flags: 72,
                sip: 73,
                sport: 74,
                dip: 75,
                dport: 76,
                proto: 77,
                ret: 78,
            }),
            Record::ProcessFlow(ProcessFlow {
                proc_oid: oid,
                ts: 1_700_000_007_000_000_007,
                num_threads_cloned: 81,
                op_flags: 82,
                end_ts: 1_700_000_008_000_000_008,
                num_threads_exited: 83,
                num_clone_errors: 84,
            }),
            Record::K8sEvent(K8sEvent {
                ts: 1_700_000_009_000_000_009,
                ..Default::default()
            }),
        ]
    }

    #[test]
    fn timestamps_split_as_python_does() {
        // The float arithmetic of Python's `utcfromtimestamp(ts / 1e9)`, spelled with `trunc` and `round`.
        fn python(ts_ns: i64) -> (i64, u32) {
            let t = ts_ns as f64 / 1e9;
            let mut secs = t.trunc();
            let x = (t - secs) * 1e6;
            let mut us = x.round();
            if (x - us).abs() == 0.5 {
                us = 2.0 * (x / 2.0).round();
            }
            if us >= 1e6 {
                us -= 1e6;
                secs += 1.0;
            } else if us < 0.0 {
                us += 1e6;
                secs -= 1.0;
            }
            (secs as i64, us as u32)
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut cases: Vec<i64> = vec![
            0,
            1,
            -1,
            500,
            -500,
            1500,
            2500,
            -2500,
            999_999_500,
            -999_999_500,
        ];
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let base = 1_700_000_000_000_000_000i64 + (x % 100_000_000_000_000) as i64;
            // Around half-microsecond ties, and anywhere.
            cases.push(base / 1000 * 1000 + 500);
            cases.push(base);
            cases.push(-base);
            cases.push((x >> 20) as i64 - (1 << 43));
        }
        for ts in cases {
            assert_eq!(fast::split_ts(ts), python(ts), "{ts}");
        }
    }

    #[test]
    fn direct_readers_agree_with_get() {
        // Every field of every event and flow kind, with and without the optional fields: where a direct reader
        // has a value, `get` has the same one; where it has none, a row program asks `get` anyway.
        let mut checked = 0;
        for layout in [Layout::V5, Layout::EMPTY] {
            for r in every_event_and_flow() {
                let flat = FlatRecord::new(r, layout);
                let view = RecordView::new(&flat);
                for field in Field::ALL {
                    match Direct::of(field, flat.record.kind(), layout) {
                        Some(Direct::Int(read)) => {
                            if let Some(v) = read(&flat.record) {
                                assert_eq!(view.get(field), Value::Int(v), "{field:?} {flat:?}");
                                checked += 1;
                            }
                        }
                        Some(Direct::Iso(read)) => {
                            if let Some(v) = read(&flat.record) {
                                assert_eq!(view.get(field), Value::Iso(v), "{field:?} {flat:?}");
                                checked += 1;
                            }
                        }
                        None => {}
                    }
                }
            }
        }
        // Each kind's timestamps and numbers, with the optional fields present or not (106 when written).
        assert!(checked >= 100, "only {checked} values checked");
    }

    #[test]
    fn ints_render_in_decimal() {
        let mut b = [0u8; fast::INT_BYTES];
        assert_eq!(int_str(&mut b, 0), "0");
        assert_eq!(int_str(&mut b, -1), "-1");
        assert_eq!(int_str(&mut b, i64::MIN), "-9223372036854775808");
        assert_eq!(int_str(&mut b, i64::MAX), "9223372036854775807");
        assert_eq!(int_str(&mut b, 1531776747183578609), "1531776747183578609");
    }

    #[test]
    fn text_of_derived_values() {
        let mut s = String::new();
        Value::NetRes(FlowTuple {
            sip: 16777343,
            sport: 80,
            dip: -215500022,
            dport: 443,
        })
        .write_text(&mut s);
        assert_eq!(s, "127.0.0.1:80-10.187.39.243:443");
        s.clear();
        let env = vec![
            "".to_string(),
            "A=1".to_string(),
            "=".to_string(),
            "B=2".to_string(),
        ];
        Value::Env(&env).write_text(&mut s);
        assert_eq!(s, "A=1;B=2");
        s.clear();
        Value::FileRes(Some(""), Some("/b")).write_text(&mut s);
        assert_eq!(s, ", /b");
        assert!(!Value::Env(&env[..1]).truthy());
        assert!(!Value::Str("").truthy());
        assert!(Value::Bool(true).truthy());
        assert!(!Value::Int(0).truthy());
    }
}

/// Byte-level renderers of the derived values for the JSON fast path (the same text as [`Value::write_text`]).
pub mod fast {
    use sysflow_format::flags::op;
    use sysflow_format::flags::time::civil_from_days;

    /// The two-digit decimal renderings of 0..100, back to back.
    const DIGITS2: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";

    /// The eight decimal digits of `x < 10^8`, leading zeros included, as the bytes of a little-endian `u64`
    /// (first digit lowest) before the `'0'`s are added: each step splits every lane of the previous step in two
    /// with a multiply-and-shift division that cannot carry into the next lane.
    #[inline]
    fn eight_digit_values(x: u32) -> u64 {
        // Two lanes of 32 bits: the upper four digits, then the lower four (each < 10^4).
        let v = u64::from(x / 10_000) | (u64::from(x % 10_000) << 32);
        // Each 32-bit lane d becomes d / 100 | (d % 100) << 16 (d * 10486 >> 20 == d / 100 for d < 10^4).
        let hi = ((v * 10_486) >> 20) & 0x0000_007F_0000_007F;
        let v = hi | ((v - hi * 100) << 16);
        // Each 16-bit lane d (< 100) becomes d / 10 | (d % 10) << 8 (d * 103 >> 10 == d / 10 for d < 100).
        let hi = ((v * 103) >> 10) & 0x000F_000F_000F_000F;
        hi | ((v - hi * 10) << 8)
    }

    /// Writes the digits of `n < 10^8` to the start of `dst` without leading zeros (`"0"` for 0) with one
    /// eight-byte store; returns how many there are.
    #[inline]
    fn short_digits(dst: &mut [u8], n: u32) -> usize {
        let v = eight_digit_values(n);
        // Leading zero digits are the lowest zero bytes.
        let zeros = if n == 0 {
            7
        } else {
            (v.trailing_zeros() / 8) as usize
        };
        let text = (v | 0x3030_3030_3030_3030) >> (8 * zeros);
        dst[..8].copy_from_slice(&text.to_le_bytes());
        8 - zeros
    }

    /// Writes all eight digits of `n < 10^8` to the start of `dst`.
    #[inline]
    fn eight_digits(dst: &mut [u8], n: u32) {
        dst[..8].copy_from_slice(&(eight_digit_values(n) | 0x3030_3030_3030_3030).to_le_bytes());
    }

    /// Bytes [`int_text`] writes at most (a sign and 19 digits, with stores of eight bytes that may run past the
    /// last digit).
    pub const INT_BYTES: usize = 24;

    /// Writes the decimal rendering of `v` to the start of `dst`, eight digits per store; returns its length.
    #[inline]
    pub fn int_text(dst: &mut [u8; INT_BYTES], v: i64) -> usize {
        const E8: u64 = 100_000_000;
        let sign = usize::from(v < 0);
        dst[0] = b'-';
        let n = v.unsigned_abs();
        let len = if n < E8 {
            short_digits(&mut dst[sign..], n as u32)
        } else if n < E8 * E8 {
            let head = short_digits(&mut dst[sign..], (n / E8) as u32);
            eight_digits(&mut dst[sign + head..], (n % E8) as u32);
            head + 8
        } else {
            let low = n % (E8 * E8);
            let head = short_digits(&mut dst[sign..], (n / (E8 * E8)) as u32);
            eight_digits(&mut dst[sign + head..], (low / E8) as u32);
            eight_digits(&mut dst[sign + head + 8..], (low % E8) as u32);
            head + 16
        };
        sign + len
    }

    /// Appends the decimal rendering of `v`, written in place (see [`int_text`]).
    #[inline]
    pub fn int(out: &mut Vec<u8>, v: i64) {
        // Counters, descriptors and flags are mostly one or two digits.
        if (0..100).contains(&v) {
            let d = v as usize * 2;
            if v < 10 {
                out.push(DIGITS2[d + 1]);
            } else {
                out.extend_from_slice(&DIGITS2[d..d + 2]);
            }
            return;
        }
        let start = out.len();
        out.extend_from_slice(&[0u8; INT_BYTES]);
        let mut len = 0;
        if let Some(dst) = out
            .get_mut(start..)
            .and_then(|d| <&mut [u8; INT_BYTES]>::try_from(d).ok())
        {
            len = int_text(dst, v);
        }
        out.truncate(start + len);
    }

    /// Appends `s`. Slices of up to 32 bytes (most literals and values of a row) are copied with a few fixed-size
    /// moves instead of a call to `memcpy`, whose set-up costs more than such a copy.
    #[inline(always)]
    pub fn put(out: &mut Vec<u8>, s: &[u8]) {
        let n = s.len();
        if n > 32 {
            out.extend_from_slice(s);
            return;
        }
        let len = out.len();
        out.extend_from_slice(&[0u8; 32]);
        let dst = &mut out[len..len + 32];
        // Two overlapping moves of the largest power of two that fits cover the slice.
        if n >= 16 {
            dst[..16].copy_from_slice(&s[..16]);
            dst[n - 16..n].copy_from_slice(&s[n - 16..]);
        } else if n >= 8 {
            dst[..8].copy_from_slice(&s[..8]);
            dst[n - 8..n].copy_from_slice(&s[n - 8..]);
        } else if n >= 4 {
            dst[..4].copy_from_slice(&s[..4]);
            dst[n - 4..n].copy_from_slice(&s[n - 4..]);
        } else if n > 0 {
            dst[0] = s[0];
            dst[n / 2] = s[n / 2];
            dst[n - 1] = s[n - 1];
        }
        out.truncate(len + n);
    }

    /// Python's split of `ts / 1e9` into whole seconds and microseconds: `modf` of the f64 seconds, microseconds
    /// rounded half to even (with carry).
    #[inline]
    pub(crate) fn split_ts(ts_ns: i64) -> (i64, u32) {
        let t = ts_ns as f64 / 1e9;
        // `trunc` and `round` without libm calls: |t| < 2^63, so the casts truncate exactly, and a number minus
        // its truncation is exact.
        let mut secs = t as i64;
        let frac = t - secs as f64;
        let x = frac * 1e6;
        let whole = x as i64;
        let rest = x - whole as f64;
        // Half to even, as Python's `round`.
        let mut us = if rest > 0.5 || (rest == 0.5 && whole % 2 != 0) {
            whole + 1
        } else if rest < -0.5 || (rest == -0.5 && whole % 2 != 0) {
            whole - 1
        } else {
            whole
        };
        if us >= 1_000_000 {
            us -= 1_000_000;
            secs += 1;
        } else if us < 0 {
            us += 1_000_000;
            secs -= 1;
        }
        (secs, us as u32)
    }

    /// `YYYY-MM-DDTHH:MM:SS` of a second since the epoch (years clamped to 0..=9999).
    fn iso_secs(secs: i64) -> [u8; 19] {
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        let sod = secs.rem_euclid(86_400) as u32;
        let y = y.clamp(0, 9999) as u32;
        let mut t = [0u8; 19];
        let mut put = |at: usize, v: u32| {
            t[at] = b'0' + (v / 10 % 10) as u8;
            t[at + 1] = b'0' + (v % 10) as u8;
        };
        put(0, y / 100);
        put(2, y % 100);
        put(5, m);
        put(8, d);
        put(11, sod / 3600);
        put(14, sod % 3600 / 60);
        put(17, sod % 60);
        t[4] = b'-';
        t[7] = b'-';
        t[10] = b'T';
        t[13] = b':';
        t[16] = b':';
        t
    }

    #[inline]
    fn micros(out: &mut Vec<u8>, us: u32) {
        if us != 0 {
            let (a, b, c) = (
                (us / 10_000) as usize * 2,
                (us / 100 % 100) as usize * 2,
                (us % 100) as usize * 2,
            );
            out.extend_from_slice(&[
                b'.',
                DIGITS2[a],
                DIGITS2[a + 1],
                DIGITS2[b],
                DIGITS2[b + 1],
                DIGITS2[c],
                DIGITS2[c + 1],
            ]);
        }
    }

    /// Appends Python's `datetime.utcfromtimestamp(ts / 1e9).isoformat()`: `modf` of the f64 seconds, microseconds
    /// rounded half to even (with carry), `.ffffff` left out when 0.
    pub fn iso(out: &mut Vec<u8>, ts_ns: i64) {
        let (secs, us) = split_ts(ts_ns);
        out.extend_from_slice(&iso_secs(secs));
        micros(out, us);
    }

    /// [`iso`] with the date and time of the last second rendered kept (timestamps of neighbouring records mostly
    /// share their second).
    #[derive(Debug, Clone, Default)]
    pub struct IsoCache {
        last: Option<(i64, [u8; 19])>,
    }

    impl IsoCache {
        /// Appends the same text as [`iso`].
        #[inline]
        pub fn write(&mut self, out: &mut Vec<u8>, ts_ns: i64) {
            let (secs, us) = split_ts(ts_ns);
            match &self.last {
                Some((s, text)) if *s == secs => out.extend_from_slice(text),
                _ => {
                    let text = iso_secs(secs);
                    out.extend_from_slice(&text);
                    self.last = Some((secs, text));
                }
            }
            micros(out, us);
        }
    }

    /// [`opflags`] texts of recently seen flag values (direct-mapped by value).
    #[derive(Debug, Clone)]
    pub struct OpFlagsCache {
        entries: Vec<Option<(i32, Vec<u8>)>>,
    }

    impl Default for OpFlagsCache {
        fn default() -> Self {
            OpFlagsCache {
                entries: vec![None; 64],
            }
        }
    }

    impl OpFlagsCache {
        /// Appends the same text as [`opflags`].
        #[inline]
        pub fn write(&mut self, out: &mut Vec<u8>, flags: i32) {
            let h = ((flags as u32).wrapping_mul(0x9e37_79b1) >> 26) as usize;
            match &mut self.entries[h] {
                Some((f, text)) if *f == flags => put(out, text),
                e => {
                    let start = out.len();
                    opflags(out, flags);
                    *e = Some((flags, out[start..].to_vec()));
                }
            }
        }
    }

    /// Appends `getOpFlagsStr(flags)` (see `sysflow_format::flags::op_flags_str`).
    pub fn opflags(out: &mut Vec<u8>, flags: i32) {
        let start = out.len();
        for (bit, name) in [
            (op::MKDIR, &b"MKDIR"[..]),
            (op::RMDIR, b"RMDIR"),
            (op::LINK, b"LINK"),
            (op::SYMLINK, b"SYMLINK"),
            (op::UNLINK, b"UNLINK"),
            (op::RENAME, b"RENAME"),
        ] {
            if flags & bit != 0 {
                out.extend_from_slice(name);
            }
        }
        if out.len() > start {
            return;
        }
        for (bit, name) in [
            (op::CLONE, &b"CLONE"[..]),
            (op::EXEC, b"EXEC"),
            (op::EXIT, b"EXIT"),
            (op::SETUID, b"SETUID"),
        ] {
            if flags & bit != 0 {
                out.extend_from_slice(name);
            }
        }
        if out.len() > start {
            return;
        }
        for (bit, c) in [
            (op::OPEN, b'O'),
            (op::ACCEPT, b'A'),
            (op::CONNECT, b'C'),
            (op::WRITE_SEND, b'W'),
            (op::READ_RECV, b'R'),
            (op::SETNS, b'N'),
            (op::MMAP, b'M'),
            (op::SHUTDOWN, b'S'),
            (op::CLOSE, b'C'),
            (op::TRUNCATE, b'T'),
            (op::DIGEST, b'D'),
        ] {
            out.push(if flags & bit != 0 { c } else { b' ' });
        }
    }

    /// Appends `getNetFlowStr`'s `sip:sport-dip:dport` (the text of [`Value::NetRes`](super::Value::NetRes)).
    pub fn netres(out: &mut Vec<u8>, t: super::FlowTuple) {
        ipv4(out, i64::from(t.sip));
        out.push(b':');
        int(out, i64::from(t.sport));
        out.push(b'-');
        ipv4(out, i64::from(t.dip));
        out.push(b':');
        int(out, i64::from(t.dport));
    }

    /// Appends the dotted-quad rendering of a SysFlow IPv4 address.
    pub fn ipv4(out: &mut Vec<u8>, ip: i64) {
        for i in 0..4 {
            if i > 0 {
                out.push(b'.');
            }
            let o = ((ip >> (8 * i)) & 0xff) as u8;
            if o >= 100 {
                out.push(b'0' + o / 100);
            }
            if o >= 10 {
                out.push(b'0' + o / 10 % 10);
            }
            out.push(b'0' + o % 10);
        }
    }

    #[cfg(test)]
    mod tests {
        use sysflow_format::flags::{ipv4_str, op_flags_str, time::iso8601_py};

        fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
            let mut v = Vec::new();
            f(&mut v);
            String::from_utf8(v).unwrap_or_default()
        }

        #[test]
        fn iso_agrees_with_the_format_library() {
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
            let mut samples = vec![
                0i64,
                1,
                -1,
                999_999_500,
                1554914834717699659,
                1_000_000_000_000_000_000,
                i64::MAX,
            ];
            for _ in 0..20000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                samples.push((x % 2_000_000_000_000_000_000) as i64);
                samples.push(1_500_000_000_000_000_000 + (x % 1_000_000_000) as i64 * 500);
            }
            for ts in samples {
                assert_eq!(s(|o| super::iso(o, ts)), iso8601_py(ts), "ts {ts}");
            }
        }

        #[test]
        fn caches_write_what_the_uncached_renderers_write() {
            let mut iso = super::IsoCache::default();
            let mut ops = super::OpFlagsCache::default();
            let mut x: u64 = 0x2545_f491_4f6c_dd1d;
            for i in 0..50_000i64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Runs of timestamps within one second, jumps between seconds, and negative times.
                let ts = match i % 3 {
                    0 => 1_700_000_000_000_000_000 + (x % 3_000_000_000) as i64,
                    1 => (x % 4_000_000_000_000_000_000) as i64 - 1_000_000_000_000_000_000,
                    _ => 1_700_000_000_999_999_000 + (x % 2_000) as i64,
                };
                let mut a = Vec::new();
                iso.write(&mut a, ts);
                assert_eq!(a, s(|o| super::iso(o, ts)).into_bytes(), "ts {ts}");
                let f = (x >> 20) as i32 & 0x7fff | if i % 7 == 0 { i32::MIN } else { 0 };
                let mut b = Vec::new();
                ops.write(&mut b, f);
                assert_eq!(String::from_utf8_lossy(&b), op_flags_str(f), "flags {f}");
            }
        }

        #[test]
        fn put_appends_slices_of_every_length() {
            let src: Vec<u8> = (0..40u8).map(|b| b'a' + b % 26).collect();
            for n in 0..=src.len() {
                let mut out = b"head".to_vec();
                super::put(&mut out, &src[..n]);
                assert_eq!(&out[..4], b"head");
                assert_eq!(&out[4..], &src[..n], "length {n}");
            }
        }

        #[test]
        fn ints_render_like_display() {
            let mut x: u64 = 1;
            let mut v = vec![
                0i64,
                9,
                10,
                99,
                100,
                101,
                -1,
                -10,
                -99,
                -100,
                i64::MAX,
                i64::MIN,
            ];
            // Every digit count, at its edges, both signs.
            let mut p = 1i64;
            for _ in 0..19 {
                v.extend([p - 1, p, p + 1, -(p - 1), -p, -(p + 1)]);
                p = p.saturating_mul(10);
            }
            for _ in 0..10_000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                v.push(x as i64 >> (x % 63));
            }
            for n in v {
                assert_eq!(s(|o| super::int(o, n)), n.to_string());
                // Appended after what the buffer holds.
                let mut out = b"x:".to_vec();
                super::int(&mut out, n);
                assert_eq!(out, format!("x:{n}").into_bytes());
                assert_eq!(
                    super::super::int_str(&mut [0; super::INT_BYTES], n),
                    n.to_string()
                );
            }
        }

        #[test]
        fn opflags_and_ips_agree_with_the_format_library() {
            for f in (0..1 << 15).chain([1 << 15, 1 << 20 | 3, 9344, 1856, -1]) {
                assert_eq!(s(|o| super::opflags(o, f)), op_flags_str(f), "flags {f}");
            }
            for ip in [0i64, 16777343, -215500022, 1681631424, -1, 0xffff_ffff] {
                assert_eq!(s(|o| super::ipv4(o, ip)), ipv4_str(ip));
            }
            assert_eq!(s(|o| super::int(o, i64::MIN)), i64::MIN.to_string());
        }

        #[test]
        fn flow_resources_render_like_their_text() {
            for (sip, sport, dip, dport) in [
                (16777343, 80, -215500022, 443),
                (0, 0, -1, 65535),
                (1681631424, -1, 7, i32::MAX),
            ] {
                let t = crate::value::FlowTuple {
                    sip,
                    sport,
                    dip,
                    dport,
                };
                let mut text = String::new();
                crate::value::Value::NetRes(t).write_text(&mut text);
                assert_eq!(s(|o| super::netres(o, t)), text);
            }
        }
    }
}
