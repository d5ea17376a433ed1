//! What is shown to people or stored beside the data: URLs without their secrets ([`url`],
//! [`text`]) and names from data with their control characters escaped ([`name`], [`path`]).
//!
//! Every URL printed, logged or stored in a ledger goes through [`url`]; every error text of a
//! driver that was given a URL goes through [`text`]; every S3 key, file name or label from data
//! printed to a terminal or a log goes through [`name`].

use std::borrow::Cow;
use std::path::Path;

/// Option names whose values can carry secrets (`authMechanismProperties` holds e.g.
/// `AWS_SESSION_TOKEN:...`).
const SECRET_OPTIONS: [&str; 4] = ["password", "token", "secret", "authmechanismproperties"];

/// Characters of a host list (`h1:27017,h2`, `[::1]:1`, `%` of a zone or an encoded socket).
fn host_like(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b".-_:,[]%~".contains(&b))
}

/// The parts of a URL: `(scheme and "://", userinfo, host, rest)`; the userinfo is everything
/// up to the last `@` that a host follows, whatever characters it holds (`?`, `/`, `#`, `@`).
fn split(u: &str) -> Option<(&str, Option<&str>, &str, &str)> {
    let s = u.find("://")? + 3;
    let rest = &u[s..];
    let host_end = |from: usize| {
        rest[from..]
            .find(['/', '?', '#'])
            .map_or(rest.len(), |i| from + i)
    };
    let at = rest
        .rmatch_indices('@')
        .map(|(i, _)| i)
        .find(|&i| host_like(&rest[i + 1..host_end(i + 1)]));
    let at = at.or_else(|| rest.rfind('@'));
    let (userinfo, host_start) = match at {
        Some(i) => (Some(&rest[..i]), i + 1),
        None => (None, 0),
    };
    let he = host_end(host_start);
    Some((&u[..s], userinfo, &rest[host_start..he], &rest[he..]))
}

/// The URL with its userinfo (`user:password@`) replaced by `***@` and the values of options
/// that can carry secrets (`*password*`, `*token*`, `*secret*`, `authMechanismProperties`) by
/// `***`. Text that is not a URL is returned as it is, control characters escaped.
pub fn url(u: &str) -> String {
    let Some((scheme, userinfo, host, rest)) = split(u) else {
        return name(u).into_owned();
    };
    let mut out = String::from(scheme);
    if userinfo.is_some() {
        out.push_str("***@");
    }
    out.push_str(host);
    match rest.split_once('?') {
        None => out.push_str(rest),
        Some((path, query)) => {
            out.push_str(path);
            out.push('?');
            let opts: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if is_secret_option(k) => format!("{k}=***"),
                    _ => kv.to_string(),
                })
                .collect();
            out.push_str(&opts.join("&"));
        }
    }
    name(&out).into_owned()
}

fn is_secret_option(k: &str) -> bool {
    let l = k.to_ascii_lowercase();
    SECRET_OPTIONS.iter().any(|w| l.contains(w))
}

/// Decodes `%XX` escapes (the form a driver may print a password in).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The secret pieces of a URL: its userinfo, password (as written and decoded), and the values
/// of secret options.
fn secrets_of(u: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some((_, userinfo, _, rest)) = split(u) else {
        return out;
    };
    if let Some(ui) = userinfo {
        out.push(ui.to_string());
        if let Some((_, pw)) = ui.split_once(':') {
            out.push(pw.to_string());
            out.push(percent_decoded(pw));
        }
    }
    if let Some((_, query)) = rest.split_once('?') {
        for kv in query.split('&') {
            if let Some((k, v)) = kv.split_once('=') {
                if is_secret_option(k) {
                    out.push(v.to_string());
                    out.push(percent_decoded(v));
                }
            }
        }
    }
    out.retain(|s| !s.is_empty());
    // Longest first: a password inside the userinfo goes with it.
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out
}

/// An error text (of a driver or a client given `urls`) with every secret of those URLs masked
/// and every URL it quotes redacted by [`url`], control characters escaped.
pub fn text(t: &str, urls: &[&str]) -> String {
    let mut out = t.to_string();
    for u in urls {
        for s in secrets_of(u) {
            out = mask_token(&out, &s);
        }
    }
    // URLs quoted in the text (up to a space or a quote).
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find("://") {
        let start = rest[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .map_or(0, |j| j + 1);
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || "\"'`<>".contains(c))
            .map_or(rest.len(), |j| i + j);
        result.push_str(&rest[..start]);
        result.push_str(&url(&rest[start..end]));
        rest = &rest[end..];
    }
    result.push_str(rest);
    name(&result).into_owned()
}

