#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

/// The value of the sample `series` (name and labels exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

#[test]
fn the_exposition_names_every_family() {
    let m = Metrics::new();
    m.api_request("/api/v1/health", "GET", 200);
    m.webhook_delivery("crm", "delivered");
    m.relay_pool(
        "default",
        Box::new(|| PoolUsage {
            in_use: 4,
            total: 100,
        }),
    );
    let text = m.encode(Format::Prometheus);
    for family in FAMILIES {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} missing from:\n{text}"
        );
    }
    assert_eq!(
        sample(&text, "switchyard_relay_ports_in_use{profile=\"default\"}"),
        Some(4.0)
    );
}

#[test]
fn recording_calls_move_their_series() {
    let m = Metrics::new();
    m.call_started("outbound");
    m.call_post_dial_delay("outbound", 0.3);
    m.call_ended("outbound", true, "normal_clearing");
    m.call_ended("inbound", false, "user_busy");
    m.rtp_packets(250, 3);
    m.set_calls_active("inbound", 2);
    m.registration_request(401);
    m.set_registrations(7);
    m.event_subscriber_cut();
    m.event_published(EventType::CallAnswered);
    m.sip_transaction_timeout(Timer::B);
    m.sip_retransmission(Retransmission::RequestReceived);
    let text = m.encode(Format::Prometheus);
    for (series, value) in [
        ("switchyard_call_setups_total{direction=\"outbound\"}", 1.0),
        (
            "switchyard_calls_total{direction=\"outbound\",outcome=\"answered\"}",
            1.0,
        ),
        (
            "switchyard_calls_total{direction=\"inbound\",outcome=\"busy\"}",
            1.0,
        ),
        (
            "switchyard_calls_total{direction=\"inbound\",outcome=\"answered\"}",
            0.0,
        ),
        (
            "switchyard_call_post_dial_delay_seconds_bucket{le=\"0.5\",direction=\"outbound\"}",
            1.0,
        ),
        ("switchyard_calls_active{direction=\"inbound\"}", 2.0),
        ("switchyard_rtp_packets_relayed_total", 250.0),
        ("switchyard_rtp_packets_lost_total", 3.0),
        (
            "switchyard_registration_requests_total{result=\"challenged\"}",
            1.0,
        ),
        ("switchyard_registrations", 7.0),
        ("switchyard_event_subscribers_cut_total", 1.0),
        (
            "switchyard_events_published_total{type=\"call.answered\"}",
            1.0,
        ),
        (
            "switchyard_sip_transaction_timeouts_total{timer=\"B\"}",
            1.0,
        ),
        (
            "switchyard_sip_retransmissions_total{kind=\"request_received\"}",
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in:\n{text}");
    }
}

#[test]
fn sip_messages_are_counted_by_method_and_status_with_unknown_methods_as_other() {
    let m = Metrics::new();
    m.sip_request_received("INVITE");
    m.sip_request_received("FROBNICATE");
    m.sip_response_received(180);
    m.sip_response_received(42);
    m.sip_sent(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n");
    m.sip_sent(b"BYE sip:a@b SIP/2.0\r\n\r\n");
    let text = m.encode(Format::Prometheus);
    for (series, value) in [
        (
            "switchyard_sip_requests_total{direction=\"received\",method=\"INVITE\"}",
            1.0,
        ),
        (
            "switchyard_sip_requests_total{direction=\"received\",method=\"other\"}",
            1.0,
        ),
        (
            "switchyard_sip_requests_total{direction=\"sent\",method=\"BYE\"}",
            1.0,
        ),
        (
            "switchyard_sip_responses_total{direction=\"received\",code=\"180\"}",
            1.0,
        ),
        (
            "switchyard_sip_responses_total{direction=\"sent\",code=\"200\"}",
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in:\n{text}");
    }
    assert!(!text.contains("method=\"FROBNICATE\""));
    assert!(!text.contains("code=\"42\""));
}

#[test]
fn label_values_stay_within_their_fixed_sets() {
    let m = Metrics::new();
    m.call_ended("sideways", false, "no_such_cause");
    m.api_request("/api/v1/calls/{id}", "BREW", 418);
    m.webhook_delivery("crm", "exploded");
    let text = m.encode(Format::Prometheus);
    assert_eq!(
        sample(
            &text,
            "switchyard_calls_total{direction=\"other\",outcome=\"failed\"}"
        ),
        Some(1.0)
    );
    assert!(text.contains("route=\"/api/v1/calls/{id}\",method=\"other\",status=\"418\""));
    assert!(text.contains("target=\"crm\",outcome=\"other\""));
}

#[test]
fn the_prometheus_text_names_counters_with_their_total_suffix() {
    let text = Metrics::new().encode(Format::Prometheus);
    assert!(text.contains("# TYPE switchyard_calls_total counter"));
    assert!(text.contains("# HELP switchyard_calls_total "));
    assert!(!text.contains("# EOF"));
    assert!(!text.contains("# UNIT"));
    let openmetrics = Metrics::new().encode(Format::OpenMetrics);
    assert!(openmetrics.contains("# TYPE switchyard_calls counter"));
    assert!(openmetrics.ends_with("# EOF\n"));
}

#[test]
fn the_process_wide_registry_is_one_instance() {
    assert!(std::ptr::eq(metrics(), metrics()));
}

#[test]
fn media_app_calls_move_their_series_and_unknown_labels_become_other() {
    let m = Metrics::new();
    m.recording_started();
    m.recording_started();
    m.recording_finished(true);
    m.recording_dropped(5);
    m.playback_started();
    m.dtmf_digit("rfc4733");
    m.dtmf_digit("info");
    m.dtmf_digit("smoke");
    m.notification_completed("confirmed");
    m.notification_completed("bogus");
    let text = m.encode(Format::Prometheus);
    for (series, value) in [
        ("switchyard_recordings_active", 1.0),
        ("switchyard_recordings_total{result=\"complete\"}", 1.0),
        ("switchyard_recordings_total{result=\"failed\"}", 0.0),
        ("switchyard_recording_dropped_packets_total", 5.0),
        ("switchyard_playbacks_active", 1.0),
        ("switchyard_dtmf_digits_total{mode=\"rfc4733\"}", 1.0),
        ("switchyard_dtmf_digits_total{mode=\"info\"}", 1.0),
        ("switchyard_dtmf_digits_total{mode=\"inband\"}", 0.0),
        ("switchyard_dtmf_digits_total{mode=\"other\"}", 1.0),
        ("switchyard_notifications_total{outcome=\"confirmed\"}", 1.0),
        ("switchyard_notifications_total{outcome=\"busy\"}", 0.0),
        ("switchyard_notifications_total{outcome=\"other\"}", 1.0),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in:\n{text}");
    }
}
