//! The VM: runs a compiled `Program` with fresh state under a `Budget`.
//!
//! Owns: the dispatch loop, call frames (user functions never recurse natively, so the call
//! depth limit is a counter, not a stack overflow), for-each iterators, request-variable
//! binding, response validation (LANGUAGE.md 10.5) and the prelude snapshot (10.3).
//! The budget is checked with one comparison per instruction; the clock is read only every
//! `CHECK_INTERVAL` instructions (Lua's hook count idea). Nothing here prints: `அச்சு` goes to
//! the `Output` the caller passes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::builtins::Effect;
use super::chunk::{Arith, Chunk, Cmp, Handler, Op, PreludeSnapshot, Program};
use super::error::{Limit, RtResult, RuntimeError};
use super::value::{heap, Array, Record, Value};
use super::{json, num, text, Budget, Outcome, Output, RequestInput, Response, ResponseHeader};

/// Active user-function calls allowed (LANGUAGE.md 7.2).
pub const MAX_CALL_DEPTH: usize = 256;
/// Instructions between two reads of the clock and the memory counter.
const CHECK_INTERVAL: u64 = 1024;

/// Runs the top-level statements (run mode): routes inert, request variables unbound.
pub fn run_main(
    program: &Program,
    out: &mut dyn Output,
    budget: &Budget,
) -> Result<Outcome, RuntimeError> {
    let mut vm = Vm::new(program, out, budget, Mode::Run, 0);
    heap::begin_run(0, budget.max_memory_bytes);
    vm.execute(&program.prelude)
}

/// Serve mode: fresh globals, the request variables, the prelude, then route `route`'s
/// handler (LANGUAGE.md 10.3).
pub fn run_route(
    program: &Program,
    route: usize,
    request: &RequestInput,
    out: &mut dyn Output,
    budget: &Budget,
) -> Result<Outcome, RuntimeError> {
    let Some(handler) = program.handlers.get(route) else {
        return Err(RuntimeError::new(
            "அறியப்படாத வழி",
            format!("no route number {route}"),
        ));
    };
    let snapshot = if program.prelude_cacheable {
        program
            .prelude_snapshot
            .get_or_init(|| take_prelude_snapshot(program, budget))
            .as_ref()
    } else {
        None
    };
    match snapshot {
        Some(snap) => {
            let mut vm = Vm::new(program, out, budget, Mode::Serve, snap.instructions);
            vm.globals.clone_from(&snap.globals);
            vm.bind_request(handler, request);
            heap::begin_run(snap.memory_bytes, budget.max_memory_bytes);
            vm.execute(&handler.chunk)
        }
        None => {
            let mut vm = Vm::new(program, out, budget, Mode::Serve, 0);
            vm.bind_request(handler, request);
            heap::begin_run(0, budget.max_memory_bytes);
            match vm.execute(&program.prelude)? {
                Outcome::Finished => vm.execute(&handler.chunk),
                other => Ok(other),
            }
        }
    }
}

/// Runs the prelude once; keeps its globals only if it finished cleanly (10.3).
fn take_prelude_snapshot(program: &Program, budget: &Budget) -> Option<PreludeSnapshot> {
    let mut discard = super::Discard;
    let mut vm = Vm::new(program, &mut discard, budget, Mode::Serve, 0);
    heap::begin_run(0, budget.max_memory_bytes);
    match vm.execute(&program.prelude) {
        Ok(Outcome::Finished) => Some(PreludeSnapshot {
            instructions: vm.instructions,
            memory_bytes: heap::live_bytes(),
            globals: std::mem::take(&mut vm.globals),
        }),
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Run,
    Serve,
}

/// A suspended caller.
struct Frame<'p> {
    chunk: &'p Chunk,
    ip: usize,
    locals_base: usize,
    /// Stack height the callee's return value is pushed at.
    stack_base: usize,
    iter_base: usize,
}

/// One for-each in progress: a snapshot of the collection and the next position.
enum Iter {
    Array(Array, usize),
    Values(Vec<Value>, usize),
}

struct Vm<'p, 'o> {
    program: &'p Program,
    out: &'o mut dyn Output,
    mode: Mode,
    globals: Vec<Option<Value>>,
    stack: Vec<Value>,
    locals: Vec<Option<Value>>,
    frames: Vec<Frame<'p>>,
    iters: Vec<Iter>,
    instructions: u64,
    /// Instruction count at which the budget is checked next.
    check_at: u64,
    max_instructions: u64,
    deadline: Option<Instant>,
    timeout: Option<Duration>,
}

