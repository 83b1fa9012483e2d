//! Checking tool arguments before anything goes upstream: ids, page sizes, the `fields` a
//! call may ask for, and the default fields of each kind of object.

use mcp_common::params::{Checked, bad};

pub(crate) const DEFAULT_LIMIT: u32 = 25;
pub(crate) const MAX_LIMIT: u32 = 500;

pub(crate) const ACCOUNT_FIELDS: &[&str] = &[
    "id",
    "account_id",
    "name",
    "account_status",
    "currency",
    "timezone_name",
    "amount_spent",
    "spend_cap",
    "business{id,name}",
];
pub(crate) const CAMPAIGN_FIELDS: &[&str] = &[
    "id",
    "name",
    "status",
    "effective_status",
    "objective",
    "daily_budget",
    "lifetime_budget",
    "buying_type",
    "start_time",
    "stop_time",
    "created_time",
    "updated_time",
];
pub(crate) const ADSET_FIELDS: &[&str] = &[
    "id",
    "name",
    "campaign_id",
    "status",
    "effective_status",
    "daily_budget",
    "lifetime_budget",
    "optimization_goal",
    "billing_event",
    "start_time",
    "end_time",
];
pub(crate) const AD_FIELDS: &[&str] = &[
    "id",
    "name",
    "adset_id",
    "campaign_id",
    "status",
    "effective_status",
    "creative{id,name}",
    "created_time",
    "updated_time",
];
pub(crate) const CREATIVE_FIELDS: &[&str] = &[
    "id",
    "name",
    "title",
    "body",
    "object_type",
    "thumbnail_url",
    "call_to_action_type",
    "status",
];
pub(crate) const INSIGHT_METRICS: &[&str] = &[
    "spend",
    "impressions",
    "reach",
    "frequency",
    "clicks",
    "inline_link_clicks",
    "ctr",
    "cpc",
    "cpm",
    "actions",
    "action_values",
    "purchase_roas",
    "date_start",
    "date_stop",
];

/// `act_123` from `123`, `act_123`.
pub(crate) fn account_id(raw: &str) -> Checked<String> {
    let digits = raw.trim().trim_start_matches("act_");
    if !digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(format!("act_{digits}"))
    } else {
        bad(format!(
            "account_id {raw:?} is not an ad account id like act_1234567890 (get_ad_accounts lists them)"
        ))
    }
}

pub(crate) fn object_id(raw: &str) -> Checked<String> {
    let id = raw.trim();
    if !id.is_empty()
        && id.len() <= 40
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'_' || b.is_ascii_lowercase())
    {
        Ok(id.to_owned())
    } else {
        bad(format!(
            "id {raw:?} is not a Meta object id (digits, e.g. 120210000000001)"
        ))
    }
}

pub(crate) fn limit(given: Option<u32>) -> Checked<u32> {
    match given {
        None => Ok(DEFAULT_LIMIT),
        Some(0) => bad("limit must be at least 1"),
        Some(n) if n > MAX_LIMIT => {
            bad(format!("limit {n} is above {MAX_LIMIT}; page with `after`"))
        }
        Some(n) => Ok(n),
    }
}

/// The `fields` parameter. `pinned` (a server serving one shop) refuses field expansion
/// (`business{owned_ad_accounts{…}}`, `x.limit(…)`): it reads other objects than the one asked
/// for, past the check that it belongs to the shop's ad account.
pub(crate) fn field_list(given: &[String], default: &[&str], pinned: bool) -> Checked<String> {
    if given.is_empty() {
        return Ok(default.join(","));
    }
    for f in given {
        let ok = !f.is_empty()
            && f.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_{},.".contains(c));
        if !ok {
            return bad(format!("field {f:?} is not a Marketing API field name"));
        }
        if pinned && f.contains(['{', '}', '.']) {
            return bad(format!(
                "field {f:?} expands into other objects; this server serves one shop and reads only the named object's own fields (call the tool for the related object instead)"
            ));
        }
    }
    Ok(given.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert_eq!(account_id("123").unwrap(), "act_123");
        assert_eq!(account_id("act_123").unwrap(), "act_123");
        assert!(account_id("act_12a").is_err());
        assert!(object_id("120210000000001").is_ok());
        assert!(object_id("../me").is_err());
    }

    #[test]
    fn fields_are_checked() {
        assert_eq!(field_list(&[], &["id", "name"], true).unwrap(), "id,name");
        assert!(field_list(&["name&access_token=x".into()], &[], false).is_err());
        assert_eq!(
            field_list(&["creative{id,name}".into()], &[], false).unwrap(),
            "creative{id,name}"
        );
        // Serving one shop, expansion could reach the business's other ad accounts.
        for f in [
            "business{owned_ad_accounts{name}}",
            "ads.limit",
            "creative{id}",
        ] {
            let e = field_list(&[f.into()], &[], true).unwrap_err();
            assert!(e.0.contains("serves one shop"), "{e}");
        }
    }
}
