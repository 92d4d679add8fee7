//! Elastic Common Schema 8.2 export (`format: ecs`), following the reference encoder and the index mapping
//! `resources/mappings/ecs_mapping.json`.
//!
//! Top-level keys in the reference's struct order: `@timestamp`, `agent`, `ecs`, `event`, `host`, `container` (`null`
//! when the record has no container, as Go writes a nil map), `orchestrator`, `pod`, `service` (when the record has a
//! pod), `file`, `sf_file_action`, `network`, `source`, `destination`, `process`, `user`, `tags`. Keys inside the
//! objects are sorted (Go maps). Strings use Go's HTML-safe escaping.
//!
//! Categorisation: PE → `process` / `start|exit|thread-start|thread-exit|change`; FE → `file` or `directory` /
//! `creation|deletion|change` with `-link`/`-rename` actions; FF → `file-access[-read][-write]`; NF → `network` /
//! `connection` / `network-connection-traffic`; KE → `orchestration` / `creation|deletion|change|error|info`, action =
//! the `K8S_COMPONENT_*` name, `event.original` = the message. `event.kind` is `"event"` (as in the reference) unless
//! the record matched rules in alert mode; see [`EcsEncoder::alert_kind`].

use std::collections::BTreeMap;
use std::io;

use serde_json::{json, Map, Value as J};
use sha1::{Digest, Sha1};
use sysflow_format::flags::{op, time::civil_from_days};
use sysflow_format::{FlatRecord, Record, RecordKind};
use sysflow_policy::fields::{Compat, Field, Value};

use crate::event::Event;

/// ECS version written in `ecs.version`.
pub const ECS_VERSION: &str = "8.2";

/// Encodes events as ECS documents.
#[derive(Debug, Clone)]
pub struct EcsEncoder {
    compat: Compat,
    version: String,
    /// Write `event.kind: "alert"` for records that matched rules (the reference always writes `"event"`).
    pub alert_kind: bool,
}

impl Default for EcsEncoder {
    fn default() -> Self {
        Self::new(Compat::default())
    }
}

impl EcsEncoder {
    /// An encoder using the field values of `compat`.
    pub fn new(compat: Compat) -> Self {
        EcsEncoder {
            compat,
            version: env!("CARGO_PKG_VERSION").to_string(),
            alert_kind: false,
        }
    }

    fn s(&self, f: Field, rec: &FlatRecord) -> String {
        match f.value(rec, self.compat) {
            Value::Str(s) => s.into_owned(),
            v => v.render(),
        }
    }

    fn i(&self, f: Field, rec: &FlatRecord) -> i64 {
        match f.value(rec, self.compat) {
            Value::Int(i) => i,
            Value::Bool(b) => i64::from(b),
            Value::Str(s) => s.parse().unwrap_or(0),
            _ => 0,
        }
    }

