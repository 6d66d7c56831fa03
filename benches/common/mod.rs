//! Shared by every bench: the run header, the criterion settings and the allocator.
//!
//! Owns: the header each bench binary prints before any figure (CPU, cores, kernel, load,
//! commit, date, command), so a figure pasted anywhere still says where it came from
//! (STYLE.md §9, §12).
//! Must not: assert anything about results or timing; benches measure, tests check.

// Each bench binary compiles this module and uses a subset of it.
#![allow(dead_code)]

use criterion::Criterion;
use std::process::Command;
use std::time::Duration;

/// The binary's allocator, so allocation costs in these figures are production's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Short criterion runs: the whole suite fits in a few minutes on a 2-core machine.
pub fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

/// Prints where and when these figures were taken, once, before the first figure.
pub fn print_header(bench: &str) {
    let args: Vec<String> = std::env::args().collect();
    println!("== ringpin bench: {bench}");
    println!("cpu:     {}", cpu_model());
    println!("cores:   {}", online_cores());
    println!("kernel:  {}", command_line_output("uname", &["-srm"]));
    println!(
        "load:    {} (1/5/15 min; others share this machine)",
        load_average()
    );
    println!("commit:  {}", commit());
    println!(
        "date:    {}",
        command_line_output("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"])
    );
    println!("command: {}", args.join(" "));
    println!();
}

/// A size in the form bench IDs use: `100B`, `1KiB`, `64KiB`.
pub fn size_label(bytes: usize) -> String {
    if bytes >= 1024 && bytes % 1024 == 0 {
        format!("{}KiB", bytes / 1024)
    } else {
        format!("{bytes}B")
    }
}

/// Printable ASCII filler of `len` bytes: needs no JSON escaping and no UTF-8 checks.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Says so when a bench input is refused, so a figure never silently measures an error path.
pub fn warn_if_err<T, E: std::fmt::Display>(label: &str, result: &Result<T, E>) {
    if let Err(error) = result {
        eprintln!("warning: {label}: the bench input was refused ({error}); figures measure the error path");
    }
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn online_cores() -> String {
    let online = std::thread::available_parallelism().map_or(0, |n| n.get());
    let listed = std::fs::read_to_string("/sys/devices/system/cpu/online")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    format!("{online} usable (online: {listed})")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn commit() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let head = command_line_output("git", &["-C", dir, "rev-parse", "--short", "HEAD"]);
    let dirty = Command::new("git")
        .args(["-C", dir, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .is_ok_and(|o| !o.stdout.is_empty());
    if dirty {
        format!("{head} (with uncommitted changes)")
    } else {
        head
    }
}

fn command_line_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// `0..n` in a fixed pseudo-random order (xorshift64 Fisher-Yates), so lookups do not walk
/// memory in insertion order and every run visits the same order.
pub fn shuffled(n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order
}
