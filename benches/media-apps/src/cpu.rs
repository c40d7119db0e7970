//! CPU time from /proc (Linux only): one thread's, and the whole process's.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

/// One thread of this process.
#[derive(Debug, Clone)]
pub struct ThreadClock {
    dir: PathBuf,
}

impl ThreadClock {
    /// The calling thread.
    pub fn current() -> Result<Self> {
        let link = std::fs::read_link("/proc/thread-self").context("reading /proc/thread-self")?;
        let tid = link
            .file_name()
            .context("no thread id in /proc/thread-self")?;
        Ok(Self {
            dir: PathBuf::from("/proc/self/task").join(tid),
        })
    }

    /// CPU time the thread used so far: `schedstat` (ns) when the kernel keeps it, else
    /// utime + stime from `stat`.
    pub fn used(&self) -> Result<Duration> {
        if let Ok(text) = std::fs::read_to_string(self.dir.join("schedstat"))
            && let Some(ns) = text.split_whitespace().next().and_then(|n| n.parse().ok())
        {
            return Ok(Duration::from_nanos(ns));
        }
        stat_time(&self.dir.join("stat"))
    }
}

/// CPU time the whole process used so far, threads that ended included (10 ms ticks).
pub fn process_used() -> Result<Duration> {
    stat_time(&PathBuf::from("/proc/self/stat"))
}

fn stat_time(path: &PathBuf) -> Result<Duration> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("reading {path:?}"))?;
    // After the parenthesised command name, utime and stime are the 12th and 13th fields.
    let rest = stat.rsplit_once(')').context("malformed stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11).context("no utime")?.parse::<u64>()?
        + fields.get(12).context("no stime")?.parse::<u64>()?;
    // USER_HZ is 100 on Linux.
    Ok(Duration::from_millis(ticks * 10))
}