macro_rules! tri {
    ($vm:ident, $chunk:ident, $ip:ident, $e:expr) => {
        match $e {
            Ok(v) => v,
            Err(err) => return Err($vm.locate(err, $chunk, $ip - 1)),
        }
    };
}

impl<'p, 'o> Vm<'p, 'o> {
    fn new(
        program: &'p Program,
        out: &'o mut dyn Output,
        budget: &Budget,
        mode: Mode,
        instructions: u64,
    ) -> Vm<'p, 'o> {
        let max_instructions = if budget.max_instructions == 0 {
            u64::MAX
        } else {
            budget.max_instructions
        };
        Vm {
            program,
            out,
            mode,
            globals: vec![None; program.global_names.len()],
            stack: Vec::with_capacity(64),
            locals: Vec::new(),
            frames: Vec::new(),
            iters: Vec::new(),
            instructions,
            check_at: instructions.min(max_instructions),
            max_instructions,
            deadline: budget.timeout.map(|t| Instant::now() + t),
            timeout: budget.timeout,
        }
    }

    /// Attaches the position (and module file) of the op at `at` to an error.
    fn locate(&self, err: RuntimeError, chunk: &Chunk, at: usize) -> RuntimeError {
        let Some(&(file, pos)) = chunk.positions.get(at) else {
            return err;
        };
        let mut err = err.at(pos);
        if file != 0 && err.file.is_none() {
            err.file = self.program.files.get(file as usize).cloned();
        }
        err
    }

    fn check_budget(&mut self) -> RtResult<()> {
        if self.instructions > self.max_instructions {
            let n = self.max_instructions;
            return Err(RuntimeError::limit(
                Limit::Instructions,
                format!("அறிவுறுத்தல் வரம்பு மீறப்பட்டது (வரம்பு {n})"),
                format!("instruction limit exceeded (limit is {n})"),
            ));
        }
        if let (Some(deadline), Some(timeout)) = (self.deadline, self.timeout) {
            if Instant::now() >= deadline {
                let t = format_duration(timeout);
                return Err(RuntimeError::limit(
                    Limit::Deadline,
                    format!("நேர வரம்பு மீறப்பட்டது (வரம்பு {t})"),
                    format!("time limit exceeded (limit is {t})"),
                ));
            }
        }
        if heap::exceeded() {
            return Err(heap::memory_error());
        }
        self.check_at = self
            .instructions
            .saturating_add(CHECK_INTERVAL)
            .min(self.max_instructions.saturating_add(1));
        Ok(())
    }

    #[inline]
    fn pop(&mut self) -> Value {
        self.stack.pop().unwrap_or_default()
    }

    #[inline]
    fn global(&self, g: u32) -> RtResult<Value> {
        match self.globals.get(g as usize) {
            Some(Some(v)) => Ok(v.clone()),
            _ => Err(undefined(&self.program.global_names[g as usize])),
        }
    }

    /// Takes a container out of a global for an in-place update.
    fn take_global(&mut self, g: u32) -> RtResult<Value> {
        match self.globals.get_mut(g as usize).and_then(Option::take) {
            Some(v) => Ok(v),
            None => Err(undefined(&self.program.global_names[g as usize])),
        }
    }

    /// Takes a function's local for an in-place update, or copies the global of that name
    /// (a function never changes a global, 7.1).
    fn take_local_or_global(&mut self, slot: usize, g: u32) -> RtResult<Value> {
        match self.locals.get_mut(slot).and_then(Option::take) {
            Some(v) => Ok(v),
            None => self.global(g),
        }
    }

