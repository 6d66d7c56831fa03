//! The Debian package's hand-written files (`contrib/debian/`) kept in step with the code:
//! the man page lists exactly the flags `ringpin --help` and `ringpin publish --help` print,
//! and the shipped ringpin.conf sets only keys ringpin reads and lists every key
//! `docs/config.md` documents. `.ci/deb-test` builds and installs the package itself.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn repo_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The real binary's help text for `args`.
fn help_text(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ringpin"))
        .args(args)
        .output()
        .expect("ringpin runs");
    assert!(out.status.success(), "ringpin {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// `-x` or `--long-name`, with no value attached.
fn is_flag(token: &str) -> bool {
    let name = token.trim_start_matches('-');
    let dashes = token.len() - name.len();
    (dashes == 1 && name.len() == 1 || dashes == 2 && name.len() > 1)
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The leading flags of `text`, e.g. `-H`, `--header` from `-H, --header 'K: V'  add ...`.
fn leading_flags(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '"')
        .filter(|token| !token.is_empty())
        .take_while(|token| token.starts_with('-'))
        .filter(|token| is_flag(token))
        .map(str::to_owned)
        .collect()
}

/// The flags a help text documents: the first column of its indented option lines.
fn help_flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter(|line| line.starts_with("  -"))
        .flat_map(leading_flags)
        .collect()
}

/// The flags a man page section documents: the tag line after each `.TP` in `.SH section`.
fn man_flags(man: &str, section: &str) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    let mut in_section = false;
    let mut after_tp = false;
    for line in man.lines() {
        if let Some(name) = line.strip_prefix(".SH ") {
            in_section = name.trim() == section;
        } else if in_section && after_tp {
            // `.BI \-\-listen " ADDR"` → `--listen`: the macro name is not a flag.
            let text = line.replace("\\-", "-");
            let text = text.split_once(' ').map_or("", |(_, rest)| rest);
            flags.extend(leading_flags(text));
        }
        after_tp = line.trim() == ".TP";
    }
    flags
}

fn assert_same_flags(help: &BTreeSet<String>, man: &BTreeSet<String>, what: &str) {
    let missing: Vec<_> = help.difference(man).collect();
    let stale: Vec<_> = man.difference(help).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "contrib/debian/ringpin.1 is out of step with `{what}`:\n\
         printed by --help but not in the man page: {missing:?}\n\
         in the man page but not printed by --help: {stale:?}"
    );
    assert!(
        help.len() > 10,
        "too few flags parsed from `{what}`: {help:?}"
    );
}

#[test]
fn man_page_documents_exactly_the_flags_ringpin_help_prints() {
    let help = help_flags(&help_text(&["--help"]));
    let man = man_flags(&repo_file("contrib/debian/ringpin.1"), "OPTIONS");
    assert_same_flags(&help, &man, "ringpin --help");
}

#[test]
fn man_page_documents_exactly_the_flags_ringpin_publish_help_prints() {
    let help = help_flags(&help_text(&["publish", "--help"]));
    let man = man_flags(&repo_file("contrib/debian/ringpin.1"), "PUBLISH");
    assert_same_flags(&help, &man, "ringpin publish --help");
}

#[test]
fn flag_parsing_takes_only_the_option_column() {
    let help = "Options:\n  -H, --header 'K: V'     add a header, see --meta\n  \
                --update-on-first-subscription BOOL  refetch\nnot --indented\n";
    let expected = ["-H", "--header", "--update-on-first-subscription"];
    assert_eq!(help_flags(help), expected.map(String::from).into());
    let man = ".SH OPTIONS\n.TP\n.BR \\-H \", \" \\-\\-header \" \\(aqK\"\nSee \\-\\-meta.\n\
               .SH FILES\n.TP\n.B \\-\\-other\n";
    assert_eq!(
        man_flags(man, "OPTIONS"),
        ["-H", "--header"].map(String::from).into()
    );
}

/// `(section, key)` for every `key=value` line of a pushpin.conf, and for every commented
/// `#key=` line when `commented` is set.
fn conf_keys(text: &str, commented: bool) -> BTreeSet<(String, String)> {
    let mut keys = BTreeSet::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let line = match line.strip_prefix('#') {
            Some(rest) if commented => rest,
            Some(_) => continue,
            None => line,
        };
        if let Some((key, _)) = line.split_once('=') {
            if is_conf_key(key) {
                keys.insert((section.clone(), key.to_owned()));
            }
        }
    }
    keys
}

fn is_conf_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
}

/// `(section, key)` for every key in docs/config.md's pushpin.conf table, whose first cell
/// reads `` `[handler] push_in_http_addr`, `push_in_http_port` ``.
fn documented_conf_keys(doc: &str) -> BTreeSet<(String, String)> {
    let table = doc
        .split("\n## pushpin.conf\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/config.md has a ## pushpin.conf section");
    let mut keys = BTreeSet::new();
    for row in table.lines().filter(|l| l.starts_with("| `[")) {
        let cell = row.split('|').nth(1).unwrap_or_default();
        let mut names = cell.split('`').skip(1).step_by(2);
        let first = names.next().unwrap_or_default();
        let (section, key) = first.trim_start_matches('[').split_once("] ").expect(first);
        keys.insert((section.to_owned(), key.to_owned()));
        keys.extend(names.map(|key| (section.to_owned(), key.to_owned())));
    }
    keys
}

#[test]
fn shipped_conf_sets_only_keys_ringpin_reads() {
    let text = repo_file("contrib/debian/ringpin.conf");
    let (_, warnings) =
        ringpin::config::parse_conf(&text).expect("the shipped ringpin.conf parses");
    assert_eq!(
        warnings,
        Vec::<String>::new(),
        "the shipped ringpin.conf draws warnings"
    );
}

#[test]
fn shipped_conf_lists_every_key_docs_config_documents() {
    let documented = documented_conf_keys(&repo_file("docs/config.md"));
    assert!(documented.len() > 20, "too few keys parsed: {documented:?}");
    let shipped = conf_keys(&repo_file("contrib/debian/ringpin.conf"), true);
    let missing: Vec<_> = documented.difference(&shipped).collect();
    assert!(
        missing.is_empty(),
        "keys in docs/config.md missing from contrib/debian/ringpin.conf: {missing:?}"
    );
    let undocumented: Vec<_> = shipped.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "keys in contrib/debian/ringpin.conf that docs/config.md does not document: {undocumented:?}"
    );
}
