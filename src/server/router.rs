//! (method, path) → route: the app's `வழி` table, built once (LANGUAGE.md 10.1–10.2).
//!
//! Owns path splitting and percent-decoding of segments, `:name` parameters, the exact-then-
//! source-order rule, HEAD → GET fallback, and the `Allow` lists for 405 and OPTIONS. It does not
//! know the server-owned endpoints (conn.rs answers those first) or run anything.

use std::borrow::Cow;
use std::sync::Arc;

use crate::lang::ast::Segment;
use crate::lang::chunk::RouteInfo;

/// Method order for `Allow`: the common ones first, then any others in source order.
const CANONICAL: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

#[derive(Clone, Debug)]
struct Entry {
    method: String,
    segments: Vec<Segment>,
    /// No parameters: the pattern can only equal the path exactly.
    exact: bool,
}

/// The routing table of one app.
#[derive(Clone, Debug, Default)]
pub struct Router {
    entries: Vec<Entry>,
}

/// What routing decided for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// Run route `route` (its index in `Program::routes()`); its parameters are decoded by
    /// `Router::params`, on the worker, so the reactor allocates nothing to route.
    Found { route: usize },
    /// No route has this path under any method.
    NotFound,
    /// The path exists under other methods.
    MethodNotAllowed { allow: String },
    /// OPTIONS with no OPTIONS route: answered by the server with `Allow`.
    Options { allow: String },
}

impl Router {
    pub fn new(routes: &[RouteInfo]) -> Router {
        let entries = routes
            .iter()
            .map(|r| Entry {
                method: r.method.to_ascii_uppercase(),
                segments: r.segments.clone(),
                exact: r.segments.iter().all(|s| matches!(s, Segment::Literal(_))),
            })
            .collect();
        Router { entries }
    }

    /// Routes a request by its raw path (as sent, not decoded).
    pub fn route(&self, method: &str, path: &str) -> Match {
        let path = Path::new(path);
        if let Some(route) = self.find(method, &path) {
            return Match::Found { route };
        }
        // RFC 9110 §9.3.2: HEAD is GET without the body, unless the app says otherwise.
        if method.eq_ignore_ascii_case("HEAD") {
            if let Some(route) = self.find("GET", &path) {
                return Match::Found { route };
            }
        }
        let allow = self.allow(&path);
        if allow.is_empty() {
            return Match::NotFound;
        }
        if method.eq_ignore_ascii_case("OPTIONS") {
            Match::Options { allow }
        } else {
            Match::MethodNotAllowed { allow }
        }
    }

    /// The decoded `:name` parameters of `path` for a route it matched.
    pub fn params(&self, route: usize, path: &str) -> Vec<(Arc<str>, String)> {
        let Some(entry) = self.entries.get(route) else {
            return Vec::new();
        };
        entry
            .segments
            .iter()
            .zip(segments(path))
            .filter_map(|(s, p)| match s {
                Segment::Param(name) => Some((name.clone(), p.into_owned())),
                Segment::Literal(_) => None,
            })
            .collect()
    }

    fn find(&self, method: &str, path: &Path<'_>) -> Option<usize> {
        let mut first: Option<usize> = None;
        for (i, e) in self.entries.iter().enumerate() {
            if !e.method.eq_ignore_ascii_case(method) || !path.matches(&e.segments) {
                continue;
            }
            if e.exact {
                return Some(i);
            }
            first.get_or_insert(i);
        }
        first
    }

    /// `Allow` for a path: its methods, HEAD where GET exists, and OPTIONS; empty if none.
    fn allow(&self, path: &Path<'_>) -> String {
        let methods: Vec<&str> = self
            .entries
            .iter()
            .filter(|e| path.matches(&e.segments))
            .map(|e| e.method.as_str())
            .collect();
        allow_list(&methods)
    }

    /// `Allow` for `OPTIONS *`: every method the app serves.
    pub fn allow_all(&self) -> String {
        let methods: Vec<&str> = self.entries.iter().map(|e| e.method.as_str()).collect();
        if methods.is_empty() {
            return "OPTIONS".to_owned();
        }
        allow_list(&methods)
    }
}

fn allow_list(methods: &[&str]) -> String {
    if methods.is_empty() {
        return String::new();
    }
    let mut set: Vec<&str> = Vec::new();
    let has = |m: &str| methods.contains(&m);
    for &c in CANONICAL {
        if has(c) || (c == "HEAD" && has("GET")) || c == "OPTIONS" {
            set.push(c);
        }
    }
    for &m in methods {
        if !set.contains(&m) {
            set.push(m);
        }
    }
    set.join(", ")
}