    fn execute(&mut self, top: &'p Chunk) -> Result<Outcome, RuntimeError> {
        let mut chunk: &'p Chunk = top;
        let mut ip = 0usize;
        let mut locals_base = self.locals.len();
        // The count lives in a register; `self.instructions` is synced at budget checks and
        // at the end of the chunk (the prelude snapshot charges it to every request).
        let mut count = self.instructions;
        loop {
            let Some(&op) = chunk.ops.get(ip) else {
                self.instructions = count;
                return Ok(Outcome::Finished);
            };
            ip += 1;
            count += 1;
            if count >= self.check_at {
                self.instructions = count;
                tri!(self, chunk, ip, self.check_budget());
            }
            match op {
                Op::Const(k) => self.stack.push(self.program.consts[k as usize].clone()),
                Op::Nil => self.stack.push(Value::Nil),
                Op::True => self.stack.push(Value::Bool(true)),
                Op::False => self.stack.push(Value::Bool(false)),
                Op::LoadGlobal(g) => {
                    let v = tri!(self, chunk, ip, self.global(g));
                    self.stack.push(v);
                }
                Op::LoadLocal(l) => {
                    let v = self
                        .locals
                        .get(locals_base + l as usize)
                        .cloned()
                        .flatten()
                        .unwrap_or_default();
                    self.stack.push(v);
                }
                Op::LoadLocalOr(l, g) => {
                    let v = match self.locals.get(locals_base + l as usize) {
                        Some(Some(v)) => v.clone(),
                        _ => tri!(self, chunk, ip, self.global(g)),
                    };
                    self.stack.push(v);
                }
                Op::StoreGlobal(g) => {
                    let v = self.pop();
                    self.globals[g as usize] = Some(v);
                }
                Op::StoreLocal(l) => {
                    let v = self.pop();
                    self.locals[locals_base + l as usize] = Some(v);
                }
                Op::SetIndexGlobal(g) => {
                    let value = self.pop();
                    let index = self.pop();
                    let mut target = tri!(self, chunk, ip, self.take_global(g));
                    tri!(self, chunk, ip, set_index(&mut target, &index, value));
                    self.globals[g as usize] = Some(target);
                    tri!(self, chunk, ip, check_memory());
                }
                Op::SetIndexLocal(l, g) => {
                    let value = self.pop();
                    let index = self.pop();
                    let slot = locals_base + l as usize;
                    let mut target = tri!(self, chunk, ip, self.take_local_or_global(slot, g));
                    tri!(self, chunk, ip, set_index(&mut target, &index, value));
                    self.locals[slot] = Some(target);
                    tri!(self, chunk, ip, check_memory());
                }
                Op::SetFieldGlobal(g, k) => {
                    let value = self.pop();
                    let mut target = tri!(self, chunk, ip, self.take_global(g));
                    tri!(
                        self,
                        chunk,
                        ip,
                        set_field(&mut target, &self.program.consts[k as usize], value)
                    );
                    self.globals[g as usize] = Some(target);
                    tri!(self, chunk, ip, check_memory());
                }
                Op::SetFieldLocal(l, g, k) => {
                    let value = self.pop();
                    let slot = locals_base + l as usize;
                    let mut target = tri!(self, chunk, ip, self.take_local_or_global(slot, g));
                    tri!(
                        self,
                        chunk,
                        ip,
                        set_field(&mut target, &self.program.consts[k as usize], value)
                    );
                    self.locals[slot] = Some(target);
                    tri!(self, chunk, ip, check_memory());
                }
                Op::AppendGlobal(g) => {
                    let value = self.pop();
                    let mut target = tri!(self, chunk, ip, self.take_global(g));
                    tri!(self, chunk, ip, append(&mut target, value));
                    self.globals[g as usize] = Some(target);
                    tri!(self, chunk, ip, check_memory());
                }
                Op::AppendLocal(l, g) => {
                    let value = self.pop();
                    let slot = locals_base + l as usize;
                    let mut target = tri!(self, chunk, ip, self.take_local_or_global(slot, g));
                    tri!(self, chunk, ip, append(&mut target, value));
                    self.locals[slot] = Some(target);
                    tri!(self, chunk, ip, check_memory());
                }
                Op::Pop => {
                    self.stack.pop();
                }
                Op::Arith(arith) => {
                    let b = self.pop();
                    let a = self.pop();
                    let r = tri!(self, chunk, ip, arithmetic(arith, &a, &b));
                    self.stack.push(Value::Num(r));
                }
                Op::ArithK(arith, k) => {
                    let a = self.pop();
                    let r = tri!(
                        self,
                        chunk,
                        ip,
                        arithmetic(arith, &a, &self.program.consts[k as usize])
                    );
                    self.stack.push(Value::Num(r));
                }
                Op::ArithGlobalK(arith, g, k) => {
                    let k = &self.program.consts[k as usize];
                    if let (Some(Some(Value::Num(x))), Value::Num(y)) =
                        (self.globals.get_mut(g as usize), k)
                    {
                        // Overwrite the number in place: no drop of the old value needed.
                        match number_fast(arith, *x, *y) {
                            Some(r) => *x = r,
                            None => {
                                return Err(self.locate(number_error(arith, *y), chunk, ip - 1))
                            }
                        }
                    } else {
                        let a = tri!(self, chunk, ip, self.global(g));
                        let r = tri!(self, chunk, ip, arithmetic(arith, &a, k));
                        self.globals[g as usize] = Some(Value::Num(r));
                    }
                }
                Op::ArithLocalK(arith, l, g, k) => {
                    let slot = locals_base + l as usize;
                    let k = &self.program.consts[k as usize];
                    let r = match (&self.locals[slot], k) {
                        (Some(Value::Num(x)), Value::Num(y)) => {
                            tri!(self, chunk, ip, number_op(arith, *x, *y))
                        }
                        (Some(a), _) => tri!(self, chunk, ip, arithmetic(arith, a, k)),
                        (None, _) => {
                            let a = tri!(self, chunk, ip, self.global(g));
                            tri!(self, chunk, ip, arithmetic(arith, &a, k))
                        }
                    };
                    self.locals[slot] = Some(Value::Num(r));
                }
                Op::Concat => {
                    let b = self.pop();
                    let a = self.pop();
                    let r = tri!(self, chunk, ip, concat(&a, &b));
                    self.stack.push(r);
                }
                Op::Neg => {
                    let a = self.pop();
                    let n = tri!(self, chunk, ip, a.to_number());
                    self.stack.push(Value::Num(-n));
                }
                Op::Not => {
                    let a = self.pop();
                    self.stack.push(Value::Bool(!a.truthy()));
                }
                Op::ToBool => {
                    let a = self.pop();
                    self.stack.push(Value::Bool(a.truthy()));
                }
                Op::Compare(cmp) => {
                    let b = self.pop();
                    let a = self.pop();
                    let r = tri!(self, chunk, ip, compare(cmp, &a, &b));
                    self.stack.push(Value::Bool(r));
                }
                Op::JumpUnless(cmp, t) => {
                    let b = self.pop();
                    let a = self.pop();
                    if !tri!(self, chunk, ip, compare(cmp, &a, &b)) {
                        ip = t as usize;
                    }
                }
                Op::JumpUnlessGlobalK(cmp, g, k, t) => {
                    let k = &self.program.consts[k as usize];
                    let holds = match (cmp, self.globals.get(g as usize), k) {
                        (
                            Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge,
                            Some(Some(Value::Num(x))),
                            Value::Num(y),
                        ) => {
                            let ord = num::cmp(x, y);
                            match cmp {
                                Cmp::Lt => ord.is_lt(),
                                Cmp::Le => ord.is_le(),
                                Cmp::Gt => ord.is_gt(),
                                _ => ord.is_ge(),
                            }
                        }
                        _ => {
                            let a = tri!(self, chunk, ip, self.global(g));
                            tri!(self, chunk, ip, compare(cmp, &a, k))
                        }
                    };
                    if !holds {
                        ip = t as usize;
                    }
                }
                Op::JumpUnlessK(cmp, k, t) => {
                    let a = self.pop();
                    if !tri!(
                        self,
                        chunk,
                        ip,
                        compare(cmp, &a, &self.program.consts[k as usize])
                    ) {
                        ip = t as usize;
                    }
                }
                Op::MakeArray(n) => {
                    let at = self.stack.len().saturating_sub(n as usize);
                    let items: Vec<Value> = self.stack.drain(at..).collect();
                    let arr = tri!(self, chunk, ip, Array::new(items));
                    self.stack.push(Value::Array(arr));
                    tri!(self, chunk, ip, check_memory());
                }
                Op::MakeRecord(k) => {
                    let keys = &self.program.key_lists[k as usize];
                    let at = self.stack.len().saturating_sub(keys.len());
                    let map: BTreeMap<Arc<str>, Value> =
                        keys.iter().cloned().zip(self.stack.drain(at..)).collect();
                    let rec = tri!(self, chunk, ip, Record::new(map));
                    self.stack.push(Value::Record(rec));
                    tri!(self, chunk, ip, check_memory());
                }
                Op::Index => {
                    let index = self.pop();
                    let target = self.pop();
                    let v = tri!(self, chunk, ip, get_index(&target, &index));
                    self.stack.push(v);
                }
                Op::Field(k) => {
                    let target = self.pop();
                    let v = tri!(
                        self,
                        chunk,
                        ip,
                        get_field(&target, &self.program.consts[k as usize])
                    );
                    self.stack.push(v);
                }
                Op::Try => {
                    let v = self.pop();
                    match &v {
                        Value::Result(r) if r.is_ok() => self.stack.push(r.value().clone()),
                        Value::Result(r) => {
                            if self.frames.is_empty() {
                                let e = r.value().render();
                                let err = RuntimeError::new(
                                    format!("மேல் மட்டத்தில் கையாளப்படாத பிழை: {e}"),
                                    format!("unhandled error at top level: {e}"),
                                );
                                return Err(self.locate(err, chunk, ip - 1));
                            }
                            // Return the failure itself from the current function.
                            self.stack.push(v);
                            (chunk, ip, locals_base) = self.return_from_call(locals_base);
                        }
                        _ => {
                            let err =
                                RuntimeError::new("'?' க்கு ஒரு விளைவு தேவை", "'?' needs a result");
                            return Err(self.locate(err, chunk, ip - 1));
                        }
                    }
                }
                Op::Jump(t) => ip = t as usize,
                Op::JumpIfFalse(t) => {
                    if !self.pop().truthy() {
                        ip = t as usize;
                    }
                }
                Op::JumpIfTrue(t) => {
                    if self.pop().truthy() {
                        ip = t as usize;
                    }
                }
                Op::IterInit => {
                    let v = self.pop();
                    let it = tri!(self, chunk, ip, iterate(v));
                    self.iters.push(it);
                    tri!(self, chunk, ip, check_memory());
                }
                Op::IterNext(t) => {
                    let next = match self.iters.last_mut() {
                        Some(Iter::Array(a, i)) => {
                            let v = a.get(*i).cloned();
                            *i += 1;
                            v
                        }
                        Some(Iter::Values(vs, i)) => {
                            let v = vs.get_mut(*i).map(std::mem::take);
                            *i += 1;
                            v
                        }
                        None => None,
                    };
                    match next {
                        Some(v) => self.stack.push(v),
                        None => {
                            self.iters.pop();
                            ip = t as usize;
                        }
                    }
                }
                Op::Call(f, argc) => {
                    let function = &self.program.functions[f as usize];
                    if argc != function.arity {
                        let err = arity_error(&function.name, function.arity, argc);
                        return Err(self.locate(err, chunk, ip - 1));
                    }
                    if self.frames.len() >= MAX_CALL_DEPTH {
                        let err = RuntimeError::limit(
                            Limit::CallDepth,
                            format!("அழைப்பு ஆழம் மீறப்பட்டது (வரம்பு {MAX_CALL_DEPTH})"),
                            format!("call depth exceeded (limit is {MAX_CALL_DEPTH})"),
                        );
                        return Err(self.locate(err, chunk, ip - 1));
                    }
                    let args_at = self.stack.len().saturating_sub(argc as usize);
                    self.frames.push(Frame {
                        chunk,
                        ip,
                        locals_base,
                        stack_base: args_at,
                        iter_base: self.iters.len(),
                    });
                    locals_base = self.locals.len();
                    self.locals.extend(self.stack.drain(args_at..).map(Some));
                    self.locals
                        .resize(locals_base + function.local_names.len(), None);
                    chunk = &function.chunk;
                    ip = 0;
                }
                Op::CallBuiltin(b, argc) => {
                    let builtin = self.program.builtins[b as usize];
                    if argc as usize != builtin.arity {
                        let err = arity_error(builtin.name, builtin.arity as u32, argc);
                        return Err(self.locate(err, chunk, ip - 1));
                    }
                    let args_at = self.stack.len().saturating_sub(argc as usize);
                    let result = (builtin.func)(&mut self.stack[args_at..]);
                    self.stack.truncate(args_at);
                    let v = tri!(self, chunk, ip, result);
                    if builtin.effect == Effect::Exit {
                        if self.mode == Mode::Run {
                            let code = v.to_number().ok().and_then(|n| n.to_i32()).unwrap_or(1);
                            return Ok(Outcome::Exit(code));
                        }
                        let err = RuntimeError::new(
                            "கோரிக்கை கையாளியில் வெளியேறு அனுமதிக்கப்படவில்லை",
                            "exit is not allowed in a request handler",
                        );
                        return Err(self.locate(err, chunk, ip - 1));
                    }
                    self.stack.push(v);
                    tri!(self, chunk, ip, check_memory());
                }
                Op::CallUnknown(k, _) => {
                    let name = self.program.consts[k as usize].render();
                    let err = RuntimeError::new(
                        format!("அறியப்படாத செயல் '{name}'"),
                        format!("unknown function '{name}'"),
                    );
                    return Err(self.locate(err, chunk, ip - 1));
                }
                Op::Return => {
                    if self.frames.is_empty() {
                        return Ok(Outcome::Finished);
                    }
                    (chunk, ip, locals_base) = self.return_from_call(locals_base);
                }
                Op::ReturnOutside => {
                    let err = RuntimeError::new(
                        "செயலுக்கு வெளியே திரும்பு",
                        "return outside of a function",
                    );
                    return Err(self.locate(err, chunk, ip - 1));
                }
                Op::Print => {
                    let v = self.pop();
                    match &v {
                        Value::Str(s) => self.out.print(s.as_str()),
                        other => {
                            let text = tri!(self, chunk, ip, other.render_within_budget());
                            self.out.print(&text);
                        }
                    }
                }
                Op::Respond(has_headers) => {
                    let headers = if has_headers { self.pop() } else { Value::Nil };
                    let body = self.pop();
                    let status = self.pop();
                    if self.mode == Mode::Run {
                        return Ok(Outcome::Finished);
                    }
                    let response = tri!(self, chunk, ip, build_response(&status, &body, &headers));
                    return Ok(Outcome::Response(response));
                }
                Op::Halt => {
                    self.instructions = count;
                    return Ok(Outcome::Finished);
                }
            }
        }
    }

