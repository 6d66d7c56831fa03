use super::*;
use bytes::Bytes;

fn text(s: &str) -> WsEvent {
    WsEvent::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn woh_text(s: &str) -> WohEvent {
    WohEvent::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The events of the request due at `now`, owned.
fn request(s: &mut WohSession, now: Instant) -> Option<Vec<WohEvent>> {
    s.next_request(now, 0, None).map(<[WohEvent]>::to_vec)
}

#[test]
fn one_request_at_a_time_and_events_queue_meanwhile() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    assert_eq!(request(&mut s, t0), None);
    s.on_client_message(text("a"));
    s.on_client_message(text("b"));
    assert_eq!(
        request(&mut s, t0),
        Some(vec![woh_text("a"), woh_text("b")])
    );
    s.on_client_message(text("c"));
    assert_eq!(
        request(&mut s, t0),
        None,
        "a second request while one is in flight"
    );
    assert!(s.on_reply());
    assert_eq!(request(&mut s, t0), Some(vec![woh_text("c")]));
}

#[test]
fn a_one_event_target_gets_one_event_per_request() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, true);
    s.on_client_message(text("a"));
    s.on_client_message(text("b"));
    assert_eq!(request(&mut s, t0), Some(vec![woh_text("a")]));
    s.on_reply();
    assert_eq!(request(&mut s, t0), Some(vec![woh_text("b")]));
}

#[test]
fn an_empty_request_is_sent_after_the_keep_alive_interval_without_one() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    let interval = Some(secs(30));
    assert_eq!(s.next_deadline(t0, 0, interval), Some(t0 + secs(30)));
    assert!(s.next_request(t0 + secs(29), 0, interval).is_none());
    let events = s
        .next_request(t0 + secs(30), 0, interval)
        .map(<[_]>::to_vec);
    assert_eq!(events, Some(vec![]));
    assert_eq!(
        s.next_deadline(t0 + secs(30), 0, interval),
        None,
        "in flight"
    );
    s.on_reply();
    assert_eq!(
        s.next_deadline(t0 + secs(31), 0, interval),
        Some(t0 + secs(60))
    );
}

#[test]
fn a_refresh_sends_one_request_now_or_after_the_one_in_flight() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    assert_eq!(request(&mut s, t0), None, "nothing to send yet");
    s.on_refresh();
    s.on_refresh();
    assert_eq!(
        request(&mut s, t0),
        Some(vec![]),
        "an empty request at once"
    );
    s.on_reply();
    assert_eq!(request(&mut s, t0), None, "two refreshes made one request");

    s.on_client_message(text("a"));
    assert_eq!(request(&mut s, t0), Some(vec![woh_text("a")]));
    s.on_refresh();
    assert_eq!(request(&mut s, t0), None, "one request at a time");
    s.on_reply();
    assert_eq!(request(&mut s, t0), Some(vec![]), "the queued refresh");
    s.on_reply();

    s.on_client_message(text("b"));
    s.on_refresh();
    assert_eq!(
        request(&mut s, t0),
        Some(vec![woh_text("b")]),
        "a pending event rides the refresh"
    );
    s.on_reply();
    assert_eq!(request(&mut s, t0), None);
}

#[test]
fn a_refresh_is_ignored_once_the_connection_is_closing_or_detached() {
    let t0 = Instant::now();
    let mut closing = WohSession::new(t0, false);
    closing.on_close_published(t0, secs(5));
    closing.on_refresh();
    assert_eq!(request(&mut closing, t0), None);

    let mut detached = WohSession::new(t0, false);
    detached.on_detach();
    detached.on_refresh();
    assert_eq!(request(&mut detached, t0), None);

    let mut gone = WohSession::new(t0, false);
    gone.on_refresh();
    gone.on_client_lost();
    assert_eq!(
        request(&mut gone, t0),
        Some(vec![WohEvent::Disconnect]),
        "a refresh before the client left changes nothing after"
    );
}

#[test]
fn a_refresh_held_back_by_a_full_client_queue_is_rechecked() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_refresh();
    let full = WOH_CLIENT_QUEUE_BYTES_MAX + 1;
    assert!(s.next_request(t0, full, None).is_none());
    assert_eq!(
        s.next_deadline(t0, full, None),
        Some(t0 + WOH_BACKPRESSURE_RECHECK)
    );
    assert_eq!(s.next_request(t0, 0, None).map(<[_]>::to_vec), Some(vec![]));
}

