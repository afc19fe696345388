//! JSON text for values and values from JSON text (LANGUAGE.md 9.9): ஜேசான்_ஆக்கு, ஜேசான்_படி,
//! and the bodies of HTTP responses that are not strings (10.5).
//!
//! Encoding recurses at most `MAX_VALUE_DEPTH` deep, because no value is deeper (4.7). Decoding
//! never recurses: it keeps an explicit stack of open containers and fails at the first one
//! that would nest deeper than the limit, so hostile text cannot overflow a thread's stack.
//! Memory is charged by the values themselves (`value::heap`); this module only stops early
//! when the run is already over its budget.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::value::{
    heap, parse_numeric_text, render_number, Array, Record, Value, MAX_VALUE_DEPTH,
};

/// The JSON text of `v`: compact, record keys in code-point order, results as `null`.
pub fn encode(v: &Value) -> String {
    let mut out = String::new();
    encode_into(v, &mut out);
    out
}

/// Appends the JSON text of `v` to `out`.
pub fn encode_into(v: &Value, out: &mut String) {
    write_value(v, out, usize::MAX);
}

/// Like `encode`, but gives up (None) as soon as the text would be longer than `cap` bytes.
/// Every value writes at least one byte, so the work done is bounded by `cap` as well: a value
/// that shares one big string many times cannot make the encoder run away.
pub fn encode_capped(v: &Value, cap: usize) -> Option<String> {
    let mut out = String::new();
    if write_value(v, &mut out, cap) {
        Some(out)
    } else {
        None
    }
}

/// Writes `v`; false once `out` has grown beyond `cap`.
fn write_value(v: &Value, out: &mut String, cap: usize) -> bool {
    match v {
        Value::Nil | Value::Result(_) => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Num(n) => render_number(*n, out),
        Value::Str(s) => {
            if out.len().saturating_add(s.as_str().len()) > cap {
                return false;
            }
            write_string(s.as_str(), out);
        }
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.items().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !write_value(item, out, cap) {
                    return false;
                }
            }
            out.push(']');
        }
        Value::Record(r) => {
            out.push('{');
            for (i, (k, item)) in r.map().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if out.len().saturating_add(k.len()) > cap {
                    return false;
                }
                write_string(k, out);
                out.push(':');
                if !write_value(item, out, cap) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    out.len() <= cap
}

/// A quoted JSON string: `"` `\` LF CR tab escaped by name, other controls as `\u00XX`.
fn write_string(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 0xf) as usize] as char);
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// A container being parsed.
enum Open {
    Array(Vec<Value>),
    /// The fields so far and the key whose value comes next.
    Object(BTreeMap<Arc<str>, Value>, Arc<str>),
}

/// Parses `text` as one JSON value (RFC 8259) surrounded by optional whitespace.
/// The message of a failure names what was wrong and the byte offset.
pub fn decode(text: &str) -> Result<Value, String> {
    Parser {
        src: text.as_bytes(),
        text,
        pos: 0,
    }
    .parse()
}

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
}

/// How often (in values) the parser looks at the run's memory budget.
const BUDGET_CHECK_EVERY: usize = 4096;

