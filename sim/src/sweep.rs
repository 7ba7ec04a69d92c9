//! Seed sweeps: every scenario over many seeds, two runs at a time, with a determinism
//! self-check on a share of the seeds.

use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::runner::{CanaryChoice, Outcome, run_with};
use crate::scenario::Scenario;

/// One seed out of this many is run twice and must give the same transcript hash.
pub const RECHECK_ONE_IN: u64 = 4;

/// What a sweep found.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Scenarios swept.
    pub scenarios: usize,
    /// Seeds per scenario.
    pub seeds: u64,
    /// Runs whose checkers failed (or that panicked).
    pub failures: Vec<(String, u64, Vec<String>)>,
    /// Runs whose second run hashed differently.
    pub nondeterministic: Vec<(String, u64, u64, u64)>,
    /// Runs made, rechecks included.
    pub runs: usize,
}

/// Runs one seed, turning a panic (a time limit passed, a deadlock, a bug) into a failure.
pub fn run_caught(scenario: &Scenario, seed: u64) -> Outcome {
    run_caught_with(scenario, seed, None)
}

/// [`run_caught`] with a planted bug switched on.
pub fn run_caught_with(scenario: &Scenario, seed: u64, canary: CanaryChoice) -> Outcome {
    match std::panic::catch_unwind(AssertUnwindSafe(|| run_with(scenario, seed, canary))) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".into());
            Outcome {
                scenario: scenario.name.clone(),
                seed,
                transcript: Vec::new(),
                hash: 0,
                failures: vec![format!("run panicked: {msg}")],
            }
        }
    }
}

/// Stack of a sweep worker: a whole simulated cluster runs on it (the main thread's 8 MiB,
/// not the 2 MiB of a spawned thread).
const WORKER_STACK_BYTES: usize = 8 << 20;

/// Runs `work` on a scoped worker thread with [`WORKER_STACK_BYTES`] of stack; if the
/// thread cannot be created, runs it on the calling thread.
fn spawn_worker<'scope, F>(scope: &'scope std::thread::Scope<'scope, '_>, work: F)
where
    F: FnOnce() + Send + 'scope,
{
    let work = std::sync::Arc::new(Mutex::new(Some(work)));
    let on_thread = work.clone();
    let spawned = std::thread::Builder::new()
        .stack_size(WORKER_STACK_BYTES)
        .spawn_scoped(scope, move || {
            let job = on_thread
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            if let Some(job) = job {
                job();
            }
        });
    if spawned.is_err() {
        let job = work
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(job) = job {
            job();
        }
    }
}

/// Sweeps `scenarios` over seeds `first_seed..first_seed + seeds` on `threads` threads.
pub fn sweep(scenarios: &[Scenario], first_seed: u64, seeds: u64, threads: usize) -> SweepReport {
    let jobs: Vec<(usize, u64)> = (0..scenarios.len())
        .flat_map(|s| (first_seed..first_seed + seeds).map(move |seed| (s, seed)))
        .collect();
    let next = AtomicUsize::new(0);
    let report = Mutex::new(SweepReport {
        scenarios: scenarios.len(),
        seeds,
        ..SweepReport::default()
    });
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            spawn_worker(scope, || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(s, seed)) = jobs.get(i) else {
                        return;
                    };
                    let scenario = &scenarios[s];
                    let first = run_caught(scenario, seed);
                    let recheck = (seed % RECHECK_ONE_IN == 0).then(|| run_caught(scenario, seed));
                    let mut r = report
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    r.runs += 1;
                    if let Some(second) = recheck {
                        r.runs += 1;
                        if second.hash != first.hash {
                            r.nondeterministic.push((
                                scenario.name.clone(),
                                seed,
                                first.hash,
                                second.hash,
                            ));
                        }
                    }
                    if !first.failures.is_empty() {
                        r.failures
                            .push((scenario.name.clone(), seed, first.failures));
                    }
                }
            });
        }
    });
    let mut r = report
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    r.failures.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    r.nondeterministic.sort();
    r
}

/// One canary's sweep: over how many seeds at least one scenario caught it.
#[cfg(feature = "canaries")]
#[derive(Debug)]
pub struct CanaryReport {
    /// The planted bug.
    pub canary: waygate::session::Canary,
    /// Seeds on which some scenario failed.
    pub caught_seeds: u64,
    /// Seeds run.
    pub seeds: u64,
    /// One failure message, for the table.
    pub example: Option<String>,
}

/// Runs every canary over every scenario and seed.
#[cfg(feature = "canaries")]
pub fn sweep_canaries(
    scenarios: &[Scenario],
    first_seed: u64,
    seeds: u64,
    threads: usize,
) -> Vec<CanaryReport> {
    use waygate::session::Canary;
    let jobs: Vec<(usize, usize, u64)> = (0..Canary::ALL.len())
        .flat_map(|c| {
            (first_seed..first_seed + seeds)
                .flat_map(move |seed| (0..scenarios.len()).map(move |s| (c, s, seed)))
        })
        .collect();
    let next = AtomicUsize::new(0);
    // (canary, seed) -> first failure
    let caught: Mutex<std::collections::BTreeMap<(usize, u64), String>> = Mutex::default();
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            spawn_worker(scope, || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(c, s, seed)) = jobs.get(i) else {
                        return;
                    };
                    let outcome = run_caught_with(&scenarios[s], seed, Some(Canary::ALL[c]));
                    if let Some(f) = outcome.failures.first() {
                        caught
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .entry((c, seed))
                            .or_insert_with(|| format!("{}: {f}", scenarios[s].name));
                    }
                }
            });
        }
    });
    let caught = caught
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Canary::ALL
        .iter()
        .enumerate()
        .map(|(c, canary)| CanaryReport {
            canary: *canary,
            caught_seeds: caught.keys().filter(|(k, _)| *k == c).count() as u64,
            seeds,
            example: caught
                .iter()
                .find(|((k, _), _)| *k == c)
                .map(|(_, v)| v.clone()),
        })
        .collect()
}
