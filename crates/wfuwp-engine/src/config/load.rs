//! Locating, reading and validating the configuration file.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

/// Which setting named the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    /// `--config`
    Flag,
    /// `WFUWP_CONFIG`
    EnvVar,
    /// `~/.wfuwp/config.toml`
    Default,
}

/// Resolves the config path: `--config`, else `WFUWP_CONFIG`, else `~/.wfuwp/config.toml`.
pub fn locate(flag: Option<&Path>) -> (PathBuf, ConfigSource) {
    if let Some(p) = flag {
        return (p.to_path_buf(), ConfigSource::Flag);
    }
    if let Some(p) = std::env::var_os("WFUWP_CONFIG").filter(|v| !v.is_empty()) {
        return (PathBuf::from(p), ConfigSource::EnvVar);
    }
    (
        home_dir().join(".wfuwp").join("config.toml"),
        ConfigSource::Default,
    )
}

/// The user's home directory (`$HOME`), or `.` when unset.
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Loads and validates the configuration named by `flag` / the environment.
pub fn load(flag: Option<&Path>) -> Result<Config, ConfigError> {
    let (path, _) = locate(flag);
    load_file(&path)
}

/// Loads and validates the configuration at `path`.
pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ConfigError::NotFound {
            path: path.to_path_buf(),
            why: "file not found".into(),
        },
        _ => ConfigError::Unreadable {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    let mut config = parse(&text, path)?;
    config.warnings.extend(world_readable(path, &config));
    config.warnings.extend(socket_and_host(&config));
    Ok({
        config.path = path.to_path_buf();
        config
    })
}

/// Parses `text` as the configuration of a file at `path` (used for relative paths).
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let mut config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: render_toml_error(&e, text),
    })?;
    config.path = path.to_path_buf();
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Some(dir) = &config.logs_dir {
        config.logs_dir = Some(base.join(expand_home(dir)));
    }
    let invalid = |message: String| ConfigError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    for (name, env) in config.environments.iter_mut() {
        env.name = name.clone();
        if let Some(s) = &env.socket {
            env.socket = Some(base.join(expand_home(s)));
        }
        for file in [&mut env.ssl_ca, &mut env.ssl_cert, &mut env.ssl_key] {
            if let Some(p) = file.as_ref() {
                *file = Some(base.join(expand_home(p)));
            }
        }
        if let Some(problem) = env.tls().problem(name) {
            return Err(invalid(problem));
        }
        if env.host.is_none() && env.socket.is_none() {
            return Err(invalid(format!(
                "[environments.{name}] needs `host = \"...\"` or `socket = \"...\"`"
            )));
        }
        if env.password.is_some() && env.password_env.is_some() {
            return Err(invalid(format!(
                "[environments.{name}] sets both `password` and `password_env`; keep one (password_env is safer)"
            )));
        }
        if env.database.trim().is_empty() {
            return Err(invalid(format!(
                "[environments.{name}] has an empty `database`"
            )));
        }
        if !env
            .table_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || env.table_prefix.is_empty()
        {
            return Err(invalid(format!(
                "[environments.{name}] table_prefix '{}' must be letters, digits and underscores",
                env.table_prefix
            )));
        }
        if let Some(m) = &env.media {
            m.validate(name).map_err(invalid)?;
        }
        if let Some(problem) = env.scrub.as_ref().and_then(|s| s.problem(name)) {
            return Err(invalid(problem));
        }
        super::hosts::validate(env)
            .map_err(|why| invalid(format!("[environments.{name}] {why}")))?;
        for (key, value) in &env.replace {
            if value.is_empty() {
                return Err(invalid(format!(
                    "[environments.{name}.replace] {key} is empty; give the environment's value"
                )));
            }
        }
    }
    if let Some(c) = config.defaults.concurrency {
        if c == 0 || c > super::MAX_CONCURRENCY {
            return Err(invalid(format!(
                "[defaults] concurrency = {c} must be between 1 and {}",
                super::MAX_CONCURRENCY
            )));
        }
    }
    if let Some(t) = config.defaults.timeout_minutes {
        super::check_timeout_minutes(t)
            .map_err(|why| invalid(format!("[defaults] timeout_minutes = {t}: {why}")))?;
    }
    if let Some(r) = config.defaults.max_retries {
        if r > super::MAX_RETRIES {
            return Err(invalid(format!(
                "[defaults] max_retries = {r} must be at most {}",
                super::MAX_RETRIES
            )));
        }
    }
    Ok(config)
}

/// `~/x` → `$HOME/x`, as a shell would; other paths are returned unchanged.
fn expand_home(p: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => home_dir().join(rest),
        Err(_) => p.to_path_buf(),
    }
}

/// Whether a TOML key names a secret whose value must never be echoed.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["pass", "secret", "token", "key"]
        .iter()
        .any(|w| k.contains(w))
}

