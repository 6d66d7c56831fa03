//! Throwaway entry point for the `floor` branch: dispatches `floor-server` and `plot` so those
//! two modules build and test alone. The loadgen branch's `main.rs` replaces it in the merge.

mod floor_server;
mod plot;

const USAGE: &str = "usage: ringpin-loadgen floor-server|plot [ARGS...]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("floor-server") => floor_server::main(&args[1..]),
        Some("plot") => plot::main(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    if let Err(message) = result {
        eprintln!("ringpin-loadgen: {message}");
        std::process::exit(2);
    }
}
