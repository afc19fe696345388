//! AST → bytecode. Resolves every name to a slot (globals per run, locals per call), every
//! call to a user function, a builtin or a deferred "unknown function" error, and hoists
//! function definitions (the last definition of a name wins, LANGUAGE.md 6.8).
//!
//! Owns: the scoping rules of LANGUAGE.md 7.1 as slot decisions, route handler chunks, the
//! request-variable slots, and the decision whether the prelude may be computed once.
//! Does not own: checking (checker.rs has already accepted the AST) or running (vm.rs).

use std::collections::HashMap;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::ast::{self, BinOp, Expr, ExprKind, Segment, Stmt, StmtKind, TypeKw};
use super::builtins::{self, Effect};
use super::chunk::{Arith, Chunk, Cmp, Function, Handler, Op, Program, RequestSlots, RouteInfo};
use super::error::CompileError;
use super::span::{Pos, Span};
use super::value::{Array, Record, Value};

/// Compiles a checked program.
pub fn compile(ast: &ast::Program) -> Result<Program, Vec<CompileError>> {
    let mut c = Compiler::new(ast);
    c.collect_functions(&ast.stmts);
    c.compile_all(ast);
    Ok(c.finish())
}

/// Names bound in the current function call: parameters first, then every name the body
/// assigns (7.1).
struct FnScope {
    locals: HashMap<Arc<str>, u32>,
    arity: u32,
}

struct Compiler<'a> {
    ast: &'a ast::Program,
    program: Program,
    globals: HashMap<Arc<str>, u32>,
    functions: HashMap<Arc<str>, u32>,
    /// The definition compiled for each function index.
    fn_defs: Vec<Arc<ast::FnDef>>,
    str_consts: HashMap<Arc<str>, u32>,
    num_consts: HashMap<Decimal, u32>,
    builtin_slots: HashMap<&'static str, u32>,
    scope: Option<FnScope>,
}

