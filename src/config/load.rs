//! Loading a config directory: read `sip-profiles/*.toml`, validate each file, then check
//! what spans files (profile names, listen addresses). Pure parsing is separate from reading
//! so tests and reloads can feed text directly.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::Config;
use super::error::{ConfigError, ConfigErrorKind, ConfigErrors, ConfigWarning, Location};
use super::listen::ListenAddr;
use super::profile::Profile;
use super::routing::{ProfileRefs, build_routing};
use super::validate::{Diag, validate_file};

/// Directory of profile files, relative to the config directory.
pub const PROFILES_DIR: &str = "sip-profiles";
/// Directory of dialplans, relative to the config directory (optional).
pub const DIALPLANS_DIR: &str = "dialplans";
/// Directory of trunk files, relative to the config directory (optional).
pub const TRUNKS_DIR: &str = "sip-profiles/trunks";

/// Loads and validates the config directory `dir`: every `sip-profiles/*.toml` (at least one;
/// names starting with `.` are skipped) and, if present, `dialplans/*.toml` and
/// `sip-profiles/trunks/*.toml`, with the checks that span files (contexts, route groups,
/// trunk profiles). Every error in every file is reported at once.
pub fn load(dir: &Path) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let sources = read_profiles(dir, &mut errors);
    let dialplans = read_optional(dir, DIALPLANS_DIR, &mut errors);
    let trunk_files = read_optional(dir, TRUNKS_DIR, &mut errors);
    let api = super::api::load_api(dir, &mut errors);
    let ivr = super::ivr::load_ivr(dir, &mut errors);
    if sources.is_empty() {
        // read_profiles already said why (no directory, no *.toml, unreadable files).
        return Err(ConfigErrors(errors));
    }
    let parsed = parse_profiles(sources);
    let refs = ProfileRefs {
        names: parsed.names.iter().map(String::as_str).collect(),
        profiles: &parsed.profiles,
        complete: parsed.errors.is_empty(),
    };
    let mut routing_errors = Vec::new();
    let routing = build_routing(dialplans, trunk_files, &refs, &mut routing_errors);
    // Read errors first: they explain why a file may be missing from the rest.
    errors.extend(parsed.errors);
    errors.append(&mut routing_errors);
    errors.extend(super::ivr::unknown_menus(&routing.dialplan, &ivr));
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    let mut warnings = parsed.warnings;
    warnings.extend(routing.warnings);
    Ok(Config {
        profiles: parsed.profiles,
        dialplan: routing.dialplan,
        trunks: routing.trunks,
        api,
        ivr: std::sync::Arc::new(ivr),
        warnings,
    })
}

/// Validates profile files given as `(path, text)` pairs, in the order given; `path` is only
/// used to name the file in errors. At least one source is required.
///
/// This is `load` without the file system, for tests and tools:
/// `config::parse_sources([("sip-profiles/test.toml", text)])`.
pub fn parse_sources<I, P, S>(sources: I) -> Result<Config, ConfigErrors>
where
    I: IntoIterator<Item = (P, S)>,
    P: Into<PathBuf>,
    S: AsRef<str>,
{
    let parsed = parse_profiles(sources);
    let mut errors = parsed.errors;
    let refs = ProfileRefs {
        names: parsed.names.iter().map(String::as_str).collect(),
        profiles: &parsed.profiles,
        complete: errors.is_empty(),
    };
    let routing = build_routing(Vec::new(), Vec::new(), &refs, &mut errors);
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }
    Ok(Config {
        profiles: parsed.profiles,
        dialplan: routing.dialplan,
        trunks: routing.trunks,
        api: super::api::ApiConfig::default(),
        ivr: std::sync::Arc::default(),
        warnings: parsed.warnings,
    })
}

/// What the profile files gave: the profiles of files without errors, every profile name
/// that validated, the errors and warnings.
struct ParsedProfiles {
    profiles: Vec<Profile>,
    names: Vec<String>,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
}

