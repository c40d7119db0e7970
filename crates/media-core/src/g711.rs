//! g711 (in progress).