    /// Pops the current call: the return value is on top of the stack.
    fn return_from_call(&mut self, locals_base: usize) -> (&'p Chunk, usize, usize) {
        let value = self.pop();
        // Both callers (Return, Try) checked that a frame exists.
        let frame = self
            .frames
            .pop()
            .expect("return_from_call is only reached with a frame");
        self.locals.truncate(locals_base);
        self.iters.truncate(frame.iter_base);
        self.stack.truncate(frame.stack_base);
        self.stack.push(value);
        (frame.chunk, frame.ip, frame.locals_base)
    }

    /// Binds the request variables the program mentions (LANGUAGE.md 10.4).
    fn bind_request(&mut self, handler: &Handler, req: &RequestInput) {
        let slots = &handler.request_slots;
        let mut set = |slot: Option<u32>, make: &dyn Fn() -> Value| {
            if let Some(g) = slot {
                self.globals[g as usize] = Some(make());
            }
        };
        set(slots.method, &|| Value::str(&req.method));
        set(slots.path, &|| Value::str(&req.path));
        set(slots.body, &|| {
            Value::string(String::from_utf8_lossy(&req.body).into_owned())
        });
        set(slots.query, &|| Value::Record(parse_query(&req.query)));
        set(slots.headers, &|| {
            let mut map: BTreeMap<Arc<str>, Value> = BTreeMap::new();
            for (name, value) in req.headers.iter() {
                let value = String::from_utf8_lossy(value);
                map.insert(
                    Arc::from(name.to_ascii_lowercase()),
                    Value::str(value.trim()),
                );
            }
            Record::new(map).map(Value::Record).unwrap_or_default()
        });
        set(slots.path_params, &|| {
            Value::Record(Record::from_pairs(
                req.params.iter().map(|(k, v)| (&**k, v.as_str())),
            ))
        });
        for (name, slot) in &handler.params {
            if let Some(g) = slot {
                let value = req
                    .params
                    .iter()
                    .rev()
                    .find(|(k, _)| **k == **name)
                    .map(|(_, v)| v.as_str())
                    .unwrap_or("");
                self.globals[*g as usize] = Some(Value::str(value));
            }
        }
    }
}

