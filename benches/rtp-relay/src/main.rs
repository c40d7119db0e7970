//! Bench-only binary: CPU per relayed RTP packet of switchyard's media relay (one tokio worker,
//! N sessions) against a plain blocking `recv_from`/`send_to` loop measured in the same run.
//!
//! `cargo run --release -p rtp-relay-bench -- [--seconds S] [--sessions 50,200,500]`

mod cpu;
mod generator;
mod harness;
mod reference;

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cpu::ThreadClock;
use crate::generator::Pace;
use crate::harness::Harness;
use crate::reference::Reference;

const WARMUP: Duration = Duration::from_millis(500);

/// One measured window.
struct Figures {
    sent: u64,
    relayed: u64,
    cpu: Duration,
    wall: Duration,
}

impl Figures {
    fn us_per_packet(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.relayed.max(1) as f64
    }

    fn row(&self, label: &str, reference: Option<&Figures>) {
        let secs = self.wall.as_secs_f64();
        let ratio = reference.map_or(String::new(), |r| {
            format!("{:>7.2}", self.us_per_packet() / r.us_per_packet())
        });
        println!(
            "{label:<30} {:>9.0} {:>9.0} {:>6.1}% {:>8.2} {ratio}",
            self.sent as f64 / secs,
            self.relayed as f64 / secs,
            self.cpu.as_secs_f64() / secs * 100.0,
            self.us_per_packet(),
        );
    }
}

/// Run the generator against `targets` and measure `clock` and `relayed` over the window.
fn measure(
    targets: Vec<SocketAddr>,
    pace: Pace,
    seconds: Duration,
    clock: &ThreadClock,
    relayed: impl Fn() -> u64,
) -> Result<Figures> {
    let stop = Arc::new(AtomicBool::new(false));
    let generator = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || generator::run(&targets, pace, &stop))
    };
    std::thread::sleep(WARMUP);
    let (cpu0, relayed0, t0) = (clock.used()?, relayed(), Instant::now());
    std::thread::sleep(seconds);
    let (cpu1, relayed1, t1) = (clock.used()?, relayed(), Instant::now());
    stop.store(true, Ordering::Relaxed);
    let sent_total = generator
        .join()
        .map_err(|_| anyhow::anyhow!("generator panicked"))??;
    let wall = t1 - t0;
    // The generator's own count covers warmup too; scale to the window.
    let total = WARMUP + seconds;
    let sent = (sent_total as f64 * wall.as_secs_f64() / total.as_secs_f64()) as u64;
    Ok(Figures {
        sent,
        relayed: relayed1 - relayed0,
        cpu: cpu1 - cpu0,
        wall,
    })
}

struct Args {
    seconds: Duration,
    sessions: Vec<usize>,
}

fn args() -> Result<Args> {
    let mut parsed = Args {
        seconds: Duration::from_secs(4),
        sessions: vec![50, 200, 500],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let value = it.next().with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--seconds" => parsed.seconds = Duration::from_secs_f64(value.parse()?),
            "--sessions" => {
                parsed.sessions = value.split(',').map(str::parse).collect::<Result<_, _>>()?;
            }
            _ => bail!("unknown argument {arg}; use --seconds S --sessions 50,200,500"),
        }
    }
    Ok(parsed)
}

fn main() -> Result<()> {
    let args = args()?;
    // Never read: the kernel drops what overflows its buffer, so the sink costs no CPU.
    let sink = UdpSocket::bind("127.0.0.1:0")?;
    let sink_addr = sink.local_addr()?;
    let largest = args.sessions.iter().copied().max().unwrap_or(1);
    println!(
        "RTP relay bench: 172-byte PCMU packets, 127.0.0.1, {} s windows after {} ms warmup",
        args.seconds.as_secs_f64(),
        WARMUP.as_millis()
    );
    println!(
        "{:<30} {:>9} {:>9} {:>7} {:>8} {:>7}",
        "run", "sent/s", "relayed/s", "CPU", "us/pkt", "x ref"
    );
    let mut run = 0;
    for pace in [Pace::Paced, Pace::Flat] {
        // The reference gets the largest aggregate rate on its one socket.
        let reference = Reference::start(sink_addr)?;
        let targets = match pace {
            Pace::Paced => vec![reference.input; largest],
            Pace::Flat => vec![reference.input],
        };
        let relayed = Arc::clone(&reference.relayed);
        let base = measure(targets, pace, args.seconds, &reference.clock, || {
            relayed.load(Ordering::Relaxed)
        })?;
        reference.stop();
        let label = match pace {
            Pace::Paced => format!("reference {pace:?} {largest}x50/s"),
            Pace::Flat => format!("reference {pace:?}"),
        };
        base.row(&label, None);
        for &count in &args.sessions {
            run += 1;
            let harness = Harness::start(count, sink_addr, run)?;
            let figures = measure(
                harness.targets.clone(),
                pace,
                args.seconds,
                &harness.clock,
                || harness.relayed(),
            )?;
            if harness.rejected() > 0 {
                bail!("{} packets rejected by the relay", harness.rejected());
            }
            figures.row(
                &format!("switchyard {pace:?} {count} sessions"),
                Some(&base),
            );
        }
    }
    Ok(())
}
