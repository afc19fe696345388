//! The syntax tree of an eTamil program after import splicing (LANGUAGE.md 3). Data only:
//! every node carries the `Span` of its first token; no behaviour lives here.

use std::sync::Arc;

use rust_decimal::Decimal;

use super::span::Span;

/// The nine type keywords (LANGUAGE.md 2.5). Kept apart (not merged into kinds) because the
/// checker's messages name the keyword as written, e.g. `பின்னம் (piZZam, a number)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeKw {
    /// எண் eN
    Number,
    /// பின்னம் piZZam
    Decimal,
    /// சொல் col
    String,
    /// உரை urY
    Text,
    /// ஈர்ம Irma
    Boolean,
    /// அணி aNi
    Array,
    /// பொருள் poruL
    Record,
    /// தரவு qaravu
    Data,
    /// தேதி qEqi
    Date,
}

/// A name as written, with where it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: Arc<str>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `&`: render both and join.
    Concat,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    /// The position of the operation: the operator for binary/postfix expressions (so a
    /// division by zero points at `/`), the first token otherwise.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A number or percentage literal, already divided by 100 for a percentage.
    Num(Decimal),
    Str(Arc<str>),
    Bool(bool),
    Nil,
    Array(Vec<Expr>),
    /// Fields in the order written; duplicates are rejected before the compiler sees them.
    Record(Vec<(Ident, Expr)>),
    Var(Arc<str>),
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    /// Unary minus.
    Neg(Box<Expr>),
    /// `இல்லை`.
    Not(Box<Expr>),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `மற்றும்`, short-circuit.
    And(Box<Expr>, Box<Expr>),
    /// `அல்லது`, short-circuit.
    Or(Box<Expr>, Box<Expr>),
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
    },
    Field {
        target: Box<Expr>,
        field: Arc<str>,
    },
    /// Postfix `?`.
    Try(Box<Expr>),
}

/// One segment of a route path pattern (LANGUAGE.md 10.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(Arc<str>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct FnDef {
    pub name: Ident,
    pub params: Vec<Ident>,
    pub body: Vec<Stmt>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RouteDef {
    /// Upper-cased HTTP method (`GET`, … or an identifier's text upper-cased).
    pub method: String,
    /// The path literal as written.
    pub path: String,
    /// The pattern: the path split on `/`, empty segments dropped.
    pub segments: Vec<Segment>,
    pub body: Vec<Stmt>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `[type] name;` (value None) or `[type] name = e;`.
    Assign {
        ty: Option<TypeKw>,
        name: Ident,
        value: Option<Expr>,
    },
    /// `name[i] = e;`
    SetIndex {
        name: Ident,
        index: Expr,
        value: Expr,
    },
    /// `name.f = e;`
    SetField {
        name: Ident,
        field: Ident,
        value: Expr,
    },
    /// `f(a, b);`
    Call {
        name: Ident,
        args: Vec<Expr>,
    },
    /// `அச்சு e;`
    Print(Expr),
    If {
        cond: Expr,
        then_block: Vec<Stmt>,
        else_block: Option<Vec<Stmt>>,
    },
    While {
        cond: Expr,
        body: Vec<Stmt>,
    },
    ForEach {
        var: Ident,
        iterable: Expr,
        body: Vec<Stmt>,
    },
    Function(Arc<FnDef>),
    Return(Option<Expr>),
    /// Only before splicing: the loader replaces every import with the module's statements.
    Import {
        path: String,
    },
    Route(Arc<RouteDef>),
    /// `பதில் status, body[, headers];`
    Response {
        status: Expr,
        body: Expr,
        headers: Option<Expr>,
    },
}

/// A whole program after import splicing, plus the table of its source files.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Program {
    /// File names as the user would recognise them; index = `FileId`.
    pub files: Vec<Arc<str>>,
    pub stmts: Vec<Stmt>,
}
