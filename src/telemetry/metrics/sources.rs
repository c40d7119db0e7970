//! Readings taken at scrape time from state other modules already keep (a relay's port pool),
//! so nothing on their hot paths counts anything for the metrics.

use std::sync::{Arc, PoisonError, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

/// A relay port pool's usage right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolUsage {
    /// Ports leased to sessions.
    pub in_use: u64,
    /// Ports in the pool's range (RTP and RTCP).
    pub total: u64,
}

/// Reads a pool's usage; called on each scrape, must not block.
pub type PoolReader = Box<dyn Fn() -> PoolUsage + Send + Sync>;

/// The relay port pools, by profile name.
#[derive(Default)]
pub(super) struct RelayPools {
    pools: RwLock<Vec<(String, PoolReader)>>,
}

impl std::fmt::Debug for RelayPools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayPools").finish_non_exhaustive()
    }
}

impl RelayPools {
    /// Adds `profile`'s pool, replacing one of the same name (a restarted switch in the same
    /// process).
    pub(super) fn insert(&self, profile: &str, reader: PoolReader) {
        let mut pools = self.pools.write().unwrap_or_else(PoisonError::into_inner);
        pools.retain(|(name, _)| name != profile);
        pools.push((profile.to_owned(), reader));
        pools.sort_by(|a, b| a.0.cmp(&b.0));
    }

    /// Forgets `profile`'s pool.
    pub(super) fn remove(&self, profile: &str) {
        let mut pools = self.pools.write().unwrap_or_else(PoisonError::into_inner);
        pools.retain(|(name, _)| name != profile);
    }
}

/// Which figure of a [`PoolUsage`] a family shows.
#[derive(Debug, Clone, Copy)]
enum Reading {
    InUse,
    Total,
}

/// The collector half of [`RelayPools`].
#[derive(Debug)]
pub(super) struct RelayPoolCollector(pub(super) Arc<RelayPools>);

impl Collector for RelayPoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let pools = self.0.pools.read().unwrap_or_else(PoisonError::into_inner);
        let usage: Vec<(&str, PoolUsage)> = pools
            .iter()
            .map(|(name, reader)| (name.as_str(), reader()))
            .collect();
        let families = [
            (
                "relay_ports_in_use",
                "RTP/RTCP relay ports leased to calls, by profile",
                Reading::InUse,
            ),
            (
                "relay_ports",
                "RTP/RTCP relay ports in the profile's range",
                Reading::Total,
            ),
        ];
        for (name, help, reading) in families {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (profile, usage) in &usage {
                let labels = [("profile", *profile)];
                let value = match reading {
                    Reading::InUse => usage.in_use,
                    Reading::Total => usage.total,
                };
                let value = i64::try_from(value).unwrap_or(i64::MAX);
                ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
