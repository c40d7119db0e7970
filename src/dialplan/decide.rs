//! The static routing decision: walk the contexts' rules, first match wins, apply modifiers,
//! follow `goto`. Pure: no I/O, no clock (time comes in as `now`).

use chrono::{DateTime, Utc};

use crate::config::dialplan::{Action, DialplanConfig, Rule};
use crate::telemetry::Pii;

use super::matching::{Subject, matches};
use super::number::normalize;
use super::route::{CallerChange, RingStep, Route, RouteRequest};

/// Most `goto` jumps in one decision; one more ends it with 500 "dialplan loop".
pub const MAX_GOTO_DEPTH: usize = 16;

/// Decides the route of `request` at `now`, starting in `request.context`.
///
/// The first rule of a context whose matchers all hold wins. Its modifiers rewrite the
/// destination (`number`, then `normalize`) and the caller, and its action gives the route;
/// `goto` continues in another context with the rewritten destination and caller. No matching
/// rule gives 404; an unknown context or more than [`MAX_GOTO_DEPTH`] jumps give 500.
/// Webhooks are not consulted here (see [`Router`](super::Router)).
pub fn decide(dialplan: &DialplanConfig, request: &RouteRequest, now: DateTime<Utc>) -> Route {
    decide_in(dialplan, &request.context, request, now)
}

/// [`decide`], starting in `context` instead of the request's.
pub(crate) fn decide_in(
    dialplan: &DialplanConfig,
    context: &str,
    request: &RouteRequest,
    now: DateTime<Utc>,
) -> Route {
    let mut state = State {
        destination: request.destination.clone(),
        caller: request.caller.clone(),
        change: CallerChange::default(),
        allow_trunk_origin: false,
        record: false,
    };
    let mut context = context.to_owned();
    for _ in 0..=MAX_GOTO_DEPTH {
        let Some(ctx) = dialplan.context(&context) else {
            tracing::warn!(context = %context, "dialplan names an unknown context");
            return Route::hangup(500, Some("unknown context"));
        };
        let subject = Subject {
            destination: &state.destination,
            caller: state.caller.as_deref(),
            headers: &request.headers,
            now,
        };
        let Some((rule, captures)) = ctx
            .rules()
            .iter()
            .find_map(|r| matches(r, &subject).map(|c| (r, c)))
        else {
            tracing::debug!(
                context = %context,
                destination = %Pii(&state.destination),
                "no dialplan rule matches"
            );
            return Route::hangup(404, None);
        };
        tracing::debug!(
            context = %context,
            rule = rule.name().unwrap_or(""),
            index = rule.index(),
            "dialplan rule matched"
        );
        let step = apply(rule, captures.as_ref(), &state);
        state = step.state;
        match step.next {
            Next::Route(route) => return route,
            Next::Goto(target) => context = target,
        }
    }
    tracing::warn!(
        context = %request.context,
        depth = MAX_GOTO_DEPTH,
        "dialplan loop: too many goto jumps"
    );
    Route::hangup(500, Some("dialplan loop"))
}

/// The destination, caller and accumulated changes as rules rewrite them.
struct State {
    destination: String,
    caller: Option<String>,
    change: CallerChange,
    allow_trunk_origin: bool,
    record: bool,
}

struct Step {
    state: State,
    next: Next,
}

enum Next {
    Route(Route),
    Goto(String),
}

fn apply(rule: &Rule, captures: Option<&regex::Captures<'_>>, state: &State) -> Step {
    let whole = state.destination.as_str();
    let expand = |t: &crate::config::dialplan::Template| t.expand(captures, whole);
    let mut destination = rule
        .number()
        .map_or_else(|| state.destination.clone(), expand);
    if let Some(region) = rule.normalize() {
        destination = normalize(&destination, region).unwrap_or(destination);
    }
    let mut change = state.change.clone();
    let mut caller = state.caller.clone();
    if let Some(number) = rule.set_caller_number().map(expand) {
        caller = Some(number.clone());
        change.number = Some(number);
    }
    if let Some(name) = rule.set_caller_name().map(expand) {
        change.name = Some(name.replace(|c: char| c == '"' || c == '\\' || c.is_control(), ""));
    }
    change.privacy |= rule.privacy();
    let allow_trunk_origin = state.allow_trunk_origin || rule.allow_trunk_origin();
    let record = state.record || rule.record();

    let ring_step = |extensions: &[crate::config::dialplan::Template], timeout_secs| RingStep {
        extensions: extensions
            .iter()
            .map(expand)
            .filter(|e| !e.is_empty())
            .collect(),
        timeout_secs,
    };
    let next = match rule.action() {
        Action::Ring(extensions) => ring(vec![ring_step(extensions, None)], change.clone(), record),
        Action::RingSequential(steps) => ring(
            steps
                .iter()
                .map(|s| ring_step(s.extensions(), s.timeout_secs()))
                .collect(),
            change.clone(),
            record,
        ),
        Action::RouteGroup(group) => Next::Route(Route::RouteGroup {
            group: group.clone(),
            number: destination.clone(),
            caller: change.clone(),
            allow_trunk_origin,
            record,
        }),
        Action::Goto(context) => Next::Goto(context.clone()),
        Action::Ivr(menu) => Next::Route(Route::Ivr {
            menu: menu.clone(),
            record,
        }),
        Action::Hangup { status, reason } => Next::Route(Route::hangup(*status, reason.as_deref())),
    };
    Step {
        state: State {
            destination,
            caller,
            change,
            allow_trunk_origin,
            record,
        },
        next,
    }
}

/// A ring route; steps whose extensions all expanded to nothing are dropped, and with no
/// step left the call gets 404.
fn ring(steps: Vec<RingStep>, caller: CallerChange, record: bool) -> Next {
    let steps: Vec<RingStep> = steps
        .into_iter()
        .filter(|s| !s.extensions.is_empty())
        .collect();
    if steps.is_empty() {
        return Next::Route(Route::hangup(404, Some("no extension")));
    }
    Next::Route(Route::Ring {
        steps,
        caller,
        record,
    })
}
