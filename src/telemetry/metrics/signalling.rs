//! SIP message counters: plain atomics indexed by direction, method and status code, so the
//! signalling path pays one relaxed add per message and never a lock. Encoded at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

use super::labels::{
    Retransmission, SIP_METHOD_OTHER, STATUS_COUNT, STATUS_MIN, SipDirection, StartLine,
    TIMEOUT_TIMERS, sip_method_label,
};

/// Methods counted per direction: the known ones and `other`.
const METHODS: usize = SIP_METHOD_OTHER + 1;

/// Every SIP counter of the switch.
#[derive(Debug)]
pub(super) struct SipCounters {
    requests: [[AtomicU64; METHODS]; 2],
    responses: [[AtomicU64; STATUS_COUNT]; 2],
    retransmissions: [AtomicU64; Retransmission::ALL.len()],
    timeouts: [AtomicU64; TIMEOUT_TIMERS.len()],
}

impl SipCounters {
    pub(super) fn new() -> Self {
        Self {
            requests: [const { [const { AtomicU64::new(0) }; METHODS] }; 2],
            responses: [const { [const { AtomicU64::new(0) }; STATUS_COUNT] }; 2],
            retransmissions: [const { AtomicU64::new(0) }; Retransmission::ALL.len()],
            timeouts: [const { AtomicU64::new(0) }; TIMEOUT_TIMERS.len()],
        }
    }

    pub(super) fn request(&self, direction: SipDirection, method: usize) {
        if let Some(counter) = self.requests[direction as usize].get(method) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn response(&self, direction: SipDirection, status: usize) {
        if let Some(counter) = self.responses[direction as usize].get(status) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn message(&self, direction: SipDirection, start: StartLine) {
        match start {
            StartLine::Request(method) => self.request(direction, method),
            StartLine::Response(status) => self.response(direction, status),
        }
    }

    pub(super) fn retransmission(&self, kind: Retransmission) {
        self.retransmissions[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn timeout(&self, timer: usize) {
        if let Some(counter) = self.timeouts.get(timer) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Collector for SipCounters {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "sip_requests",
            "SIP requests received and sent, by method",
            None,
            MetricType::Counter,
        )?;
        for direction in SipDirection::ALL {
            for (method, count) in self.requests[direction as usize].iter().enumerate() {
                let labels = [
                    ("direction", direction.as_str()),
                    ("method", sip_method_label(method)),
                ];
                ConstCounter::new(count.load(Ordering::Relaxed))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "sip_responses",
            "SIP responses received and sent, by status code",
            None,
            MetricType::Counter,
        )?;
        for direction in SipDirection::ALL {
            for (index, count) in self.responses[direction as usize].iter().enumerate() {
                let value = count.load(Ordering::Relaxed);
                if value == 0 {
                    continue;
                }
                let code = (usize::from(STATUS_MIN) + index).to_string();
                let labels = [("direction", direction.as_str()), ("code", code.as_str())];
                ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "sip_retransmissions",
            "SIP retransmissions sent and absorbed, by kind",
            None,
            MetricType::Counter,
        )?;
        for kind in Retransmission::ALL {
            let labels = [("kind", kind.as_str())];
            ConstCounter::new(self.retransmissions[kind as usize].load(Ordering::Relaxed))
                .encode(family.encode_family(&labels)?)?;
        }
        let mut family = encoder.encode_descriptor(
            "sip_transaction_timeouts",
            "SIP transactions that gave up, by RFC 3261 timer",
            None,
            MetricType::Counter,
        )?;
        for (timer, count) in TIMEOUT_TIMERS.iter().zip(&self.timeouts) {
            let labels = [("timer", *timer)];
            ConstCounter::new(count.load(Ordering::Relaxed))
                .encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
