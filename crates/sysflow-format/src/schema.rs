//! Avro writer schemas: parsing the JSON a container embeds into a tree with resolved names.

use std::collections::HashMap;

use serde_json::Value as Json;

use crate::error::{Error, Result};

/// Index of a node in a [`Schema`] arena.
pub type NodeId = usize;

/// One Avro schema node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null`.
    Null,
    /// `boolean`.
    Boolean,
    /// `int`.
    Int,
    /// `long`.
    Long,
    /// `float`.
    Float,
    /// `double`.
    Double,
    /// `bytes`.
    Bytes,
    /// `string`.
    String,
    /// A record with its full name and fields in wire order.
    Record {
        /// Full name (`namespace.name`).
        name: String,
        /// `(field name, type)` in wire order.
        fields: Vec<(String, NodeId)>,
    },
    /// An enum with its full name and symbols.
    Enum {
        /// Full name.
        name: String,
        /// Symbols in ordinal order.
        symbols: Vec<String>,
    },
    /// An array of items.
    Array(NodeId),
    /// A map with string keys.
    Map(NodeId),
    /// A union of branches.
    Union(Vec<NodeId>),
    /// A fixed-size byte string.
    Fixed {
        /// Full name.
        name: String,
        /// Size in bytes.
        size: usize,
    },
}

/// A parsed schema: an arena of nodes and the root.
#[derive(Debug, Clone)]
pub struct Schema {
    nodes: Vec<Node>,
    root: NodeId,
}

/// Limit on schema nesting, so that a hostile schema cannot overflow the stack.
const MAX_DEPTH: usize = 64;

impl Schema {
    /// Parses a schema from its JSON text.
    pub fn parse(text: &str) -> Result<Schema> {
        let json: Json =
            serde_json::from_str(text).map_err(|e| Error::schema(format!("invalid JSON: {e}")))?;
        let mut p = Parser {
            nodes: Vec::new(),
            names: HashMap::new(),
        };
        let root = p.parse(&json, "", 0)?;
        Ok(Schema {
            nodes: p.nodes,
            root,
        })
    }

    /// The root node.
    pub fn root(&self) -> NodeId {
        self.root
    }

    /// A node by id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }
}

struct Parser {
    nodes: Vec<Node>,
    names: HashMap<String, NodeId>,
}

fn full_name(name: &str, namespace: Option<&str>, enclosing: &str) -> String {
    if name.contains('.') {
        return name.to_string();
    }
    let ns = namespace.unwrap_or(enclosing);
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}.{name}")
    }
}

fn namespace_of(full: &str) -> &str {
    full.rfind('.').map_or("", |i| &full[..i])
}

