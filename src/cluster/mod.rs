//! Shared live state behind traits (LocationStore, …) with the in-memory backend.
