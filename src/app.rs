//! Composition root: builds the services from the validated config, picks backends, owns
//! shutdown and drain.

use std::sync::Arc;
use std::time::Duration;

use sip_core::transaction::TimerConfig;
use tokio_util::sync::CancellationToken;

use crate::cluster::{LocationStore, MemoryLocationStore, UnixMillis};
use crate::config::{Config, Profile};
use crate::sip::auth_guard::{AuthGuard, AuthGuardError};
use crate::sip::registrar::Registrar;
use crate::sip::{DriverSettings, ListenerBinding, ProfileService, SipDriver};
use crate::transport::{BindError, ListenerSpec, Network, TransportSettings};

/// How long requests in flight may take to finish after shutdown begins.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How long closing the sockets and connections may take after the drain.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How often expired registrations are removed from the location store.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Why the switch could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A listen address could not be bound.
    #[error("profile {profile:?}: {source}")]
    Bind {
        /// The profile that lists the address.
        profile: String,
        /// What the operating system said.
        #[source]
        source: BindError,
    },
    /// A profile's digest authentication could not be set up.
    #[error("profile {profile:?}: {source}")]
    Auth {
        /// The profile.
        profile: String,
        /// Why.
        #[source]
        source: AuthGuardError,
    },
}

/// Runs the switch until `shutdown` is cancelled, then stops accepting, lets requests in
/// flight finish (up to [`DRAIN_GRACE`]) and returns.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), AppError> {
    let store: Arc<dyn LocationStore> = Arc::new(MemoryLocationStore::new());
    // Nonce key for profiles that configure none: one per process (RFC 3261 §22.4 leaves
    // nonce generation to the server).
    let fallback_nonce_key: [u8; 32] = rand::random();

    let mut services = Vec::with_capacity(config.profiles().len());
    let mut specs = Vec::new();
    let mut spec_profiles = Vec::new();
    for (index, profile) in config.profiles().iter().enumerate() {
        let guard =
            AuthGuard::new(profile, &fallback_nonce_key).map_err(|source| AppError::Auth {
                profile: profile.name().to_owned(),
                source,
            })?;
        let registrar = Registrar::new(profile, Arc::clone(&store), Arc::new(guard));
        services.push(profile_service(profile, Arc::new(registrar)));
        for listen in profile.listen() {
            specs.push(ListenerSpec {
                kind: listen.transport,
                addr: listen.addr,
                max_message_size: profile.sip().max_message_size(),
            });
            spec_profiles.push(index);
        }
    }

    let stop_receiving = shutdown.child_token();
    let network =
        Network::bind(&specs, TransportSettings::default(), stop_receiving).map_err(|source| {
            let profile = specs
                .iter()
                .zip(&spec_profiles)
                .find(|(spec, _)| spec.addr == source.addr())
                .and_then(|(_, index)| config.profiles().get(*index))
                .map_or_else(String::new, |p| p.name().to_owned());
            AppError::Bind { profile, source }
        })?;

    let mut bindings = Vec::with_capacity(specs.len());
    for (bound, &index) in network.listeners().iter().zip(&spec_profiles) {
        let profile = config.profiles().get(index).map_or("", |p| p.name());
        tracing::info!(profile, transport = %bound.kind, addr = %bound.local, "listening");
        bindings.push(ListenerBinding {
            transport: bound.kind,
            local: bound.local,
            profile: index,
        });
    }

    let queue = config
        .profiles()
        .iter()
        .map(|p| p.sip().udp_queue())
        .max()
        .unwrap_or(4096);
    let settings = DriverSettings::for_host(queue);
    tracing::info!(
        shards = settings.shards,
        shard_queue = settings.shard_queue,
        "sip driver starting"
    );
    let driver = SipDriver::start(&network, services, &bindings, settings);

    let sweeper = tokio::spawn(sweep_expired(Arc::clone(&store), shutdown.clone()));

    shutdown.cancelled().await;
    tracing::info!(grace_ms = DRAIN_GRACE.as_millis() as u64, "draining");
    if !driver.drain(DRAIN_GRACE).await {
        tracing::warn!("requests still in flight after the grace period were dropped");
    }
    if tokio::time::timeout(CLOSE_GRACE, network.close())
        .await
        .is_err()
    {
        tracing::warn!("connections did not close in time");
    }
    let _ = sweeper.await;
    Ok(())
}

fn profile_service(profile: &Profile, registrar: Arc<Registrar>) -> ProfileService {
    let sip = profile.sip();
    ProfileService {
        name: profile.name().to_owned(),
        timers: TimerConfig {
            t1: sip.t1(),
            t2: sip.t2(),
            t4: sip.t4(),
        },
        retry_after_secs: u32::try_from(sip.retry_after().as_secs()).unwrap_or(u32::MAX),
        register: registrar,
    }
}

/// Removes expired bindings every [`SWEEP_INTERVAL`] until shutdown.
async fn sweep_expired(store: Arc<dyn LocationStore>, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(SWEEP_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match store.sweep_expired(UnixMillis::now()).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "expired bindings swept"),
            Err(error) => tracing::warn!(%error, "sweeping expired bindings failed"),
        }
    }
}
