//! Table tests for `apply_patch`: the RFC 6902 appendix A examples, pointer and index rules,
//! and malformed patches.

use super::{apply_patch, OpError, PatchError};
use serde_json::{json, Value};

fn op_err(index: usize, kind: OpError) -> PatchError {
    PatchError::Op { index, kind }
}

fn target(p: &str) -> OpError {
    OpError::NoTarget(p.to_owned())
}

/// `(name, document, patch, expected result)`.
fn ok_cases() -> Vec<(&'static str, Value, Value, Value)> {
    vec![
        (
            "A.1 add an object member",
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux"}]),
            json!({"baz": "qux", "foo": "bar"}),
        ),
        (
            "A.2 add an array element",
            json!({"foo": ["bar", "baz"]}),
            json!([{"op": "add", "path": "/foo/1", "value": "qux"}]),
            json!({"foo": ["bar", "qux", "baz"]}),
        ),
        (
            "A.3 remove an object member",
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "remove", "path": "/baz"}]),
            json!({"foo": "bar"}),
        ),
        (
            "A.4 remove an array element",
            json!({"foo": ["bar", "qux", "baz"]}),
            json!([{"op": "remove", "path": "/foo/1"}]),
            json!({"foo": ["bar", "baz"]}),
        ),
        (
            "A.5 replace a value",
            json!({"baz": "qux", "foo": "bar"}),
            json!([{"op": "replace", "path": "/baz", "value": "boo"}]),
            json!({"baz": "boo", "foo": "bar"}),
        ),
        (
            "A.6 move a value",
            json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}}),
            json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}]),
            json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
        ),
        (
            "A.7 move an array element",
            json!({"foo": ["all", "grass", "cows", "eat"]}),
            json!([{"op": "move", "from": "/foo/1", "path": "/foo/3"}]),
            json!({"foo": ["all", "cows", "eat", "grass"]}),
        ),
        (
            "A.8 test a value: success",
            json!({"baz": "qux", "foo": ["a", 2, "c"]}),
            json!([
                {"op": "test", "path": "/baz", "value": "qux"},
                {"op": "test", "path": "/foo/1", "value": 2}
            ]),
            json!({"baz": "qux", "foo": ["a", 2, "c"]}),
        ),
        (
            "A.10 add a nested member object",
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/child", "value": {"grandchild": {}}}]),
            json!({"foo": "bar", "child": {"grandchild": {}}}),
        ),
        (
            "A.11 ignore unrecognized elements",
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}]),
            json!({"foo": "bar", "baz": "qux"}),
        ),
        (
            "A.14 ~ escape ordering",
            json!({"/": 9, "~1": 10}),
            json!([{"op": "test", "path": "/~01", "value": 10}]),
            json!({"/": 9, "~1": 10}),
        ),
        (
            "A.16 add an array value",
            json!({"foo": ["bar"]}),
            json!([{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}]),
            json!({"foo": ["bar", ["abc", "def"]]}),
        ),
        (
            "copy, then ~1 escape",
            json!({"a": {"b": [1]}}),
            json!([
                {"op": "copy", "from": "/a/b", "path": "/c"},
                {"op": "add", "path": "/a~1b", "value": null}
            ]),
            json!({"a": {"b": [1]}, "c": [1], "a/b": null}),
        ),
        (
            "add at index len appends; replace the root; empty patch",
            json!([1]),
            json!([
                {"op": "add", "path": "/1", "value": 2},
                {"op": "replace", "path": "", "value": {"x": [1, 2]}},
                {"op": "test", "path": "", "value": {"x": [1.0, 2]}}
            ]),
            json!({"x": [1, 2]}),
        ),
        (
            "move to the same place; empty member name",
            json!({"": 1, "a": 2}),
            json!([
                {"op": "move", "from": "/a", "path": "/a"},
                {"op": "replace", "path": "/", "value": 3}
            ]),
            json!({"": 3, "a": 2}),
        ),
        ("empty patch", json!({"a": 1}), json!([]), json!({"a": 1})),
    ]
}

