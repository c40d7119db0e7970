//! Writes the G.711 audio SIPp plays (`play_pcap_audio`): a libpcap file of RTP packets, each
//! 20 ms of a 1 kHz tone in u-law (160 bytes, payload type 0), framed as Ethernet + IPv4 + UDP.
//! SIPp keeps only the UDP header and payload and rewrites the ports and addresses, but it parses
//! the framing, so the framing is well formed (IPv4 header checksum included).
//!
//! Also in-band DTMF ([`write_dtmf_pcap`]): the two tones of each digit (ITU-T Q.23) in u-law,
//! between stretches of silence, for switches that detect DTMF in the audio.

use std::f64::consts::PI;
use std::fs;
use std::io;
use std::path::Path;

use media_core::g711;
use media_core::rtp::RtpBuilder;

/// The file name the call scenarios play (`<exec play_pcap_audio="call_audio.pcap"/>`),
/// relative to SIPp's working directory.
pub const CALL_AUDIO: &str = "call_audio.pcap";

/// SSRC of the generated stream, so a receiver can tell it from any other.
pub const TONE_SSRC: u32 = 0x5359_5244;

/// Samples per packet: 20 ms at 8 kHz.
pub const SAMPLES_PER_PACKET: usize = 160;

/// RTP payload type of PCMU (RFC 3551 §6).
pub const PCMU: u8 = 0;

/// libpcap `LINKTYPE_ETHERNET`.
const LINKTYPE_ETHERNET: u32 = 1;
const ETHERNET_LEN: usize = 14;
const IPV4_LEN: usize = 20;
const UDP_LEN: usize = 8;
/// Addresses and ports of the recorded packets; SIPp replaces them when it plays the file.
const SRC: [u8; 4] = [192, 0, 2, 1];
const DST: [u8; 4] = [192, 0, 2, 2];
const SRC_PORT: u16 = 40_000;
const DST_PORT: u16 = 40_002;

/// One packet's payload: 20 ms of a 1 kHz tone at -12 dBFS, u-law encoded. 1 kHz at 8 kHz is
/// 8 samples a period, so every 160-sample frame is the same and the tone stays continuous.
pub fn tone_frame() -> [u8; SAMPLES_PER_PACKET] {
    let mut linear = [0i16; SAMPLES_PER_PACKET];
    for (i, sample) in linear.iter_mut().enumerate() {
        let phase = 2.0 * PI * 1000.0 * i as f64 / 8000.0;
        *sample = (8192.0 * phase.sin()).round() as i16;
    }
    let mut frame = [0u8; SAMPLES_PER_PACKET];
    g711::encode_ulaw(&linear, &mut frame).expect("equal lengths");
    frame
}

/// The RTP packets of a `packets`-long tone: sequence and timestamp advance by one frame,
/// marker on the first (RFC 3551 §4.1: start of a talkspurt).
pub fn tone_packets(packets: usize, ssrc: u32) -> Vec<Vec<u8>> {
    let frame = tone_frame();
    (0..packets)
        .map(|n| {
            RtpBuilder::new(
                PCMU,
                1000u16.wrapping_add(n as u16),
                (n * SAMPLES_PER_PACKET) as u32,
                ssrc,
            )
            .marker(n == 0)
            .to_vec(&frame)
            .expect("plain RTP header")
        })
        .collect()
}

/// Writes a pcap of `packets` tone packets (SSRC [`TONE_SSRC`]) 20 ms apart to `path`.
pub fn write_tone_pcap(path: &Path, packets: usize) -> io::Result<()> {
    write_rtp_pcap(path, &tone_packets(packets, TONE_SSRC))
}

/// Q.23 row (low) and column (high) frequencies of a DTMF digit.
pub fn dtmf_frequencies(digit: char) -> Option<(f64, f64)> {
    const KEYS: [[char; 4]; 4] = [
        ['1', '2', '3', 'A'],
        ['4', '5', '6', 'B'],
        ['7', '8', '9', 'C'],
        ['*', '0', '#', 'D'],
    ];
    const LOW: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    KEYS.iter().enumerate().find_map(|(row, keys)| {
        keys.iter()
            .position(|k| *k == digit)
            .map(|col| (LOW[row], HIGH[col]))
    })
}

