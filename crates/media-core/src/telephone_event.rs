//! RFC 4733 telephone-event payloads (DTMF digits and flash) and the sender's packet series.
//!
//! Pure: no I/O, no clock. Durations are in RTP timestamp units.

/// Errors from parsing, building and writing telephone-event payloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TelephoneEventError {
    /// The payload holds no event at all.
    #[error("empty telephone-event payload")]
    Empty,
    /// The payload length is not a whole number of 4-byte events.
    #[error("telephone-event payload length {0} is not a multiple of 4")]
    Truncated(usize),
    /// The volume does not fit in 6 bits (0..=63).
    #[error("volume {0} is out of range 0..=63")]
    VolumeOutOfRange(u8),
    /// The output buffer is too small for the events.
    #[error("buffer of {available} bytes cannot hold {needed} bytes")]
    BufferTooSmall {
        /// Bytes the events need.
        needed: usize,
        /// Bytes the buffer offers.
        available: usize,
    },
    /// The character is not a DTMF digit (0-9, *, #, A-D).
    #[error("{0:?} is not a DTMF digit")]
    NotADigit(char),
    /// The event code is not a DTMF digit (RFC 4733 §3.2: codes 0-15).
    #[error("event code {0} is not a DTMF digit")]
    NotADigitEvent(u8),
}

/// Size of one event in the payload (RFC 4733 §2.3).
pub const EVENT_LEN: usize = 4;

/// Event code for a hook flash (RFC 4733 §3.2).
pub const FLASH_EVENT: u8 = 16;

/// Largest volume value: -63 dBm0 (RFC 4733 §2.3.4).
pub const MAX_VOLUME: u8 = 63;

/// A DTMF digit with its RFC 4733 §3.2 event code as discriminant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DtmfDigit {
    /// Digit 0.
    D0 = 0,
    /// Digit 1.
    D1 = 1,
    /// Digit 2.
    D2 = 2,
    /// Digit 3.
    D3 = 3,
    /// Digit 4.
    D4 = 4,
    /// Digit 5.
    D5 = 5,
    /// Digit 6.
    D6 = 6,
    /// Digit 7.
    D7 = 7,
    /// Digit 8.
    D8 = 8,
    /// Digit 9.
    D9 = 9,
    /// `*`.
    Star = 10,
    /// `#`.
    Pound = 11,
    /// `A`.
    A = 12,
    /// `B`.
    B = 13,
    /// `C`.
    C = 14,
    /// `D`.
    D = 15,
}

const DIGITS: [DtmfDigit; 16] = [
    DtmfDigit::D0,
    DtmfDigit::D1,
    DtmfDigit::D2,
    DtmfDigit::D3,
    DtmfDigit::D4,
    DtmfDigit::D5,
    DtmfDigit::D6,
    DtmfDigit::D7,
    DtmfDigit::D8,
    DtmfDigit::D9,
    DtmfDigit::Star,
    DtmfDigit::Pound,
    DtmfDigit::A,
    DtmfDigit::B,
    DtmfDigit::C,
    DtmfDigit::D,
];

const DIGIT_CHARS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

impl DtmfDigit {
    /// The RFC 4733 §3.2 event code.
    pub fn event_code(self) -> u8 {
        self as u8
    }

    /// The digit for an event code 0-15.
    pub fn from_event_code(code: u8) -> Result<Self, TelephoneEventError> {
        DIGITS
            .get(usize::from(code))
            .copied()
            .ok_or(TelephoneEventError::NotADigitEvent(code))
    }

    /// The digit as written on a keypad (`0`-`9`, `*`, `#`, `A`-`D`).
    pub fn as_char(self) -> char {
        DIGIT_CHARS[usize::from(self as u8)]
    }

    /// The digit for a keypad character; `a`-`d` are accepted as `A`-`D`.
    pub fn from_char(c: char) -> Result<Self, TelephoneEventError> {
        let upper = c.to_ascii_uppercase();
        DIGIT_CHARS
            .iter()
            .position(|&d| d == upper)
            .map(|i| DIGITS[i])
            .ok_or(TelephoneEventError::NotADigit(c))
    }
}

impl TryFrom<char> for DtmfDigit {
    type Error = TelephoneEventError;
    fn try_from(c: char) -> Result<Self, Self::Error> {
        Self::from_char(c)
    }
}

