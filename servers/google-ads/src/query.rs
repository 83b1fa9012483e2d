//! GAQL assembly, customer ids, the paging cursor and row flattening for `google-ads-mcp`.

use base64::Engine as _;
use mcp_common::params::{BadArgument, Checked, bad};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Ten digits, from `123-456-7890`, `1234567890` or `customers/1234567890`.
pub fn customer_id(raw: &str, field: &str) -> Checked<String> {
    let digits: String = raw
        .trim()
        .trim_start_matches("customers/")
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .collect();
    if digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(digits)
    } else {
        bad(format!(
            "{field} {raw:?} is not a Google Ads customer id: ten digits, e.g. 1234567890 or 123-456-7890 (list_accessible_customers shows them)"
        ))
    }
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn is_field(s: &str) -> bool {
    let mut parts = s.split('.');
    parts.next().is_some_and(is_identifier)
        && parts.clone().count() >= 1
        && parts.all(is_identifier)
}

/// `SELECT … FROM … [WHERE … AND …] [ORDER BY …] [LIMIT n]` from the structured arguments.
pub fn build(
    resource: &str,
    fields: &[String],
    conditions: &[String],
    orderings: &[String],
    limit: Option<u32>,
) -> Checked<String> {
    let resource = resource.trim();
    if !is_identifier(resource) {
        return bad(format!(
            "resource {resource:?} is not a GAQL resource name like campaign, ad_group or keyword_view"
        ));
    }
    if fields.is_empty() {
        return bad(
            "fields must name at least one field, e.g. [\"campaign.name\", \"metrics.clicks\"]",
        );
    }
    for f in fields {
        if !is_field(f.trim()) {
            return bad(format!(
                "field {f:?} is not a full GAQL field name like campaign.name or metrics.clicks (get_resource_metadata lists them)"
            ));
        }
    }
    let mut q = format!(
        "SELECT {} FROM {resource}",
        fields
            .iter()
            .map(|f| f.trim())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let conditions: Vec<&str> = conditions
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect();
    if !conditions.is_empty() {
        q.push_str(" WHERE ");
        q.push_str(&conditions.join(" AND "));
    }
    let orderings: Vec<&str> = orderings
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .collect();
    if !orderings.is_empty() {
        q.push_str(" ORDER BY ");
        q.push_str(&orderings.join(", "));
    }
    if let Some(n) = limit {
        if n == 0 {
            return bad("limit must be at least 1");
        }
        q.push_str(&format!(" LIMIT {n}"));
    }
    Ok(q)
}

/// Where the next call continues: a Google page token (or the first page) and how many rows of
/// that page were already returned. Google's pages are a fixed 10,000 rows; a model gets
/// smaller slices of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Google's `nextPageToken` of the page being sliced (none for the first page).
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub google_token: Option<String>,
    /// Rows of that page already returned.
    #[serde(rename = "o")]
    pub offset: usize,
    /// Fingerprint of the query, so a cursor is not replayed against another query.
    #[serde(rename = "q")]
    pub query: u64,
}

/// FNV-1a of the query text, stable across runs.
pub fn fingerprint(query: &str) -> u64 {
    query.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Cursor {
    /// The opaque token handed to the model.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a token back, checking it belongs to `query`.
    pub fn decode(token: &str, query: &str) -> Checked<Self> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| BadArgument("page_token is not one this tool returned".to_owned()))?;
        let cursor: Cursor = serde_json::from_slice(&bytes)
            .map_err(|_| BadArgument("page_token is not one this tool returned".to_owned()))?;
        if cursor.query != fingerprint(query) {
            return bad(
                "page_token belongs to a different query: repeat the same query (or fields/conditions) with it",
            );
        }
        Ok(cursor)
    }
}

fn snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn flatten_into(prefix: &str, value: &Value, out: &mut Map<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    snake(k)
                } else {
                    format!("{prefix}.{}", snake(k))
                };
                flatten_into(&key, v, out);
            }
        }
        other => {
            // int64 metrics come as strings; a model compares numbers better.
            let v = match other {
                Value::String(s) if prefix.starts_with("metrics.") => s
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| other.clone()),
                _ => other.clone(),
            };
            out.insert(prefix.to_owned(), v);
        }
    }
}

/// A result row as `{"campaign.name": …, "metrics.cost_micros": …}` with GAQL (snake_case)
/// field names; resource names kept as `campaign.resource_name`.
pub fn flatten(row: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    flatten_into("", row, &mut out);
    out
}

/// Metrics that add up (counts and amounts): Google leaves them out when they are zero. Any
/// other metric left out (a ratio over zero clicks, a quality score not computed, an enum)
/// was not reported, which is not zero.
pub fn is_additive(column: &str) -> bool {
    const ADDITIVE: &[&str] = &[
        "clicks",
        "impressions",
        "interactions",
        "engagements",
        "conversions",
        "conversions_value",
        "all_conversions",
        "all_conversions_value",
        "view_through_conversions",
        "video_views",
        "video_trueview_views",
    ];
    column
        .strip_prefix("metrics.")
        .is_some_and(|m| ADDITIVE.contains(&m) || m.ends_with("_micros"))
}

