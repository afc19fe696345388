//! Unsigned integers in ASCII decimal, by hand: the response head (status, Content-Length) and
//! every log line (timestamp, sizes, durations) format numbers on the reactor's hot path, where
//! `core::fmt` cost more than the rest of the work.

/// The decimal digits of `n`, zero-padded to at least `min_width` (at most 20) digits.
#[derive(Clone, Copy)]
pub struct Decimal {
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    pub fn new(mut n: u64, min_width: usize) -> Decimal {
        let mut buf = [b'0'; 20];
        let mut start = buf.len();
        loop {
            start -= 1;
            buf[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let padded = buf.len() - min_width.min(buf.len());
        Decimal {
            buf,
            start: start.min(padded),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    pub fn as_str(&self) -> &str {
        // ASCII digits only, so this never fails.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::Decimal;

    #[test]
    fn matches_display_with_and_without_padding() {
        for n in [0, 7, 10, 99, 1000, 65_535, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(Decimal::new(n, 1).as_str(), n.to_string());
            assert_eq!(Decimal::new(n, 4).as_str(), format!("{n:04}"));
            assert_eq!(Decimal::new(n, 0).as_bytes(), n.to_string().as_bytes());
        }
        assert_eq!(Decimal::new(5, 30).as_str(), format!("{:020}", 5));
    }
}
