//! The background work of the trunks: DNS resolution of named gateways (RFC 3263), OPTIONS
//! probes of every gateway address, and registrations with the carriers that want them. One
//! generation of tasks per trunk table: a reload stops the old generation and starts a new
//! one over the reloaded table (gateways that kept their URI keep their health).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use sip_core::message::Uri;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::dns::{HickoryLookup, refresh};
use super::probe::{ProbeReport, ProbeTarget, run_probe};
use super::register::{
    DigestAccount, RegistrationReport, RegistrationSpec, RegistrationState, run_registration,
};
use super::{HealthSource, Trunks};
use crate::config::trunks::TrunksConfig;
use crate::sip::client::{SipClient, local_uri};
use crate::transport::Transport;

/// How often named gateways are resolved again.
const DNS_REFRESH: Duration = Duration::from_secs(300);

/// Runs the trunks' background tasks; see the module doc.
#[derive(Debug)]
pub struct TrunkServices {
    client: SipClient,
    shutdown: CancellationToken,
    generation: CancellationToken,
    tracker: TaskTracker,
}

impl TrunkServices {
    /// Starts the tasks of `trunks` (configured by `config`); all stop on `shutdown`.
    pub fn start(
        trunks: &Trunks,
        config: &TrunksConfig,
        client: SipClient,
        shutdown: &CancellationToken,
    ) -> Self {
        let services = Self {
            client,
            shutdown: shutdown.clone(),
            generation: shutdown.child_token(),
            tracker: TaskTracker::new(),
        };
        services.spawn(trunks, config);
        services
    }

    /// Replaces the tasks with those of a reloaded table.
    pub fn restart(&mut self, trunks: &Trunks, config: &TrunksConfig) {
        self.generation.cancel();
        self.generation = self.shutdown.child_token();
        self.spawn(trunks, config);
    }

    /// Waits (at most `grace`) for the tasks to stop after shutdown: registrations remove
    /// their bindings first.
    pub async fn stopped(&self, grace: Duration) {
        self.generation.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("trunk tasks still running after the grace period");
        }
    }

    fn spawn(&self, trunks: &Trunks, config: &TrunksConfig) {
        let token = self.generation.clone();
        let trunks = trunks.clone();
        let client = self.client.clone();
        let tracker = self.tracker.clone();
        let config = config.clone();
        self.tracker.spawn(async move {
            let lookup = match HickoryLookup::from_system() {
                Ok(lookup) => Some(lookup),
                Err(error) => {
                    tracing::warn!(%error, "no DNS resolver: gateways named by host name stay unresolved");
                    None
                }
            };
            resolve_all(&trunks, lookup.as_ref()).await;
            for spec in registrations(&trunks, &config) {
                let report = registration_report(spec.trunk.clone());
                tracker.spawn(run_registration(
                    client.clone(),
                    spec,
                    report,
                    token.clone(),
                ));
            }
            for gateway in trunks.gateways() {
                if !gateway.probe().enabled() {
                    continue;
                }
                let Some(uri) = Uri::parse(gateway.uri().as_str()) else {
                    continue;
                };
                for flow in gateway.probe_flows() {
                    let target = ProbeTarget {
                        gateway: gateway.id().to_owned(),
                        uri: uri.clone(),
                        flow,
                        interval: gateway.probe().interval(),
                    };
                    tracker.spawn(run_probe(
                        client.clone(),
                        target,
                        probe_report(trunks.clone(), flow.remote),
                        token.clone(),
                    ));
                }
            }
            let Some(lookup) = lookup else {
                return;
            };
            loop {
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(DNS_REFRESH) => {}
                }
                resolve_all(&trunks, Some(&lookup)).await;
            }
        });
    }
}

/// Resolves every named gateway once; failures are logged and keep the old addresses.
async fn resolve_all(trunks: &Trunks, lookup: Option<&HickoryLookup>) {
    let Some(lookup) = lookup else {
        return;
    };
    for (gateway, error) in refresh(trunks, lookup).await {
        tracing::warn!(gateway = %gateway, %error, "gateway not resolved");
    }
}

/// Feeds probe results into the gateway's health and logs its changes.
fn probe_report(trunks: Trunks, remote: SocketAddr) -> ProbeReport {
    Arc::new(move |result| {
        let alive = result.outcome.is_alive();
        tracing::trace!(gateway = %result.gateway, ?result.outcome, "probe");
        if let Some(change) = trunks.report_probe(&result.gateway, remote, alive) {
            trunks.publish_health(&result.gateway, remote, &change, HealthSource::Probe);
            if change.up {
                tracing::info!(gateway = %change.gateway, reason = change.reason.as_str(), "gateway up");
            } else {
                tracing::warn!(gateway = %change.gateway, reason = change.reason.as_str(), "gateway down");
            }
        }
    })
}

