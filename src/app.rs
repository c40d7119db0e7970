//! Composition root: builds the services from the validated config, picks backends, owns
//! shutdown and drain.

use tokio_util::sync::CancellationToken;

/// Runs the switch until `shutdown` is cancelled.
pub async fn run(shutdown: CancellationToken) {
    shutdown.cancelled().await;
}