#[test]
fn a_full_client_queue_holds_requests_back_and_rechecks_later() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("a"));
    let full = WOH_CLIENT_QUEUE_BYTES_MAX + 1;
    assert!(s.next_request(t0, full, None).is_none());
    assert_eq!(
        s.next_deadline(t0, full, None),
        Some(t0 + WOH_BACKPRESSURE_RECHECK)
    );
    assert!(s
        .next_request(t0, WOH_CLIENT_QUEUE_BYTES_MAX, None)
        .is_some());
}

#[test]
fn the_client_is_not_read_while_its_pending_events_are_at_the_bound() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    let big = Bytes::from(vec![b'x'; WOH_PENDING_BYTES_MAX]);
    assert!(s.reads_client(false));
    s.on_client_message(WsEvent::Binary(big));
    assert!(!s.reads_client(false));
    assert!(request(&mut s, t0).is_some());
    assert!(s.reads_client(false));
    assert!(!s.reads_client(true), "a gone client is never read");
}

#[test]
fn a_client_close_goes_to_the_origin_and_its_answer_echoes_the_code() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    let step = s.on_client_message(WsEvent::Close {
        code: Some(4000),
        reason: "bye".into(),
    });
    assert_eq!(step, ClientStep::Continue);
    assert!(s.is_client_closing());
    assert_eq!(s.close_echo_due(), None, "not sent yet");
    s.on_client_message(text("after close"));
    let sent = request(&mut s, t0);
    assert_eq!(
        sent,
        Some(vec![WohEvent::Close(Some((4000, "bye".into())))])
    );
    assert!(s.on_reply());
    assert_eq!(s.close_echo_due(), Some((Some(4000), "bye".into())));
}

#[test]
fn an_origin_close_waits_for_the_client_reply_and_sends_it_back_as_close() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("a"));
    request(&mut s, t0);
    assert!(s.on_reply());
    let step = s.on_origin_close(t0, secs(5));
    assert_eq!(step, OriginCloseStep::AwaitClientReply);
    assert_eq!(s.phase(), &Phase::OriginClosing(t0 + secs(5)));
    assert_eq!(s.next_deadline(t0, 0, None), Some(t0 + secs(5)));
    assert!(s.reads_client(false));
    s.on_client_message(text("late"));
    let reply = WsEvent::Close {
        code: Some(4001),
        reason: "ok".into(),
    };
    assert_eq!(s.on_client_message(reply), ClientStep::Continue);
    assert!(
        !s.reads_client(false),
        "nothing is read after the close reply"
    );
    assert_eq!(s.close_echo_due(), None, "the client already has its close");
    let sent = request(&mut s, t0);
    assert_eq!(
        sent,
        Some(vec![
            woh_text("late"),
            WohEvent::Close(Some((4001, "ok".into())))
        ])
    );
    assert!(!s.is_done());
    assert!(
        !s.on_reply(),
        "the answer to the last CLOSE only ends the session"
    );
    assert!(s.is_done());
}

#[test]
fn an_origin_close_without_a_client_reply_ends_in_disconnect_at_the_deadline() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_origin_close(t0, secs(5));
    s.on_timer(t0 + secs(4));
    assert_eq!(s.phase(), &Phase::OriginClosing(t0 + secs(5)));
    s.on_timer(t0 + secs(5));
    assert_eq!(
        request(&mut s, t0 + secs(5)),
        Some(vec![WohEvent::Disconnect])
    );
}

#[test]
fn an_origin_close_answering_the_client_close_ends_at_once() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_message(WsEvent::Close {
        code: Some(1000),
        reason: String::new(),
    });
    request(&mut s, t0);
    assert!(s.on_reply());
    assert_eq!(s.on_origin_close(t0, secs(5)), OriginCloseStep::End);
}

fn close(code: u16, reason: &str) -> WsEvent {
    WsEvent::Close {
        code: Some(code),
        reason: reason.into(),
    }
}

