//! The builtin functions of LANGUAGE.md section 9: the host builtins (9.1–9.5, three spellings
//! each) and upstream's library functions (9.6–9.9, Tamil name only), all native here.
//!
//! The VM finds a builtin with `lookup` when it compiles a call, checks the argument count
//! against `Builtin::arity`, and calls `func` with exactly that many arguments. Builtins never
//! attach a position (the VM does) and never exit or read the clock on their own account: the
//! `Effect` tells the VM which ones touch the outside world. `வெளியேறு` only computes the status.
//!
//! Bounds: every builtin that can build a large value asks `value::heap::reserve` (or renders
//! under a byte cap) *before* allocating, so an absurd request fails with the memory error
//! instead of allocating or looping; work is proportional to the size of the result or the
//! input.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::error::{RtResult, RuntimeError};
use super::json;
use super::text;
use super::value::{
    heap, parse_numeric_text, render_number, truncate_for_message, Array, Record, Value,
};

/// What a builtin does besides computing its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Depends only on its arguments.
    Pure,
    /// Reads the clock (இன்று).
    Clock,
    /// Reads the environment (சூழல்).
    Env,
    /// Ends the run (வெளியேறு): `func` computes the exit status, the VM exits.
    Exit,
}

/// One builtin function.
#[derive(Debug)]
pub struct Builtin {
    /// The canonical Tamil name, for messages.
    pub name: &'static str,
    pub arity: usize,
    pub effect: Effect,
    /// Receives exactly `arity` arguments; it may take them out of the slice.
    pub func: fn(&mut [Value]) -> RtResult<Value>,
}

/// A builtin and every spelling that calls it.
struct Entry {
    spellings: &'static [&'static str],
    builtin: Builtin,
}

macro_rules! entry {
    ([$($s:literal),+], $arity:expr, $effect:ident, $func:ident) => {
        Entry {
            spellings: &[$($s),+],
            builtin: Builtin {
                name: first!($($s),+),
                arity: $arity,
                effect: Effect::$effect,
                func: $func,
            },
        }
    };
}

macro_rules! first {
    ($a:literal $(, $rest:literal)*) => {
        $a
    };
}

/// Section 9, in its order. Host builtins: Tamil, romanized, English; library functions: Tamil.
/// `ஒன்றிணை` has no `_join`: that word is reserved (9.4).
static TABLE: &[Entry] = &[
    // 9.1 Collections and kinds
    entry!(["நீளம்", "nILam", "_length"], 1, Pure, length),
    entry!(["இணை", "iNY", "_append"], 2, Pure, append),
    entry!(["வகை", "vakY", "_typeof"], 1, Pure, type_of),
    // 9.2 Results
    entry!(["சரி", "cari", "_ok"], 1, Pure, make_ok),
    entry!(["தவறு", "qavaRu", "_err"], 1, Pure, make_err),
    entry!(["சரியா", "cariyA", "_isOk"], 1, Pure, is_ok),
    entry!(["தவறா", "qavaRA", "_isErr"], 1, Pure, is_err),
    entry!(["மதிப்பு", "maqippu", "_unwrap"], 1, Pure, unwrap),
    entry!(
        ["தவறு_மதிப்பு", "qavaRu_maqippu", "_unwrapErr"],
        1,
        Pure,
        unwrap_err
    ),
    entry!(["இயல்பு", "iyalpu", "_unwrapOr"], 2, Pure, unwrap_or),
    // 9.3 Numbers
    entry!(["வட்டமிடு", "vattamitu", "_round"], 2, Pure, round),
    entry!(["தரை", "qarY", "_floor"], 1, Pure, floor),
    entry!(["மேல்", "mEl", "_ceil"], 1, Pure, ceil),
    entry!(["எண்ணாக்கு", "eNNAkku", "_toNumber"], 1, Pure, to_number),
    entry!(["சொல்லாக்கு", "collAkku", "_toString"], 1, Pure, to_string),
    // 9.4 Text
    entry!(["மேல்_எழுத்து", "mEl_ezuqqu", "_upper"], 1, Pure, upper),
    entry!(["கீழ்_எழுத்து", "kIz_ezuqqu", "_lower"], 1, Pure, lower),
    entry!(["மாற்று", "mARRu", "_replace"], 3, Pure, replace),
    entry!(["பிரி", "piri", "_split"], 2, Pure, split),
    entry!(["ஒன்றிணை", "oZRiNY"], 2, Pure, join),
    // 9.5 Dates, environment and exit
    entry!(["இன்று", "iZRu", "_today"], 0, Clock, today),
    entry!(
        ["நாள்_வேறுபாடு", "nAL_vERupAtu", "_daysBetween"],
        2,
        Pure,
        days_between
    ),
    entry!(["நாள்_கூட்டு", "nAL_kUttu", "_addDays"], 2, Pure, add_days),
    entry!(["சூழல்", "cUzal", "_env"], 2, Env, env),
    entry!(["வெளியேறு", "veLiyERu", "_exit"], 1, Exit, exit_status),
    // 9.6 Strings
    entry!(["எழுத்து"], 2, Pure, letter),
    entry!(["துண்டு"], 3, Pure, substring),
    entry!(["தேடு"], 2, Pure, find),
    entry!(["கொண்டுள்ளதா"], 2, Pure, contains),
    entry!(["தொடங்குகிறதா"], 2, Pure, starts_with),
    entry!(["முடிகிறதா"], 2, Pure, ends_with),
    entry!(["ஒழுங்கு"], 1, Pure, trim),
    entry!(["திரும்பச்செய்"], 2, Pure, repeat),
    entry!(["இடமிருந்து_நிரப்பு"], 3, Pure, pad_left),
    // 9.7 Numbers
    entry!(["முழுமதிப்பு"], 1, Pure, abs),
    entry!(["சிறியது"], 2, Pure, min),
    entry!(["பெரியது"], 2, Pure, max),
    entry!(["கூட்டு"], 1, Pure, sum),
    entry!(["சராசரி"], 1, Pure, average),
    entry!(["மிகச்சிறியது"], 1, Pure, smallest),
    entry!(["மிகப்பெரியது"], 1, Pure, largest),
    entry!(["சதவீதம்"], 2, Pure, percent),
    entry!(["முழு_எண்ணா"], 1, Pure, is_whole),
    entry!(["மீதி"], 2, Pure, remainder),
    // 9.8 Arrays and records
    entry!(["உள்ளதா"], 2, Pure, has_item),
    entry!(["இடம்_காண்"], 2, Pure, index_of),
    entry!(["தலைகீழ்"], 1, Pure, reverse),
    entry!(["வெட்டு"], 3, Pure, slice),
    entry!(["புலம்_எடு"], 2, Pure, pluck),
    entry!(["காலியா"], 1, Pure, is_empty),
    entry!(["புலம்_உள்ளதா"], 2, Pure, has_field),
    entry!(["புலம்_அல்லது"], 3, Pure, field_or),
    entry!(["புலங்கள்"], 1, Pure, keys),
    entry!(["மதிப்பீடுகள்"], 1, Pure, values),
    entry!(["காலியா_பதிவேடு"], 1, Pure, is_empty_record),
    // 9.9 JSON and money
    entry!(["ஜேசான்_ஆக்கு"], 1, Pure, json_encode),
    entry!(["ஜேசான்_படி"], 1, Pure, json_decode),
    entry!(["காசு_வடிவம்"], 1, Pure, money_format),
    entry!(["ரூபாய்"], 1, Pure, rupees),
    entry!(["காசாக"], 1, Pure, to_paise),
    entry!(["லட்சம்"], 1, Pure, lakh),
    entry!(["கோடி"], 1, Pure, crore),
];

/// The builtin called by `name` in any spelling section 9 lists.
pub fn lookup(name: &str) -> Option<&'static Builtin> {
    static BY_NAME: OnceLock<HashMap<&'static str, &'static Builtin>> = OnceLock::new();
    BY_NAME
        .get_or_init(|| {
            let mut map = HashMap::new();
            for entry in TABLE.iter() {
                for spelling in entry.spellings {
                    map.insert(*spelling, &entry.builtin);
                }
            }
            map
        })
        .get(name)
        .copied()
}

/// Every builtin, each once (for listings and tests).
pub fn all() -> impl Iterator<Item = &'static Builtin> {
    TABLE.iter().map(|e| &e.builtin)
}

// ---------------------------------------------------------------------------------------------
// Argument conversion and shared errors

fn err(tamil: impl Into<String>, english: impl Into<String>) -> RuntimeError {
    RuntimeError::new(tamil, english)
}

fn overflow() -> RuntimeError {
    err("எண் வரம்பு மீறல்", "number overflow")
}

fn needs_array(func: &str) -> RuntimeError {
    err(
        format!("'{func}' க்கு ஒரு அணி தேவை"),
        format!("'{func}' needs an array"),
    )
}

fn needs_record(func: &str) -> RuntimeError {
    err(
        format!("'{func}' க்கு ஒரு பொருள் தேவை"),
        format!("'{func}' needs a record"),
    )
}

fn not_whole_index() -> RuntimeError {
    err(
        "அணிச் சுட்டு முழு எண்ணாக இருக்க வேண்டும்",
        "array index must be a whole number",
    )
}

fn out_of_bounds(i: Decimal, len: usize) -> RuntimeError {
    let mut shown = String::new();
    render_number(i, &mut shown);
    err(
        format!("சுட்டு {shown} எல்லைக்கு வெளியே உள்ளது, நீளம் {len}"),
        format!("index {shown} out of bounds, length {len}"),
    )
}

fn take(args: &mut [Value], i: usize) -> Value {
    std::mem::take(&mut args[i])
}

