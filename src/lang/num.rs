//! Fast paths for exact decimal arithmetic: when both operands have the same scale (or, for
//! `*`, scales that add up to at most 28) the result is a plain 128-bit integer operation on the
//! mantissas. The answer is exactly what rust_decimal's checked operations give in those cases
//! (same mantissa, same scale); anything else — mixed scales, results past 96 bits, division —
//! falls back to rust_decimal, so numbers stay exact (LANGUAGE.md 4.2).

use std::cmp::Ordering;

use rust_decimal::Decimal;

/// Largest mantissa a Decimal holds: 2^96 − 1.
const MAX_MANTISSA: u128 = (1 << 96) - 1;
const MAX_SCALE: u32 = 28;

#[inline(always)]
fn from_mantissa(m: i128, scale: u32) -> Option<Decimal> {
    let abs = m.unsigned_abs();
    if abs > MAX_MANTISSA {
        return None;
    }
    Some(Decimal::from_parts(
        abs as u32,
        (abs >> 32) as u32,
        (abs >> 64) as u32,
        m < 0,
        scale,
    ))
}

#[inline(always)]
pub fn add(x: Decimal, y: Decimal) -> Option<Decimal> {
    if x.scale() == y.scale() {
        if let Some(d) = from_mantissa(x.mantissa() + y.mantissa(), x.scale()) {
            return Some(d);
        }
    }
    x.checked_add(y)
}

#[inline(always)]
pub fn sub(x: Decimal, y: Decimal) -> Option<Decimal> {
    if x.scale() == y.scale() {
        if let Some(d) = from_mantissa(x.mantissa() - y.mantissa(), x.scale()) {
            return Some(d);
        }
    }
    x.checked_sub(y)
}

#[inline(always)]
pub fn mul(x: Decimal, y: Decimal) -> Option<Decimal> {
    let scale = x.scale() + y.scale();
    let (mx, my) = (x.mantissa(), y.mantissa());
    // Both below 2^63 in magnitude: the product fits i128 without overflow.
    if scale <= MAX_SCALE && mx.unsigned_abs() < (1 << 63) && my.unsigned_abs() < (1 << 63) {
        if let Some(d) = from_mantissa(mx * my, scale) {
            return Some(d);
        }
    }
    x.checked_mul(y)
}

#[inline(always)]
pub fn cmp(x: &Decimal, y: &Decimal) -> Ordering {
    if x.scale() == y.scale() {
        x.mantissa().cmp(&y.mantissa())
    } else {
        x.cmp(y)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// The fast paths must give exactly rust_decimal's answers, scale included.
    #[test]
    fn fast_paths_agree_with_rust_decimal() {
        let samples = [
            "0",
            "1",
            "-1",
            "0.5",
            "-0.5",
            "2.50",
            "18",
            "0.18",
            "123456789.123",
            "-0.0001",
            "79228162514264337593543950335",
            "-79228162514264337593543950335",
            "39614081257132168796771975168",
            "0.0000000000000000000000000001",
            "9223372036854775807",
            "1000000",
            "3.3333333333333333333333333333",
        ];
        for a in samples {
            for b in samples {
                let (x, y) = (d(a), d(b));
                let same = |f: Option<Decimal>, g: Option<Decimal>| match (f, g) {
                    (Some(f), Some(g)) => {
                        f == g
                            && f.scale() == g.scale()
                            && f.is_sign_negative() == g.is_sign_negative()
                            || (f.is_zero() && g.is_zero())
                    }
                    (None, None) => true,
                    _ => false,
                };
                assert!(same(add(x, y), x.checked_add(y)), "{a} + {b}");
                assert!(same(sub(x, y), x.checked_sub(y)), "{a} - {b}");
                assert!(same(mul(x, y), x.checked_mul(y)), "{a} * {b}");
                assert_eq!(cmp(&x, &y), x.cmp(&y), "{a} cmp {b}");
            }
        }
    }
}