/// `t` with every occurrence of `secret` that is not part of a longer word replaced by `***`
/// (a password `p` must not turn "Topology" into "To***ology").
fn mask_token(t: &str, secret: &str) -> String {
    if secret.is_empty() {
        return t.to_string();
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(t.len());
    let mut rest = t;
    while let Some(i) = rest.find(secret) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + secret.len()..].chars().next();
        out.push_str(&rest[..i]);
        let inside_a_word = (word(before) && secret.starts_with(|c: char| c.is_alphanumeric()))
            || (word(after) && secret.ends_with(|c: char| c.is_alphanumeric()));
        out.push_str(if inside_a_word { secret } else { "***" });
        rest = &rest[i + secret.len()..];
    }
    out.push_str(rest);
    out
}

/// `s` with control characters (C0, DEL, C1) and the backslash escaped (`\n`, `\r`, `\t`,
/// `\\`, `\x1b`, `\u{85}`), so that a name from data cannot move the cursor, change colours,
/// set a terminal title (OSC), ring the bell or split a line of a log.
pub fn name(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() || c == '\\') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x80 && c.is_control() => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`name`] of a path (not UTF-8 bytes shown as U+FFFD).
pub fn path(p: &Path) -> String {
    name(&p.to_string_lossy()).into_owned()
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_short_password_does_not_mangle_words() {
        let e = "Server selection timeout: Topology: { Type: Unknown }, auth p failed";
        let got = text(e, &["mongodb://u:p@127.0.0.1:1/"]);
        assert_eq!(
            got,
            "Server selection timeout: Topology: { Type: Unknown }, auth *** failed"
        );
        assert_eq!(mask_token("x s3cr?t@ y", "s3cr?t@"), "x *** y");
        assert_eq!(mask_token("(hunter2)", "hunter2"), "(***)");
    }

    use super::*;

    #[test]
    fn userinfo_is_removed_whatever_its_characters() {
        assert_eq!(
            url("mongodb://user:secret@db.local:27017/x"),
            "mongodb://***@db.local:27017/x"
        );
        assert_eq!(
            url("mongodb://127.0.0.1:27017/"),
            "mongodb://127.0.0.1:27017/"
        );
        assert_eq!(url("http://u:p@h:8333"), "http://***@h:8333");
        // `?`, `@`, `/`, `#` and `:` inside the password, unencoded.
        for pw in [
            "p?ss",
            "p@ss",
            "p/ss",
            "p#ss",
            "a?b@c/d#e:f",
            "?@/#",
            "p%3Fss",
        ] {
            let u = format!("mongodb://user:{pw}@h1:1,h2:2/db?appName=x&w=1");
            let shown = url(&u);
            assert_eq!(shown, "mongodb://***@h1:1,h2:2/db?appName=x&w=1", "{pw}");
            assert!(!shown.contains(pw), "{pw}");
        }
        assert_eq!(
            url("mongodb://u:p@ss@h:1/db?appName=a@b&authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:tok&tlsCertificateKeyFilePassword=pw&directConnection=true"),
            "mongodb://***@h:1/db?appName=a@b&authMechanism=MONGODB-AWS&authMechanismProperties=***&tlsCertificateKeyFilePassword=***&directConnection=true"
        );
        assert_eq!(url("http://[::1]:9000/b"), "http://[::1]:9000/b");
        assert_eq!(url("aws:eu-west-3"), "aws:eu-west-3");
    }

    #[test]
    fn error_texts_lose_the_secrets_of_their_urls() {
        let u = "mongodb://admin:s3cr%3Ft?x@db:27017/?authSource=admin";
        let t = "Kind: auth failed for admin:s3cr%3Ft?x (password s3cr?t?x) at mongodb://admin:s3cr%3Ft?x@db:27017/, \x1b]0;x\x07";
        let shown = text(t, &[u]);
        assert!(!shown.contains("s3cr"), "{shown}");
        assert!(
            !shown.contains('\x1b') && !shown.contains('\x07'),
            "{shown}"
        );
        // A URL the text quotes on its own is redacted too.
        let shown = text("cannot reach http://k:v@h:1/x: refused", &[]);
        assert_eq!(shown, "cannot reach http://***@h:1/x: refused");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert!(matches!(name("api/x.json"), Cow::Borrowed(_)));
        assert_eq!(
            name("a\x1b[31mred\x07\nb\r\t\u{85}\u{7f}\\"),
            "a\\x1b[31mred\\x07\\nb\\r\\t\\u{85}\\x7f\\\\"
        );
        assert_eq!(name("été/ü.csv"), "été/ü.csv");
        assert_eq!(path(Path::new("/r/a\nb")), "/r/a\\nb");
    }
}
