//! The one redaction step every text that leaves a berryboo process passes: tool results, log
//! lines, audit rows, stored evidence, reports, notifications, webhook bodies.
//!
//! Two nets, because an upstream may echo anything back (a Google error that quotes the bearer
//! token, a token endpoint that repeats the client secret):
//! - **secrets the process knows** ([`learn`]): its access and refresh tokens, client and app
//!   secrets, lease secrets, keys — found wherever they occur, whatever their shape;
//! - **anything shaped like a secret**: Google access (`ya29.…`) and refresh (`1//…`) tokens,
//!   Meta tokens (`EAA…`), Google client secrets (`GOCSPX-…`), our own lease/host/shop keys
//!   (`bbl_…`, `bbh_…`, `bbk_…`), `Bearer …`, `access_token=…`-style parameters, JSON fields
//!   named like secrets, and database URL passwords.
//!
//! A secret is replaced by its first and last four characters (`ya29…3f9c`), as the guide allows
//! for logs; one of 12 characters or fewer becomes `****`.
//!
//! # Use
//! - [`text`] for a string, [`json`] for every string inside a JSON value.
//! - [`MakeRedacted`] wraps a `tracing_subscriber` writer so every log line is redacted.

#![deny(missing_docs)]

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::io::{self, Write};
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;

/// Secrets shorter than this are not learned: replacing every occurrence of a short string
/// would mangle ordinary text, and nothing this system issues is that short.
pub const MIN_SECRET_LEN: usize = 8;

/// At most this many known secrets are kept (oldest forgotten first): a broker that refreshes
/// all day learns new tokens, and the token-shaped patterns still catch old ones.
const MAX_KNOWN: usize = 4096;

/// Secrets shorter than this are shown as `****` only: four and four characters would give away
/// too much of them.
const SHOWN_MIN_LEN: usize = 24;

