//! `waygate-sim`: run one scenario with one seed, or sweep them all. Built with
//! `RUSTFLAGS="--cfg madsim"` (see `ci/sim`); a normal build only explains that.
//!
//! - `waygate-sim run SCENARIO --seed N [--transcript]` prints `trace-hash: <hex>`;
//! - `waygate-sim sweep [--seeds N] [--from N] [--threads N] [--scenario NAME]` runs in
//!   worker processes (constant memory), prints progress and every failure with its replay
//!   command as it happens, and ends with
//!   `sim: scenarios=S seeds=N runs=R failures=F nondeterministic=D`;
//! - `waygate-sim worker` is such a worker: jobs on stdin, results on stdout (`pool`).

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: waygate-sim run SCENARIO --seed N [--transcript] [--twice] [--canary NAME] [--scenarios DIR]
       waygate-sim sweep [--seeds N] [--from N] [--threads N] [--scenario NAME] [--scenarios DIR] [--canaries]
       waygate-sim worker [--scenarios DIR]";

/// Parsed command line.
#[derive(Debug)]
struct Args {
    command: String,
    scenario: Option<String>,
    seed: Option<u64>,
    seeds: u64,
    first_seed: u64,
    threads: usize,
    transcript: bool,
    canaries: bool,
    canary: Option<String>,
    twice: bool,
    dir: PathBuf,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let command = it.next().ok_or("no command")?;
    let mut a = Args {
        command,
        scenario: None,
        seed: None,
        seeds: 8,
        first_seed: 1,
        threads: 2,
        transcript: false,
        canaries: false,
        twice: false,
        canary: None,
        dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios")),
    };
    let num = |v: Option<String>, flag: &str| -> Result<u64, String> {
        v.and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{flag} takes a number"))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seed" => a.seed = Some(num(it.next(), "--seed")?),
            "--seeds" => a.seeds = num(it.next(), "--seeds")?,
            "--first-seed" | "--from" => a.first_seed = num(it.next(), "--from")?,
            "--threads" => a.threads = num(it.next(), "--threads")? as usize,
            "--scenario" => a.scenario = Some(it.next().ok_or("--scenario takes a name")?),
            "--scenarios" => a.dir = PathBuf::from(it.next().ok_or("--scenarios takes a dir")?),
            "--transcript" => a.transcript = true,
            "--canaries" => a.canaries = true,
            "--canary" => a.canary = Some(it.next().ok_or("--canary takes a name")?),
            "--twice" => a.twice = true,
            other if a.command == "run" && a.scenario.is_none() && !other.starts_with('-') => {
                a.scenario = Some(other.to_owned())
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("waygate-sim: {e}\n{USAGE}");
            return ExitCode::from(64);
        }
    };
    real_main(args)
}

#[cfg(not(madsim))]
fn real_main(args: Args) -> ExitCode {
    let _ = args;
    eprintln!("waygate-sim must be built with RUSTFLAGS=\"--cfg madsim\": use ci/sim");
    ExitCode::from(2)
}

