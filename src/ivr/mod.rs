//! IVR menus: prompts, digit maps, digit collection into call variables, transfers, the
//! webhook step. Runs as a [`crate::call::app::CallApp`] on a call the switch answered.
//!
//! [`IvrApp`] walks the menus of [`crate::config::ivr::IvrMenus`]: a menu plays its prompts
//! (a digit interrupts them: barge-in), waits for the first digit, runs the key's actions,
//! and after `retries` invalid or timed-out tries runs `on_failure`. Actions go to a menu,
//! transfer (through the [`TransferResolver`] the switchboard provides: `ivr` never routes
//! itself), play, hang up, set or collect call variables, or ask a webhook for the next
//! actions. An action list that runs out returns to the current menu; at most
//! [`MAX_MENU_TRANSITIONS`] menu entries per call guard against loops.

mod media;
mod session;
mod transfer;
mod webhook;

#[cfg(test)]
mod tests;

pub use media::{IvrDigits, IvrPlayer};
pub use session::{IvrApp, IvrCall, MAX_MENU_TRANSITIONS};
pub use transfer::{TransferRequest, TransferResolver, TransferTarget};
pub use webhook::{IvrWebhookError, MAX_ANSWER_BYTES};
