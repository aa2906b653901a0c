//! A server with damaged files: see combstore::fuzzing::damage.
#![no_main]

libfuzzer_sys::fuzz_target!(init: combstore::fuzzing::quiet(), |data: &[u8]| {
    combstore::fuzzing::damage::run(data);
});