/// A secret as it may be shown: its first and last four characters, or `****` when it is
/// shorter than 24 characters.
pub fn shown(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < SHOWN_MIN_LEN {
        return "****".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

#[derive(Default)]
struct Known {
    /// Secrets configured for the process's life (app secrets, keys): never forgotten.
    lasting: Vec<String>,
    /// Secrets that come and go (tokens), oldest first, forgotten past [`MAX_KNOWN`].
    order: VecDeque<String>,
    set: HashSet<String>,
    /// Built on the first redaction after a change.
    matcher: Option<Arc<AhoCorasick>>,
}

/// The forms a secret takes in text: as it is, percent-encoded (in a URL or form body an
/// upstream quotes back) and JSON-escaped (inside a JSON string).
fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    let encoded: String = url_encode(secret);
    let escaped = serde_json::to_string(secret)
        .map(|q| q[1..q.len() - 1].to_owned())
        .unwrap_or_default();
    for f in [encoded, escaped] {
        if !f.is_empty() && !forms.contains(&f) {
            forms.push(f);
        }
    }
    forms
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

static KNOWN: LazyLock<RwLock<Known>> = LazyLock::new(RwLock::default);

/// Remembers `secret` (a token that will be replaced one day) so every later [`text`] removes
/// it wherever it occurs, in any of its forms. Values shorter than [`MIN_SECRET_LEN`] (after
/// trimming) are ignored; past [`MAX_KNOWN`] the oldest are forgotten.
pub fn learn(secret: &str) {
    remember(secret, false);
}

/// Like [`learn`], for a secret the process keeps for its whole life (an app secret, a key):
/// never forgotten, however many tokens come after it.
pub fn learn_lasting(secret: &str) {
    remember(secret, true);
}

fn remember(secret: &str, lasting: bool) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_SECRET_LEN {
        return;
    }
    if KNOWN
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .set
        .contains(secret)
    {
        return;
    }
    let mut known = KNOWN.write().unwrap_or_else(PoisonError::into_inner);
    if !known.set.insert(secret.to_owned()) {
        return;
    }
    if lasting {
        known.lasting.extend(forms(secret));
    } else {
        known.order.extend(forms(secret));
        while known.order.len() > MAX_KNOWN {
            if let Some(oldest) = known.order.pop_front() {
                known.set.remove(&oldest);
            }
        }
    }
    known.matcher = None;
}

fn known_matcher() -> Option<Arc<AhoCorasick>> {
    {
        let known = KNOWN.read().unwrap_or_else(PoisonError::into_inner);
        if known.order.is_empty() && known.lasting.is_empty() {
            return None;
        }
        if let Some(m) = &known.matcher {
            return Some(m.clone());
        }
    }
    let mut known = KNOWN.write().unwrap_or_else(PoisonError::into_inner);
    if known.matcher.is_none() {
        // Longest first where two overlap (a token and its own prefix).
        let built = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(known.lasting.iter().chain(&known.order))
            .ok()
            .map(Arc::new);
        known.matcher = built;
    }
    known.matcher.clone()
}

/// Token-shaped strings. Each alternative has exactly one capture group: the secret part, which
/// is replaced; the rest of the match (`Bearer `, `access_token=`) stays so the text still reads.
/// Each shape's least length is checked on the match ([`SHAPE_MIN_LEN`]) rather than written as
/// `{n,}` in the pattern: counted repetitions multiply the automaton that every process
/// compiles at its first redaction.
static SHAPES: LazyLock<Regex> = LazyLock::new(|| {
    // ASCII-only word boundaries, case folding and spaces: every secret shape is ASCII, and
    // Unicode tables would make this slower to compile too.
    let shapes = [
        // Google OAuth access tokens and refresh tokens.
        r"(ya29\.[0-9A-Za-z_\-.]+)",
        r"(1//[0-9A-Za-z_\-]+)",
        // Meta user / system-user / page tokens.
        r"(EAA[0-9A-Za-z]+)",
        // Google OAuth client secrets.
        r"(GOCSPX-[0-9A-Za-z_\-]+)",
        // Our own lease, host and shop keys.
        r"(?-u:\b)(bb[lhk]_[0-9A-Za-z_\-]+)",
        // Authorization header values quoted back.
        r"(?i-u:(?-u:\b)bearer)[ \t]+([0-9A-Za-z._~+/=\-]+)",
        // Query-string / form parameters that carry secrets.
        r"(?i-u:(?-u:\b)(?:access_token|refresh_token|client_secret|fb_exchange_token|appsecret_proof|app_secret|api_key)=)([^& \t\r\n\x22'<>]+)",
        // JSON fields that carry secrets.
        r#"(?i-u:"(?:access_token|refresh_token|client_secret|app_secret|api_key|token)")[ \t\r\n]*:[ \t\r\n]*"([^"\\]+)"#,
        // Passwords in database URLs.
        r"(?i-u:postgres(?:ql)?://)[^:/@ \t\r\n]+:([^@ \t\r\n]+)@",
    ];
    match Regex::new(&shapes.join("|")) {
        Ok(r) => r,
        // The patterns are constants checked by the tests below; an error here is a bug.
        Err(e) => panic!("redaction patterns do not compile: {e}"),
    }
});

/// The least length of each shape's secret, in the order of [`SHAPES`]'s groups: a shorter
/// match is ordinary text (`ya29.x`, `bearer of`).
const SHAPE_MIN_LEN: [usize; 9] = [13, 11, 23, 15, 20, 8, 4, 4, 1];

/// `input` with every known secret and every token-shaped string cut to its first and last
/// four characters. Borrowed when nothing needed redacting.
pub fn text(input: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(input);
    if let Some(matcher) = known_matcher()
        && matcher.is_match(out.as_ref())
    {
        let mut replaced = String::with_capacity(out.len());
        matcher.replace_all_with(out.as_ref(), &mut replaced, |_, found, dst| {
            dst.push_str(&shown(found));
            true
        });
        out = Cow::Owned(replaced);
    }
    if SHAPES.is_match(out.as_ref()) {
        let mut changed = false;
        let replaced = SHAPES
            .replace_all(out.as_ref(), |caps: &regex::Captures<'_>| {
                let whole = caps
                    .get(0)
                    .map(|m| (m.start(), m.as_str()))
                    .unwrap_or((0, ""));
                let secret = caps
                    .iter()
                    .skip(1)
                    .enumerate()
                    .find_map(|(i, m)| m.map(|m| (i, m)))
                    .filter(|(i, m)| {
                        m.as_str().len() >= SHAPE_MIN_LEN.get(*i).copied().unwrap_or(1)
                    })
                    .map(|(_, m)| m);
                match secret {
                    Some(secret) => {
                        changed = true;
                        let start = secret.start() - whole.0;
                        let end = secret.end() - whole.0;
                        format!(
                            "{}{}{}",
                            &whole.1[..start],
                            shown(secret.as_str()),
                            &whole.1[end..]
                        )
                    }
                    None => whole.1.to_owned(),
                }
            })
            .into_owned();
        if changed {
            out = Cow::Owned(replaced);
        }
    }
    out
}

