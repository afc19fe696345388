//! Runtime values (LANGUAGE.md 4): exact decimals, strings, booleans, null, arrays, records and
//! results; their equality, ordering, truthiness and text rendering.
//!
//! Arrays and records are values, not references (4.5): they share storage behind an `Arc` and
//! copy on write, so a clone is a reference-count increment. `Arc` (not `Rc`) because a compiled
//! `Program` holds constants and a prelude snapshot that every worker thread clones from.
//!
//! Memory accounting (SERVER.md `--handler-memory`): every string, array, record and result
//! charges its bytes to a per-thread counter when it is created and credits them when it is
//! dropped (`heap`). A worker runs one job at a time, so the counter is the live bytes of the run;
//! the VM compares it with the budget. Containers also record their nesting depth, so building a
//! value deeper than `MAX_VALUE_DEPTH` is refused without recursing (4.7).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::sync::Arc;

use rust_decimal::Decimal;

use super::error::{Limit, RtResult, RuntimeError};

/// Arrays, records and results nest at most this deep (LANGUAGE.md 4.7).
pub const MAX_VALUE_DEPTH: u32 = 128;

/// Per-thread live-byte accounting for the values a run holds.
pub mod heap {
    use std::cell::Cell;

    use crate::lang::error::{Limit, RtResult, RuntimeError};

    thread_local! {
        static LIVE: Cell<usize> = const { Cell::new(0) };
        static LIMIT: Cell<usize> = const { Cell::new(usize::MAX) };
    }

    /// Starts a run on this thread: `baseline` bytes are already held (a prelude snapshot),
    /// and `limit` is the budget.
    pub fn begin_run(baseline: usize, limit: usize) {
        LIVE.with(|c| c.set(baseline));
        LIMIT.with(|c| c.set(limit));
    }

    /// Bytes currently held by this thread's run.
    #[inline]
    pub fn live_bytes() -> usize {
        LIVE.with(|c| c.get())
    }

    #[inline]
    pub fn limit_bytes() -> usize {
        LIMIT.with(|c| c.get())
    }

    /// Bytes the run may still allocate.
    #[inline]
    pub fn headroom() -> usize {
        limit_bytes().saturating_sub(live_bytes())
    }

    /// True when the run holds more than its budget.
    #[inline]
    pub fn exceeded() -> bool {
        live_bytes() > limit_bytes()
    }

    #[inline]
    pub(crate) fn charge(bytes: usize) {
        LIVE.with(|c| c.set(c.get().saturating_add(bytes)));
    }

    #[inline]
    pub(crate) fn credit(bytes: usize) {
        // try_with: a value may be dropped while the thread-local is being torn down.
        let _ = LIVE.try_with(|c| c.set(c.get().saturating_sub(bytes)));
    }

    /// Refuses, before allocating, a value of `bytes` that would take the run over its budget.
    /// Builtins that build large values (repeat, padding, replace) call this first.
    pub fn reserve(bytes: usize) -> RtResult<()> {
        if live_bytes().saturating_add(bytes) > limit_bytes() {
            Err(memory_error())
        } else {
            Ok(())
        }
    }

    /// The error a run gets when it holds more than its budget.
    pub fn memory_error() -> RuntimeError {
        let limit = crate::lang::value::format_bytes(limit_bytes());
        RuntimeError::limit(
            Limit::Memory,
            format!("நினைவக வரம்பு மீறப்பட்டது (வரம்பு {limit})"),
            format!("memory limit exceeded (limit is {limit})"),
        )
    }
}