impl<'a> Compiler<'a> {
    fn new(ast: &'a ast::Program) -> Compiler<'a> {
        let program = Program {
            files: ast.files.clone(),
            ..Program::default()
        };
        Compiler {
            ast,
            program,
            globals: HashMap::new(),
            functions: HashMap::new(),
            fn_defs: Vec::new(),
            str_consts: HashMap::new(),
            num_consts: HashMap::new(),
            builtin_slots: HashMap::new(),
            scope: None,
        }
    }

    /// Hoisting: every definition anywhere in the program, the last of each name (in source
    /// order after import splicing) winning.
    fn collect_functions(&mut self, stmts: &[Stmt]) {
        let mut defs: Vec<Arc<ast::FnDef>> = Vec::new();
        visit_stmts(stmts, true, |stmt| {
            if let StmtKind::Function(def) = &stmt.kind {
                defs.push(def.clone());
            }
        });
        for def in defs {
            match self.functions.get(&def.name.name) {
                Some(&idx) => self.fn_defs[idx as usize] = def,
                None => {
                    self.functions
                        .insert(def.name.name.clone(), self.fn_defs.len() as u32);
                    self.fn_defs.push(def);
                }
            }
        }
    }

    fn compile_all(&mut self, ast: &ast::Program) {
        // The prelude: every top-level statement but routes, in source order.
        let mut prelude = Chunk::default();
        let mut routes: Vec<Arc<ast::RouteDef>> = Vec::new();
        let mut route_spans: Vec<Span> = Vec::new();
        for stmt in &ast.stmts {
            if let StmtKind::Route(r) = &stmt.kind {
                routes.push(r.clone());
                route_spans.push(stmt.span);
            } else {
                self.stmt(&mut prelude, stmt);
            }
        }
        let end = ast.stmts.last().map(|s| s.span).unwrap_or_default();
        prelude.emit(Op::Halt, end.file, end.pos);
        self.program.prelude = prelude;

        if routes.is_empty() {
            // LANGUAGE.md 10.1: the whole program is the handler for `/` under these methods.
            for method in ["GET", "POST", "PUT", "DELETE"] {
                let mut chunk = Chunk::default();
                chunk.emit(Op::Halt, 0, Pos::new(1, 1));
                self.program.handlers.push(Handler {
                    chunk,
                    params: Vec::new(),
                    request_slots: RequestSlots::default(),
                });
                self.program.routes.push(RouteInfo {
                    method: method.to_owned(),
                    path: "/".to_owned(),
                    segments: Vec::new(),
                    file: self.file_name(0),
                    line: 1,
                });
            }
        } else {
            for (route, span) in routes.iter().zip(route_spans) {
                let mut chunk = Chunk::default();
                for stmt in &route.body {
                    self.stmt(&mut chunk, stmt);
                }
                chunk.emit(Op::Halt, span.file, span.pos);
                self.program.handlers.push(Handler {
                    chunk,
                    params: Vec::new(),
                    request_slots: RequestSlots::default(),
                });
                self.program.routes.push(RouteInfo {
                    method: route.method.clone(),
                    path: route.path.clone(),
                    segments: route.segments.clone(),
                    file: self.file_name(span.file),
                    line: span.pos.line,
                });
            }
        }

        for idx in 0..self.fn_defs.len() {
            let def = self.fn_defs[idx].clone();
            let function = self.function(&def);
            self.program.functions.push(function);
        }

        // Path parameters and request variables are bound only when the program mentions them.
        for (handler, route) in self.program.handlers.iter_mut().zip(&self.program.routes) {
            handler.params = route
                .segments
                .iter()
                .filter_map(|s| match s {
                    Segment::Param(name) => {
                        let slot = self.globals.get(format!("param_{name}").as_str()).copied();
                        Some((name.clone(), slot))
                    }
                    Segment::Literal(_) => None,
                })
                .collect();
        }
        let slot = |name: &str| self.globals.get(name).copied();
        self.program.request_slots = RequestSlots {
            method: slot("request_method"),
            path: slot("request_path"),
            body: slot("request_body"),
            query: slot("query_params"),
            headers: slot("headers"),
            path_params: slot("path_params"),
        };
    }

    fn finish(mut self) -> Program {
        let mut names = vec![Arc::<str>::from(""); self.globals.len()];
        for (name, &slot) in &self.globals {
            names[slot as usize] = name.clone();
        }
        self.program.global_names = names;
        self.program.prelude_cacheable = self.prelude_is_pure();
        self.bind_per_handler();
        self.program
    }

    /// Narrows each handler's request variables and path parameters to the globals it can
    /// reach: its own chunk, the prelude (which runs before it) and every function either calls.
    fn bind_per_handler(&mut self) {
        let p = &mut self.program;
        for handler in &mut p.handlers {
            let mut reached = vec![false; p.global_names.len()];
            walk_reachable(&p.functions, &[&p.prelude, &handler.chunk], |op| {
                if let Some(r) = op.global().and_then(|g| reached.get_mut(g as usize)) {
                    *r = true;
                }
                true
            });
            handler.request_slots = p.request_slots.only(&reached);
            for (_, slot) in &mut handler.params {
                *slot = slot.filter(|&g| reached.get(g as usize) == Some(&true));
            }
        }
    }

    fn file_name(&self, file: u16) -> Arc<str> {
        self.ast
            .files
            .get(file as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from("-"))
    }

    /// LANGUAGE.md 10.3: the prelude may run once only if neither it nor anything it calls
    /// prints, touches a request variable, reads the clock or the environment, or responds.
    fn prelude_is_pure(&self) -> bool {
        let p = &self.program;
        let is_request_global = |g: u32| {
            p.request_slots.is_request_slot(g)
                || p.global_names
                    .get(g as usize)
                    .is_some_and(|n| n.starts_with("param_"))
        };
        walk_reachable(&p.functions, &[&p.prelude], |op| {
            !op.global().is_some_and(is_request_global)
                && match *op {
                    Op::Print | Op::Respond(_) => false,
                    Op::CallBuiltin(b, _) => p.builtins[b as usize].effect == Effect::Pure,
                    _ => true,
                }
        })
    }

    fn function(&mut self, def: &ast::FnDef) -> Function {
        let mut locals: HashMap<Arc<str>, u32> = HashMap::new();
        let mut local_names: Vec<Arc<str>> = Vec::new();
        for p in &def.params {
            if !locals.contains_key(&p.name) {
                locals.insert(p.name.clone(), local_names.len() as u32);
                local_names.push(p.name.clone());
            }
        }
        let arity = def.params.len() as u32;
        for name in assigned_names(&def.body) {
            if !locals.contains_key(&name) {
                locals.insert(name.clone(), local_names.len() as u32);
                local_names.push(name);
            }
        }
        self.scope = Some(FnScope { locals, arity });
        let mut chunk = Chunk::default();
        for stmt in &def.body {
            self.stmt(&mut chunk, stmt);
        }
        let span = def.name.span;
        chunk.emit(Op::Nil, span.file, span.pos);
        chunk.emit(Op::Return, span.file, span.pos);
        self.scope = None;
        Function {
            name: def.name.name.clone(),
            arity,
            local_names,
            chunk,
        }
    }

    fn global(&mut self, name: &Arc<str>) -> u32 {
        if let Some(&g) = self.globals.get(name) {
            return g;
        }
        let g = self.globals.len() as u32;
        self.globals.insert(name.clone(), g);
        g
    }

    fn str_const(&mut self, s: &Arc<str>) -> u32 {
        if let Some(&k) = self.str_consts.get(s) {
            return k;
        }
        let k = self.program.consts.len() as u32;
        self.program.consts.push(Value::str(s));
        self.str_consts.insert(s.clone(), k);
        k
    }

    fn num_const(&mut self, n: Decimal) -> u32 {
        if let Some(&k) = self.num_consts.get(&n) {
            return k;
        }
        let k = self.program.consts.len() as u32;
        self.program.consts.push(Value::Num(n));
        self.num_consts.insert(n, k);
        k
    }

    fn value_const(&mut self, v: Value) -> u32 {
        let k = self.program.consts.len() as u32;
        self.program.consts.push(v);
        k
    }

    fn load(&mut self, chunk: &mut Chunk, name: &Arc<str>, span: Span) {
        let op = match &self.scope {
            Some(scope) => match scope.locals.get(name) {
                Some(&l) if l < scope.arity => Op::LoadLocal(l),
                Some(&l) => Op::LoadLocalOr(l, self.global(name)),
                None => Op::LoadGlobal(self.global(name)),
            },
            None => Op::LoadGlobal(self.global(name)),
        };
        chunk.emit(op, span.file, span.pos);
    }

    fn store(&mut self, chunk: &mut Chunk, name: &Arc<str>, span: Span) {
        let op = match self.local(name) {
            Some(l) => Op::StoreLocal(l),
            None => Op::StoreGlobal(self.global(name)),
        };
        chunk.emit(op, span.file, span.pos);
    }

    /// The local slot of `name` inside a function (every assigned name has one).
    fn local(&self, name: &Arc<str>) -> Option<u32> {
        self.scope
            .as_ref()
            .and_then(|s| s.locals.get(name).copied())
    }

    fn stmt(&mut self, chunk: &mut Chunk, stmt: &Stmt) {
        let span = stmt.span;
        match &stmt.kind {
            StmtKind::Assign { ty, name, value } => {
                match value {
                    Some(e) => {
                        if let Some(v) = self.as_self_append(name, e) {
                            self.expr(chunk, v);
                            let op = match self.local(&name.name) {
                                Some(l) => Op::AppendLocal(l, self.global(&name.name)),
                                None => Op::AppendGlobal(self.global(&name.name)),
                            };
                            chunk.emit(op, e.span.file, e.span.pos);
                            return;
                        }
                        if let Some((arith, n)) = as_self_arith_const(name, e) {
                            let k = self.num_const(n);
                            let op = match self.local(&name.name) {
                                Some(l) => Op::ArithLocalK(arith, l, self.global(&name.name), k),
                                None => Op::ArithGlobalK(arith, self.global(&name.name), k),
                            };
                            chunk.emit(op, e.span.file, e.span.pos);
                            return;
                        }
                        self.expr(chunk, e);
                    }
                    None => {
                        let default = default_value(*ty);
                        let k = self.value_const(default);
                        chunk.emit(Op::Const(k), span.file, span.pos);
                    }
                }
                self.store(chunk, &name.name, name.span);
            }
            StmtKind::SetIndex { name, index, value } => {
                self.expr(chunk, index);
                self.expr(chunk, value);
                let op = match self.local(&name.name) {
                    Some(l) => Op::SetIndexLocal(l, self.global(&name.name)),
                    None => Op::SetIndexGlobal(self.global(&name.name)),
                };
                chunk.emit(op, name.span.file, name.span.pos);
            }
            StmtKind::SetField { name, field, value } => {
                self.expr(chunk, value);
                let k = self.str_const(&field.name);
                let op = match self.local(&name.name) {
                    Some(l) => Op::SetFieldLocal(l, self.global(&name.name), k),
                    None => Op::SetFieldGlobal(self.global(&name.name), k),
                };
                chunk.emit(op, name.span.file, name.span.pos);
            }
            StmtKind::Call { name, args } => {
                self.call(chunk, name, args);
                chunk.emit(Op::Pop, span.file, span.pos);
            }
            StmtKind::Print(e) => {
                self.expr(chunk, e);
                chunk.emit(Op::Print, span.file, span.pos);
            }
            StmtKind::If {
                cond,
                then_block,
                else_block,
            } => {
                let to_else = self.jump_unless(chunk, cond);
                self.block(chunk, then_block);
                match else_block {
                    Some(else_block) => {
                        let to_end = chunk.emit(Op::Jump(0), span.file, span.pos);
                        patch(chunk, to_else);
                        self.block(chunk, else_block);
                        patch(chunk, to_end);
                    }
                    None => patch(chunk, to_else),
                }
            }
            StmtKind::While { cond, body } => {
                let start = chunk.ops.len() as u32;
                let to_end = self.jump_unless(chunk, cond);
                self.block(chunk, body);
                chunk.emit(Op::Jump(start), span.file, span.pos);
                patch(chunk, to_end);
            }
            StmtKind::ForEach {
                var,
                iterable,
                body,
            } => {
                self.expr(chunk, iterable);
                chunk.emit(Op::IterInit, iterable.span.file, iterable.span.pos);
                let next = chunk.emit(Op::IterNext(0), span.file, span.pos);
                self.store(chunk, &var.name, var.span);
                self.block(chunk, body);
                chunk.emit(Op::Jump(next as u32), span.file, span.pos);
                patch(chunk, next);
            }
            StmtKind::Function(_) | StmtKind::Import { .. } | StmtKind::Route(_) => {}
            StmtKind::Return(value) => {
                match value {
                    Some(e) => self.expr(chunk, e),
                    None => {
                        chunk.emit(Op::Nil, span.file, span.pos);
                    }
                }
                let op = if self.scope.is_some() {
                    Op::Return
                } else {
                    Op::ReturnOutside
                };
                chunk.emit(op, span.file, span.pos);
            }
            StmtKind::Response {
                status,
                body,
                headers,
            } => {
                self.expr(chunk, status);
                self.expr(chunk, body);
                if let Some(h) = headers {
                    self.expr(chunk, h);
                }
                chunk.emit(Op::Respond(headers.is_some()), span.file, span.pos);
            }
        }
    }

    /// Evaluates an if/while condition and emits the jump taken when it is false, fusing a
    /// comparison (and a literal right operand) into the jump. Returns the jump to patch.
    fn jump_unless(&mut self, chunk: &mut Chunk, cond: &Expr) -> usize {
        let (file, pos) = (cond.span.file, cond.span.pos);
        if let ExprKind::Binary { op, lhs, rhs } = &cond.kind {
            if let Some(cmp) = comparison(*op) {
                if let (ExprKind::Var(name), ExprKind::Num(n), None) =
                    (&lhs.kind, &rhs.kind, &self.scope)
                {
                    let (g, k) = (self.global(name), self.num_const(*n));
                    return chunk.emit(Op::JumpUnlessGlobalK(cmp, g, k, 0), file, pos);
                }
                self.expr(chunk, lhs);
                if let ExprKind::Num(n) = rhs.kind {
                    let k = self.num_const(n);
                    return chunk.emit(Op::JumpUnlessK(cmp, k, 0), file, pos);
                }
                self.expr(chunk, rhs);
                return chunk.emit(Op::JumpUnless(cmp, 0), file, pos);
            }
        }
        self.expr(chunk, cond);
        chunk.emit(Op::JumpIfFalse(0), file, pos)
    }

    fn block(&mut self, chunk: &mut Chunk, stmts: &[Stmt]) {
        for s in stmts {
            self.stmt(chunk, s);
        }
    }

    /// `x = இணை(x, v);` with the builtin append (not shadowed): the value to append.
    fn as_self_append<'e>(&self, name: &ast::Ident, e: &'e Expr) -> Option<&'e Expr> {
        let ExprKind::Call { name: callee, args } = &e.kind else {
            return None;
        };
        if args.len() != 2 || self.functions.contains_key(&callee.name) {
            return None;
        }
        let builtin = builtins::lookup(&callee.name)?;
        if builtin.name != "இணை" {
            return None;
        }
        match &args[0].kind {
            ExprKind::Var(v) if *v == name.name => Some(&args[1]),
            _ => None,
        }
    }

    fn call(&mut self, chunk: &mut Chunk, name: &ast::Ident, args: &[Expr]) {
        for a in args {
            self.expr(chunk, a);
        }
        let argc = args.len() as u32;
        let span = name.span;
        let op = if let Some(&f) = self.functions.get(&name.name) {
            Op::Call(f, argc)
        } else if let Some(b) = builtins::lookup(&name.name) {
            let next = self.builtin_slots.len() as u32;
            let slot = *self.builtin_slots.entry(b.name).or_insert(next);
            if slot == next {
                self.program.builtins.push(b);
            }
            Op::CallBuiltin(slot, argc)
        } else {
            Op::CallUnknown(self.str_const(&name.name), argc)
        };
        chunk.emit(op, span.file, span.pos);
    }

    /// `a && b` / `a || b`: when `a` alone decides (`jump` taken), the result is `decided`;
    /// otherwise it is `b` as a boolean.
    fn short_circuit(
        &mut self,
        chunk: &mut Chunk,
        (a, b): (&Expr, &Expr),
        (jump, decided): (Op, Op),
        (file, pos): (u16, Pos),
    ) {
        self.expr(chunk, a);
        let to_decided = chunk.emit(jump, file, pos);
        self.expr(chunk, b);
        chunk.emit(Op::ToBool, file, pos);
        let to_end = chunk.emit(Op::Jump(0), file, pos);
        patch(chunk, to_decided);
        chunk.emit(decided, file, pos);
        patch(chunk, to_end);
    }

    fn expr(&mut self, chunk: &mut Chunk, e: &Expr) {
        let (file, pos) = (e.span.file, e.span.pos);
        match &e.kind {
            ExprKind::Num(n) => {
                let k = self.num_const(*n);
                chunk.emit(Op::Const(k), file, pos);
            }
            ExprKind::Str(s) => {
                let k = self.str_const(s);
                chunk.emit(Op::Const(k), file, pos);
            }
            ExprKind::Bool(b) => {
                chunk.emit(if *b { Op::True } else { Op::False }, file, pos);
            }
            ExprKind::Nil => {
                chunk.emit(Op::Nil, file, pos);
            }
            ExprKind::Array(items) => {
                for item in items {
                    self.expr(chunk, item);
                }
                chunk.emit(Op::MakeArray(items.len() as u32), file, pos);
            }
            ExprKind::Record(fields) => {
                for (_, value) in fields {
                    self.expr(chunk, value);
                }
                let keys = fields.iter().map(|(k, _)| k.name.clone()).collect();
                let k = self.program.key_lists.len() as u32;
                self.program.key_lists.push(keys);
                chunk.emit(Op::MakeRecord(k), file, pos);
            }
            ExprKind::Var(name) => self.load(chunk, name, e.span),
            ExprKind::Call { name, args } => self.call(chunk, name, args),
            ExprKind::Neg(inner) => {
                self.expr(chunk, inner);
                chunk.emit(Op::Neg, file, pos);
            }
            ExprKind::Not(inner) => {
                self.expr(chunk, inner);
                chunk.emit(Op::Not, file, pos);
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.expr(chunk, lhs);
                if let (Some(arith), ExprKind::Num(n)) = (arithmetic(*op), &rhs.kind) {
                    let k = self.num_const(*n);
                    chunk.emit(Op::ArithK(arith, k), file, pos);
                    return;
                }
                self.expr(chunk, rhs);
                let op = match (arithmetic(*op), comparison(*op)) {
                    (Some(arith), _) => Op::Arith(arith),
                    (_, Some(cmp)) => Op::Compare(cmp),
                    _ => Op::Concat,
                };
                chunk.emit(op, file, pos);
            }
            ExprKind::And(a, b) => {
                self.short_circuit(chunk, (a, b), (Op::JumpIfFalse(0), Op::False), (file, pos));
            }
            ExprKind::Or(a, b) => {
                self.short_circuit(chunk, (a, b), (Op::JumpIfTrue(0), Op::True), (file, pos));
            }
            ExprKind::Index { target, index } => {
                self.expr(chunk, target);
                self.expr(chunk, index);
                chunk.emit(Op::Index, file, pos);
            }
            ExprKind::Field { target, field } => {
                self.expr(chunk, target);
                let k = self.str_const(field);
                chunk.emit(Op::Field(k), file, pos);
            }
            ExprKind::Try(inner) => {
                self.expr(chunk, inner);
                chunk.emit(Op::Try, file, pos);
            }
        }
    }
}

