//! Unit tests for `grip::filter`: names, delivery filters, content filters, malformed input.

use super::*;
use crate::grip::instruct::ChannelSub;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A subscriber with `meta`, subscribed to `channels` as (name, prev-id, filters).
fn subscriber(
    meta: &[(&str, &str)],
    channels: &[(&str, Option<&str>, &[&str])],
) -> SubscriberFilters {
    let subs: Vec<ChannelSub> = channels
        .iter()
        .map(|(name, prev_id, filters)| ChannelSub {
            name: name.to_string(),
            prev_id: prev_id.map(str::to_string),
            filters: filters.iter().map(|f| f.to_string()).collect(),
        })
        .collect();
    let mut state = SubscriberFilters::new(pairs(meta));
    for sub in &subs {
        state.subscribe(&sub.name, sub.prev_id.clone(), &sub.filters);
    }
    state
}

/// The verdict for an item on channel `c` with `id`, publish `meta` and `content`.
fn verdict(
    state: &mut SubscriberFilters,
    id: Option<&str>,
    meta: &[(&str, &str)],
    content_filters: Option<&[&str]>,
    content: Option<&str>,
) -> Verdict {
    let meta = pairs(meta);
    let listed: Option<Vec<String>> =
        content_filters.map(|l| l.iter().map(|f| f.to_string()).collect());
    state.on_item(ItemView {
        channel: "c",
        id,
        meta: &meta,
        content_filters: listed.as_deref(),
        content: content.map(str::as_bytes),
    })
}

fn rewrite(text: &str) -> Verdict {
    Verdict::Rewrite(text.as_bytes().to_vec())
}

#[test]
fn filter_names_round_trip_and_unknown_names_are_none() {
    for filter in Filter::ALL {
        assert_eq!(Filter::from_name(filter.name()), Some(filter));
    }
    for name in ["", "Skip-Self", "skip_self", "http-check", "build-id "] {
        assert_eq!(Filter::from_name(name), None, "{name:?}");
    }
    let content: Vec<_> = Filter::ALL
        .into_iter()
        .filter(|f| f.rewrites_content())
        .collect();
    assert_eq!(content, [Filter::BuildId, Filter::VarSubst]);
    let response: Vec<_> = Filter::ALL
        .into_iter()
        .filter(|f| f.rewrites_response())
        .collect();
    assert_eq!(response, [Filter::BuildId]);
}

#[test]
fn a_hold_without_known_filters_has_no_filter_state() {
    let sub = |filters: &[&str]| ChannelSub {
        name: "c".into(),
        prev_id: None,
        filters: filters.iter().map(|f| f.to_string()).collect(),
    };
    let meta = pairs(&[("user", "a")]);
    assert_eq!(SubscriberFilters::for_hold(&meta, &[sub(&[])]), None);
    assert_eq!(SubscriberFilters::for_hold(&meta, &[sub(&["nope"])]), None);
    assert!(SubscriberFilters::for_hold(&meta, &[sub(&["skip-self"])]).is_some());
    assert!(SubscriberFilters::for_hold(&meta, &[sub(&[]), sub(&["var-subst"])]).is_some());
}

#[test]
fn delivery_filters_withhold_exactly_as_specified() {
    type Case<'a> = (
        &'a [(&'a str, &'a str)],
        &'a str,
        &'a [(&'a str, &'a str)],
        bool,
    );
    let cases: &[Case] = &[
        // (subscriber meta, filter, publish meta, delivered?)
        (&[("user", "a")], "skip-self", &[("sender", "a")], false),
        (&[("user", "a")], "skip-self", &[("sender", "b")], true),
        (&[("user", "a")], "skip-self", &[], true),
        (&[], "skip-self", &[("sender", "a")], true),
        (&[("user", "")], "skip-self", &[("sender", "")], true),
        (
            &[("user", "a")],
            "skip-users",
            &[("skip_users", "a")],
            false,
        ),
        (
            &[("user", "a")],
            "skip-users",
            &[("skip_users", "b, a ,c")],
            false,
        ),
        (
            &[("user", "a")],
            "skip-users",
            &[("skip_users", "b,ab,c")],
            true,
        ),
        (&[("user", "a")], "skip-users", &[("skip_users", "")], true),
        (&[], "skip-users", &[("skip_users", "a,,")], true),
        (&[("user", "")], "skip-users", &[("skip_users", ",")], true),
        (&[], "require-sub", &[("require_sub", "other")], false),
        (&[], "require-sub", &[("require_sub", "c")], true),
        (&[], "require-sub", &[("require_sub", "d")], true),
        (&[], "require-sub", &[("require_sub", "")], true),
        (&[], "require-sub", &[], true),
        // A filter only acts on its own channel's items, and unknown ones do nothing.
        (&[("user", "a")], "nope", &[("sender", "a")], true),
    ];
    for (sub_meta, filter, pub_meta, delivered) in cases {
        let mut state = subscriber(sub_meta, &[("c", None, &[filter]), ("d", None, &[])]);
        let got = verdict(&mut state, None, pub_meta, None, Some("x"));
        let want = if *delivered {
            Verdict::Deliver
        } else {
            Verdict::Drop
        };
        assert_eq!(got, want, "{sub_meta:?} {filter} {pub_meta:?}");
    }
    // A close (no content) is withheld the same way.
    let mut state = subscriber(&[], &[("c", None, &["require-sub"])]);
    let meta = [("require_sub", "gone")];
    assert_eq!(verdict(&mut state, None, &meta, None, None), Verdict::Drop);
}

