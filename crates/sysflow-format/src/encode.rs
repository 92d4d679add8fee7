//! Encoding records as schema-v5 Avro datums, and the v5 schema itself.

use crate::records::*;

/// Appends a zig-zag varint.
#[inline]
pub(crate) fn put_long(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

#[inline]
fn put_int(out: &mut Vec<u8>, v: i32) {
    put_long(out, i64::from(v));
}

#[inline]
fn put_str(out: &mut Vec<u8>, s: &str) {
    put_long(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

#[inline]
fn put_bool(out: &mut Vec<u8>, b: bool) {
    out.push(u8::from(b));
}

#[inline]
fn put_oid(out: &mut Vec<u8>, o: &Oid) {
    put_long(out, o.create_ts);
    put_long(out, o.hpid);
}

fn put_opt_str(out: &mut Vec<u8>, s: &Option<String>) {
    match s {
        None => put_long(out, 0),
        Some(s) => {
            put_long(out, 1);
            put_str(out, s);
        }
    }
}

fn put_strs(out: &mut Vec<u8>, v: &[String]) {
    if !v.is_empty() {
        put_long(out, v.len() as i64);
        for s in v {
            put_str(out, s);
        }
    }
    put_long(out, 0);
}

fn put_longs(out: &mut Vec<u8>, v: &[i64]) {
    if !v.is_empty() {
        put_long(out, v.len() as i64);
        for x in v {
            put_long(out, *x);
        }
    }
    put_long(out, 0);
}

fn put_map(out: &mut Vec<u8>, v: &[(String, String)]) {
    if !v.is_empty() {
        put_long(out, v.len() as i64);
        for (k, x) in v {
            put_str(out, k);
            put_str(out, x);
        }
    }
    put_long(out, 0);
}

/// Appends the Avro binary encoding of `rec` as a `sysflow.SysFlow` datum of schema v5 (union index, then the
/// record). This is also exactly one message of the collector's unix-socket stream.
pub fn encode_datum(rec: &Record, out: &mut Vec<u8>) {
    put_long(out, rec.kind().union_index() as i64);
    match rec {
        Record::Header(h) => {
            put_long(out, h.version);
            put_str(out, &h.exporter);
            put_str(out, &h.ip);
            put_str(out, &h.filename);
        }
        Record::Container(c) => {
            put_str(out, &c.id);
            put_str(out, &c.name);
            put_str(out, &c.image);
            put_str(out, &c.imageid);
            put_long(out, i64::from(c.container_type.ordinal()));
            put_bool(out, c.privileged);
            put_opt_str(out, &c.pod_id);
        }
        Record::Process(p) => {
            put_long(out, i64::from(p.state.ordinal()));
            put_oid(out, &p.oid);
            match &p.poid {
                None => put_long(out, 0),
                Some(o) => {
                    put_long(out, 1);
                    put_oid(out, o);
                }
            }
            put_long(out, p.ts);
            put_str(out, &p.exe);
            put_str(out, &p.exe_args);
            put_int(out, p.uid);
            put_str(out, &p.user_name);
            put_int(out, p.gid);
            put_str(out, &p.group_name);
            put_bool(out, p.tty);
            put_opt_str(out, &p.container_id);
            put_bool(out, p.entry);
            put_str(out, &p.cwd);
            put_strs(out, &p.env);
        }
        Record::File(f) => {
            put_long(out, i64::from(f.state.ordinal()));
            out.extend_from_slice(&f.oid.0);
            put_long(out, f.ts);
            put_int(out, f.restype);
            put_str(out, &f.path);
            put_opt_str(out, &f.container_id);
        }
        Record::ProcessEvent(e) => {
            put_oid(out, &e.proc_oid);
            put_long(out, e.ts);
            put_long(out, e.tid);
            put_int(out, e.op_flags);
            put_strs(out, &e.args);
            put_int(out, e.ret);
        }
        Record::NetworkFlow(f) => {
            put_oid(out, &f.proc_oid);
            put_long(out, f.ts);
            put_long(out, f.tid);
            put_int(out, f.op_flags);
            put_long(out, f.end_ts);
            put_int(out, f.sip);
            put_int(out, f.sport);
            put_int(out, f.dip);
            put_int(out, f.dport);
            put_int(out, f.proto);
            put_int(out, f.fd);
            put_long(out, f.num_r_recv_ops);
            put_long(out, f.num_w_send_ops);
            put_long(out, f.num_r_recv_bytes);
            put_long(out, f.num_w_send_bytes);
        }
        Record::FileFlow(f) => {
            put_oid(out, &f.proc_oid);
            put_long(out, f.ts);
            put_long(out, f.tid);
            put_int(out, f.op_flags);
            put_int(out, f.open_flags);
            put_long(out, f.end_ts);
            out.extend_from_slice(&f.file_oid.0);
            put_int(out, f.fd);
            put_long(out, f.num_r_recv_ops);
            put_long(out, f.num_w_send_ops);
            put_long(out, f.num_r_recv_bytes);
            put_long(out, f.num_w_send_bytes);
        }
        Record::FileEvent(e) => {
            put_oid(out, &e.proc_oid);
            put_long(out, e.ts);
            put_long(out, e.tid);
            put_int(out, e.op_flags);
            out.extend_from_slice(&e.file_oid.0);
            put_int(out, e.ret);
            match &e.new_file_oid {
                None => put_long(out, 0),
                Some(f) => {
                    put_long(out, 1);
                    out.extend_from_slice(&f.0);
                }
            }
        }
        Record::NetworkEvent(e) => {
            put_oid(out, &e.proc_oid);
            put_long(out, e.ts);
            put_long(out, e.tid);
            put_int(out, e.op_flags);
            put_int(out, e.sip);
            put_int(out, e.sport);
            put_int(out, e.dip);
            put_int(out, e.dport);
            put_int(out, e.proto);
            put_int(out, e.ret);
        }
        Record::ProcessFlow(f) => {
            put_oid(out, &f.proc_oid);
            put_long(out, f.ts);
            put_long(out, f.num_threads_cloned);
            put_int(out, f.op_flags);
            put_long(out, f.end_ts);
            put_long(out, f.num_threads_exited);
            put_long(out, f.num_clone_errors);
        }
        Record::Pod(p) => {
            put_long(out, p.ts);
            put_str(out, &p.id);
            put_str(out, &p.name);
            put_str(out, &p.node_name);
            put_longs(out, &p.host_ip);
            put_longs(out, &p.internal_ip);
            put_str(out, &p.namespace);
            put_long(out, p.restart_count);
            put_map(out, &p.labels);
            put_map(out, &p.selectors);
            if !p.services.is_empty() {
                put_long(out, p.services.len() as i64);
                for s in &p.services {
                    put_str(out, &s.name);
                    put_str(out, &s.id);
                    put_str(out, &s.namespace);
                    if !s.port_list.is_empty() {
                        put_long(out, s.port_list.len() as i64);
                        for port in &s.port_list {
                            put_int(out, port.port);
                            put_int(out, port.target_port);
                            put_int(out, port.node_port);
                            put_str(out, &port.proto);
                        }
                    }
                    put_long(out, 0);
                    put_longs(out, &s.cluster_ip);
                }
            }
            put_long(out, 0);
        }
        Record::K8sEvent(k) => {
            put_long(out, i64::from(k.kind.ordinal()));
            put_long(out, i64::from(k.action.ordinal()));
            put_long(out, k.ts);
            put_str(out, &k.message);
        }
    }
}

/// The SysFlow schema v5 (`sysflow.SysFlow`) as JSON text, the schema every file this library writes embeds.
pub fn schema_v5_json() -> &'static str {
    SCHEMA_V5_CELL.get_or_init(build_schema_v5)
}

fn enum_json(name: &str, ns: &str, symbols: &[&str]) -> String {
    let syms: Vec<String> = symbols.iter().map(|s| format!("\"{s}\"")).collect();
    format!(
        r#"{{"type":"enum","name":"{name}","namespace":"{ns}","symbols":[{}]}}"#,
        syms.join(",")
    )
}

/// Builds the v5 schema text from the record layouts and enum symbols.
pub(crate) fn build_schema_v5() -> String {
    let state = enum_json("SFObjectState", "sysflow.type", ObjectState::SYMBOLS);
    let ctype = enum_json("ContainerType", "sysflow.type", ContainerType::SYMBOLS);
    let kcomp = enum_json("K8sComponent", "sysflow.type", K8sComponent::SYMBOLS);
    let kact = enum_json("K8sAction", "sysflow.type", K8sAction::SYMBOLS);
    let oid = r#"{"type":"record","name":"OID","namespace":"sysflow.type","fields":[{"name":"createTS","type":"long"},{"name":"hpid","type":"long"}]}"#;
    let foid = r#"{"type":"fixed","name":"FOID","namespace":"sysflow.type","size":20}"#;
    let f = |n: &str, t: &str| format!(r#"{{"name":"{n}","type":{t}}}"#);
    let rec = |name: &str, ns: &str, fields: Vec<String>| {
        format!(
            r#"{{"type":"record","name":"{name}","namespace":"{ns}","fields":[{}]}}"#,
            fields.join(",")
        )
    };
    let s = r#""string""#;
    let l = r#""long""#;
    let i = r#""int""#;
    let b = r#""boolean""#;
    let ns_str = r#"["null","string"]"#;
    let o = r#""sysflow.type.OID""#;
    let fo = r#""sysflow.type.FOID""#;
    let header = rec(
        "SFHeader",
        "sysflow.entity",
        vec![
            r#"{"name":"version","type":"long","default":5}"#.to_string(),
            f("exporter", s),
            r#"{"name":"ip","type":"string","default":"NA"}"#.to_string(),
            f("filename", s),
        ],
    );
    let container = rec(
        "Container",
        "sysflow.entity",
        vec![
            f("id", s),
            f("name", s),
            f("image", s),
            f("imageid", s),
            f("type", &ctype),
            f("privileged", b),
            f("podId", ns_str),
        ],
    );
    let process = rec(
        "Process",
        "sysflow.entity",
        vec![
            f("state", &state),
            f("oid", oid),
            f("poid", r#"["null","sysflow.type.OID"]"#),
            f("ts", l),
            f("exe", s),
            f("exeArgs", s),
            f("uid", i),
            f("userName", s),
            f("gid", i),
            f("groupName", s),
            f("tty", b),
            f("containerId", ns_str),
            r#"{"name":"entry","type":"boolean","default":false}"#.to_string(),
            f("cwd", s),
            f("env", r#"{"type":"array","items":"string"}"#),
        ],
    );
    let file = rec(
        "File",
        "sysflow.entity",
        vec![
            f("state", r#""sysflow.type.SFObjectState""#),
            f("oid", foid),
            f("ts", l),
            f("restype", i),
            f("path", s),
            f("containerId", ns_str),
        ],
    );
    let pe = rec(
        "ProcessEvent",
        "sysflow.event",
        vec![
            f("procOID", o),
            f("ts", l),
            f("tid", l),
            f("opFlags", i),
            f("args", r#"{"type":"array","items":"string"}"#),
            f("ret", i),
        ],
    );
    let flow_counts = || {
        vec![
            f("numRRecvOps", l),
            f("numWSendOps", l),
            f("numRRecvBytes", l),
            f("numWSendBytes", l),
        ]
    };
    let mut nf_fields = vec![
        f("procOID", o),
        f("ts", l),
        f("tid", l),
        f("opFlags", i),
        f("endTs", l),
        f("sip", i),
        f("sport", i),
        f("dip", i),
        f("dport", i),
        f("proto", i),
        f("fd", i),
    ];
    nf_fields.extend(flow_counts());
    let nf = rec("NetworkFlow", "sysflow.flow", nf_fields);
    let mut ff_fields = vec![
        f("procOID", o),
        f("ts", l),
        f("tid", l),
        f("opFlags", i),
        f("openFlags", i),
        f("endTs", l),
        f("fileOID", fo),
        f("fd", i),
    ];
    ff_fields.extend(flow_counts());
    let ff = rec("FileFlow", "sysflow.flow", ff_fields);
    let fe = rec(
        "FileEvent",
        "sysflow.event",
        vec![
            f("procOID", o),
            f("ts", l),
            f("tid", l),
            f("opFlags", i),
            f("fileOID", fo),
            f("ret", i),
            f("newFileOID", r#"["null","sysflow.type.FOID"]"#),
        ],
    );
    let ne = rec(
        "NetworkEvent",
        "sysflow.event",
        vec![
            f("procOID", o),
            f("ts", l),
            f("tid", l),
            f("opFlags", i),
            f("sip", i),
            f("sport", i),
            f("dip", i),
            f("dport", i),
            f("proto", i),
            f("ret", i),
        ],
    );
    let pf = rec(
        "ProcessFlow",
        "sysflow.flow",
        vec![
            f("procOID", o),
            f("ts", l),
            f("numThreadsCloned", l),
            f("opFlags", i),
            f("endTs", l),
            f("numThreadsExited", l),
            f("numCloneErrors", l),
        ],
    );
    let port = rec(
        "Port",
        "sysflow.entity",
        vec![
            f("port", i),
            f("targetPort", i),
            f("nodePort", i),
            f("proto", s),
        ],
    );
    let service = rec(
        "Service",
        "sysflow.entity",
        vec![
            f("name", s),
            f("id", s),
            f("namespace", s),
            f("portList", &format!(r#"{{"type":"array","items":{port}}}"#)),
            f(
                "clusterIP",
                r#"{"type":"array","items":"long","logicalType":"ipaddr"}"#,
            ),
        ],
    );
    let pod = rec(
        "Pod",
        "sysflow.entity",
        vec![
            f("ts", l),
            f("id", s),
            f("name", s),
            f("nodeName", s),
            f(
                "hostIP",
                r#"{"type":"array","items":"long","logicalType":"ipaddr"}"#,
            ),
            f(
                "internalIP",
                r#"{"type":"array","items":"long","logicalType":"ipaddr"}"#,
            ),
            f("namespace", s),
            f("restartCount", l),
            f("labels", r#"{"type":"map","values":"string"}"#),
            f("selectors", r#"{"type":"map","values":"string"}"#),
            f(
                "services",
                &format!(r#"{{"type":"array","items":{service}}}"#),
            ),
        ],
    );
    let ke = rec(
        "K8sEvent",
        "sysflow.event",
        vec![
            f("kind", &kcomp),
            f("action", &kact),
            f("ts", l),
            f("message", s),
        ],
    );
    format!(
        r#"{{"type":"record","name":"SysFlow","namespace":"sysflow","fields":[{{"name":"rec","type":[{}]}}]}}"#,
        [header, container, process, file, pe, nf, ff, fe, ne, pf, pod, ke].join(",")
    )
}

static SCHEMA_V5_CELL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
