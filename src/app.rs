//! Composition root: builds the services from the validated config, picks backends, owns
//! shutdown and drain.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sip_core::transaction::TimerConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{self, ApiState};
use crate::call::actor::{CallServices, CallStats};
use crate::call::registry::ActiveCalls;
use crate::cluster::{LocationStore, MemoryLocationStore, UnixMillis};
use crate::telemetry::events::{BusSettings, EventBus};
use arc_swap::ArcSwap;
use tokio::sync::mpsc;

use crate::config::{Config, Profile, ProfileKind};
use crate::dialplan::Router;
use crate::media::{MediaError, MediaRelay, RelayConfig};
use crate::sip::admission::SourceAdmission;
use crate::sip::auth_guard::{AuthGuard, AuthGuardError};
use crate::sip::client::SipClient;
use crate::sip::registrar::Registrar;
use crate::sip::registrar::events::{self as registrar_events, Removal};
use crate::sip::{
    CallTable, DriverSettings, InviteHandler, ListenerBinding, ProfileService, SipDriver,
};
use crate::store::{RecordWriter, SqlStore, StoreError};
use crate::switchboard::{Routing, SharedRouting, Switchboard, SwitchboardSettings};
use crate::telemetry::metrics::PoolUsage;
use crate::transport::{BindError, ListenerSpec, Network, TransportSettings};
use crate::trunk::service::TrunkServices;
use crate::trunk::{ProfileListeners, Trunks};

/// How long calls may take to hang up (BYE/CANCEL answered) after shutdown begins.
const CALLS_GRACE: Duration = Duration::from_secs(5);

/// How long requests in flight may take to finish after the calls are gone.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// How long the call record writer may keep writing at shutdown before it spools the rest.
const RECORDS_GRACE: Duration = Duration::from_secs(3);

/// How long the webhook feed may keep writing queued events to the outbox at shutdown.
const WEBHOOKS_GRACE: Duration = Duration::from_secs(3);

/// How long notification attempts cut by the shutdown may take to write their ends.
const NOTIFICATIONS_GRACE: Duration = Duration::from_secs(2);

/// How long trunk registrations may take to unregister at shutdown.
const TRUNKS_GRACE: Duration = Duration::from_secs(2);

/// How long closing the sockets and connections may take after the drain.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How often expired registrations are removed from the location store.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Call records waiting for the writer before call actors wait to hand theirs over.
const RECORD_QUEUE: usize = 4096;

/// Where the switch keeps its durable data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Storage {
    /// Database of call records: `sqlite://path` or `postgres://…`.
    pub database_url: String,
    /// File where call records that could not be written at shutdown wait for the next start.
    pub spool_path: PathBuf,
}