impl Parser {
    fn push(&mut self, n: Node) -> NodeId {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn parse(&mut self, j: &Json, ns: &str, depth: usize) -> Result<NodeId> {
        if depth > MAX_DEPTH {
            return Err(Error::schema("schema nested too deeply"));
        }
        match j {
            Json::String(s) => self.named_or_primitive(s, ns),
            Json::Array(branches) => {
                let mut ids = Vec::with_capacity(branches.len());
                for b in branches {
                    ids.push(self.parse(b, ns, depth + 1)?);
                }
                Ok(self.push(Node::Union(ids)))
            }
            Json::Object(o) => {
                let ty = o
                    .get("type")
                    .ok_or_else(|| Error::schema("schema object without \"type\""))?;
                let ty = match ty {
                    Json::String(s) => s.as_str(),
                    // {"type": {...}} or {"type": [...]}: a wrapped schema.
                    other => return self.parse(other, ns, depth + 1),
                };
                match ty {
                    "record" | "error" => {
                        let name = str_attr(o, "name")?;
                        let full = full_name(name, o.get("namespace").and_then(Json::as_str), ns);
                        // Register before the fields so that recursive references resolve.
                        let id = self.push(Node::Record {
                            name: full.clone(),
                            fields: Vec::new(),
                        });
                        self.names.insert(full.clone(), id);
                        let inner_ns = namespace_of(&full).to_string();
                        let fields = o.get("fields").and_then(Json::as_array).ok_or_else(|| {
                            Error::schema(format!("record {full} without a fields array"))
                        })?;
                        let mut out = Vec::with_capacity(fields.len());
                        for f in fields {
                            let fo = f
                                .as_object()
                                .ok_or_else(|| Error::schema(format!("bad field in {full}")))?;
                            let fname = str_attr(fo, "name")?.to_string();
                            let fty = fo.get("type").ok_or_else(|| {
                                Error::schema(format!("field {full}.{fname} without a type"))
                            })?;
                            let fid = self.parse(fty, &inner_ns, depth + 1)?;
                            out.push((fname, fid));
                        }
                        self.nodes[id] = Node::Record {
                            name: full,
                            fields: out,
                        };
                        Ok(id)
                    }
                    "enum" => {
                        let name = str_attr(o, "name")?;
                        let full = full_name(name, o.get("namespace").and_then(Json::as_str), ns);
                        let symbols = o
                            .get("symbols")
                            .and_then(Json::as_array)
                            .ok_or_else(|| Error::schema(format!("enum {full} without symbols")))?
                            .iter()
                            .map(|s| s.as_str().map(str::to_string))
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(|| {
                                Error::schema(format!("enum {full} has a non-string symbol"))
                            })?;
                        let id = self.push(Node::Enum {
                            name: full.clone(),
                            symbols,
                        });
                        self.names.insert(full, id);
                        Ok(id)
                    }
                    "fixed" => {
                        let name = str_attr(o, "name")?;
                        let full = full_name(name, o.get("namespace").and_then(Json::as_str), ns);
                        let size = o
                            .get("size")
                            .and_then(Json::as_u64)
                            .ok_or_else(|| Error::schema(format!("fixed {full} without a size")))?;
                        if size > 1 << 20 {
                            return Err(Error::schema(format!(
                                "fixed {full} too large ({size} bytes)"
                            )));
                        }
                        let id = self.push(Node::Fixed {
                            name: full.clone(),
                            size: size as usize,
                        });
                        self.names.insert(full, id);
                        Ok(id)
                    }
                    "array" => {
                        let items = o
                            .get("items")
                            .ok_or_else(|| Error::schema("array without items"))?;
                        let it = self.parse(items, ns, depth + 1)?;
                        Ok(self.push(Node::Array(it)))
                    }
                    "map" => {
                        let values = o
                            .get("values")
                            .ok_or_else(|| Error::schema("map without values"))?;
                        let v = self.parse(values, ns, depth + 1)?;
                        Ok(self.push(Node::Map(v)))
                    }
                    // A primitive with attributes (e.g. {"type": "long", "logicalType": "timestamp-millis"}):
                    // logical types are ignored — SysFlow timestamps are nanoseconds whatever the annotation says.
                    other => self.named_or_primitive(other, ns),
                }
            }
            _ => Err(Error::schema(format!("unexpected schema JSON: {j}"))),
        }
    }

    fn named_or_primitive(&mut self, s: &str, ns: &str) -> Result<NodeId> {
        let prim = match s {
            "null" => Some(Node::Null),
            "boolean" => Some(Node::Boolean),
            "int" => Some(Node::Int),
            "long" => Some(Node::Long),
            "float" => Some(Node::Float),
            "double" => Some(Node::Double),
            "bytes" => Some(Node::Bytes),
            "string" => Some(Node::String),
            _ => None,
        };
        if let Some(p) = prim {
            return Ok(self.push(p));
        }
        let full = full_name(s, None, ns);
        self.names
            .get(&full)
            .or_else(|| self.names.get(s))
            .copied()
            .ok_or_else(|| Error::schema(format!("unknown type name {s:?}")))
    }
}

fn str_attr<'a>(o: &'a serde_json::Map<String, Json>, key: &str) -> Result<&'a str> {
    o.get(key)
        .and_then(Json::as_str)
        .ok_or_else(|| Error::schema(format!("missing string attribute {key:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_with_and_without_namespaces() {
        let s = Schema::parse(
            r#"{"type":"record","name":"SysFlow","namespace":"sysflow","fields":[{"name":"rec","type":[
              {"type":"record","name":"P","namespace":"sysflow.entity","fields":[
                 {"name":"oid","type":{"type":"record","name":"sysflow.type.OID","fields":[{"name":"a","type":"long"}]}},
                 {"name":"poid","type":["null","sysflow.type.OID"]},
                 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}]}]}"#,
        )
        .unwrap();
        let Node::Record { name, fields } = s.node(s.root()) else {
            panic!()
        };
        assert_eq!(name, "sysflow.SysFlow");
        let Node::Union(b) = s.node(fields[0].1) else {
            panic!()
        };
        let Node::Record { name, fields } = s.node(b[0]) else {
            panic!()
        };
        assert_eq!(name, "sysflow.entity.P");
        assert!(
            matches!(s.node(fields[0].1), Node::Record { name, .. } if name == "sysflow.type.OID")
        );
        assert!(matches!(s.node(fields[2].1), Node::Long));
    }

    #[test]
    fn rejects_unknown_names() {
        assert!(Schema::parse(
            r#"{"type":"record","name":"X","fields":[{"name":"a","type":"Nope"}]}"#
        )
        .is_err());
    }
}