#[cfg(madsim)]
fn real_main(args: Args) -> ExitCode {
    use waygate_sim::scenario::{Scenario, list};

    let load = |name: &str| Scenario::load(&args.dir, name);
    match args.command.as_str() {
        "run" => {
            let (Some(name), Some(seed)) = (args.scenario.as_deref(), args.seed) else {
                eprintln!("waygate-sim: run needs SCENARIO and --seed N\n{USAGE}");
                return ExitCode::from(64);
            };
            let scenario = match load(name) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("waygate-sim: {e}");
                    return ExitCode::from(64);
                }
            };
            let canary = match chosen_canary(args.canary.as_deref()) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("waygate-sim: {e}");
                    return ExitCode::from(64);
                }
            };
            let outcome = waygate_sim::sweep::run_caught_with(&scenario, seed, canary);
            if args.twice {
                // The determinism self-check of a sweep, on one seed: where do two runs in
                // one thread part ways?
                let again = waygate_sim::sweep::run_caught_with(&scenario, seed, canary);
                let first_diff = outcome
                    .transcript
                    .iter()
                    .zip(&again.transcript)
                    .position(|(a, b)| a != b);
                match first_diff {
                    None if outcome.hash == again.hash => println!("twice: identical"),
                    None => println!("twice: one transcript is a prefix of the other"),
                    Some(i) => {
                        println!("twice: first difference at line {i}:");
                        println!("  first:  {}", outcome.transcript[i]);
                        println!("  second: {}", again.transcript[i]);
                    }
                }
            }
            if args.transcript {
                for line in &outcome.transcript {
                    println!("{line}");
                }
            }
            println!("trace-hash: {:016x}", outcome.hash);
            if outcome.failures.is_empty() {
                println!("sim: {name} seed={seed} ok");
                ExitCode::SUCCESS
            } else {
                for f in &outcome.failures {
                    println!("failure: {f}");
                }
                let canary = args
                    .canary
                    .as_deref()
                    .map(|c| format!(" --canary {c}"))
                    .unwrap_or_default();
                println!("replay: ci/sim --replay {name} {seed}{canary}");
                ExitCode::from(1)
            }
        }
        "worker" => worker(&args),
        "sweep" => {
            let names = match &args.scenario {
                Some(n) => vec![n.clone()],
                None => match list(&args.dir) {
                    Ok(n) => n,
                    Err(e) => {
                        eprintln!("waygate-sim: {e}");
                        return ExitCode::from(64);
                    }
                },
            };
            // Every scenario must load before any worker starts.
            for n in &names {
                if let Err(e) = load(n) {
                    eprintln!("waygate-sim: {e}");
                    return ExitCode::from(64);
                }
            }
            let workers = match std::env::current_exe() {
                Ok(exe) => waygate_sim::pool::Workers {
                    exe,
                    scenarios: args.dir.clone(),
                },
                Err(e) => {
                    eprintln!("waygate-sim: cannot find my own executable: {e}");
                    return ExitCode::from(2);
                }
            };
            if args.canaries {
                return canary_sweep(&workers, &names, &args);
            }
            sweep(&workers, &names, &args)
        }
        other => {
            eprintln!("waygate-sim: unknown command `{other}`\n{USAGE}");
            ExitCode::from(64)
        }
    }
}