/// Where reloads of the dialplans and trunks come from.
#[derive(Debug)]
pub struct Reloads {
    /// The config directory to read again.
    pub config_dir: PathBuf,
    /// One message per reload asked for (SIGHUP).
    pub requests: mpsc::Receiver<()>,
}

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
    /// A profile's media relay could not be set up.
    #[error("profile {profile:?}: media relay: {source}")]
    Media {
        /// The profile.
        profile: String,
        /// Why.
        #[source]
        source: MediaError,
    },
    /// The HTTP client of dialplan webhooks could not be set up (TLS roots).
    #[error("webhook HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    /// The control API's listen address could not be bound.
    #[error("control API: cannot listen on {addr}: {source}")]
    ApiBind {
        /// The address of `api.toml`'s `listen`.
        addr: std::net::SocketAddr,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The call record database could not be opened.
    #[error("call record database: {0}")]
    Store(#[source] StoreError),
    /// Webhook delivery could not be set up.
    #[error("{0}")]
    Webhooks(#[source] api::webhooks::WebhookError),
}

/// Runs the switch until `shutdown` is cancelled, then hangs up the calls, lets requests in
/// flight finish, writes (or spools) the call records, and returns.
pub async fn run(
    config: Config,
    storage: Storage,
    mut reloads: Reloads,
    shutdown: CancellationToken,
) -> Result<(), AppError> {
    let records_store = SqlStore::connect(&storage.database_url)
        .await
        .map_err(AppError::Store)?;
    let store: Arc<dyn LocationStore> = Arc::new(MemoryLocationStore::new());
    // Nonce key for profiles that configure none: one per process (RFC 3261 §22.4 leaves
    // nonce generation to the server).
    let fallback_nonce_key: [u8; 32] = rand::random();

    let mut guards = Vec::with_capacity(config.profiles().len());
    let mut relays = Vec::with_capacity(config.profiles().len());
    let mut specs = Vec::new();
    let mut spec_profiles = Vec::new();
    for (index, profile) in config.profiles().iter().enumerate() {
        let guard =
            AuthGuard::new(profile, &fallback_nonce_key).map_err(|source| AppError::Auth {
                profile: profile.name().to_owned(),
                source,
            })?;
        guards.push(Arc::new(guard));
        relays.push(media_relay(profile)?);
        for listen in profile.listen() {
            specs.push(ListenerSpec {
                kind: listen.transport,
                addr: listen.addr,
                max_message_size: profile.sip().max_message_size(),
            });
            spec_profiles.push(index);
        }
    }

    // Receiving goes on while the calls hang up, so their BYEs and CANCELs get answered.
    let stop_receiving = CancellationToken::new();
    let network = Network::bind(&specs, TransportSettings::default(), stop_receiving.clone())
        .map_err(|source| {
            let profile = specs
                .iter()
                .zip(&spec_profiles)
                .find(|(spec, _)| spec.addr == source.addr())
                .and_then(|(_, index)| config.profiles().get(*index))
                .map_or_else(String::new, |p| p.name().to_owned());
            AppError::Bind { profile, source }
        })?;

    let api_listener = match config.api().listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| AppError::ApiBind { addr, source })?;
            tracing::info!(%addr, "control API listening");
            Some(listener)
        }
        None => None,
    };

    let (records, writer) = RecordWriter::start(
        Arc::new(records_store.clone()),
        storage.spool_path.clone(),
        RECORD_QUEUE,
    );
    let calls = Arc::new(CallTable::new());
    let events = EventBus::new(BusSettings {
        replay: config.api().events.replay,
        subscriber_buffer: config.api().events.subscriber_buffer,
    });
    // Before anything publishes: every event a target wants goes through the outbox.
    let webhooks =
        api::webhooks::WebhookService::start(&config.api().webhooks, &events, &records_store)
            .map_err(AppError::Webhooks)?;
    let call_services = CallServices {
        network: network.clone(),
        calls: Arc::clone(&calls),
        records,
        shutdown: CancellationToken::new(),
        tracker: TaskTracker::new(),
        stats: Arc::new(CallStats::default()),
        registry: Arc::new(ActiveCalls::new()),
        events: events.clone(),
    };

    let listeners = profile_listeners(&config, &network, &spec_profiles);
    let trunks = Trunks::new(config.trunks(), &listeners).with_events(events.clone());
    let routing: SharedRouting =
        Arc::new(ArcSwap::from_pointee(Routing::new(&config, trunks.clone())));
    let http = reqwest::Client::builder().build().map_err(AppError::Http)?;
    let router = Router::new(http);
    let mut services = Vec::with_capacity(config.profiles().len());
    let mut switchboards = Vec::with_capacity(config.profiles().len());
    for ((profile, guard), relay) in config.profiles().iter().zip(guards).zip(relays) {
        let registrar = Registrar::new(profile, Arc::clone(&store), Arc::clone(&guard))
            .with_events(events.clone());
        let switchboard = Arc::new(Switchboard::new(
            SwitchboardSettings::from_profile(profile),
            Arc::clone(&store),
            relay,
            call_services.clone(),
            Arc::clone(&routing),
            router.clone(),
        ));
        switchboards.push(ProfileBoard {
            name: profile.name().to_owned(),
            kind: profile.kind(),
            domain: profile.domain().to_owned(),
            switchboard: Arc::clone(&switchboard),
        });
        let invite: Arc<dyn InviteHandler> = switchboard;
        let mut service = profile_service(profile, Arc::new(registrar), guard, invite);
        if profile.kind() == ProfileKind::Trunks {
            service.admission = Some(Arc::new(TrunkSources {
                routing: Arc::clone(&routing),
                profile: profile.name().to_owned(),
            }));
        }
        services.push(service);
    }
    let client = SipClient::new(
        network.clone(),
        Arc::clone(&calls),
        config
            .profiles()
            .first()
            .map_or_else(TimerConfig::default, |p| p.sip().timers()),
    );
    let mut trunk_services = TrunkServices::start(&trunks, config.trunks(), client, &shutdown);

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
    let driver = SipDriver::start(&network, services, &bindings, settings, Arc::clone(&calls));

    let sweeper = tokio::spawn(sweep_expired(
        Arc::clone(&store),
        events.clone(),
        profile_domains(&config),
        shutdown.clone(),
    ));

    let notifications = crate::notify::NotifyService::start(
        records_store.clone(),
        events.clone(),
        Arc::new(crate::switchboard::notify::NotificationDialer::new(
            switchboards
                .iter()
                .map(|b| (Arc::clone(&b.switchboard), b.domain.clone())),
        )),
        crate::notify::NotifySettings {
            per_caller_id_per_minute: config.api().notifications.per_caller_id_per_minute,
            max_concurrent: config.api().notifications.max_concurrent,
            default_ring_timeout: config.api().notifications.default_ring_timeout,
            sounds_dir: reloads.config_dir.join(crate::config::ivr::SOUNDS_DIR),
        },
        shutdown.child_token(),
    )
    .await;

    let (api_reload_tx, mut api_reloads) = mpsc::channel::<ApiReload>(4);
    let api = match api_listener {
        Some(listener) => {
            let state = ApiState {
                config: Arc::new(config.api().clone()),
                control: Arc::new(SwitchControl {
                    reloads: api_reload_tx,
                    switchboards,
                    notifications: Some(notifications.handle()),
                }),
                calls: Arc::clone(&call_services.registry),
                locations: Arc::clone(&store),
                profiles: Arc::new(api::ProfileDomains::from_config(&config)),
                store: records_store.clone(),
                events: events.clone(),
                started: std::time::Instant::now(),
                shutdown: shutdown.clone(),
                recordings: Arc::new(api::RecordingDirs::from_config(&config)),
            };
            Some(tokio::spawn(async move {
                if let Err(error) = api::serve(listener, state).await {
                    tracing::error!(%error, "control API stopped");
                }
            }))
        }
        None => None,
    };

    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            request = reloads.requests.recv() => {
                if request.is_none() {
                    // No more reload requests can come; wait for shutdown alone.
                    shutdown.cancelled().await;
                    break;
                }
                let _ = reload(&reloads.config_dir, &config, &routing, &listeners, &mut trunk_services);
            }
            Some(reply) = api_reloads.recv() => {
                let outcome =
                    reload(&reloads.config_dir, &config, &routing, &listeners, &mut trunk_services);
                let _ = reply.send(outcome);
            }
        }
    }
    let call_stats = Arc::clone(&call_services.stats);
    tracing::info!(
        active_calls = call_stats.active(),
        grace_ms = CALLS_GRACE.as_millis() as u64,
        "hanging up calls"
    );
    hang_up_calls(call_services, CALLS_GRACE).await;
    // After the calls hung up: their attempts' ends are written before the store closes.
    notifications.finish(NOTIFICATIONS_GRACE).await;
    trunk_services.stopped(TRUNKS_GRACE).await;

    stop_receiving.cancel();
    tracing::info!(grace_ms = DRAIN_GRACE.as_millis() as u64, "draining");
    if !driver.drain(DRAIN_GRACE).await {
        tracing::warn!("requests still in flight after the grace period were dropped");
    }
    // The driver's switchboards held the last record senders but those of calls cut short.
    let report = writer.finish(RECORDS_GRACE).await;
    tracing::info!(
        calls = call_stats.started(),
        records = call_stats.records(),
        written = report.written,
        spooled = report.spooled,
        rejected = report.rejected,
        lost = report.lost,
        "call records flushed"
    );
    // After the calls hung up: their last events reach the outbox before the store closes.
    if let Some(webhooks) = webhooks {
        webhooks.finish(WEBHOOKS_GRACE).await;
    }
    records_store.close().await;
    if tokio::time::timeout(CLOSE_GRACE, network.close())
        .await
        .is_err()
    {
        tracing::warn!("connections did not close in time");
    }
    let _ = sweeper.await;
    if let Some(api) = api {
        let _ = api.await;
    }
    Ok(())
}

