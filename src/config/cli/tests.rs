//! Command line: every flag in both spellings, defaults in the help text, and every error.

use super::*;
use crate::limits;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| arg.to_string()).collect()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address parses")
}

/// `expected` is the parsed `CliArgs` or the error's `Display` text.
fn check(list: &[&str], expected: Result<CliArgs, &str>) {
    let got = parse_args(&args(list)).map_err(|error| error.to_string());
    assert_eq!(got, expected.map_err(str::to_string), "args {list:?}");
}

/// Each row: the arguments, and what they change in a default `CliArgs`.
type Row = (&'static [&'static str], fn(&mut CliArgs));

fn check_rows(rows: &[Row]) {
    for (list, change) in rows {
        let mut expected = CliArgs::default();
        change(&mut expected);
        check(list, Ok(expected));
    }
}

#[test]
fn address_route_and_file_flags_parse_in_both_spellings() {
    check_rows(&[
        (&[], |_| {}),
        (
            &[
                "--listen",
                "127.0.0.1:80",
                "--listen=9000",
                "--port",
                "7999",
            ],
            |c| {
                c.listen = vec![
                    addr("127.0.0.1:80"),
                    addr("0.0.0.0:9000"),
                    addr("0.0.0.0:7999"),
                ]
            },
        ),
        (&["--port=127.0.0.1:81"], |c| {
            c.listen = vec![addr("127.0.0.1:81")]
        }),
        (&["--publish-listen=[::1]:5561"], |c| {
            c.publish_listen = Some(addr("[::1]:5561"))
        }),
        (&["--route", "* test", "--route=*,path_beg=/x h:1"], |c| {
            c.routes = args(&["* test", "*,path_beg=/x h:1"])
        }),
        (&["--routes", "/etc/routes", "--config=pushpin.conf"], |c| {
            c.routes_file = Some("/etc/routes".into());
            c.config = Some("pushpin.conf".into());
        }),
        (&["--sig-key", "base64:aGk=", "--sig-iss=me"], |c| {
            c.sig_key = Some("base64:aGk=".into());
            c.sig_iss = Some("me".into());
        }),
        (&["--sig-key="], |c| c.sig_key = Some(String::new())),
        (&["--sig-key=a=b"], |c| c.sig_key = Some("a=b".into())),
        // A value that looks like a flag is still the value (getopt behaviour).
        (&["--sig-iss", "--debug"], |c| {
            c.sig_iss = Some("--debug".into())
        }),
    ]);
}

#[test]
fn tuning_flags_and_switches_parse_in_both_spellings() {
    check_rows(&[
        (&["--shards", "0"], |c| c.shards = Some(0)),
        (&["--shards=4", "--shards=2"], |c| c.shards = Some(2)),
        (&["--log-level", "3"], |c| {
            c.log_level = Some(log::LevelFilter::Debug)
        }),
        (&["--log-level=warn"], |c| {
            c.log_level = Some(log::LevelFilter::Warn)
        }),
        (
            &["--outbound-bytes-max", "1", "--outbound-items-max=7"],
            |c| {
                c.outbound_bytes_max = Some(1);
                c.outbound_items_max = Some(7);
            },
        ),
        (&["--slow-client", "drop"], |c| {
            c.slow_client = Some(SlowClientPolicy::Drop)
        }),
        (&["--slow-client=close"], |c| {
            c.slow_client = Some(SlowClientPolicy::Close)
        }),
        (&["--x-forwarded-for", "truncate:0,append"], |c| {
            c.x_forwarded_for = Some(vec![XffRule::Truncate(0), XffRule::Append])
        }),
        (&["--x-forwarded-for="], |c| {
            c.x_forwarded_for = Some(vec![])
        }),
        (&["--x-forwarded-for", ""], |c| {
            c.x_forwarded_for = Some(vec![])
        }),
        (&["--client-idle-timeout", "30", "--message-wait=0"], |c| {
            c.client_idle_timeout = Some(Duration::from_secs(30));
            c.message_wait = Some(Duration::from_millis(0));
        }),
        (&["--origin-timeout", "5"], |c| {
            c.origin_timeout = Some(Duration::from_secs(5))
        }),
        (
            &["--client-head-timeout=5", "--connections-per-ip-max", "0"],
            |c| {
                c.client_head_timeout = Some(Duration::from_secs(5));
                c.connections_per_ip_max = Some(0);
            },
        ),
        (&["--pin-shards", "no", "--send-mode=uring"], |c| {
            c.pin_shards = Some(false);
            c.send_mode = Some(SendMode::Uring);
        }),
        (&["--pin-shards=yes", "--send-mode", "sendmsg"], |c| {
            c.pin_shards = Some(true);
            c.send_mode = Some(SendMode::Sendmsg);
        }),
        (&["--socket-send-buffer", "0"], |c| {
            c.socket_send_buffer = Some(0)
        }),
        (&["--update-on-first-subscription", "no"], |c| {
            c.update_on_first_subscription = Some(false)
        }),
        (&["--debug"], |c| c.debug = true),
        (&["--auto-cross-origin", "true"], |c| {
            c.auto_cross_origin = Some(true)
        }),
        (&["--help"], |c| c.help = true),
        (&["-h", "--version"], |c| {
            c.help = true;
            c.version = true;
        }),
    ]);
}