fn undefined(name: &str) -> RuntimeError {
    RuntimeError::new(
        format!("வரையறுக்கப்படாத மாறி '{name}'"),
        format!("undefined variable '{name}'"),
    )
}

fn arity_error(name: &str, expected: u32, got: u32) -> RuntimeError {
    RuntimeError::new(
        format!("செயல் '{name}' க்கு {expected} உள்ளீடு(கள்) தேவை, {got} கிடைத்தது"),
        format!("function '{name}' expects {expected} argument(s), got {got}"),
    )
}

fn overflow() -> RuntimeError {
    RuntimeError::new("எண் வழிதல்", "number overflow")
}

#[inline]
fn check_memory() -> RtResult<()> {
    if heap::exceeded() {
        Err(heap::memory_error())
    } else {
        Ok(())
    }
}

/// `+ - * /` on exact decimals (LANGUAGE.md 4.2, 5.2).
#[inline]
fn arithmetic(op: Arith, a: &Value, b: &Value) -> RtResult<Decimal> {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => number_op(op, *x, *y),
        _ => number_op(op, a.to_number()?, b.to_number()?),
    }
}

#[inline]
fn number_op(op: Arith, x: Decimal, y: Decimal) -> RtResult<Decimal> {
    match number_fast(op, x, y) {
        Some(r) => Ok(r),
        None => Err(number_error(op, y)),
    }
}