#[test]
fn content_kept_back_goes_first_with_the_next_new_message_counted_as_replayed() {
    // Pushpin's websocketoverhttptest `replay`: 5 of "[foo][hello" accepted.
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("[foo][hello"));
    request(&mut s, t0);
    assert_eq!(s.replayed_bytes(), 0);
    assert_eq!(s.on_reply_accepting(Some(5)), Ok(true));
    assert_eq!(
        request(&mut s, t0),
        None,
        "kept-back bytes alone start nothing"
    );
    s.on_client_message(text(" world]"));
    assert_eq!(
        request(&mut s, t0),
        Some(vec![woh_text("[hello"), woh_text(" world]")])
    );
    assert_eq!(s.replayed_bytes(), 6);
    assert_eq!(s.on_reply_accepting(None), Ok(true));
    s.on_client_message(text("next"));
    request(&mut s, t0);
    assert_eq!(s.replayed_bytes(), 0);
}

#[test]
fn kept_back_content_rides_on_the_keep_alive_request_and_whole_events_are_dropped() {
    let t0 = Instant::now();
    let interval = Some(secs(20));
    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("ab"));
    s.on_client_message(WsEvent::Ping(Bytes::new()));
    s.on_client_message(text("cd"));
    s.on_client_message(text("ef"));
    s.next_request(t0, 0, interval);
    assert_eq!(s.on_reply_accepting(Some(3)), Ok(true));
    assert_eq!(s.next_request(t0 + secs(19), 0, interval), None);
    let sent = s
        .next_request(t0 + secs(20), 0, interval)
        .map(<[_]>::to_vec);
    assert_eq!(sent, Some(vec![woh_text("d"), woh_text("ef")]));
    assert_eq!(s.replayed_bytes(), 3);
}

#[test]
fn a_kept_back_close_goes_again_at_once_and_must_come_with_progress() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("ab"));
    s.on_client_message(close(1000, "x"));
    request(&mut s, t0);
    assert_eq!(s.on_reply_accepting(Some(1)), Ok(true));
    assert_eq!(s.close_echo_due(), None, "the close was not accepted yet");
    let again = request(&mut s, t0);
    let close_event = WohEvent::Close(Some((1000, "x".into())));
    assert_eq!(again, Some(vec![woh_text("b"), close_event.clone()]));
    assert_eq!(s.replayed_bytes(), 1);
    assert_eq!(
        s.on_reply_accepting(Some(1)),
        Err(KeepBackError::CloseNotAccepted)
    );

    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("ab"));
    s.on_client_message(close(1000, "x"));
    request(&mut s, t0);
    assert_eq!(
        s.on_reply_accepting(Some(0)),
        Err(KeepBackError::NoProgress { pending: 35 })
    );

    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("ab"));
    s.on_client_message(close(1000, "x"));
    request(&mut s, t0);
    assert_eq!(s.on_reply_accepting(Some(5)), Ok(true), "content and close");
    assert_eq!(s.close_echo_due(), Some((Some(1000), "x".into())));
}

#[test]
fn accepting_more_than_was_sent_or_nothing_at_the_bound_ends_the_connection() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("hello"));
    request(&mut s, t0);
    assert_eq!(
        s.on_reply_accepting(Some(6)),
        Err(KeepBackError::MoreThanSent {
            accepted: 6,
            sent: 5
        })
    );

    let mut s = WohSession::new(t0, false);
    let big = "x".repeat(WOH_PENDING_BYTES_MAX);
    s.on_client_message(text(&big));
    request(&mut s, t0);
    assert!(matches!(
        s.on_reply_accepting(Some(0)),
        Err(KeepBackError::NoProgress { .. })
    ));
}

#[test]
fn a_lost_client_gets_one_final_disconnect_and_the_session_ends() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("a"));
    s.on_client_lost();
    s.on_client_lost();
    assert!(!s.is_done());
    let sent = request(&mut s, t0);
    assert_eq!(sent, Some(vec![woh_text("a"), WohEvent::Disconnect]));
    assert!(
        !s.on_reply(),
        "the answer after the client left is not acted on"
    );
    assert!(s.is_done());
}

