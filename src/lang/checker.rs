//! Compile-time checks on the spliced program: the declared-type checker of LANGUAGE.md 8.2
//! (upstream's, kept identical) and the route rules of 8.3. The parser already enforces the
//! other static rules of 8.3 (reserved words, duplicate fields and parameters, top level only).
//!
//! Every error is reported, in source order, each at its position. The walk recurses once per
//! block, and the parser bounds block nesting (4.7), so it never goes deep.

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::{BinOp, Expr, ExprKind, Program, RouteDef, Segment, Stmt, StmtKind, TypeKw};
use super::error::CompileError;
use super::loader::error_file;
use super::span::Span;
use super::value::Kind;

/// Paths the server answers itself (SERVER.md); an app may not define routes on them.
const SERVER_PATHS: &[&str] = &["health", "ready", "metrics"];

/// Checks the whole program; an empty result means it may be compiled.
pub fn check(program: &Program) -> Vec<CompileError> {
    let mut checker = Checker {
        files: &program.files,
        errors: Vec::new(),
        routes: HashMap::new(),
    };
    let mut declared = HashMap::new();
    checker.walk(&program.stmts, &mut declared);
    checker.errors
}

/// A declared type per variable name, as the walk has seen them so far.
type Declared = HashMap<Arc<str>, TypeKw>;

struct Checker<'a> {
    files: &'a [Arc<str>],
    errors: Vec<CompileError>,
    /// Routes seen so far: (method, pattern with parameter names erased) → where.
    routes: HashMap<(String, Vec<Option<String>>), Span>,
}

impl Checker<'_> {
    fn error(&mut self, span: Span, tamil: String, english: String) {
        let file = self.files.get(usize::from(span.file)).and_then(error_file);
        self.errors.push(CompileError {
            file,
            ..CompileError::new(span.pos, tamil, english)
        });
    }

    fn walk(&mut self, stmts: &[Stmt], declared: &mut Declared) {
        for stmt in stmts {
            match &stmt.kind {
                StmtKind::Assign { ty, name, value } => {
                    let expected = ty.or_else(|| declared.get(&name.name).copied());
                    // `type name;` holds the type's own default (6.1); an untyped `name;`
                    // assigns the number 0.
                    let given = match (value, ty) {
                        (Some(value), _) => infer(value, declared),
                        (None, Some(_)) => None,
                        (None, None) => Some(Kind::Num),
                    };
                    if let (Some(expected), Some(given)) = (expected, given) {
                        if !satisfies(expected, given) {
                            let (ta, en) = type_words(expected);
                            self.error(
                                name.span,
                                format!(
                                    "'{}' {ta} என அறிவிக்கப்பட்டது, ஆனால் {} வழங்கப்பட்டது",
                                    name.name,
                                    given.tamil()
                                ),
                                format!(
                                    "'{}' is declared {en}, but was given {} ({})",
                                    name.name,
                                    given.tamil(),
                                    given.english()
                                ),
                            );
                        }
                    }
                    if let Some(ty) = ty {
                        declared.insert(name.name.clone(), *ty);
                    }
                }
                StmtKind::If {
                    then_block,
                    else_block,
                    ..
                } => {
                    self.walk(then_block, declared);
                    if let Some(else_block) = else_block {
                        self.walk(else_block, declared);
                    }
                }
                StmtKind::While { body, .. } => self.walk(body, declared),
                StmtKind::ForEach { var, body, .. } => {
                    declared.remove(&var.name);
                    self.walk(body, declared);
                }
                StmtKind::Function(def) => {
                    let mut local = Declared::new();
                    self.walk(&def.body, &mut local);
                }
                StmtKind::Route(route) => {
                    self.route(route, stmt.span);
                    self.walk(&route.body, declared);
                }
                StmtKind::SetIndex { .. }
                | StmtKind::SetField { .. }
                | StmtKind::Call { .. }
                | StmtKind::Print(_)
                | StmtKind::Return(_)
                | StmtKind::Import { .. }
                | StmtKind::Response { .. } => {}
            }
        }
    }

    /// The route rules of 8.3.
    fn route(&mut self, route: &RouteDef, span: Span) {
        let (method, path) = (&route.method, &route.path);
        if !is_http_token(method) {
            self.error(
                span,
                format!("'{method}' ஒரு HTTP முறைப் பெயர் அல்ல"),
                format!("'{method}' is not an HTTP method name (an HTTP token)"),
            );
        }
        if !path.starts_with('/') {
            self.error(
                span,
                format!("வழிப் பாதை '{path}' '/' இல் தொடங்க வேண்டும்"),
                format!("route path '{path}' must start with '/'"),
            );
        }
        let mut params: Vec<&str> = Vec::new();
        for segment in &route.segments {
            if let Segment::Param(name) = segment {
                if name.is_empty() {
                    self.error(
                        span,
                        format!("'{path}' பாதையில் ஒரு அளவுருவுக்குப் பெயர் இல்லை"),
                        format!("a path parameter in '{path}' has no name"),
                    );
                } else if params.contains(&&**name) {
                    self.error(
                        span,
                        format!("'{path}' பாதையில் '{name}' என்ற அளவுரு இரண்டு முறை உள்ளது"),
                        format!("path parameter '{name}' appears twice in '{path}'"),
                    );
                } else {
                    params.push(name);
                }
            }
        }
        if let [Segment::Literal(only)] = route.segments.as_slice() {
            if SERVER_PATHS.contains(&only.as_str()) {
                self.error(
                    span,
                    format!("'{path}' பாதை வழங்கிக்குச் சொந்தமானது"),
                    format!("path '{path}' is owned by the server"),
                );
            }
        }
        let pattern: Vec<Option<String>> = route
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(text) => Some(text.clone()),
                Segment::Param(_) => None,
            })
            .collect();
        let key = (method.clone(), pattern);
        let first = self.routes.get(&key).copied();
        match first {
            Some(first) => {
                let (l, c) = (first.pos.line, first.pos.col);
                self.error(
                    span,
                    format!("மீண்டும் அதே வழி: {method} {path} (முதலில் வரி {l}, நெடுவரிசை {c})"),
                    format!(
                        "duplicate route: {method} {path} (first defined at line {l}, column {c})"
                    ),
                );
            }
            None => {
                self.routes.insert(key, span);
            }
        }
    }
}

