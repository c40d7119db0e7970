//! Bench-only crate: a least-cost route group over five trunks, each with a 100,000-prefix
//! rate table, and the numbers to route through it. See `benches/route.rs`.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchyard::config::trunks::{RateTable, TrunksConfig, parse_trunk_file};
use switchyard::transport::Transport;
use switchyard::trunk::{ProfileListeners, Trunks};

/// Trunks in the group.
pub const TRUNKS: usize = 5;
/// Prefixes in each trunk's rate table.
pub const PREFIXES: usize = 100_000;

/// The trunk table and the numbers to route.
pub struct Fixture {
    /// Five trunks in one `least_cost` group named `lcr`.
    pub trunks: Trunks,
    /// E.164 numbers (with `+`), most of them matching a prefix of every table.
    pub numbers: Vec<String>,
}

/// Builds the fixture from a fixed seed: prefixes of 1 to 8 digits with random rates, the
/// same country codes in every table so each lookup walks several lengths.
pub fn fixture() -> anyhow::Result<Fixture> {
    let mut rng = StdRng::seed_from_u64(2026);
    let mut text = String::new();
    for i in 0..TRUNKS {
        text.push_str(&format!(
            "[[trunk]]\nname = \"carrier-{i}\"\nprofile = \"carriers\"\ngateways = [\"sip:192.0.2.{}:5060\"]\n\
             pass_headers = [\"x-campaign\"]\n[trunk.auth]\nusername = \"acct{i}\"\npassword = \"pw\"\n\
             [trunk.caller_id]\nfrom_domain = \"carrier-{i}.example\"\nasserted = true\n\n",
            i + 1
        ));
    }
    text.push_str("[[route_group]]\nname = \"lcr\"\nstrategy = \"least_cost\"\ntrunks = [");
    let names: Vec<String> = (0..TRUNKS).map(|i| format!("\"carrier-{i}\"")).collect();
    text.push_str(&names.join(", "));
    text.push_str("]\n");

    let path = PathBuf::from("sip-profiles/trunks/bench.toml");
    let (t, g, errors) = parse_trunk_file(&path, &text);
    anyhow::ensure!(errors.is_empty(), "{errors:?}");
    let (mut config, errors) = TrunksConfig::build(vec![(path, t, g)], &["carriers"]);
    anyhow::ensure!(errors.is_empty(), "{errors:?}");

    for i in 0..TRUNKS {
        let mut prefixes: HashMap<String, f64> = HashMap::with_capacity(PREFIXES);
        for cc in ["1", "44", "49", "33", "61", "81", "86", "91", "55", "7"] {
            prefixes.insert(cc.to_owned(), rng.gen_range(0.001..0.1));
        }
        while prefixes.len() < PREFIXES {
            let len = rng.gen_range(3..=8);
            let p: String = (0..len)
                .map(|k| {
                    let d = if k == 0 {
                        rng.gen_range(1..=9)
                    } else {
                        rng.gen_range(0..=9)
                    };
                    char::from(b'0' + d)
                })
                .collect();
            prefixes.insert(p, rng.gen_range(0.001..0.1));
        }
        let table = RateTable::from_pairs(prefixes).context("invalid prefix")?;
        anyhow::ensure!(config.set_rates(&format!("carrier-{i}"), table));
    }

    let mut listeners = ProfileListeners::new();
    listeners.insert(
        "carriers".to_owned(),
        vec![(Transport::Udp, "192.0.2.100:5060".parse()?)],
    );
    let trunks = Trunks::new(&config, &listeners);
    let numbers = (0..1024)
        .map(|_| {
            let digits: String = (0..11)
                .map(|_| char::from(b'0' + rng.gen_range(0..=9u8)))
                .collect();
            format!("+1{digits}")
        })
        .collect();
    Ok(Fixture { trunks, numbers })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::time::Instant;

    use switchyard::call::actor::CallRoute;
    use switchyard::trunk::CallerInfo;

    use super::*;

    #[test]
    fn every_number_gets_a_first_stage_on_a_carrier_with_a_rate() {
        let f = fixture().unwrap();
        for number in f.numbers.iter().take(50) {
            let mut route = f
                .trunks
                .route("lcr", number, CallerInfo::default(), Instant::now())
                .unwrap();
            assert_eq!(route.trunk_order().len(), TRUNKS);
            let stage = route.next_stage(None).unwrap();
            assert!(
                stage.targets[0]
                    .uri
                    .to_string()
                    .starts_with(&format!("sip:{number}@"))
            );
        }
    }
}
