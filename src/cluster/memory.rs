//! In-memory `LocationStore` for a single node: a `DashMap` from AOR to its bindings.

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;

use super::binding_set::apply_change;
use super::{
    Aor, Binding, BindingFilter, BoxFuture, ClusterError, LocationStore, RegisterChange, UnixMillis,
};

/// Bindings held in this process. Each AOR's update runs under that AOR's map entry lock, which
/// makes [`LocationStore::apply`] atomic; nothing is held across an `.await`.
#[derive(Debug, Default)]
pub struct MemoryLocationStore {
    aors: DashMap<Aor, Vec<Binding>>,
}

impl MemoryLocationStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn apply_now(
        &self,
        aor: &Aor,
        change: &RegisterChange,
        now: UnixMillis,
    ) -> Result<Vec<Binding>, ClusterError> {
        match self.aors.entry(aor.clone()) {
            Entry::Occupied(mut entry) => {
                let live = apply_change(entry.get(), aor, change, now)?;
                if live.is_empty() {
                    entry.remove();
                } else {
                    entry.insert(live.clone());
                }
                Ok(live)
            }
            Entry::Vacant(entry) => {
                let live = apply_change(&[], aor, change, now)?;
                if !live.is_empty() {
                    entry.insert(live.clone());
                }
                Ok(live)
            }
        }
    }

    fn live_bindings(&self, aor: &Aor, now: UnixMillis) -> Vec<Binding> {
        self.aors.get(aor).map_or_else(Vec::new, |bindings| {
            bindings
                .iter()
                .filter(|b| !b.is_expired(now))
                .cloned()
                .collect()
        })
    }

    fn list_now(&self, filter: &BindingFilter, now: UnixMillis) -> Vec<Binding> {
        let mut aors: Vec<Aor> = match &filter.aor {
            Some(aor) => vec![aor.clone()],
            None => self.aors.iter().map(|e| e.key().clone()).collect(),
        };
        aors.sort();
        let limit = filter.limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for aor in aors {
            for binding in self.live_bindings(&aor, now) {
                if out.len() >= limit {
                    return out;
                }
                if filter.matches(&binding) {
                    out.push(binding);
                }
            }
        }
        out
    }

    fn sweep_now(&self, now: UnixMillis) -> Vec<Binding> {
        let mut removed = Vec::new();
        self.aors.retain(|_, bindings| {
            let (expired, live): (Vec<Binding>, Vec<Binding>) =
                bindings.drain(..).partition(|b| b.is_expired(now));
            *bindings = live;
            removed.extend(expired);
            !bindings.is_empty()
        });
        removed
    }
}

impl LocationStore for MemoryLocationStore {
    fn apply<'a>(
        &'a self,
        aor: &'a Aor,
        change: RegisterChange,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Vec<Binding>, ClusterError>> {
        Box::pin(std::future::ready(self.apply_now(aor, &change, now)))
    }

    fn bindings<'a>(
        &'a self,
        aor: &'a Aor,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Vec<Binding>, ClusterError>> {
        Box::pin(std::future::ready(Ok(self.live_bindings(aor, now))))
    }

    fn list<'a>(
        &'a self,
        filter: &'a BindingFilter,
        now: UnixMillis,
    ) -> BoxFuture<'a, Result<Vec<Binding>, ClusterError>> {
        Box::pin(std::future::ready(Ok(self.list_now(filter, now))))
    }

    fn sweep_expired(&self, now: UnixMillis) -> BoxFuture<'_, Result<Vec<Binding>, ClusterError>> {
        Box::pin(std::future::ready(Ok(self.sweep_now(now))))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::MemoryLocationStore;
    use crate::cluster::LocationStore;

    async fn memory() -> Arc<dyn LocationStore> {
        Arc::new(MemoryLocationStore::new())
    }

    crate::cluster::contract::location_store_contract!(memory);
}