/// Renders a byte count the way the options are written (`64MiB`, `1GiB`, `512B`).
pub fn format_bytes(n: usize) -> String {
    const UNITS: [(usize, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size && n % size == 0 {
            return format!("{}{unit}", n / size);
        }
    }
    format!("{n}B")
}

/// Fixed cost charged per heap object besides its payload (reference counts, headers).
const OBJECT_OVERHEAD: usize = 32;
/// Cost charged per record entry besides its key bytes (tree node share, the value).
const ENTRY_OVERHEAD: usize = 48;
const VALUE_SIZE: usize = std::mem::size_of::<Value>();

/// An immutable string. Cloning shares it.
#[derive(Clone)]
pub struct Str(Arc<str>);

impl Str {
    pub fn new(s: &str) -> Str {
        heap::charge(s.len() + OBJECT_OVERHEAD);
        Str(Arc::from(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Shares the underlying text (record keys are `Arc<str>`).
    pub fn as_arc(&self) -> &Arc<str> {
        &self.0
    }
}

impl Drop for Str {
    fn drop(&mut self) {
        // Only the last owner credits. No weak references exist, so a count of 1 means no
        // other thread can be cloning it concurrently.
        if Arc::strong_count(&self.0) == 1 {
            heap::credit(self.0.len() + OBJECT_OVERHEAD);
        }
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        heap::charge(s.len() + OBJECT_OVERHEAD);
        Str(Arc::from(s))
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The storage behind an `Array`: items, nesting depth, and the bytes charged for it.
#[derive(Debug)]
struct ArrayData {
    items: Vec<Value>,
    depth: u32,
    charged: usize,
}

impl ArrayData {
    fn new(items: Vec<Value>, depth: u32) -> ArrayData {
        let charged = items.capacity() * VALUE_SIZE + OBJECT_OVERHEAD;
        heap::charge(charged);
        ArrayData {
            items,
            depth,
            charged,
        }
    }

    /// Re-charges after the item vector may have grown or shrunk.
    fn recharge(&mut self) {
        let now = self.items.capacity() * VALUE_SIZE + OBJECT_OVERHEAD;
        if now > self.charged {
            heap::charge(now - self.charged);
        } else {
            heap::credit(self.charged - now);
        }
        self.charged = now;
    }
}

impl Clone for ArrayData {
    fn clone(&self) -> ArrayData {
        ArrayData::new(self.items.clone(), self.depth)
    }
}

impl Drop for ArrayData {
    fn drop(&mut self) {
        heap::credit(self.charged);
    }
}

/// An array value with copy-on-write storage.
#[derive(Clone, Debug)]
pub struct Array(Arc<ArrayData>);

impl Array {
    /// Builds an array, refusing one nested deeper than `MAX_VALUE_DEPTH`.
    pub fn new(items: Vec<Value>) -> RtResult<Array> {
        let depth = 1 + items.iter().map(Value::depth).max().unwrap_or(0);
        check_depth(depth)?;
        Ok(Array(Arc::new(ArrayData::new(items, depth))))
    }

    pub fn empty() -> Array {
        Array(Arc::new(ArrayData::new(Vec::new(), 1)))
    }

    pub fn items(&self) -> &[Value] {
        &self.0.items
    }

    pub fn len(&self) -> usize {
        self.0.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.items.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&Value> {
        self.0.items.get(i)
    }

    /// Replaces item `i` (the caller checked the bounds), copying the storage if shared.
    pub fn set(&mut self, i: usize, v: Value) -> RtResult<()> {
        let depth = v.depth() + 1;
        check_depth(depth)?;
        let data = Arc::make_mut(&mut self.0);
        data.items[i] = v;
        data.depth = data.depth.max(depth);
        Ok(())
    }

    /// Appends in place (copying the storage if shared).
    pub fn push(&mut self, v: Value) -> RtResult<()> {
        let depth = v.depth() + 1;
        check_depth(depth)?;
        let data = Arc::make_mut(&mut self.0);
        data.items.push(v);
        data.depth = data.depth.max(depth);
        data.recharge();
        Ok(())
    }

    pub fn depth(&self) -> u32 {
        self.0.depth
    }
}

/// The storage behind a `Record`: keys in code-point order (4.3).
#[derive(Debug)]
struct RecordData {
    map: BTreeMap<Arc<str>, Value>,
    depth: u32,
    charged: usize,
}

fn record_cost(map: &BTreeMap<Arc<str>, Value>) -> usize {
    map.keys().map(|k| k.len() + ENTRY_OVERHEAD).sum::<usize>() + OBJECT_OVERHEAD
}

impl RecordData {
    fn new(map: BTreeMap<Arc<str>, Value>, depth: u32) -> RecordData {
        let charged = record_cost(&map);
        heap::charge(charged);
        RecordData {
            map,
            depth,
            charged,
        }
    }
}

impl Clone for RecordData {
    fn clone(&self) -> RecordData {
        heap::charge(self.charged);
        RecordData {
            map: self.map.clone(),
            depth: self.depth,
            charged: self.charged,
        }
    }
}

impl Drop for RecordData {
    fn drop(&mut self) {
        heap::credit(self.charged);
    }
}

/// A record value (string keys in ascending code-point order) with copy-on-write storage.
#[derive(Clone, Debug)]
pub struct Record(Arc<RecordData>);

impl Record {
    pub fn new(map: BTreeMap<Arc<str>, Value>) -> RtResult<Record> {
        let depth = 1 + map.values().map(Value::depth).max().unwrap_or(0);
        check_depth(depth)?;
        Ok(Record(Arc::new(RecordData::new(map, depth))))
    }

    pub fn empty() -> Record {
        Record(Arc::new(RecordData::new(BTreeMap::new(), 1)))
    }

    /// Builds a record of strings (request variables); never too deep.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Record {
        let map = pairs
            .into_iter()
            .map(|(k, v)| (Arc::from(k), Value::str(v)))
            .collect();
        Record(Arc::new(RecordData::new(map, 1)))
    }

    pub fn map(&self) -> &BTreeMap<Arc<str>, Value> {
        &self.0.map
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.map.get(key)
    }

    pub fn len(&self) -> usize {
        self.0.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.map.is_empty()
    }

    /// Adds or replaces `key`, copying the storage if shared.
    pub fn insert(&mut self, key: Arc<str>, v: Value) -> RtResult<()> {
        let depth = v.depth() + 1;
        check_depth(depth)?;
        let data = Arc::make_mut(&mut self.0);
        let cost = key.len() + ENTRY_OVERHEAD;
        if data.map.insert(key, v).is_none() {
            heap::charge(cost);
            data.charged += cost;
        }
        data.depth = data.depth.max(depth);
        Ok(())
    }

    pub fn depth(&self) -> u32 {
        self.0.depth
    }
}

/// `சரி(v)` or `தவறு(e)`.
#[derive(Debug)]
struct ResultData {
    ok: bool,
    value: Value,
    depth: u32,
}

impl ResultData {
    fn new(ok: bool, value: Value, depth: u32) -> ResultData {
        heap::charge(OBJECT_OVERHEAD + VALUE_SIZE);
        ResultData { ok, value, depth }
    }
}

impl Drop for ResultData {
    fn drop(&mut self) {
        heap::credit(OBJECT_OVERHEAD + VALUE_SIZE);
    }
}

/// A result value.
#[derive(Clone, Debug)]
pub struct ResultVal(Arc<ResultData>);

impl ResultVal {
    pub fn new(ok: bool, value: Value) -> RtResult<ResultVal> {
        let depth = value.depth() + 1;
        check_depth(depth)?;
        Ok(ResultVal(Arc::new(ResultData::new(ok, value, depth))))
    }

    pub fn is_ok(&self) -> bool {
        self.0.ok
    }

    pub fn value(&self) -> &Value {
        &self.0.value
    }

    pub fn depth(&self) -> u32 {
        self.0.depth
    }
}

fn check_depth(depth: u32) -> RtResult<()> {
    if depth > MAX_VALUE_DEPTH {
        Err(RuntimeError::limit(
            Limit::ValueDepth,
            format!("மதிப்பு மிக ஆழமாக உள்ளது (வரம்பு {MAX_VALUE_DEPTH})"),
            format!("value nested too deeply (limit is {MAX_VALUE_DEPTH})"),
        ))
    } else {
        Ok(())
    }
}

/// An eTamil value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    Num(Decimal),
    Str(Str),
    Array(Array),
    Record(Record),
    Result(ResultVal),
}

/// The kind of a value, for messages and `வகை` (LANGUAGE.md 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Nil,
    Bool,
    Num,
    Str,
    Array,
    Record,
    Result,
}

impl Kind {
    /// The English answer of `வகை`: "a number", "nil", …
    pub fn english(self) -> &'static str {
        match self {
            Kind::Nil => "nil",
            Kind::Bool => "a boolean",
            Kind::Num => "a number",
            Kind::Str => "a string",
            Kind::Array => "an array",
            Kind::Record => "a record",
            Kind::Result => "a result",
        }
    }

    /// The Tamil name of the kind, for messages.
    pub fn tamil(self) -> &'static str {
        match self {
            Kind::Nil => "இன்மை",
            Kind::Bool => "ஒரு ஈர்மம்",
            Kind::Num => "ஒரு எண்",
            Kind::Str => "ஒரு சொல்",
            Kind::Array => "ஒரு அணி",
            Kind::Record => "ஒரு பொருள்",
            Kind::Result => "ஒரு விளைவு",
        }
    }
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Str::new(s))
    }

    pub fn string(s: String) -> Value {
        Value::Str(Str::from(s))
    }

    pub fn num(d: Decimal) -> Value {
        Value::Num(d)
    }

    pub fn int(i: i64) -> Value {
        Value::Num(Decimal::from(i))
    }

    pub fn ok(v: Value) -> RtResult<Value> {
        Ok(Value::Result(ResultVal::new(true, v)?))
    }

    pub fn err(v: Value) -> RtResult<Value> {
        Ok(Value::Result(ResultVal::new(false, v)?))
    }

    pub fn kind(&self) -> Kind {
        match self {
            Value::Nil => Kind::Nil,
            Value::Bool(_) => Kind::Bool,
            Value::Num(_) => Kind::Num,
            Value::Str(_) => Kind::Str,
            Value::Array(_) => Kind::Array,
            Value::Record(_) => Kind::Record,
            Value::Result(_) => Kind::Result,
        }
    }

    /// Nesting depth: 0 for scalars and strings, 1 + the deepest item for containers.
    pub fn depth(&self) -> u32 {
        match self {
            Value::Array(a) => a.depth(),
            Value::Record(r) => r.depth(),
            Value::Result(r) => r.depth(),
            _ => 0,
        }
    }

    /// Truthiness (LANGUAGE.md 4.4).
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Num(n) => !n.is_zero(),
            Value::Str(s) => !s.as_str().is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Record(r) => !r.is_empty(),
            Value::Result(r) => r.is_ok(),
        }
    }

    /// Conversion to a number (LANGUAGE.md 5.2): numbers, and strings holding numeric text.
    pub fn to_number(&self) -> RtResult<Decimal> {
        match self {
            Value::Num(n) => Ok(*n),
            Value::Str(s) => parse_numeric_text(s.as_str()).ok_or_else(|| not_a_number(self)),
            _ => Err(not_a_number(self)),
        }
    }

    /// Renders the value as text (LANGUAGE.md 4.3).
    pub fn render(&self) -> String {
        match self {
            Value::Str(s) => s.as_str().to_owned(),
            _ => {
                let mut out = String::new();
                self.render_into(&mut out);
                out
            }
        }
    }

    /// Appends the rendering to `out`. Recursion is bounded by `MAX_VALUE_DEPTH`.
    pub fn render_into(&self, out: &mut String) {
        self.render_into_capped(out, usize::MAX);
    }

    /// Renders under the run's memory budget: arrays may share one big string many times, so
    /// a rendering can be far larger than the value's accounted size.
    pub fn render_within_budget(&self) -> RtResult<String> {
        let mut out = String::new();
        if self.render_into_capped(&mut out, heap::headroom()) {
            Ok(out)
        } else {
            Err(heap::memory_error())
        }
    }

    /// The rendering rules, stopping (false) once `out` passes `cap` bytes. Every item adds at
    /// least one byte, so the work is bounded by `cap` too.
    pub fn render_into_capped(&self, out: &mut String, cap: usize) -> bool {
        match self {
            Value::Nil => out.push_str("nil"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Num(n) => render_number(*n, out),
            Value::Str(s) => {
                if out.len().saturating_add(s.as_str().len()) > cap {
                    return false;
                }
                out.push_str(s.as_str());
            }
            Value::Array(a) => {
                out.push('[');
                for (i, item) in a.items().iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if !item.render_into_capped(out, cap) {
                        return false;
                    }
                }
                out.push(']');
            }
            Value::Record(r) => {
                out.push('{');
                for (i, (k, v)) in r.map().iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if out.len().saturating_add(k.len()) > cap {
                        return false;
                    }
                    out.push_str(k);
                    out.push_str(": ");
                    if !v.render_into_capped(out, cap) {
                        return false;
                    }
                }
                out.push('}');
            }
            Value::Result(r) => {
                out.push_str(if r.is_ok() {
                    "சரி("
                } else {
                    "தவறு("
                });
                if !r.value().render_into_capped(out, cap) {
                    return false;
                }
                out.push(')');
            }
        }
        out.len() <= cap
    }

    /// Equality `==` (LANGUAGE.md 5.4): structural, never an error; a number equals a string
    /// holding numeric text of the same value.
    pub fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Num(a), Value::Num(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a.as_str() == b.as_str(),
            (Value::Num(a), Value::Str(s)) | (Value::Str(s), Value::Num(a)) => {
                parse_numeric_text(s.as_str()) == Some(*a)
            }
            (Value::Array(a), Value::Array(b)) => {
                a.len() == b.len() && a.items().iter().zip(b.items()).all(|(x, y)| x.equals(y))
            }
            (Value::Record(a), Value::Record(b)) => {
                a.len() == b.len()
                    && a.map()
                        .iter()
                        .zip(b.map())
                        .all(|((ka, va), (kb, vb))| ka == kb && va.equals(vb))
            }
            (Value::Result(a), Value::Result(b)) => {
                a.is_ok() == b.is_ok() && a.value().equals(b.value())
            }
            _ => false,
        }
    }

    /// Ordering for `< <= > >=` (LANGUAGE.md 5.4): numbers, strings, or a number with numeric
    /// text; anything else is an error.
    pub fn compare(&self, other: &Value) -> RtResult<Ordering> {
        match (self, other) {
            (Value::Num(a), Value::Num(b)) => Ok(super::num::cmp(a, b)),
            (Value::Str(a), Value::Str(b)) => Ok(a.as_str().cmp(b.as_str())),
            (Value::Num(a), Value::Str(_)) => Ok(a.cmp(&other.to_number()?)),
            (Value::Str(_), Value::Num(b)) => Ok(self.to_number()?.cmp(b)),
            _ => Err(RuntimeError::new(
                format!(
                    "{} ஐ {} உடன் ஒப்பிட முடியாது",
                    self.kind().tamil(),
                    other.kind().tamil()
                ),
                format!(
                    "cannot compare {} with {}",
                    self.kind().english(),
                    other.kind().english()
                ),
            )),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s.as_str()),
            _ => f.write_str(&self.render()),
        }
    }
}

