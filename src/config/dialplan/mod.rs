//! Dialplan files (`dialplans/*.toml`): contexts of ordered rules, validated into typed
//! matchers, one action per rule and modifiers. The schema is documented in
//! `dialplans/README.md`.
//!
//! [`parse_dialplan_file`] validates one file; [`DialplanConfig::build`] joins the files and
//! checks references between contexts. The routing decision over these types lives in
//! `crate::dialplan`.

mod context;
mod matchers;
mod plan;
mod raw;
mod rule;
mod template;
mod validate;

#[cfg(test)]
mod tests;

pub use context::{Context, Webhook};
pub use plan::{DEFAULT_CONTEXT, DialplanConfig};
pub use rule::{Action, HeaderMatcher, NumberMatcher, Rule, SequentialStep, TimeWindow};
pub use template::Template;
pub use validate::parse_dialplan_file;