/// The operation, or None for an overflow or a zero divisor (`number_error` tells which).
#[inline(always)]
fn number_fast(op: Arith, x: Decimal, y: Decimal) -> Option<Decimal> {
    match op {
        Arith::Add => num::add(x, y),
        Arith::Sub => num::sub(x, y),
        Arith::Mul => num::mul(x, y),
        Arith::Div => x.checked_div(y),
    }
}

#[cold]
#[inline(never)]
fn number_error(op: Arith, y: Decimal) -> RuntimeError {
    if op == Arith::Div && y.is_zero() {
        RuntimeError::new("பூஜ்ஜியத்தால் வகுத்தல்", "division by zero")
    } else {
        overflow()
    }
}

/// `== != < <= > >=` (LANGUAGE.md 5.4): equality never fails; ordering may.
#[inline]
fn compare(cmp: Cmp, a: &Value, b: &Value) -> RtResult<bool> {
    let ord = match (cmp, a, b) {
        (Cmp::Eq, _, _) => return Ok(a.equals(b)),
        (Cmp::Ne, _, _) => return Ok(!a.equals(b)),
        (_, Value::Num(x), Value::Num(y)) => num::cmp(x, y),
        _ => a.compare(b)?,
    };
    Ok(match cmp {
        Cmp::Lt => ord.is_lt(),
        Cmp::Le => ord.is_le(),
        Cmp::Gt => ord.is_gt(),
        _ => ord.is_ge(),
    })
}