/// The kind of value an expression certainly has, per 8.2; None when unknown.
fn infer(expr: &Expr, declared: &Declared) -> Option<Kind> {
    match &expr.kind {
        ExprKind::Num(_) => Some(Kind::Num),
        ExprKind::Str(_) => Some(Kind::Str),
        ExprKind::Bool(_) => Some(Kind::Bool),
        ExprKind::Array(_) => Some(Kind::Array),
        ExprKind::Record(_) => Some(Kind::Record),
        ExprKind::Neg(_) => Some(Kind::Num),
        ExprKind::Not(_) | ExprKind::And(..) | ExprKind::Or(..) => Some(Kind::Bool),
        ExprKind::Binary { op, .. } => Some(match op {
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => Kind::Num,
            BinOp::Concat => Kind::Str,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => Kind::Bool,
        }),
        ExprKind::Var(name) => declared.get(name).map(|ty| kind_of(*ty)),
        ExprKind::Nil
        | ExprKind::Call { .. }
        | ExprKind::Index { .. }
        | ExprKind::Field { .. }
        | ExprKind::Try(_) => None,
    }
}

/// The kind a variable of a declared type is taken to hold.
fn kind_of(ty: TypeKw) -> Kind {
    match ty {
        TypeKw::Number | TypeKw::Decimal => Kind::Num,
        TypeKw::String | TypeKw::Text | TypeKw::Date => Kind::Str,
        TypeKw::Boolean => Kind::Bool,
        TypeKw::Array => Kind::Array,
        TypeKw::Record | TypeKw::Data => Kind::Record,
    }
}