/// The u-law frames (20 ms each) of in-band DTMF: `lead_ms` of silence, then each digit's
/// dual tone for `tone_ms` (each tone at about -9 dBFS) followed by `gap_ms` of silence.
/// Phase runs on across frames so each tone is continuous.
pub fn dtmf_frames(digits: &str, lead_ms: usize, tone_ms: usize, gap_ms: usize) -> Vec<Vec<u8>> {
    let silence = vec![0xffu8; SAMPLES_PER_PACKET];
    let frames = |ms: usize| ms.div_ceil(20);
    let mut out = vec![silence.clone(); frames(lead_ms)];
    for digit in digits.chars() {
        let (low, high) = dtmf_frequencies(digit).expect("a DTMF digit");
        for n in 0..frames(tone_ms) {
            let mut linear = [0i16; SAMPLES_PER_PACKET];
            for (i, sample) in linear.iter_mut().enumerate() {
                let t = (n * SAMPLES_PER_PACKET + i) as f64 / 8000.0;
                let value = 11_000.0 * ((2.0 * PI * low * t).sin() + (2.0 * PI * high * t).sin());
                *sample = value.round() as i16;
            }
            let mut frame = vec![0u8; SAMPLES_PER_PACKET];
            g711::encode_ulaw(&linear, &mut frame).expect("equal lengths");
            out.push(frame);
        }
        out.extend(std::iter::repeat_n(silence.clone(), frames(gap_ms)));
    }
    out
}

/// Writes a pcap of in-band DTMF for `digits` (see [`dtmf_frames`]: 1 s of silence first,
/// 120 ms tones, 200 ms gaps) as PCMU RTP with SSRC [`TONE_SSRC`], 20 ms apart.
pub fn write_dtmf_pcap(path: &Path, digits: &str) -> io::Result<()> {
    let packets: Vec<Vec<u8>> = dtmf_frames(digits, 1000, 120, 200)
        .iter()
        .enumerate()
        .map(|(n, frame)| {
            RtpBuilder::new(
                PCMU,
                2000u16.wrapping_add(n as u16),
                (n * SAMPLES_PER_PACKET) as u32,
                TONE_SSRC,
            )
            .marker(n == 0)
            .to_vec(frame)
            .expect("plain RTP header")
        })
        .collect();
    write_rtp_pcap(path, &packets)
}

