//! `[recording]`: which calls of a profile are recorded from answer, and where the files go.
//! Resolved type and its validation.

use std::path::{Path, PathBuf};

use toml::Table;

use super::error::ConfigErrorKind;
use super::raw::RawRecording;
use super::validate::{Diag, parse_section};

/// Which calls are recorded from the moment they are answered (`policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordPolicy {
    /// `none`: only calls a dialplan rule asks for, or an operator starts through the API.
    #[default]
    None,
    /// `all`: every answered call.
    All,
}

impl RecordPolicy {
    /// The value as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordPolicy::None => "none",
            RecordPolicy::All => "all",
        }
    }
}

/// `[recording]` of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingPolicy {
    pub(in crate::config) policy: RecordPolicy,
    pub(in crate::config) directory: PathBuf,
}

impl RecordingPolicy {
    /// Which calls are recorded from answer.
    pub fn policy(&self) -> RecordPolicy {
        self.policy
    }

    /// Where recordings go (`<directory>/YYYY/MM/DD/<call id>.wav`): absolute, resolved
    /// against the config directory when the file names a relative one. It need not exist
    /// yet; a recording that cannot create or write its file fails without harming the call.
    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

pub(crate) fn validate_recording(diag: &mut Diag<'_>, table: &Table) -> Option<RecordingPolicy> {
    let (raw, p) = parse_section::<RawRecording>(diag, "recording", table);
    let mut ok = p.none();
    let policy = match raw.policy.as_str() {
        "none" => RecordPolicy::None,
        "all" => RecordPolicy::All,
        other => {
            diag.error(
                "recording.policy",
                ConfigErrorKind::InvalidText {
                    what: "recording policy",
                    value: other.to_owned(),
                    allowed: "use \"none\" or \"all\"",
                },
            );
            ok = false;
            RecordPolicy::None
        }
    };
    if p.ok(&["directory"]) && raw.directory.is_empty() {
        diag.error("recording.directory", ConfigErrorKind::Empty);
        ok = false;
    }
    let directory = diag.config_dir().join(&raw.directory);
    ok.then_some(RecordingPolicy { policy, directory })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::path::Path;

    use super::RecordPolicy;
    use crate::config::{Config, ConfigErrors, parse_sources};

    fn parse(rest: &str) -> Result<Config, ConfigErrors> {
        let text = format!(
            "[profile]\nname = \"t\"\ndomain = \"example.com\"\nlisten = [\"udp:127.0.0.1:5060\"]\n{rest}"
        );
        parse_sources([("/etc/switchyard/sip-profiles/t.toml", text)])
    }

    fn errors(rest: &str) -> Vec<String> {
        match parse(rest) {
            Ok(_) => panic!("expected errors for {rest}"),
            Err(e) => e.errors().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn recording_is_off_by_default_and_goes_under_the_config_directory() {
        let config = parse("").unwrap();
        let recording = config.profiles()[0].recording();
        assert_eq!(recording.policy(), RecordPolicy::None);
        assert_eq!(
            recording.directory(),
            Path::new("/etc/switchyard/var/recordings")
        );
    }

    #[test]
    fn policy_all_and_an_absolute_directory_are_taken_as_written() {
        let config = parse("[recording]\npolicy = \"all\"\ndirectory = \"/srv/rec\"\n").unwrap();
        let recording = config.profiles()[0].recording();
        assert_eq!(recording.policy(), RecordPolicy::All);
        assert_eq!(recording.directory(), Path::new("/srv/rec"));
        let config = parse("[recording]\ndirectory = \"rec\"\n").unwrap();
        assert_eq!(
            config.profiles()[0].recording().directory(),
            Path::new("/etc/switchyard/rec")
        );
    }

    #[test]
    fn bad_recording_keys_are_reported_with_file_and_key() {
        let errs = errors("[recording]\npolicy = \"some\"\ndirectory = \"\"\nformat = \"mp3\"\n");
        let joined = errs.join("\n");
        assert_eq!(errs.len(), 3, "{joined}");
        for key in [
            "recording.policy",
            "recording.directory",
            "recording.format",
        ] {
            assert!(joined.contains(key), "{key} missing in:\n{joined}");
        }
        assert!(
            errs.iter().all(|e| e.contains("sip-profiles/t.toml")),
            "{joined}"
        );
    }
}
