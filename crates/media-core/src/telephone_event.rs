//! telephone_event (in progress).