/// The `LIMIT` of a GAQL query, if any (Google's total row count ignores it).
pub fn limit_of(query: &str) -> Option<u64> {
    let words: Vec<&str> = query.split_whitespace().collect();
    let at = words
        .iter()
        .rposition(|w| w.eq_ignore_ascii_case("LIMIT"))?;
    words.get(at + 1)?.trim_end_matches(';').parse().ok()
}

/// A flattened row with each selected column present as one value: a selected field whose
/// value is an object (`change_event.old_resource`) comes back together from its flattened
/// keys, as an object keyed by the rest of each path.
pub fn regroup(mut row: Map<String, Value>, columns: &[String]) -> Map<String, Value> {
    for column in columns {
        if row.contains_key(column) {
            continue;
        }
        let prefix = format!("{column}.");
        let parts: Map<String, Value> = row
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_owned(), v.clone())))
            .collect();
        if !parts.is_empty() {
            row.insert(column.clone(), Value::Object(parts));
        }
    }
    row
}

/// The GAQL field names of a `fieldMask` (`campaign.advertisingChannelType` →
/// `campaign.advertising_channel_type`), in order.
pub fn columns(field_mask: Option<&str>) -> Vec<String> {
    field_mask
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|p| p.split('.').map(snake).collect::<Vec<_>>().join("."))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn customer_ids() {
        assert_eq!(customer_id("123-456-7890", "x").unwrap(), "1234567890");
        assert_eq!(
            customer_id("customers/1234567890", "x").unwrap(),
            "1234567890"
        );
        assert!(
            customer_id("12345", "customer_id")
                .unwrap_err()
                .0
                .contains("ten digits")
        );
    }

    #[test]
    fn builds_gaql() {
        let q = build(
            "campaign",
            &["campaign.name".into(), "metrics.clicks".into()],
            &[
                "segments.date DURING LAST_7_DAYS".into(),
                "campaign.status = 'ENABLED'".into(),
            ],
            &["metrics.clicks DESC".into()],
            Some(10),
        )
        .unwrap();
        assert_eq!(
            q,
            "SELECT campaign.name, metrics.clicks FROM campaign WHERE segments.date DURING LAST_7_DAYS AND campaign.status = 'ENABLED' ORDER BY metrics.clicks DESC LIMIT 10"
        );
        assert!(build("campaign", &[], &[], &[], None).is_err());
        assert!(
            build("campaign", &["name".into()], &[], &[], None)
                .unwrap_err()
                .0
                .contains("full GAQL field")
        );
        assert!(build("Campaign; DROP", &["campaign.id".into()], &[], &[], None).is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_other_queries() {
        let c = Cursor {
            google_token: Some("abc".into()),
            offset: 200,
            query: fingerprint("SELECT a.b FROM a"),
        };
        assert_eq!(Cursor::decode(&c.encode(), "SELECT a.b FROM a").unwrap(), c);
        assert!(
            Cursor::decode(&c.encode(), "SELECT a.c FROM a")
                .unwrap_err()
                .0
                .contains("different query")
        );
        assert!(Cursor::decode("garbage!", "x").is_err());
    }

    #[test]
    fn rows_flatten_to_gaql_names() {
        let row = json!({"campaign": {"resourceName": "customers/1/campaigns/2", "advertisingChannelType": "SEARCH"}, "metrics": {"costMicros": "1500000", "ctr": 0.04}});
        let f = flatten(&row);
        assert_eq!(f["campaign.advertising_channel_type"], "SEARCH");
        assert_eq!(f["metrics.cost_micros"], 1_500_000);
        assert_eq!(f["metrics.ctr"], 0.04);
        assert_eq!(f["campaign.resource_name"], "customers/1/campaigns/2");
        assert_eq!(
            columns(Some("campaign.id,metrics.costMicros")),
            vec!["campaign.id", "metrics.cost_micros"]
        );
    }

    #[test]
    fn only_counts_and_amounts_are_zero_when_absent() {
        for m in [
            "metrics.clicks",
            "metrics.cost_micros",
            "metrics.conversions_value",
            "metrics.average_cpc_micros",
        ] {
            assert!(is_additive(m), "{m}");
        }
        for m in [
            "metrics.ctr",
            "metrics.average_cpc",
            "metrics.cost_per_conversion",
            "metrics.historical_quality_score",
            "metrics.search_impression_share",
            "campaign.name",
        ] {
            assert!(!is_additive(m), "{m}");
        }
    }

    #[test]
    fn the_limit_of_a_query() {
        assert_eq!(
            limit_of("SELECT campaign.name FROM campaign LIMIT 10"),
            Some(10)
        );
        assert_eq!(limit_of("select a from b order by c limit 5;"), Some(5));
        assert_eq!(limit_of("SELECT campaign.name FROM campaign"), None);
    }

    #[test]
    fn an_object_field_comes_back_together() {
        let row = flatten(
            &json!({"changeEvent": {"oldResource": {"campaign": {"name": "A", "status": "PAUSED"}}, "changeDateTime": "2026-10-01"}}),
        );
        let row = regroup(
            row,
            &[
                "change_event.old_resource".into(),
                "change_event.change_date_time".into(),
            ],
        );
        assert_eq!(
            row["change_event.old_resource"],
            json!({"campaign.name": "A", "campaign.status": "PAUSED"})
        );
        assert_eq!(row["change_event.change_date_time"], "2026-10-01");
    }
}
