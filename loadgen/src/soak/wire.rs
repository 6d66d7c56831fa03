//! Wire: the line protocol between the soak controller and its worker processes.
//!
//! Owns: the text of every line each side writes, and the worker's final report.
//! Must not: do I/O.
//! Invariants: one message per `\n`-terminated line; worker → controller on the worker's
//! stdout, controller → worker on its stdin (EOF there also ends a worker). Lines:
//! * worker: `status ACTIVE CONNECTING WAITING SLOW BEHIND` (periodic): subscribers with a
//!   held connection, being connected, waiting to reconnect; slow readers open; healthy
//!   subscribers that have not yet received their channel's final item (known after
//!   `final`);
//! * worker: `report JSON` in answer to `report`, then it exits; `error TEXT` before a
//!   fatal exit;
//! * controller: `disconnect K` (close K random held subscribers, alternately with RST and
//!   FIN, and replace each), `slow K` (open K slow readers), `close-slow`, `final
//!   N:SEND_NS …` (per channel: its last item and when it was sent), `report`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::subscriber::SubRecord;

/// A worker's counters and every subscriber's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WorkerReport {
    /// Worker number.
    pub(crate) index: u64,
    /// Subscribers disconnected on command, by how (`rst`, `fin`).
    pub(crate) disconnected: BTreeMap<String, u64>,
    /// Slow readers opened, and those whose connect or request failed.
    pub(crate) slow_opened: u64,
    pub(crate) slow_failed: u64,
    /// Slow readers that saw an error or hang-up: the proxy closed them (with RST).
    pub(crate) slow_closed_by_proxy: u64,
    /// Connections that ended before their subscriber was held, by reason; each is
    /// retried (expected while the backend is down or hung).
    pub(crate) connect_retries: BTreeMap<String, u64>,
    /// Long-poll connections that ended with an error, by reason; each subscriber
    /// reconnects with `after=N` (expected while the backend is down or hung).
    pub(crate) longpoll_retries: BTreeMap<String, u64>,
    /// Every subscriber, the replaced ones included.
    pub(crate) subscribers: Vec<SubRecord>,
}

/// A line a worker writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WorkerLine {
    /// Periodic counts.
    Status {
        active: u64,
        connecting: u64,
        waiting: u64,
        slow: u64,
        behind: u64,
    },
    /// The final report.
    Report(Box<WorkerReport>),
    /// A fatal error.
    Error(String),
}

impl WorkerLine {
    /// The line, with its `\n`.
    pub(crate) fn encode(&self) -> String {
        match self {
            WorkerLine::Status {
                active,
                connecting,
                waiting,
                slow,
                behind,
            } => format!("status {active} {connecting} {waiting} {slow} {behind}\n"),
            WorkerLine::Report(r) => format!(
                "report {}\n",
                serde_json::to_string(r).expect("a report always serializes")
            ),
            WorkerLine::Error(e) => format!("error {}\n", e.replace('\n', " ")),
        }
    }

    /// Parses one line (with or without its `\n`).
    pub(crate) fn parse(line: &str) -> Result<WorkerLine, String> {
        let line = line.trim_end_matches('\n');
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "status" => {
                let v = numbers(rest, 5).ok_or_else(|| format!("bad status line {line:?}"))?;
                Ok(WorkerLine::Status {
                    active: v[0],
                    connecting: v[1],
                    waiting: v[2],
                    slow: v[3],
                    behind: v[4],
                })
            }
            "report" => serde_json::from_str(rest)
                .map(|r| WorkerLine::Report(Box::new(r)))
                .map_err(|e| format!("bad report: {e}")),
            "error" => Ok(WorkerLine::Error(rest.to_string())),
            _ => Err(format!("unknown worker line {line:?}")),
        }
    }
}

/// A line the controller writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Close this many random held subscribers and replace them.
    Disconnect(u64),
    /// Open this many slow readers.
    Slow(u64),
    /// Close every slow reader still open.
    CloseSlow,
    /// Per channel: its last item number and that item's send time.
    Final(Vec<(u64, u64)>),
    /// Send the report and exit.
    Report,
}

impl Command {
    /// The line, with its `\n`.
    pub(crate) fn encode(&self) -> String {
        match self {
            Command::Disconnect(k) => format!("disconnect {k}\n"),
            Command::Slow(k) => format!("slow {k}\n"),
            Command::CloseSlow => "close-slow\n".into(),
            Command::Final(list) => {
                let pairs: Vec<String> = list.iter().map(|(n, t)| format!("{n}:{t}")).collect();
                format!("final {}\n", pairs.join(" "))
            }
            Command::Report => "report\n".into(),
        }
    }

    /// Parses one line (with or without its `\n`).
    pub(crate) fn parse(line: &str) -> Result<Command, String> {
        let line = line.trim_end_matches('\n');
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let bad = || format!("bad command {line:?}");
        match word {
            "disconnect" => Ok(Command::Disconnect(rest.parse().map_err(|_| bad())?)),
            "slow" => Ok(Command::Slow(rest.parse().map_err(|_| bad())?)),
            "close-slow" if rest.is_empty() => Ok(Command::CloseSlow),
            "report" if rest.is_empty() => Ok(Command::Report),
            "final" => rest
                .split(' ')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (n, t) = p.split_once(':')?;
                    Some((n.parse().ok()?, t.parse().ok()?))
                })
                .collect::<Option<Vec<_>>>()
                .map(Command::Final)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

fn numbers(s: &str, count: usize) -> Option<Vec<u64>> {
    let v: Vec<u64> = s
        .split(' ')
        .map(|n| n.parse().ok())
        .collect::<Option<_>>()?;
    (v.len() == count).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_round_trips() {
        let mut report = WorkerReport {
            index: 2,
            slow_opened: 3,
            ..WorkerReport::default()
        };
        report.disconnected.insert("rst".into(), 4);
        report.subscribers.push(SubRecord {
            mode: "sse".into(),
            first: 2,
            broken: Some("closed".into()),
            ..SubRecord::default()
        });
        for line in [
            WorkerLine::Status {
                active: 5,
                connecting: 1,
                waiting: 2,
                slow: 3,
                behind: 4,
            },
            WorkerLine::Report(Box::new(report)),
            WorkerLine::Error("epoll: no".into()),
        ] {
            assert_eq!(WorkerLine::parse(&line.encode()), Ok(line));
        }
        for command in [
            Command::Disconnect(7),
            Command::Slow(2),
            Command::CloseSlow,
            Command::Final(vec![(3, 100), (0, 0)]),
            Command::Report,
        ] {
            let text = command.encode();
            assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
            assert_eq!(Command::parse(&text), Ok(command));
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in ["", "status 1 2", "status a b c d e", "report {", "hello"] {
            assert!(WorkerLine::parse(bad).is_err(), "{bad:?}");
        }
        for bad in [
            "",
            "disconnect",
            "slow x",
            "final 3",
            "final 3:x",
            "close-slow now",
        ] {
            assert!(Command::parse(bad).is_err(), "{bad:?}");
        }
    }
}
