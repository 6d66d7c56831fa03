#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringpin_fuzz::publish::tnetstring_roundtrip(data));
