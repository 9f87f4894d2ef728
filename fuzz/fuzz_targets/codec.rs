//! Fuzz target `codec`: see `meshfed_fuzz::codec` (fuzz/src/codec.rs) for the input layout and the
//! properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(init: meshfed_fuzz::init(), |data: &[u8]| {
    meshfed_fuzz::codec::check(data)
});
