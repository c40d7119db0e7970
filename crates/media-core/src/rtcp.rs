//! rtcp (in progress).