/// Validates each profile file and what spans them (names, listen addresses).
fn parse_profiles<I, P, S>(sources: I) -> ParsedProfiles
where
    I: IntoIterator<Item = (P, S)>,
    P: Into<PathBuf>,
    S: AsRef<str>,
{
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut profiles = Vec::new();
    let mut names: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut listens: Vec<(PathBuf, usize, ListenAddr)> = Vec::new();
    let mut any = false;

    for (path, text) in sources {
        any = true;
        let path: PathBuf = path.into();
        let mut diag = Diag::new(&path);
        let outcome = validate_file(&mut diag, text.as_ref());
        let Diag {
            errors: mut file_errors,
            warnings: mut file_warnings,
            ..
        } = diag;

        if let Some(name) = &outcome.name {
            if let Some(other) = names.get(name) {
                file_errors.push(ConfigError::new(
                    &path,
                    Location::Key("profile.name".to_owned()),
                    ConfigErrorKind::DuplicateProfile {
                        name: name.clone(),
                        other_file: other.display().to_string(),
                    },
                ));
            } else {
                names.insert(name.clone(), path.clone());
            }
        }
        for (index, addr) in outcome.listen {
            if let Some(kind) = listen_conflict(&listens, addr) {
                file_errors.push(ConfigError::new(
                    &path,
                    Location::Key(format!("profile.listen[{index}]")),
                    kind,
                ));
            }
            listens.push((path.clone(), index, addr));
        }

        if file_errors.is_empty() {
            profiles.extend(outcome.profile);
        }
        errors.append(&mut file_errors);
        warnings.append(&mut file_warnings);
    }

    if !any {
        errors.push(ConfigError::new(
            PROFILES_DIR,
            Location::File,
            ConfigErrorKind::NoProfiles,
        ));
    }
    ParsedProfiles {
        profiles,
        names: names.into_keys().collect(),
        errors,
        warnings,
    }
}

/// The error for `addr` if it repeats or overlaps an address listed before it.
fn listen_conflict(
    seen: &[(PathBuf, usize, ListenAddr)],
    addr: ListenAddr,
) -> Option<ConfigErrorKind> {
    let (file, index, other) = seen.iter().find(|(_, _, o)| o.conflicts_with(&addr))?;
    let other_place = format!("{} profile.listen[{index}]", file.display());
    Some(if *other == addr {
        ConfigErrorKind::DuplicateListen {
            addr: addr.to_string(),
            other: other_place,
        }
    } else {
        ConfigErrorKind::OverlappingListen {
            addr: addr.to_string(),
            other_addr: other.to_string(),
            other: other_place,
        }
    })
}

/// `dir/rel`, without a leading `./`, as errors name it.
fn label(dir: &Path, rel: &Path) -> PathBuf {
    let joined = dir.join(rel);
    match joined.strip_prefix(".") {
        Ok(stripped) if !stripped.as_os_str().is_empty() => stripped.to_path_buf(),
        _ => joined,
    }
}

/// Reads every `*.toml` in `dir/sip-profiles`, sorted by file name; at least one.
fn read_profiles(dir: &Path, errors: &mut Vec<ConfigError>) -> Vec<(PathBuf, String)> {
    let profiles_dir = label(dir, Path::new(PROFILES_DIR));
    let Some(files) = toml_files(&profiles_dir, true, errors) else {
        return Vec::new();
    };
    if files.is_empty() {
        errors.push(ConfigError::new(
            &profiles_dir,
            Location::File,
            ConfigErrorKind::NoProfiles,
        ));
    }
    read_texts(files, errors)
}

/// Reads every `*.toml` of the optional directory `dir/rel` (absent: none), sorted by name.
pub(crate) fn read_optional(
    dir: &Path,
    rel: &str,
    errors: &mut Vec<ConfigError>,
) -> Vec<(PathBuf, String)> {
    let path = label(dir, Path::new(rel));
    match toml_files(&path, false, errors) {
        Some(files) => read_texts(files, errors),
        None => Vec::new(),
    }
}

/// The `*.toml` files of `path` (names starting with `.` skipped), sorted; None when it cannot
/// be listed (reported, except a missing directory that is not `required`).
fn toml_files(path: &Path, required: bool, errors: &mut Vec<ConfigError>) -> Option<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(path) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|e| e == "toml")
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    && std::fs::metadata(p).is_ok_and(|m| m.is_file())
            })
            .collect(),
        Err(e) if e.kind() == ErrorKind::NotFound && !required => return None,
        Err(e) => {
            let kind = if e.kind() == ErrorKind::NotADirectory {
                ConfigErrorKind::NotADirectory
            } else {
                ConfigErrorKind::Read(e)
            };
            errors.push(ConfigError::new(path, Location::File, kind));
            return None;
        }
    };
    files.sort();
    Some(files)
}