/// A raw path and its number of segments, matched against patterns without collecting the
/// segments: a segment is decoded (and allocates) only if it holds a `%`.
struct Path<'a> {
    raw: &'a str,
    len: usize,
}

impl<'a> Path<'a> {
    fn new(raw: &'a str) -> Path<'a> {
        let len = raw.split('/').filter(|s| !s.is_empty()).count();
        Path { raw, len }
    }

    fn matches(&self, pattern: &[Segment]) -> bool {
        pattern.len() == self.len
            && pattern
                .iter()
                .zip(segments(self.raw))
                .all(|(s, p)| match s {
                    Segment::Literal(l) => *l == p,
                    Segment::Param(_) => true,
                })
    }
}

/// The segments of a raw path: split on `/`, empty ones dropped, each percent-decoded
/// (LANGUAGE.md 10.2: `%XX` → byte, read as UTF-8 with U+FFFD; `+` stays `+`; a bad escape
/// stays as written).
pub fn segments(path: &str) -> impl Iterator<Item = Cow<'_, str>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
}

pub fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains('%') {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8_lossy(&out) {
        Cow::Borrowed(b) => Cow::Owned(b.to_owned()),
        Cow::Owned(o) => Cow::Owned(o),
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Arc;

    /// A route as the compiler would declare it, split by the parser's own rule.
    pub(crate) fn route(method: &str, path: &str) -> RouteInfo {
        RouteInfo {
            method: method.to_owned(),
            path: path.to_owned(),
            segments: crate::lang::parser::route_segments(path),
            file: Arc::from("t.qmz"),
            line: 1,
        }
    }

    fn router() -> Router {
        Router::new(&[
            route("GET", "/a/:x"),
            route("GET", "/:y/b"),
            route("GET", "/a/b"),
            route("POST", "/a/:x"),
            route("GET", "/கணக்கு/:எண்"),
            route("DELETE", "/only"),
        ])
    }

    /// A routing decision with the parameters the worker would decode.
    #[derive(Debug, PartialEq, Eq)]
    enum Routed {
        Found {
            route: usize,
            params: Vec<(Arc<str>, String)>,
        },
        Other(Match),
    }

    fn go(r: &Router, method: &str, path: &str) -> Routed {
        match r.route(method, path) {
            Match::Found { route } => Routed::Found {
                route,
                params: r.params(route, path),
            },
            other => Routed::Other(other),
        }
    }

    #[test]
    fn exact_then_source_order() {
        let r = router();
        assert_eq!(
            go(&r, "GET", "/a/b"),
            Routed::Found {
                route: 2,
                params: vec![]
            }
        );
        assert_eq!(
            go(&r, "GET", "/a/c"),
            Routed::Found {
                route: 0,
                params: vec![("x".into(), "c".into())]
            }
        );
        assert_eq!(
            go(&r, "get", "//z/b/"),
            Routed::Found {
                route: 1,
                params: vec![("y".into(), "z".into())]
            }
        );
    }

    #[test]
    fn head_falls_back_to_get() {
        assert_eq!(
            go(&router(), "HEAD", "/a/b"),
            Routed::Found {
                route: 2,
                params: vec![]
            }
        );
    }

    #[test]
    fn tamil_percent_encoded() {
        let m = go(
            &router(),
            "GET",
            "/%E0%AE%95%E0%AE%A3%E0%AE%95%E0%AF%8D%E0%AE%95%E0%AF%81/SB%2F1+2",
        );
        assert_eq!(
            m,
            Routed::Found {
                route: 4,
                params: vec![("எண்".into(), "SB/1+2".into())]
            }
        );
    }

    #[test]
    fn not_found_405_options() {
        let r = router();
        assert_eq!(go(&r, "GET", "/nope"), Routed::Other(Match::NotFound));
        assert_eq!(
            go(&r, "PUT", "/a/c"),
            Routed::Other(Match::MethodNotAllowed {
                allow: "GET, HEAD, POST, OPTIONS".into()
            })
        );
        assert_eq!(
            go(&r, "OPTIONS", "/only"),
            Routed::Other(Match::Options {
                allow: "DELETE, OPTIONS".into()
            })
        );
        assert_eq!(go(&r, "OPTIONS", "/nope"), Routed::Other(Match::NotFound));
        assert_eq!(r.allow_all(), "GET, HEAD, POST, DELETE, OPTIONS");
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("x%4"), "x%4");
    }
}
