//! One caller's walk through the menus: the state machine over a player and a digit source.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tracing::Instrument;

use super::media::{IvrDigits, IvrPlayer};
use super::transfer::{TransferRequest, TransferResolver, TransferTarget};
use super::webhook::{Question, ask};
use crate::call::HangupCause;
use crate::call::app::{AppContext, AppOutcome, CallApp};
use crate::call::record::CallId;
use crate::cluster::BoxFuture;
use crate::config::ivr::{Collect, IvrAction, IvrMenus, IvrWebhook, Menu, Prompt, Variables};
use crate::media::{Audio, MediaPort};

/// Most menu entries in one call; one more hangs the call up (a loop in the menus or a
/// webhook that keeps answering `menu`).
pub const MAX_MENU_TRANSITIONS: u32 = 50;

/// The IVR as a call app: starts in one menu.
pub struct IvrApp {
    menus: Arc<IvrMenus>,
    start: String,
    resolver: TransferResolver,
    http: reqwest::Client,
}

impl std::fmt::Debug for IvrApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IvrApp")
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl IvrApp {
    /// An IVR starting in `start` (a menu of `menus`), transferring through `resolver`,
    /// asking webhooks with `http`.
    pub fn new(
        menus: Arc<IvrMenus>,
        start: impl Into<String>,
        resolver: TransferResolver,
        http: reqwest::Client,
    ) -> Self {
        Self {
            menus,
            start: start.into(),
            resolver,
            http,
        }
    }

    /// Runs the menus over `player` and `digits` until the call is transferred or hung up.
    pub async fn run_with<P: IvrPlayer, D: IvrDigits>(
        self,
        call: &IvrCall,
        player: &mut P,
        digits: &mut D,
    ) -> AppOutcome {
        let session = Session {
            player,
            digits,
            menus: self.menus,
            resolver: self.resolver,
            http: self.http,
            call,
            variables: Variables::new(),
            current: None,
            transitions: 0,
            last_digits: String::new(),
        };
        session.run(self.start).await
    }
}

/// Who the IVR talks to.
#[derive(Debug, Clone)]
pub struct IvrCall {
    /// The call's id.
    pub call_id: CallId,
    /// The caller's number.
    pub caller: String,
    /// The number dialled.
    pub dialled: String,
}

impl CallApp for IvrApp {
    fn run(self: Box<Self>, context: AppContext) -> BoxFuture<'static, AppOutcome> {
        let AppContext {
            call_id,
            remote,
            dialled,
            media,
        } = context;
        let span = tracing::info_span!("ivr", call_id = %call_id, menu = %self.start);
        Box::pin(
            async move {
                let MediaPort {
                    mut player,
                    mut digits,
                } = media;
                let call = IvrCall {
                    call_id,
                    caller: remote,
                    dialled,
                };
                self.run_with(&call, &mut player, &mut digits).await
            }
            .instrument(span),
        )
    }
}

/// What the caller did while prompts played and after.
enum Heard {
    Digit(char),
    Silence,
    /// The port was detached: the call is ending.
    Gone,
}

/// What a menu decided.
enum Step {
    Run(Vec<IvrAction>),
    End(AppOutcome),
}

struct Session<'a, P, D> {
    player: &'a mut P,
    digits: &'a mut D,
    menus: Arc<IvrMenus>,
    resolver: TransferResolver,
    http: reqwest::Client,
    call: &'a IvrCall,
    variables: Variables,
    current: Option<Arc<Menu>>,
    transitions: u32,
    /// The key that led here, or the digits last collected (for webhooks).
    last_digits: String,
}

fn hang_up() -> AppOutcome {
    AppOutcome::HangUp(HangupCause::NormalClearing)
}

