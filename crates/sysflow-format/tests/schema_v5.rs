//! The schema our writer embeds is the reference v5 schema: same union branches in the same order, same fields,
//! same types (compared structurally with the reference `SysFlow.avsc`). Skips when `../shared` is absent.

use std::path::Path;

use serde_json::Value;

fn shape(v: &Value, named: &mut std::collections::HashMap<String, Value>, ns: &str) -> Value {
    match v {
        Value::String(s) => {
            let full = if s.contains('.') || ns.is_empty() {
                s.clone()
            } else {
                format!("{ns}.{s}")
            };
            named
                .get(&full)
                .or_else(|| named.get(s))
                .cloned()
                .unwrap_or_else(|| Value::String(s.clone()))
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| shape(x, named, ns)).collect()),
        Value::Object(o) => {
            let ty = o.get("type").cloned().unwrap_or(Value::Null);
            let name = o.get("name").and_then(Value::as_str).unwrap_or("");
            let own_ns = o.get("namespace").and_then(Value::as_str).unwrap_or(ns);
            let full = if name.contains('.') || own_ns.is_empty() {
                name.to_string()
            } else {
                format!("{own_ns}.{name}")
            };
            let inner_ns = full.rfind('.').map_or("", |i| &full[..i]).to_string();
            let out = match ty.as_str() {
                Some("record") => {
                    let fields: Vec<Value> = o["fields"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|f| {
                            serde_json::json!([f["name"], shape(&f["type"], named, &inner_ns)])
                        })
                        .collect();
                    serde_json::json!({"record": full, "fields": fields})
                }
                Some("enum") => serde_json::json!({"enum": full, "symbols": o["symbols"]}),
                Some("fixed") => serde_json::json!({"fixed": full, "size": o["size"]}),
                Some("array") => serde_json::json!({"array": shape(&o["items"], named, ns)}),
                Some("map") => serde_json::json!({"map": shape(&o["values"], named, ns)}),
                Some(p) => Value::String(p.to_string()),
                None => shape(&ty, named, ns),
            };
            if matches!(ty.as_str(), Some("record" | "enum" | "fixed")) {
                named.insert(full, out.clone());
            }
            out
        }
        other => other.clone(),
    }
}

#[test]
fn writer_schema_is_the_reference_v5() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/spec/schema/SysFlow.avsc");
    let Ok(reference) = std::fs::read_to_string(&p) else {
        eprintln!("SKIP: {} not found", p.display());
        return;
    };
    let ours: Value = serde_json::from_str(sysflow_format::datum::schema_v5_json()).unwrap();
    let theirs: Value = serde_json::from_str(&reference).unwrap();
    let a = shape(&ours, &mut Default::default(), "");
    let b = shape(&theirs, &mut Default::default(), "");
    assert_eq!(a, b);
}