/// Byte ranges of `text` that hold values of secret keys, found by toml's
/// own error-recovering parser, so that a value is found wherever it is: on
/// the key's line, across the lines of a multi-line string or array, inside
/// an inline table, and in a file that does not parse as a whole. Each range
/// runs on to the end of the line where the value ends (what follows a
/// value on its line may be the rest of a mistyped secret).
fn secret_spans(text: &str) -> Vec<Range<usize>> {
    use toml_parser::parser::{parse_document, Event, EventKind};
    let tokens = toml_parser::Source::new(text).lex().into_vec();
    let mut events: Vec<Event> = Vec::new();
    let mut errors: Vec<toml_parser::ParseError> = Vec::new();
    parse_document(&tokens, &mut |e: Event| events.push(e), &mut errors);
    let line_end = |at: usize| text[at..].find('\n').map_or(text.len(), |i| at + i);
    let mut spans = Vec::new();
    let mut key: Option<&str> = None;
    let mut i = 0;
    while i < events.len() {
        let (kind, span) = (events[i].kind(), events[i].span());
        i += 1;
        match kind {
            EventKind::SimpleKey => key = text.get(span.start()..span.end()),
            EventKind::StdTableOpen | EventKind::ArrayTableOpen => key = None,
            EventKind::KeyValSep
                if key.is_some_and(|k| is_secret_key(k.trim_matches(['"', '\'']))) =>
            {
                key = None;
                match value_extent(&events[i..]) {
                    Some((start, end)) if start < line_end(end) => spans.push(start..line_end(end)),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    spans
}

/// Where the value that follows a `=` starts and ends in `events` (the
/// events after the `=`): one scalar, or an array or inline table up to its
/// matching close (or the last event, when it is never closed).
fn value_extent(events: &[toml_parser::parser::Event]) -> Option<(usize, usize)> {
    use toml_parser::parser::EventKind::*;
    let mut start = None;
    let mut depth = 0u32;
    for e in events {
        let span = e.span();
        match e.kind() {
            Whitespace | Comment if start.is_none() => continue,
            Newline if start.is_none() => return None,
            ArrayOpen | InlineTableOpen => depth += 1,
            ArrayClose | InlineTableClose if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    return start.map(|s| (s, span.end()));
                }
            }
            _ if depth == 0 => return Some((start.unwrap_or(span.start()), span.end())),
            _ => {}
        }
        start.get_or_insert(span.start());
    }
    start.map(|s| (s, events.last().map_or(s, |e| e.span().end())))
}

/// The toml crate's rendering of a parse error quotes the offending source
/// line, and its message may quote the value; both could print a password.
/// When the error's line holds any part of a secret value ([`secret_spans`]),
/// the line is shown with those bytes replaced, and every fragment of a
/// secret value the message quotes is removed. Other errors keep the
/// crate's rendering.
fn render_toml_error(e: &toml::de::Error, text: &str) -> String {
    let Some(span) = e.span() else {
        return e.to_string().trim_end().to_string();
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let secrets: Vec<Range<usize>> = secret_spans(text)
        .into_iter()
        .filter(|s| s.start <= line_end.max(span.end) && s.end >= line_start.min(span.start))
        .collect();
    if secrets.is_empty() {
        return e.to_string().trim_end().to_string();
    }
    let line_no = text[..start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let mut shown = String::new();
    let mut at = line_start;
    for s in &secrets {
        let (from, to) = (s.start.max(at), s.end.min(line_end));
        if from < to {
            shown.push_str(&text[at..from]);
            shown.push_str("<redacted>");
            at = to;
        }
    }
    shown.push_str(&text[at..line_end]);
    let values: Vec<&str> = secrets.iter().map(|s| &text[s.clone()]).collect();
    // Fragments the message quotes in backticks (`12345678`) that come from a value.
    let mut message = String::new();
    for (i, part) in e.message().trim_end().split('`').enumerate() {
        if i > 0 {
            message.push('`');
        }
        let fragment = part.trim_matches(['"', '\'']);
        if i % 2 == 1 && !fragment.is_empty() && values.iter().any(|v| v.contains(fragment)) {
            message.push_str("<redacted>");
        } else {
            message.push_str(part);
        }
    }
    for v in values.iter().flat_map(|v| v.lines()).map(str::trim) {
        if !v.is_empty() {
            message = message.replace(v, "<redacted>");
        }
    }
    format!(
        "TOML parse error at line {line_no}, column {column}\n  |\n{line_no} | {}\n  |\n{message}\n(values of secret keys are not shown)",
        shown.trim_end_matches('\r')
    )
}

/// A literal password in a file other users can read.
#[cfg(unix)]
fn world_readable(path: &Path, config: &Config) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let has_literal = config.environments.values().any(|e| e.password.is_some());
    let meta = std::fs::metadata(path).ok().filter(|_| has_literal)?;
    (meta.permissions().mode() & 0o044 != 0).then(|| {
        format!(
            "{} holds a literal password and other users can read it; run `chmod 600 {}` or use password_env",
            path.display(),
            path.display()
        )
    })
}

#[cfg(not(unix))]
fn world_readable(_: &Path, _: &Config) -> Option<String> {
    None
}

/// The driver connects through `socket` when one is set and then ignores
/// `host`/`port`: a config that sets both is told so.
fn socket_and_host(config: &Config) -> Vec<String> {
    config
        .environments
        .values()
        .filter_map(|env| {
            let (socket, host) = (env.socket.as_ref()?, env.host.as_ref()?);
            Some(format!(
                "[environments.{name}] sets both `host` and `socket`: wfuwp connects through the socket {} \
                 and ignores host '{host}' and port. Remove the one you do not mean from {}.",
                socket.display(),
                config.path.display(),
                name = env.name,
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
logs_dir = "logs"
[defaults]
concurrency = 2
[environments.prod]
host = "db"
user = "u"
password_env = "P"
database = "wp_prod"
[environments.prod.replace]
main = "www.wfu.edu"
[environments.uat]
socket = "run/mysqld.sock"
user = "u"
password = "x"
database = "wp_uat"
[environments.uat.replace]
main = "uat.wfu.edu"
"#;

    #[test]
    fn relative_paths_resolve_against_the_file() {
        let c = parse(GOOD, Path::new("/etc/wfuwp/config.toml")).unwrap();
        assert_eq!(c.logs_dir.as_deref(), Some(Path::new("/etc/wfuwp/logs")));
        assert_eq!(
            c.environments["uat"].socket.as_deref(),
            Some(Path::new("/etc/wfuwp/run/mysqld.sock"))
        );
        assert_eq!(c.environments["prod"].table_prefix, "wp_");
        assert_eq!(c.environments["prod"].name, "prod");
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse(
            "[environments.prod]\nhost = \"db\"\nuser = \"u\"\nbogus = 1\ndatabase = \"d\"\n",
            Path::new("/c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("/c.toml") && err.contains("line 4") && err.contains("bogus"),
            "{err}"
        );
        let err = parse(
            "[environments.prod]\nhost = \"db\"\nuser = \"u\"\n",
            Path::new("/c.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("database"), "{err}");
        let err = parse("not toml at all [", Path::new("/c.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn errors_on_secret_lines_hide_the_value() {
        for (line, secret, at) in [
            ("password = \"S3cr3t\" y", "S3cr3t", 3),
            ("password = 12345678", "12345678", 3),
            ("password = 'S3cr3t", "S3cr3t", 3),
            ("password = S3 cr3t", "cr3t", 3),
            ("\"api_token\" = [\"S3cr3t\", 1]", "S3cr3t", 3),
            ("a = { user = \"u\", password = 1S3cr3t }", "S3cr3t", 3),
            // The error is on a line of the value that does not name the key.
            ("password = \"\"\"\nHUNTER2\"\"\" junk", "HUNTER2", 4),
            ("password = '''\nab\nHUNTER2''' junk", "HUNTER2", 5),
            ("db.password = [\n\"HUNTER2\",\n 'x' y ]", "HUNTER2", 5),
            // Never closed: the string runs to the end of the file.
            ("password = \"\"\"\nHUNTER2", "HUNTER2", 6),
        ] {
            let text = format!("[environments.prod]\nhost = \"db\"\n{line}\nuser = \"u\"\n");
            let err = parse(&text, Path::new("/c.toml")).unwrap_err().to_string();
            assert!(!err.contains(secret), "{line}: {err}");
            assert!(
                err.contains("/c.toml") && err.contains(&format!("line {at}")),
                "{line}: {err}"
            );
        }
        assert!(is_secret_key("DB_Password") && !is_secret_key("host"));
    }

    #[test]
    fn secret_values_are_found_by_their_key_not_by_line() {
        let spans = |text: &str| -> Vec<String> {
            secret_spans(text)
                .into_iter()
                .map(|r| text[r].to_string())
                .collect()
        };
        assert!(spans("host = \"x\"\nuser = \"password\"\n").is_empty());
        assert_eq!(spans("a = { user = \"u\", password = 1 }\n"), ["1 }"]);
        assert_eq!(
            spans("password = \"\"\"\nHUNTER2\"\"\" junk\nuser = 1\n"),
            ["\"\"\"\nHUNTER2\"\"\" junk"]
        );
        assert!(spans("[x.password]\nhost = 1\n").is_empty());
        assert!(spans("secret_key =\nhost = 1\n").is_empty());
    }

    #[test]
    fn numbers_are_bounded_and_tilde_is_home() {
        for bad in [
            "timeout_minutes = 1e18",
            "timeout_minutes = nan",
            "timeout_minutes = -inf",
            "timeout_minutes = 0.0",
            "timeout_minutes = 1e-300",
            "concurrency = 65",
            "max_retries = 101",
        ] {
            let text = format!("[defaults]\n{bad}\n");
            assert!(parse(&text, Path::new("/c.toml")).is_err(), "{bad}");
        }
        let c = parse("logs_dir = \"~/l\"\n", Path::new("/etc/c.toml")).unwrap();
        assert_eq!(c.logs_dir, Some(home_dir().join("l")));
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = parse(GOOD, Path::new("/c.toml")).unwrap();
        let dbg = format!("{:?}", c);
        assert!(!dbg.contains("\"x\""), "{dbg}");
    }
}
