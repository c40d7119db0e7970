//! Bench-only binary: the switch as a media endpoint on one core.
//!
//! - Playbacks: N concurrent prompt playbacks on a current-thread runtime; CPU per playback,
//!   playbacks one core sustains, and pacing lateness at the receiving sinks.
//! - Recordings: K calls recorded at once (real-time G.711 on both sides); bytes written per
//!   second and CPU per recorded call-second above relaying alone.
//!
//! `cargo run --release -p media-apps -- --playbacks 250,500,1000 --recordings 100,500 --seconds 10`

mod cpu;
mod playback;
mod recording;

use std::time::Duration;

use anyhow::{Context, Result, bail};

struct Args {
    seconds: Duration,
    playbacks: Vec<usize>,
    recordings: Vec<usize>,
}

fn counts(value: &str) -> Result<Vec<usize>> {
    value
        .split(',')
        .filter(|v| !v.is_empty() && *v != "0")
        .map(|v| v.parse().with_context(|| format!("bad count {v}")))
        .collect()
}

fn args() -> Result<Args> {
    let mut parsed = Args {
        seconds: Duration::from_secs(10),
        playbacks: vec![250, 500, 1000],
        recordings: vec![100, 500],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let value = it.next().with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--seconds" => parsed.seconds = Duration::from_secs_f64(value.parse()?),
            "--playbacks" => parsed.playbacks = counts(&value)?,
            "--recordings" => parsed.recordings = counts(&value)?,
            _ => bail!(
                "unknown argument {arg}; use --seconds S --playbacks 250,500 --recordings 100 \
                 (0 skips a part)"
            ),
        }
    }
    Ok(parsed)
}

fn main() -> Result<()> {
    let args = args()?;
    println!(
        "media apps bench: 127.0.0.1, current-thread runtime (one core), {} s windows",
        args.seconds.as_secs_f64()
    );
    for &count in &args.playbacks {
        playback::run(count, args.seconds)?.print();
    }
    for (run, &count) in args.recordings.iter().enumerate() {
        let baseline = recording::run(count, args.seconds, false, run * 2)?;
        let recorded = recording::run(count, args.seconds, true, run * 2 + 1)?;
        recording::print(&recorded, &baseline);
    }
    Ok(())
}
