//! The process-wide Prometheus registry ([`metrics()`]) and the typed recording calls the rest
//! of the switch makes. Served at `GET /metrics` by `api::metrics`.
//!
//! Every recording call is a relaxed atomic add, or a read lock on a label family whose label
//! set already exists: nothing here blocks, awaits or allocates on a hot path. Label values are
//! mapped onto fixed sets (`labels`), so cardinality stays bounded whatever the input.

mod exposition;
mod labels;
mod media_apps;
mod signalling;
mod sources;

use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use sip_core::transaction::Timer;

use super::events::EventType;
use signalling::SipCounters;
use sources::{RelayPoolCollector, RelayPools};

/// Every metric family the switch exports (the names in `# TYPE` lines of the Prometheus
/// text format); docs/api/metrics.md and the Grafana dashboard cover each.
pub const FAMILIES: [&str; 27] = [
    "switchyard_build_info",
    "switchyard_process_start_time_seconds",
    "switchyard_calls_active",
    "switchyard_calls_total",
    "switchyard_call_setups_total",
    "switchyard_call_post_dial_delay_seconds",
    "switchyard_registrations",
    "switchyard_registration_requests_total",
    "switchyard_sip_requests_total",
    "switchyard_sip_responses_total",
    "switchyard_sip_retransmissions_total",
    "switchyard_sip_transaction_timeouts_total",
    "switchyard_rtp_packets_relayed_total",
    "switchyard_rtp_packets_lost_total",
    "switchyard_relay_ports_in_use",
    "switchyard_relay_ports",
    "switchyard_api_requests_total",
    "switchyard_webhook_deliveries_total",
    "switchyard_event_subscribers",
    "switchyard_event_subscribers_cut_total",
    "switchyard_events_published_total",
    "switchyard_recordings_active",
    "switchyard_recordings_total",
    "switchyard_recording_dropped_packets_total",
    "switchyard_playbacks_active",
    "switchyard_dtmf_digits_total",
    "switchyard_notifications_total",
];

pub use exposition::{Format, OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE};
pub use labels::{
    CALL_DIRECTIONS, CallOutcome, REGISTRATION_RESULTS, Retransmission, SIP_METHODS, TIMEOUT_TIMERS,
};
pub use media_apps::{DTMF_MODES, NOTIFICATION_OUTCOMES, RECORDING_RESULTS};
pub use sources::{PoolReader, PoolUsage};

use labels::SipDirection;
use media_apps::MediaAppMetrics;

