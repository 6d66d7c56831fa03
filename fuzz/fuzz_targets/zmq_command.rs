#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ringpin_fuzz::publish::zmq_command(data));
