//! `googleAds:search` and `googleAds:searchStream`: request bodies, request-level checks
//! (page size, validate-only, summary rows), paging with opaque page tokens, and the
//! response shapes (one page of ≤ 10,000 rows, or a JSON array of ≤ 10,000-row batches).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::catalog;
use super::customer::Directory;
use super::engine::{self, Ctx, Row};
use super::error::AdsError;
use super::model::{self, Model, Q};
use super::query::Query;
use crate::hash::{fnv, hex, unhex};

/// Google's fixed page (and stream batch) size.
pub const PAGE_SIZE: usize = 10_000;

/// `SearchSettings`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchSettings {
    /// Leave `results` out.
    #[serde(default)]
    pub omit_results: Option<bool>,
    /// Add a summary row (on the last page).
    #[serde(default)]
    pub return_summary_row: Option<bool>,
    /// Add `totalResultsCount`.
    #[serde(default)]
    pub return_total_results_count: Option<bool>,
}

/// `SearchGoogleAdsRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SearchRequest {
    /// Also in the path; ignored here.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// GAQL.
    #[serde(default)]
    pub query: Option<String>,
    /// Continuation token.
    #[serde(default)]
    pub page_token: Option<String>,
    /// Not supported since v17 (any non-zero value is an error).
    #[serde(default)]
    pub page_size: Option<i64>,
    /// Validate without executing.
    #[serde(default)]
    pub validate_only: Option<bool>,
    /// Settings.
    #[serde(default)]
    pub search_settings: Option<SearchSettings>,
}

/// `SearchGoogleAdsStreamRequest`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamRequest {
    /// Also in the path; ignored here.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// GAQL.
    #[serde(default)]
    pub query: Option<String>,
    /// `NO_SUMMARY_ROW`, `SUMMARY_ROW_WITH_RESULTS` or `SUMMARY_ROW_ONLY`.
    #[serde(default)]
    pub summary_row_setting: Option<String>,
}

/// Decoded page token: where the page starts and what the first page asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageToken {
    /// First row of the page.
    pub offset: u64,
    /// Fingerprint of (customer, query) the token belongs to.
    pub fingerprint: u64,
    /// `returnTotalResultsCount` of the first request.
    pub total: bool,
    /// `returnSummaryRow` of the first request.
    pub summary: bool,
}

const TOKEN_VERSION: u8 = 1;

impl PageToken {
    /// Opaque hex encoding with a check byte.
    pub fn encode(&self) -> String {
        let mut b = Vec::with_capacity(19);
        b.push(TOKEN_VERSION);
        b.extend_from_slice(&self.offset.to_be_bytes());
        b.extend_from_slice(&self.fingerprint.to_be_bytes());
        b.push(u8::from(self.total) | (u8::from(self.summary) << 1));
        let check = b.iter().fold(0x5au8, |acc, x| acc.rotate_left(3) ^ x);
        b.push(check);
        hex(&b)
    }

    /// Decodes a token; `None` when it is malformed.
    pub fn decode(token: &str) -> Option<PageToken> {
        let b = unhex(token)?;
        if b.len() != 19 || b[0] != TOKEN_VERSION {
            return None;
        }
        let check = b[..18].iter().fold(0x5au8, |acc, x| acc.rotate_left(3) ^ x);
        if check != b[18] || b[17] > 3 {
            return None;
        }
        Some(PageToken {
            offset: u64::from_be_bytes(b[1..9].try_into().ok()?),
            fingerprint: u64::from_be_bytes(b[9..17].try_into().ok()?),
            total: b[17] & 1 != 0,
            summary: b[17] & 2 != 0,
        })
    }
}

/// Fingerprint of a query for a customer (page tokens are only valid for the same pair).
pub fn fingerprint(customer_id: &str, query: &str) -> u64 {
    fnv(&format!("{customer_id}\u{0}{query}"))
}

/// The `fieldMask` string.
pub fn field_mask(q: &Query) -> String {
    q.select
        .iter()
        .map(|d| d.json_path())
        .collect::<Vec<_>>()
        .join(",")
}

/// Resource consumption Google would bill: grows with the work done.
fn consumption(cells: u64) -> String {
    (1 + cells / 25).to_string()
}

/// A query's full result (after ORDER BY and LIMIT) with the pre-LIMIT row count.
pub struct Executed {
    rows: Vec<Row>,
    total: usize,
    cells: u64,
}

