//! Concurrent playbacks: N relay sessions on a current-thread runtime (one core), a media port
//! on side A of each playing a 20 s prompt in a loop to a UDP sink; sink threads stamp each
//! packet's arrival against the deadline its RTP timestamp stands for.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use socket2::SockRef;
use switchyard::media::{
    Audio, DtmfDetection, G711Law, MediaFormat, MediaRelay, RelayConfig, SessionOptions, Side,
};
use tokio::sync::watch;

use crate::cpu::ThreadClock;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const PORT_MIN: u16 = 30_000;
const SINKS: usize = 4;
const WARMUP: Duration = Duration::from_secs(1);
const PCMU: MediaFormat = MediaFormat {
    payload_type: 0,
    law: G711Law::Ulaw,
    telephone_event: None,
};

/// One run's figures.
pub struct Figures {
    pub playbacks: usize,
    pub wall: Duration,
    pub cpu: Duration,
    pub sent: u64,
    pub received: u64,
    /// Lateness against the ideal deadline, over all packets after the warmup (µs).
    pub lateness_us: Vec<u64>,
    /// Frames a player skipped because it woke too late.
    pub skipped: u64,
}

impl Figures {
    pub fn print(&self) {
        let fraction = self.cpu.as_secs_f64() / self.wall.as_secs_f64();
        let per_playback = fraction / self.playbacks as f64;
        let mut lateness = self.lateness_us.clone();
        lateness.sort_unstable();
        let pick = |q: f64| {
            let i = ((lateness.len() as f64 - 1.0) * q).round() as usize;
            lateness.get(i).copied().unwrap_or(0) as f64 / 1000.0
        };
        println!(
            "playbacks {:>5}: cpu {:>6.1}% of one core, {:>8.5}% per playback, \
             {:>7.0} playbacks per core; sent {} received {}; \
             lateness ms p50 {:.3} p99 {:.3} max {:.3}; skipped frames {}",
            self.playbacks,
            fraction * 100.0,
            per_playback * 100.0,
            1.0 / per_playback,
            self.sent,
            self.received,
            pick(0.5),
            pick(0.99),
            pick(1.0),
            self.skipped,
        );
    }
}

/// A prompt of `seconds` of a 440 Hz tone at 8 kHz.
fn prompt(seconds: usize) -> Audio {
    let samples = (0..seconds * 8000)
        .map(|n| {
            let t = n as f32 / 8000.0;
            ((2.0 * std::f32::consts::PI * 440.0 * t).sin() * 6000.0) as i16
        })
        .collect();
    Audio::from_samples(samples)
}

/// Arrivals one sink thread saw: (SSRC, RTP timestamp, arrival).
type Arrivals = Vec<(u32, u32, Instant)>;

fn sink(socket: UdpSocket, stop: Arc<AtomicBool>) -> Result<Arrivals> {
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    let mut arrivals = Vec::new();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok(n) = socket.recv(&mut buf) else {
            continue;
        };
        let at = Instant::now();
        if n < 12 {
            continue;
        }
        let timestamp = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        arrivals.push((ssrc, timestamp, at));
    }
    Ok(arrivals)
}

