//! `Pii<T>`: personal data that logs print only when the operator allowed it.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Process-wide switch: logging is configured once per process, like the subscriber.
static SHOW_PII: AtomicBool = AtomicBool::new(false);

/// Allows (or forbids again) printing the contents of [`Pii`] values.
pub fn set_show_pii(show: bool) {
    SHOW_PII.store(show, Ordering::Relaxed);
}

/// Whether [`Pii`] values are printed in clear.
pub fn show_pii() -> bool {
    SHOW_PII.load(Ordering::Relaxed)
}

/// Personal data (a user name, a phone number, a display name). `Display` and `Debug` print
/// `<redacted>` unless [`set_show_pii`]`(true)` was called; then they print the inner value.
///
/// Use it in tracing fields: `tracing::info!(user = %Pii(name), "registered")`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Pii<T>(pub T);

impl<T> Pii<T> {
    /// The wrapped value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

const REDACTED: &str = "<redacted>";

impl<T: fmt::Display> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if show_pii() {
            self.0.fmt(f)
        } else {
            f.write_str(REDACTED)
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if show_pii() {
            self.0.fmt(f)
        } else {
            f.write_str(REDACTED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test, because the switch is process-wide and tests run in parallel.
    #[test]
    fn pii_is_redacted_unless_showing_is_allowed() {
        let user = Pii("1000");
        assert_eq!(format!("{user} {user:?}"), "<redacted> <redacted>");
        set_show_pii(true);
        assert_eq!(format!("{user} {user:?}"), "1000 \"1000\"");
        set_show_pii(false);
        assert_eq!(user.to_string(), "<redacted>");
    }
}
