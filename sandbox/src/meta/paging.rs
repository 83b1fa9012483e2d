//! Cursor paging, as on every Graph edge: `limit`, `after`, `before` in;
//! `paging.cursors.{before,after}` and absolute `paging.next`/`previous` URLs out.
//!
//! A cursor is Meta's own encoding of a row position: base64 of the decimal index with each
//! `=` written `ZD` (so the first row is `MAZDZD` and row 24 is `MjQZD`, exactly the cursors
//! seen in real responses). The links point back at the sandbox (scheme and host from the
//! request) with the request's query minus the token, so a client that follows `next` keeps
//! talking to whatever base URL it was configured with.

use axum::http::HeaderMap;
use axum::http::header;
use serde_json::{Value, json};

use super::error::GraphError;

/// Default page size of every edge.
pub const DEFAULT_LIMIT: usize = 25;
/// Largest page of an object edge (campaigns, ad sets, ads, creatives, ad accounts);
/// larger `limit`s are clamped, as Meta clamps.
pub const MAX_OBJECT_LIMIT: usize = 500;
/// Largest page of an insights edge.
pub const MAX_INSIGHTS_LIMIT: usize = 5000;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding required); `None` on anything else.
pub fn unbase64(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let value = |c: u8| ALPHABET.iter().position(|a| *a == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (q, quad) in bytes.chunks(4).enumerate() {
        let last = q + 1 == bytes.len() / 4;
        let pads = quad.iter().rev().take_while(|c| **c == b'=').count();
        if pads > 2 || (pads > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in quad.iter().enumerate() {
            let v = if i >= 4 - pads { 0 } else { value(*c)? };
            n |= v << (18 - 6 * i);
        }
        let full = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&full[..3 - pads]);
    }
    Some(out)
}

/// The cursor of row `index`.
pub fn cursor(index: usize) -> String {
    base64(index.to_string().as_bytes()).replace('=', "ZD")
}

/// The row index a cursor names; `None` when it is not one of ours.
pub fn decode_cursor(text: &str) -> Option<usize> {
    // Padding only ever sits at the end, and a digit string's base64 never ends in "ZD" by
    // itself, so trailing "ZD" pairs are exactly the padding.
    let mut body = text;
    let mut pads = 0;
    while pads < 2 {
        match body.strip_suffix("ZD") {
            Some(rest) => {
                body = rest;
                pads += 1;
            }
            None => break,
        }
    }
    let padded = format!("{body}{}", "=".repeat(pads));
    let digits = String::from_utf8(unbase64(&padded)?).ok()?;
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A page request: how many rows, from where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows per page.
    pub limit: usize,
    /// Start right after this row.
    pub after: Option<usize>,
    /// End right before this row.
    pub before: Option<usize>,
}

impl PageRequest {
    /// Reads `limit`, `after`, `before` from the query, clamping `limit` to `cap`.
    pub fn parse(params: &[(String, String)], cap: usize) -> Result<Self, GraphError> {
        let get = |k: &str| {
            params
                .iter()
                .rev()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v)
        };
        let limit = match get("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => match v.trim().parse::<i64>() {
                // Meta treats 0 and negatives as "use the default".
                Ok(n) if n <= 0 => DEFAULT_LIMIT,
                Ok(n) => usize::try_from(n).unwrap_or(cap).min(cap),
                Err(_) => {
                    return Err(GraphError::invalid_param(format!(
                        "Param limit must be a number, got \"{v}\""
                    )));
                }
            },
        };
        let parse_cursor = |name: &str| -> Result<Option<usize>, GraphError> {
            match get(name) {
                None => Ok(None),
                Some(v) if v.is_empty() => Ok(None),
                Some(v) => decode_cursor(v).map(Some).ok_or_else(|| {
                    GraphError::invalid_param(format!("The {name} cursor is invalid"))
                }),
            }
        };
        Ok(Self {
            limit,
            after: parse_cursor("after")?,
            before: parse_cursor("before")?,
        })
    }

    /// The index range of this page over `total` rows.
    pub fn window(&self, total: usize) -> std::ops::Range<usize> {
        if let Some(after) = self.after {
            let start = after.saturating_add(1).min(total);
            start..start.saturating_add(self.limit).min(total)
        } else if let Some(before) = self.before {
            let end = before.min(total);
            end.saturating_sub(self.limit)..end
        } else {
            0..self.limit.min(total)
        }
    }
}

/// Where links point: `scheme://host/version/path` plus the query to repeat.
#[derive(Debug, Clone)]
pub struct LinkBase {
    /// Absolute URL without query.
    pub url: String,
    /// The request's query pairs without the token and cursors.
    pub query: Vec<(String, String)>,
}