/// Renders a number: no exponent, no trailing zeros, zero always `0` (LANGUAGE.md 4.3).
pub fn render_number(n: Decimal, out: &mut String) {
    if n.is_zero() {
        out.push('0');
    } else {
        let _ = write!(out, "{}", n.normalize());
    }
}

/// Numeric text (LANGUAGE.md 5.2): trimmed of Unicode whitespace, then what
/// `Decimal::from_str` accepts (sign, digits with `_`, point, exponent).
pub fn parse_numeric_text(text: &str) -> Option<Decimal> {
    let t = text.trim();
    // from_str accepts a few shapes the numeric-text grammar does not; reject them first:
    // an empty text, and anything not starting with a sign, digit or point.
    let first = t.chars().next()?;
    if !(first.is_ascii_digit() || first == '+' || first == '-' || first == '.') {
        return None;
    }
    if !t.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    Decimal::from_str(t).ok()
}

/// "cannot use 'abc' (a string) as a number".
pub fn not_a_number(v: &Value) -> RuntimeError {
    let shown = match v {
        Value::Str(s) => format!("'{}'", truncate_for_message(s.as_str())),
        other => truncate_for_message(&other.render()).to_string(),
    };
    RuntimeError::new(
        format!("{shown} ({}) ஐ எண்ணாகப் பயன்படுத்த முடியாது", v.kind().tamil()),
        format!("cannot use {shown} ({}) as a number", v.kind().english()),
    )
}