/// The sweep: progress every [`PROGRESS_EVERY_SECS`], every finding with its replay command
/// as soon as it happens (a sweep that gets killed still leaves them behind), then the line.
#[cfg(madsim)]
fn sweep(workers: &waygate_sim::pool::Workers, names: &[String], args: &Args) -> ExitCode {
    use std::io::Write;
    use waygate_sim::sweep::Finding;

    let commit = option_env!("WAYGATE_COMMIT").unwrap_or("working tree");
    let total = names.len() as u64 * args.seeds;
    let started = std::time::Instant::now();
    let mut last_progress = started;
    let mut done = 0u64;
    let found = |f: &Finding| {
        match f {
            Finding::Failed {
                scenario,
                seed,
                failures,
            } => println!("FAIL {scenario} seed={seed}: {}", failures.join("; ")),
            Finding::Nondeterministic {
                scenario,
                seed,
                first,
                second,
            } => {
                println!("NONDETERMINISTIC {scenario} seed={seed}: {first:016x} then {second:016x}")
            }
        }
        let (Finding::Failed { scenario, seed, .. }
        | Finding::Nondeterministic { scenario, seed, .. }) = f;
        println!("  replay: ci/sim --replay {scenario} {seed}   (commit {commit})");
        let _ = std::io::stdout().flush();
    };
    let progress = |r: &waygate_sim::sweep::SweepReport| {
        done += 1;
        if last_progress.elapsed().as_secs() < PROGRESS_EVERY_SECS {
            return;
        }
        last_progress = std::time::Instant::now();
        println!(
            "sim: progress {done}/{total} scenario-seeds, {} runs, failures={} nondeterministic={} after {}s",
            r.runs,
            r.failures.len(),
            r.nondeterministic.len(),
            started.elapsed().as_secs()
        );
        let _ = std::io::stdout().flush();
    };
    let report = waygate_sim::sweep::sweep(
        workers,
        names,
        args.first_seed,
        args.seeds,
        args.threads,
        found,
        progress,
    );
    println!(
        "sim: scenarios={} seeds={} runs={} failures={} nondeterministic={}",
        report.scenarios,
        report.seeds,
        report.runs,
        report.failures.len(),
        report.nondeterministic.len()
    );
    if report.failures.is_empty() && report.nondeterministic.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Seconds between progress lines of a sweep.
#[cfg(madsim)]
const PROGRESS_EVERY_SECS: u64 = 15;

/// A sweep's worker process: one job a line on stdin, its result on stdout, until stdin
/// closes.
#[cfg(madsim)]
fn worker(args: &Args) -> ExitCode {
    use std::io::{BufRead, Write};
    use waygate_sim::pool::{format_result, parse_job};
    use waygate_sim::scenario::Scenario;

    let mut loaded: std::collections::BTreeMap<String, Scenario> = Default::default();
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else {
            return ExitCode::from(2);
        };
        let Some(job) = parse_job(&line) else {
            eprintln!("waygate-sim worker: not a job: `{line}`");
            return ExitCode::from(64);
        };
        let answer = match (
            scenario_of(&mut loaded, &args.dir, &job.scenario),
            chosen_canary(job.canary.as_deref()),
        ) {
            (Ok(scenario), Ok(canary)) => {
                let first = waygate_sim::sweep::run_caught_with(scenario, job.seed, canary);
                let second = job
                    .recheck
                    .then(|| waygate_sim::sweep::run_caught_with(scenario, job.seed, canary).hash);
                format_result(first.hash, second, &first.failures)
            }
            (Err(e), _) | (_, Err(e)) => format_result(0, None, &[e]),
        };
        if out
            .write_all(answer.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

#[cfg(madsim)]
fn scenario_of<'a>(
    loaded: &'a mut std::collections::BTreeMap<String, waygate_sim::scenario::Scenario>,
    dir: &std::path::Path,
    name: &str,
) -> Result<&'a waygate_sim::scenario::Scenario, String> {
    if !loaded.contains_key(name) {
        let s = waygate_sim::scenario::Scenario::load(dir, name).map_err(|e| e.to_string())?;
        loaded.insert(name.to_owned(), s);
    }
    loaded
        .get(name)
        .ok_or_else(|| format!("scenario {name} vanished"))
}

#[cfg(all(madsim, feature = "canaries"))]
fn canary_sweep(workers: &waygate_sim::pool::Workers, names: &[String], args: &Args) -> ExitCode {
    let reports = waygate_sim::sweep::sweep_canaries(
        workers,
        names,
        args.first_seed,
        args.seeds,
        args.threads,
    );
    // A canary counts as caught only when its own checker caught it: a bug that only makes
    // bots time out, or that another checker trips over, proves nothing about its checker.
    let mut missed = 0;
    for r in &reports {
        let share = r.caught_seeds as f64 * 100.0 / r.seeds.max(1) as f64;
        let others: Vec<String> = r
            .by_checker
            .iter()
            .filter(|(c, _)| **c != r.expected)
            .map(|(c, n)| format!("{} {n}", c.name()))
            .collect();
        println!(
            "canary {:<24} checker {:<15} caught on {:>4}/{} seeds ({share:5.1}%)  also: {}  e.g. {}",
            r.canary.name(),
            r.expected.name(),
            r.caught_seeds,
            r.seeds,
            if others.is_empty() {
                "-".to_owned()
            } else {
                others.join(", ")
            },
            r.example.as_deref().unwrap_or("-")
        );
        if r.caught_seeds == 0 {
            missed += 1;
        }
    }
    println!(
        "sim: canaries={} caught={} missed={missed}",
        reports.len(),
        reports.len() - missed
    );
    if missed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[cfg(all(madsim, not(feature = "canaries")))]
fn canary_sweep(_: &waygate_sim::pool::Workers, _: &[String], _: &Args) -> ExitCode {
    eprintln!("waygate-sim: built without the canaries feature");
    ExitCode::from(2)
}

/// The planted bug `--canary NAME` names, if any.
#[cfg(all(madsim, feature = "canaries"))]
fn chosen_canary(name: Option<&str>) -> Result<waygate_sim::runner::CanaryChoice, String> {
    let Some(name) = name else { return Ok(None) };
    waygate::session::Canary::ALL
        .iter()
        .find(|c| c.name() == name)
        .map(|c| Some(*c))
        .ok_or_else(|| format!("no canary named `{name}`"))
}

/// Without the `canaries` feature no planted bug exists.
#[cfg(all(madsim, not(feature = "canaries")))]
fn chosen_canary(name: Option<&str>) -> Result<waygate_sim::runner::CanaryChoice, String> {
    match name {
        None => Ok(None),
        Some(n) => Err(format!(
            "canary `{n}`: built without the `canaries` feature"
        )),
    }
}
