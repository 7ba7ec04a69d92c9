//! The `waygate` command line. The gateway's runtime (`serve`, `demo`) lands with the session
//! core; until then the binary reports what this build contains.

use std::process::ExitCode;

const USAGE: &str = "usage: waygate <command>\n\ncommands:\n  version   print the version and the protocol this build speaks\n";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("version") => {
            println!(
                "waygate {} (client build {})",
                env!("CARGO_PKG_VERSION"),
                waygate::wire::auth::CLIENT_BUILD
            );
            ExitCode::SUCCESS
        }
        Some("help") | Some("--help") | Some("-h") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("waygate: unknown command `{other}`\n\n{USAGE}");
            ExitCode::from(64)
        }
        None => {
            eprint!("{USAGE}");
            ExitCode::from(64)
        }
    }
}
