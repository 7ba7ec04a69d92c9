//! The transcripts of two scenarios at a fixed seed, as reviewed insta snapshots in
//! `snapshots/` (built and run under `--cfg madsim` by `ci/sim --transcripts`). A change in
//! what the gateway, the worldservers or the bots do shows up here line by line.

#![cfg(madsim)]

use std::path::Path;

use waygate_sim::runner::run;
use waygate_sim::scenario::Scenario;

fn transcript(name: &str, seed: u64) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let scenario = Scenario::load(&dir, name).expect("scenario");
    let outcome = run(&scenario, seed);
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    format!(
        "trace-hash: {:016x}\n{}\n",
        outcome.hash,
        outcome.transcript.join("\n")
    )
}

fn snap(name: &str, text: String) {
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, text);
    });
}

#[test]
fn login_logout_seed_7() {
    snap(
        "transcript_login_logout_seed_7",
        transcript("login_logout", 7),
    );
}

#[test]
fn map_change_handoff_seed_7() {
    snap(
        "transcript_map_change_handoff_seed_7",
        transcript("map_change_handoff", 7),
    );
}