/// Visits every op of `roots` and of every function they call, transitively, each chunk once.
/// Stops as soon as `visit` returns false, and then returns false.
fn walk_reachable<'c>(
    functions: &'c [Function],
    roots: &[&'c Chunk],
    mut visit: impl FnMut(&Op) -> bool,
) -> bool {
    let mut seen = vec![false; functions.len()];
    let mut work: Vec<&Chunk> = roots.to_vec();
    while let Some(chunk) = work.pop() {
        for op in &chunk.ops {
            if !visit(op) {
                return false;
            }
            if let Op::Call(f, _) = *op {
                if !std::mem::replace(&mut seen[f as usize], true) {
                    work.push(&functions[f as usize].chunk);
                }
            }
        }
    }
    true
}

/// Points the jump at `at` to the next op to be emitted.
fn patch(chunk: &mut Chunk, at: usize) {
    let target = chunk.ops.len() as u32;
    chunk.ops[at] = match chunk.ops[at] {
        Op::Jump(_) => Op::Jump(target),
        Op::JumpIfFalse(_) => Op::JumpIfFalse(target),
        Op::JumpIfTrue(_) => Op::JumpIfTrue(target),
        Op::IterNext(_) => Op::IterNext(target),
        Op::JumpUnless(cmp, _) => Op::JumpUnless(cmp, target),
        Op::JumpUnlessK(cmp, k, _) => Op::JumpUnlessK(cmp, k, target),
        Op::JumpUnlessGlobalK(cmp, g, k, _) => Op::JumpUnlessGlobalK(cmp, g, k, target),
        other => other,
    };
}

