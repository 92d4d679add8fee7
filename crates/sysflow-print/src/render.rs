//! Rendering of field values the three ways the reference does: `json.dumps`, Python `str()` (CSV cells), and the
//! text-table cell text of `toStdOut`.

use sysflow_format::flags::write_ipv4;
use sysflow_format::Service;

use crate::py::{json_str, repr_str};
use crate::value::{fast, push_int, Value};

/// Appends `v` as JSON (`json.dumps` with its default separators `", "` and `": "`). `scratch` is a reusable buffer.
pub fn json_value(out: &mut Vec<u8>, v: &Value<'_>, scratch: &mut String) {
    match *v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Int(i) => fast::int(out, i),
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Str(s) => json_str(out, s),
        // Pure ASCII letters, digits, spaces and punctuation that JSON keeps as they are.
        Value::OpFlags(f) => {
            out.push(b'"');
            fast::opflags(out, f);
            out.push(b'"');
        }
        Value::Iso(ts) => {
            out.push(b'"');
            fast::iso(out, ts);
            out.push(b'"');
        }
        Value::Ipv4(ip) => {
            out.push(b'"');
            fast::ipv4(out, ip);
            out.push(b'"');
        }
        // Digits, dots, `:` and `-`: nothing to escape.
        Value::NetRes(t) => {
            out.push(b'"');
            fast::netres(out, t);
            out.push(b'"');
        }
        Value::Char(_) | Value::FileRes(..) | Value::Env(_) => {
            scratch.clear();
            v.write_text(scratch);
            json_str(out, scratch);
        }
        Value::IpList(ips) => {
            out.push(b'[');
            for (i, ip) in ips.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                out.push(b'"');
                fast::ipv4(out, *ip);
                out.push(b'"');
            }
            out.push(b']');
        }
        Value::Services(svcs) => json_services(out, svcs, scratch),
        Value::EmptyTuple => out.extend_from_slice(b"[]"),
    }
}

fn json_services(out: &mut Vec<u8>, svcs: &[Service], scratch: &mut String) {
    out.push(b'[');
    for (i, s) in svcs.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(b"{\"name\": ");
        json_str(out, &s.name);
        out.extend_from_slice(b", \"id\": ");
        json_str(out, &s.id);
        out.extend_from_slice(b", \"namespace\": ");
        json_str(out, &s.namespace);
        out.extend_from_slice(b", \"portList\": [");
        for (j, p) in s.port_list.iter().enumerate() {
            if j > 0 {
                out.extend_from_slice(b", ");
            }
            scratch.clear();
            scratch.push_str("{\"port\": ");
            push_int(scratch, p.port as i64);
            scratch.push_str(", \"targetPort\": ");
            push_int(scratch, p.target_port as i64);
            scratch.push_str(", \"nodePort\": ");
            push_int(scratch, p.node_port as i64);
            scratch.push_str(", \"proto\": ");
            out.extend_from_slice(scratch.as_bytes());
            json_str(out, &p.proto);
            out.push(b'}');
        }
        out.extend_from_slice(b"], \"clusterIP\": ");
        json_value(out, &Value::IpList(&s.cluster_ip), scratch);
        out.push(b'}');
    }
    out.push(b']');
}

/// Appends Python's `str(v)`, the text of a CSV cell: `None` → empty, `True`/`False`, lists and dicts as their
/// `repr` (single quotes), the tags tuple as `()`.
pub fn str_value(out: &mut String, v: &Value<'_>) {
    match *v {
        Value::Null => {}
        Value::Int(i) => push_int(out, i),
        Value::Bool(b) => out.push_str(if b { "True" } else { "False" }),
        Value::IpList(ips) => repr_ips(out, ips),
        Value::Services(svcs) => {
            out.push('[');
            for (i, s) in svcs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str("{'name': ");
                repr_str(out, &s.name);
                out.push_str(", 'id': ");
                repr_str(out, &s.id);
                out.push_str(", 'namespace': ");
                repr_str(out, &s.namespace);
                out.push_str(", 'portList': [");
                for (j, p) in s.port_list.iter().enumerate() {
                    if j > 0 {
                        out.push_str(", ");
                    }
                    out.push_str("{'port': ");
                    push_int(out, p.port as i64);
                    out.push_str(", 'targetPort': ");
                    push_int(out, p.target_port as i64);
                    out.push_str(", 'nodePort': ");
                    push_int(out, p.node_port as i64);
                    out.push_str(", 'proto': ");
                    repr_str(out, &p.proto);
                    out.push('}');
                }
                out.push_str("], 'clusterIP': ");
                repr_ips(out, &s.cluster_ip);
                out.push('}');
            }
            out.push(']');
        }
        Value::EmptyTuple => out.push_str("()"),
        _ => v.write_text(out),
    }
}