/// Keeps error messages short when a value is huge.
pub fn truncate_for_message(s: &str) -> &str {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Value {
        Value::Num(Decimal::from_str(s).unwrap())
    }

    #[test]
    fn numbers_render_without_trailing_zeros_or_negative_zero() {
        assert_eq!(n("2.50").render(), "2.5");
        assert_eq!(n("1.0").render(), "1");
        assert_eq!(n("-0.0").render(), "0");
        assert_eq!(
            n("0.0000000000000000000000000001").render(),
            "0.0000000000000000000000000001"
        );
    }

    #[test]
    fn number_string_equality_is_numeric() {
        assert!(n("5").equals(&Value::str("5")));
        assert!(n("12.5").equals(&Value::str(" 12.50 ")));
        assert!(!n("5").equals(&Value::str("abc")));
        assert!(!Value::str("1.0").equals(&Value::str("1")));
    }

    #[test]
    fn records_render_in_code_point_order() {
        let mut r = Record::empty();
        for k in ["ஆ", "அ", "b", "B"] {
            r.insert(Arc::from(k), n("1")).unwrap();
        }
        assert_eq!(Value::Record(r).render(), "{B: 1, b: 1, அ: 1, ஆ: 1}");
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused() {
        let mut v = Value::Nil;
        for _ in 0..MAX_VALUE_DEPTH {
            v = Value::Array(Array::new(vec![v]).unwrap());
        }
        let err = Array::new(vec![v]).unwrap_err();
        assert!(err
            .english
            .contains("value nested too deeply (limit is 128)"));
    }

    #[test]
    fn memory_is_credited_on_drop() {
        heap::begin_run(0, usize::MAX);
        let before = heap::live_bytes();
        {
            let s = Value::string("x".repeat(1000));
            let a = Value::Array(Array::new(vec![s.clone(), s]).unwrap());
            assert!(heap::live_bytes() >= before + 1000);
            drop(a);
        }
        assert_eq!(heap::live_bytes(), before);
    }

    #[test]
    fn numeric_text() {
        assert_eq!(parse_numeric_text(" 7 "), Some(Decimal::from(7)));
        assert_eq!(parse_numeric_text("1e3"), Some(Decimal::from(1000)));
        assert_eq!(parse_numeric_text("1_000"), Some(Decimal::from(1000)));
        assert_eq!(parse_numeric_text("abc"), None);
        assert_eq!(parse_numeric_text(""), None);
        assert_eq!(parse_numeric_text("1e-29"), None);
    }
}
