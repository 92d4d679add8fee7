//! Evaluation of compiled sfql trees over flattened records.

use std::borrow::Cow;

use sysflow_format::Linked;

use crate::attr::ProcessTree;
use crate::compile::{Node, Operand, OrdOp, StrOp};
use crate::value::{py_int, Value};

/// ASCII case-insensitive substring test; `needle` is already lower-case.
fn contains_ascii_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    h.windows(n.len())
        .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

/// Python `needle_lower in piece.lower()`.
fn icontains(piece: &str, needle_lower: &str) -> bool {
    if piece.is_ascii() && needle_lower.is_ascii() {
        contains_ascii_ci(piece, needle_lower)
    } else {
        piece.to_lowercase().contains(needle_lower)
    }
}

impl Node {
    /// Evaluates the tree on `rec`.
    pub(crate) fn eval(&self, rec: &Linked<'_>, tree: &ProcessTree) -> bool {
        match self {
            Node::Or(v) => v.iter().any(|n| n.eval(rec, tree)),
            Node::And(v) => v.iter().all(|n| n.eval(rec, tree)),
            Node::Not(n) => !n.eval(rec, tree),
            Node::Exists(op) => value(op, rec, tree).truthy(),
            Node::Str { lhs, op, rhs } => {
                let l = value(lhs, rec, tree);
                let r = value(rhs, rec, tree);
                let mut r = r.to_str();
                if *op == StrOp::IContains && matches!(rhs, Operand::Attr(_)) {
                    r = Cow::Owned(r.to_lowercase());
                }
                let r: &str = &r;
                match op {
                    StrOp::Eq => l.any_piece(|p| p == r),
                    StrOp::Neq => l.any_piece(|p| p != r),
                    StrOp::Contains => l.any_piece(|p| p.contains(r)),
                    StrOp::IContains => l.any_piece(|p| icontains(p, r)),
                    StrOp::StartsWith => l.any_piece(|p| p.starts_with(r)),
                }
            }
            Node::Ord { lhs, op, rhs } => {
                let r = match rhs {
                    Operand::Lit(_, i) => *i,
                    Operand::Attr(_) => value(rhs, rec, tree).to_int(),
                };
                // Python raises TypeError on int(None); we do not match.
                let Some(r) = r else { return false };
                let cmp = |l: i128| match op {
                    OrdOp::Lt => l < r,
                    OrdOp::Le => l <= r,
                    OrdOp::Gt => l > r,
                    OrdOp::Ge => l >= r,
                };
                match value(lhs, rec, tree) {
                    Value::Int(i) => cmp(i128::from(i)),
                    // Pieces that are not integers (Python: ValueError) do not match.
                    l => l.any_piece(|p| py_int(p).is_some_and(cmp)),
                }
            }
            Node::In { lhs, set } => value(lhs, rec, tree).any_piece(|p| set.contains(p)),
            Node::PMatch { lhs, patterns } => match patterns {
                Some(ac) => value(lhs, rec, tree).any_piece(|p| ac.is_match(p)),
                None => false,
            },
        }
    }
}

#[inline]
fn value<'a>(op: &'a Operand, rec: &Linked<'a>, tree: &ProcessTree) -> Value<'a> {
    match op {
        Operand::Attr(a) => crate::attr::get(*a, rec, tree),
        Operand::Lit(s, _) => Value::Str(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_case_insensitive() {
        assert!(icontains("/usr/bin/BASH", "bash"));
        assert!(icontains("x", ""));
        assert!(!icontains("ba", "bash"));
        assert!(icontains("ÉCOLE", "éco"));
    }
}
