//! Args: a tiny `--flag VALUE` / `--flag=VALUE` parser shared by the subcommands.
//!
//! Owns: turning argv into named values and rejecting unknown or malformed flags.
//! Must not: know what any flag means (scenario.rs and backend.rs do).

use std::collections::VecDeque;
use std::str::FromStr;

/// Flags that take no value.
const SWITCHES: &[&str] = &["--markdown", "--tls", "--help", "-h"];

/// Parsed `--name value` pairs, consumed by the typed getters.
#[derive(Debug)]
pub struct Args {
    pairs: VecDeque<(String, Option<String>)>,
}

impl Args {
    /// Splits `argv` (without program name and subcommand) into flags and values.
    pub fn parse(argv: &[String]) -> Result<Args, String> {
        let mut pairs = VecDeque::new();
        let mut it = argv.iter();
        while let Some(arg) = it.next() {
            if !arg.starts_with('-') {
                return Err(format!("unexpected argument {arg:?}"));
            }
            if let Some((name, value)) = arg.split_once('=') {
                pairs.push_back((name.to_string(), Some(value.to_string())));
            } else if SWITCHES.contains(&arg.as_str()) {
                pairs.push_back((arg.clone(), None));
            } else {
                let value = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
                pairs.push_back((arg.clone(), Some(value.clone())));
            }
        }
        Ok(Args { pairs })
    }

    /// Removes and returns the last value given for `name`.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let mut found = None;
        self.pairs.retain(|(n, v)| {
            if n == name {
                found = v.clone().or(Some(String::new()));
                false
            } else {
                true
            }
        });
        found
    }

    /// A required value.
    pub fn required(&mut self, name: &str) -> Result<String, String> {
        self.take(name).ok_or_else(|| format!("{name} is required"))
    }

    /// An optional typed value with a default.
    pub fn parsed<T: FromStr>(&mut self, name: &str, default: T) -> Result<T, String> {
        match self.take(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("{name}: cannot parse {v:?}")),
        }
    }

    /// An optional typed value without a default.
    pub fn parsed_opt<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, String> {
        match self.take(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("{name}: cannot parse {v:?}")),
        }
    }

    /// True if the switch was given.
    pub fn switch(&mut self, name: &str) -> bool {
        self.take(name).is_some()
    }

    /// Errors if any flag was not consumed.
    pub fn finish(self) -> Result<(), String> {
        match self.pairs.front() {
            Some((name, _)) => Err(format!("unknown option {name}")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn both_spellings_and_switches_parse() {
        let mut a = Args::parse(&argv("--clients 10 --size=64 --markdown")).expect("parses");
        assert_eq!(a.parsed("--clients", 0u64), Ok(10));
        assert_eq!(a.parsed("--size", 0usize), Ok(64));
        assert!(a.switch("--markdown"));
        assert_eq!(a.parsed("--messages", 7u64), Ok(7));
        assert!(a.finish().is_ok());
    }

    #[test]
    fn unknown_and_valueless_flags_are_errors() {
        assert!(Args::parse(&argv("--clients")).is_err());
        assert!(Args::parse(&argv("stray")).is_err());
        let a = Args::parse(&argv("--bogus 1")).expect("parses");
        assert_eq!(a.finish(), Err("unknown option --bogus".to_string()));
        let mut a = Args::parse(&argv("--clients x")).expect("parses");
        assert!(a.parsed("--clients", 0u64).is_err());
    }
}