/// Whether any string inside `value` (object keys included) holds something [`text`] would
/// cut: one scan over all of them, so the common case — nothing to redact — costs one pass
/// instead of one search per string.
pub fn json_needs(value: &serde_json::Value) -> bool {
    fn gather<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::String(s) => out.push(s),
            serde_json::Value::Array(items) => items.iter().for_each(|i| gather(i, out)),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    out.push(k);
                    gather(v, out);
                }
            }
            _ => {}
        }
    }
    let mut parts = Vec::new();
    gather(value, &mut parts);
    // A separator no pattern matches across, so no match spans two strings.
    let joined = parts.join("\u{1}");
    matches!(text(&joined), Cow::Owned(_))
}

/// Redacts every string inside `value`, object keys included (some are an upstream's words).
pub fn json(value: &mut serde_json::Value) {
    if json_needs(value) {
        json_walk(value);
    }
}

fn json_walk(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            if let Cow::Owned(r) = text(s) {
                *s = r;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(json_walk),
        serde_json::Value::Object(map) => {
            if map.keys().any(|k| matches!(text(k), Cow::Owned(_))) {
                let entries = std::mem::take(map);
                for (k, v) in entries {
                    map.insert(text(&k).into_owned(), v);
                }
            }
            map.values_mut().for_each(json_walk);
        }
        _ => {}
    }
}

/// A `tracing_subscriber` writer factory whose log lines are redacted before they are written.
#[derive(Debug, Clone)]
pub struct MakeRedacted<M>(pub M);

impl<'a, M> tracing_subscriber::fmt::MakeWriter<'a> for MakeRedacted<M>
where
    M: tracing_subscriber::fmt::MakeWriter<'a>,
{
    type Writer = Redacted<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        Redacted {
            inner: self.0.make_writer(),
            buffer: Vec::new(),
        }
    }
}

/// One log event's writer: it collects the event and writes it redacted when flushed or
/// dropped (the formatter writes an event in one piece, then drops the writer).
pub struct Redacted<W: Write> {
    inner: W,
    buffer: Vec<u8>,
}

impl<W: Write> Redacted<W> {
    fn emit(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let raw = std::mem::take(&mut self.buffer);
        let line = String::from_utf8_lossy(&raw);
        self.inner.write_all(text(&line).as_bytes())?;
        self.inner.flush()
    }
}

impl<W: Write> Write for Redacted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()
    }
}

