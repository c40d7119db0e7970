//! Music on hold: while one side of a bridged call holds (its SDP sendonly or inactive), the
//! switch plays the profile's music to the other side through a port attached there, and
//! drops the port (the relay bridges again) when the holder resumes.

use crate::call::record::LegSide;
use crate::cluster::BoxFuture;
use crate::media::{DtmfDetection, Side};
use crate::telemetry::metrics::metrics;

use super::CallActor;

/// The music playing to the side that did not hold.
pub(super) struct HoldMusic {
    /// The side that holds.
    held: LegSide,
    /// Loops the music into the port it owns; dropping it detaches the port.
    pub(super) playing: BoxFuture<'static, ()>,
}

impl Drop for HoldMusic {
    fn drop(&mut self) {
        metrics().playback_finished();
    }
}

fn media_side(side: LegSide) -> Side {
    match side {
        LegSide::A => Side::A,
        LegSide::B => Side::B,
    }
}

impl CallActor {
    /// `side`'s phone holds or resumes: music to the other side starts or stops.
    pub(super) fn hold_music(&mut self, side: LegSide, on_hold: bool) {
        if !on_hold {
            if self.music.as_ref().is_some_and(|m| m.held == side) {
                tracing::debug!("music on hold stops");
                self.music = None;
            }
            return;
        }
        let bridged = self.lifecycle_answered && !self.machine.in_app() && !self.app.is_running();
        if self.music.is_some() || !bridged || self.machine.is_ended() {
            return;
        }
        let (Some(relay), Some(audio)) = (&self.relay, &self.options.music_on_hold) else {
            return;
        };
        let listener = match side {
            LegSide::A => LegSide::B,
            LegSide::B => LegSide::A,
        };
        let Some(format) = self.machine.media_format(listener) else {
            tracing::debug!("no G.711 on the other side: no music on hold");
            return;
        };
        let detection = DtmfDetection {
            rfc4733: false,
            inband: false,
        };
        let mut port = relay.attach(media_side(listener), format, detection);
        let audio = audio.clone();
        metrics().playback_started();
        tracing::debug!("music on hold starts");
        self.music = Some(HoldMusic {
            held: side,
            playing: Box::pin(async move {
                port.player.play_looped(&audio).await;
            }),
        });
    }
}
