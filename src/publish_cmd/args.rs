//! `ringpin publish`'s command line: Pushpin's `pushpin-publish` arguments and flags, so its
//! scripts keep working, plus ringpin's own (`--ws`, `-` for stdin, `--jwt-key`/`--jwt-iss`).
//!
//! Owns: `PublishArgs`, parsed from `&[String]` with no I/O, and the usage text.
//! Must not: read files or stdin, or send anything (`publish_cmd::run` does).
//! Invariants: `--flag value` and `--flag=value` both work; a short flag takes its value
//! next (`-H value`); an unknown flag, a missing value or a bad one is an error naming it.

/// What to publish, where, and how to authenticate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishArgs {
    /// The channel.
    pub channel: String,
    /// The content as given: text, `@FILE`, or `-` for stdin; `None` with `--hint`/`--close`.
    pub content: Option<String>,
    /// `--id`.
    pub id: Option<String>,
    /// `--prev-id`.
    pub prev_id: Option<String>,
    /// `--sender`: the `sender` meta value.
    pub sender: Option<String>,
    /// `--code`: the HTTP response code (default 200, 0-999).
    pub code: u16,
    /// `-H/--header "Name: value"`, for the HTTP response, in order.
    pub headers: Vec<(String, String)>,
    /// `-M/--meta "name=value"`, in order.
    pub meta: Vec<(String, String)>,
    /// `--hint`: send a hint instead of content.
    pub hint: bool,
    /// `--close`: close streams and WebSockets.
    pub close: bool,
    /// `--patch`: the content is a JSON Patch for the held responses' bodies.
    pub patch: bool,
    /// `--no-seq`: bypass the sequencing buffer.
    pub no_seq: bool,
    /// `--no-eol`: no newline after HTTP content.
    pub no_eol: bool,
    /// `--ws`: a `ws-message` only (ringpin).
    pub ws_only: bool,
    /// `--spec`: a GRIP URL (`http://…`, `https://…`) or a ZeroMQ PUSH spec (`tcp://…`,
    /// `ipc://…`).
    pub spec: String,
    /// `--cacert FILE`: PEM certificates trusted for an `https` spec besides Mozilla's roots.
    pub cacert: Option<String>,
    /// How to authenticate, if at all.
    pub auth: Option<Auth>,
}

/// A credential for the publish endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `-u/--user user:pass`: HTTP Basic.
    Basic(String),
    /// `-B/--bearer TOKEN`.
    Bearer(String),
    /// `--jwt-key KEY [--jwt-iss ISS]`: a fresh HS256 JWT as gripcontrol sends.
    Jwt {
        /// The key, plain or `base64:…`.
        key: String,
        /// The issuer claim.
        iss: String,
    },
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Publish this.
    Publish(Box<PublishArgs>),
    /// `-h`/`--help`.
    Help,
}

/// The default `--spec`, as `pushpin-publish`'s.
pub const DEFAULT_SPEC: &str = "http://localhost:5561";

const VALUE_FLAGS: &[&str] = &[
    "--id",
    "--prev-id",
    "--sender",
    "--code",
    "-H",
    "--header",
    "-M",
    "--meta",
    "--spec",
    "-u",
    "--user",
    "-B",
    "--bearer",
    "--jwt-key",
    "--jwt-iss",
    "--cacert",
];

/// Parses the arguments after `publish`.
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut out = PublishArgs {
        code: 200,
        spec: DEFAULT_SPEC.to_owned(),
        ..PublishArgs::default()
    };
    let mut positional = Vec::new();
    let mut jwt = (None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        if VALUE_FLAGS.contains(&flag) {
            let value = match inline {
                Some(value) => value,
                None => args
                    .next()
                    .cloned()
                    .ok_or(format!("{flag} needs a value"))?,
            };
            apply_value(&mut out, &mut jwt, flag, value)?;
            continue;
        }
        match flag {
            "-h" | "--help" => return Ok(Parsed::Help),
            "--hint" => out.hint = true,
            "--close" => out.close = true,
            "--patch" => out.patch = true,
            "--no-seq" => out.no_seq = true,
            "--no-eol" => out.no_eol = true,
            "--ws" => out.ws_only = true,
            "-" => positional.push(arg.clone()),
            _ if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            _ => positional.push(arg.clone()),
        }
    }
    finish(out, positional, jwt).map(|args| Parsed::Publish(Box::new(args)))
}

fn apply_value(
    out: &mut PublishArgs,
    jwt: &mut (Option<String>, Option<String>),
    flag: &str,
    value: String,
) -> Result<(), String> {
    match flag {
        "--id" => out.id = Some(value),
        "--prev-id" => out.prev_id = Some(value),
        "--sender" => out.sender = Some(value),
        "--code" => {
            out.code = value
                .parse()
                .ok()
                .filter(|&code: &u16| code <= 999)
                .ok_or("code must be an integer between 0 and 999")?;
        }
        "-H" | "--header" => {
            let (name, value) = value
                .split_once(':')
                .ok_or("header must be in the form \"name: value\"")?;
            out.headers.push((name.to_owned(), value.trim().to_owned()));
        }
        "-M" | "--meta" => {
            let (name, value) = value
                .split_once('=')
                .ok_or("meta must be in the form \"name=value\"")?;
            out.meta.push((name.to_owned(), value.trim().to_owned()));
        }
        "--spec" => out.spec = value,
        "-u" | "--user" => out.auth = Some(Auth::Basic(value)),
        "-B" | "--bearer" => out.auth = Some(Auth::Bearer(value)),
        "--cacert" => out.cacert = Some(value),
        "--jwt-key" => jwt.0 = Some(value),
        _ => jwt.1 = Some(value),
    }
    Ok(())
}

