//! SIP dialogs (RFC 3261 §12): UAC and UAS, early and confirmed (in progress).