/// Runs a query (see [`engine::execute`]) and applies LIMIT.
pub fn run(q: &Query, model: &Model<'_>, dir: &Directory) -> Result<Executed, AdsError> {
    let out = engine::execute(q, model, dir)?;
    let total = out.rows.len();
    let mut rows = out.rows;
    if let Some(limit) = q.limit {
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    Ok(Executed {
        rows,
        total,
        cells: out.cells,
    })
}

fn rows_json(q: &Query, model: &Model<'_>, dir: &Directory, rows: &[Row]) -> Vec<Value> {
    let clients = if q.from == catalog::Res::CustomerClient {
        dir.hierarchy(&model.cust.id)
    } else {
        Vec::new()
    };
    rows.iter()
        .map(|r| {
            let ctx = Ctx::new(model.cust, model.acc, &clients, r.ent, r.seg, r.q.as_ref());
            engine::row_json(q, &ctx)
        })
        .collect()
}

fn sum(rows: &[Row]) -> Q {
    let mut total = [0; model::NQ];
    for r in rows {
        if let Some(q) = &r.q {
            model::add(&mut total, q);
        }
    }
    total
}

/// Checks that apply before the query runs.
pub fn check_request(req: &SearchRequest) -> Result<(), AdsError> {
    if req.page_size.is_some_and(|n| n != 0) {
        return Err(AdsError::request(
            "PAGE_SIZE_NOT_SUPPORTED",
            "Setting the page size is not supported. Search Responses will have fixed page size of '10000' rows.",
        ));
    }
    let validate = req.validate_only.unwrap_or(false);
    if validate && req.page_token.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(AdsError::request(
            "VALIDATE_ONLY_REQUEST_HAS_PAGE_TOKEN",
            "page_token is set in the validate only request.",
        ));
    }
    let summary = req
        .search_settings
        .as_ref()
        .and_then(|s| s.return_summary_row)
        .unwrap_or(false);
    if validate && summary {
        return Err(AdsError::request(
            "CANNOT_RETURN_SUMMARY_ROW_FOR_VALIDATE_ONLY_REQUESTS",
            "return_summary_row should not be enabled for validate only requests.",
        ));
    }
    Ok(())
}

fn summary_without_metrics() -> AdsError {
    AdsError::request(
        "CANNOT_RETURN_SUMMARY_ROW_FOR_REQUEST_WITHOUT_METRICS",
        "return_summary_row cannot be enabled if request did not select any metrics field.",
    )
}

/// The body of a `googleAds:search` reply.
pub fn search(
    req: &SearchRequest,
    query_text: &str,
    q: &Query,
    model: &Model<'_>,
    dir: &Directory,
) -> Result<Value, AdsError> {
    let settings = req.search_settings.as_ref();
    let want_total = settings
        .and_then(|s| s.return_total_results_count)
        .unwrap_or(false);
    let want_summary = settings.and_then(|s| s.return_summary_row).unwrap_or(false);
    let omit = settings.and_then(|s| s.omit_results).unwrap_or(false);
    if want_summary && !q.selects_metrics() {
        return Err(summary_without_metrics());
    }
    let mask = field_mask(q);
    if req.validate_only.unwrap_or(false) {
        return Ok(json!({"fieldMask": mask}));
    }
    let fp = fingerprint(&model.cust.id, query_text);
    let offset = match req.page_token.as_deref().filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => {
            let token = PageToken::decode(t)
                .filter(|tok| tok.fingerprint == fp)
                .ok_or_else(|| {
                    AdsError::request(
                        "INVALID_PAGE_TOKEN",
                        "Page token is invalid or does not belong to this query.",
                    )
                })?;
            if want_total && !token.total {
                return Err(AdsError::request(
                    "TOTAL_RESULTS_COUNT_NOT_ORIGINALLY_REQUESTED",
                    "The total results count cannot be returned if it was not requested in the original request.",
                ));
            }
            if want_summary != token.summary {
                return Err(AdsError::request(
                    "INCONSISTENT_RETURN_SUMMARY_ROW_VALUE",
                    "return_summary_row parameter value should be the same between requests with page_token field set and their original request.",
                ));
            }
            usize::try_from(token.offset).unwrap_or(usize::MAX)
        }
    };
    let ex = run(q, model, dir)?;
    let start = offset.min(ex.rows.len());
    let end = start.saturating_add(PAGE_SIZE).min(ex.rows.len());
    let mut body = Map::new();
    if !omit && end > start {
        body.insert(
            "results".into(),
            Value::Array(rows_json(q, model, dir, &ex.rows[start..end])),
        );
    }
    if end < ex.rows.len() {
        let token = PageToken {
            offset: end as u64,
            fingerprint: fp,
            total: want_total,
            summary: want_summary,
        };
        body.insert("nextPageToken".into(), json!(token.encode()));
    }
    // proto3 JSON omits a zero int64, so an empty result has no count even when asked.
    if want_total && ex.total > 0 {
        body.insert("totalResultsCount".into(), json!(ex.total.to_string()));
    }
    body.insert("fieldMask".into(), json!(mask));
    if want_summary && end >= ex.rows.len() {
        body.insert("summaryRow".into(), engine::summary_json(q, &sum(&ex.rows)));
    }
    body.insert(
        "queryResourceConsumption".into(),
        json!(consumption(ex.cells)),
    );
    Ok(Value::Object(body))
}