fn num(v: &Value) -> RtResult<Decimal> {
    v.to_number()
}

fn number(d: Decimal) -> Value {
    Value::Num(d)
}

fn boolean(b: bool) -> RtResult<Value> {
    Ok(Value::Bool(b))
}

/// Bytes the run may still allocate.
/// A "text" argument: a string as it is, anything else rendered (4.3) under the memory budget.
fn text_of(v: &Value) -> RtResult<Cow<'_, str>> {
    match v {
        Value::Str(s) => Ok(Cow::Borrowed(s.as_str())),
        other => render_capped(other, heap::headroom()).map(Cow::Owned),
    }
}

/// Renders `v` (4.3), failing with the memory error once the text passes `cap` bytes.
pub(crate) fn render_capped(v: &Value, cap: usize) -> RtResult<String> {
    let mut out = String::new();
    if v.render_into_capped(&mut out, cap) {
        Ok(out)
    } else {
        Err(heap::memory_error())
    }
}

/// A whole decimal as i64, saturating; a negative zero (trunc(-0.5)) is 0, which `to_i64`
/// would refuse.
fn whole_i64(d: Decimal) -> i64 {
    if d.is_zero() {
        0
    } else {
        d.to_i64().unwrap_or(if d.is_sign_negative() {
            i64::MIN
        } else {
            i64::MAX
        })
    }
}

/// Converts a decimal count to `usize`, saturating (callers compare it with sizes they hold).
fn to_count(d: Decimal) -> usize {
    if d.is_sign_negative() {
        0
    } else {
        d.to_usize().unwrap_or(usize::MAX)
    }
}

// ---------------------------------------------------------------------------------------------
// 9.1 Collections and kinds

fn length(args: &mut [Value]) -> RtResult<Value> {
    let n = match &args[0] {
        Value::Array(a) => a.len(),
        Value::Record(r) => r.len(),
        Value::Str(s) => text::letter_count(s.as_str()),
        _ => {
            return Err(err(
                "நீளம் ஒரு அணி, பொருள் அல்லது சொல்லுக்கு மட்டுமே",
                "length needs an array, record or string",
            ))
        }
    };
    Ok(number(Decimal::from(n)))
}

fn append(args: &mut [Value]) -> RtResult<Value> {
    let v = take(args, 1);
    match take(args, 0) {
        Value::Array(mut a) => {
            // Pushing onto storage the caller no longer shares needs no copy; the array's own
            // accounting charges any growth, which the VM checks after the call.
            a.push(v)?;
            Ok(Value::Array(a))
        }
        _ => Err(err("இணை க்கு ஒரு அணி தேவை", "append needs an array")),
    }
}

fn type_of(args: &mut [Value]) -> RtResult<Value> {
    Ok(Value::str(args[0].kind().english()))
}

// ---------------------------------------------------------------------------------------------
// 9.2 Results

fn make_ok(args: &mut [Value]) -> RtResult<Value> {
    Value::ok(take(args, 0))
}

fn make_err(args: &mut [Value]) -> RtResult<Value> {
    Value::err(take(args, 0))
}

fn is_ok(args: &mut [Value]) -> RtResult<Value> {
    boolean(matches!(&args[0], Value::Result(r) if r.is_ok()))
}

fn is_err(args: &mut [Value]) -> RtResult<Value> {
    boolean(matches!(&args[0], Value::Result(r) if !r.is_ok()))
}

fn needs_result(func: &str) -> RuntimeError {
    err(
        format!("'{func}' க்கு ஒரு விளைவு தேவை"),
        format!("{func} needs a result"),
    )
}

fn unwrap(args: &mut [Value]) -> RtResult<Value> {
    match &args[0] {
        Value::Result(r) if r.is_ok() => Ok(r.value().clone()),
        Value::Result(r) => {
            let full = render_capped(r.value(), 4096).unwrap_or_else(|_| "…".to_owned());
            let e = truncate_for_message(&full);
            Err(err(
                format!("பிழையின் மதிப்பை எடுக்க முடியாது: {e}"),
                format!("unwrap on an error: {e}"),
            ))
        }
        _ => Err(needs_result("unwrap")),
    }
}

fn unwrap_err(args: &mut [Value]) -> RtResult<Value> {
    match &args[0] {
        Value::Result(r) if !r.is_ok() => Ok(r.value().clone()),
        Value::Result(_) => Err(err(
            "வெற்றிகரமான விளைவில் பிழை இல்லை",
            "there is no error in a successful result",
        )),
        _ => Err(needs_result("unwrapErr")),
    }
}

fn unwrap_or(args: &mut [Value]) -> RtResult<Value> {
    match &args[0] {
        Value::Result(r) if r.is_ok() => Ok(r.value().clone()),
        Value::Result(_) => Ok(take(args, 1)),
        _ => Err(needs_result("unwrapOr")),
    }
}

// ---------------------------------------------------------------------------------------------
// 9.3 Numbers

/// Half away from zero to `places` (already checked non-negative); 28 or more leaves `n`.
fn round_to(n: Decimal, places: u32) -> Decimal {
    if places >= 28 {
        n
    } else {
        n.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
    }
}

fn round(args: &mut [Value]) -> RtResult<Value> {
    let n = num(&args[0])?;
    let p = num(&args[1])?.trunc();
    if p.is_sign_negative() && !p.is_zero() {
        return Err(err(
            "இடங்கள் எதிர்மறையற்ற முழு எண்ணாக இருக்க வேண்டும்",
            "places must be a whole number",
        ));
    }
    // trunc(-0.5) is a negative zero, which to_u32 refuses.
    let places = if p.is_zero() {
        0
    } else {
        p.to_u32().unwrap_or(u32::MAX)
    };
    Ok(number(round_to(n, places)))
}

fn floor(args: &mut [Value]) -> RtResult<Value> {
    Ok(number(num(&args[0])?.floor()))
}

fn ceil(args: &mut [Value]) -> RtResult<Value> {
    Ok(number(num(&args[0])?.ceil()))
}

fn to_number(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    match parse_numeric_text(&t) {
        Some(n) => Value::ok(number(n)),
        None => {
            let shown = truncate_for_message(&t);
            Value::err(Value::string(format!("'{shown}' is not a number")))
        }
    }
}

fn to_string(args: &mut [Value]) -> RtResult<Value> {
    match take(args, 0) {
        s @ Value::Str(_) => Ok(s),
        other => Ok(Value::string(render_capped(&other, heap::headroom())?)),
    }
}

// ---------------------------------------------------------------------------------------------
// 9.4 Text

fn upper(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    heap::reserve(t.len())?;
    Ok(Value::string(t.to_uppercase()))
}

fn lower(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    heap::reserve(t.len())?;
    Ok(Value::string(t.to_lowercase()))
}

fn replace(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    let old = text_of(&args[1])?;
    let new = text_of(&args[2])?;
    let found = text::aligned_matches(&t, &old);
    if found.is_empty() {
        return Ok(match &args[0] {
            Value::Str(s) => Value::Str(s.clone()),
            _ => Value::string(t.into_owned()),
        });
    }
    let size = new
        .len()
        .checked_mul(found.len())
        .and_then(|added| (t.len() - old.len() * found.len()).checked_add(added))
        .ok_or_else(heap::memory_error)?;
    heap::reserve(size)?;
    let mut out = String::with_capacity(size);
    let mut last = 0;
    for start in found {
        out.push_str(&t[last..start]);
        out.push_str(&new);
        last = start + old.len();
    }
    out.push_str(&t[last..]);
    Ok(Value::string(out))
}

fn split(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    let sep = text_of(&args[1])?;
    let found = text::aligned_matches(&t, &sep);
    let pieces = found.len() + 1;
    heap::reserve(
        pieces
            .saturating_mul(std::mem::size_of::<Value>() + 64)
            .saturating_add(t.len()),
    )?;
    let mut items = Vec::with_capacity(pieces);
    let mut last = 0;
    for start in found {
        items.push(Value::str(&t[last..start]));
        last = start + sep.len();
    }
    items.push(Value::str(&t[last..]));
    Ok(Value::Array(Array::new(items)?))
}

fn join(args: &mut [Value]) -> RtResult<Value> {
    let sep = text_of(&args[1])?;
    let Value::Array(a) = &args[0] else {
        return Err(err("ஒன்றிணை க்கு ஒரு அணி தேவை", "join needs an array"));
    };
    let cap = heap::headroom();
    let mut out = String::new();
    for (i, item) in a.items().iter().enumerate() {
        if i > 0 {
            if out.len().saturating_add(sep.len()) > cap {
                return Err(heap::memory_error());
            }
            out.push_str(&sep);
        }
        if !item.render_into_capped(&mut out, cap) {
            return Err(heap::memory_error());
        }
    }
    Ok(Value::string(out))
}

// ---------------------------------------------------------------------------------------------
// 9.5 Dates, environment and exit

/// Dates are kept within the years ISO text writes with four digits.
const MAX_YEAR: i64 = 9999;

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date `z` days after 1970-01-01 (inverse of `days_from_civil`).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn format_date(days: i64) -> RtResult<Value> {
    let (y, m, d) = civil_from_days(days);
    if !(0..=MAX_YEAR).contains(&y) {
        return Err(err(
            "தேதி வரம்புக்கு வெளியே உள்ளது (ஆண்டுகள் 0 முதல் 9999)",
            "date out of range (years 0 to 9999)",
        ));
    }
    Ok(Value::string(format!("{y:04}-{m:02}-{d:02}")))
}

