//! The SIP driver: runs sip-core over the transport. The receive path ([`Ingress`]) parses,
//! hands what belongs to a call to that call's mailbox ([`CallTable`]), and the rest to N
//! shard tasks by Call-ID hash over bounded queues; each shard owns its server transactions
//! and timers; the registrar answers in the shard when it needs no wait, and otherwise runs in
//! bounded per-request tasks whose answers flow back to the shard; an authenticated new INVITE
//! leaves the shard for the profile's [`InviteHandler`].

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sip_core::message::{Request, Response};
use sip_core::transaction::TimerConfig;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::admission::SourceAdmission;
use super::auth_guard::AuthGuard;
use super::call_table::CallTable;
use super::driver_ingress::{Ingress, ListenerProfile};
use super::driver_shard::Shard;
use super::invite::InviteHandler;
use super::registrar::Registrar;
use super::reply::{ALLOW, ALLOW_WITH_CALLS, Responder};
use crate::transport::{Network, Peer};

/// The future of a request handler: the final response.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// Answers REGISTER requests for one profile (the registrar; a stub in tests).
pub trait RegisterHandler: Send + Sync + 'static {
    /// The final response to `request`, received from `peer`.
    fn handle(self: Arc<Self>, request: Request, peer: Peer) -> ResponseFuture;
}

impl RegisterHandler for Registrar {
    fn handle(self: Arc<Self>, request: Request, peer: Peer) -> ResponseFuture {
        // The driver's Responder adds the To tag (RFC 3261 §8.2.6.2).
        Box::pin(async move { self.handle_register_untagged(&request, &peer).await })
    }
}

/// What the driver needs of one profile.
#[derive(Clone)]
pub struct ProfileService {
    /// Profile name, for logs.
    pub name: String,
    /// Transaction timers T1, T2, T4.
    pub timers: TimerConfig,
    /// Retry-After seconds in overload 503s.
    pub retry_after_secs: u32,
    /// The profile's registrar.
    pub register: Arc<dyn RegisterHandler>,
    /// The profile's digest authentication (the registrar's guard: one per profile, so bans
    /// and nonce counts are shared by REGISTER and INVITE).
    pub auth: Arc<AuthGuard>,
    /// Takes the profile's authenticated new INVITEs; None answers INVITE with 501.
    pub invite: Option<Arc<dyn InviteHandler>>,
    /// Set for a profile that takes carrier traffic (`kind = "trunks"`): a request outside
    /// any call from a source it does not admit gets a bare 403; an admitted new INVITE is
    /// not digest-challenged (its source identifies it) and reaches `invite` with no caller;
    /// an admitted REGISTER gets 403 (the switch is no registrar for carriers).
    pub admission: Option<Arc<dyn SourceAdmission>>,
}

impl ProfileService {
    /// The Allow header value of the profile (RFC 3261 §20.5).
    pub(crate) fn allow(&self) -> &'static str {
        if self.invite.is_some() {
            ALLOW_WITH_CALLS
        } else {
            ALLOW
        }
    }
}

impl std::fmt::Debug for ProfileService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileService")
            .field("name", &self.name)
            .field("timers", &self.timers)
            .field("retry_after_secs", &self.retry_after_secs)
            .field("calls", &self.invite.is_some())
            .field("admission", &self.admission.is_some())
            .finish_non_exhaustive()
    }
}

/// A bound listener and the profile it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerBinding {
    /// UDP or TCP.
    pub transport: crate::transport::Transport,
    /// The bound address ([`Peer::local`] of what arrives there).
    pub local: SocketAddr,
    /// Index into the profile list given to [`SipDriver::start`].
    pub profile: usize,
}

/// Sizes of the driver's queues and task pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverSettings {
    /// Number of shard tasks (at least 1).
    pub shards: usize,
    /// Depth of each shard's input queue; when full, requests get 503.
    pub shard_queue: usize,
    /// Request tasks (registrar calls) in flight per shard; beyond it, requests get 503.
    pub tasks_per_shard: usize,
}

impl DriverSettings {
    /// One shard per two available cores (at least one), `queue` deep in total.
    ///
    /// The receive tasks do about half of the work of a request (parse, validate, stamp the
    /// Via) before a shard sees it, so shards get half the cores. More shards than that only
    /// make the runtime wake idle workers to steal shard tasks from each other: on 2 cores,
    /// 2 shards cost about 15% more CPU per REGISTER than 1 (benches/register-load.sh).
    pub fn for_host(queue: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let shards = (cores / 2).max(1);
        DriverSettings {
            shards,
            shard_queue: (queue / shards).max(16),
            tasks_per_shard: 1024,
        }
    }
}

