//! Validation of one trunk file: TOML text -> `[[trunk]]` and `[[route_group]]` entries,
//! collecting every error with its key path (`trunk[1].gateways[0]`).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use sip_core::message::Host;
use toml::{Table, Value};

use super::gateway::is_dns_name;
use super::raw::{
    RawCallerId, RawMember, RawProbe, RawRegister, RawRouteGroup, RawTrunk, RawTrunkAuth,
};
use super::{
    CallerIdRules, GatewayUri, Member, ProbeSettings, RegisterSettings, RouteGroupConfig,
    TrunkAuth, TrunkConfig,
};
use crate::config::validate::{Diag, is_quotable, parse_section, parse_toml};
use crate::config::{ConfigError, ConfigErrorKind};

const SECTIONS: &str = "trunk, route_group";

/// Headers the switch writes itself on every leg: passing the caller's would break the
/// dialog or leak the caller's side (topology hiding).
const OWN_HEADERS: [&str; 16] = [
    "via",
    "from",
    "to",
    "call-id",
    "cseq",
    "contact",
    "route",
    "record-route",
    "max-forwards",
    "content-length",
    "content-type",
    "authorization",
    "proxy-authorization",
    "p-asserted-identity",
    "privacy",
    "session-expires",
];

/// Validates one trunk file. Returns the entries that validated completely, and every
/// error (each naming `path` and a key, or a line for TOML syntax).
pub fn parse_trunk_file(
    path: &Path,
    text: &str,
) -> (Vec<TrunkConfig>, Vec<RouteGroupConfig>, Vec<ConfigError>) {
    let mut diag = Diag::new(path);
    let Some(table) = parse_toml(&mut diag, text) else {
        return (Vec::new(), Vec::new(), diag.errors);
    };
    for key in table.keys() {
        if !SECTIONS.split(", ").any(|s| s == key) {
            diag.error(
                key.as_str(),
                ConfigErrorKind::UnknownSection { expected: SECTIONS },
            );
        }
    }
    let mut trunks = Vec::new();
    for (i, entry) in entries(&mut diag, &table, "trunk", "an array of tables ([[trunk]])") {
        trunks.extend(validate_trunk(&mut diag, path, i, entry));
    }
    let mut groups = Vec::new();
    for (i, entry) in entries(
        &mut diag,
        &table,
        "route_group",
        "an array of tables ([[route_group]])",
    ) {
        groups.extend(validate_group(&mut diag, path, i, entry));
    }
    (trunks, groups, diag.errors)
}

/// The tables of the array `name` (absent: none), reporting entries that are not tables.
fn entries<'t>(
    diag: &mut Diag<'_>,
    table: &'t Table,
    name: &str,
    expected: &'static str,
) -> Vec<(usize, &'t Table)> {
    match table.get(name) {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                Value::Table(t) => Some((i, t)),
                _ => {
                    diag.error(
                        format!("{name}[{i}]"),
                        ConfigErrorKind::NotATable { expected },
                    );
                    None
                }
            })
            .collect(),
        Some(_) => {
            diag.error(name, ConfigErrorKind::NotATable { expected });
            Vec::new()
        }
    }
}

