//! Recursive-descent parser for the sfql grammar: definitions (`- macro:`, `- list:`, `- rule:`), the query
//! (`- sfql:`) and expressions.

use crate::error::{ErrorKind, Pos, SfqlError};
use crate::lexer::{stray_char_error, tokenize_checked, Tok, Token};

/// An operand as written: its exact text (quotes included) and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Atom {
    pub text: String,
    pub pos: usize,
}

/// Binary comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Neq,
    Contains,
    IContains,
    StartsWith,
}

/// An element of an `in`/`pmatch` list: an operand or a bracketed item list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListElem {
    Atom(Atom),
    Items(Vec<Atom>),
}

/// Parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    /// A bare name: a macro reference.
    Var(Atom),
    Exists(Atom),
    Binary(Atom, BinOp, Atom),
    /// `atom in (...)` (`pmatch == false`) or `atom pmatch (...)`.
    Set {
        lhs: Atom,
        pmatch: bool,
        elems: Vec<ListElem>,
    },
}

/// A `- rule:` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleDef {
    pub name: String,
    pub desc: String,
    pub condition: Expr,
    pub actions: Vec<String>,
    pub priority: String,
    pub tags: Vec<String>,
}

/// One definition of a definitions text, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Def {
    Macro(String, Expr),
    List(String, Vec<String>),
    Rule(RuleDef),
    Query(Expr),
}

/// Deepest nesting of parentheses and `not` accepted (the recursive-descent parser must not exhaust the stack).
pub(crate) const MAX_NESTING: usize = 64;