/// `&`: both renderings joined, refused before allocating past the memory budget.
/// Bytes that hold most rendered numbers (a 96-bit decimal has at most 29 digits).
const NUMBER_TEXT_BYTES: usize = 32;

fn concat(a: &Value, b: &Value) -> RtResult<Value> {
    let mut s = match a {
        Value::Str(t) => {
            let extra = match b {
                Value::Str(u) => u.as_str().len(),
                _ => 0,
            };
            heap::reserve(t.as_str().len() + extra)?;
            // Room for a short rendered right side too, so `"…" & n` does not reallocate.
            let room = match b {
                Value::Str(_) => extra,
                Value::Num(_) | Value::Bool(_) | Value::Nil => NUMBER_TEXT_BYTES,
                _ => 0,
            };
            let mut s = String::with_capacity(t.as_str().len() + room);
            s.push_str(t.as_str());
            s
        }
        other => other.render_within_budget()?,
    };
    if !b.render_into_capped(&mut s, heap::headroom()) {
        return Err(heap::memory_error());
    }
    Ok(Value::string(s))
}

/// An array position from an index value (LANGUAGE.md 5.6): whole, 0 ≤ i < len.
fn position(index: &Value, len: usize) -> RtResult<usize> {
    let n = index.to_number()?;
    if !n.fract().is_zero() {
        return Err(RuntimeError::new(
            "அணி சுட்டெண் முழு எண்ணாக இருக்க வேண்டும்",
            "array index must be a whole number",
        ));
    }
    match n.to_i64() {
        Some(i) if i >= 0 && (i as u64) < len as u64 => Ok(i as usize),
        _ => {
            let shown = Value::Num(n).render();
            Err(RuntimeError::new(
                format!("சுட்டெண் {shown} வரம்புக்கு வெளியே, நீளம் {len}"),
                format!("index {shown} out of bounds, length {len}"),
            ))
        }
    }
}

fn no_field(key: &str) -> RuntimeError {
    RuntimeError::new(
        format!("இந்தப் பொருளில் '{key}' புலம் இல்லை"),
        format!("no field '{key}' on this record"),
    )
}

fn cannot_index(v: &Value) -> RuntimeError {
    let kind = v.kind();
    RuntimeError::new(
        format!("{} க்குள் சுட்டெண்ணால் அணுக முடியாது", kind.tamil()),
        format!("cannot index into {}", kind.english()),
    )
}

fn get_index(target: &Value, index: &Value) -> RtResult<Value> {
    match target {
        Value::Array(a) => Ok(a.items()[position(index, a.len())?].clone()),
        Value::Str(s) => {
            let len = text::letter_count(s.as_str());
            let i = position(index, len)?;
            Ok(Value::str(text::letter_at(s.as_str(), i).unwrap_or("")))
        }
        Value::Record(r) => {
            let key = index.render();
            r.get(&key).cloned().ok_or_else(|| no_field(&key))
        }
        other => Err(cannot_index(other)),
    }
}

fn get_field(target: &Value, field: &Value) -> RtResult<Value> {
    let key = match field {
        Value::Str(s) => s.as_str(),
        _ => "",
    };
    match target {
        Value::Record(r) => r.get(key).cloned().ok_or_else(|| no_field(key)),
        _ => Err(RuntimeError::new(
            format!("'.{key}' க்கு ஒரு பொருள் தேவை"),
            format!("'.{key}' needs a record"),
        )),
    }
}

