//! Longest-prefix match of a dialled number in a trunk's rate table.
//!
//! Each prefix is keyed by `10^len + value` (a leading 1 keeps `1` and `01` apart) in one
//! hash map with a multiplicative hasher; a lookup tries the lengths present in the table,
//! longest first. For a 100,000-prefix table this is a few hundred nanoseconds at most and
//! a few megabytes, where a 10-way digit trie needs tens of megabytes for the same table.
//!
//! Pure: no I/O, no clock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::config::trunks::{MAX_PREFIX_DIGITS, RateTable};

/// The rate index of one trunk.
#[derive(Clone, Default)]
pub struct PrefixRates {
    rates: HashMap<u64, f64, BuildHasherDefault<PrefixHasher>>,
    /// Bit `n` set: some prefix has `n` digits.
    lengths: u32,
}

impl PrefixRates {
    /// Indexes a validated table.
    pub fn new(table: &RateTable) -> PrefixRates {
        let mut rates = HashMap::with_capacity_and_hasher(table.len(), Default::default());
        let mut lengths = 0u32;
        for (prefix, rate) in table.entries() {
            if let Some(key) = key_of(prefix.as_bytes()) {
                rates.insert(key, *rate);
                lengths |= 1 << prefix.len();
            }
        }
        PrefixRates { rates, lengths }
    }

    /// The rate of the longest prefix of `number` in the table (a leading `+` is ignored;
    /// matching stops at the first non-digit). None: no prefix matches.
    pub fn lookup(&self, number: &str) -> Option<f64> {
        let digits = number.strip_prefix('+').unwrap_or(number).as_bytes();
        let usable = digits
            .iter()
            .take(MAX_PREFIX_DIGITS)
            .take_while(|b| b.is_ascii_digit())
            .count();
        // keys[n] = key of the first n digits.
        let mut keys = [0u64; MAX_PREFIX_DIGITS + 1];
        let mut value = 0u64;
        let mut scale = 1u64;
        for (n, &b) in digits[..usable].iter().enumerate() {
            value = value * 10 + u64::from(b - b'0');
            scale *= 10;
            keys[n + 1] = scale + value;
        }
        (1..=usable)
            .rev()
            .filter(|n| self.lengths & (1 << n) != 0)
            .find_map(|n| self.rates.get(&keys[n]).copied())
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.rates.len()
    }

    /// Whether it has no prefix.
    pub fn is_empty(&self) -> bool {
        self.rates.is_empty()
    }
}

impl std::fmt::Debug for PrefixRates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixRates")
            .field("prefixes", &self.rates.len())
            .finish()
    }
}

/// `10^len + value` of a digit string of at most 18 digits.
fn key_of(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > MAX_PREFIX_DIGITS {
        return None;
    }
    let mut value = 0u64;
    let mut scale = 1u64;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(b - b'0');
        scale *= 10;
    }
    Some(scale + value)
}

/// Fibonacci hashing of the one `u64` key: the keys are dense integers, so a multiply
/// spreads them well and costs far less than SipHash.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (n ^ (n >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn rates(pairs: &[(&str, f64)]) -> PrefixRates {
        PrefixRates::new(&RateTable::from_pairs(pairs.iter().copied()).unwrap())
    }

    #[test]
    fn longest_matching_prefix_wins() {
        let r = rates(&[("1", 0.01), ("1555", 0.02), ("15551", 0.03), ("44", 0.05)]);
        assert_eq!(r.lookup("+15551234567"), Some(0.03));
        assert_eq!(r.lookup("15559"), Some(0.02));
        assert_eq!(r.lookup("1212"), Some(0.01));
        assert_eq!(r.lookup("+442071234567"), Some(0.05));
        assert_eq!(r.lookup("33123"), None);
        assert_eq!(r.lookup(""), None);
    }

    #[test]
    fn leading_zeros_are_distinct_prefixes() {
        let r = rates(&[("0", 1.0), ("00", 2.0), ("1", 3.0)]);
        assert_eq!(r.lookup("0044"), Some(2.0));
        assert_eq!(r.lookup("0144"), Some(1.0));
        assert_eq!(r.lookup("144"), Some(3.0));
    }

    #[test]
    fn matching_stops_at_a_non_digit() {
        let r = rates(&[("12", 1.0), ("123", 2.0)]);
        assert_eq!(r.lookup("12*3"), Some(1.0));
    }

    proptest::proptest! {
        #[test]
        fn lookup_never_panics_on_any_number(number in "\\PC{0,40}") {
            let r = rates(&[("1", 0.01), ("123456789012345678", 0.02)]);
            let _ = r.lookup(&number);
        }
    }

    #[test]
    fn large_table_matches_every_prefix_it_holds() {
        let pairs: Vec<(String, f64)> = (0..100_000u32)
            .map(|i| (format!("{}", 100_000 + i * 7), f64::from(i)))
            .collect();
        let r =
            PrefixRates::new(&RateTable::from_pairs(pairs.iter().map(|(p, r)| (p, *r))).unwrap());
        assert_eq!(r.len(), 100_000);
        for i in (0..100_000u32).step_by(997) {
            let number = format!("{}9999", 100_000 + i * 7);
            assert_eq!(r.lookup(&number), Some(f64::from(i)));
        }
    }
}