struct Parser<'a> {
    src: &'a str,
    origin: &'a str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, origin: &'a str) -> Result<Parser<'a>, SfqlError> {
        Ok(Parser {
            src,
            origin,
            toks: tokenize_checked(src, origin)?,
            i: 0,
            depth: 0,
        })
    }

    fn peek(&self) -> Token {
        self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn peek2(&self) -> Token {
        self.toks[(self.i + 1).min(self.toks.len() - 1)]
    }

    fn bump(&mut self) -> Token {
        let t = self.peek();
        if t.kind != Tok::Eof {
            self.i += 1;
        }
        t
    }

    fn text(&self, t: Token) -> &'a str {
        &self.src[t.start..t.end]
    }

    fn describe(&self, t: Token) -> String {
        match t.kind {
            Tok::Eof => "end of input".to_string(),
            k if k.is_keyword() => format!("keyword `{}`", self.text(t)),
            _ => format!("`{}`", self.text(t)),
        }
    }

    fn error(&self, t: Token, what: &str) -> SfqlError {
        if t.kind == Tok::Any {
            return stray_char_error(self.src, self.origin, t);
        }
        let mut msg = format!("unexpected {}, expected {what}", self.describe(t));
        if t.kind.is_keyword() && what.contains("operand") {
            msg.push_str(&format!(
                " (`{}` is a reserved word; quote it to use it as a value)",
                self.text(t)
            ));
        }
        if t.kind == Tok::Decl && what.contains("operand") {
            msg.push_str(" ('-' cannot start a value; quote it, e.g. \"-1\")");
        }
        SfqlError::syntax(self.origin, self.src, Pos(t.start), msg)
    }

    fn expect(&mut self, kind: Tok, what: &str) -> Result<Token, SfqlError> {
        let t = self.peek();
        if t.kind == kind {
            Ok(self.bump())
        } else {
            Err(self.error(t, what))
        }
    }

    fn atom(&mut self, what: &str) -> Result<Atom, SfqlError> {
        let t = self.peek();
        if t.kind.is_atom() {
            self.bump();
            Ok(Atom {
                text: self.text(t).to_string(),
                pos: t.start,
            })
        } else {
            Err(self.error(t, what))
        }
    }

    /// `expression := and_expression ('or' and_expression)*`
    fn expression(&mut self) -> Result<Expr, SfqlError> {
        let mut ors = vec![self.and_expression()?];
        while self.peek().kind == Tok::Or {
            self.bump();
            ors.push(self.and_expression()?);
        }
        Ok(if ors.len() == 1 {
            ors.pop().unwrap_or(Expr::Or(Vec::new()))
        } else {
            Expr::Or(ors)
        })
    }

    /// `and_expression := term ('and' term)*`
    fn and_expression(&mut self) -> Result<Expr, SfqlError> {
        let mut ands = vec![self.term()?];
        while self.peek().kind == Tok::And {
            self.bump();
            ands.push(self.term()?);
        }
        Ok(if ands.len() == 1 {
            ands.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(ands)
        })
    }

    fn term(&mut self) -> Result<Expr, SfqlError> {
        let t = self.peek();
        if matches!(t.kind, Tok::Not | Tok::LParen) {
            if self.depth >= MAX_NESTING {
                return Err(SfqlError::syntax(
                    self.origin,
                    self.src,
                    Pos(t.start),
                    format!("expression nested too deeply (more than {MAX_NESTING} levels of '(' and 'not')"),
                ));
            }
            self.depth += 1;
            let r = self.nested_term(t);
            self.depth -= 1;
            return r;
        }
        self.simple_term(t)
    }

    fn nested_term(&mut self, t: Token) -> Result<Expr, SfqlError> {
        match t.kind {
            Tok::Not => {
                self.bump();
                Ok(Expr::Not(Box::new(self.term()?)))
            }
            Tok::LParen => {
                self.bump();
                let e = self.expression()?;
                self.expect(Tok::RParen, "')' or an operator ('and', 'or')")?;
                Ok(e)
            }
            _ => self.simple_term(t),
        }
    }

    fn simple_term(&mut self, t: Token) -> Result<Expr, SfqlError> {
        match t.kind {
            k if k.is_atom() => {
                let next = self.peek2().kind;
                let op = match next {
                    Tok::Lt => Some(BinOp::Lt),
                    Tok::Le => Some(BinOp::Le),
                    Tok::Gt => Some(BinOp::Gt),
                    Tok::Ge => Some(BinOp::Ge),
                    Tok::Eq => Some(BinOp::Eq),
                    Tok::Neq => Some(BinOp::Neq),
                    Tok::Contains => Some(BinOp::Contains),
                    Tok::IContains => Some(BinOp::IContains),
                    Tok::StartsWith => Some(BinOp::StartsWith),
                    _ => None,
                };
                if let Some(op) = op {
                    let lhs = self.atom("an operand")?;
                    let opt = self.bump();
                    let rhs = self.atom(&format!("an operand after {}", opt.kind.name()))?;
                    return Ok(Expr::Binary(lhs, op, rhs));
                }
                match next {
                    Tok::Exists => {
                        let lhs = self.atom("an operand")?;
                        self.bump();
                        Ok(Expr::Exists(lhs))
                    }
                    Tok::In | Tok::PMatch => {
                        let lhs = self.atom("an operand")?;
                        let pmatch = self.bump().kind == Tok::PMatch;
                        self.expect(Tok::LParen, "'(' to open the list")?;
                        let mut elems = vec![self.list_elem()?];
                        while self.peek().kind == Tok::Comma {
                            self.bump();
                            elems.push(self.list_elem()?);
                        }
                        self.expect(Tok::RParen, "',' or ')' in the list")?;
                        Ok(Expr::Set { lhs, pmatch, elems })
                    }
                    _ if k == Tok::Id && !next.is_atom() => {
                        let a = self.atom("a name")?;
                        Ok(Expr::Var(a))
                    }
                    _ => {
                        self.bump();
                        Err(self.error(
                            self.peek(),
                            "an operator (=, !=, <, <=, >, >=, contains, icontains, startswith, in, pmatch, exists)",
                        ))
                    }
                }
            }
            _ => Err(self.error(t, "an operand, 'not' or '('")),
        }
    }

    fn list_elem(&mut self) -> Result<ListElem, SfqlError> {
        if self.peek().kind == Tok::LBrack {
            Ok(ListElem::Items(self.items()?))
        } else {
            Ok(ListElem::Atom(
                self.atom("a list element (operand or [items])")?,
            ))
        }
    }

    /// `items := '[' (atom (',' atom)*)? ']'`
    fn items(&mut self) -> Result<Vec<Atom>, SfqlError> {
        self.expect(Tok::LBrack, "'[' to open the item list")?;
        let mut v = Vec::new();
        if self.peek().kind != Tok::RBrack {
            v.push(self.atom("an item")?);
            while self.peek().kind == Tok::Comma {
                self.bump();
                v.push(self.atom("an item")?);
            }
        }
        self.expect(Tok::RBrack, "',' or ']' in the item list")?;
        Ok(v)
    }

    /// `text := .+?` up to (not including) a token of kind `until`: the token texts concatenated without the
    /// whitespace between them, as the reference's `getText()` does.
    fn text_until(&mut self, until: Tok, what: &str) -> Result<String, SfqlError> {
        let mut s = String::new();
        loop {
            let t = self.peek();
            if t.kind == Tok::Eof {
                return Err(self.error(t, what));
            }
            if t.kind == until && !s.is_empty() {
                return Ok(s);
            }
            s.push_str(self.text(t));
            self.bump();
        }
    }

    fn definitions(&mut self) -> Result<Vec<Def>, SfqlError> {
        let mut defs = Vec::new();
        loop {
            let t = self.peek();
            match t.kind {
                Tok::Eof => return Ok(defs),
                Tok::Decl => {}
                _ => {
                    return Err(self.error(
                        t,
                        "'-' starting a definition (- macro:, - list:, - rule:, - sfql:)",
                    ))
                }
            }
            self.bump();
            let k = self.bump();
            match k.kind {
                Tok::Macro => {
                    self.expect(Tok::Def, "':' after 'macro'")?;
                    let name = self.expect(Tok::Id, "the macro name")?;
                    self.expect(Tok::Cond, "'condition' after the macro name")?;
                    self.expect(Tok::Def, "':' after 'condition'")?;
                    let e = self.expression()?;
                    self.end_of_definition()?;
                    defs.push(Def::Macro(self.text(name).to_string(), e));
                }
                Tok::List => {
                    self.expect(Tok::Def, "':' after 'list'")?;
                    let name = self.expect(Tok::Id, "the list name")?;
                    self.expect(Tok::Items, "'items' after the list name")?;
                    self.expect(Tok::Def, "':' after 'items'")?;
                    let items = self.items()?;
                    self.end_of_definition()?;
                    let items = items
                        .into_iter()
                        .map(|a| a.text.trim_matches('"').to_string())
                        .collect();
                    defs.push(Def::List(self.text(name).to_string(), items));
                }
                Tok::Rule => {
                    self.expect(Tok::Def, "':' after 'rule'")?;
                    let name = self.text_until(Tok::Desc, "the rule name followed by 'desc:'")?;
                    self.expect(Tok::Desc, "'desc'")?;
                    self.expect(Tok::Def, "':' after 'desc'")?;
                    let desc = self
                        .text_until(Tok::Cond, "the rule description followed by 'condition:'")?;
                    self.expect(Tok::Cond, "'condition'")?;
                    self.expect(Tok::Def, "':' after 'condition'")?;
                    let condition = self.expression()?;
                    self.expect(Tok::Action, "'action' after the rule condition")?;
                    self.expect(Tok::Def, "':' after 'action'")?;
                    let actions = self.items()?.into_iter().map(|a| a.text).collect();
                    self.expect(Tok::Priority, "'priority' after the rule actions")?;
                    self.expect(Tok::Def, "':' after 'priority'")?;
                    let prio =
                        self.expect(Tok::Severity, "a priority (high, medium, low, none)")?;
                    self.expect(Tok::Tags, "'tags' after the rule priority")?;
                    self.expect(Tok::Def, "':' after 'tags'")?;
                    let tags = self.items()?.into_iter().map(|a| a.text).collect();
                    self.end_of_definition()?;
                    defs.push(Def::Rule(RuleDef {
                        name,
                        desc,
                        condition,
                        actions,
                        priority: self.text(prio).to_string(),
                        tags,
                    }));
                }
                Tok::Query => {
                    self.expect(Tok::Def, "':' after 'sfql'")?;
                    let e = self.expression()?;
                    let t = self.peek();
                    if t.kind != Tok::Eof {
                        return Err(self
                            .error(t, "end of input after the query (the query must come last)"));
                    }
                    defs.push(Def::Query(e));
                    return Ok(defs);
                }
                _ => return Err(self.error(k, "'macro', 'list', 'rule' or 'sfql' after '-'")),
            }
        }
    }

    fn end_of_definition(&self) -> Result<(), SfqlError> {
        let t = self.peek();
        if matches!(t.kind, Tok::Decl | Tok::Eof) {
            Ok(())
        } else {
            Err(self.error(t, "'and', 'or', or the next definition starting with '-'"))
        }
    }
}

