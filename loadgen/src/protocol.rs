//! Protocol: the line protocol between the coordinator and its worker processes.
//!
//! Owns: the text of every line each side writes, and the worker's final report.
//! Must not: do I/O.
//! Invariants: one message per `\n`-terminated line; worker → coordinator on the
//! worker's stdout, coordinator → worker on its stdin. Lines:
//! * worker: `progress OPENED HELD FAILED` while connecting (periodic);
//! * worker: `held HELD FAILED START_NS END_NS` once, when every client is held or failed;
//! * worker: `recv RECEIVED LIVE` while publishing (periodic, when it changed);
//! * worker: `done K`: every live held client has received message K (or a later one);
//! * worker: `report JSON` in answer to `report`, then it exits;
//! * worker: `error TEXT` before exiting on a fatal error;
//! * coordinator: `report` (send the report and exit). EOF on stdin also ends a worker.

use serde::{Deserialize, Serialize};

/// A worker's final counters and histogram.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Worker number.
    pub index: usize,
    /// Clients this worker was asked to open.
    pub clients: u64,
    /// Clients that reached "held".
    pub held: u64,
    /// Clients that failed before being held.
    pub failed: u64,
    /// Held clients whose connection closed or failed later.
    pub disconnects: u64,
    /// When the first connect started (CLOCK_MONOTONIC ns).
    pub connect_start_ns: u64,
    /// When the last client became held or failed.
    pub connect_end_ns: u64,
    /// Unique messages received (duplicates excluded).
    pub received: u64,
    /// Messages received again on the same connection.
    pub duplicated: u64,
    /// Messages that filled an earlier gap.
    pub reordered: u64,
    /// Bodies, events or frames that were not a valid message of this run.
    pub malformed: u64,
    /// TLS connections closed before their handshake finished (also in `failed`).
    #[serde(default)]
    pub tls_handshake_failures: u64,
    /// `VERSION/SUITE` of the worker's first completed TLS handshake.
    #[serde(default)]
    pub tls_negotiated: Option<String>,
    /// Latency histogram (µs), V2-serialized, base64.
    pub latency_us_hist: String,
    /// Per message (index = seq - 1): the latest receive time over this worker's
    /// connections, 0 if none received it.
    pub last_recv_ns: Vec<u64>,
    /// True if the worker stopped at its own deadline.
    pub timed_out: bool,
}

/// A line a worker writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerLine {
    /// Connect-phase progress.
    Progress { opened: u64, held: u64, failed: u64 },
    /// Connect phase finished.
    Held {
        held: u64,
        failed: u64,
        start_ns: u64,
        end_ns: u64,
    },
    /// Publish-phase progress.
    Recv { received: u64, live: u64 },
    /// Every live client has message `seq`.
    Done { seq: u64 },
    /// The final report.
    Report(Box<WorkerReport>),
    /// A fatal error.
    Error(String),
}

impl WorkerLine {
    /// The line, with its `\n`.
    pub fn encode(&self) -> String {
        match self {
            WorkerLine::Progress {
                opened,
                held,
                failed,
            } => format!("progress {opened} {held} {failed}\n"),
            WorkerLine::Held {
                held,
                failed,
                start_ns,
                end_ns,
            } => {
                format!("held {held} {failed} {start_ns} {end_ns}\n")
            }
            WorkerLine::Recv { received, live } => format!("recv {received} {live}\n"),
            WorkerLine::Done { seq } => format!("done {seq}\n"),
            WorkerLine::Report(r) => {
                format!(
                    "report {}\n",
                    serde_json::to_string(r).expect("a report always serializes")
                )
            }
            WorkerLine::Error(e) => format!("error {}\n", e.replace('\n', " ")),
        }
    }

    /// Parses one line (with or without its `\n`).
    pub fn parse(line: &str) -> Result<WorkerLine, String> {
        let line = line.trim_end_matches('\n');
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let nums = || -> Result<Vec<u64>, String> {
            rest.split(' ')
                .map(|n| n.parse().map_err(|_| format!("bad number in {line:?}")))
                .collect()
        };
        let want = |n: usize, v: Vec<u64>| {
            if v.len() == n {
                Ok(v)
            } else {
                Err(format!("wrong field count in {line:?}"))
            }
        };
        Ok(match word {
            "progress" => {
                let v = want(3, nums()?)?;
                WorkerLine::Progress {
                    opened: v[0],
                    held: v[1],
                    failed: v[2],
                }
            }
            "held" => {
                let v = want(4, nums()?)?;
                WorkerLine::Held {
                    held: v[0],
                    failed: v[1],
                    start_ns: v[2],
                    end_ns: v[3],
                }
            }
            "recv" => {
                let v = want(2, nums()?)?;
                WorkerLine::Recv {
                    received: v[0],
                    live: v[1],
                }
            }
            "done" => WorkerLine::Done {
                seq: want(1, nums()?)?[0],
            },
            "report" => WorkerLine::Report(Box::new(
                serde_json::from_str(rest).map_err(|e| format!("bad report: {e}"))?,
            )),
            "error" => WorkerLine::Error(rest.to_string()),
            _ => return Err(format!("unknown worker line {line:?}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_round_trips() {
        let report = WorkerReport {
            index: 1,
            clients: 10,
            held: 9,
            failed: 1,
            disconnects: 0,
            connect_start_ns: 5,
            connect_end_ns: 6,
            received: 45,
            duplicated: 0,
            reordered: 0,
            malformed: 0,
            tls_handshake_failures: 1,
            tls_negotiated: Some("TLSv1_3/TLS13_AES_256_GCM_SHA384".into()),
            latency_us_hist: "HISTFAAAA".into(),
            last_recv_ns: vec![1, 2, 0],
            timed_out: false,
        };
        for line in [
            WorkerLine::Progress {
                opened: 3,
                held: 2,
                failed: 1,
            },
            WorkerLine::Held {
                held: 9,
                failed: 1,
                start_ns: 5,
                end_ns: 6,
            },
            WorkerLine::Recv {
                received: 45,
                live: 9,
            },
            WorkerLine::Done { seq: 5 },
            WorkerLine::Report(Box::new(report)),
            WorkerLine::Error("epoll: no".into()),
        ] {
            let text = line.encode();
            assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
            assert_eq!(WorkerLine::parse(&text), Ok(line));
        }
    }

    #[test]
    fn malformed_lines_are_errors() {
        for bad in ["", "done", "done x", "held 1 2", "nonsense 1", "report {"] {
            assert!(WorkerLine::parse(bad).is_err(), "{bad:?}");
        }
    }
}
