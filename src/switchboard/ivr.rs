//! The IVR in a call: a dialplan `ivr` route becomes the IVR app, with a transfer resolver
//! that routes the IVR's numbers through the call's dialplan context (or a route group)
//! exactly like a dialled call.

use std::sync::{Arc, LazyLock};

use super::execute::{CallContext, carry_out};
use crate::call::HangupCause;
use crate::call::actor::{CallRoute, RouteDecision};
use crate::call::app::{AppContext, AppOutcome, CallApp};
use crate::cluster::BoxFuture;
use crate::dialplan::{CallerChange, Route, RouteRequest};
use crate::ivr::{IvrApp, TransferRequest, TransferResolver, TransferTarget};

/// The HTTP client of IVR webhook steps, shared by all calls (built once; per-step
/// timeouts bound each request).
static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap_or_default()
});

/// The decision for a dialplan `ivr = "<menu>"` route: the IVR app, or 503 when the menu
/// is not loaded (the built-in dialplan's demo without `dialplans/ivr/`, a webhook router
/// naming an unknown menu).
pub(super) fn start(menu: &str, record: bool, context: CallContext) -> RouteDecision {
    let Some(menus) = context
        .routing
        .ivr
        .has_menu(menu)
        .then(|| Arc::clone(&context.routing.ivr))
    else {
        tracing::warn!(
            menu,
            "IVR menu not loaded (dialplans/ivr/*.toml); refusing the call"
        );
        return RouteDecision::Reject(HangupCause::TemporaryFailure);
    };
    let app = IvrApp::new(menus, menu, resolver(context, record), HTTP.clone());
    RouteDecision::App(Box::new(Recorded { app, record }))
}

/// Routes the IVR's transfers with the call's context, identity and trunk slot.
fn resolver(context: CallContext, record: bool) -> TransferResolver {
    let context = Arc::new(context);
    Arc::new(move |request: TransferRequest| {
        let context = Arc::clone(&context);
        let future: BoxFuture<'static, Result<Box<dyn CallRoute>, HangupCause>> =
            Box::pin(async move { transfer(&context, request, record).await });
        future
    })
}

async fn transfer(
    context: &CallContext,
    request: TransferRequest,
    record: bool,
) -> Result<Box<dyn CallRoute>, HangupCause> {
    let route = match request.target {
        TransferTarget::Number {
            number,
            context: ctx,
        } => {
            let routed = RouteRequest {
                context: ctx.unwrap_or_else(|| context.request.context.clone()),
                destination: number,
                ..context.request.clone()
            };
            context
                .router
                .route(&context.routing.dialplan, &routed, chrono::Utc::now())
                .await
        }
        TransferTarget::RouteGroup { group, number } => Route::RouteGroup {
            group,
            number,
            caller: CallerChange::default(),
            // The IVR's own configuration names the group: not a caller's free choice.
            allow_trunk_origin: true,
            record: false,
        },
    };
    if let Err(error) = route.validate() {
        tracing::warn!(%error, "IVR transfer route is invalid");
        return Err(HangupCause::TemporaryFailure);
    }
    let record = record || route.record();
    match context.wrap(carry_out(route, context).await, record) {
        RouteDecision::Dial(route) => Ok(route),
        RouteDecision::Reject(cause) => Err(cause),
        RouteDecision::App(app) => {
            app.not_run(HangupCause::UnallocatedNumber);
            Err(HangupCause::UnallocatedNumber)
        }
    }
}

/// The IVR app with its route's `record` flag.
struct Recorded {
    app: IvrApp,
    record: bool,
}

impl CallApp for Recorded {
    fn run(self: Box<Self>, context: AppContext) -> BoxFuture<'static, AppOutcome> {
        Box::new(self.app).run(context)
    }

    fn record(&self) -> bool {
        self.record
    }
}