/// The body of a `googleAds:searchStream` reply: an array of batches.
pub fn stream(
    req: &StreamRequest,
    q: &Query,
    model: &Model<'_>,
    dir: &Directory,
    request_id: &str,
) -> Result<Value, AdsError> {
    let setting = req
        .summary_row_setting
        .as_deref()
        .unwrap_or("NO_SUMMARY_ROW");
    let (results, summary) = match setting {
        "NO_SUMMARY_ROW" | "UNSPECIFIED" | "UNKNOWN" => (true, false),
        "SUMMARY_ROW_WITH_RESULTS" => (true, true),
        "SUMMARY_ROW_ONLY" => (false, true),
        other => {
            return Err(AdsError::front_end(
                &crate::google::rpc::ApiError::invalid_argument(format!(
                    "Invalid value at 'summary_row_setting' (type.googleapis.com/google.ads.googleads.v26.enums.SummaryRowSettingEnum.SummaryRowSetting), \"{other}\""
                )),
            ));
        }
    };
    if summary && !q.selects_metrics() {
        return Err(summary_without_metrics());
    }
    let mask = field_mask(q);
    let ex = run(q, model, dir)?;
    let qrc = consumption(ex.cells);
    let mut batches: Vec<Value> = Vec::new();
    if results {
        let chunks: Vec<&[Row]> = if ex.rows.is_empty() {
            vec![&[]]
        } else {
            ex.rows.chunks(PAGE_SIZE).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut b = Map::new();
            if !chunk.is_empty() {
                b.insert(
                    "results".into(),
                    Value::Array(rows_json(q, model, dir, chunk)),
                );
            }
            b.insert("fieldMask".into(), json!(mask));
            b.insert("requestId".into(), json!(request_id));
            if i == last {
                b.insert("queryResourceConsumption".into(), json!(qrc));
            }
            batches.push(Value::Object(b));
        }
    }
    if summary {
        batches.push(json!({
            "summaryRow": engine::summary_json(q, &sum(&ex.rows)),
            "fieldMask": mask,
            "requestId": request_id,
            "queryResourceConsumption": "1",
        }));
    }
    Ok(Value::Array(batches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_reject_tampering() {
        let t = PageToken {
            offset: 10_000,
            fingerprint: fingerprint("1234567890", "SELECT campaign.id FROM campaign"),
            total: true,
            summary: false,
        };
        let s = t.encode();
        assert_eq!(PageToken::decode(&s), Some(t));
        let mut bytes = s.into_bytes();
        bytes[5] = if bytes[5] == b'0' { b'1' } else { b'0' };
        assert_eq!(PageToken::decode(&String::from_utf8(bytes).unwrap()), None);
        for junk in ["", "zz", "CNj", &"0".repeat(38), &"f".repeat(4000)] {
            assert_eq!(PageToken::decode(junk), None, "{junk}");
        }
        assert_ne!(
            fingerprint("1234567890", "SELECT a"),
            fingerprint("1234567891", "SELECT a")
        );
    }

    #[test]
    fn request_checks() {
        let mut r = SearchRequest {
            page_size: Some(100),
            ..Default::default()
        };
        assert_eq!(
            check_request(&r).unwrap_err().code().as_deref(),
            Some("requestError:PAGE_SIZE_NOT_SUPPORTED")
        );
        r.page_size = Some(0);
        assert!(check_request(&r).is_ok());
        r.validate_only = Some(true);
        r.page_token = Some("x".into());
        assert_eq!(
            check_request(&r).unwrap_err().code().as_deref(),
            Some("requestError:VALIDATE_ONLY_REQUEST_HAS_PAGE_TOKEN")
        );
    }
}