impl Parser<'_> {
    fn fail<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn parse(mut self) -> Result<Value, String> {
        let mut stack: Vec<Open> = Vec::new();
        let mut count = 0usize;
        loop {
            // Parse one value, or open a container and go round again.
            self.skip_ws();
            let mut value = match self.peek() {
                None => return self.fail("unexpected end of input"),
                Some(b'[') | Some(b'{') => {
                    if stack.len() >= MAX_VALUE_DEPTH as usize {
                        return self.fail("nested too deeply (limit is 128)");
                    }
                    let is_array = self.peek() == Some(b'[');
                    self.pos += 1;
                    self.skip_ws();
                    if is_array {
                        if self.peek() == Some(b']') {
                            self.pos += 1;
                            Value::Array(Array::empty())
                        } else {
                            stack.push(Open::Array(Vec::new()));
                            continue;
                        }
                    } else if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Record(Record::empty())
                    } else {
                        let key = self.key()?;
                        stack.push(Open::Object(BTreeMap::new(), key));
                        continue;
                    }
                }
                Some(b'"') => Value::string(self.string()?),
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Nil)?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(_) => return self.fail("unexpected character"),
            };
            count += 1;
            if count.is_multiple_of(BUDGET_CHECK_EVERY) && heap::exceeded() {
                return self.fail("memory limit exceeded");
            }
            // Hand the value to the innermost container; close containers that end here.
            loop {
                let Some(top) = stack.pop() else {
                    self.skip_ws();
                    if self.pos != self.src.len() {
                        return self.fail("unexpected text after the value");
                    }
                    return Ok(value);
                };
                self.skip_ws();
                match top {
                    Open::Array(mut items) => {
                        items.push(value);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                stack.push(Open::Array(items));
                                break;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                value = Value::Array(Array::new(items).map_err(|e| e.english)?);
                            }
                            _ => return self.fail("expected ',' or ']'"),
                        }
                    }
                    Open::Object(mut fields, key) => {
                        fields.insert(key, value);
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                let k = self.key()?;
                                stack.push(Open::Object(fields, k));
                                break;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                value = Value::Record(Record::new(fields).map_err(|e| e.english)?);
                            }
                            _ => return self.fail("expected ',' or '}'"),
                        }
                    }
                }
            }
        }
    }

    /// An object key and the `:` after it.
    fn key(&mut self) -> Result<Arc<str>, String> {
        if self.peek() != Some(b'"') {
            return self.fail("expected a string key");
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return self.fail("expected ':'");
        }
        self.pos += 1;
        Ok(Arc::from(key))
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        if self.src[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            self.fail("invalid literal")
        }
    }

    /// RFC 8259 section 6 grammar, then the value as numeric text (LANGUAGE.md 5.2).
    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while let Some(b'0'..=b'9') = p.peek() {
                p.pos += 1;
            }
            p.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return self.fail("invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return self.fail("invalid number");
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return self.fail("invalid number");
            }
        }
        match parse_numeric_text(&self.text[start..self.pos]) {
            Some(n) => Ok(Value::Num(n)),
            None => {
                self.pos = start;
                self.fail("number out of range")
            }
        }
    }

    /// A string literal, the opening quote at `pos`.
    fn string(&mut self) -> Result<String, String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(&b) = self.src.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The run stops only at ASCII bytes, so it ends on a char boundary.
            out.push_str(&self.text[run_start..self.pos]);
            match self.peek() {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let c = self.unicode_escape()?;
                            out.push(c);
                            continue;
                        }
                        _ => return self.fail("invalid escape"),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(_) => return self.fail("control character in string"),
            }
        }
    }

    /// The char of `\uXXXX` (the `\u` consumed), joining a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, String> {
        let hi = self.hex4()?;
        let code = match hi {
            0xD800..=0xDBFF => {
                if !self.src[self.pos..].starts_with(b"\\u") {
                    return self.fail("unpaired surrogate");
                }
                self.pos += 2;
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return self.fail("unpaired surrogate");
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            }
            0xDC00..=0xDFFF => return self.fail("unpaired surrogate"),
            _ => hi,
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.fail("invalid escape"),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return self.fail("invalid \\u escape"),
            };
            v = v * 16 + u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    fn ok(text: &str) -> Value {
        decode(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn rec(pairs: &[(&str, Value)]) -> Value {
        let map = pairs
            .iter()
            .map(|(k, v)| (Arc::from(*k), v.clone()))
            .collect();
        Value::Record(Record::new(map).unwrap())
    }

    fn arr(items: Vec<Value>) -> Value {
        Value::Array(Array::new(items).unwrap())
    }

    fn num(s: &str) -> Value {
        Value::Num(Decimal::from_str(s).unwrap())
    }

    #[test]
    fn encodes_as_the_spec_shows() {
        let v = rec(&[
            ("பெயர்", Value::str("ரவி")),
            ("தொகை", num("1500.50")),
            ("l", arr(vec![num("1"), Value::Bool(true), Value::Nil])),
        ]);
        assert_eq!(
            encode(&v),
            r#"{"l":[1,true,null],"தொகை":1500.5,"பெயர்":"ரவி"}"#
        );
        assert_eq!(encode(&Value::Nil), "null");
        assert_eq!(encode(&num("-0.25")), "-0.25");
        assert_eq!(encode(&num("0.18")), "0.18");
        assert_eq!(encode(&num("-0.0")), "0");
        assert_eq!(encode(&arr(vec![])), "[]");
        assert_eq!(encode(&Value::Record(Record::empty())), "{}");
        assert_eq!(encode(&Value::ok(num("1")).unwrap()), "null");
        assert_eq!(
            encode(&rec(&[
                ("b", num("1")),
                ("a", num("2")),
                ("", num("3")),
                ("10", num("4")),
                ("9", num("5"))
            ])),
            r#"{"":3,"10":4,"9":5,"a":2,"b":1}"#
        );
    }

    #[test]
    fn encodes_string_escapes() {
        let s = Value::str("அவர் \"சரி\" என்றார்\\\n\tமுடிவு\r");
        assert_eq!(encode(&s), r#""அவர் \"சரி\" என்றார்\\\n\tமுடிவு\r""#);
        assert_eq!(
            encode(&Value::str("\u{0}\u{1f}\u{8}/\u{7f}")),
            "\"\\u0000\\u001f\\u0008/\u{7f}\""
        );
        assert_eq!(encode(&rec(&[("a\"b", Value::Nil)])), r#"{"a\"b":null}"#);
    }

    #[test]
    fn capped_encoding_gives_up() {
        let big = Value::string("x".repeat(1000));
        let v = arr(vec![big.clone(), big.clone(), big]);
        assert!(encode_capped(&v, 100).is_none());
        assert_eq!(encode_capped(&v, 10_000).unwrap().len(), 3 * 1002 + 4);
    }

    #[test]
    fn decodes_values() {
        let v = ok(
            r#"{"பெயர்": "ரவி", "தொகை": 1500.50, "பொருட்கள்": [1, 2.5, -3], "செயலில்": true, "குறிப்பு": null}"#,
        );
        assert_eq!(
            v.render(),
            "{குறிப்பு: nil, செயலில்: true, தொகை: 1500.5, பெயர்: ரவி, பொருட்கள்: [1, 2.5, -3]}"
        );
        assert_eq!(ok("  42  ").render(), "42");
        assert_eq!(ok(r#""உரை\n\"மேற்கோள்\"""#).render(), "உரை\n\"மேற்கோள்\"");
        assert_eq!(ok("[]").render(), "[]");
        assert_eq!(ok("{}").render(), "{}");
        assert_eq!(
            ok(r#"{"a": {"b": [{"c": -2e2}]}}"#).render(),
            "{a: {b: [{c: -200}]}}"
        );
        assert_eq!(
            ok("{\r\n  \"x\": 1,\r\n  \"y\": [true, false]\r\n}").render(),
            "{x: 1, y: [true, false]}"
        );
        assert_eq!(ok(r#"{"a": 1, "a": 2}"#).render(), "{a: 2}");
        assert_eq!(ok("1.50").render(), "1.5");
        assert_eq!(ok("-0").render(), "0");
        assert_eq!(ok("0.5e-27").render(), "0.0000000000000000000000000005");
        assert_eq!(ok(r#""\u00e9\u0BA4\ud83d\ude00\/""#).render(), "éத😀/");
        assert_eq!(ok("[[[]],{}]").render(), "[[[]], {}]");
    }

    #[test]
    fn rejects_invalid_text() {
        for bad in [
            "",
            " ",
            "01",
            "+1",
            "1.",
            ".5",
            "1e",
            "1e+",
            "-",
            "--1",
            "[1] மேலும்",
            "[1, 2,]",
            "{\"a\" 1}",
            "{\"a\":1,}",
            "\"முடிவில்லை",
            "tru",
            "nul",
            "1e-29",
            "1E400",
            "NaN",
            "[",
            "{",
            "{1:2}",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"a\u{1}\"",
            "\"\\u12\"",
            "[1 2]",
            "{\"a\":1 \"b\":2}",
            "1 2",
            "\u{feff}1",
            "123456789012345678901234567890",
        ] {
            assert!(decode(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn nesting_is_limited_to_128() {
        let ok128 = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert_eq!(ok(&ok128).depth(), 128);
        let bad129 = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert!(decode(&bad129).is_err());
        let objs = format!("{}1{}", "{\"a\":".repeat(129), "}".repeat(129));
        assert!(decode(&objs).is_err());
    }

    #[test]
    fn deep_text_does_not_overflow_a_small_stack() {
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let deep = "[".repeat(100_000);
                let deep_obj = "{\"a\":".repeat(100_000);
                (decode(&deep).is_err(), decode(&deep_obj).is_err())
            })
            .unwrap();
        assert_eq!(handle.join().unwrap(), (true, true));
    }

    #[test]
    fn round_trips() {
        let v = rec(&[
            ("பெயர்", Value::str("கலா")),
            (
                "பட்டியல்",
                arr(vec![num("1"), Value::str("இரண்டு"), Value::Nil]),
            ),
            ("உள்ளது", Value::Bool(true)),
            ("ctl", Value::str("a\u{1}b\"\\\n")),
            ("n", num("-12.345")),
        ]);
        assert!(ok(&encode(&v)).equals(&v));
        let mut deep = Value::Nil;
        for _ in 0..MAX_VALUE_DEPTH {
            deep = arr(vec![deep]);
        }
        assert!(ok(&encode(&deep)).equals(&deep));
    }
}