mod control;

use control::{ApiReload, ProfileBoard, SwitchControl, reload};

/// Each profile's bound listeners (calls to a trunk leave from its profile's listener).
fn profile_listeners(
    config: &Config,
    network: &Network,
    spec_profiles: &[usize],
) -> ProfileListeners {
    let mut listeners = ProfileListeners::new();
    for (bound, &index) in network.listeners().iter().zip(spec_profiles) {
        if let Some(profile) = config.profiles().get(index) {
            listeners
                .entry(profile.name().to_owned())
                .or_default()
                .push((bound.kind, bound.local));
        }
    }
    listeners
}

/// Admits, on a trunks profile, the sources of the profile's trunks in the live routing.
struct TrunkSources {
    routing: SharedRouting,
    profile: String,
}

impl SourceAdmission for TrunkSources {
    fn admits(&self, source: IpAddr) -> bool {
        self.routing
            .load()
            .trunks
            .identify(&self.profile, source)
            .is_some()
    }
}

/// Shutdown of the calls: each hangs up with `SystemShutdown` (BYE or CANCEL out, its record
/// emitted); waits for at most `grace` until every call has ended. Ended calls whose
/// transactions still absorb retransmissions are not waited for.
async fn hang_up_calls(services: CallServices, grace: Duration) {
    let CallServices {
        shutdown,
        tracker,
        stats,
        records,
        ..
    } = services;
    // Only the switchboards' and the calls' senders remain.
    drop(records);
    shutdown.cancel();
    tracker.close();
    if tokio::time::timeout(grace, stats.all_ended())
        .await
        .is_err()
    {
        tracing::warn!(
            cut = stats.active(),
            "calls still up after the grace period"
        );
    }
    tracing::info!(
        calls = stats.started(),
        records = stats.records(),
        lingering = tracker.len(),
        "calls hung up"
    );
}