fn validate_trunk(
    diag: &mut Diag<'_>,
    path: &Path,
    index: usize,
    table: &Table,
) -> Option<TrunkConfig> {
    let prefix = format!("trunk[{index}]");
    let before = diag.errors.len();
    let (raw, p) = parse_section::<RawTrunk>(diag, &prefix, table);

    let name = p
        .ok(&["name"])
        .then(|| required_name(diag, &format!("{prefix}.name"), raw.name, "trunk name"))
        .flatten();
    let profile = p
        .ok(&["profile"])
        .then(|| required_text(diag, &format!("{prefix}.profile"), raw.profile))
        .flatten();

    let mut gateways = Vec::new();
    if p.ok(&["gateways"]) {
        match raw.gateways {
            None => diag.error(format!("{prefix}.gateways"), ConfigErrorKind::Missing),
            Some(list) if list.is_empty() => {
                diag.error(format!("{prefix}.gateways"), ConfigErrorKind::Empty)
            }
            Some(list) => {
                for (i, value) in list.into_iter().enumerate() {
                    match GatewayUri::parse(&value) {
                        Ok(g) => gateways.push(g),
                        Err(reason) => diag.error(
                            format!("{prefix}.gateways[{i}]"),
                            ConfigErrorKind::BadGatewayUri { value, reason },
                        ),
                    }
                }
            }
        }
    }

    let mut inbound = Vec::new();
    for (i, value) in raw.inbound.into_iter().enumerate() {
        match parse_net(&value) {
            Some(net) => inbound.push(net),
            None => diag.error(
                format!("{prefix}.inbound[{i}]"),
                ConfigErrorKind::BadCidr { value },
            ),
        }
    }

    let context = match raw.context {
        Some(c) if c.is_empty() => {
            diag.error(format!("{prefix}.context"), ConfigErrorKind::Empty);
            None
        }
        c => c,
    };

    let mut dids = BTreeMap::new();
    for (did, value) in raw.dids {
        let key = format!("{prefix}.dids.\"{did}\"");
        if did.is_empty() {
            diag.error(key, ConfigErrorKind::Empty);
            continue;
        }
        if did.chars().any(|c| c.is_whitespace() || c.is_control()) {
            diag.error(
                key,
                ConfigErrorKind::InvalidText {
                    what: "DID",
                    value: did,
                    allowed: "no spaces or control characters",
                },
            );
            continue;
        }
        match value {
            Value::String(c) if c.is_empty() => diag.error(key, ConfigErrorKind::Empty),
            Value::String(c) => {
                dids.insert(did, c);
            }
            other => diag.error(
                key,
                ConfigErrorKind::Schema {
                    message: format!(
                        "invalid type: {}, expected a context name",
                        other.type_str()
                    ),
                },
            ),
        }
    }

    for (i, codec) in raw.codecs.iter().enumerate() {
        if codec.is_empty()
            || !codec
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._/".contains(&b))
        {
            diag.error(
                format!("{prefix}.codecs[{i}]"),
                ConfigErrorKind::InvalidText {
                    what: "codec name",
                    value: codec.clone(),
                    allowed: "a name such as PCMU, PCMA or G722",
                },
            );
        }
    }

    let mut failover_codes = Vec::new();
    for (i, &code) in raw.failover_codes.iter().enumerate() {
        if diag.range(&format!("{prefix}.failover_codes[{i}]"), code, 300, 699) {
            failover_codes.extend(u16::try_from(code).ok());
        }
    }

    let provisional_timeout = match raw.provisional_timeout_ms {
        0 => None,
        ms => {
            diag.range(
                &format!("{prefix}.provisional_timeout_ms"),
                ms,
                100,
                300_000,
            );
            Some(Duration::from_millis(ms.into()))
        }
    };

    let mut pass_headers = Vec::new();
    for (i, header) in raw.pass_headers.iter().enumerate() {
        let lower = header.to_ascii_lowercase();
        let key = format!("{prefix}.pass_headers[{i}]");
        if lower.is_empty() || !lower.bytes().all(is_token_byte) {
            diag.error(
                key,
                ConfigErrorKind::InvalidText {
                    what: "header name",
                    value: header.clone(),
                    allowed: "a header name (RFC 3261 token characters)",
                },
            );
        } else if OWN_HEADERS.contains(&lower.as_str()) {
            diag.error(
                key,
                ConfigErrorKind::InvalidText {
                    what: "header name",
                    value: header.clone(),
                    allowed: "not a header the switch writes itself (Via, From, To, Call-ID, CSeq, Contact, routing, lengths, credentials, identity)",
                },
            );
        } else {
            pass_headers.push(lower);
        }
    }

    let rates_path = match raw.rates {
        Some(r) if r.is_empty() => {
            diag.error(format!("{prefix}.rates"), ConfigErrorKind::Empty);
            None
        }
        Some(r) => Some(path.parent().unwrap_or(Path::new("")).join(r)),
        None => None,
    };

    let caller_id = raw
        .caller_id
        .map(|t| validate_caller_id(diag, &format!("{prefix}.caller_id"), &t))
        .unwrap_or_default();
    let first_host = gateways.first().map(|g| g.host().to_string());
    let auth = raw
        .auth
        .as_ref()
        .and_then(|t| validate_auth(diag, &format!("{prefix}.auth"), t, first_host));
    let register = raw
        .register
        .map(|t| validate_register(diag, &format!("{prefix}.register"), &t));
    if register.is_some() && raw.auth.is_none() {
        diag.error(
            format!("{prefix}.register"),
            ConfigErrorKind::RegisterWithoutAuth,
        );
    }
    let probe = raw
        .probe
        .map(|t| validate_probe(diag, &format!("{prefix}.probe"), &t))
        .unwrap_or_default();

    if diag.errors.len() != before {
        return None;
    }
    Some(TrunkConfig {
        source: path.to_path_buf(),
        index,
        name: name?,
        profile: profile?,
        gateways,
        inbound,
        context,
        dids,
        max_calls: raw.max_calls,
        max_cps: raw.max_cps,
        codecs: raw.codecs,
        failover_codes,
        provisional_timeout,
        pass_headers,
        rates_path,
        rates: None,
        caller_id,
        auth,
        register: register.flatten(),
        probe,
    })
}