/// `Y-M-D` with whole parts, the day within its month (9.5), as days since 1970-01-01.
fn parse_date(v: &Value) -> RtResult<i64> {
    let t = text_of(v)?;
    let bad = || {
        let shown = truncate_for_message(&t);
        err(
            format!("'{shown}' ஒரு தேதி அல்ல; YYYY-MM-DD எதிர்பார்க்கப்பட்டது"),
            format!("'{shown}' is not a date; expected YYYY-MM-DD"),
        )
    };
    let part = |s: &str| -> Option<i64> {
        if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let mut parts = t.trim().split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (Some(y), Some(m), Some(d)) = (part(y), part(m), part(d)) else {
        return Err(bad());
    };
    if y > MAX_YEAR || !(1..=12).contains(&m) {
        return Err(bad());
    }
    let m = m as u32;
    if d < 1 || d > i64::from(days_in_month(y, m)) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d as u32))
}

fn today(_args: &mut [Value]) -> RtResult<Value> {
    let secs = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    format_date(secs.div_euclid(86_400))
}

fn days_between(args: &mut [Value]) -> RtResult<Value> {
    let a = parse_date(&args[0])?;
    let b = parse_date(&args[1])?;
    Ok(number(Decimal::from(b - a)))
}

fn add_days(args: &mut [Value]) -> RtResult<Value> {
    let d = parse_date(&args[0])?;
    let n = num(&args[1])?.trunc();
    // Any n beyond the calendar's span lands outside 0..=9999 anyway; clamp before adding.
    let n = whole_i64(n);
    let n = n.clamp(-10_000_000, 10_000_000);
    format_date(d + n)
}

/// Variables a handler may never read (SERVER.md "Auth").
const HIDDEN_VARIABLES: [&str; 1] = ["ETAMIL_AUTH_TOKEN"];

fn env(args: &mut [Value]) -> RtResult<Value> {
    let name = text_of(&args[0])?;
    // std::env::var_os may panic on a name with '=' or NUL; no such variable can exist anyway.
    if name.is_empty() || name.contains(['=', '\0']) || HIDDEN_VARIABLES.contains(&name.as_ref()) {
        return Ok(take(args, 1));
    }
    match std::env::var_os(name.as_ref()) {
        Some(v) => Ok(Value::string(v.to_string_lossy().into_owned())),
        None => Ok(take(args, 1)),
    }
}

/// The status `வெளியேறு(status)` exits with: truncated toward zero, 1 outside the i32 range.
fn exit_status(args: &mut [Value]) -> RtResult<Value> {
    let status = i32::try_from(whole_i64(num(&args[0])?.trunc())).unwrap_or(1);
    Ok(Value::int(i64::from(status)))
}

// ---------------------------------------------------------------------------------------------
// 9.6 Strings

/// A letter position that must be whole (as indexing, 5.6).
fn whole(d: Decimal) -> RtResult<Decimal> {
    if d.fract().is_zero() {
        Ok(d)
    } else {
        Err(not_whole_index())
    }
}

fn letter(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    let i = num(&args[1])?;
    if i.is_sign_negative() && !i.is_zero() {
        return Ok(Value::str(""));
    }
    let i = whole(i)?;
    let found = text::letter_at(&t, to_count(i)).unwrap_or("");
    Ok(Value::str(found))
}

/// The positions `start..end` of துண்டு and வெட்டு over `len` items: the items at positions
/// start, start+1, … while the position is < start+count and < len. Errors only when that
/// would read an item at a bad position, as upstream's loop does.
fn span(start: &Value, count: &Value, len: usize) -> RtResult<(usize, usize)> {
    let start = num(start)?;
    let count = num(count)?;
    if count <= Decimal::ZERO || start >= Decimal::from(len) {
        return Ok((0, 0));
    }
    whole(start)?;
    if start.is_sign_negative() && !start.is_zero() {
        return Err(out_of_bounds(start, len));
    }
    let first = to_count(start);
    let end = match start.checked_add(count) {
        Some(end) => to_count(end.ceil()).min(len),
        None => len,
    };
    Ok((first, end.max(first)))
}

fn substring(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    let (start, end) = span(&args[1], &args[2], text::letter_count(&t))?;
    Ok(Value::str(text::letter_slice(&t, start, end)))
}

fn find(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    let s = text_of(&args[1])?;
    let at = text::find_letters(&t, &s).map_or(-1, |i| i as i64);
    Ok(Value::int(at))
}

fn contains(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    let s = text_of(&args[1])?;
    boolean(text::find_letters(&t, &s).is_some())
}

fn starts_with(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    let p = text_of(&args[1])?;
    boolean(text::starts_with_letters(&t, &p))
}

fn ends_with(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    let p = text_of(&args[1])?;
    boolean(text::ends_with_letters(&t, &p))
}

fn trim(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    Ok(Value::str(t.trim_matches(' ')))
}

fn repeat(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    let n = num(&args[1])?;
    if t.is_empty() || n <= Decimal::ZERO {
        return Ok(Value::str(""));
    }
    // Upstream appends while its counter is below n, so a fractional n rounds up.
    let times = to_count(n.ceil());
    let size = t.len().checked_mul(times).ok_or_else(heap::memory_error)?;
    heap::reserve(size)?;
    Ok(Value::string(t.repeat(times)))
}

fn pad_left(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    let width = num(&args[1])?;
    let fill = text_of(&args[2])?;
    if fill.is_empty() {
        return Err(err("நிரப்பு காலியாக இருக்கக் கூடாது", "fill must not be empty"));
    }
    let have = text::letter_count(&t);
    if Decimal::from(have) >= width {
        return Ok(Value::string(t.into_owned()));
    }
    // fill is prepended while the length is below width: ceil((width - have) / letters of fill)
    // times, since whole fills are added.
    let fill_letters = Decimal::from(text::letter_count(&fill));
    let missing = width
        .checked_sub(Decimal::from(have))
        .ok_or_else(overflow)?;
    let times = to_count(
        missing
            .checked_div(fill_letters)
            .ok_or_else(overflow)?
            .ceil(),
    );
    let size = fill
        .len()
        .checked_mul(times)
        .and_then(|s| s.checked_add(t.len()))
        .ok_or_else(heap::memory_error)?;
    heap::reserve(size)?;
    let mut out = fill.repeat(times);
    out.push_str(&t);
    // A fill whose letters join those after it (a lone combining mark) adds fewer letters than
    // counted; keep prepending while that still lengthens the text.
    let mut letters = text::letter_count(&out);
    while Decimal::from(letters) < width {
        heap::reserve(out.len() + fill.len())?;
        out.insert_str(0, &fill);
        let now = text::letter_count(&out);
        if now <= letters {
            return Err(err(
                "நிரப்பு உரையை நீட்டவில்லை",
                "fill does not lengthen the text",
            ));
        }
        letters = now;
    }
    Ok(Value::string(out))
}

// ---------------------------------------------------------------------------------------------
// 9.7 Numbers

fn abs(args: &mut [Value]) -> RtResult<Value> {
    Ok(number(num(&args[0])?.abs()))
}

fn min(args: &mut [Value]) -> RtResult<Value> {
    let pick = if args[0].compare(&args[1])? == Ordering::Less {
        0
    } else {
        1
    };
    Ok(take(args, pick))
}

fn max(args: &mut [Value]) -> RtResult<Value> {
    let pick = if args[0].compare(&args[1])? == Ordering::Greater {
        0
    } else {
        1
    };
    Ok(take(args, pick))
}

fn array_arg<'a>(v: &'a Value, func: &str) -> RtResult<&'a Array> {
    match v {
        Value::Array(a) => Ok(a),
        _ => Err(needs_array(func)),
    }
}

fn record_arg<'a>(v: &'a Value, func: &str) -> RtResult<&'a Record> {
    match v {
        Value::Record(r) => Ok(r),
        _ => Err(needs_record(func)),
    }
}

fn total(a: &Array) -> RtResult<Decimal> {
    a.items().iter().try_fold(Decimal::ZERO, |acc, item| {
        acc.checked_add(num(item)?).ok_or_else(overflow)
    })
}

fn sum(args: &mut [Value]) -> RtResult<Value> {
    Ok(number(total(array_arg(&args[0], "கூட்டு")?)?))
}

fn empty_array_failure() -> RtResult<Value> {
    Value::err(Value::str("காலி அணி (empty array)"))
}

fn average(args: &mut [Value]) -> RtResult<Value> {
    let a = array_arg(&args[0], "சராசரி")?;
    if a.is_empty() {
        return empty_array_failure();
    }
    let mean = total(a)?
        .checked_div(Decimal::from(a.len()))
        .ok_or_else(overflow)?;
    Value::ok(number(mean))
}

/// The first item that beats every other in `wanted` order (5.4 comparisons).
fn extreme(v: &Value, func: &str, wanted: Ordering) -> RtResult<Value> {
    let a = array_arg(v, func)?;
    let Some((first, rest)) = a.items().split_first() else {
        return empty_array_failure();
    };
    let mut best = first;
    for item in rest {
        if item.compare(best)? == wanted {
            best = item;
        }
    }
    Value::ok(best.clone())
}

fn smallest(args: &mut [Value]) -> RtResult<Value> {
    extreme(&args[0], "மிகச்சிறியது", Ordering::Less)
}

fn largest(args: &mut [Value]) -> RtResult<Value> {
    extreme(&args[0], "மிகப்பெரியது", Ordering::Greater)
}

fn percent(args: &mut [Value]) -> RtResult<Value> {
    let amount = num(&args[0])?;
    let rate = num(&args[1])?;
    let share = amount
        .checked_mul(rate)
        .and_then(|p| p.checked_div(Decimal::ONE_HUNDRED))
        .ok_or_else(overflow)?;
    Ok(number(round_to(share, 2)))
}