/// The media relay of `profile`; None with direct media.
fn media_relay(profile: &Profile) -> Result<Option<Arc<MediaRelay>>, AppError> {
    let media = profile.media();
    if media.direct_media() {
        return Ok(None);
    }
    let relay = MediaRelay::new(RelayConfig {
        address: media.address(),
        port_min: media.rtp_port_min(),
        port_max: media.rtp_port_max(),
    })
    .map_err(|source| AppError::Media {
        profile: profile.name().to_owned(),
        source,
    })?;
    tracing::info!(
        profile = profile.name(),
        address = %media.address(),
        ports = %format_args!("{}-{}", media.rtp_port_min(), media.rtp_port_max()),
        "media relay ready"
    );
    let relay = Arc::new(relay);
    relay_pool_metrics(profile.name(), &relay);
    Ok(Some(relay))
}

/// Reports `relay`'s port pool at each scrape, while it exists.
fn relay_pool_metrics(profile: &str, relay: &Arc<MediaRelay>) {
    let relay = Arc::downgrade(relay);
    let reader = move || {
        relay
            .upgrade()
            .map_or_else(PoolUsage::default, |r| PoolUsage {
                in_use: r.ports_in_use() as u64,
                total: r.ports_total() as u64,
            })
    };
    crate::telemetry::metrics::metrics().relay_pool(profile, Box::new(reader));
}

fn profile_service(
    profile: &Profile,
    registrar: Arc<Registrar>,
    auth: Arc<AuthGuard>,
    invite: Arc<dyn InviteHandler>,
) -> ProfileService {
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
        auth,
        invite: Some(invite),
        admission: None,
    }
}

/// `(domain, profile name)` of every profile: the sweeper names the profile of a binding by
/// its AOR's domain.
fn profile_domains(config: &Config) -> Vec<(String, String)> {
    config
        .profiles()
        .iter()
        .map(|p| (p.domain().to_ascii_lowercase(), p.name().to_owned()))
        .collect()
}

/// Removes expired bindings every [`SWEEP_INTERVAL`] until shutdown, publishing
/// `registration.removed` for each.
async fn sweep_expired(
    store: Arc<dyn LocationStore>,
    events: EventBus,
    domains: Vec<(String, String)>,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(SWEEP_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match store.sweep_expired(UnixMillis::now()).await {
            Ok(removed) if removed.is_empty() => {}
            Ok(removed) => {
                for binding in &removed {
                    let profile = domains
                        .iter()
                        .find(|(domain, _)| domain == binding.aor.domain())
                        .map(|(_, name)| name.as_str());
                    registrar_events::publish_removed(&events, profile, binding, Removal::Expired);
                }
                tracing::debug!(removed = removed.len(), "expired bindings swept");
            }
            Err(error) => tracing::warn!(%error, "sweeping expired bindings failed"),
        }
    }
}
