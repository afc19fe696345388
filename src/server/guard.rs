//! Admission before a job: the per-client rate limit, the CORS policy and the bearer token
//! (SERVER.md "Order of admission", "OPTIONS and CORS", "Auth").
//!
//! Owns the decisions and their state (the token buckets, the allowed origins, the token); it
//! frames no response and reads no socket — `Conn::admit` asks in SERVER.md's order and
//! answers. Owned by the reactor, so no lock: every check runs on the reactor thread.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::time::Instant;

/// Clients tracked by the rate limiter; beyond it the least recently seen is forgotten.
pub const RATE_LIMIT_CLIENTS: usize = 100_000;
/// `Access-Control-Max-Age` of a preflight answer, seconds.
pub const CORS_MAX_AGE: &str = "600";

/// What `--cors-origin` allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cors {
    /// `*`: every origin; answered with `*`.
    Any,
    /// These origins exactly (scheme, host and port, as browsers send `Origin`).
    List(Vec<String>),
}

impl Cors {
    /// `*` or a comma-separated list; None for an empty list.
    pub fn parse(s: &str) -> Option<Cors> {
        if s.trim() == "*" {
            return Some(Cors::Any);
        }
        let list: Vec<String> = s
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        (!list.is_empty() && list.iter().all(|o| o != "*")).then_some(Cors::List(list))
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    pub fn allow<'a>(&self, origin: &'a str) -> Option<&'a str> {
        match self {
            Cors::Any => Some("*"),
            Cors::List(list) => list.iter().any(|o| o == origin).then_some(origin),
        }
    }
}

/// The bearer token; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<[u8]>);

impl Secret {
    /// The token from a file's or variable's text, whitespace trimmed; None when empty.
    pub fn new(text: &str) -> Option<Secret> {
        let t = text.trim();
        (!t.is_empty()).then(|| Secret(t.as_bytes().into()))
    }

    /// `Authorization: Bearer <token>` (the scheme is case-insensitive, RFC 9110 §11.1), the
    /// token compared in time that depends only on the length the client sent.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some(scheme) = value.get(..7) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case(b"bearer ") {
            return false;
        }
        let given = value[7..].trim_ascii();
        let want = &self.0;
        let mut diff = given.len() ^ want.len();
        for (i, &b) in given.iter().enumerate() {
            diff |= usize::from(b ^ want[i % want.len()]);
        }
        diff == 0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Reads `--auth-token-file` (at start, and on SIGHUP off the reactor thread).
pub fn read_token_file(path: &std::path::Path) -> Result<Secret, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --auth-token-file {}: {e}", path.display()))?;
    Secret::new(&text).ok_or_else(|| format!("--auth-token-file {} is empty", path.display()))
}

/// A client as the rate limiter knows it: an IPv4 address, or the /64 of an IPv6 one (a
/// single host usually owns a whole /64).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ClientKey {
    V4(u32),
    V6(u64),
}

fn client_key(ip: IpAddr) -> ClientKey {
    match ip {
        IpAddr::V4(v4) => ClientKey::V4(v4.into()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => ClientKey::V4(v4.into()),
            None => ClientKey::V6((u128::from(v6) >> 64) as u64),
        },
    }
}

const NIL: usize = usize::MAX;

/// One client's token bucket, linked into the recency list.
struct Bucket {
    key: ClientKey,
    tokens: f64,
    last: Instant,
    prev: usize,
    next: usize,
}

/// Token buckets per client, at most `capacity`, least recently seen evicted in O(1).
pub struct RateLimiter {
    /// Tokens per second.
    rate: f64,
    burst: f64,
    capacity: usize,
    index: HashMap<ClientKey, usize>,
    buckets: Vec<Bucket>,
    /// Most recently seen.
    head: usize,
    /// Least recently seen: evicted first.
    tail: usize,
}

impl RateLimiter {
    pub fn new(rate: f64, burst: u64, capacity: usize) -> RateLimiter {
        RateLimiter {
            rate,
            burst: burst.max(1) as f64,
            capacity: capacity.max(1),
            index: HashMap::new(),
            buckets: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    /// Takes a token for `ip`, or says in how many whole seconds (at least 1) one is due.
    pub fn check(&mut self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let key = client_key(ip);
        let i = match self.index.get(&key) {
            Some(&i) => {
                let b = &mut self.buckets[i];
                let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
                b.tokens = (b.tokens + elapsed * self.rate).min(self.burst);
                b.last = now;
                self.unlink(i);
                i
            }
            None => {
                let fresh = Bucket {
                    key,
                    tokens: self.burst,
                    last: now,
                    prev: NIL,
                    next: NIL,
                };
                let i = if self.buckets.len() < self.capacity {
                    self.buckets.push(fresh);
                    self.buckets.len() - 1
                } else {
                    let i = self.tail;
                    self.unlink(i);
                    self.index.remove(&self.buckets[i].key);
                    self.buckets[i] = fresh;
                    i
                };
                self.index.insert(key, i);
                i
            }
        };
        self.push_front(i);
        let b = &mut self.buckets[i];
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / self.rate).ceil();
            Err(if wait.is_finite() {
                (wait as u64).max(1)
            } else {
                1
            })
        }
    }