impl<W: Write> Drop for Redacted<W> {
    fn drop(&mut self) {
        let _ = self.emit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shapes_keep_four_and_four() {
        let token = format!("ya29.{}", "a0AfB_byC9xYz".repeat(4));
        let line = format!("The access token {token} is invalid.");
        assert_eq!(text(&line), "The access token ya29…9xYz is invalid.");
        let refresh = format!("1//0{}", "gLmNoPqRsT".repeat(3));
        assert!(!text(&refresh).contains("gLmNoPqRsT"));
        let meta = format!("EAAG{}", "ZBq3x7".repeat(8));
        assert_eq!(text(&format!("token {meta}!")), "token EAAG…q3x7!");
        assert_eq!(
            text("Authorization: Bearer abcdefghijklmnopqrstuvwxyz"),
            "Authorization: Bearer abcd…wxyz"
        );
        assert_eq!(
            text("GET /v26.0/me?fields=id&access_token=secretvalue12345&x=1"),
            "GET /v26.0/me?fields=id&access_token=****&x=1"
        );
        assert_eq!(
            text(r#"{"client_secret": "sandbox-secret-value-long-one", "client_id": "abc"}"#),
            r#"{"client_secret": "sand…-one", "client_id": "abc"}"#
        );
        assert_eq!(
            text("postgres://berryboo:hunter2hunter2@db/dashboard"),
            "postgres://berryboo:****@db/dashboard"
        );
        assert_eq!(
            text("lease bbl_0123456789abcdefghijklmn revoked"),
            "lease bbl_…klmn revoked"
        );
    }

    #[test]
    fn ordinary_text_is_untouched_and_borrowed() {
        for s in [
            "Sessions by channel: Organic Search 1,204 (−12 %)",
            "next_page_token: CAESBggBEAEYAQ",
            "call again with page_token=CAESBggBEAEYAQ",
            "property 326784853, act_111, sc-domain:acme-shop.example",
        ] {
            assert!(matches!(text(s), Cow::Borrowed(_)), "{s}");
        }
    }

    #[test]
    fn learned_secrets_go_whatever_their_shape_and_form() {
        learn("sandbox-client-secret-learned");
        learn("short"); // too short to learn
        let t = text("invalid_client: sandbox-client-secret-learned (short)");
        assert_eq!(t, "invalid_client: sand…rned (short)");
        let mut v = serde_json::json!({"error": {"message": ["x sandbox-client-secret-learned"]},
            "sandbox-client-secret-learned": 1});
        json(&mut v);
        assert_eq!(v["error"]["message"][0], "x sand…rned");
        assert_eq!(v["sand…rned"], 1, "keys too: {v}");
        // Quoted back percent-encoded or JSON-escaped.
        learn("1/refresh+token\\with\"odd/chars");
        let t = text("refresh_tok=1%2Frefresh%2Btoken%5Cwith%22odd%2Fchars");
        assert!(!t.contains("odd%2Fchars"), "{t}");
        let quoted = serde_json::to_string("1/refresh+token\\with\"odd/chars").unwrap_or_default();
        assert!(!text(&quoted).contains("odd/chars"), "{quoted}");
    }

    #[test]
    fn lasting_secrets_outlive_thousands_of_tokens() {
        learn_lasting("app-secret-kept-for-the-process-life");
        for i in 0..(MAX_KNOWN + 10) {
            learn(&format!("rotating-token-{i:08}"));
        }
        assert!(!text("app-secret-kept-for-the-process-life").contains("kept"));
        assert!(!text("rotating-token-00004100").contains("00004100"));
        // The oldest rotating tokens were forgotten (the shapes still catch real ones).
        assert!(text("rotating-token-00000000").contains("00000000"));
    }

    #[test]
    fn log_lines_are_redacted_on_the_way_out() {
        use tracing_subscriber::fmt::MakeWriter;
        #[derive(Clone, Default)]
        struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Sink {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let make = MakeRedacted(move || sink.clone());
        let token = format!("ya29.{}", "q".repeat(30));
        {
            let mut w = make.make_writer();
            assert!(
                w.write_all(format!("upstream said {token}\n").as_bytes())
                    .is_ok()
            );
            // Nothing reaches the sink before the event is complete.
            assert!(
                make.0()
                    .0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .is_empty()
            );
        }
        let got = {
            let s = make.0();
            let bytes = s.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
            String::from_utf8(bytes).unwrap_or_default()
        };
        assert_eq!(got, "upstream said ya29…qqqq\n");
    }
}