fn repr_ips(out: &mut String, ips: &[i64]) {
    out.push('[');
    for (i, ip) in ips.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('\'');
        write_ipv4(out, *ip);
        out.push('\'');
    }
    out.push(']');
}

/// Appends the text `toStdOut` formats into a table cell before padding: strings and ints as they are (a bool as
/// `1`/`0`, because `format(True, ' <5')` formats it as an int), `None` as nothing, lists/tuples/dicts through
/// `json.dumps`.
pub fn table_text(out: &mut String, v: &Value<'_>, scratch: &mut String) {
    match *v {
        Value::Null => {}
        Value::Int(i) => push_int(out, i),
        Value::Bool(b) => out.push(if b { '1' } else { '0' }),
        Value::IpList(_) | Value::Services(_) | Value::EmptyTuple => {
            let mut buf = Vec::new();
            json_value(&mut buf, v, scratch);
            // json_value writes ASCII only.
            out.push_str(&String::from_utf8_lossy(&buf));
        }
        _ => v.write_text(out),
    }
}

/// Whether `b` holds `,`, `"`, `\r` or `\n` (eight bytes at a time).
#[inline]
fn needs_csv_quotes(b: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    #[inline]
    fn has(x: u64, c: u8) -> bool {
        let y = x ^ (LO * c as u64);
        y.wrapping_sub(LO) & !y & HI != 0
    }
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        if has(x, b',') || has(x, b'"') || has(x, b'\r') || has(x, b'\n') {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
}

/// Appends `cell` to a CSV line with the excel dialect's minimal quoting: quoted (and `"` doubled) when it
/// contains `,`, `"`, `\r` or `\n`.
pub fn csv_cell(out: &mut Vec<u8>, cell: &str) {
    if needs_csv_quotes(cell.as_bytes()) {
        out.push(b'"');
        for (i, part) in cell.split('"').enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\"\"");
            }
            out.extend_from_slice(part.as_bytes());
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(cell.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sysflow_format::Port;

    fn svc() -> Vec<Service> {
        vec![Service {
            name: "websvc".into(),
            id: "svc-1".into(),
            namespace: "default".into(),
            port_list: vec![Port {
                port: 80,
                target_port: 8080,
                node_port: 30080,
                proto: "TCP".into(),
            }],
            cluster_ip: vec![174350346],
        }]
    }

    #[test]
    fn services_render_as_json_and_repr() {
        let s = svc();
        let mut out = Vec::new();
        json_value(&mut out, &Value::Services(&s), &mut String::new());
        assert_eq!(
            String::from_utf8_lossy(&out),
            r#"[{"name": "websvc", "id": "svc-1", "namespace": "default", "portList": [{"port": 80, "targetPort": 8080, "nodePort": 30080, "proto": "TCP"}], "clusterIP": ["10.96.100.10"]}]"#
        );
        let mut text = String::new();
        str_value(&mut text, &Value::Services(&s));
        assert_eq!(
            text,
            "[{'name': 'websvc', 'id': 'svc-1', 'namespace': 'default', 'portList': [{'port': 80, 'targetPort': 8080, 'nodePort': 30080, 'proto': 'TCP'}], 'clusterIP': ['10.96.100.10']}]"
        );
    }

    #[test]
    fn python_str_of_scalars() {
        let mut t = String::new();
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(-4),
            Value::EmptyTuple,
        ] {
            str_value(&mut t, &v);
            t.push('|');
        }
        assert_eq!(t, "|True|False|-4|()|");
        let mut t = String::new();
        table_text(&mut t, &Value::Bool(true), &mut String::new());
        table_text(&mut t, &Value::EmptyTuple, &mut String::new());
        table_text(&mut t, &Value::IpList(&[16777343]), &mut String::new());
        assert_eq!(t, "1[][\"127.0.0.1\"]");
    }

    #[test]
    fn csv_quotes_minimally() {
        let mut o = Vec::new();
        csv_cell(&mut o, "http://x \"quoted, arg\"");
        o.push(b'|');
        csv_cell(&mut o, "plain text");
        o.push(b'|');
        csv_cell(&mut o, "a\nb");
        o.push(b'|');
        csv_cell(&mut o, "0123456789abcdef\rgh");
        o.push(b'|');
        csv_cell(&mut o, "0123456789abcdef,gh");
        o.push(b'|');
        csv_cell(&mut o, "0123456789abcdefgh-+./~");
        assert_eq!(
            String::from_utf8_lossy(&o),
            "\"http://x \"\"quoted, arg\"\"\"|plain text|\"a\nb\"|\"0123456789abcdef\rgh\"|\"0123456789abcdef,gh\"|0123456789abcdefgh-+./~"
        );
    }
}
