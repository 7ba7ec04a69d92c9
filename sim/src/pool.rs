//! Sweeps in constant memory: runs happen in worker processes (`waygate-sim worker`), each
//! recycled after [`RUNS_PER_WORKER_MAX`] runs. madsim leaks the tasks still pending when a
//! runtime ends, with everything they hold, so a sweep that ran every seed in one process grew
//! by about half a megabyte a run until the kernel killed it; a worker that exits gives all of
//! it back.
//!
//! The protocol is one line a job on the worker's stdin and one result (a line, then one line
//! per failure) on its stdout, in order:
//! - in: `job SCENARIO SEED CANARY|- RECHECK` (`RECHECK` is 0 or 1);
//! - out: `done HASH RECHECK_HASH|- FAILURES`, then `fail MESSAGE` that many times (newlines
//!   and backslashes escaped).
//!
//! A worker that dies mid-job (a crash, the OOM killer) fails that job with what it exited
//! with, and the next job starts a new worker.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;

/// Runs a worker process makes before it is replaced.
pub const RUNS_PER_WORKER_MAX: usize = 200;

/// One run to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Scenario name.
    pub scenario: String,
    /// Seed.
    pub seed: u64,
    /// The planted bug to switch on, by name.
    pub canary: Option<String>,
    /// Run it twice and report both hashes (the determinism self-check).
    pub recheck: bool,
}

/// What a run found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobResult {
    /// The job.
    pub job: Job,
    /// The transcript hash.
    pub hash: u64,
    /// The second run's hash, when rechecked.
    pub recheck_hash: Option<u64>,
    /// Broken invariants; empty when the run passed.
    pub failures: Vec<String>,
}

/// Where the workers come from: this executable, with the scenarios directory.
#[derive(Debug, Clone)]
pub struct Workers {
    /// The `waygate-sim` executable.
    pub exe: PathBuf,
    /// The scenarios directory the workers load from.
    pub scenarios: PathBuf,
}

/// Runs every job on `threads` workers at once and hands each result to `on_result` as soon
/// as it arrives (in completion order).
pub fn run_all(
    workers: &Workers,
    jobs: impl Iterator<Item = Job> + Send,
    threads: usize,
    mut on_result: impl FnMut(JobResult),
) {
    let jobs = Mutex::new(jobs);
    let next = || {
        jobs.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .next()
    };
    let (tx, rx) = mpsc::channel::<JobResult>();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || feed(workers, next, &tx));
        }
        drop(tx);
        for result in rx {
            on_result(result);
        }
    });
}

/// One feeding thread: a worker at a time, [`RUNS_PER_WORKER_MAX`] jobs each.
fn feed(workers: &Workers, next: &dyn Fn() -> Option<Job>, tx: &mpsc::Sender<JobResult>) {
    loop {
        let mut worker = match Worker::start(workers) {
            Ok(w) => w,
            Err(e) => {
                // Without a worker no job can run: fail the next one loudly and stop.
                if let Some(job) = next() {
                    let _ = tx.send(failed(job, format!("cannot start a worker: {e}")));
                }
                return;
            }
        };
        for _ in 0..RUNS_PER_WORKER_MAX {
            let Some(job) = next() else {
                worker.finish();
                return;
            };
            match worker.run(&job) {
                Ok(result) => {
                    let _ = tx.send(result);
                }
                Err(e) => {
                    let status = worker.finish();
                    let _ = tx.send(failed(job, format!("worker died: {e} ({status})")));
                    break;
                }
            }
        }
        worker.finish();
    }
}

fn failed(job: Job, why: String) -> JobResult {
    JobResult {
        job,
        hash: 0,
        recheck_hash: None,
        failures: vec![crate::check::Checker::Runner.tag(&why)],
    }
}

struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn start(workers: &Workers) -> std::io::Result<Self> {
        let mut child = Command::new(&workers.exe)
            .arg("worker")
            .arg("--scenarios")
            .arg(&workers.scenarios)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .map(BufReader::new)
            .ok_or_else(|| std::io::Error::other("worker has no stdout"))?;
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    fn run(&mut self, job: &Job) -> std::io::Result<JobResult> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::other("worker stdin closed"))?;
        writeln!(
            stdin,
            "job {} {} {} {}",
            job.scenario,
            job.seed,
            job.canary.as_deref().unwrap_or("-"),
            u8::from(job.recheck)
        )?;
        stdin.flush()?;
        let line = self.line()?;
        let (hash, recheck_hash, count) = parse_done(&line)
            .ok_or_else(|| std::io::Error::other(format!("unexpected answer `{line}`")))?;
        let mut failures = Vec::with_capacity(count.min(64));
        for _ in 0..count {
            let line = self.line()?;
            let message = line
                .strip_prefix("fail ")
                .ok_or_else(|| std::io::Error::other(format!("unexpected answer `{line}`")))?;
            failures.push(unescape(message));
        }
        Ok(JobResult {
            job: job.clone(),
            hash,
            recheck_hash,
            failures,
        })
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "worker closed its stdout",
            ));
        }
        Ok(line.trim_end_matches('\n').to_owned())
    }

    /// Closes the worker's stdin and waits for it; says how it ended.
    fn finish(&mut self) -> String {
        self.stdin = None;
        match self.child.wait() {
            Ok(status) => status.to_string(),
            Err(e) => format!("wait failed: {e}"),
        }
    }
}

fn parse_done(line: &str) -> Option<(u64, Option<u64>, usize)> {
    let mut it = line.strip_prefix("done ")?.split(' ');
    let hash = u64::from_str_radix(it.next()?, 16).ok()?;
    let recheck = match it.next()? {
        "-" => None,
        h => Some(u64::from_str_radix(h, 16).ok()?),
    };
    let count = it.next()?.parse().ok()?;
    Some((hash, recheck, count))
}

/// A job line as the worker reads it.
pub fn parse_job(line: &str) -> Option<Job> {
    let mut it = line.strip_prefix("job ")?.split(' ');
    let scenario = it.next()?.to_owned();
    let seed = it.next()?.parse().ok()?;
    let canary = match it.next()? {
        "-" => None,
        c => Some(c.to_owned()),
    };
    let recheck = it.next()? == "1";
    Some(Job {
        scenario,
        seed,
        canary,
        recheck,
    })
}

/// The worker's answer to one job.
pub fn format_result(hash: u64, recheck_hash: Option<u64>, failures: &[String]) -> String {
    let mut out = format!(
        "done {hash:016x} {} {}\n",
        recheck_hash.map_or_else(|| "-".to_owned(), |h| format!("{h:016x}")),
        failures.len()
    );
    for f in failures {
        out.push_str("fail ");
        out.push_str(&escape(f));
        out.push('\n');
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_and_results_survive_the_pipe() {
        let job = Job {
            scenario: "rolling_drain".into(),
            seed: 42,
            canary: Some("skip-linger".into()),
            recheck: true,
        };
        let line = "job rolling_drain 42 skip-linger 1";
        assert_eq!(parse_job(line), Some(job));
        let failures = vec!["two\nlines \\ and a backslash".to_owned(), String::new()];
        let text = format_result(0xabc, Some(7), &failures);
        let mut lines = text.lines();
        assert_eq!(
            parse_done(lines.next().expect("done line")),
            Some((0xabc, Some(7), 2))
        );
        let back: Vec<String> = lines
            .map(|l| unescape(l.strip_prefix("fail ").expect("fail line")))
            .collect();
        assert_eq!(back, failures);
        assert_eq!(parse_done("done zz - 0"), None);
        assert_eq!(parse_job("job x notaseed - 0"), None);
    }
}
