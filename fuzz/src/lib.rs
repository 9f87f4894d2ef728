//! The checks behind meshfed's fuzz targets, one module per target, so that the targets
//! (`fuzz_targets/*.rs`, one line each) and the seed generator (`examples/seeds.rs`) share them.
//!
//! Every check takes the fuzzer's bytes and either returns (the input was refused cleanly, or
//! accepted and every property held) or panics: a panic inside meshfed is a bug found, and so is a
//! failed `assert!` here (a property meshfed's own documentation promises). See fuzz/README.md.
//!
//! - [`codec`]: msgpack and JSON decoding of values of an arbitrary type; what decodes re-encodes
//!   and decodes to the same value, in both codecs.
//! - [`dynamic_value`]: `DynamicValue`s decoded against the real schema of every resource, data
//!   source and the provider configuration, then handed to what consumes them.
//! - [`state_upgrade`]: UpgradeResourceState with arbitrary stored state JSON.
//! - [`pem`]: the checks of provided CA material and of peers' roots, and the PEM helpers.

pub mod codec;
pub mod dynamic_value;
pub mod pem;
pub mod roundtrip;
pub mod state_upgrade;
pub mod types;

/// Run once before the first input (`fuzz_target!(init: ...)`): makes a panic print
/// `DEDUP_TOKEN: <file:line>` of where it happened before libfuzzer-sys's hook reports it and
/// aborts. libFuzzer's crash minimisation (`-minimize_crash=1`, which `scripts/fuzz` runs on every
/// crash) stops when the token changes, so a minimised input still shows the bug it was found
/// with, not another one met on the way. (Without a sanitizer nothing else prints the token.)
pub fn init() {
    let report_and_abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(at) = info.location() {
            eprintln!("DEDUP_TOKEN: panic at {}:{}", at.file(), at.line());
        }
        report_and_abort(info);
    }));
}

/// Splits off the first byte of the input: the selector most targets use to choose what the
/// rest of the bytes are fed to.
pub fn split_selector(data: &[u8]) -> Option<(u8, &[u8])> {
    data.split_first().map(|(s, rest)| (*s, rest))
}
