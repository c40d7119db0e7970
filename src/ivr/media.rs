//! What the IVR needs of the call's media: a player and a digit source. Implemented by the
//! media port's [`Player`] and [`Digits`]; tests drive the engine with fakes.

use std::future::Future;

use crate::media::{Audio, Digits, Player};

/// Plays prompts to the caller.
pub trait IvrPlayer: Send {
    /// Plays `audio` to its end; dropping the future stops it (barge-in).
    fn play(&mut self, audio: &Audio) -> impl Future<Output = ()> + Send;
}

/// DTMF from the caller.
pub trait IvrDigits: Send {
    /// The next digit; None once the caller is gone (the port was detached).
    fn next(&mut self) -> impl Future<Output = Option<char>> + Send;

    /// Forgets digits pressed so far.
    fn clear(&mut self);
}

impl IvrPlayer for Player {
    fn play(&mut self, audio: &Audio) -> impl Future<Output = ()> + Send {
        Player::play(self, audio)
    }
}

impl IvrDigits for Digits {
    fn next(&mut self) -> impl Future<Output = Option<char>> + Send {
        Digits::next(self)
    }

    fn clear(&mut self) {
        Digits::clear(self);
    }
}
