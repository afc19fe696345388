//! Bytecode: the `Op` set, a `Chunk` of ops with their source positions, and the compiled
//! `Program` (immutable, `Send + Sync`) that every run shares.
//!
//! The VM is a stack machine. Variables are resolved to slots at compile time: globals live in
//! one table per run, a function's locals in its frame. Notes on the odd ones:
//! - `LoadLocalOr(l, g)`: a name a function assigns somewhere is local *after* the assignment
//!   but reads the global of that name before it (LANGUAGE.md 7.1), so an unset local falls back.
//! - `SetIndex*`, `SetField*`, `Append*` take the container out of its slot, change it in place
//!   and put it back, so `a[i] = v;` and `a = இணை(a, v);` do not copy the array (4.5 allows
//!   shared storage as long as nothing observable changes).

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use super::ast::Segment;
use super::builtins::Builtin;
use super::span::Pos;
use super::value::Value;

/// One instruction. Operands are slot, constant, function or jump-target indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// push consts[k]
    Const(u32),
    /// push இன்மை
    Nil,
    /// push மெய்
    True,
    /// push பொய்
    False,
    /// push globals[g] (error if unset)
    LoadGlobal(u32),
    /// push locals[l] (error if unset)
    LoadLocal(u32),
    /// push locals[l] if set, else globals[g] (error if neither)
    LoadLocalOr(u32, u32),
    /// pop → globals[g]
    StoreGlobal(u32),
    /// pop → locals[l]
    StoreLocal(u32),
    /// pop value, pop index; globals[g][index] = value
    SetIndexGlobal(u32),
    /// pop value, pop index; locals[l] (or a copy of globals[g]) [index] = value → locals[l]
    SetIndexLocal(u32, u32),
    /// pop value; globals[g].field(consts[k]) = value
    SetFieldGlobal(u32, u32),
    /// pop value; locals[l] (or a copy of globals[g]) .field(consts[k]) = value → locals[l]
    SetFieldLocal(u32, u32, u32),
    /// pop value; globals[g] = இணை(globals[g], value), in place
    AppendGlobal(u32),
    /// pop value; locals[l] = இணை(locals[l] or globals[g], value), in place
    AppendLocal(u32, u32),
    /// discard the top of the stack
    Pop,
    /// pop b, pop a, push a OP b (numbers, 5.2)
    Arith(Arith),
    /// pop a, push a OP consts[k]: the right operand is a number literal
    ArithK(Arith, u32),
    /// globals[g] = globals[g] OP consts[k], in place: `x = x + 1;` at top level
    ArithGlobalK(Arith, u32, u32),
    /// locals[l] = (locals[l] or globals[g]) OP consts[k]: `x = x + 1;` in a function
    ArithLocalK(Arith, u32, u32, u32),
    /// pop b, pop a, push text(a) & text(b)
    Concat,
    /// pop a, push -a
    Neg,
    /// pop a, push !truthy(a)
    Not,
    /// pop a, push truthy(a) as a boolean
    ToBool,
    /// pop b, pop a, push a CMP b (5.4)
    Compare(Cmp),
    /// pop b, pop a; unless a CMP b, ip = target (an if/while condition)
    JumpUnless(Cmp, u32),
    /// pop a; unless a CMP consts[k], ip = target
    JumpUnlessK(Cmp, u32, u32),
    /// unless globals[g] CMP consts[k], ip = target: `(i < 10) சுற்று` at top level
    JumpUnlessGlobalK(Cmp, u32, u32, u32),
    /// pop n items, push an array of them
    MakeArray(u32),
    /// pop n values, push a record with the keys of key_lists[k] (n = its length)
    MakeRecord(u32),
    /// pop index, pop target, push target[index]
    Index,
    /// pop target, push target.consts[k]
    Field(u32),
    /// pop a result: success → push its value; failure → return it from the function
    /// (error at top level)
    Try,
    /// ip = target
    Jump(u32),
    /// pop; if falsy, ip = target
    JumpIfFalse(u32),
    /// pop; if truthy, ip = target
    JumpIfTrue(u32),
    /// pop a collection and start iterating over a snapshot of it
    IterInit,
    /// push the next item, or end the innermost iteration and jump to target
    IterNext(u32),
    /// call functions[f] with the top argc values
    Call(u32, u32),
    /// call builtins[b] with the top argc values
    CallBuiltin(u32, u32),
    /// evaluate-then-fail: "unknown function consts[k]" (argc values are on the stack)
    CallUnknown(u32, u32),
    /// pop the return value, leave the function
    Return,
    /// `திரும்பு` outside a function: a runtime error (6.9)
    ReturnOutside,
    /// pop, render, print
    Print,
    /// pop headers (if flag), body, status: end the run with a response
    Respond(bool),
    /// end of a top-level chunk
    Halt,
}

