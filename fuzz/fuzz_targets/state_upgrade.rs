//! Fuzz target `state_upgrade`: see `meshfed_fuzz::state_upgrade` (fuzz/src/state_upgrade.rs) for the input layout and the
//! properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(init: meshfed_fuzz::init(), |data: &[u8]| {
    meshfed_fuzz::state_upgrade::check(data)
});