    /// Builds the ECS document of `ev` as `(key, value)` pairs in the reference's order.
    pub fn document(&self, ev: &Event<'_>) -> Vec<(&'static str, J)> {
        let rec = ev.record;
        let kind = rec.kind();
        let ts = self.i(Field::Ts, rec);
        let mut doc: Vec<(&'static str, J)> = Vec::with_capacity(16);
        doc.push(("@timestamp", J::String(iso_time(ts))));
        doc.push(("agent", json!({"type": "SysFlow", "version": self.version})));
        doc.push(("ecs", json!({"version": ECS_VERSION})));
        let (mut event, extra) = self.event(rec, kind);
        if !ev.rules.is_empty() {
            let reasons: Vec<&str> = ev.rules.iter().map(|r| r.name.as_str()).collect();
            event.insert("reason".into(), J::String(reasons.join(", ")));
            let severity = ev
                .rules
                .iter()
                .map(|r| i64::from(r.priority.as_int()))
                .fold(1, i64::max);
            event.insert("severity".into(), J::from(severity));
            if self.alert_kind {
                event.insert("kind".into(), J::String("alert".into()));
            }
        }
        doc.push(("event", J::Object(event)));
        doc.push((
            "host",
            json!({"id": self.s(Field::NodeId, rec), "ip": self.s(Field::NodeIp, rec)}),
        ));
        doc.push(("container", self.container(rec)));
        if !Field::PodId.value(rec, self.compat).is_zero() {
            let (orch, pod, services) = self.pod(rec);
            doc.push(("orchestrator", orch));
            doc.push(("pod", pod));
            if let Some(s) = services {
                doc.push(("service", s));
            }
        }
        doc.extend(extra);
        if kind != RecordKind::K8sEvent {
            doc.push(("process", self.process(rec)));
            doc.push(("user", self.user(rec)));
        }
        let tags: Vec<&str> = ev
            .tags
            .iter()
            .map(String::as_str)
            .chain(
                ev.rules
                    .iter()
                    .flat_map(|r| r.tags.iter().map(String::as_str)),
            )
            .collect();
        if !tags.is_empty() {
            doc.push(("tags", json!(tags)));
        }
        doc
    }

    /// Appends the ECS JSON of `ev` (one line) to `out`.
    pub fn encode(&self, ev: &Event<'_>, out: &mut Vec<u8>) {
        out.push(b'{');
        for (i, (k, v)) in self.document(ev).iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json(out, &J::String((*k).to_string()));
            out.push(b':');
            write_json(out, v);
        }
        out.push(b'}');
    }