#[test]
fn bad_flags_and_values_are_errors_naming_the_flag() {
    check(&["--bogus"], Err("unknown flag --bogus (see --help)"));
    check(&["--bogus=1"], Err("unknown flag --bogus (see --help)"));
    check(&["-x"], Err("unknown flag -x (see --help)"));
    check(&["-h=1"], Err("unknown flag -h=1 (see --help)"));
    check(&["7999"], Err("unexpected argument \"7999\" (see --help)"));
    check(&["-"], Err("unexpected argument \"-\" (see --help)"));
    check(&["--"], Err("unexpected argument \"--\" (see --help)"));
    check(&["--listen"], Err("--listen needs a value"));
    check(&["--debug", "--route"], Err("--route needs a value"));
    check(&["--debug=true"], Err("--debug takes no value"));
    check(&["--help=1"], Err("--help takes no value"));
    let invalid = |flag: &str, value: &str| {
        let error = parse_args(&args(&[flag, value])).expect_err("value is refused");
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("invalid value {value:?} for {flag}: ")),
            "{flag} {value:?} gave {text}"
        );
    };
    invalid("--listen", "localhost:80");
    invalid("--listen", "");
    invalid("--port", "65536");
    invalid("--publish-listen", "5561x");
    invalid("--routes", "");
    invalid("--config", "");
    invalid("--shards", "-1");
    invalid("--shards", "two");
    invalid("--log-level", "verbose");
    invalid("--outbound-bytes-max", "0");
    invalid("--outbound-items-max", "1k");
    invalid("--slow-client", "block");
    invalid("--x-forwarded-for", "append,prepend");
    invalid("--x-forwarded-for", "truncate:");
    invalid("--client-idle-timeout", "0");
    invalid("--origin-timeout", "0");
    invalid("--origin-timeout", "1.5");
    invalid("--client-head-timeout", "0");
    invalid("--connections-per-ip-max", "-1");
    invalid("--message-wait", "1.5");
    invalid("--pin-shards", "true");
    invalid("--send-mode", "send");
    invalid("--socket-send-buffer", "16k");
    invalid("--update-on-first-subscription", "maybe");
    invalid("--ws-message-bytes-max", "0");
    invalid("--ws-message-bytes-max", "128k");
}

#[test]
fn usage_lists_every_flag_once_with_its_default() {
    let text = usage();
    for flag in VALUE_FLAGS.iter().chain(SWITCHES) {
        // The option column is what precedes the first run of two spaces.
        let names = |line: &str| -> Vec<String> {
            let column = line.trim_start().split("  ").next().unwrap_or("");
            column.split([',', ' ']).map(str::to_string).collect()
        };
        let lines = text.lines().filter(|l| names(l).iter().any(|n| n == flag));
        assert_eq!(lines.count(), 1, "{flag} heads exactly one usage line");
    }
    for flag in VALUE_FLAGS.iter().chain(&["--debug"]) {
        let line = text.lines().find(|l| l.trim_start().starts_with(flag));
        assert!(
            line.is_some_and(|l| l.contains("(default")),
            "{flag} shows its default"
        );
    }
    let defaults = [
        (
            "--outbound-bytes-max",
            limits::OUTBOUND_BYTES_MAX_DEFAULT.to_string(),
        ),
        (
            "--outbound-items-max",
            limits::OUTBOUND_ITEMS_MAX_DEFAULT.to_string(),
        ),
        (
            "--client-idle-timeout",
            limits::CLIENT_IDLE_TIMEOUT.as_secs().to_string(),
        ),
        (
            "--origin-timeout",
            limits::ORIGIN_TIMEOUT_DEFAULT.as_secs().to_string(),
        ),
    ];
    for (flag, default) in defaults {
        let line = text.lines().find(|l| l.trim_start().starts_with(flag));
        assert!(
            line.is_some_and(|l| l.contains(&format!("(default {default})"))),
            "{flag} default matches limits.rs"
        );
    }
}