fn arithmetic(op: BinOp) -> Option<Arith> {
    match op {
        BinOp::Add => Some(Arith::Add),
        BinOp::Sub => Some(Arith::Sub),
        BinOp::Mul => Some(Arith::Mul),
        BinOp::Div => Some(Arith::Div),
        _ => None,
    }
}

fn comparison(op: BinOp) -> Option<Cmp> {
    match op {
        BinOp::Eq => Some(Cmp::Eq),
        BinOp::Ne => Some(Cmp::Ne),
        BinOp::Lt => Some(Cmp::Lt),
        BinOp::Le => Some(Cmp::Le),
        BinOp::Gt => Some(Cmp::Gt),
        BinOp::Ge => Some(Cmp::Ge),
        _ => None,
    }
}

/// `x = x OP literal;`: the operator and the literal, for an in-place update.
fn as_self_arith_const(name: &ast::Ident, e: &Expr) -> Option<(Arith, Decimal)> {
    let ExprKind::Binary { op, lhs, rhs } = &e.kind else {
        return None;
    };
    match (&lhs.kind, &rhs.kind) {
        (ExprKind::Var(v), ExprKind::Num(n)) if *v == name.name => Some((arithmetic(*op)?, *n)),
        _ => None,
    }
}

/// The value of `type name;` (LANGUAGE.md 6.1): the type's empty value; 0 without a type.
fn default_value(ty: Option<TypeKw>) -> Value {
    match ty {
        None | Some(TypeKw::Number) | Some(TypeKw::Decimal) => Value::Num(Decimal::ZERO),
        Some(TypeKw::String) | Some(TypeKw::Text) | Some(TypeKw::Date) => Value::str(""),
        Some(TypeKw::Boolean) => Value::Bool(false),
        Some(TypeKw::Array) => Value::Array(Array::empty()),
        Some(TypeKw::Record) | Some(TypeKw::Data) => Value::Record(Record::empty()),
    }
}

