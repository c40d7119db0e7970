//! `[calls]` and `[media]`: how the B2BUA treats a profile's calls (ring timeout, maximum
//! duration, RFC 4028 session timers) and their media (relay or direct, NAT latching, the
//! relay's address and port range, media timeout, DTMF modes, music on hold). Resolved types
//! and their validation.

use std::fmt;
use std::net::IpAddr;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use toml::Table;

use super::error::ConfigErrorKind;
use super::ivr::SOUNDS_DIR;
use super::listen::ListenAddr;
use super::raw::{RawCalls, RawMedia};
use super::validate::{Diag, parse_section};
use crate::media::Audio;

/// `[calls]`: limits and timers of the calls of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallPolicy {
    pub(in crate::config) ring_timeout: Duration,
    pub(in crate::config) max_duration: Option<Duration>,
    pub(in crate::config) session_expires: Option<Duration>,
    pub(in crate::config) min_se: Duration,
}

impl CallPolicy {
    /// How long the callee's phones ring before the caller gets 480 (1 s to 1 h).
    pub fn ring_timeout(&self) -> Duration {
        self.ring_timeout
    }

    /// Longest call after answer; None for no limit.
    pub fn max_duration(&self) -> Option<Duration> {
        self.max_duration
    }

    /// RFC 4028 session interval the switch asks for; None when session timers are off on
    /// the switch's side (a phone's own Session-Expires is still honoured). >= `min_se`.
    pub fn session_expires(&self) -> Option<Duration> {
        self.session_expires
    }

    /// RFC 4028 Min-SE: shorter intervals are refused with 422 (>= 90 s, §4).
    pub fn min_se(&self) -> Duration {
        self.min_se
    }
}

impl Default for CallPolicy {
    /// 60 s ring timeout, 4 h maximum, 30 min session interval, Min-SE 90 s.
    fn default() -> Self {
        Self {
            ring_timeout: Duration::from_secs(60),
            max_duration: Some(Duration::from_secs(4 * 3600)),
            session_expires: Some(Duration::from_secs(1800)),
            min_se: Duration::from_secs(90),
        }
    }
}

/// `[media]`: the media relay of a profile's calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaPolicy {
    pub(in crate::config) direct_media: bool,
    pub(in crate::config) nat: bool,
    pub(in crate::config) address: IpAddr,
    pub(in crate::config) rtp_port_min: u16,
    pub(in crate::config) rtp_port_max: u16,
    pub(in crate::config) media_timeout: Option<Duration>,
    pub(in crate::config) dtmf: DtmfSetting,
    pub(in crate::config) music_on_hold: Option<MusicOnHold>,
}

impl MediaPolicy {
    /// SDP passes through untouched and media flows between the phones (signalling only).
    pub fn direct_media(&self) -> bool {
        self.direct_media
    }

    /// Phones are behind NAT: requests go to the flow they registered from, and the relay
    /// latches on the first packets from any address instead of the address in their SDP.
    pub fn nat(&self) -> bool {
        self.nat
    }

    /// The relay's address: its sockets bind to it and SDP names it. Never a wildcard.
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// Lowest relay port (RTP ports are even, RTCP the odd port above).
    pub fn rtp_port_min(&self) -> u16 {
        self.rtp_port_min
    }

    /// Highest relay port; at least 4 ports above `rtp_port_min` (one call needs two pairs).
    pub fn rtp_port_max(&self) -> u16 {
        self.rtp_port_max
    }

    /// A call with no RTP from either side for this long is hung up (cause `media_timeout`);
    /// None disables the check.
    pub fn media_timeout(&self) -> Option<Duration> {
        self.media_timeout
    }

    /// How DTMF reaches the switch on legs it answers itself (`dtmf`, default `auto`).
    pub fn dtmf(&self) -> DtmfSetting {
        self.dtmf
    }

    /// What the other side hears while one side holds; None: silence (no `music_on_hold`).
    pub fn music_on_hold(&self) -> Option<&MusicOnHold> {
        self.music_on_hold.as_ref()
    }
}

