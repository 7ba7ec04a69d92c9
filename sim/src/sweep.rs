//! Seed sweeps: every scenario over many seeds, in worker processes (`pool`), with a
//! determinism self-check on a share of the seeds.

use std::panic::AssertUnwindSafe;

#[cfg(feature = "canaries")]
use crate::check::Checker;
use crate::pool::{Job, Workers, run_all};
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
                failures: vec![crate::check::Checker::Runner.tag(&format!("run panicked: {msg}"))],
            }
        }
    }
}

/// Why a sweep's run counts as found: failures first, then nondeterminism.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The run's checkers failed (or it panicked, or its worker died).
    Failed {
        /// Scenario.
        scenario: String,
        /// Seed.
        seed: u64,
        /// What broke.
        failures: Vec<String>,
    },
    /// Two runs of one seed hashed differently.
    Nondeterministic {
        /// Scenario.
        scenario: String,
        /// Seed.
        seed: u64,
        /// First hash.
        first: u64,
        /// Second hash.
        second: u64,
    },
}

/// The jobs of a sweep: every scenario over seeds `first_seed..first_seed + seeds`, seed by
/// seed, one seed in [`RECHECK_ONE_IN`] run twice.
pub fn sweep_jobs(
    scenarios: &[String],
    first_seed: u64,
    seeds: u64,
    canary: Option<String>,
) -> impl Iterator<Item = Job> + Send + '_ {
    (first_seed..first_seed.saturating_add(seeds)).flat_map(move |seed| {
        let canary = canary.clone();
        scenarios.iter().map(move |s| Job {
            scenario: s.clone(),
            seed,
            canary: canary.clone(),
            recheck: canary.is_none() && seed % RECHECK_ONE_IN == 0,
        })
    })
}

/// Sweeps `scenarios` over seeds in worker processes (constant memory), handing every
/// finding to `found` as soon as it happens and the running totals to `progress` after every
/// run.
pub fn sweep(
    workers: &Workers,
    scenarios: &[String],
    first_seed: u64,
    seeds: u64,
    threads: usize,
    mut found: impl FnMut(&Finding),
    mut progress: impl FnMut(&SweepReport),
) -> SweepReport {
    let mut report = SweepReport {
        scenarios: scenarios.len(),
        seeds,
        ..SweepReport::default()
    };
    let jobs = sweep_jobs(scenarios, first_seed, seeds, None);
    run_all(workers, jobs, threads, |r| {
        report.runs += if r.recheck_hash.is_some() { 2 } else { 1 };
        if !r.failures.is_empty() {
            let f = Finding::Failed {
                scenario: r.job.scenario.clone(),
                seed: r.job.seed,
                failures: r.failures.clone(),
            };
            found(&f);
            report
                .failures
                .push((r.job.scenario.clone(), r.job.seed, r.failures));
        }
        if let Some(second) = r.recheck_hash
            && second != r.hash
        {
            let f = Finding::Nondeterministic {
                scenario: r.job.scenario.clone(),
                seed: r.job.seed,
                first: r.hash,
                second,
            };
            found(&f);
            report
                .nondeterministic
                .push((r.job.scenario, r.job.seed, r.hash, second));
        }
        progress(&report);
    });
    report
        .failures
        .sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    report.nondeterministic.sort();
    report
}

/// One canary's sweep: on how many seeds its own checker caught it, and what else did.
#[cfg(feature = "canaries")]
#[derive(Debug)]
pub struct CanaryReport {
    /// The planted bug.
    pub canary: waygate::session::Canary,
    /// The checker that must catch it.
    pub expected: Checker,
    /// Seeds on which [`Self::expected`] caught it (in some scenario).
    pub caught_seeds: u64,
    /// Per checker, seeds on which it caught the canary (in some scenario).
    pub by_checker: std::collections::BTreeMap<Checker, u64>,
    /// Seeds run.
    pub seeds: u64,
    /// One failure of the expected checker (else of any), for the table.
    pub example: Option<String>,
}

/// The checker each planted bug is there to prove alive.
#[cfg(feature = "canaries")]
pub fn expected_checker(canary: waygate::session::Canary) -> Checker {
    use waygate::session::Canary;
    match canary {
        // Skipping the session's wait for the old worldserver's linger no longer puts the
        // character in world twice: the coordinator's holds ledger refuses the placement
        // elsewhere until the linger has passed (ignore-holds plants that bug). What is left
        // of it is a recovery that never completes: liveness.
        Canary::SkipLinger => Checker::Liveness,
        Canary::CloseBeforeKick | Canary::IgnoreHolds => Checker::DualPresence,
        Canary::UncappedBackoff => Checker::Backoff,
        Canary::LeakClusterOpcode | Canary::ForwardOldWorld => Checker::ClientProtocol,
        Canary::ReuseDeadLink => Checker::Liveness,
        Canary::PlaceOnDegraded => Checker::Admission,
        Canary::ReorderHeld => Checker::Heartbeats,
        Canary::IgnoreOperatorDrain => Checker::Drain,
        // Both logins of an account proceed: on two worldservers the character is in world
        // twice; on one, the worldserver kicks the older without a word.
        Canary::SkipAccountClaim => Checker::DualPresence,
        Canary::ForgetFencedHolds => Checker::DualPresence,
        Canary::LeakWorldLinks => Checker::Teardown,
        // The client hears nothing; only a bot that waits out the login's bound sees it.
        Canary::SwallowLoginFailure => Checker::LoginsEnd,
        // Nobody is in world twice and every login ends; only the scenario's stated number
        // of evictions tells.
        Canary::IgnoreEviction => Checker::Counts,
        // Only a whisper to a player on the move shows it: its sender was told it was sent.
        Canary::DropEventsWhileMoving => Checker::Chat,
        // Only a group member elsewhere, whose frames of the player stop, sees it.
        Canary::StaleStateAfterMove => Checker::Party,
    }
}

/// Runs every canary over every scenario and seed, in worker processes.
#[cfg(feature = "canaries")]
pub fn sweep_canaries(
    workers: &Workers,
    scenarios: &[String],
    first_seed: u64,
    seeds: u64,
    threads: usize,
) -> Vec<CanaryReport> {
    use waygate::session::Canary;
    let jobs = Canary::ALL
        .iter()
        .flat_map(move |c| sweep_jobs(scenarios, first_seed, seeds, Some(c.name().to_owned())));
    // (canary, checker, seed) -> the first failure that checker reported
    let mut caught: std::collections::BTreeMap<(String, Checker, u64), String> = Default::default();
    run_all(workers, jobs, threads, |r| {
        let Some(canary) = r.job.canary else { return };
        for f in &r.failures {
            let checker = Checker::of(f).unwrap_or(Checker::Runner);
            caught
                .entry((canary.clone(), checker, r.job.seed))
                .or_insert_with(|| format!("{}: {f}", r.job.scenario));
        }
    });
    Canary::ALL
        .iter()
        .map(|canary| {
            let expected = expected_checker(*canary);
            let mut by_checker = std::collections::BTreeMap::new();
            for (name, checker, _) in caught.keys() {
                if name == canary.name() {
                    *by_checker.entry(*checker).or_insert(0u64) += 1;
                }
            }
            let example = caught
                .iter()
                .find(|((k, c, _), _)| k == canary.name() && *c == expected)
                .or_else(|| caught.iter().find(|((k, _, _), _)| k == canary.name()))
                .map(|(_, v)| v.clone());
            CanaryReport {
                canary: *canary,
                expected,
                caught_seeds: by_checker.get(&expected).copied().unwrap_or(0),
                by_checker,
                seeds,
                example,
            }
        })
        .collect()
}
