//! The families of the media applications: call recordings, prompt and music-on-hold
//! playbacks, DTMF digits received and voice notifications. Label values are fixed sets, so an
//! unknown mode or outcome is counted as `other`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::Metrics;

/// Results of a recording, as the `result` label of `switchyard_recordings_total`.
pub const RECORDING_RESULTS: [&str; 2] = ["complete", "failed"];

/// How a DTMF digit arrived, as the `mode` label of `switchyard_dtmf_digits_total`: RFC 4733
/// telephone-events, SIP INFO, or tones in the audio.
pub const DTMF_MODES: [&str; 3] = ["rfc4733", "info", "inband"];

/// How a voice notification ended, as the `outcome` label of
/// `switchyard_notifications_total`.
pub const NOTIFICATION_OUTCOMES: [&str; 6] = [
    "confirmed",
    "answered",
    "no_answer",
    "busy",
    "failed",
    "cancelled",
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RecordingLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModeLabels {
    mode: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    outcome: &'static str,
}

/// `value` if it is one of `set`, else `other`.
fn bounded(set: &[&'static str], value: &str) -> &'static str {
    set.iter()
        .find(|v| **v == value)
        .copied()
        .unwrap_or("other")
}

/// The media application families, held by [`Metrics`].
#[derive(Debug)]
pub(super) struct MediaAppMetrics {
    recordings_active: Gauge,
    recordings: Family<RecordingLabels, Counter>,
    recording_dropped: Counter,
    playbacks_active: Gauge,
    dtmf_digits: Family<ModeLabels, Counter>,
    notifications: Family<NotificationLabels, Counter>,
}

impl MediaAppMetrics {
    /// Creates the families, with every fixed label value at zero, and registers them.
    pub(super) fn register(registry: &mut Registry) -> Self {
        let recordings_active = Gauge::default();
        registry.register(
            "recordings_active",
            "Call recordings being written",
            recordings_active.clone(),
        );
        let recordings = Family::<RecordingLabels, Counter>::default();
        for result in RECORDING_RESULTS {
            recordings.get_or_create_owned(&RecordingLabels { result });
        }
        registry.register(
            "recordings",
            "Call recordings finished, by result",
            recordings.clone(),
        );
        let recording_dropped = Counter::default();
        registry.register(
            "recording_dropped_packets",
            "Audio packets a recording dropped because its writer fell behind",
            recording_dropped.clone(),
        );
        let playbacks_active = Gauge::default();
        registry.register(
            "playbacks_active",
            "Prompts and music on hold being played into calls",
            playbacks_active.clone(),
        );
        let dtmf_digits = Family::<ModeLabels, Counter>::default();
        for mode in DTMF_MODES {
            dtmf_digits.get_or_create_owned(&ModeLabels { mode });
        }
        registry.register(
            "dtmf_digits",
            "DTMF digits received, by how they arrived",
            dtmf_digits.clone(),
        );
        let notifications = Family::<NotificationLabels, Counter>::default();
        for outcome in NOTIFICATION_OUTCOMES {
            notifications.get_or_create_owned(&NotificationLabels { outcome });
        }
        registry.register(
            "notifications",
            "Voice notifications completed, by outcome",
            notifications.clone(),
        );
        Self {
            recordings_active,
            recordings,
            recording_dropped,
            playbacks_active,
            dtmf_digits,
            notifications,
        }
    }
}

impl Metrics {
    // --- media applications ---

    /// A call recording started writing.
    pub fn recording_started(&self) {
        self.media_apps.recordings_active.inc();
    }

    /// A call recording ended: `complete` (the file is whole) or failed.
    pub fn recording_finished(&self, complete: bool) {
        let m = &self.media_apps;
        m.recordings_active.dec();
        let result = if complete { "complete" } else { "failed" };
        m.recordings
            .get_or_create(&RecordingLabels { result })
            .inc();
    }

    /// A recording dropped `packets` audio packets because its writer fell behind.
    pub fn recording_dropped(&self, packets: u64) {
        self.media_apps.recording_dropped.inc_by(packets);
    }

    /// A prompt or music on hold started playing into a call.
    pub fn playback_started(&self) {
        self.media_apps.playbacks_active.inc();
    }

    /// A playback started with [`Metrics::playback_started`] ended.
    pub fn playback_finished(&self) {
        self.media_apps.playbacks_active.dec();
    }

    /// A DTMF digit arrived by `mode`: `rfc4733`, `info` or `inband`.
    pub fn dtmf_digit(&self, mode: &str) {
        let mode = bounded(&DTMF_MODES, mode);
        self.media_apps
            .dtmf_digits
            .get_or_create(&ModeLabels { mode })
            .inc();
    }

    /// A voice notification finished with `outcome`: `confirmed`, `answered`, `no_answer`,
    /// `busy`, `failed` or `cancelled`.
    pub fn notification_completed(&self, outcome: &str) {
        let outcome = bounded(&NOTIFICATION_OUTCOMES, outcome);
        self.media_apps
            .notifications
            .get_or_create(&NotificationLabels { outcome })
            .inc();
    }
}
