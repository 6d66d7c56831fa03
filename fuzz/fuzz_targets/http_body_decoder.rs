#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringpin_fuzz::http::body_decoder(data));
