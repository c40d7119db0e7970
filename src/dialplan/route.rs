//! The routing question and its answer: [`RouteRequest`] in, [`Route`] out. Both are plain
//! data with a JSON form, because a webhook router receives the request and answers the
//! route.

use serde::{Deserialize, Serialize};

/// What the dialplan decides on: a new call's dialled number, caller and origin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRequest {
    /// The context to start in (the profile's, the trunk's or the DID's).
    pub context: String,
    /// The dialled number (user part of the Request-URI).
    pub destination: String,
    /// The caller's number (user part of the From URI), if any.
    pub caller: Option<String>,
    /// The caller's display name, if any.
    pub caller_name: Option<String>,
    /// Headers of the INVITE offered to `header` matchers: (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// The trunk the call came in from; `None` for calls from phones.
    pub from_trunk: Option<String>,
    /// The profile that received the call.
    pub profile: String,
}

/// What to do with the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Route {
    /// Ring extensions: each step's extensions at once, the steps in turn.
    Ring {
        /// At least one step, each with at least one extension.
        steps: Vec<RingStep>,
        /// Changes to the caller identity shown to the callee.
        #[serde(default)]
        caller: CallerChange,
        /// Record the call from answer (a rule's `record = true`).
        #[serde(default)]
        record: bool,
    },
    /// Send the call out through a group of carrier trunks.
    RouteGroup {
        /// The route group's name.
        group: String,
        /// The number to dial at the carrier.
        number: String,
        /// Changes to the caller identity shown to the carrier.
        #[serde(default)]
        caller: CallerChange,
        /// Whether a call that came in from a trunk may leave this way (toll-fraud guard).
        #[serde(default)]
        allow_trunk_origin: bool,
        /// Record the call from answer (a rule's `record = true`).
        #[serde(default)]
        record: bool,
    },
    /// Answer the call in the switch and run an IVR menu.
    Ivr {
        /// The menu (a `dialplans/ivr/*.toml` menu name).
        menu: String,
        /// Record the call from answer (a rule's `record = true`).
        #[serde(default)]
        record: bool,
    },
    /// Refuse the call with a final status.
    Hangup {
        /// 400..=699.
        status: u16,
        /// Reason phrase; the standard one when absent.
        #[serde(default)]
        reason: Option<String>,
    },
}

impl Route {
    /// A hangup with this status and reason.
    pub fn hangup(status: u16, reason: Option<&str>) -> Self {
        Route::Hangup {
            status,
            reason: reason.map(str::to_owned),
        }
    }

    /// Whether the route asks for the call to be recorded from answer.
    pub fn record(&self) -> bool {
        match self {
            Route::Ring { record, .. }
            | Route::RouteGroup { record, .. }
            | Route::Ivr { record, .. } => *record,
            Route::Hangup { .. } => false,
        }
    }

    /// Checks what the types cannot say: a status in 400..=699, at least one step, at least
    /// one non-empty extension per step, non-zero step timeouts, a group and number, a menu
    /// name, and no control characters in text that goes into SIP headers.
    pub fn validate(&self) -> Result<(), RouteError> {
        match self {
            Route::Ring { steps, caller, .. } => {
                if steps.is_empty() {
                    return Err(RouteError::NoSteps);
                }
                for step in steps {
                    if step.extensions.is_empty() {
                        return Err(RouteError::EmptyStep);
                    }
                    if step.extensions.iter().any(|e| !is_sip_text(e)) {
                        return Err(RouteError::BadText { field: "extension" });
                    }
                    if step.timeout_secs == Some(0) {
                        return Err(RouteError::ZeroTimeout);
                    }
                }
                caller.validate()
            }
            Route::RouteGroup {
                group,
                number,
                caller,
                ..
            } => {
                if !is_sip_text(group) {
                    return Err(RouteError::BadText { field: "group" });
                }
                if !is_sip_text(number) {
                    return Err(RouteError::BadText { field: "number" });
                }
                caller.validate()
            }
            Route::Ivr { menu, .. } => {
                if is_sip_text(menu) {
                    Ok(())
                } else {
                    Err(RouteError::BadText { field: "menu" })
                }
            }
            Route::Hangup { status, reason } => {
                if !(400..=699).contains(status) {
                    return Err(RouteError::Status(*status));
                }
                match reason {
                    Some(r) if !is_sip_text(r) => Err(RouteError::BadText { field: "reason" }),
                    _ => Ok(()),
                }
            }
        }
    }
}

/// One step of ringing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RingStep {
    /// Extensions (user names) rung at once.
    pub extensions: Vec<String>,
    /// How long the step rings; the profile's ring timeout when absent.
    #[serde(default)]
    pub timeout_secs: Option<u32>,
}

/// Changes to the caller identity; the default changes nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallerChange {
    /// New caller number.
    pub number: Option<String>,
    /// New caller display name.
    pub name: Option<String>,
    /// Ask for identity privacy (RFC 3323 `Privacy: id`).
    pub privacy: bool,
}