/// Logs a registration's state changes.
fn registration_report(trunk: String) -> RegistrationReport {
    Arc::new(move |state| match state {
        RegistrationState::Registered { expires } => {
            tracing::info!(trunk = %trunk, expires_secs = expires.as_secs(), "registered with carrier");
        }
        RegistrationState::Failed(failure) => {
            tracing::warn!(trunk = %trunk, ?failure, "registration with carrier failed");
        }
        RegistrationState::Unregistered => {
            tracing::info!(trunk = %trunk, "unregistered from carrier");
        }
    })
}

/// The registration of every trunk that asks for one, with its first gateway as registrar,
/// over that gateway's first flow (TCP for a `;transport=tcp` gateway: the Contact then names
/// the profile's TCP listener). A trunk whose first gateway has no address (yet) is skipped
/// with a warning.
fn registrations(trunks: &Trunks, config: &TrunksConfig) -> Vec<RegistrationSpec> {
    let mut specs = Vec::new();
    for trunk in config.trunks() {
        let Some(register) = trunk.register() else {
            continue;
        };
        let Some(gateway) = trunks
            .gateways()
            .into_iter()
            .find(|g| g.trunk() == trunk.name())
        else {
            continue;
        };
        let Some(flow) = gateway.probe_flows().into_iter().next() else {
            tracing::warn!(
                trunk = trunk.name(),
                "registrar has no address: not registering"
            );
            continue;
        };
        // RFC 3261 §10.2.1: the registrar's URI, with the transport the binding is made over.
        let transport = match flow.transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
        };
        let registrar = format!("sip:{}{transport}", gateway.uri().host_port());
        let Some(registrar) = Uri::parse(&registrar) else {
            continue;
        };
        let auth = trunk.auth();
        let user = auth.map_or_else(|| trunk.name().to_owned(), |a| a.username().to_owned());
        specs.push(RegistrationSpec {
            trunk: trunk.name().to_owned(),
            registrar,
            flow,
            contact: local_uri(&flow, Some(&user)),
            user,
            domain: gateway.uri().host_port(),
            expires: u32::try_from(register.expires().as_secs()).unwrap_or(u32::MAX),
            retry: register.retry(),
            credentials: auth.map(|a| DigestAccount {
                username: a.username().to_owned(),
                password: a.password().to_owned(),
                realm: a.realm().to_owned(),
            }),
        });
    }
    specs
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::trunks::parse_trunk_file;
    use crate::transport::Peer;
    use crate::trunk::ProfileListeners;

    #[test]
    fn a_tcp_registrar_is_registered_with_over_tcp_with_a_tcp_contact() {
        let text = r#"
[[trunk]]
name = "a"
profile = "carriers"
gateways = ["sip:127.0.0.1:5071;transport=tcp"]
[trunk.auth]
username = "acct"
password = "secret"
[trunk.register]
"#;
        let path = PathBuf::from("sip-profiles/trunks/t.toml");
        let (t, g, e) = parse_trunk_file(&path, text);
        assert!(e.is_empty(), "{e:?}");
        let (config, e) = TrunksConfig::build(vec![(path, t, g)], &["carriers"]);
        assert!(e.is_empty(), "{e:?}");
        let mut listeners = ProfileListeners::new();
        listeners.insert(
            "carriers".into(),
            vec![
                (Transport::Udp, "127.0.0.1:5080".parse().unwrap()),
                (Transport::Tcp, "127.0.0.1:5090".parse().unwrap()),
            ],
        );
        let trunks = Trunks::new(&config, &listeners);
        let specs = registrations(&trunks, &config);
        assert_eq!(specs.len(), 1);
        let spec = &specs[0];
        assert_eq!(
            spec.flow,
            Peer {
                transport: Transport::Tcp,
                remote: "127.0.0.1:5071".parse().unwrap(),
                local: "127.0.0.1:5090".parse().unwrap(),
            }
        );
        assert_eq!(
            spec.registrar.to_string(),
            "sip:127.0.0.1:5071;transport=tcp"
        );
        assert_eq!(
            spec.contact.to_string(),
            "sip:acct@127.0.0.1:5090;transport=tcp"
        );
    }
}