fn is_whole(args: &mut [Value]) -> RtResult<Value> {
    boolean(num(&args[0])?.fract().is_zero())
}

/// `a - தரை(a / b) * b`, with `மீதி(a, 0)` = 0 (9.7).
fn remainder(args: &mut [Value]) -> RtResult<Value> {
    let a = num(&args[0])?;
    let b = num(&args[1])?;
    if b.is_zero() {
        return Ok(number(Decimal::ZERO));
    }
    let q = a.checked_div(b).ok_or_else(overflow)?.floor();
    let r = q
        .checked_mul(b)
        .and_then(|qb| a.checked_sub(qb))
        .ok_or_else(overflow)?;
    Ok(number(r))
}

// ---------------------------------------------------------------------------------------------
// 9.8 Arrays and records

fn has_item(args: &mut [Value]) -> RtResult<Value> {
    let a = array_arg(&args[0], "உள்ளதா")?;
    boolean(a.items().iter().any(|item| item.equals(&args[1])))
}

fn index_of(args: &mut [Value]) -> RtResult<Value> {
    let a = array_arg(&args[0], "இடம்_காண்")?;
    let at = a.items().iter().position(|item| item.equals(&args[1]));
    Ok(Value::int(at.map_or(-1, |i| i as i64)))
}

fn items_cost(n: usize) -> usize {
    n.saturating_mul(std::mem::size_of::<Value>())
}

fn reverse(args: &mut [Value]) -> RtResult<Value> {
    let a = array_arg(&args[0], "தலைகீழ்")?;
    heap::reserve(items_cost(a.len()))?;
    let items: Vec<Value> = a.items().iter().rev().cloned().collect();
    Ok(Value::Array(Array::new(items)?))
}

fn slice(args: &mut [Value]) -> RtResult<Value> {
    let a = array_arg(&args[0], "வெட்டு")?;
    let (start, end) = span(&args[1], &args[2], a.len())?;
    heap::reserve(items_cost(end - start))?;
    Ok(Value::Array(Array::new(a.items()[start..end].to_vec())?))
}

fn no_field(key: &str) -> RuntimeError {
    let k = truncate_for_message(key);
    err(
        format!("இந்தப் பொருளில் '{k}' புலம் இல்லை"),
        format!("no field '{k}' on this record"),
    )
}

fn pluck(args: &mut [Value]) -> RtResult<Value> {
    let field = text_of(&args[1])?;
    let rows = array_arg(&args[0], "புலம்_எடு")?;
    heap::reserve(items_cost(rows.len()))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.items() {
        let r = record_arg(row, "புலம்_எடு")?;
        out.push(r.get(&field).ok_or_else(|| no_field(&field))?.clone());
    }
    Ok(Value::Array(Array::new(out)?))
}

fn is_empty(args: &mut [Value]) -> RtResult<Value> {
    let n = length(args)?;
    boolean(matches!(n, Value::Num(n) if n.is_zero()))
}

fn has_field(args: &mut [Value]) -> RtResult<Value> {
    let name = text_of(&args[1])?;
    let r = record_arg(&args[0], "புலம்_உள்ளதா")?;
    boolean(r.get(&name).is_some())
}

fn field_or(args: &mut [Value]) -> RtResult<Value> {
    let name = text_of(&args[1])?;
    let found = record_arg(&args[0], "புலம்_அல்லது")?.get(&name).cloned();
    Ok(found.unwrap_or_else(|| take(args, 2)))
}

fn keys(args: &mut [Value]) -> RtResult<Value> {
    let r = record_arg(&args[0], "புலங்கள்")?;
    heap::reserve(items_cost(r.len()))?;
    let items = r.map().keys().map(|k| Value::str(k)).collect();
    Ok(Value::Array(Array::new(items)?))
}

fn values(args: &mut [Value]) -> RtResult<Value> {
    let r = record_arg(&args[0], "மதிப்பீடுகள்")?;
    heap::reserve(items_cost(r.len()))?;
    Ok(Value::Array(Array::new(
        r.map().values().cloned().collect(),
    )?))
}

fn is_empty_record(args: &mut [Value]) -> RtResult<Value> {
    boolean(record_arg(&args[0], "காலியா_பதிவேடு")?.is_empty())
}

// ---------------------------------------------------------------------------------------------
// 9.9 JSON and money

fn json_encode(args: &mut [Value]) -> RtResult<Value> {
    match json::encode_capped(&args[0], heap::headroom()) {
        Some(text) => Ok(Value::string(text)),
        None => Err(heap::memory_error()),
    }
}

fn json_decode(args: &mut [Value]) -> RtResult<Value> {
    let t = text_of(&args[0])?;
    match json::decode(&t) {
        Ok(v) => Value::ok(v),
        Err(_) if heap::exceeded() => Err(heap::memory_error()),
        Err(message) => Value::err(Value::string(message)),
    }
}

/// `n` rounded to paise with Indian digit grouping: `1,23,45,678.50` (9.9).
fn money_text(n: Decimal) -> String {
    let r = round_to(n, 2);
    if r.is_zero() {
        return "0.00".to_owned();
    }
    let whole = r.abs().trunc();
    // The fraction of a value with at most 2 places, in paise: 0..=99.
    let paise = ((r.abs() - whole) * Decimal::ONE_HUNDRED)
        .to_u32()
        .unwrap_or(0);
    let mut digits = String::new();
    render_number(whole, &mut digits);
    let mut out = String::with_capacity(digits.len() * 2 + 4);
    if r.is_sign_negative() {
        out.push('-');
    }
    let len = digits.len();
    if len <= 3 {
        out.push_str(&digits);
    } else {
        // Groups of two before the last three digits: the first group has 1 or 2.
        let head = &digits[..len - 3];
        let first = if head.len().is_multiple_of(2) { 2 } else { 1 };
        out.push_str(&head[..first]);
        for pair in head.as_bytes()[first..].chunks(2) {
            out.push(',');
            out.extend(pair.iter().map(|&b| b as char));
        }
        out.push(',');
        out.push_str(&digits[len - 3..]);
    }
    out.push('.');
    out.push_str(&format!("{paise:02}"));
    out
}

fn money_format(args: &mut [Value]) -> RtResult<Value> {
    Ok(Value::string(money_text(num(&args[0])?)))
}

fn rupees(args: &mut [Value]) -> RtResult<Value> {
    Ok(Value::string(format!("₹{}", money_text(num(&args[0])?))))
}

fn to_paise(args: &mut [Value]) -> RtResult<Value> {
    Ok(number(round_to(num(&args[0])?, 2)))
}

fn scaled_down(args: &mut [Value], by: i64) -> RtResult<Value> {
    let n = num(&args[0])?
        .checked_div(Decimal::from(by))
        .ok_or_else(overflow)?;
    Ok(number(round_to(n, 2)))
}

fn lakh(args: &mut [Value]) -> RtResult<Value> {
    scaled_down(args, 100_000)
}

