//! What to send: the target URL (loopback only) and the request bytes, built once per run.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};

/// A parsed `http://host[:port][/path]` target, resolved to a loopback address.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name shown in reports and charts (`NAME=URL` on the command line, else the URL).
    pub label: String,
    pub url: String,
    pub host_header: String,
    pub addr: SocketAddr,
    pub path: String,
}

#[derive(Debug)]
pub enum TargetError {
    NotHttp(String),
    BadPort(String),
    Resolve(String, String),
    /// Load is only ever sent to this machine.
    NotLoopback(String, SocketAddr),
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetError::NotHttp(u) => write!(f, "{u}: only http:// URLs are supported"),
            TargetError::BadPort(u) => write!(f, "{u}: invalid port"),
            TargetError::Resolve(u, e) => write!(f, "{u}: cannot resolve: {e}"),
            TargetError::NotLoopback(u, a) => write!(
                f,
                "{u} resolves to {a}: this generator only loads loopback addresses (127.0.0.0/8, ::1)"
            ),
        }
    }
}

impl Target {
    /// Parses `[NAME=]http://host[:port][/path]`.
    pub fn parse(spec: &str) -> Result<Target, TargetError> {
        let (label, url) = match spec.split_once('=') {
            Some((name, url)) if !name.contains('/') && url.starts_with("http") => {
                (name.to_string(), url)
            }
            _ => (spec.to_string(), spec),
        };
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| TargetError::NotHttp(url.to_string()))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = if let Some(h) = authority.strip_prefix('[') {
            // [::1]:port
            let (h, after) = h
                .split_once(']')
                .ok_or_else(|| TargetError::BadPort(url.to_string()))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p
                    .parse()
                    .map_err(|_| TargetError::BadPort(url.to_string()))?,
                None => 80,
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse::<u16>()
                        .map_err(|_| TargetError::BadPort(url.to_string()))?,
                ),
                None => (authority.to_string(), 80),
            }
        };
        let addr = (host.as_str(), port)
            .to_socket_addrs()
            .map_err(|e| TargetError::Resolve(url.to_string(), e.to_string()))?
            .next()
            .ok_or_else(|| TargetError::Resolve(url.to_string(), "no address".into()))?;
        if !addr.ip().is_loopback() {
            return Err(TargetError::NotLoopback(url.to_string(), addr));
        }
        Ok(Target {
            label,
            url: url.to_string(),
            host_header: authority.to_string(),
            addr,
            path: path.to_string(),
        })
    }
}

/// The request a run sends, identical every time.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `Connection: close` on every request, and a new connection per request.
    pub close: bool,
}

impl RequestSpec {
    /// The bytes of one request to `target` (RFC 9112 §3: request line, Host, then fields).
    pub fn encode(&self, target: &Target) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\n", self.method, target.path).into_bytes();
        let has = |n: &str| self.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        if !has("host") {
            out.extend_from_slice(format!("Host: {}\r\n", target.host_header).as_bytes());
        }
        for (k, v) in &self.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        if (!self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH"))
            && !has("content-length")
            && !has("transfer-encoding")
        {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        if self.close && !has("connection") {
            out.extend_from_slice(b"Connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    pub fn is_head(&self) -> bool {
        self.method.eq_ignore_ascii_case("HEAD")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_targets() {
        let t = Target::parse("nginx=http://127.0.0.1:18130/gst/1000").unwrap();
        assert_eq!(t.label, "nginx");
        assert_eq!(t.path, "/gst/1000");
        assert_eq!(t.addr.port(), 18130);
        assert_eq!(t.host_header, "127.0.0.1:18130");
        let t = Target::parse("http://localhost:9999").unwrap();
        assert_eq!(t.path, "/");
        assert_eq!(t.label, "http://localhost:9999");
        let t = Target::parse("http://[::1]:80/a?b=c").unwrap();
        assert_eq!(t.path, "/a?b=c");
        assert!(Target::parse("https://127.0.0.1/").is_err());
        assert!(Target::parse("http://127.0.0.1:99999/").is_err());
        assert!(matches!(
            Target::parse("http://192.0.2.1:80/"),
            Err(TargetError::NotLoopback(..))
        ));
    }

    #[test]
    fn encodes_requests() {
        let t = Target::parse("http://127.0.0.1:9999/echo").unwrap();
        let spec = RequestSpec {
            method: "POST".into(),
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"hi".to_vec(),
            close: true,
        };
        assert_eq!(
            String::from_utf8(spec.encode(&t)).unwrap(),
            "POST /echo HTTP/1.1\r\nHost: 127.0.0.1:9999\r\nContent-Type: text/plain\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
    }
}