fn set_index(target: &mut Value, index: &Value, value: Value) -> RtResult<()> {
    match target {
        Value::Array(a) => {
            let i = position(index, a.len())?;
            a.set(i, value)
        }
        Value::Record(r) => r.insert(Arc::from(index.render()), value),
        Value::Str(_) => Err(RuntimeError::new(
            "சொல்லை மாற்ற முடியாது",
            "cannot index into a string",
        )),
        other => Err(cannot_index(other)),
    }
}

fn set_field(target: &mut Value, field: &Value, value: Value) -> RtResult<()> {
    let Value::Str(key) = field else {
        return Ok(());
    };
    match target {
        Value::Record(r) => r.insert(key.as_arc().clone(), value),
        _ => Err(RuntimeError::new(
            format!("'.{}' க்கு ஒரு பொருள் தேவை", key.as_str()),
            format!("'.{}' needs a record", key.as_str()),
        )),
    }
}

fn append(target: &mut Value, value: Value) -> RtResult<()> {
    match target {
        Value::Array(a) => a.push(value),
        _ => Err(RuntimeError::new(
            "இணைக்க ஒரு அணி தேவை",
            "append needs an array",
        )),
    }
}

/// A snapshot to iterate over (LANGUAGE.md 6.6).
fn iterate(v: Value) -> RtResult<Iter> {
    match v {
        Value::Array(a) => Ok(Iter::Array(a, 0)),
        Value::Record(r) => Ok(Iter::Values(
            r.map().keys().map(|k| Value::str(k)).collect(),
            0,
        )),
        Value::Str(s) => Ok(Iter::Values(
            text::letters(s.as_str()).map(Value::str).collect(),
            0,
        )),
        other => {
            let kind = other.kind();
            Err(RuntimeError::new(
                format!("{} மீது சுற்ற முடியாது", kind.tamil()),
                format!("cannot iterate over {}", kind.english()),
            ))
        }
    }
}

/// Validates `பதில் status, body, headers` (LANGUAGE.md 10.5).
fn build_response(status: &Value, body: &Value, headers: &Value) -> RtResult<Response> {
    let invalid_status = || RuntimeError::new("தவறான பதில் நிலைக் குறியீடு", "invalid response status");
    let n = status.to_number().map_err(|_| invalid_status())?;
    let status = match n.to_u16() {
        Some(s) if n.fract().is_zero() && (200..=599).contains(&s) => s,
        _ => return Err(invalid_status()),
    };
    let body = match body {
        Value::Str(s) => s.as_str().as_bytes().to_vec(),
        other => json::encode(other).into_bytes(),
    };
    let mut out: Vec<ResponseHeader> = Vec::new();
    if let Value::Record(r) = headers {
        for (name, value) in r.map() {
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(RuntimeError::new(
                    format!("தவறான தலைப்புப் பெயர் '{name}'"),
                    format!("invalid response header name '{name}'"),
                ));
            }
            let value = value.render();
            if value.contains(['\r', '\n', '\0']) {
                return Err(RuntimeError::new(
                    format!("தலைப்பு '{name}' இன் மதிப்பில் தவறான எழுத்து"),
                    format!("invalid character in the value of response header '{name}'"),
                ));
            }
            if FRAMING_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
                continue;
            }
            out.push((Cow::Owned(name.to_string()), Cow::Owned(value)));
        }
    }
    if !out
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        out.push((
            Cow::Borrowed("Content-Type"),
            Cow::Borrowed("application/json"),
        ));
    }
    Ok(Response {
        status,
        body,
        headers: out,
    })
}

/// Headers the server sets itself; a handler's are ignored (LANGUAGE.md 10.5).
const FRAMING_HEADERS: [&str; 8] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `query_params` (LANGUAGE.md 10.4): `&`-separated, pieces without `=` ignored, `+` is a
/// space, `%XX` decoded (invalid escapes kept), last value wins.
fn parse_query(query: &str) -> Record {
    let mut map: BTreeMap<Arc<str>, Value> = BTreeMap::new();
    for piece in query.split('&') {
        let Some((k, v)) = piece.split_once('=') else {
            continue;
        };
        map.insert(
            Arc::from(decode_query_part(k)),
            Value::string(decode_query_part(v)),
        );
    }
    Record::new(map).unwrap_or_else(|_| Record::empty())
}

fn decode_query_part(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len()
                && hex(bytes[i + 1]).is_some()
                && hex(bytes[i + 2]).is_some() =>
            {
                out.push(hex(bytes[i + 1]).unwrap_or(0) * 16 + hex(bytes[i + 2]).unwrap_or(0));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// `5s`, `250ms`, `2m`, as options are written.
fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}