/// Parses a query expression (the text after `- sfql:`); the whole text must be one expression.
pub(crate) fn parse_query(src: &str) -> Result<Expr, SfqlError> {
    let origin = "query";
    let mut p = Parser::new(src, origin)?;
    if p.peek().kind == Tok::Eof {
        return Err(SfqlError::at(
            ErrorKind::Empty,
            origin,
            src,
            Pos(0),
            "empty query".to_string(),
        ));
    }
    let e = p.expression()?;
    let t = p.peek();
    if t.kind != Tok::Eof {
        let what = if t.kind == Tok::RParen {
            "end of input (unbalanced ')')"
        } else {
            "'and', 'or' or end of input"
        };
        return Err(p.error(t, what));
    }
    Ok(e)
}

/// Parses a definitions text (a defs file): macros, lists, rules and an optional final `- sfql:` query.
pub(crate) fn parse_definitions(src: &str, origin: &str) -> Result<Vec<Def>, SfqlError> {
    Parser::new(src, origin)?.definitions()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Expr {
        match parse_query(s) {
            Ok(e) => e,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn err(s: &str) -> SfqlError {
        match parse_query(s) {
            Ok(e) => panic!("{s:?} parsed as {e:?}"),
            Err(e) => e,
        }
    }

    fn a(t: &str, pos: usize) -> Atom {
        Atom {
            text: t.to_string(),
            pos,
        }
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let e = q("a = 1 or b = 2 and not c exists");
        let Expr::Or(ors) = e else {
            panic!("not an or")
        };
        assert_eq!(ors.len(), 2);
        assert_eq!(ors[0], Expr::Binary(a("a", 0), BinOp::Eq, a("1", 4)));
        let Expr::And(ands) = &ors[1] else {
            panic!("not an and")
        };
        assert_eq!(ands[1], Expr::Not(Box::new(Expr::Exists(a("c", 23)))));
    }

    #[test]
    fn lists_and_items() {
        let e = q("proc.name in (sh, \"bash\", [a, b])");
        let Expr::Set { pmatch, elems, .. } = e else {
            panic!("not a set")
        };
        assert!(!pmatch);
        assert_eq!(elems.len(), 3);
        assert!(matches!(&elems[2], ListElem::Items(v) if v.len() == 2));
    }

    #[test]
    fn errors_point_at_the_token() {
        let e = err("type = PE and");
        assert_eq!((e.line(), e.column()), (1, 14));
        assert!(e.message().contains("end of input"), "{e}");
        let e = err("type = PE garbage");
        assert_eq!(e.column(), 11);
        let e = err("container.name = none");
        assert!(e.message().contains("reserved word"), "{e}");
        let e = err("file.path contains .so");
        assert!(e.message().contains("cannot start with '.'"), "{e}");
        let e = err("proc.pid > -1");
        assert!(e.message().contains("'-' cannot start a value"), "{e}");
        let e = err("(type = PE");
        assert!(e.message().contains("')'"), "{e}");
        assert_eq!(*err("   # only a comment").kind(), ErrorKind::Empty);
        let e = err("type PE");
        assert!(e.message().contains("expected an operator"), "{e}");
        let e = err("proc.exe = \"unterminated");
        assert!(e.message().contains("unterminated string"), "{e}");
    }

    #[test]
    fn definitions_parse() {
        let src = "###### Lists\n- list: http_server_binaries\n  items: [nginx, \"httpd\", node]\n\n\
                   - macro: m\n  condition: >\n    type = FF and\n    proc.name pmatch (http_server_binaries)\n\
                   - rule: My rule\n  desc: some text here\n  condition: m and not proc.tty exists\n  \
                   action: [alert]\n  priority: high\n  tags: [a, b:c]\n- sfql: m\n";
        let defs = match parse_definitions(src, "defs.yaml") {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(defs.len(), 4);
        assert_eq!(
            defs[0],
            Def::List(
                "http_server_binaries".into(),
                vec!["nginx".into(), "httpd".into(), "node".into()]
            )
        );
        let Def::Rule(r) = &defs[2] else {
            panic!("not a rule")
        };
        assert_eq!(r.name, "Myrule");
        assert_eq!(r.desc, "sometexthere");
        assert_eq!(r.priority, "high");
        assert_eq!(r.tags, ["a", "b:c"]);
        assert!(matches!(defs[3], Def::Query(_)));
    }

    #[test]
    fn definition_errors_name_file_and_line() {
        let e = match parse_definitions("- list: l\n  items: [a, b\n- macro: m\n", "x.yaml") {
            Ok(d) => panic!("{d:?}"),
            Err(e) => e,
        };
        assert_eq!(e.origin(), "x.yaml");
        assert_eq!(e.line(), 3);
        assert!(
            e.to_string().starts_with("x.yaml:3:1: unexpected `-`"),
            "{e}"
        );
    }
}