/// Writes `rtp` packets 20 ms apart as a libpcap file.
fn write_rtp_pcap(path: &Path, rtp: &[Vec<u8>]) -> io::Result<()> {
    let mut out = Vec::new();
    // libpcap global header, little-endian, microsecond timestamps, version 2.4.
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    for (n, rtp) in rtp.iter().enumerate() {
        let frame = ethernet_frame(rtp, n as u16);
        let at_us = n as u64 * 20_000;
        out.extend_from_slice(&((at_us / 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((at_us % 1_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.extend_from_slice(&frame);
    }
    fs::write(path, out)
}

/// Ethernet II + IPv4 + UDP around `payload`.
fn ethernet_frame(payload: &[u8], ip_id: u16) -> Vec<u8> {
    let udp_len = UDP_LEN + payload.len();
    let ip_len = IPV4_LEN + udp_len;
    let mut f = Vec::with_capacity(ETHERNET_LEN + ip_len);
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // destination MAC (locally administered)
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // source MAC
    f.extend_from_slice(&0x0800u16.to_be_bytes()); // IPv4

    let ip_start = f.len();
    f.push(0x45); // version 4, 5-word header
    f.push(0xb8); // DSCP EF, as phones mark voice
    f.extend_from_slice(&(ip_len as u16).to_be_bytes());
    f.extend_from_slice(&ip_id.to_be_bytes());
    f.extend_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
    f.push(64); // TTL
    f.push(17); // UDP
    f.extend_from_slice(&[0, 0]); // checksum, filled below
    f.extend_from_slice(&SRC);
    f.extend_from_slice(&DST);
    let checksum = internet_checksum(&f[ip_start..ip_start + IPV4_LEN], 0);
    f[ip_start + 10..ip_start + 12].copy_from_slice(&checksum.to_be_bytes());

    let udp_start = f.len();
    f.extend_from_slice(&SRC_PORT.to_be_bytes());
    f.extend_from_slice(&DST_PORT.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    // RFC 768: the UDP checksum covers a pseudo-header of addresses, protocol and length.
    let mut pseudo = 0u32;
    for word in [SRC, DST].iter().flat_map(|a| a.chunks(2)) {
        pseudo += u32::from(u16::from_be_bytes([word[0], word[1]]));
    }
    pseudo += 17 + udp_len as u32;
    let udp_checksum = match internet_checksum(&f[udp_start..], pseudo) {
        0 => 0xffff,
        c => c,
    };
    f[udp_start + 6..udp_start + 8].copy_from_slice(&udp_checksum.to_be_bytes());
    f
}

/// RFC 1071 ones' complement sum of `data` (plus an initial partial sum), complemented.
fn internet_checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = initial;
    for chunk in data.chunks(2) {
        let word = match chunk {
            [hi, lo] => u16::from_be_bytes([*hi, *lo]),
            [hi] => u16::from_be_bytes([*hi, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use media_core::rtp::RtpPacket;

    #[test]
    fn every_frame_carries_a_valid_ipv4_checksum_and_a_parsable_rtp_packet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CALL_AUDIO);
        write_tone_pcap(&path, 3).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes());
        let mut at = 24;
        let mut seen = 0;
        while at < bytes.len() {
            let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
            let frame = &bytes[at + 16..at + 16 + len];
            let ip = &frame[ETHERNET_LEN..ETHERNET_LEN + IPV4_LEN];
            assert_eq!(internet_checksum(ip, 0), 0, "IPv4 header checksum verifies");
            let rtp = RtpPacket::parse(&frame[ETHERNET_LEN + IPV4_LEN + UDP_LEN..]).unwrap();
            assert_eq!(rtp.ssrc(), TONE_SSRC);
            assert_eq!(rtp.payload(), &tone_frame());
            assert_eq!(rtp.timestamp(), seen * SAMPLES_PER_PACKET as u32);
            at += 16 + len;
            seen += 1;
        }
        assert_eq!(seen, 3);
    }

    #[test]
    fn dtmf_frames_hold_the_digits_two_tones_between_silences() {
        let frames = dtmf_frames("1", 40, 120, 40);
        assert_eq!(frames.len(), 2 + 6 + 2);
        assert!(frames[0].iter().all(|b| *b == 0xff), "silence first");
        let mut linear = [0i16; SAMPLES_PER_PACKET];
        g711::decode_ulaw(&frames[2], &mut linear).unwrap();
        // Correlation with each tone of '1' (697 + 1209 Hz) is strong; with 941 Hz weak.
        let power = |f: f64| {
            let (mut re, mut im) = (0.0, 0.0);
            for (i, s) in linear.iter().enumerate() {
                let w = 2.0 * PI * f * i as f64 / 8000.0;
                re += f64::from(*s) * w.cos();
                im += f64::from(*s) * w.sin();
            }
            (re * re + im * im).sqrt()
        };
        assert!(power(697.0) > 5.0 * power(941.0));
        assert!(power(1209.0) > 5.0 * power(1633.0));
        assert_eq!(dtmf_frequencies('#'), Some((941.0, 1477.0)));
        assert_eq!(dtmf_frequencies('x'), None);
        let dir = tempfile::tempdir().unwrap();
        write_dtmf_pcap(&dir.path().join("d.pcap"), "19").unwrap();
        assert!(fs::metadata(dir.path().join("d.pcap")).unwrap().len() > 24);
    }

    #[test]
    fn the_tone_decodes_to_a_1khz_sine_of_the_intended_level() {
        let mut linear = [0i16; SAMPLES_PER_PACKET];
        g711::decode_ulaw(&tone_frame(), &mut linear).unwrap();
        // Samples 2 and 6 of each 8-sample period are the peaks (+/- 8192, within u-law steps).
        assert!((linear[2] - 8192).abs() < 300, "{}", linear[2]);
        assert!((linear[6] + 8192).abs() < 300, "{}", linear[6]);
        assert!(linear[0].abs() < 100 && linear[4].abs() < 100);
    }
}