/// Which kinds a declared type accepts; the string types also take numbers (upstream).
fn satisfies(ty: TypeKw, given: Kind) -> bool {
    match ty {
        TypeKw::String | TypeKw::Text | TypeKw::Date => matches!(given, Kind::Str | Kind::Num),
        _ => kind_of(ty) == given,
    }
}

/// The type as messages name it: Tamil keyword, then (romanized, meaning) in English.
fn type_words(ty: TypeKw) -> (&'static str, &'static str) {
    match ty {
        TypeKw::Number => ("எண் (eN)", "எண் (eN, a number)"),
        TypeKw::Decimal => ("பின்னம் (piZZam)", "பின்னம் (piZZam, a number)"),
        TypeKw::String => ("சொல் (col)", "சொல் (col, a string)"),
        TypeKw::Text => ("உரை (urY)", "உரை (urY, a string)"),
        TypeKw::Boolean => ("ஈர்ம (Irma)", "ஈர்ம (Irma, a boolean)"),
        TypeKw::Array => ("அணி (aNi)", "அணி (aNi, an array)"),
        TypeKw::Record => ("பொருள் (poruL)", "பொருள் (poruL, a record)"),
        TypeKw::Data => ("தரவு (qaravu)", "தரவு (qaravu, a record)"),
        TypeKw::Date => ("தேதி (qEqi)", "தேதி (qEqi, a date as a string)"),
    }
}

