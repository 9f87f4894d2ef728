//! `terraform-provider-meshfed`: logs to stderr, then serves the plugin protocol.
//! Run by Terraform; by hand it explains itself and exits 1 (or serves with `--debug`).

use meshfed::provider::{Meshfed, SOURCE_ADDRESS};
use meshfed::tfplugin::handshake::HandshakeError;
use meshfed::tfplugin::serve::{Mode, ServeError, serve};
use meshfed::tfplugin::{diag::cause_chain, logging};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => Mode::Plugin,
        ["--debug"] => Mode::Debug,
        ["--version"] | ["version"] => {
            println!("terraform-provider-meshfed {}", env!("CARGO_PKG_VERSION"));
            return std::process::ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("usage: terraform-provider-meshfed [--debug | --version]");
            return std::process::ExitCode::from(2);
        }
    };
    logging::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("terraform-provider-meshfed: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(Meshfed::new(), mode, SOURCE_ADDRESS)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(ServeError::Handshake(HandshakeError::NoMagicCookie)) => {
            eprintln!("{}", HandshakeError::NoMagicCookie);
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            tracing::error!(error = %cause_chain(&e), "provider stopped");
            eprintln!("terraform-provider-meshfed: {}", cause_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