#[test]
fn build_id_renders_the_id_from_id_format_and_the_updated_prev_ids() {
    let meta = [("user", "u"), ("id_format", "c:%(c)s,d:%(d)s")];
    let mut state = subscriber(
        &meta,
        &[("c", Some("1"), &["build-id"]), ("d", Some("7"), &[])],
    );
    let content = "id: %I\ndata: 100%% %(lit)I\n\n";
    let got = verdict(
        &mut state,
        Some("2"),
        &[],
        Some(&["build-id"]),
        Some(content),
    );
    assert_eq!(got, rewrite("id: c:2,d:7\ndata: 100% lit\n\n"));
    // The prev-id advanced, so the next item names itself.
    let got = verdict(&mut state, Some("3"), &[], None, Some("%I"));
    assert_eq!(got, rewrite("c:3,d:7"));
    // Content without a directive is delivered as is, not copied.
    assert_eq!(
        verdict(&mut state, Some("4"), &[], None, Some("plain")),
        Verdict::Deliver
    );
}

#[test]
fn build_id_hex_encodes_both_forms() {
    let meta = [("id_format", "%(c)s"), ("id_encoding", "hex")];
    let mut state = subscriber(&meta, &[("c", Some("0"), &["build-id"])]);
    let got = verdict(&mut state, Some("ab"), &[], None, Some("%I/%(\u{e9})I"));
    assert_eq!(got, rewrite("6162/c3a9"));
}

#[test]
fn build_id_errors_fail_the_session() {
    use TemplateError::*;
    let fail = |meta: &[(&str, &str)], prev: Option<&str>, content: &str| {
        let mut state = subscriber(meta, &[("c", prev, &["build-id"])]);
        match verdict(&mut state, Some("2"), &[], None, Some(content)) {
            Verdict::Fail(err) => err,
            other => panic!("{meta:?} {content:?}: {other:?}"),
        }
    };
    assert_eq!(fail(&[], Some("1"), "%I"), FilterError::NoIdFormat);
    // Pushpin checks the meta before looking at the content.
    assert_eq!(fail(&[], Some("1"), "plain"), FilterError::NoIdFormat);
    let hex = [("id_format", "%(c)s"), ("id_encoding", "base64")];
    assert_eq!(
        fail(&hex, Some("1"), "%I"),
        FilterError::UnsupportedEncoding {
            encoding: "base64".into()
        }
    );
    let missing = |name: &str, at| NoSuchVariable {
        name: name.into(),
        at,
    };
    let unknown_var = [("id_format", "%(x)s")];
    assert_eq!(
        fail(&unknown_var, Some("1"), "%I"),
        FilterError::IdFormat(missing("x", 4))
    );
    // A channel without a prev-id is not a variable.
    let own = [("id_format", "%(c)s")];
    assert_eq!(
        fail(&own, None, "%I"),
        FilterError::IdFormat(missing("c", 4))
    );
    let bare = [("id_format", "%s")];
    assert_eq!(
        fail(&bare, Some("1"), "%I"),
        FilterError::IdFormat(ArgumentMissing {
            directive: 's',
            at: 1
        })
    );
    let truncated = [("id_format", "x%")];
    assert_eq!(
        fail(&truncated, Some("1"), "%I"),
        FilterError::IdFormat(Truncated { at: 1 })
    );
    assert_eq!(
        fail(&own, Some("1"), "%s"),
        FilterError::Content(UnknownDirective {
            directive: 's',
            at: 1
        })
    );
    assert_eq!(
        fail(&own, Some("1"), "50%"),
        FilterError::Content(Truncated { at: 2 })
    );
    assert_eq!(
        fail(&own, Some("1"), "%(I"),
        FilterError::Content(Unterminated { at: 1 })
    );
}