/// `[media] dtmf`: which DTMF the switch listens for on legs it answers itself (IVR, voice
/// notifications). SIP INFO digits are always taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DtmfSetting {
    /// `auto`: RFC 4733 telephone-events when the phone's SDP offers them, else in-band tones.
    #[default]
    Auto,
    /// `rfc4733`: telephone-events only.
    Rfc4733,
    /// `info`: SIP INFO only.
    Info,
    /// `inband`: tones in the audio only.
    Inband,
}

impl DtmfSetting {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            DtmfSetting::Auto => "auto",
            DtmfSetting::Rfc4733 => "rfc4733",
            DtmfSetting::Info => "info",
            DtmfSetting::Inband => "inband",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            DtmfSetting::Auto,
            DtmfSetting::Rfc4733,
            DtmfSetting::Info,
            DtmfSetting::Inband,
        ]
        .into_iter()
        .find(|m| m.as_str() == text)
    }
}

/// `[media] music_on_hold`: the file, decoded when the config was loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct MusicOnHold {
    pub(in crate::config) name: String,
    pub(in crate::config) file: PathBuf,
    pub(in crate::config) audio: Audio,
}

impl MusicOnHold {
    /// The file as written: relative to `<config-dir>/sounds/`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The file it was read from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The decoded audio (cheap to clone).
    pub fn audio(&self) -> &Audio {
        &self.audio
    }
}

impl fmt::Debug for MusicOnHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MusicOnHold")
            .field("file", &self.file)
            .field("duration", &self.audio.duration())
            .finish()
    }
}

pub(crate) fn validate_calls(diag: &mut Diag<'_>, table: &Table) -> Option<CallPolicy> {
    let (raw, p) = parse_section::<RawCalls>(diag, "calls", table);
    let mut ok = p.none();
    let limits: [(&str, u32, u64, u64); 4] = [
        ("ring_timeout_secs", raw.ring_timeout_secs, 1, 3600),
        ("max_duration_secs", raw.max_duration_secs, 0, 7 * 86_400),
        ("session_expires_secs", raw.session_expires_secs, 0, 86_400),
        // RFC 4028 §4: Min-SE is never below 90 seconds.
        ("min_se_secs", raw.min_se_secs, 90, 86_400),
    ];
    for (key, value, min, max) in limits {
        if p.ok(&[key]) {
            ok &= diag.range(&format!("calls.{key}"), value, min, max);
        }
    }
    if p.ok(&["session_expires_secs", "min_se_secs"])
        && raw.session_expires_secs != 0
        && raw.session_expires_secs < raw.min_se_secs
    {
        diag.error(
            "calls.min_se_secs",
            ConfigErrorKind::ExceedsOther {
                other_key: "session_expires_secs",
                other_value: raw.session_expires_secs.into(),
            },
        );
        ok = false;
    }
    ok.then(|| CallPolicy {
        ring_timeout: secs(raw.ring_timeout_secs),
        max_duration: nonzero_secs(raw.max_duration_secs),
        session_expires: nonzero_secs(raw.session_expires_secs),
        min_se: secs(raw.min_se_secs),
    })
}

