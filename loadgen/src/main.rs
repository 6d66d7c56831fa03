//! ringpin-loadgen: a fan-out load generator for GRIP proxies (ringpin, Pushpin).
//!
//! Owns: choosing the subcommand. Parse, build, run, exit: nothing else.
//! Must not: depend on the ringpin library (a measuring client must not share the parser
//! it measures; STYLE.md §10).

mod args;
mod backend;
mod batch;
mod channels;
mod chunked;
mod client;
mod clock;
mod compare;
mod compare_cmd;
mod compare_ladder;
mod coordinator;
mod demo;
mod fleet;
mod floor_server;
mod lines;
mod message;
mod pacing;
mod plot;
mod procstat;
mod progress;
mod protocol;
mod publish_plan;
mod publish_sink;
mod publisher;
mod report;
mod scenario;
mod seqtrack;
mod soak;
mod sse;
mod sustained;
mod sys;
mod targets;
mod throughput;
mod tls;
mod tls_cert;
mod tnetstring;
mod verdict;
mod worker;
mod wsframe;
mod xpub_subscriptions;
mod zmq_publisher;

const USAGE: &str = "\
Usage:
  ringpin-loadgen backend --listen ADDR
      A fast GRIP backend: /stream, /sse, /longpoll (GET) and /ws (WebSocket-over-HTTP POST),
      each with ?channel=C.
  ringpin-loadgen run --proxy HOST:PORT --publish URL[,URL...] --mode stream|sse|ws|longpoll
                      --clients N --messages M --size S [options]
      Holds N subscribers through the proxy, publishes M messages of S bytes to every
      publish URL, and reports latency, losses, and the proxy's CPU and memory.
      --interval-ms I     pause between publish starts (default 0)
      --workers W         worker processes (default: clients / per-worker, rounded up)
      --per-worker K      sockets per worker, at most 19000 (default 18000)
      --channel C         GRIP channel (default loadgen); with --channels K > 1, the base
                          of channels C-0 … C-(K-1)
      --channels K        subscriber i holds channel C-(i mod K); each message is one item
                          per channel (default 1: channel C itself)
      --items-per-post N  items per publish POST (default: as many as fit in Pushpin's
                          1,000,000-byte body limit, never more); the POSTs go one after
                          another, each stamped with its own send time
      --item-formats all|mode  formats in each published item: all three (default, one
                          item serves every mode) or only the mode's (about 190 B at
                          --size 128 instead of 510 B, so 2,500 items fit one POST)
      --rate R            sustained mode: R items/s in total, one item per POST, on a fixed
                          schedule; every channel gets M items (seq 1..M); reports offered
                          and accepted items/s, publish round trip, schedule lag, verdict
      --publishers P      with --rate: publisher threads (default 1, at most K), each with
                          its own connections; channel c is sent by thread c mod P
      --proxy-pids P,...  proxy processes to measure (CPU, RSS)
      --target-name NAME  proxy name in reports (default proxy)
      --json FILE         write the JSON report
      --markdown          also print one markdown table row
      --timeout-s T       bound on the whole run (default 120); on timeout, exit 1
      --connect-rate R    new connections per second over all workers (default 0: unpaced)
      --settle-ms MS      wait after held when the proxy has no ringpin_subscriptions gauge
                          (default 500)
      --publish-via V     http (default): POST each message to every publish URL;
                          zmq-sub: send it once on an XPUB connected to every --zmq-specs SUB
                          input, after each instance with subscribers has subscribed;
                          zmq-push: send it on one PUSH per --zmq-specs PULL input.
                          The publish URLs are still read for ringpin_subscriptions.
      --zmq-specs S,...   the proxy's ZeroMQ inputs (tcp://127.0.0.1:PORT or ipc://PATH)
      --tls               subscribers speak TLS (rustls, ring) to the proxy's TLS listener;
                          the chain must be signed by --tls-ca FILE (PEM) for
                          --tls-server-name NAME (default localhost); no insecure mode.
                          Handshake failures count as connect failures and in the report's
                          tls.handshake_failures.
      Exit status: 0 when every client was held and every message delivered, else 1.
  ringpin-loadgen floor-server --listen ADDR --publish-listen ADDR --mode send|uring [--batch N]
      The kernel floor: holds connections like a stream proxy and writes each published
      chunk to all of them with send(2) or batched io_uring sends, nothing else.
  ringpin-loadgen plot --out DIR REPORT.json...
      Writes latency_cdf.svg and time_to_last_vs_n.svg from run reports.
  ringpin-loadgen compare --clients N --mode stream|sse|ws --messages M --size S --rounds R
                          [--json-dir DIR] [--base-port P] [--timeout-s T] [--ringpin-shards K]
                          [--ringpin-args FLAGS] [--loadgen-workers W]
                          [--targets ringpin,pushpin,floor-send,floor-uring] [--interval-ms I]
                          [--pushpin-connect-rate R] [--publish http,zmq,zmq-push]
                          [--instances N] [--channels K] [--items-per-post N] [--item-formats all|mode]
                          [--rate R | --rates R1,R2,...] [--publishers P]
      Per round, interleaved: ringpin, pushpin, floor-send, floor-uring (floors: stream only),
      each started fresh on its own ports, measured by a `run` per --publish method it has an
      input for (floors: http), stopped. Prints medians and ratios; writes every report and
      summary-MODE-N.md into DIR (default compare-out). --rates: every target at every rate
      per round (fresh target per run); the summary gives each target's highest rate that
      holds, ringpin/pushpin, and loadgen's own ceiling against a sink that answers 200.
  ringpin-loadgen demo [--clients 100000] [--messages 1] [--size 128] [--json-dir DIR]
                       [--timeout-s 300] [--publish http|zmq|http,zmq] [--instances N]
                       [--targets ringpin,floor-send]
      N stream clients over ceil(N/18000) ringpin instances sharing one client port, once per
      --publish method (zmq: one XPUB to every instance's SUB input, each message sent once),
      then the same over floor-server (send) instances; prints delivery, time to last and the
      ratios (zmq/http, ringpin/floor). Exit 1 if any ringpin run lost or duplicated.
  ringpin-loadgen throughput [--publish http,zmq-push] [--clients 100] [--messages 10000]
                             [--size 128] [--instances 1] [--mode stream|sse|ws] [--json-dir DIR]
                             [--timeout-s 120] [--ringpin-shards K] [--ringpin-args FLAGS]
      Items/s into ringpin and delivered, per publish input (http: one item per POST, keep-alive;
      zmq-push: one frame per item), into one channel with --clients subscribers; writes
      throughput-summary-C-M.md and each run's report into DIR.
  ringpin-loadgen tls-cert --out DIR [--names localhost,127.0.0.1]
      Writes a new test CA (DIR/ca.pem, for run --tls-ca) and a server certificate it signed
      for the names (DIR/server.pem, leaf then CA, and DIR/server.key, for ringpin's
      --tls-cert/--tls-key or Pushpin's runner/certs/default.crt and .key).
  ringpin-loadgen soak (--minutes M | --seconds S) [--subscribers 15000] [--channels 100]
                      [--rate 20] [--size 256] [--seed 1] [--ringpin target/release/ringpin]
                      [--ringpin-args FLAGS] [--origin-timeout-s 2] [--hang-s H] [--workers W]
                      [--fault-interval-s F] [--warmup-s W] [--settle-s S]
                      [--disconnect-per-fault K] [--slow-per-fault K] [--rss-growth-pct 10]
                      [--out soak-out] [--base-port 46000]
      Starts ringpin and a GRIP backend, holds the subscribers over every transport, publishes
      numbered items into the channels and injects seeded faults meanwhile (disconnects, slow
      readers, backend restarts and hangs, SIGHUP with good and broken routes, malformed
      input); checks every healthy subscriber got every item in order once, no panic, flat
      RSS and descriptors. Writes soak.json, soak.md, rss.svg, fds.svg into --out; exit 1 on
      any failed check.
  ringpin-loadgen worker ...   (internal: started by run)
  ringpin-loadgen soak-worker ... | soak-backend ...   (internal: started by soak)
";

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let rest = argv.get(2..).unwrap_or_default();
    let code = match argv.get(1).map(String::as_str) {
        Some("run") => match scenario::Scenario::parse(rest) {
            Ok(s) => coordinator::run(&s, argv.clone()),
            Err(e) => usage_error(&e),
        },
        Some("backend") => backend::run(rest),
        Some("worker") => match scenario::WorkerSpec::parse(rest) {
            Ok(spec) => worker::run(spec),
            Err(e) => usage_error(&e),
        },
        Some("floor-server") => report_error(floor_server::main(rest)),
        Some("compare") => report_error(compare_cmd::main(rest)),
        Some("demo") => report_error(demo::main(rest)),
        Some("throughput") => report_error(throughput::main(rest)),
        Some("plot") => report_error(plot::main(rest)),
        Some("tls-cert") => report_error(tls_cert::main(rest)),
        Some("soak") => report_error(soak::main(rest, argv.clone())),
        Some("soak-worker") => soak::worker_main(rest),
        Some("soak-backend") => soak::backend_main(rest),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            0
        }
        _ => usage_error("a subcommand is required"),
    };
    std::process::exit(code);
}

fn usage_error(e: &str) -> i32 {
    eprintln!("error: {e}\n\n{USAGE}");
    2
}

fn report_error(result: Result<(), String>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("ringpin-loadgen: {message}");
            1
        }
    }
}