impl LinkBase {
    /// From the request: `Host` (and `X-Forwarded-Proto`, else `http`) plus the path.
    pub fn new(headers: &HeaderMap, path: &str, params: &[(String, String)]) -> Self {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or("localhost");
        let scheme = headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .filter(|s| *s == "https" || *s == "http")
            .unwrap_or("http");
        let query = params
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "access_token" | "after" | "before"))
            .cloned()
            .collect();
        Self {
            url: format!("{scheme}://{host}{path}"),
            query,
        }
    }

    fn link(&self, key: &str, cursor: &str) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.query {
            ser.append_pair(k, v);
        }
        ser.append_pair(key, cursor);
        format!("{}?{}", self.url, ser.finish())
    }
}

/// Cuts one page out of `rows` and builds the `paging` object (absent when the page is empty).
pub fn paginate<T>(
    rows: Vec<T>,
    request: &PageRequest,
    links: Option<&LinkBase>,
) -> (Vec<T>, Option<Value>) {
    let total = rows.len();
    let window = request.window(total);
    let (start, end) = (window.start, window.end);
    let page: Vec<T> = rows.into_iter().skip(start).take(end - start).collect();
    if page.is_empty() {
        return (page, None);
    }
    let (first, last) = (cursor(start), cursor(end - 1));
    let mut paging = json!({"cursors": {"before": first, "after": last}});
    if let Some(links) = links {
        if start > 0 {
            paging["previous"] = json!(links.link("before", &first));
        }
        if end < total {
            paging["next"] = json!(links.link("after", &last));
        }
    }
    (page, Some(paging))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Vec<(String, String)> {
        crate::http::query_pairs(Some(q))
    }

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(unbase64(&base64(data)).as_deref(), Some(data));
        }
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(unbase64("Zm9=vYmFy"), None);
        assert_eq!(unbase64("Zg="), None);
    }

    #[test]
    fn cursors_match_metas_and_round_trip() {
        assert_eq!(cursor(0), "MAZDZD");
        assert_eq!(cursor(24), "MjQZD");
        for i in [0, 1, 9, 10, 24, 99, 100, 12345, 999_999] {
            assert_eq!(decode_cursor(&cursor(i)), Some(i), "{i}");
        }
        assert_eq!(decode_cursor("garbage"), None);
        assert_eq!(decode_cursor(""), None);
        assert_eq!(decode_cursor(&base64(b"abc")), None);
    }

    #[test]
    fn limits_default_and_clamp() {
        assert_eq!(PageRequest::parse(&params(""), 500).unwrap().limit, 25);
        assert_eq!(
            PageRequest::parse(&params("limit=9999"), 500)
                .unwrap()
                .limit,
            500
        );
        assert_eq!(
            PageRequest::parse(&params("limit=0"), 500).unwrap().limit,
            25
        );
        assert!(PageRequest::parse(&params("limit=ten"), 500).is_err());
        assert!(PageRequest::parse(&params("after=%%%"), 500).is_err());
    }

    #[test]
    fn pages_walk_forward_and_back() {
        let links = LinkBase {
            url: "http://h/v26.0/act_1/campaigns".into(),
            query: params("fields=id&limit=2"),
        };
        let rows: Vec<u32> = (0..5).collect();
        let first = PageRequest::parse(&params("limit=2"), 500).unwrap();
        let (page, paging) = paginate(rows.clone(), &first, Some(&links));
        assert_eq!(page, vec![0, 1]);
        let paging = paging.unwrap();
        assert!(paging.get("previous").is_none());
        let next = paging["next"].as_str().unwrap();
        assert_eq!(
            next,
            "http://h/v26.0/act_1/campaigns?fields=id&limit=2&after=MQZDZD"
        );
        // Follow `next` to the end.
        let mut query = next.split_once('?').unwrap().1.to_owned();
        let mut seen = page;
        loop {
            let req = PageRequest::parse(&params(&query), 500).unwrap();
            let (page, paging) = paginate(rows.clone(), &req, Some(&links));
            seen.extend(page);
            match paging.unwrap().get("next") {
                Some(n) => query = n.as_str().unwrap().split_once('?').unwrap().1.to_owned(),
                None => break,
            }
        }
        assert_eq!(seen, rows);
        // And back from the last page.
        let req =
            PageRequest::parse(&params(&format!("limit=2&before={}", cursor(4))), 500).unwrap();
        let (page, paging) = paginate(rows.clone(), &req, Some(&links));
        assert_eq!(page, vec![2, 3]);
        let previous = paging.unwrap()["previous"].as_str().unwrap().to_owned();
        assert!(previous.ends_with("&before=MgZDZD"), "{previous}");
    }

    #[test]
    fn empty_pages_have_no_paging() {
        let req = PageRequest::parse(&params(&format!("after={}", cursor(10))), 500).unwrap();
        let (page, paging) = paginate(vec![1, 2, 3], &req, None);
        assert!(page.is_empty());
        assert!(paging.is_none());
    }
}