impl<P: IvrPlayer, D: IvrDigits> Session<'_, P, D> {
    async fn run(mut self, start: String) -> AppOutcome {
        let mut pending: VecDeque<IvrAction> = VecDeque::from([IvrAction::Menu(start)]);
        loop {
            let action = match pending.pop_front() {
                Some(action) => action,
                None => match &self.current {
                    Some(menu) => IvrAction::Menu(menu.name().to_owned()),
                    None => return hang_up(),
                },
            };
            match action {
                IvrAction::Menu(name) => {
                    self.transitions += 1;
                    if self.transitions > MAX_MENU_TRANSITIONS {
                        tracing::warn!(
                            limit = MAX_MENU_TRANSITIONS,
                            "IVR menu loop: too many menu transitions; hanging up"
                        );
                        return hang_up();
                    }
                    let Some(menu) = self.menus.menu(&name).cloned() else {
                        tracing::warn!(menu = %name, "IVR menu not loaded; hanging up");
                        return AppOutcome::HangUp(HangupCause::TemporaryFailure);
                    };
                    tracing::debug!(menu = %name, "IVR menu");
                    self.current = Some(Arc::clone(&menu));
                    match self.menu(&menu).await {
                        Step::Run(list) => pending = list.into(),
                        Step::End(outcome) => return outcome,
                    }
                }
                IvrAction::Transfer { target, context } => {
                    let number = target.expand(&self.variables);
                    let target = TransferTarget::Number { number, context };
                    if let Some(outcome) = self.transfer(target).await {
                        return outcome;
                    }
                    pending.clear();
                }
                IvrAction::RouteGroup { group, number } => {
                    let number = number.expand(&self.variables);
                    let target = TransferTarget::RouteGroup { group, number };
                    if let Some(outcome) = self.transfer(target).await {
                        return outcome;
                    }
                    pending.clear();
                }
                IvrAction::Play(prompt) => self.player.play(prompt.audio()).await,
                IvrAction::Hangup => {
                    tracing::debug!("IVR hangs up");
                    return hang_up();
                }
                IvrAction::Set(values) => {
                    for (name, value) in values {
                        let value = value.expand(&self.variables);
                        self.variables.insert(name, value);
                    }
                }
                IvrAction::Collect { collect, then } => match self.collect(&collect).await {
                    None => return hang_up(),
                    Some(Some(collected)) => {
                        tracing::debug!(variable = %collect.variable, "IVR digits collected");
                        self.last_digits.clone_from(&collected);
                        self.variables.insert(collect.variable, collected);
                        for action in then.into_iter().rev() {
                            pending.push_front(action);
                        }
                    }
                    Some(None) => {
                        tracing::info!(variable = %collect.variable, "IVR collection too short");
                        self.play_invalid().await;
                        pending.clear();
                    }
                },
                IvrAction::Webhook(webhook) => {
                    pending = match self.webhook(&webhook).await {
                        Some(list) => list.into(),
                        None => VecDeque::from([IvrAction::Menu(webhook.fallback)]),
                    };
                }
            }
        }
    }

    /// Runs one menu: prompts, first digit, retries.
    async fn menu(&mut self, menu: &Menu) -> Step {
        self.digits.clear();
        let mut failures = 0;
        let mut prompts: Vec<Audio> = menu.prompt().iter().map(|p| p.audio().clone()).collect();
        loop {
            let feedback = match self.listen(&prompts, menu.timeout()).await {
                Heard::Gone => return Step::End(hang_up()),
                Heard::Digit(digit) => match menu.key(digit) {
                    Some(list) => {
                        tracing::debug!(menu = menu.name(), %digit, "IVR key");
                        self.last_digits = digit.to_string();
                        return Step::Run(list.to_vec());
                    }
                    None => {
                        tracing::info!(menu = menu.name(), %digit, "IVR invalid key");
                        menu.invalid_prompt()
                    }
                },
                Heard::Silence => {
                    tracing::info!(menu = menu.name(), "IVR timeout: no digit");
                    menu.timeout_prompt()
                }
            };
            failures += 1;
            if failures >= menu.retries() {
                tracing::info!(menu = menu.name(), failures, "IVR tries used up");
                if let Some(prompt) = feedback {
                    self.player.play(prompt.audio()).await;
                }
                return Step::Run(menu.on_failure().to_vec());
            }
            prompts = feedback
                .into_iter()
                .chain(menu.prompt())
                .map(|p| p.audio().clone())
                .collect();
        }
    }

    /// Plays `prompts` in order, stopping at the first digit; then waits up to `wait`.
    async fn listen(&mut self, prompts: &[Audio], wait: Duration) -> Heard {
        for audio in prompts {
            tokio::select! {
                biased;
                digit = self.digits.next() => return heard(digit),
                () = self.player.play(audio) => {}
            }
        }
        match tokio::time::timeout(wait, self.digits.next()).await {
            Ok(digit) => heard(digit),
            Err(_) => Heard::Silence,
        }
    }

    /// Collects digits: None when the caller is gone, Some(None) when too few came.
    async fn collect(&mut self, collect: &Collect) -> Option<Option<String>> {
        let prompts: Vec<Audio> = collect.prompt.iter().map(|p| p.audio().clone()).collect();
        let mut got = String::new();
        let mut next = self.listen(&prompts, collect.first_digit_timeout).await;
        loop {
            match next {
                Heard::Gone => return None,
                Heard::Silence => break,
                Heard::Digit(d) if Some(d) == collect.terminator => break,
                Heard::Digit(d) => {
                    got.push(d);
                    if got.len() >= collect.max {
                        break;
                    }
                }
            }
            next = self.listen(&[], collect.inter_digit_timeout).await;
        }
        Some((got.len() >= collect.min).then_some(got))
    }

    /// Asks the resolver; a failure plays the invalid prompt (the caller goes back to the
    /// menu) and gives None.
    async fn transfer(&mut self, target: TransferTarget) -> Option<AppOutcome> {
        let request = TransferRequest {
            target: target.clone(),
            variables: self.variables.clone(),
        };
        match (self.resolver)(request).await {
            Ok(route) => {
                tracing::info!(?target, "IVR transfer");
                Some(AppOutcome::Transfer(route))
            }
            Err(cause) => {
                tracing::info!(?target, cause = cause.code(), "IVR transfer failed");
                self.play_invalid().await;
                None
            }
        }
    }

    async fn play_invalid(&mut self) {
        let prompt: Option<Prompt> = self
            .current
            .as_ref()
            .and_then(|m| m.invalid_prompt().cloned());
        if let Some(prompt) = prompt {
            self.player.play(prompt.audio()).await;
        }
    }

    async fn webhook(&mut self, webhook: &IvrWebhook) -> Option<Vec<IvrAction>> {
        let url = webhook.url.expand(&self.variables);
        let question = Question {
            call_id: self.call.call_id.to_string(),
            caller: &self.call.caller,
            dialled: &self.call.dialled,
            menu: self.current.as_ref().map(|m| m.name()),
            digits: &self.last_digits,
            variables: &self.variables,
        };
        match ask(&self.http, &url, webhook.timeout, &question, &self.menus).await {
            Ok(actions) => {
                tracing::debug!(actions = actions.len(), "IVR webhook answered");
                Some(actions)
            }
            Err(error) => {
                tracing::warn!(
                    %error,
                    fallback = %webhook.fallback,
                    "IVR webhook failed; going to the fallback menu"
                );
                None
            }
        }
    }
}

fn heard(digit: Option<char>) -> Heard {
    match digit {
        Some(d) => Heard::Digit(d),
        None => Heard::Gone,
    }
}
