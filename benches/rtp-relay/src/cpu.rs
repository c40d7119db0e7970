//! CPU time of one thread of this process, from /proc (Linux only).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// A thread of this process, by kernel thread id.
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
            .and_then(|n| n.to_str())
            .context("no thread id in /proc/thread-self")?;
        Self::tid(tid)
    }

    /// The thread of this process whose name (`comm`) is `name`.
    pub fn named(name: &str) -> Result<Self> {
        for entry in std::fs::read_dir("/proc/self/task")? {
            let dir = entry?.path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim_end() == name {
                return Ok(Self { dir });
            }
        }
        bail!("no thread named {name}")
    }

    fn tid(tid: &str) -> Result<Self> {
        Ok(Self {
            dir: PathBuf::from("/proc/self/task").join(tid),
        })
    }

    /// CPU time used so far: nanoseconds on CPU from `schedstat` when the kernel has it, else
    /// utime + stime from `stat` (10 ms ticks).
    pub fn used(&self) -> Result<Duration> {
        if let Ok(text) = std::fs::read_to_string(self.dir.join("schedstat"))
            && let Some(ns) = text.split_whitespace().next().and_then(|n| n.parse().ok())
        {
            return Ok(Duration::from_nanos(ns));
        }
        let stat = std::fs::read_to_string(self.dir.join("stat"))?;
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let rest = stat.rsplit_once(')').context("malformed stat")?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = fields.get(11).context("no utime")?.parse::<u64>()?
            + fields.get(12).context("no stime")?.parse::<u64>()?;
        // USER_HZ is 100 on Linux.
        Ok(Duration::from_millis(ticks * 10))
    }
}