/// `listen` is the profile's listen list (the relay address defaults to the first one's IP).
pub(crate) fn validate_media(
    diag: &mut Diag<'_>,
    table: &Table,
    listen: &[ListenAddr],
) -> Option<MediaPolicy> {
    let (raw, p) = parse_section::<RawMedia>(diag, "media", table);
    let mut ok = p.none();
    for (key, value) in [
        ("rtp_port_min", raw.rtp_port_min),
        ("rtp_port_max", raw.rtp_port_max),
    ] {
        if p.ok(&[key]) {
            ok &= diag.range(&format!("media.{key}"), value, 1024, 65_535);
        }
    }
    if p.ok(&["rtp_port_min", "rtp_port_max"])
        && raw.rtp_port_min.saturating_add(3) > raw.rtp_port_max
    {
        diag.error(
            "media.rtp_port_min",
            ConfigErrorKind::ExceedsOther {
                other_key: "rtp_port_max - 3",
                other_value: raw.rtp_port_max.saturating_sub(3).into(),
            },
        );
        ok = false;
    }
    if p.ok(&["media_timeout_secs"]) {
        ok &= diag.range(
            "media.media_timeout_secs",
            raw.media_timeout_secs,
            0,
            86_400,
        );
    }
    let dtmf = match DtmfSetting::parse(&raw.dtmf) {
        Some(mode) => mode,
        None => {
            if p.ok(&["dtmf"]) {
                diag.error(
                    "media.dtmf",
                    ConfigErrorKind::InvalidText {
                        what: "DTMF mode",
                        value: raw.dtmf.clone(),
                        allowed: "use \"auto\", \"rfc4733\", \"info\" or \"inband\"",
                    },
                );
            }
            ok = false;
            DtmfSetting::Auto
        }
    };
    let music_on_hold = match raw.music_on_hold.as_deref() {
        _ if !p.ok(&["music_on_hold"]) => None,
        None | Some("") => None,
        Some(name) => match load_sound(&diag.config_dir().join(SOUNDS_DIR), name) {
            Ok((file, audio)) => Some(MusicOnHold {
                name: name.to_owned(),
                file,
                audio,
            }),
            Err(reason) => {
                diag.error(
                    "media.music_on_hold",
                    ConfigErrorKind::BadPrompt {
                        path: name.to_owned(),
                        reason,
                    },
                );
                ok = false;
                None
            }
        },
    };
    let address = match (&raw.address, p.ok(&["address"])) {
        (_, false) => None,
        (Some(text), true) => match text.parse::<IpAddr>() {
            Ok(ip) if ip.is_unspecified() => {
                diag.error(
                    "media.address",
                    ConfigErrorKind::InvalidText {
                        what: "media address",
                        value: text.clone(),
                        allowed: "an address phones can send to, not a wildcard",
                    },
                );
                None
            }
            Ok(ip) => Some(ip),
            Err(_) => {
                diag.error(
                    "media.address",
                    ConfigErrorKind::InvalidText {
                        what: "media address",
                        value: text.clone(),
                        allowed: "an IPv4 or IPv6 address",
                    },
                );
                None
            }
        },
        (None, true) => match listen.first().map(|l| l.addr.ip()) {
            Some(ip) if !ip.is_unspecified() => Some(ip),
            // The relay must name a reachable address in SDP: a wildcard listener says none.
            Some(_) if !raw.direct_media => {
                diag.error("media.address", ConfigErrorKind::MediaAddressRequired);
                None
            }
            // Direct media never names the relay; without a listen address the profile has
            // failed already (and that error is the one to read).
            _ => Some(IpAddr::from([127, 0, 0, 1])),
        },
    };
    let (Some(address), true) = (address, ok) else {
        return None;
    };
    Some(MediaPolicy {
        direct_media: raw.direct_media,
        nat: raw.nat,
        address,
        rtp_port_min: u16::try_from(raw.rtp_port_min).unwrap_or(u16::MAX),
        rtp_port_max: u16::try_from(raw.rtp_port_max).unwrap_or(u16::MAX),
        media_timeout: nonzero_secs(raw.media_timeout_secs),
        dtmf,
        music_on_hold,
    })
}

/// `sounds/<name>` and its decoded audio; `name` must stay inside `sounds/`.
fn load_sound(sounds: &Path, name: &str) -> Result<(PathBuf, Audio), String> {
    let rel = Path::new(name);
    if !rel
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("must be a relative path inside sounds/ (no `..`, not absolute)".to_owned());
    }
    let file = sounds.join(rel);
    let audio = Audio::load(&file).map_err(|e| e.to_string())?;
    if audio.samples().is_empty() {
        return Err(format!("{} holds no audio", file.display()));
    }
    Ok((file, audio))
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

