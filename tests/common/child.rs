//! A `waygate` child process and blocking HTTP against its listeners, shared by the tests
//! that run the production binary.

#![allow(dead_code)] // each test binary uses part of it

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A child `waygate` that is killed and reaped if the test ends early (a failed assertion
/// never leaves a gateway running).
pub struct Running(Option<std::process::Child>);

impl Running {
    pub fn spawn(cmd: &mut Command) -> Self {
        Self(Some(cmd.stderr(Stdio::piped()).spawn().expect("starts")))
    }

    pub fn child(&mut self) -> &mut std::process::Child {
        self.0.as_mut().expect("running")
    }

    /// Its stderr, line by line.
    pub fn lines(&mut self) -> impl Iterator<Item = String> + use<> {
        let stderr = self.child().stderr.take().expect("piped");
        BufReader::new(stderr).lines().map_while(Result::ok)
    }

    /// Waits at most `bound` for the exit; its code.
    #[allow(clippy::disallowed_methods)] // polling a child process with a deadline
    pub fn exit_code(mut self, bound: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + bound;
        let mut child = self.0.take().expect("running");
        loop {
            if let Some(status) = child.try_wait().expect("wait succeeds") {
                return status.code();
            }
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the gateway did not exit within {bound:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One blocking HTTP/1.1 request with `Connection: close`: the status and the body.
pub fn http_blocking(addr: &str, method: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Polls `cond` until it holds, at most 20 s.
#[allow(clippy::disallowed_methods)] // polling a child process with a deadline
pub fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
