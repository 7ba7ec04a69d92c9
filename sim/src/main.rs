//! `waygate-sim`: run one scenario with one seed, or sweep them all. Built with
//! `RUSTFLAGS="--cfg madsim"` (see `ci/sim`); a normal build only explains that.
//!
//! - `waygate-sim run SCENARIO --seed N [--transcript]` prints `trace-hash: <hex>`;
//! - `waygate-sim sweep [--seeds N] [--first-seed N] [--threads N] [--scenario NAME]` ends
//!   with `sim: scenarios=S seeds=N failures=F nondeterministic=D`.

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: waygate-sim run SCENARIO --seed N [--transcript] [--twice] [--canary NAME] [--scenarios DIR]
       waygate-sim sweep [--seeds N] [--first-seed N] [--threads N] [--scenario NAME] [--scenarios DIR] [--canaries]";

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
            "--first-seed" => a.first_seed = num(it.next(), "--first-seed")?,
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
            let mut scenarios = Vec::new();
            for n in &names {
                match load(n) {
                    Ok(s) => scenarios.push(s),
                    Err(e) => {
                        eprintln!("waygate-sim: {e}");
                        return ExitCode::from(64);
                    }
                }
            }
            if args.canaries {
                return canary_sweep(&scenarios, &args);
            }
            let report =
                waygate_sim::sweep::sweep(&scenarios, args.first_seed, args.seeds, args.threads);
            let commit = option_env!("WAYGATE_COMMIT").unwrap_or("working tree");
            for (name, seed, failures) in &report.failures {
                println!("FAIL {name} seed={seed}: {}", failures.join("; "));
                println!("  replay: ci/sim --replay {name} {seed}   (commit {commit})");
            }
            for (name, seed, a, b) in &report.nondeterministic {
                println!("NONDETERMINISTIC {name} seed={seed}: {a:016x} then {b:016x}");
                println!("  replay: ci/sim --replay {name} {seed}   (commit {commit})");
            }
            println!(
                "sim: scenarios={} seeds={} failures={} nondeterministic={}",
                report.scenarios,
                report.seeds,
                report.failures.len(),
                report.nondeterministic.len()
            );
            if report.failures.is_empty() && report.nondeterministic.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        other => {
            eprintln!("waygate-sim: unknown command `{other}`\n{USAGE}");
            ExitCode::from(64)
        }
    }
}

#[cfg(all(madsim, feature = "canaries"))]
fn canary_sweep(scenarios: &[waygate_sim::scenario::Scenario], args: &Args) -> ExitCode {
    let reports =
        waygate_sim::sweep::sweep_canaries(scenarios, args.first_seed, args.seeds, args.threads);
    let mut missed = 0;
    for r in &reports {
        let share = r.caught_seeds as f64 * 100.0 / r.seeds.max(1) as f64;
        println!(
            "canary {:<21} caught on {:>4}/{} seeds ({share:5.1}%)  e.g. {}",
            r.canary.name(),
            r.caught_seeds,
            r.seeds,
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
fn canary_sweep(_: &[waygate_sim::scenario::Scenario], _: &Args) -> ExitCode {
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