#[test]
fn requests_that_never_reached_the_origin_retry_after_1_2_4_8_16_s_then_end() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("a"));
    let mut now = t0;
    let first = request(&mut s, now);
    for delay in [1, 2, 4, 8, 16] {
        let jitter = Duration::from_millis(300);
        let step = s.on_failure(now, true, jitter);
        assert_eq!(step, FailureStep::RetryAt(now + secs(delay) + jitter));
        assert!(
            request(&mut s, now + secs(delay)).is_none(),
            "before the jitter"
        );
        now += secs(delay) + jitter;
        assert_eq!(
            request(&mut s, now),
            first,
            "a retry carries the same events"
        );
    }
    assert_eq!(s.on_failure(now, true, Duration::ZERO), FailureStep::End);
}

#[test]
fn a_request_the_origin_failed_is_not_retried() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("a"));
    request(&mut s, t0);
    assert_eq!(s.on_failure(t0, false, Duration::ZERO), FailureStep::End);
}

#[test]
fn a_failure_after_the_client_left_ends_without_retry() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_lost();
    request(&mut s, t0);
    assert_eq!(s.on_failure(t0, true, Duration::ZERO), FailureStep::End);
    assert!(s.is_done());
}

#[test]
fn after_detach_client_messages_stay_and_a_close_is_echoed_at_once() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_client_message(text("before"));
    s.on_detach();
    s.on_client_message(text("after"));
    assert_eq!(request(&mut s, t0), None);
    let close = WsEvent::Close {
        code: Some(1000),
        reason: String::new(),
    };
    assert_eq!(
        s.on_client_message(close),
        ClientStep::CloseClient(Some(1000), String::new())
    );
    s.on_client_lost();
    assert!(s.is_done(), "no DISCONNECT after detach");
}

#[test]
fn a_published_close_without_a_reply_ends_the_client_at_its_deadline() {
    let t0 = Instant::now();
    let mut s = WohSession::new(t0, false);
    s.on_close_published(t0, secs(5));
    assert_eq!(s.next_deadline(t0, 0, None), Some(t0 + secs(5)));
    s.on_timer(t0 + secs(4));
    assert_eq!(s.phase(), &Phase::PublishedClosing(t0 + secs(5)));
    s.on_timer(t0 + secs(5));
    assert_eq!(s.phase(), &Phase::Gone);
    assert_eq!(
        request(&mut s, t0 + secs(5)),
        Some(vec![WohEvent::Disconnect])
    );
}

/// A seeded xorshift generator: the same seed gives the same run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the simulated origin saw, and the invariants it checks as it goes.
#[derive(Default)]
struct OriginModel {
    /// Client message numbers the session was given, in order.
    forwarded: Vec<u64>,
    /// Message numbers the origin received in answered requests, in order.
    received: Vec<u64>,
    /// The batch in flight, if any.
    in_flight: Option<Vec<WohEvent>>,
    /// The batch that failed and must come back unchanged.
    retry_of: Option<Vec<WohEvent>>,
    disconnects: usize,
    ended: bool,
}

fn number_of(event: &WohEvent) -> Option<u64> {
    match event {
        WohEvent::Text(t) => std::str::from_utf8(t).ok()?.parse().ok(),
        _ => None,
    }
}

impl OriginModel {
    fn start(&mut self, batch: Vec<WohEvent>, seed: u64) {
        assert!(
            self.in_flight.is_none(),
            "seed {seed}: two requests in flight"
        );
        if let Some(failed) = self.retry_of.take() {
            assert_eq!(batch, failed, "seed {seed}: a retry changed its events");
        }
        self.in_flight = Some(batch);
    }

    fn answered(&mut self, seed: u64) {
        let batch = self.in_flight.take().expect("a request in flight");
        for event in &batch {
            assert_eq!(
                self.disconnects, 0,
                "seed {seed}: an event after DISCONNECT"
            );
            if matches!(event, WohEvent::Disconnect) {
                self.disconnects += 1;
            }
            if let Some(n) = number_of(event) {
                assert!(
                    self.received.last().is_none_or(|&last| last < n),
                    "seed {seed}: message {n} out of order or twice after {:?}",
                    self.received.last()
                );
                self.received.push(n);
            }
        }
    }

    fn check_end(&self, seed: u64) {
        for n in &self.received {
            assert!(self.forwarded.contains(n), "seed {seed}: {n} never sent");
        }
    }
}

