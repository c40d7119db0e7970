//! The order in which a route group tries its trunks, per strategy.
//!
//! Pure: no I/O, no clock; randomness comes from the caller's generator.

use std::cmp::Ordering;

use rand::Rng;

use crate::config::trunks::Strategy;

/// What the strategies know of one member trunk when a call is routed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// The caller's index of the trunk.
    pub index: usize,
    /// Weight (weighted).
    pub weight: u32,
    /// Rate of the number's longest matching prefix (least_cost); None: no match.
    pub rate: Option<f64>,
    /// Active calls (least_busy).
    pub active: u32,
}

/// Orders `candidates` (given in config order) as `strategy` says and returns their indices.
///
/// - priority: config order;
/// - weighted: drawn one at a time by weight among those left (without replacement);
/// - least_cost: cheapest rate first, trunks without a matching prefix last;
/// - least_busy: fewest active calls first.
///
/// Ties keep config order.
pub fn order(strategy: Strategy, mut candidates: Vec<Candidate>, rng: &mut impl Rng) -> Vec<usize> {
    match strategy {
        Strategy::Priority => {}
        Strategy::Weighted => {
            let mut drawn = Vec::with_capacity(candidates.len());
            while !candidates.is_empty() {
                let total: u64 = candidates.iter().map(|c| u64::from(c.weight)).sum();
                let at = if total == 0 {
                    0
                } else {
                    let mut point = rng.gen_range(0..total);
                    candidates
                        .iter()
                        .position(|c| {
                            let w = u64::from(c.weight);
                            if point < w {
                                true
                            } else {
                                point -= w;
                                false
                            }
                        })
                        .unwrap_or(0)
                };
                drawn.push(candidates.remove(at));
            }
            candidates = drawn;
        }
        Strategy::LeastCost => candidates.sort_by(|a, b| cheaper(a.rate, b.rate)),
        Strategy::LeastBusy => candidates.sort_by_key(|c| c.active),
    }
    candidates.into_iter().map(|c| c.index).collect()
}

fn cheaper(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    fn c(index: usize, weight: u32, rate: Option<f64>, active: u32) -> Candidate {
        Candidate {
            index,
            weight,
            rate,
            active,
        }
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(7)
    }

    #[test]
    fn priority_keeps_config_order() {
        let list = vec![c(0, 1, None, 9), c(1, 9, Some(0.1), 0), c(2, 1, None, 0)];
        assert_eq!(order(Strategy::Priority, list, &mut rng()), vec![0, 1, 2]);
    }

    #[test]
    fn least_cost_puts_the_cheapest_first_and_unrated_trunks_last() {
        let list = vec![
            c(0, 1, None, 0),
            c(1, 1, Some(0.03), 0),
            c(2, 1, Some(0.01), 0),
            c(3, 1, Some(0.03), 0),
        ];
        assert_eq!(
            order(Strategy::LeastCost, list, &mut rng()),
            vec![2, 1, 3, 0]
        );
    }

    #[test]
    fn least_busy_puts_the_fewest_active_calls_first() {
        let list = vec![
            c(0, 1, None, 5),
            c(1, 1, None, 2),
            c(2, 1, None, 2),
            c(3, 1, None, 0),
        ];
        assert_eq!(
            order(Strategy::LeastBusy, list, &mut rng()),
            vec![3, 1, 2, 0]
        );
    }

    #[test]
    fn weighted_order_holds_every_trunk_once() {
        let list = vec![c(0, 5, None, 0), c(1, 1, None, 0), c(2, 3, None, 0)];
        let mut got = order(Strategy::Weighted, list, &mut rng());
        got.sort_unstable();
        assert_eq!(got, vec![0, 1, 2]);
    }

    #[test]
    fn weighted_first_pick_spreads_by_weight_within_two_percent() {
        let mut rng = rng();
        let mut firsts = [0u32; 3];
        let mut seconds_after_heaviest = [0u32; 3];
        for _ in 0..10_000 {
            let list = vec![c(0, 70, None, 0), c(1, 20, None, 0), c(2, 10, None, 0)];
            let got = order(Strategy::Weighted, list, &mut rng);
            firsts[got[0]] += 1;
            if got[0] == 0 {
                seconds_after_heaviest[got[1]] += 1;
            }
        }
        for (i, share) in [0.70, 0.20, 0.10].into_iter().enumerate() {
            let measured = f64::from(firsts[i]) / 10_000.0;
            assert!((measured - share).abs() < 0.02, "trunk {i}: {measured}");
        }
        // Without replacement: after the 70, the rest share 20:10.
        let second = f64::from(seconds_after_heaviest[1])
            / f64::from(seconds_after_heaviest[1] + seconds_after_heaviest[2]);
        assert!((second - 2.0 / 3.0).abs() < 0.03, "{second}");
    }
}
