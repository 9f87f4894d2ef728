//! Fuzz target `pem`: see `meshfed_fuzz::pem` (fuzz/src/pem.rs) for the input layout and the
//! properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(init: meshfed_fuzz::init(), |data: &[u8]| {
    meshfed_fuzz::pem::check(data)
});