/// Counters of the driver (what it refused or could not do).
#[derive(Debug, Default)]
pub struct DriverStats {
    pub(crate) overload_rejected: AtomicU64,
    pub(crate) parse_errors: AtomicU64,
    pub(crate) send_failures: AtomicU64,
    pub(crate) unknown_source_rejected: AtomicU64,
}

impl DriverStats {
    /// Requests answered 503 because a shard queue or task pool was full.
    pub fn overload_rejected(&self) -> u64 {
        self.overload_rejected.load(Ordering::Relaxed)
    }

    /// Messages that failed to parse (answered or dropped).
    pub fn parse_errors(&self) -> u64 {
        self.parse_errors.load(Ordering::Relaxed)
    }

    /// Responses the transport could not send.
    pub fn send_failures(&self) -> u64 {
        self.send_failures.load(Ordering::Relaxed)
    }

    /// Requests refused with 403 because their source is not admitted by the profile.
    pub fn unknown_source_rejected(&self) -> u64 {
        self.unknown_source_rejected.load(Ordering::Relaxed)
    }
}

/// What the shards share.
pub(crate) struct DriverShared {
    pub(crate) transport: Network,
    pub(crate) profiles: Vec<ProfileService>,
    pub(crate) responder: Arc<Responder>,
    pub(crate) stats: Arc<DriverStats>,
    pub(crate) calls: Arc<CallTable>,
}

/// The running driver.
#[derive(Debug)]
pub struct SipDriver {
    stats: Arc<DriverStats>,
    shards: Vec<JoinHandle<()>>,
    drain: CancellationToken,
}

impl SipDriver {
    /// Spawns the shards and starts the transport's receive tasks with the driver's receive
    /// path. `listeners` maps each bound listener to its profile; `calls` routes the messages
    /// of calls in progress to their actors.
    pub fn start(
        transport: &Network,
        profiles: Vec<ProfileService>,
        listeners: &[ListenerBinding],
        settings: DriverSettings,
        calls: Arc<CallTable>,
    ) -> Self {
        let stats = Arc::new(DriverStats::default());
        let responder = Arc::new(Responder::new());
        let listener_profiles: HashMap<_, _> = listeners
            .iter()
            .map(|l| {
                let retry_after_secs = profiles.get(l.profile).map_or(5, |p| p.retry_after_secs);
                let lp = ListenerProfile {
                    profile: l.profile,
                    retry_after_secs,
                };
                ((l.transport, l.local), lp)
            })
            .collect();
        let admissions = profiles.iter().map(|p| p.admission.clone()).collect();
        let shared = Arc::new(DriverShared {
            transport: transport.clone(),
            profiles,
            responder: Arc::clone(&responder),
            stats: Arc::clone(&stats),
            calls: Arc::clone(&calls),
        });
        let drain = CancellationToken::new();
        let shard_count = settings.shards.max(1);
        let mut queues = Vec::with_capacity(shard_count);
        let mut handles = Vec::with_capacity(shard_count);
        for id in 0..shard_count {
            let (tx, rx) = mpsc::channel(settings.shard_queue.max(1));
            queues.push(tx);
            let shard = Shard::new(id, rx, settings.tasks_per_shard, Arc::clone(&shared));
            handles.push(tokio::spawn(shard.run(drain.clone())));
        }
        let ingress = Ingress::new(
            queues,
            listener_profiles,
            transport.clone(),
            responder,
            Arc::clone(&stats),
            calls,
        )
        .with_admissions(admissions);
        transport.start(Arc::new(ingress));
        SipDriver {
            stats,
            shards: handles,
            drain,
        }
    }

    /// The driver's counters.
    pub fn stats(&self) -> &Arc<DriverStats> {
        &self.stats
    }

    /// Lets the shards finish the requests in flight (stop the transport's receiving first),
    /// for at most `grace`; then stops them. True when everything finished in time.
    pub async fn drain(self, grace: Duration) -> bool {
        self.drain.cancel();
        let mut shards = self.shards;
        let finished = tokio::time::timeout(grace, async {
            for handle in &mut shards {
                let _ = handle.await;
            }
        })
        .await
        .is_ok();
        if !finished {
            for handle in &shards {
                handle.abort();
            }
        }
        finished
    }
}