    /// Clients tracked now.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.buckets[i].prev, self.buckets[i].next);
        match prev {
            NIL => self.head = next,
            p => self.buckets[p].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.buckets[n].prev = prev,
        }
        self.buckets[i].prev = NIL;
        self.buckets[i].next = NIL;
    }

    fn push_front(&mut self, i: usize) {
        self.buckets[i].prev = NIL;
        self.buckets[i].next = self.head;
        if self.head != NIL {
            self.buckets[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }
}

/// The admission policy of one server: each part off unless configured.
#[derive(Default)]
pub struct Guard {
    pub rate: Option<RateLimiter>,
    pub cors: Option<Cors>,
    pub token: Option<Secret>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_refills_at_the_rate_and_says_when() {
        let t0 = Instant::now();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let mut r = RateLimiter::new(0.5, 2, 10);
        assert_eq!(r.check(ip, t0), Ok(()));
        assert_eq!(r.check(ip, t0), Ok(()));
        assert_eq!(r.check(ip, t0), Err(2)); // one token every 2 s
        assert_eq!(r.check(ip, t0 + Duration::from_millis(1500)), Err(1));
        assert_eq!(r.check(ip, t0 + Duration::from_secs(2)), Ok(()));
        // Another client has its own bucket.
        assert_eq!(r.check("10.0.0.2".parse().unwrap(), t0), Ok(()));
    }

    #[test]
    fn ipv6_is_keyed_by_its_64_and_mapped_v4_by_the_v4() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(1.0, 1, 10);
        assert_eq!(r.check("2001:db8::1".parse().unwrap(), t0), Ok(()));
        assert!(r.check("2001:db8::ffff:2".parse().unwrap(), t0).is_err());
        assert_eq!(r.check("2001:db8:0:1::1".parse().unwrap(), t0), Ok(()));
        assert_eq!(r.check("10.1.1.1".parse().unwrap(), t0), Ok(()));
        assert!(r.check("::ffff:10.1.1.1".parse().unwrap(), t0).is_err());
    }

    #[test]
    fn least_recently_seen_is_evicted() {
        let t0 = Instant::now();
        let mut r = RateLimiter::new(1.0, 1, 2);
        let (a, b, c): (IpAddr, IpAddr, IpAddr) = (
            "1.1.1.1".parse().unwrap(),
            "2.2.2.2".parse().unwrap(),
            "3.3.3.3".parse().unwrap(),
        );
        assert_eq!(r.check(a, t0), Ok(()));
        assert_eq!(r.check(b, t0), Ok(()));
        assert!(r.check(a, t0).is_err()); // a is now the most recent
        assert_eq!(r.check(c, t0), Ok(())); // evicts b
        assert_eq!(r.len(), 2);
        assert!(r.check(a, t0).is_err()); // a was kept
        assert_eq!(r.check(b, t0), Ok(())); // b starts afresh (evicting c)
    }

    #[test]
    fn bearer_token() {
        let s = Secret::new("  s3cret\n").unwrap();
        assert!(s.admits(Some(b"Bearer s3cret")));
        assert!(s.admits(Some(b"bearer   s3cret ")));
        for bad in [
            &b"Bearer s3cre"[..],
            b"Bearer s3cretX",
            b"Basic s3cret",
            b"Bearer",
            b"",
        ] {
            assert!(!s.admits(Some(bad)), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(!s.admits(None));
        assert!(Secret::new(" \n").is_none());
        assert_eq!(format!("{s:?}"), "Secret(…)");
    }

    #[test]
    fn cors_origins() {
        assert_eq!(Cors::parse("*"), Some(Cors::Any));
        let c = Cors::parse("https://a.example, https://b.example/").unwrap();
        assert_eq!(c.allow("https://b.example"), Some("https://b.example"));
        assert_eq!(c.allow("https://evil.example"), None);
        assert_eq!(Cors::Any.allow("https://x"), Some("*"));
        assert_eq!(Cors::parse(" , "), None);
    }
}