impl From<DtmfDigit> for char {
    fn from(d: DtmfDigit) -> char {
        d.as_char()
    }
}

impl std::fmt::Display for DtmfDigit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// One RFC 4733 §2.3 event report: event code, end and reserved bits, volume, duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    event: u8,
    end: bool,
    reserved: bool,
    volume: u8,
    duration: u16,
}

impl TelephoneEvent {
    /// An event report with the E and R bits clear; `volume` must be 0..=63.
    pub fn new(event: u8, volume: u8, duration: u16) -> Result<Self, TelephoneEventError> {
        if volume > MAX_VOLUME {
            return Err(TelephoneEventError::VolumeOutOfRange(volume));
        }
        Ok(Self {
            event,
            end: false,
            reserved: false,
            volume,
            duration,
        })
    }

    /// The same report with the E (end of event) bit set as given.
    pub fn with_end(mut self, end: bool) -> Self {
        self.end = end;
        self
    }

    /// The event code (RFC 4733 §3.2: 0-15 DTMF, 16 flash; other codes are other events).
    pub fn event(&self) -> u8 {
        self.event
    }

    /// The DTMF digit, when the event is one.
    pub fn digit(&self) -> Option<DtmfDigit> {
        DtmfDigit::from_event_code(self.event).ok()
    }

    /// Whether the event is a hook flash.
    pub fn is_flash(&self) -> bool {
        self.event == FLASH_EVENT
    }

    /// The E bit: this report ends the event (RFC 4733 §2.3.2).
    pub fn is_end(&self) -> bool {
        self.end
    }

    /// The R bit as received; senders set it to zero and receivers ignore it (RFC 4733 §2.3.3).
    pub fn reserved(&self) -> bool {
        self.reserved
    }

    /// Volume as a positive number of -dBm0 (RFC 4733 §2.3.4).
    pub fn volume(&self) -> u8 {
        self.volume
    }

    /// Duration so far in timestamp units (RFC 4733 §2.3.5).
    pub fn duration(&self) -> u16 {
        self.duration
    }

    /// Parses one 4-byte event report.
    pub fn parse_one(bytes: [u8; EVENT_LEN]) -> Self {
        Self {
            event: bytes[0],
            end: bytes[1] & 0x80 != 0,
            reserved: bytes[1] & 0x40 != 0,
            volume: bytes[1] & 0x3F,
            duration: u16::from_be_bytes([bytes[2], bytes[3]]),
        }
    }