    /// `event` plus the record-specific sections (`file`, `sf_file_action`, `network`, `source`, `destination`).
    fn event(
        &self,
        rec: &FlatRecord,
        kind: RecordKind,
    ) -> (Map<String, J>, Vec<(&'static str, J)>) {
        let opflags = rec.record.op_flags().unwrap_or(0);
        let has = |f: i32| opflags & f == f;
        let mut extra = Vec::new();
        let (category, etype, action): (&str, &str, String) = match kind {
            RecordKind::ProcessEvent => {
                let (pid, tid) = (self.i(Field::ProcPid, rec), self.i(Field::ProcTid, rec));
                let t = if has(op::EXIT) {
                    if pid != tid {
                        "thread-exit"
                    } else {
                        "exit"
                    }
                } else if has(op::CLONE) || has(op::EXEC) {
                    if pid != tid {
                        "thread-start"
                    } else {
                        "start"
                    }
                } else if has(op::SETUID) {
                    "change"
                } else {
                    "start"
                };
                ("process", t, format!("process-{t}"))
            }
            RecordKind::FileFlow => {
                let (rb, ro, wb, wo) = self.flow_counters(rec);
                let mut t = "access";
                let mut action = "file-access".to_string();
                if has(op::READ_RECV) && (rb > 0 || ro > 0) {
                    action.push_str("-read");
                }
                if has(op::WRITE_SEND) && (wb > 0 || wo > 0) {
                    t = "change";
                    action.push_str("-write");
                }
                extra.push(("file", J::Object(self.file(rec))));
                if rb > 0 || ro > 0 || wb > 0 || wo > 0 {
                    extra.push((
                        "sf_file_action",
                        json!({"bytes_read": rb, "read_ops": ro, "bytes_written": wb, "write_ops": wo}),
                    ));
                }
                ("file", t, action)
            }
            RecordKind::FileEvent => {
                let mut file = self.file(rec);
                let target = self.s(Field::FileNewPath, rec);
                let (c, t, a) = if has(op::MKDIR) {
                    ("directory", "creation", "directory-create")
                } else if has(op::RMDIR) {
                    ("directory", "deletion", "directory-delete")
                } else if has(op::UNLINK) {
                    ("file", "deletion", "file-delete")
                } else if has(op::SYMLINK) || has(op::LINK) {
                    file.insert("target_path".into(), J::String(target));
                    ("file", "change", "file-link")
                } else if has(op::RENAME) {
                    file.insert("target_path".into(), J::String(target));
                    ("file", "change", "file-rename")
                } else {
                    ("file", "change", "file-change")
                };
                extra.push(("file", J::Object(file)));
                (c, t, a.to_string())
            }
            RecordKind::NetworkFlow => {
                let (rb, ro, wb, wo) = self.flow_counters(rec);
                let (sip, dip) = (self.s(Field::NetSip, rec), self.s(Field::NetDip, rec));
                let (sport, dport) = (self.i(Field::NetSport, rec), self.i(Field::NetDport, rec));
                let proto = self.i(Field::NetProto, rec);
                extra.push((
                    "network",
                    json!({
                        "bytes": rb + wb,
                        "community_id": community_id(&sip, &dip, sport, dport, proto),
                        "iana_number": proto.to_string(),
                        "protocol": proto_name(proto),
                    }),
                ));
                extra.push((
                    "source",
                    json!({"address": sip, "bytes": wb, "ip": sip, "packets": wo, "port": sport}),
                ));
                extra.push((
                    "destination",
                    json!({"address": dip, "bytes": rb, "ip": dip, "packets": ro, "port": dport}),
                ));
                (
                    "network",
                    "connection",
                    "network-connection-traffic".to_string(),
                )
            }
            RecordKind::K8sEvent => {
                let action = self.s(Field::KeAction, rec);
                let t = match action.as_str() {
                    "K8S_COMPONENT_ADDED" => "creation",
                    "K8S_COMPONENT_DELETED" => "deletion",
                    "K8S_COMPONENT_MODIFIED" => "change",
                    "K8S_COMPONENT_ERROR" => "error",
                    _ => "info",
                };
                ("orchestration", t, action)
            }
            _ => ("", "", String::new()),
        };
        let start = self.i(Field::Ts, rec);
        let mut end = self.i(Field::EndTs, rec);
        if end == 0 {
            end = start;
        }
        let mut event = Map::new();
        event.insert("action".into(), J::String(action));
        event.insert("category".into(), J::String(category.into()));
        event.insert("duration".into(), J::from(end - start));
        event.insert("end".into(), J::String(iso_time(end)));
        event.insert("kind".into(), J::String("event".into()));
        event.insert("sf_type".into(), J::String(self.s(Field::Type, rec)));
        event.insert("start".into(), J::String(iso_time(start)));
        event.insert("type".into(), J::String(etype.into()));
        if matches!(kind, RecordKind::ProcessEvent | RecordKind::FileEvent) {
            event.insert("sf_ret".into(), J::from(self.i(Field::Ret, rec)));
        }
        if let Record::K8sEvent(_) = rec.record {
            event.insert("original".into(), J::String(self.s(Field::KeMessage, rec)));
        }
        (event, extra)
    }

    fn flow_counters(&self, rec: &FlatRecord) -> (i64, i64, i64, i64) {
        (
            self.i(Field::FlowRBytes, rec),
            self.i(Field::FlowROps, rec),
            self.i(Field::FlowWBytes, rec),
            self.i(Field::FlowWOps, rec),
        )
    }

    fn file(&self, rec: &FlatRecord) -> Map<String, J> {
        let opflags = rec.record.op_flags().unwrap_or(0);
        let mut ftype = match self.s(Field::FileType, rec).as_str() {
            "f" => "file",
            "d" => "dir",
            "u" => "socket",
            "p" => "pipe",
            _ => "unknown",
        };
        if opflags & op::SYMLINK == op::SYMLINK {
            ftype = "symlink";
        }
        let mut path = self.s(Field::FilePath, rec);
        let name = if path.is_empty() {
            let (pid, fd) = (self.i(Field::ProcPid, rec), self.i(Field::FileFd, rec));
            path = format!("/proc/{pid}/fd/{fd}");
            fd.to_string()
        } else {
            go_base(&path).to_string()
        };
        let mut file = Map::new();
        file.insert("type".into(), J::String(ftype.into()));
        if ftype == "dir" {
            file.insert("directory".into(), J::String(path));
        } else {
            file.insert("directory".into(), J::String(go_dir(&path)));
            if path != name {
                file.insert("path".into(), J::String(path));
            }
            file.insert("name".into(), J::String(name));
        }
        file
    }

    fn container(&self, rec: &FlatRecord) -> J {
        let id = self.s(Field::ContainerId, rec);
        if id.is_empty() {
            return J::Null;
        }
        let mut c = Map::new();
        c.insert("id".into(), J::String(id));
        c.insert("name".into(), J::String(self.s(Field::ContainerName, rec)));
        c.insert(
            "runtime".into(),
            J::String(self.s(Field::ContainerType, rec)),
        );
        c.insert(
            "sf_privileged".into(),
            J::Bool(self.i(Field::ContainerPrivileged, rec) != 0),
        );
        let image_id = self.s(Field::ContainerImageId, rec);
        if !image_id.is_empty() {
            c.insert(
                "image".into(),
                json!({"id": image_id, "name": self.s(Field::ContainerImage, rec)}),
            );
        }
        J::Object(c)
    }

    fn pod(&self, rec: &FlatRecord) -> (J, J, Option<J>) {
        let name = self.s(Field::PodName, rec);
        let namespace = self.s(Field::PodNamespace, rec);
        let orch = json!({"namespace": namespace, "resource": {"name": name, "type": "pod"}, "type": "kubernetes"});
        let ips = |f: Field| -> J {
            match f.value(rec, self.compat) {
                Value::Strs(v) => J::from(v.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
                Value::Ints(v) => J::from(
                    v.iter()
                        .map(|ip| sysflow_format::flags::ipv4_str(*ip))
                        .collect::<Vec<_>>(),
                ),
                other => J::from(other.render()),
            }
        };
        let pod = json!({
            "hostip": ips(Field::PodHostIp),
            "id": self.s(Field::PodId, rec),
            "internalip": ips(Field::PodInternalIp),
            "name": name,
            "namespace": namespace,
            "nodename": self.s(Field::PodNodeName, rec),
            "restartcnt": self.i(Field::PodRestartCount, rec),
            "ts": self.i(Field::PodTs, rec),
        });
        let services = match rec.pod.as_deref() {
            Some(p) if !p.services.is_empty() => Some(J::Array(
                p.services
                    .iter()
                    .map(|s| {
                        let ports: Vec<J> = s
                            .port_list
                            .iter()
                            .map(|p| {
                                json!({"nodeport": p.node_port, "port": p.port, "proto": p.proto, "targetport": p.target_port})
                            })
                            .collect();
                        let ips: Vec<String> = s.cluster_ip.iter().map(|ip| sysflow_format::flags::ipv4_str(*ip)).collect();
                        let mut m = BTreeMap::new();
                        m.insert("clusterip", J::from(ips));
                        m.insert("id", J::String(s.id.clone()));
                        m.insert("name", J::String(s.name.clone()));
                        m.insert("namespace", J::String(s.namespace.clone()));
                        m.insert("ports", J::Array(ports));
                        json!(m)
                    })
                    .collect(),
            )),
            _ => None,
        };
        (orch, pod, services)
    }

    fn process(&self, rec: &FlatRecord) -> J {
        let exe = self.s(Field::ProcExe, rec);
        let pexe = self.s(Field::PProcExe, rec);
        json!({
            "args": self.s(Field::ProcArgs, rec),
            "command_line": self.s(Field::ProcCmdline, rec),
            "executable": exe,
            "name": go_base(&exe),
            "parent": {
                "args": self.s(Field::PProcArgs, rec),
                "command_line": self.s(Field::PProcCmdline, rec),
                "executable": pexe,
                "name": go_base(&pexe),
                "pid": self.i(Field::PProcPid, rec),
                "start": iso_time(self.i(Field::PProcCreateTs, rec)),
            },
            "pid": self.i(Field::ProcPid, rec),
            "start": iso_time(self.i(Field::ProcCreateTs, rec)),
            "thread": {"id": self.i(Field::ProcTid, rec)},
        })
    }

    fn user(&self, rec: &FlatRecord) -> J {
        let mut group = Map::new();
        group.insert("id".into(), J::from(self.i(Field::ProcGid, rec)));
        let gname = self.s(Field::ProcGroup, rec);
        if !gname.is_empty() {
            group.insert("name".into(), J::String(gname));
        }
        let mut user = Map::new();
        user.insert("group".into(), J::Object(group));
        user.insert("id".into(), J::from(self.i(Field::ProcUid, rec)));
        let uname = self.s(Field::ProcUser, rec);
        if !uname.is_empty() {
            user.insert("name".into(), J::String(uname));
        }
        J::Object(user)
    }
}

/// Go's `path.Base` (`.` for an empty path, trailing slashes ignored).
fn go_base(p: &str) -> &str {
    if p.is_empty() {
        return ".";
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/";
    }
    t.rsplit('/').next().unwrap_or(t)
}

/// Go's `filepath.Dir` for the common cases (no `..` cleaning beyond trailing slashes).
fn go_dir(p: &str) -> String {
    match p.rfind('/') {
        None => ".".into(),
        Some(0) => "/".into(),
        Some(i) => p[..i].trim_end_matches('/').to_string(),
    }
}

fn proto_name(proto: i64) -> &'static str {
    match proto {
        6 => "tcp",
        17 => "udp",
        1 => "icmp",
        254 => "raw",
        _ => "",
    }
}

/// RFC 3339 with nanoseconds, UTC, trailing zeros of the fraction removed (Go's `time.RFC3339Nano`).
pub fn iso_time(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let nanos = ts_ns.rem_euclid(1_000_000_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Community ID v1 (seed 0) of an IPv4 flow: `1:` + base64(sha1(seed, ordered addresses, proto, 0, ordered ports)).
pub fn community_id(sip: &str, dip: &str, sport: i64, dport: i64, proto: i64) -> String {
    let parse = |s: &str| {
        s.parse::<std::net::Ipv4Addr>()
            .map(|a| a.octets())
            .unwrap_or([0; 4])
    };
    let (mut a, mut b) = ((parse(sip), sport as u16), (parse(dip), dport as u16));
    if (a.0, a.1) > (b.0, b.1) {
        std::mem::swap(&mut a, &mut b);
    }
    let mut h = Sha1::new();
    h.update(0u16.to_be_bytes());
    h.update(a.0);
    h.update(b.0);
    h.update([proto as u8, 0]);
    h.update(a.1.to_be_bytes());
    h.update(b.1.to_be_bytes());
    format!("1:{}", sysflow_format::flags::base64(&h.finalize()))
}

/// Go's `encoding/json` escapes `<`, `>`, `&`, U+2028 and U+2029; serde_json does not, so fragments are re-escaped.
struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut last = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[last..i])?;
            w.write_all(esc.as_bytes())?;
            last = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[last..])
    }
}