/// The text of each file; unreadable and non-UTF-8 files are reported and left out.
fn read_texts(files: Vec<PathBuf>, errors: &mut Vec<ConfigError>) -> Vec<(PathBuf, String)> {
    let mut sources = Vec::new();
    for path in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => sources.push((path, text)),
            Err(e) if e.kind() == ErrorKind::InvalidData => {
                errors.push(ConfigError::new(
                    &path,
                    Location::File,
                    ConfigErrorKind::NotUtf8,
                ));
            }
            Err(e) => errors.push(ConfigError::new(
                &path,
                Location::File,
                ConfigErrorKind::Read(e),
            )),
        }
    }
    sources
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::fs;

    use super::*;

    fn profile(name: &str, port: u16) -> String {
        format!(
            "[profile]\nname = \"{name}\"\ndomain = \"a.b\"\nlisten = [\"udp:127.0.0.1:{port}\"]\n"
        )
    }

    fn dir_with_profiles(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(PROFILES_DIR)).unwrap();
        for (name, text) in files {
            fs::write(dir.path().join(PROFILES_DIR).join(name), text).unwrap();
        }
        dir
    }

    fn messages(err: &ConfigErrors) -> Vec<String> {
        err.errors().iter().map(ToString::to_string).collect()
    }

    #[test]
    fn toml_files_load_in_name_order_and_other_files_are_skipped() {
        let dir = dir_with_profiles(&[
            ("b.toml", &profile("b", 5070)),
            ("a.toml", &profile("a", 5060)),
            ("README.md", "not toml"),
            (".a.toml.swp.toml", "not toml"),
            ("notes.toml~", "not toml"),
        ]);
        fs::create_dir(dir.path().join(PROFILES_DIR).join("sub.toml")).unwrap();
        let config = load(dir.path()).unwrap();
        let names: Vec<_> = config.profiles().iter().map(|p| p.name()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(
            config.profiles()[0].source(),
            dir.path().join("sip-profiles/a.toml")
        );
    }

    #[test]
    fn a_missing_config_directory_is_one_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&dir.path().join("nope")).unwrap_err();
        let msgs = messages(&err);
        assert_eq!(msgs.len(), 1, "{msgs:?}");
        assert!(
            msgs[0].contains("nope/sip-profiles: cannot read: No such file"),
            "{msgs:?}"
        );
    }

    #[test]
    fn an_empty_profiles_directory_says_a_profile_is_needed() {
        let dir = dir_with_profiles(&[]);
        let err = load(dir.path()).unwrap_err();
        assert_eq!(err.len(), 1);
        assert!(matches!(
            err.errors()[0].kind(),
            ConfigErrorKind::NoProfiles
        ));
        assert_eq!(err.errors()[0].file(), dir.path().join(PROFILES_DIR));
    }

    #[test]
    fn errors_in_several_files_and_unreadable_files_are_all_reported() {
        let dir = dir_with_profiles(&[
            ("a.toml", "[profile]\nname = \"a\"\n"),
            ("b.toml", "[profile"),
        ]);
        fs::write(dir.path().join("sip-profiles/c.toml"), [0xff, 0xfe]).unwrap();
        let err = load(dir.path()).unwrap_err();
        let msgs = messages(&err);
        let d = dir.path().display();
        assert_eq!(
            msgs,
            vec![
                format!("{d}/sip-profiles/c.toml: not valid UTF-8"),
                format!("{d}/sip-profiles/a.toml: profile.domain: missing (required)"),
                format!("{d}/sip-profiles/a.toml: profile.listen: missing (required)"),
                format!(
                    "{d}/sip-profiles/b.toml:1:9: TOML syntax: invalid table header; \
                     expected `.`, `]`"
                ),
            ]
        );
    }

    #[test]
    fn dialplans_may_be_absent_but_must_be_a_directory() {
        let dir = dir_with_profiles(&[("a.toml", &profile("a", 5060))]);
        let config = load(dir.path()).unwrap();
        assert!(config.dialplan().has_context("default"), "built-in default");
        fs::create_dir(dir.path().join(DIALPLANS_DIR)).unwrap();
        fs::write(dir.path().join("dialplans/README.md"), "later").unwrap();
        assert!(load(dir.path()).is_ok());

        fs::remove_dir_all(dir.path().join(DIALPLANS_DIR)).unwrap();
        fs::write(dir.path().join(DIALPLANS_DIR), "").unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(
            err.to_string().ends_with("dialplans: not a directory"),
            "{err}"
        );
    }

    #[test]
    fn paths_in_errors_drop_a_leading_dot_slash() {
        assert_eq!(
            label(Path::new("."), Path::new("sip-profiles/a.toml")),
            Path::new("sip-profiles/a.toml")
        );
        assert_eq!(
            label(Path::new("/etc/sy"), Path::new("sip-profiles")),
            Path::new("/etc/sy/sip-profiles")
        );
        assert_eq!(label(Path::new("./x"), Path::new("d")), Path::new("x/d"));
    }
}
