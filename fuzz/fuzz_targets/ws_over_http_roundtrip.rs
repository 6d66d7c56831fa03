#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringpin_fuzz::ws::over_http_roundtrip(data));