/// RFC 9110 §5.6.2 `token`: what a method name may be made of.
fn is_http_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::lang::loader::load_source;

    /// (line, column, English message) of every error.
    fn errors(src: &str) -> Vec<(u32, u32, String)> {
        let program = load_source(src, "-", Path::new(".")).expect("parses");
        check(&program)
            .into_iter()
            .map(|e| (e.pos.line, e.pos.col, e.english))
            .collect()
    }

    #[test]
    fn declared_types_8_2() {
        assert_eq!(
            errors("எண் x = \"5\";"),
            vec![(
                1,
                5,
                "'x' is declared எண் (eN, a number), but was given ஒரு சொல் (a string)".into()
            )]
        );
        assert_eq!(errors("சொல் குறி = 1234;"), vec![]);
        assert_eq!(
            errors("எண் a = 1;\na = [1];"),
            vec![(
                2,
                1,
                "'a' is declared எண் (eN, a number), but was given ஒரு அணி (an array)".into()
            )]
        );
        assert_eq!(
            errors("எண் x = இன்மை; எண் y = f(); எண் z = r.a; எண் w = q?;"),
            vec![]
        );
        assert_eq!(errors("ஈர்ம b = 1;").len(), 1);
        assert_eq!(
            errors("பின்னம் p = மெய்;")[0].2,
            "'p' is declared பின்னம் (piZZam, a number), but was given ஒரு ஈர்மம் (a boolean)"
        );
        // 061
        assert_eq!(
            errors("எண் அளவு = 10;\nசொல் பெயர் = \"ரவி\";\nஅளவு = \"பத்து\";\nஅச்சு அளவு;")
                .iter()
                .map(|e| (e.0, e.1))
                .collect::<Vec<_>>(),
            vec![(3, 1)]
        );
        // Every type; the string types take numbers; `type name;` is always fine.
        assert_eq!(
            errors(
                "eN a = 1 + 2; piZZam b = -x; col c = 1; urY d = \"x\" & 1; Irma e = 1 < 2; \
                 aNi f = []; poruL g = {}; qaravu h = {a: 1}; qEqi i = \"2026-01-01\"; \
                 ஈர்ம j = இல்லை 1; ஈர்ம k = 1 மற்றும் 2; ஈர்ம l; அணி m; சொல் n;"
            ),
            vec![]
        );
        // A typed variable's type flows into inference; an untyped `name;` assigns 0.
        assert_eq!(errors("அணி a = [];\nஎண் b = a;")[0].0, 2);
        assert_eq!(errors("சொல் s = \"x\";\ns;"), vec![]);
        assert_eq!(errors("அணி s = [];\ns;").len(), 1);
        assert_eq!(errors("x = \"a\"; x = 1; y;"), vec![]);
        // Re-declaring records the new type even when the value was wrong.
        assert_eq!(errors("எண் a = \"x\";\nசொல் a = \"y\";\na = \"z\";").len(), 1);
    }

    #[test]
    fn blocks_share_the_map_and_functions_start_empty() {
        assert_eq!(errors("(மெய்) எனில் { எண் a = 1; }\na = \"x\";")[0].0, 2);
        assert_eq!(errors("(மெய்) சுற்று { எண் a = 1; }\na = \"x\";").len(), 1);
        assert_eq!(errors("வழி GET, \"/x\" { எண் a = 1; }\na = \"x\";").len(), 1);
        assert_eq!(
            errors("(மெய்) எனில் { } இன்றேல் { எண் a = 1; }\na = \"x\";").len(),
            1
        );
        // for-each removes the declared type, for good.
        assert_eq!(
            errors("எண் x = 1;\nஒவ்வொரு x இல் [\"a\"] { x = \"b\"; }\nx = \"c\";"),
            vec![]
        );
        // A function body starts with an empty map and the outer one comes back after it.
        assert_eq!(
            errors("எண் a = 1;\nசெயல் f(a) { a = \"x\"; எண் b = 1; }\nb = \"y\";"),
            vec![]
        );
        assert_eq!(errors("செயல் f() { எண் b = 1; b = \"y\"; }\na = 1;").len(), 1);
        assert_eq!(errors("எண் a = 1;\nசெயல் f() { }\na = \"x\";").len(), 1);
        // Element and field stores and calls are not checked.
        assert_eq!(
            errors("எண் a = 1; a[0] = \"x\"; a.b = \"y\"; a(\"z\");"),
            vec![]
        );
    }

    #[test]
    fn every_error_in_source_order() {
        let got = errors("எண் a = \"x\";\nவழி GET, \"x\" { }\nசொல் b = [];");
        let at: Vec<_> = got.iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(at, vec![(1, 5), (2, 1), (3, 6)]);
    }

    #[test]
    fn route_rules_8_3() {
        let cases: &[(&str, &str)] = &[
            (
                "வழி GET, \"/a/:x\" { }\nவழி பெறு, \"/a/:y\" { }",
                "duplicate route: GET /a/:y (first defined at line 1, column 1)",
            ),
            (
                "வழி GET, \"/health\" { }",
                "path '/health' is owned by the server",
            ),
            (
                "வழி பதி, \"/ready/\" { }",
                "path '/ready/' is owned by the server",
            ),
            (
                "வழி GET, \"//metrics\" { }",
                "path '//metrics' is owned by the server",
            ),
            (
                "வழி GET, \"x/y\" { }",
                "route path 'x/y' must start with '/'",
            ),
            (
                "வழி GET, \"/a/:\" { }",
                "a path parameter in '/a/:' has no name",
            ),
            (
                "வழி GET, \"/:id/b/:id\" { }",
                "path parameter 'id' appears twice in '/:id/b/:id'",
            ),
            (
                "வழி முறை_இல்லை, \"/x\" { }",
                "'முறை_இல்லை' is not an HTTP method name (an HTTP token)",
            ),
        ];
        for (src, want) in cases {
            let got = errors(src);
            assert_eq!(got.len(), 1, "{src}: {got:?}");
            assert_eq!(got[0].2, *want, "{src}");
        }
        assert_eq!(
            errors("வழி GET, \"/a/:x\" { }\nவழி POST, \"/a/:x\" { }\nவழி GET, \"/a/b\" { }\nவழி purge, \"/a\" { }\nவழி GET, \"/healthz\" { }"),
            vec![]
        );
        assert_eq!(errors("வழி GET, \"/a\" { }\nவழி get, \"/a/\" { }")[0].0, 2);
    }
}