impl CallerChange {
    fn validate(&self) -> Result<(), RouteError> {
        if self.number.as_deref().is_some_and(|n| !is_sip_text(n)) {
            return Err(RouteError::BadText {
                field: "caller.number",
            });
        }
        if self
            .name
            .as_deref()
            .is_some_and(|n| n.chars().any(|c| c == '"' || c == '\\' || c.is_control()))
        {
            return Err(RouteError::BadText {
                field: "caller.name",
            });
        }
        Ok(())
    }
}

/// Non-empty, with no control characters (it goes into a SIP header or status line).
fn is_sip_text(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

/// Why a [`Route`] (from a webhook) is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// A hangup status outside 400..=699.
    #[error("hangup status {0} is outside 400..=699")]
    Status(u16),
    /// A ring route without steps.
    #[error("ring route has no steps")]
    NoSteps,
    /// A ring step without extensions.
    #[error("ring step has no extensions")]
    EmptyStep,
    /// A ring step with a zero timeout.
    #[error("ring step timeout_secs is 0")]
    ZeroTimeout,
    /// Empty text, or text with control characters (or quotes, in a caller name).
    #[error("{field} is empty or holds characters not allowed in SIP")]
    BadText {
        /// The field.
        field: &'static str,
    },
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn routes_round_trip_through_json() {
        let routes = [
            Route::Ring {
                steps: vec![
                    RingStep {
                        extensions: vec!["1001".into(), "1002".into()],
                        timeout_secs: Some(20),
                    },
                    RingStep {
                        extensions: vec!["1003".into()],
                        timeout_secs: None,
                    },
                ],
                caller: CallerChange {
                    number: Some("+15551230000".into()),
                    name: Some("ACME".into()),
                    privacy: true,
                },
                record: false,
            },
            Route::RouteGroup {
                group: "pstn".into(),
                number: "+12125551234".into(),
                caller: CallerChange::default(),
                allow_trunk_origin: true,
                record: false,
            },
            Route::hangup(486, Some("Busy Here")),
        ];
        for route in routes {
            let json = serde_json::to_string(&route).unwrap();
            assert_eq!(
                serde_json::from_str::<Route>(&json).unwrap(),
                route,
                "{json}"
            );
        }
    }

    #[test]
    fn the_json_form_is_tagged_by_action_with_optional_parts_defaulted() {
        let json = r#"{"action":"route_group","group":"pstn","number":"+1212"}"#;
        assert_eq!(
            serde_json::from_str::<Route>(json).unwrap(),
            Route::RouteGroup {
                group: "pstn".into(),
                number: "+1212".into(),
                caller: CallerChange::default(),
                allow_trunk_origin: false,
                record: false,
            }
        );
        let json = r#"{"action":"ring","steps":[{"extensions":["1001"]}]}"#;
        assert!(serde_json::from_str::<Route>(json).is_ok());
        assert_eq!(
            serde_json::to_value(Route::hangup(404, None)).unwrap(),
            serde_json::json!({"action": "hangup", "status": 404, "reason": null})
        );
    }

    #[test]
    fn unknown_actions_and_fields_are_rejected() {
        for json in [
            r#"{"action":"goto","context":"x"}"#,
            r#"{"action":"hangup","status":486,"extra":1}"#,
            r#"{"action":"ring","steps":[{"extensions":["1"],"x":1}]}"#,
            r#"{"status":486}"#,
        ] {
            assert!(serde_json::from_str::<Route>(json).is_err(), "{json}");
        }
    }

    #[test]
    fn validation_rejects_routes_the_switch_cannot_carry_out() {
        let ring = |steps: Vec<RingStep>| Route::Ring {
            steps,
            caller: CallerChange::default(),
            record: false,
        };
        let step = |e: &[&str], t| RingStep {
            extensions: e.iter().map(|s| s.to_string()).collect(),
            timeout_secs: t,
        };
        assert_eq!(
            Route::hangup(200, None).validate(),
            Err(RouteError::Status(200))
        );
        assert_eq!(
            Route::hangup(700, None).validate(),
            Err(RouteError::Status(700))
        );
        assert_eq!(ring(vec![]).validate(), Err(RouteError::NoSteps));
        assert_eq!(
            ring(vec![step(&[], None)]).validate(),
            Err(RouteError::EmptyStep)
        );
        assert!(ring(vec![step(&[""], None)]).validate().is_err());
        assert_eq!(
            ring(vec![step(&["1"], Some(0))]).validate(),
            Err(RouteError::ZeroTimeout)
        );
        assert!(Route::hangup(486, Some("Busy\r\nX: y")).validate().is_err());
        assert!(ring(vec![step(&["1001"], Some(5))]).validate().is_ok());
        assert!(Route::hangup(699, Some("Declined")).validate().is_ok());
    }
}
