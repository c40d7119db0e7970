//! Configuration: raw serde types, validation into resolved types, errors with file and key.
