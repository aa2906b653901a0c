//! Engine call sequences against a model: see combstore::fuzzing::api.
#![no_main]

libfuzzer_sys::fuzz_target!(init: combstore::fuzzing::quiet(), |data: &[u8]| {
    combstore::fuzzing::api::run(data);
});