fn nonzero_secs(s: u32) -> Option<Duration> {
    (s != 0).then(|| secs(s))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::net::IpAddr;
    use std::time::Duration;

    use super::DtmfSetting;
    use crate::config::{Config, ConfigErrors, parse_sources};

    const FILE: &str = "sip-profiles/t.toml";

    fn parse(listen: &str, rest: &str) -> Result<Config, ConfigErrors> {
        let text = format!(
            "[profile]\nname = \"t\"\ndomain = \"example.com\"\nlisten = [\"{listen}\"]\n{rest}"
        );
        parse_sources([(FILE, text)])
    }

    fn errors(listen: &str, rest: &str) -> Vec<String> {
        match parse(listen, rest) {
            Ok(_) => panic!("expected errors for {rest}"),
            Err(e) => e.errors().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn defaults_ring_a_minute_and_relay_media_on_the_listen_address() {
        let config = parse("udp:127.0.0.2:5060", "").unwrap();
        let profile = &config.profiles()[0];
        let calls = profile.calls();
        assert_eq!(calls.ring_timeout(), Duration::from_secs(60));
        assert_eq!(calls.max_duration(), Some(Duration::from_secs(14_400)));
        assert_eq!(calls.session_expires(), Some(Duration::from_secs(1800)));
        assert_eq!(calls.min_se(), Duration::from_secs(90));
        let media = profile.media();
        assert!(!media.direct_media());
        assert!(!media.nat());
        assert_eq!(media.address(), "127.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(
            (media.rtp_port_min(), media.rtp_port_max()),
            (16_384, 32_767)
        );
        assert_eq!(media.media_timeout(), Some(Duration::from_secs(60)));
    }

    #[test]
    fn every_call_and_media_key_can_be_set() {
        let config = parse(
            "udp:127.0.0.1:5060",
            r#"
[calls]
ring_timeout_secs = 20
max_duration_secs = 600
session_expires_secs = 300
min_se_secs = 120
[media]
direct_media = true
nat = true
address = "::1"
rtp_port_min = 20000
rtp_port_max = 20099
media_timeout_secs = 30
"#,
        )
        .unwrap();
        let p = &config.profiles()[0];
        assert_eq!(p.calls().ring_timeout(), Duration::from_secs(20));
        assert_eq!(p.calls().max_duration(), Some(Duration::from_secs(600)));
        assert_eq!(p.calls().session_expires(), Some(Duration::from_secs(300)));
        assert_eq!(p.calls().min_se(), Duration::from_secs(120));
        assert!(p.media().direct_media() && p.media().nat());
        assert_eq!(p.media().address().to_string(), "::1");
        assert_eq!(
            (p.media().rtp_port_min(), p.media().rtp_port_max()),
            (20000, 20099)
        );
        assert_eq!(p.media().media_timeout(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn zero_turns_max_duration_session_timers_and_media_timeout_off() {
        let config = parse(
            "udp:127.0.0.1:5060",
            "[calls]\nmax_duration_secs = 0\nsession_expires_secs = 0\n\
             [media]\nmedia_timeout_secs = 0\ndirect_media = true\nnat = true\n",
        )
        .unwrap();
        let profile = &config.profiles()[0];
        assert_eq!(profile.calls().max_duration(), None);
        assert_eq!(profile.calls().session_expires(), None);
        assert_eq!(profile.media().media_timeout(), None);
        assert!(profile.media().direct_media());
        assert!(profile.media().nat());
    }

    #[test]
    fn wildcard_listener_needs_an_explicit_media_address() {
        let errs = errors("udp:0.0.0.0:5060", "");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("media.address"), "{errs:?}");
        assert!(errs[0].contains("wildcard"), "{errs:?}");
        let config = parse("udp:0.0.0.0:5060", "[media]\naddress = \"192.0.2.10\"\n").unwrap();
        assert_eq!(
            config.profiles()[0].media().address(),
            "192.0.2.10".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn bad_media_and_call_keys_are_all_reported_with_their_keys() {
        let errs = errors(
            "udp:127.0.0.1:5060",
            "[calls]\nring_timeout_secs = 0\nmin_se_secs = 30\nbogus = 1\n\
             [media]\naddress = \"0.0.0.0\"\nrtp_port_min = 20000\nrtp_port_max = 20001\n",
        );
        let joined = errs.join("\n");
        for key in [
            "calls.ring_timeout_secs",
            "calls.min_se_secs",
            "calls.bogus",
            "media.address",
            "media.rtp_port_min",
        ] {
            assert!(joined.contains(key), "{key} missing in:\n{joined}");
        }
    }

    #[test]
    fn dtmf_is_auto_and_there_is_no_music_on_hold_by_default() {
        let config = parse("udp:127.0.0.1:5060", "").unwrap();
        let media = config.profiles()[0].media();
        assert_eq!(media.dtmf(), DtmfSetting::Auto);
        assert!(media.music_on_hold().is_none());
        let config = parse(
            "udp:127.0.0.1:5060",
            "[media]\ndtmf = \"inband\"\nmusic_on_hold = \"\"\n",
        )
        .unwrap();
        let media = config.profiles()[0].media();
        assert_eq!(media.dtmf(), DtmfSetting::Inband);
        assert!(media.music_on_hold().is_none());
    }

    #[test]
    fn music_on_hold_is_decoded_from_the_sounds_directory_at_load() {
        // The profile file sits in <crate>/sip-profiles/, so sounds/ is the repository's.
        let config = parse(
            "udp:127.0.0.1:5060",
            "[media]\nmusic_on_hold = \"moh/default.wav\"\n",
        )
        .unwrap();
        let moh = config.profiles()[0].media().music_on_hold().unwrap();
        assert_eq!(moh.name(), "moh/default.wav");
        assert!(moh.file().is_absolute(), "{moh:?}");
        assert!(moh.file().ends_with("sounds/moh/default.wav"), "{moh:?}");
        assert!(moh.audio().duration() >= Duration::from_secs(1), "{moh:?}");
    }

    #[test]
    fn a_missing_escaping_or_unplayable_music_on_hold_file_is_refused_with_its_key() {
        for (value, reason) in [
            ("moh/nope.wav", "cannot read"),
            ("../Cargo.toml", "inside sounds/"),
            ("/etc/passwd", "inside sounds/"),
        ] {
            let errs = errors(
                "udp:127.0.0.1:5060",
                &format!("[media]\nmusic_on_hold = \"{value}\"\n"),
            );
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert!(errs[0].starts_with(FILE), "{errs:?}");
            assert!(errs[0].contains("media.music_on_hold"), "{errs:?}");
            assert!(errs[0].contains(reason), "{value}: {errs:?}");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sip-profiles")).unwrap();
        std::fs::create_dir_all(dir.path().join("sounds")).unwrap();
        std::fs::write(dir.path().join("sounds/bad.wav"), b"RIFF....not a wav").unwrap();
        let text = "[profile]\nname = \"t\"\ndomain = \"example.com\"\n\
                    listen = [\"udp:127.0.0.1:5060\"]\n[media]\nmusic_on_hold = \"bad.wav\"\n";
        let file = dir.path().join("sip-profiles/t.toml");
        let errs: Vec<String> = parse_sources([(file, text)])
            .unwrap_err()
            .errors()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("media.music_on_hold"), "{errs:?}");
        assert!(errs[0].contains("bad.wav"), "{errs:?}");
    }

    #[test]
    fn an_unknown_dtmf_mode_is_refused_with_its_key() {
        let errs = errors("udp:127.0.0.1:5060", "[media]\ndtmf = \"smoke\"\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("media.dtmf"), "{errs:?}");
        assert!(errs[0].contains("rfc4733"), "{errs:?}");
    }

    #[test]
    fn session_interval_below_min_se_is_refused() {
        let errs = errors(
            "udp:127.0.0.1:5060",
            "[calls]\nsession_expires_secs = 100\nmin_se_secs = 120\n",
        );
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("calls.min_se_secs"), "{errs:?}");
    }
}