fn validate_caller_id(diag: &mut Diag<'_>, prefix: &str, table: &Table) -> CallerIdRules {
    let (raw, _) = parse_section::<RawCallerId>(diag, prefix, table);
    let from_domain = match raw.from_domain {
        Some(d) if d.is_empty() => {
            diag.error(format!("{prefix}.from_domain"), ConfigErrorKind::Empty);
            None
        }
        Some(d) => match host_text(&d) {
            Some(h) => Some(h),
            None => {
                diag.error(
                    format!("{prefix}.from_domain"),
                    ConfigErrorKind::InvalidText {
                        what: "domain",
                        value: d,
                        allowed: "use a host name, an IPv4 address or an IPv6 address",
                    },
                );
                None
            }
        },
        None => None,
    };
    let number = match raw.number {
        Some(n)
            if n.is_empty()
                || !n
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+*._-".contains(&b)) =>
        {
            diag.error(
                format!("{prefix}.number"),
                ConfigErrorKind::InvalidText {
                    what: "caller number",
                    value: n,
                    allowed: "use digits, letters and + * . _ -",
                },
            );
            None
        }
        n => n,
    };
    CallerIdRules {
        from_domain,
        number,
        asserted: raw.asserted,
    }
}

fn validate_auth(
    diag: &mut Diag<'_>,
    prefix: &str,
    table: &Table,
    first_host: Option<String>,
) -> Option<TrunkAuth> {
    let (raw, p) = parse_section::<RawTrunkAuth>(diag, prefix, table);
    let username = p
        .ok(&["username"])
        .then(|| {
            required_quotable(
                diag,
                &format!("{prefix}.username"),
                raw.username,
                "user name",
            )
        })
        .flatten();
    let password = p
        .ok(&["password"])
        .then(|| required_text(diag, &format!("{prefix}.password"), raw.password))
        .flatten();
    let realm = match raw.realm {
        Some(r) => required_quotable(diag, &format!("{prefix}.realm"), Some(r), "realm"),
        None => first_host,
    };
    Some(TrunkAuth {
        username: username?,
        password: password?,
        realm: realm?,
    })
}

fn validate_register(diag: &mut Diag<'_>, prefix: &str, table: &Table) -> Option<RegisterSettings> {
    let (raw, p) = parse_section::<RawRegister>(diag, prefix, table);
    let mut ok = p.none();
    if p.ok(&["expires_secs"]) {
        ok &= diag.range(
            &format!("{prefix}.expires_secs"),
            raw.expires_secs,
            60,
            86_400,
        );
    }
    if p.ok(&["retry_secs"]) {
        ok &= diag.range(&format!("{prefix}.retry_secs"), raw.retry_secs, 1, 3_600);
    }
    ok.then(|| RegisterSettings {
        expires: Duration::from_secs(raw.expires_secs.into()),
        retry: Duration::from_secs(raw.retry_secs.into()),
    })
}

fn validate_probe(diag: &mut Diag<'_>, prefix: &str, table: &Table) -> ProbeSettings {
    let (raw, p) = parse_section::<RawProbe>(diag, prefix, table);
    for (key, value, max) in [
        ("interval_secs", raw.interval_secs, 3_600),
        ("down_after", raw.down_after, 100),
        ("up_after", raw.up_after, 100),
    ] {
        if p.ok(&[key]) {
            diag.range(&format!("{prefix}.{key}"), value, 1, max);
        }
    }
    ProbeSettings {
        enabled: raw.enabled,
        interval: Duration::from_secs(raw.interval_secs.into()),
        down_after: raw.down_after,
        up_after: raw.up_after,
    }
}