/// Runs one random life of a session: client messages, closes and losses, published closes,
/// answers, failures and time passing, in random order.
fn simulate(seed: u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let t0 = Instant::now();
    let mut now = t0;
    let mut s = WohSession::new(t0, rng.below(4) == 0);
    let interval = (rng.below(3) == 0).then(|| secs(1 + rng.below(30)));
    let mut origin = OriginModel::default();
    let mut client_gone = false;
    let mut next_message = 1;
    for _ in 0..300 {
        let queued = if rng.below(10) == 0 {
            WOH_CLIENT_QUEUE_BYTES_MAX + 1
        } else {
            0
        };
        if let Some(batch) = s.next_request(now, queued, interval) {
            let batch = batch.to_vec();
            origin.start(batch, seed);
        }
        if s.is_done() {
            break;
        }
        match rng.below(12) {
            0..=3 if !client_gone && s.reads_client(false) => {
                let open = matches!(
                    s.phase(),
                    Phase::Open | Phase::PublishedClosing(_) | Phase::OriginClosing(_)
                );
                if !s.is_detached() && open {
                    origin.forwarded.push(next_message);
                }
                s.on_client_message(text(&next_message.to_string()));
                next_message += 1;
            }
            4 if !client_gone => {
                let close = WsEvent::Close {
                    code: Some(1000 + rng.below(4) as u16),
                    reason: String::new(),
                };
                if let ClientStep::CloseClient(..) = s.on_client_message(close) {
                    client_gone = true;
                    s.on_client_lost();
                }
                // A reply to the origin's close: the client is done.
                client_gone |= s.phase() == &Phase::Gone;
            }
            5 if !client_gone => {
                client_gone = true;
                s.on_client_lost();
            }
            6 if !client_gone => s.on_close_published(now, secs(5)),
            8 | 9 if origin.in_flight.is_some() => {
                let answered_events = s.on_reply();
                origin.answered(seed);
                // `detach` only ever arrives in an answer's events.
                if answered_events && rng.below(20) == 0 {
                    s.on_detach();
                }
                if answered_events && rng.below(10) == 0 {
                    if let OriginCloseStep::End = s.on_origin_close(now, secs(5)) {
                        client_gone = true;
                        s.on_client_lost();
                    }
                }
                if answered_events && s.close_echo_due().is_some() {
                    client_gone = true;
                    s.on_client_lost();
                }
            }
            10 if origin.in_flight.is_some() => {
                let jitter = Duration::from_millis(rng.below(1000));
                let retries_before = s.retries();
                match s.on_failure(now, rng.below(4) != 0, jitter) {
                    FailureStep::RetryAt(at) => {
                        assert!(retries_before < WOH_RETRIES_MAX, "seed {seed}");
                        assert!(
                            at - now <= secs(16) + jitter,
                            "seed {seed}: backoff unbounded"
                        );
                        origin.retry_of = origin.in_flight.take();
                    }
                    FailureStep::End => {
                        origin.in_flight = None;
                        origin.ended = true;
                        break;
                    }
                }
            }
            _ => {
                let deadline = s.next_deadline(now, queued, interval);
                now = deadline.unwrap_or(now + secs(1)).max(now);
                s.on_timer(now);
            }
        }
    }
    origin.check_end(seed);
    if origin.ended {
        return;
    }
    // Liveness: once the client is gone and the origin answers everything, the session ends.
    s.on_client_lost();
    for _ in 0..20 {
        if let Some(batch) = s.next_request(now, 0, interval) {
            let batch = batch.to_vec();
            origin.start(batch, seed);
        }
        if s.is_done() {
            break;
        }
        if origin.in_flight.is_some() {
            s.on_reply();
            origin.answered(seed);
        } else {
            now += secs(20);
        }
    }
    assert!(s.is_done(), "seed {seed}: the session never ended: {s:?}");
    assert!(origin.disconnects <= 1, "seed {seed}");
    origin.check_end(seed);
}

#[test]
fn thousands_of_random_lives_keep_one_request_in_flight_order_and_one_disconnect() {
    for seed in 0..3000 {
        simulate(seed);
    }
}
