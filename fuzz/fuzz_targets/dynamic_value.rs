//! Fuzz target `dynamic_value`: see `meshfed_fuzz::dynamic_value` (fuzz/src/dynamic_value.rs) for the input layout and the
//! properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(init: meshfed_fuzz::init(), |data: &[u8]| {
    meshfed_fuzz::dynamic_value::check(data)
});
