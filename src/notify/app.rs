//! The notification as a call app: once the called party answers, plays the prompts, then
//! the confirmation step (prompt, wait for the digit, repeat on a timeout or a wrong digit;
//! the right digit plays the thanks prompt) and hangs up. The attempt's result goes to the
//! scheduler over a oneshot channel, exactly once: also when the call ends mid-prompt (the
//! app is dropped: `answered`) or the leg never answers (`not_run`: no answer, busy, failed).

use std::time::Duration;

use tokio::sync::oneshot;

use super::retry::AttemptResult;
use crate::call::HangupCause;
use crate::call::app::{AppContext, AppOutcome, CallApp};
use crate::cluster::BoxFuture;
use crate::media::{Audio, MediaPort};

/// The decoded confirmation step.
#[derive(Debug, Clone)]
pub struct Confirmation {
    /// Asks for the digit.
    pub prompt: Audio,
    /// The digit that confirms.
    pub digit: char,
    /// Wait for the digit after the prompt.
    pub timeout: Duration,
    /// Repeats after a timeout or a wrong digit.
    pub retries: u32,
    /// Played after the right digit.
    pub thanks: Option<Audio>,
}

/// Sends the attempt's result once; what it holds when dropped unsent is sent then.
#[derive(Debug)]
struct Report {
    sender: Option<oneshot::Sender<AttemptResult>>,
    /// The result if nothing better is known when the report is dropped.
    fallback: AttemptResult,
}

impl Report {
    fn send(&mut self, result: AttemptResult) {
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(result);
        }
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        let fallback = std::mem::replace(&mut self.fallback, AttemptResult::Interrupted);
        self.send(fallback);
    }
}

/// One attempt's app.
#[derive(Debug)]
pub struct NotificationApp {
    prompts: Vec<Audio>,
    confirm: Option<Confirmation>,
    report: Report,
}

impl NotificationApp {
    /// The app of one attempt, and where its result arrives.
    pub fn new(
        prompts: Vec<Audio>,
        confirm: Option<Confirmation>,
    ) -> (Self, oneshot::Receiver<AttemptResult>) {
        let (sender, receiver) = oneshot::channel();
        let app = Self {
            prompts,
            confirm,
            report: Report {
                sender: Some(sender),
                fallback: AttemptResult::Failed {
                    reason: "the call ended before it was set up".into(),
                },
            },
        };
        (app, receiver)
    }
}

impl CallApp for NotificationApp {
    fn run(self: Box<Self>, context: AppContext) -> BoxFuture<'static, AppOutcome> {
        let NotificationApp {
            prompts,
            confirm,
            mut report,
        } = *self;
        report.fallback = AttemptResult::Answered { digit: None };
        Box::pin(async move {
            let mut media = context.media;
            for prompt in &prompts {
                media.player.play(prompt).await;
            }
            let result = match &confirm {
                None => AttemptResult::Answered { digit: None },
                Some(confirm) => ask(&mut media, confirm, &mut report).await,
            };
            report.send(result);
            AppOutcome::HangUp(HangupCause::NormalClearing)
        })
    }

    fn not_run(self: Box<Self>, cause: HangupCause) {
        let mut this = *self;
        this.report.send(AttemptResult::from_cause(cause));
    }
}

/// The confirmation step: the prompt, then the wait, up to `retries` repeats. A digit
/// pressed earlier (during the prompts or the confirmation prompt) counts: callers who know
/// the message may answer ahead. The right digit is reported before the thanks prompt plays, so
/// a hangup during it keeps the confirmation.
async fn ask(media: &mut MediaPort, confirm: &Confirmation, report: &mut Report) -> AttemptResult {
    let mut wrong = None;
    for _ in 0..=confirm.retries {
        let pressed = tokio::select! {
            digit = media.digits.next() => digit,
            () = media.player.play(&confirm.prompt) => {
                match tokio::time::timeout(confirm.timeout, media.digits.next()).await {
                    Ok(digit) => digit,
                    Err(_) => continue,
                }
            }
        };
        match pressed {
            Some(digit) if digit == confirm.digit => {
                report.send(AttemptResult::Confirmed { digit });
                if let Some(thanks) = &confirm.thanks {
                    media.player.play(thanks).await;
                }
                return AttemptResult::Confirmed { digit };
            }
            Some(digit) => {
                wrong = Some(digit);
                report.fallback = AttemptResult::Answered { digit: wrong };
            }
            // The port was detached: the call is ending.
            None => break,
        }
    }
    AttemptResult::Answered { digit: wrong }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn an_app_that_never_runs_reports_from_the_cause() {
        let (app, mut result) = NotificationApp::new(Vec::new(), None);
        Box::new(app).not_run(HangupCause::UserBusy);
        assert_eq!(result.try_recv().unwrap(), AttemptResult::Busy);
    }

    #[test]
    fn an_app_dropped_before_it_ran_reports_a_failure() {
        let (app, mut result) = NotificationApp::new(Vec::new(), None);
        drop(app);
        assert_eq!(result.try_recv().unwrap().as_str(), "failed");
    }
}
