#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringpin_fuzz::grip::instruct_json(data));