fn finish(
    mut out: PublishArgs,
    positional: Vec<String>,
    jwt: (Option<String>, Option<String>),
) -> Result<PublishArgs, String> {
    let mut positional = positional.into_iter();
    out.channel = positional.next().ok_or("a channel is required")?;
    out.content = positional.next();
    if let Some(extra) = positional.next() {
        return Err(format!("unexpected argument {extra:?}"));
    }
    if !out.hint && !out.close && out.content.is_none() {
        return Err("must specify content".into());
    }
    match jwt {
        (Some(key), iss) => {
            let iss = iss.unwrap_or_default();
            out.auth = Some(Auth::Jwt { key, iss });
        }
        (None, Some(_)) => return Err("--jwt-iss needs --jwt-key".into()),
        (None, None) => {}
    }
    Ok(out)
}

/// `ringpin publish --help`.
pub fn usage() -> &'static str {
    "Usage: ringpin publish [OPTIONS] <channel> [content]

Publishes one item to ringpin (or Pushpin): the arguments of Pushpin's pushpin-publish.
Content is text, @FILE for a file's bytes, or - for standard input.

Options (as --flag VALUE or --flag=VALUE):
  --id ID                 payload id
  --prev-id ID            previous payload id
  --sender SENDER         sender meta value
  --code CODE             HTTP response code to use (default 200)
  -H, --header 'K: V'     add an HTTP response header, repeatable
  -M, --meta K=V          add a meta variable, repeatable
  --hint                  send a hint instead of content
  --close                 close streaming and WebSocket connections
  --patch                 content is a JSON Patch for held responses
  --no-seq                bypass the sequencing buffer
  --no-eol                don't add a newline to HTTP payloads
  --ws                    publish a ws-message only (ringpin)
  --spec SPEC             GRIP URL or ZeroMQ PUSH spec (default http://localhost:5561)
  --cacert FILE           also trust the PEM certificates in FILE for an https spec
  -u, --user USER:PASS    authenticate with HTTP Basic
  -B, --bearer TOKEN      authenticate with a Bearer token
  --jwt-key KEY           authenticate with a fresh HS256 JWT signed with KEY (plain or base64:...)
  --jwt-iss ISS           ... whose iss is ISS (ringpin: --publish-key/--publish-iss)
  -h, --help              print this help and exit
"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(line: &str) -> PublishArgs {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        match parse(&args) {
            Ok(Parsed::Publish(args)) => *args,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn parse_err(line: &str) -> String {
        let args: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        parse(&args).expect_err(line)
    }

    #[test]
    fn pushpin_publish_lines_parse_as_they_do_there() {
        let a = parse_ok("test hello --id 2 --prev-id=1 --sender bob --code 201");
        assert_eq!(
            (a.channel.as_str(), a.content.as_deref()),
            ("test", Some("hello"))
        );
        assert_eq!(
            (a.id.as_deref(), a.prev_id.as_deref()),
            (Some("2"), Some("1"))
        );
        assert_eq!((a.sender.as_deref(), a.code), (Some("bob"), 201));
        assert_eq!(a.spec, DEFAULT_SPEC);
        let a = parse_ok("ch -H X-A:one --header=X-B:two -M a=1 --meta b=2 x --no-seq --no-eol");
        assert_eq!(
            a.headers,
            [("X-A".into(), "one".into()), ("X-B".into(), "two".into())]
        );
        assert_eq!(a.meta, [("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert!(a.no_seq && a.no_eol && !a.hint);
        let a = parse_ok("ch --close --spec tcp://127.0.0.1:5560");
        assert!(a.close && a.content.is_none());
        assert_eq!(a.spec, "tcp://127.0.0.1:5560");
        let a = parse_ok("ch x --spec https://grip.example --cacert ca.pem");
        assert_eq!(a.cacert.as_deref(), Some("ca.pem"));
        assert!(parse_ok("ch --hint").hint);
        assert_eq!(parse_ok("ch - --ws").content.as_deref(), Some("-"));
    }

    #[test]
    fn credentials_take_every_form() {
        assert_eq!(parse_ok("c x -u u:p").auth, Some(Auth::Basic("u:p".into())));
        assert_eq!(parse_ok("c x -B t").auth, Some(Auth::Bearer("t".into())));
        let jwt = parse_ok("c x --jwt-key k --jwt-iss me").auth;
        assert_eq!(
            jwt,
            Some(Auth::Jwt {
                key: "k".into(),
                iss: "me".into()
            })
        );
    }

    #[test]
    fn mistakes_are_named() {
        for (line, want) in [
            ("", "a channel is required"),
            ("ch", "must specify content"),
            ("ch x --code 1000", "code must be"),
            ("ch x --code abc", "code must be"),
            ("ch x -H nocolon", "header must be"),
            ("ch x -M noequals", "meta must be"),
            ("ch x --frob", "unknown option --frob"),
            ("ch x --id", "--id needs a value"),
            ("ch x y", "unexpected argument"),
            ("ch x --jwt-iss me", "--jwt-iss needs --jwt-key"),
        ] {
            let err = parse_err(line);
            assert!(err.contains(want), "{line}: {err}");
        }
        assert_eq!(parse(&["--help".to_owned()]), Ok(Parsed::Help));
    }
}
