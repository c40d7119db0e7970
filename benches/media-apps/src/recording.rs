//! Recording throughput: K relay sessions on a current-thread runtime, each recorded while a
//! generator thread sends real-time G.711 on both sides (50 packets/s per side); the same run
//! without recordings gives the relaying baseline. Recording is time-aligned, so a recording
//! takes audio at the rate of the call: load comes from the number of calls recorded at once.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use media_core::g711::linear_to_ulaw;
use switchyard::media::{
    MediaRelay, RecordingStatus, RelayConfig, RelaySession, SessionOptions, Side,
};

use crate::cpu::{ThreadClock, process_used};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PORT_MIN: u16 = 38_000;
const WARMUP: Duration = Duration::from_millis(500);

/// One run's figures.
pub struct Figures {
    pub recordings: usize,
    pub wall: Duration,
    /// Process CPU minus the generator thread's.
    pub cpu: Duration,
    pub bytes: u64,
    pub call_seconds: f64,
    pub dropped: u64,
    pub failed: usize,
}

/// Runs `count` sessions for `seconds` with (or without) a recording each.
pub fn run(count: usize, seconds: Duration, record: bool, run: usize) -> Result<Figures> {
    let dir = std::env::temp_dir().join(format!("media-apps-{}-{run}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(sessions(count, seconds, record, &dir));
    drop(runtime);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn sessions(count: usize, seconds: Duration, record: bool, dir: &Path) -> Result<Figures> {
    let pairs = u16::try_from(count * 2 + 64).context("too many recordings for one port range")?;
    let relay = MediaRelay::new(RelayConfig {
        address: LOCALHOST,
        port_min: PORT_MIN,
        port_max: PORT_MIN
            .checked_add(pairs * 2)
            .context("too many recordings for one port range")?,
    })?;
    // The generator sends from this socket to both sides; the relay latches onto it and
    // relays each side's packets back to it (never read: the kernel drops the overflow).
    let generator_socket = UdpSocket::bind((LOCALHOST, 0))?;
    let from = generator_socket.local_addr()?;
    let mut sessions: Vec<RelaySession> = Vec::with_capacity(count);
    let mut targets = Vec::with_capacity(count * 2);
    for _ in 0..count {
        let session = relay.allocate(SessionOptions::default())?;
        for side in [Side::A, Side::B] {
            session.set_remote(side, from, from);
            targets.push(session.local_rtp(side));
        }
        sessions.push(session);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let generator = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || generate(&generator_socket, &targets, &stop))
    };
    tokio::time::sleep(WARMUP).await;

    let (cpu0, t0) = (process_used()?, Instant::now());
    let recordings: Vec<_> = if record {
        sessions
            .iter()
            .enumerate()
            .map(|(i, session)| session.record(dir.join(format!("{i}.wav"))))
            .collect()
    } else {
        Vec::new()
    };
    tokio::time::sleep(seconds).await;
    let mut figures = Figures {
        recordings: recordings.len(),
        wall: Duration::ZERO,
        cpu: Duration::ZERO,
        bytes: 0,
        call_seconds: 0.0,
        dropped: 0,
        failed: 0,
    };
    for recording in recordings {
        let outcome = recording.stop().await;
        figures.call_seconds += outcome.duration.as_secs_f64();
        figures.dropped += outcome.dropped_packets;
        if let RecordingStatus::Failed(reason) = &outcome.status {
            if figures.failed == 0 {
                eprintln!("recording failed: {reason}");
            }
            figures.failed += 1;
        }
        figures.bytes += std::fs::metadata(&outcome.path).map_or(0, |m| m.len());
    }
    let (cpu1, t1) = (process_used()?, Instant::now());
    stop.store(true, Ordering::Relaxed);
    let generator_cpu = generator
        .join()
        .map_err(|_| anyhow::anyhow!("generator panicked"))??;
    figures.wall = t1 - t0;
    // The generator ran through the window and a little before and after: charge it all.
    figures.cpu = (cpu1 - cpu0).saturating_sub(generator_cpu);
    drop(sessions);
    Ok(figures)
}

/// Sends one 20 ms PCMU packet to every target every 20 ms until stopped; returns the
/// thread's CPU time.
fn generate(socket: &UdpSocket, targets: &[SocketAddr], stop: &AtomicBool) -> Result<Duration> {
    let clock = ThreadClock::current()?;
    let start_cpu = clock.used()?;
    let mut packet = [0u8; 172];
    packet[0] = 0x80; // RTP version 2, PCMU (payload type 0)
    let payload: Vec<u8> = (0..160)
        .map(|n| {
            let t = n as f32 / 8000.0;
            linear_to_ulaw(((2.0 * std::f32::consts::PI * 400.0 * t).sin() * 6000.0) as i16)
        })
        .collect();
    packet[12..].copy_from_slice(&payload);
    let start = Instant::now();
    let mut frame: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        let deadline = start + Duration::from_millis(20) * frame;
        if let Some(wait) = deadline.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        packet[2..4].copy_from_slice(&(frame as u16).to_be_bytes());
        packet[4..8].copy_from_slice(&frame.wrapping_mul(160).to_be_bytes());
        for (i, target) in targets.iter().enumerate() {
            packet[8..12].copy_from_slice(&(i as u32).to_be_bytes());
            // A full socket buffer drops the packet, as the network would.
            let _ = socket.send_to(&packet, target);
        }
        frame += 1;
    }
    if frame == 0 {
        bail!("generator sent nothing");
    }
    Ok(clock.used()? - start_cpu)
}

/// Prints a recording run against its baseline.
pub fn print(recorded: &Figures, baseline: &Figures) {
    let wall = recorded.wall.as_secs_f64();
    let extra = recorded.cpu.as_secs_f64()
        - baseline.cpu.as_secs_f64() * wall / baseline.wall.as_secs_f64();
    println!(
        "recordings {:>5}: written {:>8.2} MB in {:>5.2} s = {:>6.2} MB/s; {:>8.1} call-seconds; \
         cpu {:>6.1}% (relaying alone {:>6.1}%); recording cpu {:>6.3} ms per recorded \
         call-second; dropped packets {}; failed {}",
        recorded.recordings,
        recorded.bytes as f64 / 1e6,
        wall,
        recorded.bytes as f64 / 1e6 / wall,
        recorded.call_seconds,
        recorded.cpu.as_secs_f64() / wall * 100.0,
        baseline.cpu.as_secs_f64() / baseline.wall.as_secs_f64() * 100.0,
        extra * 1000.0 / recorded.call_seconds.max(1e-9),
        recorded.dropped,
        recorded.failed,
    );
}