/// Runs `count` playbacks for the warmup and `seconds`.
pub fn run(count: usize, seconds: Duration) -> Result<Figures> {
    let stop_sinks = Arc::new(AtomicBool::new(false));
    let mut sink_addrs = Vec::new();
    let mut sinks = Vec::new();
    for _ in 0..SINKS {
        let socket = UdpSocket::bind((LOCALHOST, 0))?;
        SockRef::from(&socket).set_recv_buffer_size(8 << 20)?;
        sink_addrs.push(socket.local_addr()?);
        let stop = Arc::clone(&stop_sinks);
        sinks.push(std::thread::spawn(move || sink(socket, stop)));
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (measured, window_start) = runtime.block_on(playbacks(count, seconds, &sink_addrs))?;
    // Let the last packets land before the sinks stop.
    std::thread::sleep(Duration::from_millis(200));
    stop_sinks.store(true, Ordering::Relaxed);
    let mut arrivals = Vec::new();
    for sink in sinks {
        arrivals.extend(
            sink.join()
                .map_err(|_| anyhow::anyhow!("sink thread panicked"))??,
        );
    }
    let (lateness_us, skipped) = lateness(&arrivals, window_start);
    Ok(Figures {
        received: arrivals.len() as u64,
        lateness_us,
        skipped,
        ..measured
    })
}

async fn playbacks(
    count: usize,
    seconds: Duration,
    sinks: &[SocketAddr],
) -> Result<(Figures, Instant)> {
    let pairs = u16::try_from(count * 2 + 64).context("too many playbacks for one port range")?;
    let relay = MediaRelay::new(RelayConfig {
        address: LOCALHOST,
        port_min: PORT_MIN,
        port_max: PORT_MIN
            .checked_add(pairs * 2)
            .context("too many playbacks for one port range")?,
    })?;
    let audio = prompt(20);
    let (stop, stopped) = watch::channel(false);
    let mut sessions = Vec::with_capacity(count);
    let mut tasks = Vec::with_capacity(count);
    let detection = DtmfDetection {
        rfc4733: false,
        inband: false,
    };
    for i in 0..count {
        let session = relay.allocate(SessionOptions::default())?;
        let sink = sinks[i % sinks.len()];
        session.set_remote(Side::A, sink, sink);
        let mut port = session.attach(Side::A, PCMU, detection);
        sessions.push(session);
        let audio = audio.clone();
        let mut stopped = stopped.clone();
        // Calls start at random moments: spread the streams over one 20 ms frame.
        let offset = Duration::from_micros((i * 20_000 / count) as u64);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            tokio::select! {
                _ = port.player.play_looped(&audio) => {}
                _ = stopped.wait_for(|stop| *stop) => {}
            }
            port.player.packets_sent()
        }));
    }
    tokio::time::sleep(WARMUP).await;
    let clock = ThreadClock::current()?;
    let (cpu0, t0) = (clock.used()?, Instant::now());
    tokio::time::sleep(seconds).await;
    let (cpu1, t1) = (clock.used()?, Instant::now());
    let _ = stop.send(true);
    let mut sent = 0;
    for task in tasks {
        sent += task.await?;
    }
    drop(sessions);
    Ok((
        Figures {
            playbacks: count,
            wall: t1 - t0,
            cpu: cpu1 - cpu0,
            sent,
            received: 0,
            lateness_us: Vec::new(),
            skipped: 0,
        },
        t0,
    ))
}

/// Per stream, each packet's arrival minus the deadline its timestamp stands for, relative to
/// the stream's earliest such offset (its best case); and frames skipped (timestamp jumps).
fn lateness(arrivals: &[(u32, u32, Instant)], from: Instant) -> (Vec<u64>, u64) {
    let mut streams: HashMap<u32, Vec<(u32, Instant)>> = HashMap::new();
    for &(ssrc, timestamp, at) in arrivals {
        streams.entry(ssrc).or_default().push((timestamp, at));
    }
    let mut out = Vec::with_capacity(arrivals.len());
    let mut skipped = 0;
    for packets in streams.values() {
        let Some(&(ts0, at0)) = packets.first() else {
            continue;
        };
        // Offset of each packet from the stream's first, in µs: arrival minus timestamp time.
        let offsets: Vec<(i64, Instant)> = packets
            .iter()
            .map(|&(ts, at)| {
                let ideal_us = i64::from(ts.wrapping_sub(ts0)) * 125;
                let real_us = i64::try_from((at - at0).as_micros()).unwrap_or(i64::MAX);
                (real_us - ideal_us, at)
            })
            .collect();
        let best = offsets.iter().map(|&(o, _)| o).min().unwrap_or(0);
        out.extend(
            offsets
                .iter()
                .filter(|&&(_, at)| at >= from)
                .map(|&(o, _)| u64::try_from(o - best).unwrap_or(0)),
        );
        skipped += packets
            .windows(2)
            .map(|w| u64::from(w[1].0.wrapping_sub(w[0].0) / 160).saturating_sub(1))
            .sum::<u64>();
    }
    (out, skipped)
}
