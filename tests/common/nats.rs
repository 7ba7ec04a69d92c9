//! The shared nats-server of the tests (`ci/services/nats start` prints the
//! `WAYGATE_TEST_NATS_URL` to export).

#![allow(dead_code)] // each test binary uses part of it

/// The shared server's URL, or `None` (skip, with a notice) when it is not given outside CI;
/// under CI its absence fails `test`.
pub fn nats_url(test: &str) -> Option<String> {
    match std::env::var("WAYGATE_TEST_NATS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let how = "start one with `ci/services/nats start` and export the line it prints";
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("{test}: WAYGATE_TEST_NATS_URL is not set and CI is: {how}");
            }
            eprintln!("{test}: SKIPPED, WAYGATE_TEST_NATS_URL is not set ({how})");
            None
        }
    }
}
