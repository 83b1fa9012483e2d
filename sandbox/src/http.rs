//! Response helpers shared by every emulated service: JSON bodies with Google's exact
//! `Content-Type`, optional pretty printing (Google pretty-prints unless `prettyPrint=false`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The `Content-Type` Google puts on every JSON reply.
pub const JSON_UTF8: &str = "application/json; charset=UTF-8";

/// Serializes `body` as a JSON response with Google's content type.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, body: &T, pretty: bool) -> Response {
    let bytes = if pretty {
        serde_json::to_vec_pretty(body)
    } else {
        serde_json::to_vec(body)
    };
    match bytes {
        Ok(mut bytes) => {
            if pretty {
                bytes.push(b'\n');
            }
            let mut response = (status, bytes).into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
            response
        }
        // Serializing plain data structures cannot fail; answer like a Google 500 anyway.
        Err(_) => {
            let mut response = (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}"#,
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
            response
        }
    }
}

/// Parses a query string into decoded pairs (later duplicates are kept, in order).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether Google-style `prettyPrint` asks for compact output.
pub fn wants_pretty(pairs: &[(String, String)]) -> bool {
    !pairs
        .iter()
        .any(|(k, v)| k == "prettyPrint" && (v == "false" || v == "0"))
}

/// Percent-decodes a URL path (`%3A` → `:`); invalid escapes are kept literally.
pub fn percent_decode_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hi = (bytes[i + 1] as char).to_digit(16);
            let lo = (bytes[i + 2] as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_colons_and_keeps_garbage() {
        assert_eq!(
            percent_decode_path("/v1beta/properties/1%3ArunReport"),
            "/v1beta/properties/1:runReport"
        );
        assert_eq!(percent_decode_path("/a%zz%4"), "/a%zz%4");
        assert_eq!(percent_decode_path("%41"), "A");
    }

    #[test]
    fn pretty_print_flag() {
        assert!(wants_pretty(&query_pairs(None)));
        assert!(!wants_pretty(&query_pairs(Some("prettyPrint=false"))));
    }
}