/// The arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

/// The comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A sequence of ops with one source position each.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    pub ops: Vec<Op>,
    /// `positions[i]` is where `ops[i]` came from (file, line/column).
    pub positions: Vec<(u16, Pos)>,
}

impl Chunk {
    pub fn emit(&mut self, op: Op, file: u16, pos: Pos) -> usize {
        self.ops.push(op);
        self.positions.push((file, pos));
        self.ops.len() - 1
    }
}

/// A user function: its code and the names of its local slots (for messages).
#[derive(Debug)]
pub struct Function {
    pub name: Arc<str>,
    pub arity: u32,
    pub local_names: Vec<Arc<str>>,
    pub chunk: Chunk,
}

/// One declared route (LANGUAGE.md 10.1), in matching (source) order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// Upper-cased method.
    pub method: String,
    /// The path literal as written.
    pub path: String,
    pub segments: Vec<Segment>,
    /// File the route is declared in and its line, for `etamil-mio routes`.
    pub file: Arc<str>,
    pub line: u32,
}

/// Global slots of the request variables (LANGUAGE.md 10.4) the program mentions; a request
/// binds only these.
#[derive(Clone, Debug, Default)]
pub struct RequestSlots {
    pub method: Option<u32>,
    pub path: Option<u32>,
    pub body: Option<u32>,
    pub query: Option<u32>,
    pub headers: Option<u32>,
    pub path_params: Option<u32>,
}

impl RequestSlots {
    /// These slots, keeping only those `reached` marks.
    pub fn only(&self, reached: &[bool]) -> RequestSlots {
        let keep = |s: Option<u32>| s.filter(|&g| reached.get(g as usize) == Some(&true));
        RequestSlots {
            method: keep(self.method),
            path: keep(self.path),
            body: keep(self.body),
            query: keep(self.query),
            headers: keep(self.headers),
            path_params: keep(self.path_params),
        }
    }

    pub fn is_request_slot(&self, slot: u32) -> bool {
        [
            self.method,
            self.path,
            self.body,
            self.query,
            self.headers,
            self.path_params,
        ]
        .contains(&Some(slot))
    }
}

impl Op {
    /// The global slot this op reads or writes, if any (a local op's fallback global too).
    pub fn global(&self) -> Option<u32> {
        match *self {
            Op::LoadGlobal(g)
            | Op::StoreGlobal(g)
            | Op::SetIndexGlobal(g)
            | Op::SetFieldGlobal(g, _)
            | Op::AppendGlobal(g)
            | Op::LoadLocalOr(_, g)
            | Op::SetIndexLocal(_, g)
            | Op::SetFieldLocal(_, g, _)
            | Op::AppendLocal(_, g)
            | Op::ArithGlobalK(_, g, _)
            | Op::ArithLocalK(_, _, g, _)
            | Op::JumpUnlessGlobalK(_, g, _, _) => Some(g),
            _ => None,
        }
    }
}

