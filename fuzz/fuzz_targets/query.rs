//! The query translator on arbitrary text: see combstore::fuzzing::query.
#![no_main]

libfuzzer_sys::fuzz_target!(init: combstore::fuzzing::quiet(), |data: &[u8]| {
    combstore::fuzzing::query::run(data);
});