    /// Parses a payload of one or more event reports (several when sent redundantly).
    pub fn parse(payload: &[u8]) -> Result<Vec<Self>, TelephoneEventError> {
        if payload.is_empty() {
            return Err(TelephoneEventError::Empty);
        }
        if !payload.len().is_multiple_of(EVENT_LEN) {
            return Err(TelephoneEventError::Truncated(payload.len()));
        }
        Ok(payload
            .chunks_exact(EVENT_LEN)
            .map(|c| Self::parse_one([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    /// The 4-byte wire form of this report.
    pub fn to_bytes(&self) -> [u8; EVENT_LEN] {
        let flags =
            (u8::from(self.end) << 7) | (u8::from(self.reserved) << 6) | (self.volume & 0x3F);
        let d = self.duration.to_be_bytes();
        [self.event, flags, d[0], d[1]]
    }

    /// Writes `events` into `buf` and returns the number of bytes written.
    pub fn write_all(events: &[Self], buf: &mut [u8]) -> Result<usize, TelephoneEventError> {
        let needed = events.len() * EVENT_LEN;
        if buf.len() < needed {
            return Err(TelephoneEventError::BufferTooSmall {
                needed,
                available: buf.len(),
            });
        }
        for (chunk, e) in buf.chunks_exact_mut(EVENT_LEN).zip(events) {
            chunk.copy_from_slice(&e.to_bytes());
        }
        Ok(needed)
    }
}

/// One packet the sender should emit: RTP marker, RTP timestamp and the payload's event report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// RTP marker bit: set on the first packet of the event (RFC 4733 §2.5.1.1).
    pub marker: bool,
    /// RTP timestamp: the event's start for every packet of it (RFC 4733 §2.5.1.2).
    pub timestamp: u32,
    /// The event report carried in the payload.
    pub event: TelephoneEvent,
}

/// How many times the final report is sent (RFC 4733 §2.5.1.4).
const END_REPEATS: u8 = 3;

/// Sender side of one DTMF event: turns "duration so far" updates into RFC 4733 §2.5.1 packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DtmfSender {
    digit: DtmfDigit,
    volume: u8,
    start_timestamp: u32,
    started: bool,
    ends_sent: u8,
    final_duration: u16,
}

impl DtmfSender {
    /// A sender for `digit` starting at RTP timestamp `start_timestamp`; `volume` must be 0..=63.
    pub fn new(
        digit: DtmfDigit,
        volume: u8,
        start_timestamp: u32,
    ) -> Result<Self, TelephoneEventError> {
        if volume > MAX_VOLUME {
            return Err(TelephoneEventError::VolumeOutOfRange(volume));
        }
        Ok(Self {
            digit,
            volume,
            start_timestamp,
            started: false,
            ends_sent: 0,
            final_duration: 0,
        })
    }

    /// The next packet for an event lasting `duration` so far, `ended` once the key is released.
    ///
    /// Returns `None` once the end report has gone out three times. After the first end packet the
    /// duration is frozen, so all three end reports are identical (RFC 4733 §2.5.1.4).
    pub fn next_packet(&mut self, duration: u16, ended: bool) -> Option<DtmfPacket> {
        if self.ends_sent >= END_REPEATS {
            return None;
        }
        let end = ended || self.ends_sent > 0;
        let duration = if self.ends_sent > 0 {
            self.final_duration
        } else {
            duration
        };
        if end {
            self.final_duration = duration;
            self.ends_sent += 1;
        }
        // RFC 4733 §2.5.1.1: the marker bit goes on the first packet of the event only.
        let marker = !self.started;
        self.started = true;
        let event = TelephoneEvent {
            event: self.digit.event_code(),
            end,
            reserved: false,
            volume: self.volume,
            duration,
        };
        Some(DtmfPacket {
            marker,
            timestamp: self.start_timestamp,
            event,
        })
    }

    /// Whether all end reports have been produced.
    pub fn is_finished(&self) -> bool {
        self.ends_sent >= END_REPEATS
    }
}

/// How many recent events the receiver remembers, so a late or retransmitted packet of an
/// event already reported is not taken for a new one.
const REMEMBERED_EVENTS: usize = 8;

/// Receiver side of RFC 4733 DTMF: reports each digit once, however many packets (updates,
/// the three end reports, retransmissions) carry the event. Events are told apart by their
/// RTP timestamp (the event's start, RFC 4733 §2.5.1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DtmfReceiver {
    last_timestamp: Option<u32>,
    /// Start timestamps of the events reported before the last one, newest first.
    earlier: [Option<u32>; REMEMBERED_EVENTS],
}

impl DtmfReceiver {
    /// A receiver that has seen no event.
    pub fn new() -> Self {
        Self::default()
    }

    /// One telephone-event RTP packet's timestamp and payload: the digit when this packet
    /// starts a new DTMF event, None for the rest of an event's packets, flash, or a bad
    /// payload.
    pub fn receive(&mut self, timestamp: u32, payload: &[u8]) -> Option<DtmfDigit> {
        // RFC 4733 §2.5.1.2: every packet of an event carries the event's start as its
        // timestamp, so whichever arrives first starts it (the marked one may be lost or late).
        // A payload with several reports is timed by its first one.
        let first = TelephoneEvent::parse(payload).ok()?.into_iter().next()?;
        let digit = first.digit()?;
        if self.last_timestamp == Some(timestamp) || self.earlier.contains(&Some(timestamp)) {
            return None;
        }
        if let Some(previous) = self.last_timestamp {
            self.earlier.rotate_right(1);
            self.earlier[0] = Some(previous);
        }
        self.last_timestamp = Some(timestamp);
        Some(digit)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_an_end_report_for_digit_five() {
        // Event 5, E=1, R=0, volume 10, duration 1600 (200 ms at 8 kHz).
        let events = TelephoneEvent::parse(&[5, 0x8A, 0x06, 0x40]).unwrap();
        assert_eq!(events.len(), 1);
        let e = events[0];
        assert_eq!(e.digit(), Some(DtmfDigit::D5));
        assert!(e.is_end());
        assert!(!e.reserved());
        assert_eq!(e.volume(), 10);
        assert_eq!(e.duration(), 1600);
    }

    #[test]
    fn parses_several_reports_in_one_payload() {
        let events = TelephoneEvent::parse(&[1, 0x0A, 0, 160, 16, 0xCA, 0, 80]).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].digit(), Some(DtmfDigit::D1));
        assert!(!events[0].is_end());
        assert!(events[1].is_flash());
        assert_eq!(events[1].digit(), None);
        assert!(events[1].reserved());
        assert!(events[1].is_end());
    }

    #[test]
    fn rejects_empty_and_partial_payloads() {
        assert_eq!(TelephoneEvent::parse(&[]), Err(TelephoneEventError::Empty));
        assert_eq!(
            TelephoneEvent::parse(&[1, 2, 3, 4, 5]),
            Err(TelephoneEventError::Truncated(5))
        );
    }

    #[test]
    fn writes_reports_and_reads_them_back() {
        let a = TelephoneEvent::new(11, 63, 400).unwrap();
        let b = TelephoneEvent::new(11, 63, 800).unwrap().with_end(true);
        let mut buf = [0u8; 8];
        assert_eq!(TelephoneEvent::write_all(&[a, b], &mut buf), Ok(8));
        assert_eq!(buf, [11, 0x3F, 0x01, 0x90, 11, 0xBF, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::parse(&buf).unwrap(), vec![a, b]);
        assert_eq!(
            TelephoneEvent::write_all(&[a, b], &mut [0u8; 7]),
            Err(TelephoneEventError::BufferTooSmall {
                needed: 8,
                available: 7
            })
        );
    }

    #[test]
    fn volume_above_63_is_refused() {
        assert_eq!(
            TelephoneEvent::new(1, 64, 0),
            Err(TelephoneEventError::VolumeOutOfRange(64))
        );
        assert!(DtmfSender::new(DtmfDigit::D1, 64, 0).is_err());
    }

    #[test]
    fn digits_convert_to_and_from_keypad_characters() {
        for (i, c) in "0123456789*#ABCD".chars().enumerate() {
            let d = DtmfDigit::from_char(c).unwrap();
            assert_eq!(usize::from(d.event_code()), i);
            assert_eq!(d.as_char(), c);
            assert_eq!(DtmfDigit::from_event_code(d.event_code()), Ok(d));
        }
        assert_eq!(DtmfDigit::try_from('b'), Ok(DtmfDigit::B));
        assert_eq!(char::from(DtmfDigit::Pound), '#');
        assert_eq!(DtmfDigit::Star.to_string(), "*");
        assert_eq!(
            DtmfDigit::from_char('E'),
            Err(TelephoneEventError::NotADigit('E'))
        );
        assert_eq!(
            DtmfDigit::from_event_code(16),
            Err(TelephoneEventError::NotADigitEvent(16))
        );
    }

    #[test]
    fn sender_marks_first_packet_keeps_timestamp_and_repeats_end_three_times() {
        let mut s = DtmfSender::new(DtmfDigit::D9, 10, 12_345).unwrap();
        let first = s.next_packet(0, false).unwrap();
        assert!(first.marker);
        assert!(!first.event.is_end());
        let mid = s.next_packet(400, false).unwrap();
        assert!(!mid.marker);
        assert_eq!(mid.event.duration(), 400);
        let ends: Vec<_> = (0..3).map(|_| s.next_packet(800, true).unwrap()).collect();
        for p in [first, mid].iter().chain(&ends) {
            assert_eq!(p.timestamp, 12_345);
            assert_eq!(p.event.digit(), Some(DtmfDigit::D9));
            assert_eq!(p.event.volume(), 10);
        }
        for p in &ends {
            assert!(!p.marker);
            assert!(p.event.is_end());
            assert_eq!(p.event.duration(), 800);
        }
        assert!(s.is_finished());
        assert_eq!(s.next_packet(960, true), None);
    }

    #[test]
    fn sender_freezes_duration_once_the_end_is_sent() {
        let mut s = DtmfSender::new(DtmfDigit::A, 0, 0).unwrap();
        let first = s.next_packet(160, true).unwrap();
        assert!(first.marker && first.event.is_end());
        let again = s.next_packet(320, false).unwrap();
        assert!(again.event.is_end());
        assert_eq!(again.event.duration(), 160);
    }

    fn sender_series(digit: DtmfDigit, start: u32) -> Vec<(u32, [u8; EVENT_LEN])> {
        let mut s = DtmfSender::new(digit, 10, start).unwrap();
        let mut packets = Vec::new();
        for step in 0..5u16 {
            packets.push(s.next_packet(step * 160, false).unwrap());
        }
        while let Some(p) = s.next_packet(800, true) {
            packets.push(p);
        }
        packets
            .into_iter()
            .map(|p| (p.timestamp, p.event.to_bytes()))
            .collect()
    }

    fn received(rx: &mut DtmfReceiver, packets: &[(u32, [u8; EVENT_LEN])]) -> Vec<DtmfDigit> {
        packets
            .iter()
            .filter_map(|(ts, payload)| rx.receive(*ts, payload))
            .collect()
    }

    #[test]
    fn receiver_reports_a_full_event_series_with_three_end_packets_once() {
        let packets = sender_series(DtmfDigit::D7, 8000);
        assert_eq!(packets.iter().filter(|(_, p)| p[1] & 0x80 != 0).count(), 3);
        let mut rx = DtmfReceiver::new();
        assert_eq!(received(&mut rx, &packets), vec![DtmfDigit::D7]);
    }

    #[test]
    fn receiver_reports_two_presses_of_the_same_digit_twice() {
        let mut packets = sender_series(DtmfDigit::D3, 1000);
        packets.extend(sender_series(DtmfDigit::D3, 3000));
        let mut rx = DtmfReceiver::new();
        assert_eq!(
            received(&mut rx, &packets),
            vec![DtmfDigit::D3, DtmfDigit::D3]
        );
    }

    #[test]
    fn receiver_reports_an_event_whose_first_packets_are_lost() {
        let packets = sender_series(DtmfDigit::Pound, 50);
        let mut rx = DtmfReceiver::new();
        assert_eq!(received(&mut rx, &packets[5..]), vec![DtmfDigit::Pound]);
    }

    #[test]
    fn receiver_ignores_reordered_and_duplicated_packets_of_reported_events() {
        let first = sender_series(DtmfDigit::D1, 1000);
        let second = sender_series(DtmfDigit::D2, 2600);
        // The second event starts before the first's end packets arrive, and a retransmitted
        // packet of the first turns up after the second is over.
        let mut packets = first[..3].to_vec();
        packets.extend_from_slice(&second[..2]);
        packets.extend_from_slice(&first[3..]);
        packets.extend_from_slice(&second[2..]);
        packets.push(first[0]);
        packets.push(second[6]);
        let mut rx = DtmfReceiver::new();
        assert_eq!(
            received(&mut rx, &packets),
            vec![DtmfDigit::D1, DtmfDigit::D2]
        );
    }

    #[test]
    fn receiver_ignores_flash_other_events_and_malformed_payloads() {
        let mut rx = DtmfReceiver::new();
        let flash = TelephoneEvent::new(FLASH_EVENT, 10, 800)
            .unwrap()
            .to_bytes();
        let tone = TelephoneEvent::new(70, 10, 800).unwrap().to_bytes();
        assert_eq!(rx.receive(100, &flash), None);
        assert_eq!(rx.receive(200, &tone), None);
        assert_eq!(rx.receive(300, &[]), None);
        assert_eq!(rx.receive(300, &[1, 2, 3]), None);
        // The flash did not use up its timestamp: a digit there is still new.
        let five = TelephoneEvent::new(5, 10, 160).unwrap().to_bytes();
        assert_eq!(rx.receive(100, &five), Some(DtmfDigit::D5));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = TelephoneEvent::parse(&bytes);
        }

        #[test]
        fn written_reports_parse_back_identically(
            event in any::<u8>(), end in any::<bool>(), volume in 0u8..=63, duration in any::<u16>()
        ) {
            let e = TelephoneEvent::new(event, volume, duration).unwrap().with_end(end);
            prop_assert_eq!(TelephoneEvent::parse(&e.to_bytes()).unwrap(), vec![e]);
        }
    }
}