/// `(name, document, patch, expected error)`.
fn err_cases() -> Vec<(&'static str, Value, Value, PatchError)> {
    let foo = || json!({"foo": [1, 2]});
    vec![
        (
            "A.9 test a value: error",
            json!({"baz": "qux"}),
            json!([{"op": "test", "path": "/baz", "value": "bar"}]),
            op_err(0, OpError::TestFailed("/baz".into())),
        ),
        (
            "A.12 add to a nonexistent target",
            json!({"foo": "bar"}),
            json!([{"op": "add", "path": "/baz/bat", "value": "qux"}]),
            op_err(0, target("/baz/bat")),
        ),
        (
            "A.15 comparing strings and numbers",
            json!({"/": 9, "~1": 10}),
            json!([{"op": "test", "path": "/~01", "value": "10"}]),
            op_err(0, OpError::TestFailed("/~01".into())),
        ),
        (
            "not an array",
            foo(),
            json!({"op": "remove"}),
            PatchError::NotAnArray,
        ),
        (
            "op not an object",
            foo(),
            json!([1]),
            op_err(0, OpError::NotAnObject),
        ),
        (
            "missing op",
            foo(),
            json!([{"path": "/foo"}]),
            op_err(0, OpError::Missing("op")),
        ),
        (
            "missing path",
            foo(),
            json!([{"op": "remove"}]),
            op_err(0, OpError::Missing("path")),
        ),
        (
            "missing value",
            foo(),
            json!([{"op": "test", "path": "/foo"}, {"op": "add", "path": "/x"}]),
            op_err(0, OpError::Missing("value")),
        ),
        (
            "missing from",
            foo(),
            json!([{"op": "copy", "path": "/x"}]),
            op_err(0, OpError::Missing("from")),
        ),
        (
            "op not a string",
            foo(),
            json!([{"op": 1, "path": "/x"}]),
            op_err(0, OpError::NotAString("op")),
        ),
        (
            "unknown op",
            foo(),
            json!([{"op": "frobnicate", "path": "/foo"}]),
            op_err(0, OpError::UnknownOp("frobnicate".into())),
        ),
        (
            "pointer without a leading slash",
            foo(),
            json!([{"op": "remove", "path": "foo"}]),
            op_err(0, OpError::BadPointer("foo".into())),
        ),
        (
            "bad ~ escape",
            foo(),
            json!([{"op": "remove", "path": "/fo~2o"}]),
            op_err(0, OpError::BadPointer("/fo~2o".into())),
        ),
        (
            "trailing ~",
            foo(),
            json!([{"op": "remove", "path": "/foo~"}]),
            op_err(0, OpError::BadPointer("/foo~".into())),
        ),
        (
            "leading zero index",
            foo(),
            json!([{"op": "remove", "path": "/foo/01"}]),
            op_err(0, target("/foo/01")),
        ),
        (
            "index out of range",
            foo(),
            json!([{"op": "replace", "path": "/foo/2", "value": 0}]),
            op_err(0, target("/foo/2")),
        ),
        (
            "add past the end",
            foo(),
            json!([{"op": "add", "path": "/foo/3", "value": 0}]),
            op_err(0, target("/foo/3")),
        ),
        (
            "- is not an existing element",
            foo(),
            json!([{"op": "remove", "path": "/foo/-"}]),
            op_err(0, target("/foo/-")),
        ),
        (
            "signed and non-numeric indexes",
            foo(),
            json!([{"op": "add", "path": "/foo/+1", "value": 0}]),
            op_err(0, target("/foo/+1")),
        ),
        (
            "remove a missing member",
            foo(),
            json!([{"op": "remove", "path": "/bar"}]),
            op_err(0, target("/bar")),
        ),
        (
            "remove the root",
            foo(),
            json!([{"op": "remove", "path": ""}]),
            op_err(0, OpError::RemoveRoot),
        ),
        (
            "move into a child",
            json!({"a": {"b": 1}}),
            json!([{"op": "move", "from": "/a", "path": "/a/b/c"}]),
            op_err(0, OpError::MoveIntoChild("/a".into())),
        ),
        (
            "copy from nowhere",
            foo(),
            json!([{"op": "copy", "from": "/nope", "path": "/x"}]),
            op_err(0, target("/nope")),
        ),
        (
            "scalar parent",
            json!({"a": 1}),
            json!([{"op": "add", "path": "/a/b", "value": 0}]),
            op_err(0, target("/a/b")),
        ),
        (
            "the failing operation's index is reported",
            foo(),
            json!([
                {"op": "add", "path": "/x", "value": 1},
                {"op": "test", "path": "/x", "value": 2}
            ]),
            op_err(1, OpError::TestFailed("/x".into())),
        ),
    ]
}

#[test]
fn applies_valid_patches() {
    for (name, doc, patch, want) in ok_cases() {
        assert_eq!(apply_patch(&doc, &patch), Ok(want), "{name}");
    }
}

#[test]
fn rejects_invalid_patches() {
    for (name, doc, patch, want) in err_cases() {
        assert_eq!(apply_patch(&doc, &patch), Err(want), "{name}");
    }
}

#[test]
fn a_failed_patch_leaves_the_document_unchanged() {
    let doc = json!({"a": [1, 2]});
    let patch = json!([
        {"op": "add", "path": "/a/-", "value": 3},
        {"op": "remove", "path": "/missing"}
    ]);
    assert!(apply_patch(&doc, &patch).is_err());
    assert_eq!(doc, json!({"a": [1, 2]}));
}

#[test]
fn errors_read_well_in_a_log_line() {
    let err = op_err(2, OpError::TestFailed("/a".into()));
    assert_eq!(err.to_string(), "patch operation 2: test failed at \"/a\"");
}