fn crore(args: &mut [Value]) -> RtResult<Value> {
    scaled_down(args, 10_000_000)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;
    use std::sync::Arc;

    use super::*;

    fn call(name: &str, mut args: Vec<Value>) -> RtResult<Value> {
        let b = lookup(name).unwrap_or_else(|| panic!("no builtin {name}"));
        assert_eq!(b.arity, args.len(), "arity of {name}");
        (b.func)(&mut args)
    }

    /// The rendering of a successful call.
    fn show(name: &str, args: Vec<Value>) -> String {
        match call(name, args) {
            Ok(v) => v.render(),
            Err(e) => panic!("{name}: {}", e.english),
        }
    }

    /// The English message of a failing call.
    fn fails(name: &str, args: Vec<Value>) -> String {
        match call(name, args) {
            Ok(v) => panic!(
                "{name} should fail, gave {}",
                truncate_for_message(&v.render())
            ),
            Err(e) => {
                assert!(e.pos.is_none());
                e.english
            }
        }
    }

    fn n(s: &str) -> Value {
        Value::Num(Decimal::from_str(s).unwrap())
    }

    fn s(t: &str) -> Value {
        Value::str(t)
    }

    fn arr(items: Vec<Value>) -> Value {
        Value::Array(Array::new(items).unwrap())
    }

    fn rec(pairs: &[(&str, Value)]) -> Value {
        let map = pairs
            .iter()
            .map(|(k, v)| (Arc::from(*k), v.clone()))
            .collect();
        Value::Record(Record::new(map).unwrap())
    }

    fn ok(v: Value) -> Value {
        Value::ok(v).unwrap()
    }

    fn er(v: Value) -> Value {
        Value::err(v).unwrap()
    }

    #[test]
    fn every_spelling_finds_its_builtin() {
        let host: &[(&[&str], usize)] = &[
            (&["நீளம்", "nILam", "_length"], 1),
            (&["இணை", "iNY", "_append"], 2),
            (&["வகை", "vakY", "_typeof"], 1),
            (&["சரி", "cari", "_ok"], 1),
            (&["தவறு", "qavaRu", "_err"], 1),
            (&["சரியா", "cariyA", "_isOk"], 1),
            (&["தவறா", "qavaRA", "_isErr"], 1),
            (&["மதிப்பு", "maqippu", "_unwrap"], 1),
            (&["தவறு_மதிப்பு", "qavaRu_maqippu", "_unwrapErr"], 1),
            (&["இயல்பு", "iyalpu", "_unwrapOr"], 2),
            (&["வட்டமிடு", "vattamitu", "_round"], 2),
            (&["தரை", "qarY", "_floor"], 1),
            (&["மேல்", "mEl", "_ceil"], 1),
            (&["எண்ணாக்கு", "eNNAkku", "_toNumber"], 1),
            (&["சொல்லாக்கு", "collAkku", "_toString"], 1),
            (&["மேல்_எழுத்து", "mEl_ezuqqu", "_upper"], 1),
            (&["கீழ்_எழுத்து", "kIz_ezuqqu", "_lower"], 1),
            (&["மாற்று", "mARRu", "_replace"], 3),
            (&["பிரி", "piri", "_split"], 2),
            (&["ஒன்றிணை", "oZRiNY"], 2),
            (&["இன்று", "iZRu", "_today"], 0),
            (&["நாள்_வேறுபாடு", "nAL_vERupAtu", "_daysBetween"], 2),
            (&["நாள்_கூட்டு", "nAL_kUttu", "_addDays"], 2),
            (&["சூழல்", "cUzal", "_env"], 2),
            (&["வெளியேறு", "veLiyERu", "_exit"], 1),
        ];
        let library: &[(&str, usize)] = &[
            ("எழுத்து", 2),
            ("துண்டு", 3),
            ("தேடு", 2),
            ("கொண்டுள்ளதா", 2),
            ("தொடங்குகிறதா", 2),
            ("முடிகிறதா", 2),
            ("ஒழுங்கு", 1),
            ("திரும்பச்செய்", 2),
            ("இடமிருந்து_நிரப்பு", 3),
            ("முழுமதிப்பு", 1),
            ("சிறியது", 2),
            ("பெரியது", 2),
            ("கூட்டு", 1),
            ("சராசரி", 1),
            ("மிகச்சிறியது", 1),
            ("மிகப்பெரியது", 1),
            ("சதவீதம்", 2),
            ("முழு_எண்ணா", 1),
            ("மீதி", 2),
            ("உள்ளதா", 2),
            ("இடம்_காண்", 2),
            ("தலைகீழ்", 1),
            ("வெட்டு", 3),
            ("புலம்_எடு", 2),
            ("காலியா", 1),
            ("புலம்_உள்ளதா", 2),
            ("புலம்_அல்லது", 3),
            ("புலங்கள்", 1),
            ("மதிப்பீடுகள்", 1),
            ("காலியா_பதிவேடு", 1),
            ("ஜேசான்_ஆக்கு", 1),
            ("ஜேசான்_படி", 1),
            ("காசு_வடிவம்", 1),
            ("ரூபாய்", 1),
            ("காசாக", 1),
            ("லட்சம்", 1),
            ("கோடி", 1),
        ];
        for (spellings, arity) in host {
            for spelling in *spellings {
                let b = lookup(spelling).unwrap_or_else(|| panic!("{spelling}"));
                assert_eq!(b.name, spellings[0]);
                assert_eq!(b.arity, *arity, "{spelling}");
            }
        }
        for (name, arity) in library {
            let b = lookup(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!((b.name, b.arity, b.effect), (*name, *arity, Effect::Pure));
        }
        assert_eq!(all().count(), host.len() + library.len());
        // `_join` is reserved (9.4); upstream's internal helpers are not builtins (9).
        for missing in [
            "_join",
            "ஜேசான்_சரம்",
            "குழுக்கள்",
            "எழுத்து_மறை",
            "nILam ",
            "len",
            "",
        ] {
            assert!(lookup(missing).is_none(), "{missing}");
        }
        assert_eq!(lookup("இன்று").unwrap().effect, Effect::Clock);
        assert_eq!(lookup("_env").unwrap().effect, Effect::Env);
        assert_eq!(lookup("veLiyERu").unwrap().effect, Effect::Exit);
        assert_eq!(lookup("நீளம்").unwrap().effect, Effect::Pure);
    }

    #[test]
    fn collections_and_kinds() {
        assert_eq!(show("நீளம்", vec![s("வணக்கம்")]), "5");
        assert_eq!(show("nILam", vec![s("a\r\nb")]), "3");
        assert_eq!(show("_length", vec![arr(vec![n("1"), n("2")])]), "2");
        assert_eq!(show("நீளம்", vec![rec(&[("a", n("1")), ("b", n("2"))])]), "2");
        assert_eq!(show("_length", vec![s("ஆம்")]), "2");
        for bad in [n("5"), Value::Nil, Value::Bool(true), ok(n("1"))] {
            assert!(fails("நீளம்", vec![bad]).contains("length needs an array, record or string"));
        }
        let a = arr(vec![n("1")]);
        assert_eq!(show("இணை", vec![a.clone(), s("x")]), "[1, x]");
        assert_eq!(a.render(), "[1]", "இணை makes a new array");
        assert_eq!(show("iNY", vec![arr(vec![]), arr(vec![])]), "[[]]");
        assert_eq!(show("_append", vec![arr(vec![]), n("2")]), "[2]");
        assert!(fails("இணை", vec![s("abc"), n("1")]).contains("append needs an array"));
        let cases = [
            (n("1"), "a number"),
            (n("0.18"), "a number"),
            (s("உரை"), "a string"),
            (Value::Bool(true), "a boolean"),
            (Value::Nil, "nil"),
            (arr(vec![n("1")]), "an array"),
            (rec(&[("a", n("1"))]), "a record"),
            (ok(n("1")), "a result"),
            (er(n("1")), "a result"),
        ];
        for (v, kind) in cases {
            assert_eq!(show("வகை", vec![v.clone()]), kind);
            assert_eq!(show("vakY", vec![v.clone()]), kind);
            assert_eq!(show("_typeof", vec![v]), kind);
        }
    }

    #[test]
    fn results() {
        let good = ok(n("2.5"));
        let bad = er(s("பூஜ்ஜியத்தால் வகுக்க முடியாது"));
        for name in ["சரி", "cari", "_ok"] {
            assert_eq!(show(name, vec![n("1")]), "சரி(1)");
        }
        for name in ["தவறு", "qavaRu", "_err"] {
            assert_eq!(show(name, vec![n("2")]), "தவறு(2)");
        }
        assert_eq!(
            show("சரி", vec![rec(&[("தொகை", n("5"))])]),
            "சரி({தொகை: 5})"
        );
        for name in ["சரியா", "cariyA", "_isOk"] {
            assert_eq!(show(name, vec![good.clone()]), "true");
            assert_eq!(show(name, vec![bad.clone()]), "false");
            assert_eq!(show(name, vec![n("5")]), "false");
        }
        for name in ["தவறா", "qavaRA", "_isErr"] {
            assert_eq!(show(name, vec![good.clone()]), "false");
            assert_eq!(show(name, vec![bad.clone()]), "true");
            assert_eq!(show(name, vec![s("x")]), "false");
        }
        for name in ["மதிப்பு", "maqippu", "_unwrap"] {
            assert_eq!(show(name, vec![good.clone()]), "2.5");
            assert!(fails(name, vec![er(s("e"))]).contains("unwrap on an error: e"));
            assert!(fails(name, vec![n("1")]).contains("needs a result"));
        }
        for name in ["தவறு_மதிப்பு", "qavaRu_maqippu", "_unwrapErr"] {
            assert_eq!(show(name, vec![bad.clone()]), "பூஜ்ஜியத்தால் வகுக்க முடியாது");
            assert!(fails(name, vec![good.clone()])
                .contains("there is no error in a successful result"));
            assert!(fails(name, vec![Value::Nil]).contains("needs a result"));
        }
        for name in ["இயல்பு", "iyalpu", "_unwrapOr"] {
            assert_eq!(show(name, vec![bad.clone(), n("0")]), "0");
            assert_eq!(show(name, vec![good.clone(), n("0")]), "2.5");
            assert!(fails(name, vec![n("1"), n("0")]).contains("needs a result"));
        }
    }

    #[test]
    fn rounding_floor_ceil() {
        let round = |name: &str, x: &str, p: &str| show(name, vec![n(x), n(p)]);
        assert_eq!(round("வட்டமிடு", "2.345", "2"), "2.35");
        assert_eq!(round("வட்டமிடு", "2.355", "2"), "2.36");
        assert_eq!(round("வட்டமிடு", "-2.345", "2"), "-2.35");
        assert_eq!(round("vattamitu", "2.5", "0"), "3");
        assert_eq!(round("_round", "-2.5", "0"), "-3");
        assert_eq!(round("வட்டமிடு", "3.5", "0"), "4");
        assert_eq!(round("வட்டமிடு", "2.50", "2"), "2.5");
        assert_eq!(
            round("வட்டமிடு", "0.3333333333333333333333333333", "4"),
            "0.3333"
        );
        assert_eq!(round("வட்டமிடு", "1234.5678", "1"), "1234.6");
        assert_eq!(round("வட்டமிடு", "1234.5678", "2.9"), "1234.57");
        assert_eq!(
            round("வட்டமிடு", "0.0000000000000000000000000001", "28"),
            "0.0000000000000000000000000001"
        );
        assert_eq!(round("வட்டமிடு", "1.5", "100000000000000000000"), "1.5");
        assert_eq!(round("வட்டமிடு", "-0.4", "0"), "0");
        assert_eq!(round("வட்டமிடு", "2.5", "-0.5"), "3");
        assert_eq!(show("வட்டமிடு", vec![s("2.345"), n("2")]), "2.35");
        assert!(fails("வட்டமிடு", vec![n("1"), n("-1")]).contains("places must be a whole number"));
        assert!(fails("வட்டமிடு", vec![s("abc"), n("1")])
            .contains("cannot use 'abc' (a string) as a number"));
        assert!(fails("வட்டமிடு", vec![n("1"), Value::Nil]).contains("as a number"));
        let floors: Vec<String> = [
            ("தரை", "2.7"),
            ("தரை", "-2.7"),
            ("qarY", "5"),
            ("_floor", "-0.1"),
        ]
        .iter()
        .map(|(f, x)| show(f, vec![n(x)]))
        .collect();
        assert_eq!(floors.join(" "), "2 -3 5 -1");
        let ceils: Vec<String> = [
            ("மேல்", "2.1"),
            ("மேல்", "-2.1"),
            ("mEl", "7"),
            ("_ceil", "0.001"),
            ("மேல்", "-0.5"),
        ]
        .iter()
        .map(|(f, x)| show(f, vec![n(x)]))
        .collect();
        assert_eq!(ceils.join(" "), "3 -2 7 1 0");
        assert_eq!(
            show("தரை", vec![n("-79228162514264337593543950335")]),
            "-79228162514264337593543950335"
        );
        assert_eq!(
            show("மேல்", vec![n("7922816251426433759354395033.5")]),
            "7922816251426433759354395034"
        );
    }

    #[test]
    fn number_and_text_conversion() {
        assert_eq!(show("எண்ணாக்கு", vec![s("12.50")]), "சரி(12.5)");
        assert_eq!(show("எண்ணாக்கு", vec![s(" 7 ")]), "சரி(7)");
        assert_eq!(show("eNNAkku", vec![s("-0.5")]), "சரி(-0.5)");
        assert_eq!(show("_toNumber", vec![s("1e3")]), "சரி(1000)");
        assert_eq!(show("எண்ணாக்கு", vec![n("42")]), "சரி(42)");
        assert_eq!(
            show("எண்ணாக்கு", vec![s("abc")]),
            "தவறு('abc' is not a number)"
        );
        for bad in ["ஆயிரம்", "", "1,000", "1e-29", "0x10", "NaN", "௧"] {
            assert_eq!(
                show("சரியா", vec![call("எண்ணாக்கு", vec![s(bad)]).unwrap()]),
                "false",
                "{bad}"
            );
        }
        assert_eq!(
            show("எண்ணாக்கு", vec![Value::Bool(true)]),
            "தவறு('true' is not a number)"
        );
        assert_eq!(show("சொல்லாக்கு", vec![n("1.50")]), "1.5");
        assert_eq!(
            show(
                "collAkku",
                vec![arr(vec![n("1.50"), rec(&[("a", n("2.0"))])])]
            ),
            "[1.5, {a: 2}]"
        );
        assert_eq!(show("_toString", vec![Value::Nil]), "nil");
        assert_eq!(
            show("வகை", vec![call("சொல்லாக்கு", vec![n("5")]).unwrap()]),
            "a string"
        );
        assert_eq!(
            show("சொல்லாக்கு", vec![er(arr(vec![s("a"), Value::Bool(false)]))]),
            "தவறு([a, false])"
        );
    }

    #[test]
    fn case_mapping() {
        assert_eq!(
            show("மேல்_எழுத்து", vec![s("gstin 33abcde1234f1z5")]),
            "GSTIN 33ABCDE1234F1Z5"
        );
        assert_eq!(show("mEl_ezuqqu", vec![s("pan")]), "PAN");
        assert_eq!(show("_upper", vec![s("ரவி ok")]), "ரவி OK");
        assert_eq!(show("கீழ்_எழுத்து", vec![s("ABC DEF")]), "abc def");
        assert_eq!(show("kIz_ezuqqu", vec![s("MiXeD")]), "mixed");
        assert_eq!(show("_lower", vec![s("É")]), "é");
        assert_eq!(show("_upper", vec![Value::Bool(true)]), "TRUE");
    }

    #[test]
    fn replace_split_join() {
        let r = |t: Value, o: &str, w: &str| show("மாற்று", vec![t, s(o), s(w)]);
        assert_eq!(r(s("2026/04/01"), "/", "-"), "2026-04-01");
        assert_eq!(show("mARRu", vec![s("aaa"), s("a"), s("bb")]), "bbbbbb");
        assert_eq!(
            show("_replace", vec![s("ஒன்று, இரண்டு"), s(", "), s(" + ")]),
            "ஒன்று + இரண்டு"
        );
        assert_eq!(r(s("அபராதம்"), "", "x"), "அபராதம்");
        assert_eq!(r(n("12.50"), ".", ","), "12,5");
        assert_eq!(r(s("கா"), "ா", "ி"), "கா");
        assert_eq!(r(s("aXbXc"), "X", ""), "abc");
        assert_eq!(r(s("a\r\nb"), "\n", "!"), "a\r\nb");
        assert_eq!(show("மாற்று", vec![n("1"), n("1"), n("2")]), "2");

        let p = |t: &str, sep: &str| show("பிரி", vec![s(t), s(sep)]);
        assert_eq!(p("அரிசி,பருப்பு,,எண்ணெய்,", ","), "[அரிசி, பருப்பு, , எண்ணெய், ]");
        assert_eq!(
            show("நீளம்", vec![call("piri", vec![s(""), s(",")]).unwrap()]),
            "1"
        );
        assert_eq!(show("_split", vec![s("a--b---c"), s("--")]), "[a, b, -c]");
        assert_eq!(p("ஒரே சொல்", ""), "[ஒரே சொல்]");
        assert_eq!(p("கா", "ா"), "[கா]");
        assert_eq!(p("a,", ","), "[a, ]");
        let pieces = call("பிரி", vec![s("a,b"), s(",")]).unwrap();
        assert!(pieces.equals(&arr(vec![s("a"), s("b")])));

        assert_eq!(
            show("ஒன்றிணை", vec![arr(vec![s("அ"), s("ஆ"), s("இ")]), s("-")]),
            "அ-ஆ-இ"
        );
        let mixed = arr(vec![n("1"), n("2.50"), Value::Bool(true), Value::Nil]);
        assert_eq!(show("oZRiNY", vec![mixed, s(", ")]), "1, 2.5, true, nil");
        assert_eq!(show("oZRiNY", vec![arr(vec![]), s("x")]), "");
        let dates = call("பிரி", vec![s("2026-04-01"), s("-")]).unwrap();
        assert_eq!(show("ஒன்றிணை", vec![dates, s("/")]), "2026/04/01");
        assert!(fails("ஒன்றிணை", vec![s("abc"), s(",")]).contains("join needs an array"));
        assert!(lookup("_join").is_none());
    }

    #[test]
    fn dates() {
        let between = |name: &str, a: &str, b: &str| show(name, vec![s(a), s(b)]);
        assert_eq!(between("நாள்_வேறுபாடு", "2026-04-01", "2027-03-31"), "364");
        assert_eq!(between("நாள்_வேறுபாடு", "2024-03-01", "2024-02-28"), "-2");
        assert_eq!(between("nAL_vERupAtu", "2026-01-31", "2026-03-01"), "29");
        assert_eq!(between("_daysBetween", "1970-01-01", "2000-03-01"), "11017");
        assert_eq!(
            between("_daysBetween", "0000-01-01", "9999-12-31"),
            "3652424"
        );
        let add = |name: &str, d: &str, k: &str| show(name, vec![s(d), n(k)]);
        assert_eq!(add("நாள்_கூட்டு", "2024-02-28", "1"), "2024-02-29");
        assert_eq!(add("நாள்_கூட்டு", "2023-02-28", "1"), "2023-03-01");
        assert_eq!(add("nAL_kUttu", "2026-12-31", "1"), "2027-01-01");
        assert_eq!(add("நாள்_கூட்டு", "2026-01-31", "-31"), "2025-12-31");
        assert_eq!(add("நாள்_கூட்டு", "2026-1-5", "0"), "2026-01-05");
        assert_eq!(add("_addDays", "2026-03-15", "45"), "2026-04-29");
        assert_eq!(add("_addDays", "2026-03-15", "1.9"), "2026-03-16");
        assert_eq!(add("_addDays", "2026-03-15", "-1.9"), "2026-03-14");
        assert_eq!(add("_addDays", "2026-03-15", "-0.5"), "2026-03-15");
        assert_eq!(add("_addDays", "2026-03-15", "-0"), "2026-03-15");
        assert_eq!(add("_addDays", "1900-02-28", "1"), "1900-03-01");
        assert_eq!(add("_addDays", "2000-02-28", "1"), "2000-02-29");
        assert_eq!(add("_addDays", " 2026-03-15 ", "0"), "2026-03-15");
        assert_eq!(add("_addDays", "0001-01-01", "-366"), "0000-01-01");
        assert_eq!(
            show("_addDays", vec![s("2026-03-15"), s("10")]),
            "2026-03-25"
        );
        assert_eq!(
            show(
                "நாள்_வேறுபாடு",
                vec![
                    call("நாள்_கூட்டு", vec![s("2026-03-15"), n("45")]).unwrap(),
                    s("2026-05-20")
                ]
            ),
            "21"
        );
        assert!(fails("_addDays", vec![s("9999-12-31"), n("1")]).contains("date out of range"));
        assert!(fails(
            "_addDays",
            vec![s("2026-01-01"), n("-79228162514264337593543950335")]
        )
        .contains("date out of range"));
        for bad in [
            "2026-02-29",
            "2024-02-30",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-02-31",
            "2026/01/01",
            "2026-01",
            "2026-01-01-01",
            "",
            "abc",
            "-2026-01-01",
            "2026-+1-01",
            "2026-01-1x",
            "10000-01-01",
            "2026--01",
        ] {
            assert!(
                fails("நாள்_வேறுபாடு", vec![s(bad), s("2026-01-01")])
                    .contains("is not a date; expected YYYY-MM-DD"),
                "{bad}"
            );
        }
        assert!(fails("நாள்_கூட்டு", vec![n("5"), n("1")]).contains("is not a date"));
        for name in ["இன்று", "iZRu", "_today"] {
            let today = show(name, vec![]);
            assert_eq!(text::letter_count(&today), 10);
            assert!(today.as_str() > "2020-01-01");
            assert_eq!(show("_addDays", vec![s(&today), n("0")]), today);
        }
        for days in [-800_000i64, -1, 0, 59, 60, 365, 11_016, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn environment_and_exit() {
        const UNSET: &str = "ETAMIL_CONFORMANCE_UNSET_VARIABLE";
        assert_eq!(show("சூழல்", vec![s(UNSET), s("இயல்பு")]), "இயல்பு");
        assert_eq!(show("cUzal", vec![s(UNSET), n("42")]), "42");
        assert_eq!(show("_env", vec![s(UNSET), Value::Nil]), "nil");
        assert_eq!(
            show(
                "வகை",
                vec![call("சூழல்", vec![s(UNSET), arr(vec![n("1")])]).unwrap()]
            ),
            "an array"
        );
        assert_eq!(
            show("சூழல்", vec![s("PATH"), Value::Nil]),
            std::env::var("PATH").unwrap_or("nil".into())
        );
        for name in ["", "A=B", "A\0B", "ETAMIL_AUTH_TOKEN"] {
            assert_eq!(show("சூழல்", vec![s(name), s("d")]), "d");
        }
        for name in ["வெளியேறு", "veLiyERu", "_exit"] {
            assert_eq!(show(name, vec![n("3")]), "3");
        }
        assert_eq!(show("_exit", vec![n("2.9")]), "2");
        assert_eq!(show("_exit", vec![n("-0.5")]), "0");
        assert_eq!(show("_exit", vec![n("-0")]), "0");
        assert_eq!(show("_exit", vec![n("-2.9")]), "-2");
        assert_eq!(show("_exit", vec![s(" 7 ")]), "7");
        assert_eq!(show("_exit", vec![n("2147483647")]), "2147483647");
        assert_eq!(show("_exit", vec![n("2147483648")]), "1");
        assert_eq!(show("_exit", vec![n("-2147483649")]), "1");
        assert!(fails("_exit", vec![s("x")]).contains("as a number"));
    }

    #[test]
    fn library_strings() {
        let sub = |t: &str, a: &str, b: &str| show("துண்டு", vec![s(t), n(a), n(b)]);
        assert_eq!(sub("வணக்கம் உலகம்", "0", "5"), "வணக்கம்");
        assert_eq!(sub("abcdef", "2", "3"), "cde");
        assert_eq!(sub("abc", "1", "10"), "bc");
        assert_eq!(sub("abc", "5", "2"), "");
        assert_eq!(sub("abc", "1", "0"), "");
        assert_eq!(sub("abc", "1", "-3"), "");
        assert_eq!(sub("abc", "-1", "0"), "");
        assert_eq!(sub("abc", "0", "1.5"), "ab");
        assert_eq!(sub("abc", "1.0", "1"), "b");
        assert_eq!(sub("abc", "0", "79228162514264337593543950335"), "abc");
        assert!(fails("துண்டு", vec![s("abc"), n("-1"), n("2")])
            .contains("index -1 out of bounds, length 3"));
        assert!(fails("துண்டு", vec![s("abc"), n("0.5"), n("2")])
            .contains("array index must be a whole number"));

        let at = |t: &str, i: &str| show("எழுத்து", vec![s(t), n(i)]);
        assert_eq!(
            format!(
                "{}|{}|{}|",
                at("கணக்கு", "1"),
                at("abc", "3"),
                at("abc", "-1")
            ),
            "ண|||"
        );
        assert_eq!(at("a\r\nb", "1"), "\r\n");
        assert_eq!(at("abc", "-0"), "a");
        assert_eq!(at("abc", "100000000000000000000000"), "");
        assert!(fails("எழுத்து", vec![s("abc"), n("1.5")])
            .contains("array index must be a whole number"));

        let find = |t: &str, x: &str| show("தேடு", vec![s(t), s(x)]);
        assert_eq!(find("வணக்கம் உலகம்", "உலகம்"), "6");
        assert_eq!(
            format!(
                "{} {} {}",
                find("GSTIN-GSTIN", "IN"),
                find("abc", "z"),
                find("abc", "")
            ),
            "3 -1 0"
        );
        assert_eq!(find("கா", "க"), "-1");
        assert_eq!(
            show("கொண்டுள்ளதா", vec![s("33ABCDE1234F1Z5"), s("ABCDE")]),
            "true"
        );
        assert_eq!(show("கொண்டுள்ளதா", vec![s("abc"), s("x")]), "false");
        assert_eq!(show("கொண்டுள்ளதா", vec![s("கா"), s("ா")]), "false");
        assert_eq!(
            show("தொடங்குகிறதா", vec![s("INV-2026-001"), s("INV")]),
            "true"
        );
        assert_eq!(show("முடிகிறதா", vec![s("INV-2026-001"), s("001")]), "true");
        assert_eq!(show("முடிகிறதா", vec![s("a"), s("abc")]), "false");
        assert_eq!(show("தொடங்குகிறதா", vec![n("12.5"), n("12")]), "true");

        let trim = |t: &str| show("ஒழுங்கு", vec![s(t)]);
        assert_eq!(
            format!(
                "[{}][{}][{}]",
                trim("   இடைவெளி சுற்றி   "),
                trim(""),
                trim("    ")
            ),
            "[இடைவெளி சுற்றி][][]"
        );
        assert_eq!(trim("\tதத்தல்\t"), "\tதத்தல்\t");

        assert_eq!(show("திரும்பச்செய்", vec![s("="), n("10")]), "==========");
        assert_eq!(show("திரும்பச்செய்", vec![s("ab"), n("0")]), "");
        assert_eq!(show("திரும்பச்செய்", vec![s("ab"), n("-3")]), "");
        assert_eq!(show("திரும்பச்செய்", vec![s("ab"), n("1.5")]), "abab");
        assert_eq!(show("திரும்பச்செய்", vec![s(""), n("1000000000000")]), "");

        let pad = |v: Value, w: &str, f: &str| show("இடமிருந்து_நிரப்பு", vec![v, n(w), s(f)]);
        assert_eq!(pad(n("7"), "3", "0"), "007");
        assert_eq!(pad(s("12345"), "3", "0"), "12345");
        assert_eq!(pad(s("5"), "4", "ab"), "abab5");
        assert_eq!(format!("INV-{}", pad(n("42"), "6", "0")), "INV-000042");
        assert_eq!(pad(s("க"), "3", "அ"), "அஅக");
        assert_eq!(pad(s("5"), "2.5", "0"), "005");
        assert!(fails("இடமிருந்து_நிரப்பு", vec![s("5"), n("4"), s("")])
            .contains("fill must not be empty"));
        assert!(
            fails("இடமிருந்து_நிரப்பு", vec![s("x"), n("3"), s("\u{301}")])
                .contains("fill does not lengthen")
        );
    }

    #[test]
    fn huge_results_hit_the_memory_limit_before_allocating() {
        heap::begin_run(0, 64 << 20);
        for (name, args) in [
            ("திரும்பச்செய்", vec![s("x"), n("1000000000000")]),
            (
                "திரும்பச்செய்",
                vec![s("xy"), n("79228162514264337593543950335")],
            ),
            ("இடமிருந்து_நிரப்பு", vec![s("x"), n("1000000000000"), s("0")]),
        ] {
            assert!(
                fails(name, args).contains("memory limit exceeded (limit is 64MiB)"),
                "{name}"
            );
        }
        let big = Value::string("x".repeat(1 << 20));
        let many = arr(vec![big.clone(); 100]);
        assert!(fails(
            "மாற்று",
            vec![big.clone(), s("x"), Value::string("y".repeat(100))]
        )
        .contains("memory limit"));
        assert!(fails("சொல்லாக்கு", vec![many.clone()]).contains("memory limit"));
        assert!(fails("ஒன்றிணை", vec![many.clone(), s(",")]).contains("memory limit"));
        assert!(fails("ஜேசான்_ஆக்கு", vec![many.clone()]).contains("memory limit"));
        assert!(fails("மேல்_எழுத்து", vec![many]).contains("memory limit"));
        drop(big);
        heap::begin_run(0, usize::MAX);
    }

    #[test]
    fn library_numbers() {
        let one = |f: &str, x: Value| show(f, vec![x]);
        let two = |f: &str, a: Value, b: Value| show(f, vec![a, b]);
        assert_eq!(one("முழுமதிப்பு", n("-350.25")), "350.25");
        assert_eq!(one("முழுமதிப்பு", n("12")), "12");
        assert_eq!(two("சிறியது", n("3"), n("7")), "3");
        assert_eq!(two("பெரியது", n("3"), n("7")), "7");
        assert_eq!(two("சிறியது", n("2.50"), n("2.5")), "2.5");
        assert_eq!(two("பெரியது", s("ஆ"), s("அ")), "ஆ");
        assert_eq!(two("பெரியது", s("10"), n("9")), "10");
        assert!(fails("சிறியது", vec![Value::Bool(true), n("1")]).contains("cannot compare"));
        assert_eq!(
            one("கூட்டு", arr(vec![n("1.10"), n("2.20"), n("3.30")])),
            "6.6"
        );
        assert_eq!(one("கூட்டு", arr(vec![])), "0");
        assert_eq!(one("கூட்டு", arr(vec![n("1"), s("2")])), "3");
        assert!(fails("கூட்டு", vec![n("1")]).contains("needs an array"));
        assert!(fails(
            "கூட்டு",
            vec![arr(vec![n("79228162514264337593543950335"), n("1")])]
        )
        .contains("number overflow"));
        assert_eq!(
            one("சராசரி", arr(vec![n("10"), n("20"), n("45")])),
            "சரி(25)"
        );
        assert_eq!(one("சராசரி", arr(vec![n("1"), n("2")])), "சரி(1.5)");
        assert_eq!(
            one("தவறா", call("சராசரி", vec![arr(vec![])]).unwrap()),
            "true"
        );
        let nums = arr(vec![n("5"), n("-3"), n("9")]);
        assert_eq!(one("மிகச்சிறியது", nums.clone()), "சரி(-3)");
        assert_eq!(one("மிகப்பெரியது", nums), "சரி(9)");
        assert_eq!(
            one("தவறா", call("மிகப்பெரியது", vec![arr(vec![])]).unwrap()),
            "true"
        );
        assert_eq!(
            one("மிகச்சிறியது", arr(vec![s("b"), s("a"), s("c")])),
            "சரி(a)"
        );
        assert_eq!(two("சதவீதம்", n("1999"), n("18")), "359.82");
        assert_eq!(two("சதவீதம்", n("100"), n("12.5")), "12.5");
        assert_eq!(two("சதவீதம்", n("333.33"), n("3")), "10");
        assert_eq!(one("முழு_எண்ணா", n("4.0")), "true");
        assert_eq!(one("முழு_எண்ணா", n("4.5")), "false");
        assert_eq!(one("முழு_எண்ணா", n("-3")), "true");
        let rem = |a: &str, b: &str| show("மீதி", vec![n(a), n(b)]);
        assert_eq!(
            [
                rem("10", "3"),
                rem("-7", "3"),
                rem("7", "-3"),
                rem("7.5", "2"),
                rem("5", "0")
            ]
            .join(" "),
            "1 2 -2 1.5 0"
        );
    }

    #[test]
    fn library_arrays_and_records() {
        let states = arr(vec![s("தமிழ்நாடு"), s("கேரளா"), s("கர்நாடகா")]);
        assert_eq!(show("உள்ளதா", vec![states.clone(), s("கேரளா")]), "true");
        assert_eq!(show("உள்ளதா", vec![states.clone(), s("ஆந்திரா")]), "false");
        assert_eq!(show("உள்ளதா", vec![arr(vec![n("5")]), s("5")]), "true");
        assert_eq!(show("இடம்_காண்", vec![states.clone(), s("கர்நாடகா")]), "2");
        assert_eq!(show("இடம்_காண்", vec![states.clone(), s("கோவா")]), "-1");
        assert_eq!(show("இடம்_காண்", vec![arr(vec![]), n("1")]), "-1");
        assert_eq!(
            show("தலைகீழ்", vec![states.clone()]),
            "[கர்நாடகா, கேரளா, தமிழ்நாடு]"
        );
        assert_eq!(states.render(), "[தமிழ்நாடு, கேரளா, கர்நாடகா]");
        let five = arr(["1", "2", "3", "4", "5"].iter().map(|x| n(x)).collect());
        let two = arr(vec![n("1"), n("2")]);
        assert_eq!(show("வெட்டு", vec![five, n("1"), n("3")]), "[2, 3, 4]");
        assert_eq!(show("வெட்டு", vec![two.clone(), n("1"), n("5")]), "[2]");
        assert_eq!(show("வெட்டு", vec![two.clone(), n("3"), n("1")]), "[]");
        assert_eq!(show("வெட்டு", vec![two.clone(), n("0"), n("1")]), "[1]");
        assert!(fails("வெட்டு", vec![two.clone(), n("-1"), n("1")])
            .contains("index -1 out of bounds, length 2"));
        assert!(fails("வெட்டு", vec![two, n("0.5"), n("1")])
            .contains("array index must be a whole number"));
        assert_eq!(show("காலியா", vec![arr(vec![])]), "true");
        assert_eq!(show("காலியா", vec![arr(vec![n("0")])]), "false");
        assert_eq!(show("காலியா", vec![s("")]), "true");
        assert_eq!(show("காலியா", vec![Value::Record(Record::empty())]), "true");
        assert!(fails("காலியா", vec![n("0")]).contains("length needs an array, record or string"));
        let rows = arr(vec![
            rec(&[("பெயர்", s("அ")), ("தொகை", n("10"))]),
            rec(&[("பெயர்", s("ஆ")), ("தொகை", n("20.50"))]),
        ]);
        assert_eq!(
            show("புலம்_எடு", vec![rows.clone(), s("தொகை")]),
            "[10, 20.5]"
        );
        assert!(fails("புலம்_எடு", vec![rows, s("x")]).contains("no field 'x' on this record"));
        let person = rec(&[("பெயர்", s("ரவி")), ("நகரம்", s("சேலம்")), ("வயது", n("30"))]);
        assert_eq!(show("புலம்_உள்ளதா", vec![person.clone(), s("நகரம்")]), "true");
        assert_eq!(show("புலம்_உள்ளதா", vec![person.clone(), s("அஞ்சல்")]), "false");
        assert_eq!(
            show("புலம்_அல்லது", vec![person.clone(), s("அஞ்சல்"), s("636001")]),
            "636001"
        );
        assert_eq!(
            show("புலம்_அல்லது", vec![person.clone(), s("வயது"), n("0")]),
            "30"
        );
        assert_eq!(
            show("புலம்_அல்லது", vec![rec(&[("7", n("1"))]), n("7"), n("0")]),
            "1"
        );
        assert_eq!(show("புலங்கள்", vec![person.clone()]), "[நகரம், பெயர், வயது]");
        assert_eq!(show("மதிப்பீடுகள்", vec![person.clone()]), "[சேலம், ரவி, 30]");
        assert_eq!(
            show("காலியா_பதிவேடு", vec![Value::Record(Record::empty())]),
            "true"
        );
        assert_eq!(show("காலியா_பதிவேடு", vec![person]), "false");
        assert!(fails("புலங்கள்", vec![arr(vec![])]).contains("needs a record"));
        assert!(fails("உள்ளதா", vec![s("abc"), s("a")]).contains("needs an array"));
    }

    #[test]
    fn json_builtins() {
        let invoice = rec(&[
            ("குறி", s("INV-7")),
            ("தொகை", n("2360.00")),
            ("வரிகள்", rec(&[("cgst", n("180")), ("sgst", n("180"))])),
            (
                "வரிசைகள்",
                arr(vec![rec(&[("பொருள்_பெயர்", s("பேனா")), ("அளவு", n("10"))])]),
            ),
        ]);
        assert_eq!(
            show("ஜேசான்_ஆக்கு", vec![invoice.clone()]),
            r#"{"குறி":"INV-7","தொகை":2360,"வரிகள்":{"cgst":180,"sgst":180},"வரிசைகள்":[{"அளவு":10,"பொருள்_பெயர்":"பேனா"}]}"#
        );
        assert_eq!(show("ஜேசான்_ஆக்கு", vec![ok(n("1"))]), "null");
        let decoded = call(
            "ஜேசான்_படி",
            vec![call("ஜேசான்_ஆக்கு", vec![invoice.clone()]).unwrap()],
        )
        .unwrap();
        assert!(decoded.equals(&ok(invoice)));
        assert_eq!(show("ஜேசான்_படி", vec![s("  42  ")]), "சரி(42)");
        assert_eq!(show("ஜேசான்_படி", vec![n("42")]), "சரி(42)");
        for bad in ["[1, 2,]", "", "01", "+1", "1.", ".5", "[1] x", "1e-29"] {
            assert_eq!(
                show("தவறா", vec![call("ஜேசான்_படி", vec![s(bad)]).unwrap()]),
                "true",
                "{bad}"
            );
        }
        let deep = Value::string("[".repeat(100_000));
        assert_eq!(
            show("தவறா", vec![call("ஜேசான்_படி", vec![deep]).unwrap()]),
            "true"
        );
    }

    #[test]
    fn money() {
        let money = |x: &str| show("காசு_வடிவம்", vec![n(x)]);
        assert_eq!(money("12345678.5"), "1,23,45,678.50");
        assert_eq!(money("-1234.567"), "-1,234.57");
        assert_eq!(money("0.5"), "0.50");
        assert_eq!(money("999"), "999.00");
        assert_eq!(money("1.005"), "1.01");
        assert_eq!(money("987654321012.34"), "9,87,65,43,21,012.34");
        assert_eq!(money("-0.004"), "0.00");
        assert_eq!(money("0.004"), "0.00");
        assert_eq!(money("0"), "0.00");
        assert_eq!(money("1000"), "1,000.00");
        assert_eq!(money("100000"), "1,00,000.00");
        assert_eq!(money("-0.005"), "-0.01");
        assert_eq!(
            money("79228162514264337593543950335"),
            "79,22,81,62,51,42,64,33,75,93,54,39,50,335.00"
        );
        assert_eq!(show("காசு_வடிவம்", vec![s("546")]), "546.00");
        let rupees = |x: &str| show("ரூபாய்", vec![n(x)]);
        assert_eq!(rupees("12345678.5"), "₹1,23,45,678.50");
        assert_eq!(rupees("100000"), "₹1,00,000.00");
        assert_eq!(rupees("0"), "₹0.00");
        assert_eq!(rupees("99.999"), "₹100.00");
        assert_eq!(rupees("-1234.567"), "₹-1,234.57");
        assert_eq!(show("காசாக", vec![n("2.345")]), "2.35");
        assert_eq!(show("காசாக", vec![n("10")]), "10");
        assert_eq!(show("லட்சம்", vec![n("250000")]), "2.5");
        assert_eq!(show("கோடி", vec![n("123456789")]), "12.35");
        assert!(fails("ரூபாய்", vec![s("abc")]).contains("as a number"));
    }
}
