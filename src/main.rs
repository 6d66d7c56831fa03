//! The `ringpin` binary: parse the command line, start, exit; or, as `ringpin publish`,
//! publish one item (`publish_cmd`).

use ringpin::config::{CliOutcome, Config};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("publish") {
        return ringpin::publish_cmd::main(&args[1..]);
    }
    let (config, warnings) = match Config::from_args(&args) {
        Ok(CliOutcome::Run(config, warnings)) => (config, warnings),
        Ok(CliOutcome::Help) => {
            print!("{}", ringpin::config::cli::usage());
            return ExitCode::SUCCESS;
        }
        Ok(CliOutcome::Version) => {
            println!("ringpin {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("ringpin: {err}\nTry `ringpin --help`.");
            return ExitCode::from(2);
        }
    };
    ringpin::logger::init(config.log_level);
    for warning in warnings {
        log::warn!("{warning}");
    }
    match ringpin::runtime::run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            log::error!("{err}");
            eprintln!("ringpin: {err}");
            ExitCode::FAILURE
        }
    }
}
