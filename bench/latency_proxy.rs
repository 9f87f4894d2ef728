//! `latency-proxy`: the tests' latency proxy (`tests/support/latency.rs`) as a program, for
//! `bench/plan-apply --rtt`. Listens on a free port of 127.0.0.1, forwards every connection to
//! the target, and delivers every chunk of bytes, each way, `--one-way-ms` after it arrived. TLS
//! passes through untouched. Prints `listening on <addr>` and runs until killed.
//!
//! ```sh
//! cargo run --release --example latency-proxy -- --target 127.0.0.1:6443 --one-way-ms 10
//! ```

#[path = "../tests/support/latency.rs"]
mod latency;

use std::net::SocketAddr;
use std::time::Duration;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (target, one_way) = match args.as_slice() {
        [t, target, o, ms] if t == "--target" && o == "--one-way-ms" => {
            match (target.parse::<SocketAddr>(), ms.parse::<u64>()) {
                (Ok(target), Ok(ms)) => (target, Duration::from_millis(ms)),
                _ => return usage(),
            }
        }
        _ => return usage(),
    };
    let proxy = latency::LatencyProxy::start(target, one_way);
    println!("listening on {}", proxy.addr());
    loop {
        std::thread::park();
    }
}

fn usage() -> std::process::ExitCode {
    eprintln!("usage: latency-proxy --target <ip:port> --one-way-ms <ms>");
    std::process::ExitCode::from(64)
}