#[test]
fn var_subst_replaces_subscription_meta() {
    let meta = [("user", "alice"), ("room", "r 1")];
    let mut state = subscriber(&meta, &[("c", None, &["var-subst"])]);
    let got = verdict(
        &mut state,
        None,
        &[],
        None,
        Some("hi %(user)s in %(room)s, 5%%"),
    );
    assert_eq!(got, rewrite("hi alice in r 1, 5%"));
    assert_eq!(
        verdict(&mut state, None, &[], None, Some("plain")),
        Verdict::Deliver
    );
    let cases: &[(&str, TemplateError)] = &[
        (
            "%(nobody)s",
            TemplateError::NoSuchVariable {
                name: "nobody".into(),
                at: 9,
            },
        ),
        (
            "%s",
            TemplateError::ArgumentMissing {
                directive: 's',
                at: 1,
            },
        ),
        (
            "%(user)I",
            TemplateError::UnknownDirective {
                directive: 'I',
                at: 7,
            },
        ),
        ("%", TemplateError::Truncated { at: 0 }),
    ];
    for (content, want) in cases {
        let got = verdict(&mut state, None, &[], None, Some(content));
        assert_eq!(
            got,
            Verdict::Fail(FilterError::Content(want.clone())),
            "{content}"
        );
    }
}

#[test]
fn content_filters_run_in_subscription_order() {
    let meta = [("id_format", "%(c)s"), ("who", "%I")];
    // var-subst first inserts "%I", which build-id then expands.
    let mut state = subscriber(&meta, &[("c", Some("1"), &["var-subst", "build-id"])]);
    let got = verdict(&mut state, Some("5"), &[], None, Some("%(who)s"));
    assert_eq!(got, rewrite("5"));
}

#[test]
fn content_filters_must_equal_the_subscriptions_content_filters() {
    let mut state = subscriber(
        &[("user", "u"), ("id_format", "%(c)s")],
        &[("c", Some("1"), &["build-id", "skip-users"])],
    );
    let ok = verdict(&mut state, Some("2"), &[], Some(&["build-id"]), Some("x"));
    assert_eq!(ok, Verdict::Deliver);
    let mismatches: &[&[&str]] = &[
        &[],
        &["var-subst"],
        &["build-id", "build-id"],
        &["skip-users"],
    ];
    for listed in mismatches {
        let got = verdict(&mut state, Some("3"), &[], Some(listed), Some("x"));
        let want = FilterError::ContentFiltersMismatch {
            subscription: "build-id".into(),
            message: listed.join(","),
        };
        assert_eq!(got, Verdict::Fail(want), "{listed:?}");
    }
    // An item for a subscription without content filters may list none.
    let mut plain = subscriber(&[], &[("c", None, &["skip-self"])]);
    assert_eq!(
        verdict(&mut plain, None, &[], Some(&[]), Some("x")),
        Verdict::Deliver
    );
}

#[test]
fn the_initial_response_body_gets_build_id_without_prev_ids() {
    let meta = [("id_format", "%(c)s")];
    let state = subscriber(&meta, &[("c", Some("3"), &["build-id", "var-subst"])]);
    let body = |text: &str| state.on_response_body(text.as_bytes());
    assert_eq!(
        body("id: c:3\ndata: 5%%\n\n"),
        Ok(Some(b"id: c:3\ndata: 5%\n\n".to_vec()))
    );
    assert_eq!(body("plain"), Ok(None));
    assert_eq!(body(""), Ok(None));
    // var-subst does not touch responses, so this stays.
    assert_eq!(body("%(x)I"), Ok(Some(b"x".to_vec())));
    let err = FilterError::Content(TemplateError::NoDefaultId { at: 1 });
    assert_eq!(body("%I"), Err(err));
    let none = subscriber(&[], &[("c", None, &["skip-self"])]);
    assert_eq!(none.on_response_body(b"%I"), Ok(None));
}

#[test]
fn websocket_style_updates_change_meta_and_channels() {
    let mut state = SubscriberFilters::new(Vec::new());
    assert!(!state.has_filters());
    state.subscribe("c", None, &["skip-self".to_string()]);
    state.set_meta("user", "a".to_string());
    let own = [("sender", "a")];
    assert_eq!(
        verdict(&mut state, None, &own, None, Some("x")),
        Verdict::Drop
    );
    state.set_meta("user", "b".to_string());
    assert_eq!(
        verdict(&mut state, None, &own, None, Some("x")),
        Verdict::Deliver
    );
    state.subscribe("c", None, &[]);
    assert!(!state.has_filters());
    state.subscribe("d", None, &["require-sub".to_string()]);
    state.unsubscribe("c");
    let mut view = |channel| {
        let meta = pairs(&[("require_sub", "c")]);
        state.on_item(ItemView {
            channel,
            id: None,
            meta: &meta,
            content_filters: None,
            content: None,
        })
    };
    assert_eq!(view("d"), Verdict::Drop);
    assert_eq!(view("c"), Verdict::Deliver);
}