/// A route's handler and where its parameters are bound.
#[derive(Debug)]
pub struct Handler {
    pub chunk: Chunk,
    /// For each path parameter of the route: its name and the global slot of `param_<name>`
    /// when this handler, the functions it calls or the prelude mention that variable.
    pub params: Vec<(Arc<str>, Option<u32>)>,
    /// The request variables this handler can read (through the functions it calls and the
    /// prelude too): a request binds only these, so a route that never looks at `headers`
    /// does not pay for building them.
    pub request_slots: RequestSlots,
}

/// The prelude's globals after one clean run, reused by every request when that cannot be
/// observed (LANGUAGE.md 10.3).
#[derive(Debug)]
pub struct PreludeSnapshot {
    pub globals: Vec<Option<Value>>,
    pub instructions: u64,
    pub memory_bytes: usize,
}

/// A compiled program: immutable and `Send + Sync`; every worker runs it with fresh state.
#[derive(Default)]
pub struct Program {
    pub(crate) prelude: Chunk,
    pub(crate) handlers: Vec<Handler>,
    pub(crate) functions: Vec<Function>,
    pub(crate) consts: Vec<Value>,
    pub(crate) key_lists: Vec<Vec<Arc<str>>>,
    pub(crate) builtins: Vec<&'static Builtin>,
    pub(crate) global_names: Vec<Arc<str>>,
    pub(crate) files: Vec<Arc<str>>,
    pub(crate) routes: Vec<RouteInfo>,
    pub(crate) request_slots: RequestSlots,
    /// True when the prelude (and all it calls) cannot observe the request, the clock, the
    /// environment or the output, so its result may be computed once.
    pub(crate) prelude_cacheable: bool,
    pub(crate) prelude_snapshot: OnceLock<Option<PreludeSnapshot>>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("routes", &self.routes)
            .field("functions", &self.functions.len())
            .field("globals", &self.global_names.len())
            .finish_non_exhaustive()
    }
}

impl Program {
    /// The routes in matching order. A program with no routes serves itself on `/` for GET,
    /// POST, PUT and DELETE (LANGUAGE.md 10.1).
    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes
    }

    /// Whether the prelude's result is computed once and copied into each request.
    pub fn prelude_is_cached(&self) -> bool {
        matches!(self.prelude_snapshot.get(), Some(Some(_)))
    }

    /// Human-readable bytecode listing (`check --disasm`).
    pub fn disassemble(&self) -> String {
        let mut out = String::new();
        self.disassemble_chunk(&mut out, "prelude", &self.prelude);
        for (i, h) in self.handlers.iter().enumerate() {
            let r = &self.routes[i];
            self.disassemble_chunk(
                &mut out,
                &format!("route {} {}", r.method, r.path),
                &h.chunk,
            );
        }
        for f in &self.functions {
            self.disassemble_chunk(
                &mut out,
                &format!("function {}/{}", f.name, f.arity),
                &f.chunk,
            );
        }
        out
    }

    fn disassemble_chunk(&self, out: &mut String, title: &str, chunk: &Chunk) {
        let _ = writeln!(out, "== {title} ==");
        for (i, (op, (_, pos))) in chunk.ops.iter().zip(&chunk.positions).enumerate() {
            let _ = write!(out, "{i:04} {:>4}:{:<3} {op:?}", pos.line, pos.col);
            match *op {
                Op::Const(k) | Op::Field(k) | Op::ArithK(_, k) | Op::JumpUnlessK(_, k, _) => {
                    let _ = write!(out, "  ; {}", self.consts[k as usize].render());
                }
                Op::LoadGlobal(g)
                | Op::StoreGlobal(g)
                | Op::SetIndexGlobal(g)
                | Op::AppendGlobal(g)
                | Op::ArithGlobalK(_, g, _)
                | Op::JumpUnlessGlobalK(_, g, _, _) => {
                    let _ = write!(out, "  ; {}", self.global_names[g as usize]);
                }
                Op::Call(f, _) => {
                    let _ = write!(out, "  ; {}", self.functions[f as usize].name);
                }
                Op::CallBuiltin(b, _) => {
                    let _ = write!(out, "  ; {}", self.builtins[b as usize].name);
                }
                _ => {}
            }
            out.push('\n');
        }
    }
}
