//! The config file: the example parses; bad files get a clear message naming the key and
//! exit code 64; the production binary starts from the example and stops on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use waygate::config::Config;

const EXAMPLE: &str = include_str!("../waygate.example.toml");

fn error_of(text: &str) -> String {
    Config::parse(text)
        .expect_err("must be refused")
        .to_string()
}

#[test]
fn example_config_parses_into_the_cluster() {
    let cfg = Config::parse(EXAMPLE).expect("the shipped example is valid");
    assert_eq!(cfg.gateway.realm_id, 1);
    assert_eq!(cfg.session.realm_id, 1);
    let cluster = cfg.cluster();
    assert_eq!(cluster.worldservers().len(), 2);
}

#[test]
fn the_issue_shape_is_accepted() {
    let text = EXAMPLE
        .split("# Per-session")
        .next()
        .expect("head")
        .to_owned()
        + &EXAMPLE[EXAMPLE.find("[[accounts]]").expect("accounts")..];
    assert!(Config::parse(&text).is_ok());
}

#[test]
fn missing_key_is_named() {
    let text = EXAMPLE.replace("listen = \"127.0.0.1:8085\"\n", "");
    assert!(error_of(&text).contains("listen"), "{}", error_of(&text));
}

#[test]
fn unknown_key_is_named() {
    let text = EXAMPLE.replace("realm_id = 1", "realm_id = 1\nrealm_idd = 2");
    assert!(error_of(&text).contains("realm_idd"), "{}", error_of(&text));
}

#[test]
fn bad_session_key_is_named() {
    let text = EXAMPLE.replace("0133517192d1", "zz33517192d1");
    assert!(error_of(&text).contains("accounts[0].session_key"));
}

#[test]
fn character_of_unknown_account_is_named() {
    let text = EXAMPLE.replace("account = \"ALICE\"", "account = \"BOB\"");
    assert!(error_of(&text).contains("characters[0].account"));
}

#[test]
fn bad_worldserver_address_is_named() {
    let text = EXAMPLE.replace("127.0.0.1:9101", "nowhere");
    assert!(error_of(&text).contains("worldservers[0].address"));
}

#[test]
fn wrong_type_is_named() {
    let text = EXAMPLE.replace(
        "world_login_nudge_ms = 50",
        "world_login_nudge_ms = \"soon\"",
    );
    assert!(
        error_of(&text).contains("world_login_nudge_ms"),
        "{}",
        error_of(&text)
    );
}

fn waygate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_waygate"))
}

#[test]
fn binary_exits_64_naming_the_key() {
    let dir = std::env::temp_dir().join(format!("waygate-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        EXAMPLE.replace("max_connections = 5000", "max_connections = 0"),
    )
    .expect("write");
    let out = waygate()
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gateway.max_connections"), "{stderr}");
    let out = waygate()
        .args(["serve", "--config", "/nonexistent/waygate.toml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(64));
    let out = waygate().arg("frobnicate").output().expect("runs");
    assert_eq!(out.status.code(), Some(64));
}

#[test]
#[allow(clippy::disallowed_methods)] // a waiter thread for a child process, not a task
fn binary_serves_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("waygate-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("ok.toml");
    std::fs::write(&path, EXAMPLE.replace("127.0.0.1:8085", "127.0.0.1:0")).expect("write");
    let mut child = waygate()
        .args(["serve", "--config"])
        .arg(&path)
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // Wait for the "serving" line: readiness is observed, not assumed after a sleep.
    let stderr = child.stderr.take().expect("piped");
    let mut lines = BufReader::new(stderr).lines();
    let ready = lines
        .by_ref()
        .take(50)
        .map_while(Result::ok)
        .any(|l| l.contains("waygate serving"));
    assert!(ready, "the gateway never said it was serving");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    // Bounded wait for the exit: a waiter thread reports it, the test waits at most 20 s.
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait().map(|s| s.code()));
    });
    let code = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the gateway exits within 20 s of SIGTERM")
        .expect("wait succeeds");
    let _ = waiter.join();
    assert_eq!(code, Some(0));
    assert!(
        lines
            .map_while(Result::ok)
            .any(|l| l.contains("waygate stopped"))
    );
}

#[test]
fn bad_backoff_policy_is_named() {
    let text = EXAMPLE.replace("max_ms = 5000", "max_ms = 10");
    assert!(
        error_of(&text).contains("session.recovery_backoff"),
        "{}",
        error_of(&text)
    );
}