fn validate_group(
    diag: &mut Diag<'_>,
    path: &Path,
    index: usize,
    table: &Table,
) -> Option<RouteGroupConfig> {
    let prefix = format!("route_group[{index}]");
    let before = diag.errors.len();
    let (raw, p) = parse_section::<RawRouteGroup>(diag, &prefix, table);
    let name = p
        .ok(&["name"])
        .then(|| {
            required_name(
                diag,
                &format!("{prefix}.name"),
                raw.name,
                "route group name",
            )
        })
        .flatten();
    let mut members: Vec<Member> = Vec::new();
    let mut first_index: HashMap<String, usize> = HashMap::new();
    if p.ok(&["trunks"]) {
        match raw.trunks {
            None => diag.error(format!("{prefix}.trunks"), ConfigErrorKind::Missing),
            Some(list) if list.is_empty() => {
                diag.error(format!("{prefix}.trunks"), ConfigErrorKind::Empty)
            }
            Some(list) => {
                for (i, value) in list.iter().enumerate() {
                    let key = format!("{prefix}.trunks[{i}]");
                    let Some(member) = validate_member(diag, &key, i, value) else {
                        continue;
                    };
                    if let Some(&first) = first_index.get(&member.name) {
                        diag.error(
                            format!("{key}.name"),
                            ConfigErrorKind::DuplicateMember {
                                name: member.name,
                                first_index: first,
                            },
                        );
                        continue;
                    }
                    first_index.insert(member.name.clone(), i);
                    members.push(member);
                }
            }
        }
    }
    if diag.errors.len() != before {
        return None;
    }
    Some(RouteGroupConfig {
        source: path.to_path_buf(),
        index,
        name: name?,
        strategy: raw.strategy,
        members,
    })
}

fn validate_member(diag: &mut Diag<'_>, key: &str, index: usize, value: &Value) -> Option<Member> {
    match value {
        Value::String(name) => {
            let name = required_text(diag, key, Some(name.clone()))?;
            Some(Member {
                index,
                name,
                weight: 1,
                weight_written: false,
            })
        }
        Value::Table(t) => {
            let (raw, p) = parse_section::<RawMember>(diag, key, t);
            let name = p
                .ok(&["name"])
                .then(|| required_text(diag, &format!("{key}.name"), raw.name))
                .flatten();
            let weight = match raw.weight {
                Some(w) if p.ok(&["weight"]) => diag
                    .range(&format!("{key}.weight"), w, 1, 1_000_000)
                    .then_some(w),
                _ => Some(1),
            };
            Some(Member {
                index,
                name: name?,
                weight: weight?,
                weight_written: raw.weight.is_some(),
            })
        }
        _ => {
            diag.error(
                key,
                ConfigErrorKind::NotATable {
                    expected: "a trunk name or a table { name = \"...\", weight = N }",
                },
            );
            None
        }
    }
}

fn required_text(diag: &mut Diag<'_>, key: &str, value: Option<String>) -> Option<String> {
    match value {
        None => diag.error(key, ConfigErrorKind::Missing),
        Some(v) if v.is_empty() => diag.error(key, ConfigErrorKind::Empty),
        Some(v) => return Some(v),
    }
    None
}

fn required_quotable(
    diag: &mut Diag<'_>,
    key: &str,
    value: Option<String>,
    what: &'static str,
) -> Option<String> {
    let v = required_text(diag, key, value)?;
    if is_quotable(&v) {
        return Some(v);
    }
    diag.error(
        key,
        ConfigErrorKind::InvalidText {
            what,
            value: v,
            allowed: "no quotes, backslashes or control characters",
        },
    );
    None
}

fn required_name(
    diag: &mut Diag<'_>,
    key: &str,
    value: Option<String>,
    what: &'static str,
) -> Option<String> {
    let v = required_text(diag, key, value)?;
    let ok = v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        return Some(v);
    }
    diag.error(
        key,
        ConfigErrorKind::InvalidText {
            what,
            value: v,
            allowed: "use letters, digits, '.', '_' and '-' (at most 64)",
        },
    );
    None
}

/// An address (a /32 or /128) or a CIDR block.
fn parse_net(s: &str) -> Option<IpNet> {
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
}

/// A host as it goes into a URI: IPv4, bracketed IPv6, or a lower-cased DNS name.
fn host_text(s: &str) -> Option<String> {
    if let Ok(v6) = s.parse::<Ipv6Addr>() {
        return Some(format!("[{v6}]"));
    }
    match Host::parse(s)? {
        Host::Domain(d) => is_dns_name(&d).then(|| d.to_ascii_lowercase()),
        other => Some(other.to_string()),
    }
}

/// RFC 3261 §25.1 `token` characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}