/// Every name a function body assigns (its locals besides the parameters), in first-seen
/// order; nested function definitions are other functions and are skipped.
fn assigned_names(body: &[Stmt]) -> Vec<Arc<str>> {
    let mut names: Vec<Arc<str>> = Vec::new();
    visit_stmts(body, false, |stmt| match &stmt.kind {
        StmtKind::Assign { name, .. }
        | StmtKind::SetIndex { name, .. }
        | StmtKind::SetField { name, .. } => names.push(name.name.clone()),
        StmtKind::ForEach { var, .. } => names.push(var.name.clone()),
        _ => {}
    });
    names
}

/// Visits statements depth-first in source order, entering if/else, while, for-each and route
/// blocks, and function bodies when `into_functions`. An explicit stack: no native recursion.
fn visit_stmts<'a>(stmts: &'a [Stmt], into_functions: bool, mut visit: impl FnMut(&'a Stmt)) {
    let mut stack: Vec<std::slice::Iter<'a, Stmt>> = vec![stmts.iter()];
    while let Some(top) = stack.last_mut() {
        let Some(stmt) = top.next() else {
            stack.pop();
            continue;
        };
        visit(stmt);
        match &stmt.kind {
            StmtKind::Function(def) if into_functions => stack.push(def.body.iter()),
            StmtKind::If {
                then_block,
                else_block,
                ..
            } => {
                if let Some(e) = else_block {
                    stack.push(e.iter());
                }
                stack.push(then_block.iter());
            }
            StmtKind::While { body, .. } | StmtKind::ForEach { body, .. } => {
                stack.push(body.iter())
            }
            StmtKind::Route(r) => stack.push(r.body.iter()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    /// A request binds only the variables its own route can reach (through functions and the
    /// prelude too); the other routes' mentions cost it nothing.
    #[test]
    fn request_variables_are_bound_per_handler() {
        let source = r#"
            செயல் ct() { திரும்பு புலம்_அல்லது(headers, "content-type", ""); }
            வழி பெறு, "/a/:x" { பதில் 200, param_x; }
            வழி பெறு, "/b" { பதில் 200, ct(); }
            வழி பெறு, "/c" { பதில் 200, query_params; }
        "#;
        let program = super::super::compile_source(source, "t.qmz", std::path::Path::new("."))
            .expect("compiles");
        let [a, b, c] = &program.handlers[..] else {
            panic!("three handlers");
        };
        assert!(a.request_slots.headers.is_none() && a.request_slots.query.is_none());
        assert!(a.params[0].1.is_some());
        assert!(b.request_slots.headers.is_some() && b.request_slots.query.is_none());
        assert!(c.request_slots.query.is_some() && c.request_slots.headers.is_none());
    }
}