fn write_json(out: &mut Vec<u8>, v: &J) {
    let mut ser = serde_json::Serializer::with_formatter(out, GoFormatter);
    // Serialising a `Value` into a `Vec` cannot fail.
    let _ = serde::Serialize::serialize(v, &mut ser);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn community_id_matches_the_spec_example() {
        // Example from the Community ID specification (TCP 128.232.110.120:34855 -> 66.35.250.204:80).
        assert_eq!(
            community_id("128.232.110.120", "66.35.250.204", 34855, 80, 6),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
        // Order-independent.
        assert_eq!(
            community_id("66.35.250.204", "128.232.110.120", 80, 34855, 6),
            "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
        );
    }

    #[test]
    fn times_and_paths() {
        assert_eq!(
            iso_time(1_548_965_940_603_299_403),
            "2019-01-31T20:19:00.603299403Z"
        );
        assert_eq!(iso_time(1_000_000_000), "1970-01-01T00:00:01Z");
        assert_eq!(iso_time(1_500_000_000), "1970-01-01T00:00:01.5Z");
        assert_eq!(go_base("/a/b"), "b");
        assert_eq!(go_base(""), ".");
        assert_eq!(go_dir("/a/b"), "/a");
        assert_eq!(go_dir("/a"), "/");
        assert_eq!(go_dir("a"), ".");
    }

    fn flat(
        record: Record,
        file: Option<sysflow_format::File>,
        new_file: Option<sysflow_format::File>,
    ) -> FlatRecord {
        use std::sync::Arc;
        FlatRecord {
            record,
            header: Some(Arc::new(sysflow_format::Header {
                exporter: "node1".into(),
                ..Default::default()
            })),
            pod: None,
            container: None,
            parent: None,
            process: Some(Arc::new(sysflow_format::Process {
                exe: "/bin/mv".into(),
                oid: sysflow_format::Oid {
                    hpid: 42,
                    create_ts: 1,
                },
                uid: 1000,
                user_name: "alice".into(),
                ..Default::default()
            })),
            file: file.map(Arc::new),
            new_file: new_file.map(Arc::new),
            ancestors: Default::default(),
            layout: sysflow_format::Layout::V5,
        }
    }

    fn doc(rec: &FlatRecord) -> J {
        let mut out = Vec::new();
        EcsEncoder::default().encode(
            &Event {
                record: rec,
                rules: &[],
                tags: &[],
            },
            &mut out,
        );
        let text = String::from_utf8(out).unwrap();
        let v: J = serde_json::from_str(&text).unwrap();
        // Top-level keys keep the reference's struct order.
        let order = [
            "\"@timestamp\":",
            "\"agent\":",
            "\"ecs\":",
            "\"event\":",
            "\"host\":",
            "\"container\":",
        ];
        let pos: Vec<usize> = order
            .iter()
            .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} in {text}")))
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
        if let (Some(f), Some(p)) = (text.find("\"file\":"), text.find("\"process\":")) {
            assert!(pos[5] < f && f < p, "{text}");
        }
        assert!(text.starts_with(r#"{"@timestamp":"#), "{text}");
        v
    }

    #[test]
    fn file_rename_and_k8s_event() {
        use sysflow_format::{File, FileEvent, K8sAction, K8sEvent};
        let f = |path: &str| File {
            path: path.into(),
            restype: i32::from(b'f'),
            ..Default::default()
        };
        let fe = Record::FileEvent(FileEvent {
            op_flags: op::RENAME,
            ts: 2_000_000_000,
            tid: 42,
            ..Default::default()
        });
        let d = doc(&flat(fe, Some(f("/tmp/a.txt")), Some(f("/tmp/b.txt"))));
        assert_eq!(d["event"]["category"], "file");
        assert_eq!(d["event"]["type"], "change");
        assert_eq!(d["event"]["action"], "file-rename");
        assert_eq!(d["event"]["sf_type"], "FE");
        assert_eq!(d["event"]["kind"], "event");
        assert_eq!(d["event"]["duration"], 0);
        assert_eq!(d["file"]["name"], "a.txt");
        assert_eq!(d["file"]["directory"], "/tmp");
        assert_eq!(d["file"]["path"], "/tmp/a.txt");
        assert_eq!(d["file"]["type"], "file");
        assert_eq!(d["file"]["target_path"], "/tmp/b.txt");
        assert_eq!(d["process"]["name"], "mv");
        assert_eq!(d["process"]["pid"], 42);
        assert_eq!(d["user"]["name"], "alice");
        assert_eq!(d["host"]["id"], "node1");
        assert!(
            d["container"].is_null(),
            "no container: null, as Go writes a nil map"
        );
        let ke = Record::K8sEvent(K8sEvent {
            action: K8sAction::Added,
            ts: 3,
            message: "{}".into(),
            ..Default::default()
        });
        let d = doc(&flat(ke, None, None));
        assert_eq!(d["event"]["category"], "orchestration");
        assert_eq!(d["event"]["type"], "creation");
        assert_eq!(d["event"]["action"], "K8S_COMPONENT_ADDED");
        assert_eq!(d["event"]["original"], "{}");
        assert!(d.get("process").is_none());
    }

    #[test]
    fn html_escaping() {
        let mut out = Vec::new();
        write_json(&mut out, &J::String("<a&b>".into()));
        assert_eq!(String::from_utf8(out).unwrap(), r#""\u003ca\u0026b\u003e""#);
    }
}