/// Post-dial delay buckets in seconds: from a phone answering a local call at once to a
/// carrier taking half a minute.
const POST_DIAL_DELAY_BUCKETS: [f64; 11] =
    [0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabels {
    direction: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    direction: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    target: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabels {
    r#type: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Every metric family of the switch. Get it with [`metrics()`].
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    calls_active: Family<DirectionLabels, Gauge>,
    calls: Family<CallLabels, Counter>,
    call_setups: Family<DirectionLabels, Counter>,
    post_dial_delay: Family<DirectionLabels, Histogram>,
    registrations: Gauge,
    registration_requests: Family<ResultLabels, Counter>,
    sip: Arc<SipCounters>,
    rtp_relayed: Counter,
    rtp_lost: Counter,
    relay_pools: Arc<RelayPools>,
    api_requests: Family<ApiLabels, Counter>,
    webhook_deliveries: Family<WebhookLabels, Counter>,
    event_subscribers: Gauge,
    event_subscribers_cut: Counter,
    events_published: Family<EventLabels, Counter>,
    media_apps: MediaAppMetrics,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("switchyard");

        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "build_info",
            "Always 1; the version label names the running build",
            build_info,
        );
        let start_time = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        start_time.set(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
        registry.register_with_unit(
            "process_start_time",
            "When the switch process started, in seconds since the Unix epoch",
            Unit::Seconds,
            start_time,
        );

        let calls_active = Family::<DirectionLabels, Gauge>::default();
        let calls = Family::<CallLabels, Counter>::default();
        let call_setups = Family::<DirectionLabels, Counter>::default();
        for direction in CALL_DIRECTIONS {
            calls_active.get_or_create_owned(&DirectionLabels { direction });
            call_setups.get_or_create_owned(&DirectionLabels { direction });
            for outcome in CallOutcome::ALL {
                calls.get_or_create_owned(&CallLabels {
                    direction,
                    outcome: outcome.as_str(),
                });
            }
        }
        registry.register(
            "calls_active",
            "Calls in progress, by direction",
            calls_active.clone(),
        );
        registry.register(
            "calls",
            "Calls ended, by direction and outcome",
            calls.clone(),
        );
        registry.register(
            "call_setups",
            "Calls started (INVITEs accepted for routing, originates), by direction",
            call_setups.clone(),
        );
        let post_dial_delay =
            Family::<DirectionLabels, Histogram>::new_with_constructor(post_dial_delay_histogram);
        for direction in CALL_DIRECTIONS {
            post_dial_delay.get_or_create_owned(&DirectionLabels { direction });
        }
        registry.register_with_unit(
            "call_post_dial_delay",
            "Time from a call's start to its first ringing or answer, by direction",
            Unit::Seconds,
            post_dial_delay.clone(),
        );

        let registrations = Gauge::default();
        registry.register(
            "registrations",
            "Registered contact bindings",
            registrations.clone(),
        );
        let registration_requests = Family::<ResultLabels, Counter>::default();
        for result in REGISTRATION_RESULTS {
            registration_requests.get_or_create_owned(&ResultLabels { result });
        }
        registry.register(
            "registration_requests",
            "REGISTER requests answered by the registrar, by result",
            registration_requests.clone(),
        );

        let sip = Arc::new(SipCounters::new());
        registry.register_collector(Box::new(Arc::clone(&sip)));

        let rtp_relayed = Counter::default();
        registry.register(
            "rtp_packets_relayed",
            "RTP packets the media relay sent on, counted when each call ends",
            rtp_relayed.clone(),
        );
        let rtp_lost = Counter::default();
        registry.register(
            "rtp_packets_lost",
            "RTP packets lost on the way to the relay (RFC 3550 A.3), counted when each call ends",
            rtp_lost.clone(),
        );
        let relay_pools = Arc::new(RelayPools::default());
        registry.register_collector(Box::new(RelayPoolCollector(Arc::clone(&relay_pools))));

        let api_requests = Family::<ApiLabels, Counter>::default();
        registry.register(
            "api_requests",
            "Control API requests, by route template, method and status",
            api_requests.clone(),
        );
        let webhook_deliveries = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts, by target and outcome",
            webhook_deliveries.clone(),
        );
        let event_subscribers = Gauge::default();
        registry.register(
            "event_subscribers",
            "Live event WebSocket subscribers",
            event_subscribers.clone(),
        );
        let event_subscribers_cut = Counter::default();
        registry.register(
            "event_subscribers_cut",
            "Event subscribers cut off for falling behind",
            event_subscribers_cut.clone(),
        );
        let events_published = Family::<EventLabels, Counter>::default();
        for kind in EventType::ALL {
            events_published.get_or_create_owned(&EventLabels {
                r#type: kind.as_str(),
            });
        }
        registry.register(
            "events_published",
            "Events published on the live event bus, by type",
            events_published.clone(),
        );
        let media_apps = MediaAppMetrics::register(&mut registry);

        Self {
            registry,
            calls_active,
            calls,
            call_setups,
            post_dial_delay,
            registrations,
            registration_requests,
            sip,
            rtp_relayed,
            rtp_lost,
            relay_pools,
            api_requests,
            webhook_deliveries,
            event_subscribers,
            event_subscribers_cut,
            events_published,
            media_apps,
        }
    }

    // --- calls ---

    /// A call started (`direction`: `inbound`, `outbound` or `originate`).
    pub fn call_started(&self, direction: &str) {
        let direction = labels::call_direction(direction);
        self.call_setups
            .get_or_create(&DirectionLabels { direction })
            .inc();
    }

    /// A call first rang or was answered `seconds` after it started.
    pub fn call_post_dial_delay(&self, direction: &str, seconds: f64) {
        let direction = labels::call_direction(direction);
        self.post_dial_delay
            .get_or_create(&DirectionLabels { direction })
            .observe(seconds);
    }

    /// A call ended, answered or else with the hangup cause code `cause`.
    pub fn call_ended(&self, direction: &str, answered: bool, cause: &str) {
        let direction = labels::call_direction(direction);
        let outcome = CallOutcome::classify(answered, cause).as_str();
        self.calls
            .get_or_create(&CallLabels { direction, outcome })
            .inc();
    }

    /// Calls in progress in `direction` right now (set at scrape time from the call registry).
    pub fn set_calls_active(&self, direction: &str, calls: usize) {
        let direction = labels::call_direction(direction);
        self.calls_active
            .get_or_create(&DirectionLabels { direction })
            .set(i64::try_from(calls).unwrap_or(i64::MAX));
    }

    /// The media totals of an ended call: packets relayed and packets lost.
    pub fn rtp_packets(&self, relayed: u64, lost: u64) {
        self.rtp_relayed.inc_by(relayed);
        self.rtp_lost.inc_by(lost);
    }

    /// Reports `profile`'s relay port pool on every scrape through `reader`.
    pub fn relay_pool(&self, profile: &str, reader: PoolReader) {
        self.relay_pools.insert(profile, reader);
    }

    /// Stops reporting `profile`'s relay port pool.
    pub fn remove_relay_pool(&self, profile: &str) {
        self.relay_pools.remove(profile);
    }

    // --- registrations ---

    /// Registered bindings right now (set at scrape time from the location store).
    pub fn set_registrations(&self, bindings: usize) {
        self.registrations
            .set(i64::try_from(bindings).unwrap_or(i64::MAX));
    }

    /// The registrar answered a REGISTER with `status`.
    pub fn registration_request(&self, status: u16) {
        let result = labels::registration_result(status);
        self.registration_requests
            .get_or_create(&ResultLabels { result })
            .inc();
    }

    // --- SIP ---

    /// A SIP request with `method` arrived (and parsed).
    pub fn sip_request_received(&self, method: &str) {
        self.sip.request(
            SipDirection::Received,
            labels::sip_method_index(method.as_bytes()),
        );
    }

    /// A SIP response with `status` arrived (and parsed).
    pub fn sip_response_received(&self, status: u16) {
        if let Some(index) = labels::status_index(status) {
            self.sip.response(SipDirection::Received, index);
        }
    }

    /// The switch handed the encoded SIP message `bytes` to the transport; its start line says
    /// whether it is a request (by method) or a response (by status).
    pub fn sip_sent(&self, bytes: &[u8]) {
        if let Some(start) = labels::start_line(bytes) {
            self.sip.message(SipDirection::Sent, start);
        }
    }

    /// A SIP retransmission of `kind` was sent or absorbed.
    pub fn sip_retransmission(&self, kind: Retransmission) {
        self.sip.retransmission(kind);
    }

    /// A SIP transaction gave up when `timer` fired (RFC 3261 Timer B, F or H).
    pub fn sip_transaction_timeout(&self, timer: Timer) {
        self.sip.timeout(labels::timeout_index(timer));
    }

    // --- control API, events, webhooks ---

    /// The API answered `status` to `method` on the matched route template `route`
    /// (`/api/v1/calls/{id}`, or `unmatched`).
    pub fn api_request(&self, route: &str, method: &str, status: u16) {
        self.api_requests
            .get_or_create(&ApiLabels {
                route: route.to_owned(),
                method: labels::http_method(method),
                status,
            })
            .inc();
    }

    /// One webhook delivery attempt to the configured target `target` (its config name) ended
    /// with `outcome`: `delivered`, `failed` (will be retried) or `dead_lettered`.
    pub fn webhook_delivery(&self, target: &str, outcome: &str) {
        self.webhook_deliveries
            .get_or_create(&WebhookLabels {
                target: target.to_owned(),
                outcome: labels::webhook_outcome(outcome),
            })
            .inc();
    }

    /// Live event subscribers right now (set at scrape time from the event bus).
    pub fn set_event_subscribers(&self, subscribers: usize) {
        self.event_subscribers
            .set(i64::try_from(subscribers).unwrap_or(i64::MAX));
    }

    /// An event subscriber fell behind and was cut off.
    pub fn event_subscriber_cut(&self) {
        self.event_subscribers_cut.inc();
    }

    /// An event of `kind` was published on the bus.
    pub fn event_published(&self, kind: EventType) {
        self.events_published
            .get_or_create(&EventLabels {
                r#type: kind.as_str(),
            })
            .inc();
    }

    // --- exposition ---

    /// The exposition of every family in `format`.
    pub fn encode(&self, format: Format) -> String {
        let mut openmetrics = String::new();
        // Writing into a String cannot fail, and every collector only formats numbers.
        if let Err(e) = prometheus_client::encoding::text::encode(&mut openmetrics, &self.registry)
        {
            tracing::error!(error = %e, "metrics exposition failed");
        }
        match format {
            Format::OpenMetrics => openmetrics,
            Format::Prometheus => exposition::to_prometheus_text(&openmetrics),
        }
    }

    /// The current value of `switchyard_rtp_packets_relayed_total` (tests, health).
    pub fn rtp_packets_relayed(&self) -> u64 {
        self.rtp_relayed.inner().load(Ordering::Relaxed)
    }
}

fn post_dial_delay_histogram() -> Histogram {
    Histogram::new(POST_DIAL_DELAY_BUCKETS)
}

#[cfg(test)]
mod tests;
