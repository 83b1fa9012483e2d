//! Meta Graph / Marketing API over HTTP: ad accounts, objects and fields, cursor paging via
//! `paging.next`, insights (levels, breakdowns, increments, presets, ranges) and their
//! consistency with GA4, every error envelope, throttling, BUC headers and faults.

use std::collections::BTreeSet;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::util::{ACME, Sandbox};

const ACME_TOKEN: &str = "sandbox-meta-acme";
const BLOOM_TOKEN: &str = "sandbox-meta-bloom";

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Reply {
    fn header_json(&self, name: &str) -> Value {
        let text = self.headers[name].to_str().expect("ascii header");
        serde_json::from_str(text).expect("header is JSON")
    }

    fn data(&self) -> &Vec<Value> {
        self.body["data"].as_array().expect("data array")
    }

    fn error_code(&self) -> (i64, Option<i64>) {
        (
            self.body["error"]["code"].as_i64().expect("error code"),
            self.body["error"]["error_subcode"].as_i64(),
        )
    }
}

async fn get_url(sb: &Sandbox, url: &str, token: Option<&str>) -> Reply {
    let mut req = sb.http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("graph request");
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

async fn graph(sb: &Sandbox, path: &str, token: Option<&str>) -> Reply {
    get_url(sb, &sb.url(&format!("/v26.0{path}")), token).await
}

async fn acme(sb: &Sandbox, path: &str) -> Reply {
    let r = graph(sb, path, Some(ACME_TOKEN)).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    r
}

fn enc(json: &str) -> String {
    url::form_urlencoded::byte_serialize(json.as_bytes()).collect()
}

fn num(v: &Value) -> f64 {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a string"))
        .parse()
        .expect("numeric string")
}

/// Money strings in a 2-decimal currency, as exact minor units.
fn cents(v: &Value) -> i64 {
    let s = v.as_str().expect("money string");
    let (whole, frac) = s.split_once('.').expect("two decimals");
    assert_eq!(frac.len(), 2, "{s}");
    whole.parse::<i64>().expect("units") * 100 + frac.parse::<i64>().expect("cents")
}

fn sum(rows: &[Value], field: &str) -> i64 {
    rows.iter()
        .map(|r| {
            if field == "spend" {
                cents(&r[field])
            } else {
                num(&r[field]) as i64
            }
        })
        .sum()
}

/// Follows `paging.next` to the end and returns every row.
async fn all_pages(sb: &Sandbox, path: &str) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut next = Some(sb.url(&format!("/v26.0{path}")));
    let mut pages = 0;
    while let Some(url) = next.take() {
        let r = get_url(sb, &url, Some(ACME_TOKEN)).await;
        assert_eq!(r.status, StatusCode::OK, "{url}: {}", r.body);
        rows.extend(r.data().iter().cloned());
        next = r.body["paging"]["next"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 200, "paging does not end");
    }
    rows
}

fn is_meta_time(s: &str) -> bool {
    // 2026-10-01T09:30:00+0200
    s.len() == 24
        && s.as_bytes()[10] == b'T'
        && (s.as_bytes()[19] == b'+' || s.as_bytes()[19] == b'-')
        && chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z").is_ok()
}

#[tokio::test]
async fn me_and_ad_accounts() {
    let sb = Sandbox::start().await;
    let r = acme(&sb, "/me").await;
    assert_eq!(r.body["name"], "acme");
    assert!(
        r.body["id"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit())
    );

    let r = acme(&sb, "/me/adaccounts").await;
    assert_eq!(r.headers["content-type"], "application/json; charset=UTF-8");
    assert_eq!(
        r.body["data"],
        json!([{"id": "act_111", "account_id": "111"}, {"id": "act_112", "account_id": "112"}])
    );
    assert_eq!(r.body["paging"]["cursors"]["before"], "MAZDZD");
    assert!(r.body["paging"].get("next").is_none());

    let r = acme(
        &sb,
        "/me/adaccounts?fields=name,account_status,currency,timezone_name,amount_spent,business{id,name},spend_cap&limit=1",
    )
    .await;
    let first = &r.data()[0];
    assert_eq!(first["name"], "Acme Shop");
    assert_eq!(first["currency"], "PLN", "from the linked GA4 property");
    assert_eq!(first["timezone_name"], "Europe/Warsaw");
    assert_eq!(first["account_status"], 1);
    assert_eq!(first["business"]["name"], "Acme");
    assert!(first["business"]["id"].is_string());
    assert!(
        first["amount_spent"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            > 100_000
    );
    assert_eq!(first["spend_cap"], "0");
    let next = r.body["paging"]["next"].as_str().unwrap().to_owned();
    let r = get_url(&sb, &next, Some(ACME_TOKEN)).await;
    assert_eq!(r.data()[0]["name"], "Acme Outlet");

    let r = acme(
        &sb,
        "/act_112?fields=id,account_id,name,currency,timezone_offset_hours_utc,created_time,age",
    )
    .await;
    assert_eq!(r.body["id"], "act_112");
    assert_eq!(r.body["account_id"], "112");
    assert!(is_meta_time(r.body["created_time"].as_str().unwrap()));
    assert!(r.body["age"].as_f64().unwrap() > 300.0);
    let buc = r.header_json("x-business-use-case-usage");
    assert_eq!(buc["112"][0]["type"], "ads_management");
    assert_eq!(buc["112"][0]["ads_api_access_tier"], "standard_access");
    assert!(r.headers.contains_key("x-ad-account-usage"));
    assert!(r.headers.contains_key("x-fb-trace-id"));

    let r = acme(&sb, "/act_111").await;
    assert_eq!(r.body, json!({"id": "act_111", "account_id": "111"}));

    // The token may also travel in the query string.
    let r = get_url(
        &sb,
        &sb.url("/v26.0/me?access_token=sandbox-meta-bloom"),
        None,
    )
    .await;
    assert_eq!(r.body["name"], "bloom");
    sb.stop().await;
}

#[tokio::test]
async fn objects_fields_and_edges() {
    let sb = Sandbox::start().await;
    let all = "effective_status=%5B%22ACTIVE%22,%22PAUSED%22,%22ARCHIVED%22,%22DELETED%22%5D";
    let r = acme(&sb, &format!(
        "/act_111/campaigns?fields=id,name,status,effective_status,objective,daily_budget,lifetime_budget,buying_type,start_time,stop_time,created_time,updated_time&limit=100&{all}"
    ))
    .await;
    let campaigns = r.data().clone();
    assert!(campaigns.len() > 15, "{}", campaigns.len());
    let statuses: BTreeSet<&str> = campaigns
        .iter()
        .map(|c| c["effective_status"].as_str().unwrap())
        .collect();
    for s in ["ACTIVE", "PAUSED", "ARCHIVED"] {
        assert!(statuses.contains(s), "{statuses:?}");
    }
    for c in &campaigns {
        assert!(c["id"].as_str().unwrap().len() >= 15);
        assert!(c["objective"].as_str().unwrap().starts_with("OUTCOME_"));
        assert_eq!(c["buying_type"], "AUCTION");
        assert!(is_meta_time(c["created_time"].as_str().unwrap()), "{c}");
        assert!(is_meta_time(c["start_time"].as_str().unwrap()));
        for budget in ["daily_budget", "lifetime_budget"] {
            if let Some(b) = c.get(budget) {
                assert!(
                    b.as_str().unwrap().bytes().all(|x| x.is_ascii_digit()),
                    "{c}"
                );
            }
        }
        assert!(
            c.get("daily_budget").is_some()
                || c.get("lifetime_budget").is_some()
                || c["name"].as_str().unwrap().starts_with("Retargeting")
                || c["name"].as_str().unwrap().starts_with("Brand")
                || c["name"].as_str().unwrap().starts_with("Traffic")
        );
    }
    let prospecting = campaigns
        .iter()
        .find(|c| c["name"] == "Prospecting - Lookalike")
        .unwrap();
    assert!(
        prospecting.get("stop_time").is_none(),
        "always-on campaigns have no stop_time"
    );
    let campaign_id = prospecting["id"].as_str().unwrap().to_owned();

    // Single objects, default and selected fields.
    let r = acme(&sb, &format!("/{campaign_id}")).await;
    assert_eq!(r.body, json!({"id": campaign_id}));
    let r = acme(
        &sb,
        &format!("/{campaign_id}?fields=name,objective,effective_status"),
    )
    .await;
    assert_eq!(r.body["name"], "Prospecting - Lookalike");
    assert_eq!(r.body["effective_status"], "ACTIVE");

    // Campaign → ad sets → ads → creatives.
    let r = acme(&sb, &format!(
        "/{campaign_id}/adsets?fields=id,name,campaign_id,status,effective_status,optimization_goal,billing_event,targeting,promoted_object,start_time,campaign{{name}}"
    ))
    .await;
    let adsets = r.data().clone();
    assert!(!adsets.is_empty());
    for s in &adsets {
        assert_eq!(s["campaign_id"], campaign_id.as_str());
        assert_eq!(s["campaign"]["name"], "Prospecting - Lookalike");
        assert_eq!(s["billing_event"], "IMPRESSIONS");
        assert!(s["targeting"]["geo_locations"]["countries"][0] == "PL");
        assert_eq!(s["promoted_object"]["custom_event_type"], "PURCHASE");
    }
    let lookalike = adsets
        .iter()
        .find(|s| s["name"] == "Lookalike 1% - Purchasers 180d")
        .unwrap();
    let adset_id = lookalike["id"].as_str().unwrap().to_owned();
    let r = acme(&sb, &format!("/{adset_id}?fields=name,daily_budget")).await;
    assert!(
        r.body.get("daily_budget").is_none(),
        "CBO ad sets have no budget of their own"
    );
    let every = enc(
        r#"["ACTIVE","PAUSED","ADSET_PAUSED","CAMPAIGN_PAUSED","DISAPPROVED","ARCHIVED","DELETED"]"#,
    );
    let r = acme(&sb, &format!(
        "/{adset_id}/ads?fields=id,name,adset_id,campaign_id,status,effective_status,creative{{id,name}}&effective_status={every}"
    ))
    .await;
    let ads = r.data().clone();
    assert!(ads.len() >= 2);
    for ad in &ads {
        assert_eq!(ad["adset_id"], adset_id.as_str());
        assert_eq!(ad["campaign_id"], campaign_id.as_str());
        assert!(ad["creative"]["id"].is_string() && ad["creative"]["name"].is_string());
    }
    assert!(ads.iter().any(|a| a["effective_status"] == "DISAPPROVED"));
    let ad_id = ads[0]["id"].as_str().unwrap().to_owned();
    let creative_id = ads[0]["creative"]["id"].as_str().unwrap().to_owned();
    let r = acme(&sb, &format!("/{ad_id}?fields=name,creative,adset{{name}}")).await;
    assert_eq!(r.body["creative"], json!({"id": creative_id}));
    assert_eq!(r.body["adset"]["name"], lookalike["name"]);
    let r = acme(&sb, &format!("/{creative_id}?fields=id,name,title,body,object_type,call_to_action_type,link_url,image_url")).await;
    assert_eq!(r.body["link_url"], "https://www.acme-shop.example/");
    assert!(matches!(
        r.body["object_type"].as_str(),
        Some("SHARE" | "VIDEO")
    ));

    // Account-wide edges.
    let r = acme(&sb, "/act_111/adsets?fields=name,campaign_id&limit=500").await;
    assert!(r.data().len() > adsets.len());
    let r = acme(&sb, "/act_111/ads?fields=name,creative{name}&limit=5").await;
    assert_eq!(r.data().len(), 5);
    let r = acme(&sb, "/act_111/adcreatives?fields=name,object_type&limit=5").await;
    assert_eq!(r.data().len(), 5);

    // Nested edges and insights as fields.
    let r = acme(&sb, &format!(
        "/{campaign_id}?fields=name,adsets.limit(1){{name}},insights.date_preset(last_7d){{spend,impressions}}"
    ))
    .await;
    assert_eq!(r.body["adsets"]["data"].as_array().unwrap().len(), 1);
    let row = &r.body["insights"]["data"][0];
    assert_eq!(row["date_stop"], "2026-10-19");
    assert!(num(&row["impressions"]) > 0.0);
    sb.stop().await;
}

#[tokio::test]
async fn paging_follows_next_to_the_end() {
    let sb = Sandbox::start().await;
    let all = "effective_status=%5B%22ACTIVE%22,%22PAUSED%22,%22ARCHIVED%22,%22DELETED%22%5D";
    let everything = acme(&sb, &format!("/act_111/ads?fields=id&limit=500&{all}")).await;
    assert!(everything.body["paging"].get("next").is_none());
    let expected: Vec<Value> = everything.data().clone();
    assert!(expected.len() > 30, "{}", expected.len());

    // Token in the query: `next` must not repeat it, but must keep everything else.
    let url = sb.url(&format!(
        "/v26.0/act_111/ads?fields=id&limit=7&{all}&access_token={ACME_TOKEN}"
    ));
    let first = get_url(&sb, &url, None).await;
    let next = first.body["paging"]["next"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}/v26.0/act_111/ads?", sb.base)),
        "{next}"
    );
    assert!(!next.contains("access_token"), "{next}");
    assert!(next.contains("limit=7") && next.contains("fields=id") && next.contains("after="));
    assert!(first.body["paging"].get("previous").is_none());

    let rows = all_pages(&sb, &format!("/act_111/ads?fields=id&limit=7&{all}")).await;
    assert_eq!(rows, expected);

    // Walking back with `before` from the second page returns the first.
    let second = get_url(&sb, next, Some(ACME_TOKEN)).await;
    let previous = second.body["paging"]["previous"].as_str().unwrap();
    let back = get_url(&sb, previous, Some(ACME_TOKEN)).await;
    assert_eq!(back.body["data"], first.body["data"]);

    // Insights rows page the same way.
    let rows = all_pages(
        &sb,
        "/act_111/insights?time_increment=1&date_preset=last_30d&fields=spend&limit=8",
    )
    .await;
    assert_eq!(rows.len(), 30);
    let dates: BTreeSet<&str> = rows
        .iter()
        .map(|r| r["date_start"].as_str().unwrap())
        .collect();
    assert_eq!(dates.len(), 30);

    // Limits are clamped, bad ones refused.
    let r = acme(&sb, "/act_111/campaigns?limit=100000").await;
    assert!(r.data().len() <= 500);
    let r = graph(&sb, "/act_111/campaigns?limit=lots", Some(ACME_TOKEN)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code().0, 100);
    sb.stop().await;
}

#[tokio::test]
async fn list_filters() {
    let sb = Sandbox::start().await;
    let default = acme(
        &sb,
        "/act_111/campaigns?fields=effective_status&limit=500&summary=true",
    )
    .await;
    assert!(
        default
            .data()
            .iter()
            .all(|c| !matches!(c["effective_status"].as_str(), Some("ARCHIVED" | "DELETED")))
    );
    assert_eq!(default.body["summary"]["total_count"], default.data().len());

    let active = acme(
        &sb,
        &format!(
            "/act_111/campaigns?fields=name,effective_status&limit=500&effective_status={}",
            enc(r#"["ACTIVE"]"#)
        ),
    )
    .await;
    assert!(!active.data().is_empty());
    assert!(
        active
            .data()
            .iter()
            .all(|c| c["effective_status"] == "ACTIVE")
    );

    // Past Black Friday campaigns are archived, so hidden unless asked for.
    let filtering =
        enc(r#"[{"field":"campaign.name","operator":"CONTAIN","value":"black friday"}]"#);
    let hidden = acme(
        &sb,
        &format!("/act_111/campaigns?fields=name&filtering={filtering}"),
    )
    .await;
    assert!(hidden.data().is_empty(), "{}", hidden.body);
    let friday = acme(
        &sb,
        &format!(
            "/act_111/campaigns?fields=name&limit=500&filtering={filtering}&effective_status={}",
            enc(r#"["ACTIVE","PAUSED","ARCHIVED"]"#)
        ),
    )
    .await;
    assert!(friday.data().len() >= 4, "{}", friday.body);
    assert!(
        friday
            .data()
            .iter()
            .all(|c| c["name"].as_str().unwrap().starts_with("Black Friday"))
    );

    let archived = acme(
        &sb,
        &format!(
            "/act_111/ads?fields=effective_status&limit=500&filtering={}",
            enc(r#"[{"field":"campaign.effective_status","operator":"IN","value":["ARCHIVED"]}]"#)
        ),
    )
    .await;
    assert!(!archived.data().is_empty());
    assert!(
        archived
            .data()
            .iter()
            .all(|a| a["effective_status"] == "ARCHIVED")
    );

    let r = graph(
        &sb,
        &format!(
            "/act_111/campaigns?effective_status={}",
            enc(r#"["SLEEPING"]"#)
        ),
        Some(ACME_TOKEN),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("(#100) effective_status[0] must be one of")
    );
    let r = graph(
        &sb,
        &format!(
            "/act_111/campaigns?filtering={}",
            enc(r#"[{"field":"colour","operator":"EQUAL","value":"x"}]"#)
        ),
        Some(ACME_TOKEN),
    )
    .await;
    assert_eq!(r.error_code().0, 100);
    sb.stop().await;
}

#[tokio::test]
async fn insights_levels_breakdowns_and_dates() {
    let sb = Sandbox::start().await;
    let base = "/act_111/insights?date_preset=last_30d&limit=5000";
    let account = acme(&sb, &format!(
        "{base}&fields=account_id,account_name,impressions,reach,frequency,clicks,inline_link_clicks,spend,cpc,cpm,cpp,ctr,actions,action_values,cost_per_action_type,conversions,purchase_roas"
    ))
    .await;
    let buc = account.header_json("x-business-use-case-usage");
    assert_eq!(buc["111"][0]["type"], "ads_insights");
    assert!(account.headers.contains_key("x-fb-ads-insights-throttle"));
    let row = &account.data()[0];
    assert_eq!(account.data().len(), 1);
    assert_eq!(row["account_id"], "111");
    assert_eq!(row["account_name"], "Acme Shop");
    assert_eq!(row["date_start"], "2026-09-20");
    assert_eq!(row["date_stop"], "2026-10-19");
    for f in [
        "impressions",
        "reach",
        "frequency",
        "clicks",
        "spend",
        "cpc",
        "cpm",
        "ctr",
        "cpp",
    ] {
        assert!(row[f].is_string(), "{f} is a string: {row}");
    }
    let (imps, reach, clicks) = (
        num(&row["impressions"]),
        num(&row["reach"]),
        num(&row["clicks"]),
    );
    assert!(reach <= imps);
    assert!((num(&row["frequency"]) - imps / reach).abs() < 1e-3);
    let ctr = num(&row["ctr"]);
    assert!((0.5..3.0).contains(&ctr), "ctr {ctr}");
    assert!((ctr - clicks / imps * 100.0).abs() < 1e-3);
    let cpm = num(&row["cpm"]);
    assert!((10.0..100.0).contains(&cpm), "cpm {cpm} PLN");
    let actions = row["actions"].as_array().unwrap();
    let action = |kind: &str| {
        actions
            .iter()
            .find(|a| a["action_type"] == kind)
            .map(|a| num(&a["value"]))
            .unwrap_or(0.0)
    };
    let link = action("link_click");
    assert_eq!(link, num(&row["inline_link_clicks"]));
    let purchases = action("purchase");
    assert!(
        purchases > 0.0 && purchases < link * 0.06,
        "{purchases} of {link}"
    );
    assert!(action("add_to_cart") > purchases);
    assert!(
        row["action_values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["action_type"] == "purchase")
    );
    assert_eq!(row["purchase_roas"][0]["action_type"], "omni_purchase");

    // Levels sum to the account; breakdowns sum to the account.
    let total_imps = imps as i64;
    let total_spend = cents(&row["spend"]);
    for extra in [
        "&level=campaign&fields=campaign_id,campaign_name,impressions,spend",
        "&level=adset&fields=adset_id,adset_name,campaign_id,impressions,spend",
        "&level=ad&fields=ad_id,ad_name,impressions,spend",
        "&breakdowns=age,gender&fields=impressions,spend",
        "&breakdowns=publisher_platform,platform_position&fields=impressions,spend",
        "&breakdowns=country&fields=impressions,spend",
        "&breakdowns=region&fields=impressions,spend",
        "&breakdowns=device_platform&fields=impressions,spend",
        "&breakdowns=impression_device&fields=impressions,spend",
        "&time_increment=1&fields=impressions,spend",
        "&time_increment=7&level=campaign&fields=impressions,spend",
        "&time_increment=monthly&fields=impressions,spend",
    ] {
        let r = acme(&sb, &format!("{base}{extra}")).await;
        assert_eq!(sum(r.data(), "impressions"), total_imps, "{extra}");
        assert_eq!(sum(r.data(), "spend"), total_spend, "{extra}");
    }
    let r = acme(
        &sb,
        &format!("{base}&level=ad&fields=ad_id,ad_name,campaign_name,adset_name"),
    )
    .await;
    let first = &r.data()[0];
    assert!(
        first["ad_id"].is_string()
            && first["campaign_name"].is_string()
            && first["adset_name"].is_string()
    );
    let r = acme(&sb, &format!("{base}&breakdowns=age,gender")).await;
    let first = &r.data()[0];
    assert!(first["age"].is_string() && first["gender"].is_string());
    let r = acme(
        &sb,
        &format!("{base}&breakdowns=publisher_platform,platform_position"),
    )
    .await;
    assert!(
        r.data()
            .iter()
            .any(|x| x["publisher_platform"] == "instagram"
                && x["platform_position"] == "instagram_stories")
    );

    // Sorting.
    let r = acme(
        &sb,
        &format!("{base}&level=campaign&fields=campaign_name,spend&sort=spend_descending"),
    )
    .await;
    let spends: Vec<i64> = r.data().iter().map(|x| cents(&x["spend"])).collect();
    assert!(spends.windows(2).all(|w| w[0] >= w[1]), "{spends:?}");

    // Dates: presets, time_range (overrides the preset), time_ranges.
    let r = acme(&sb, "/act_111/insights?date_preset=yesterday").await;
    assert_eq!(r.data()[0]["date_start"], "2026-10-19");
    assert_eq!(r.data()[0]["date_stop"], "2026-10-19");
    let r = acme(
        &sb,
        "/act_111/insights?date_preset=last_month&time_increment=1&limit=100",
    )
    .await;
    assert_eq!(r.data().len(), 30);
    assert_eq!(r.data()[0]["date_start"], "2026-09-01");
    let r = acme(
        &sb,
        &format!(
            "/act_111/insights?date_preset=yesterday&time_range={}",
            enc(r#"{"since":"2026-10-01","until":"2026-10-07"}"#)
        ),
    )
    .await;
    assert_eq!(r.data()[0]["date_start"], "2026-10-01");
    assert_eq!(r.data()[0]["date_stop"], "2026-10-07");
    let r = acme(&sb, &format!(
        "/act_111/insights?time_ranges={}",
        enc(r#"[{"since":"2026-10-01","until":"2026-10-07"},{"since":"2026-10-08","until":"2026-10-14"}]"#)
    ))
    .await;
    assert_eq!(r.data().len(), 2);
    assert_eq!(r.data()[1]["date_start"], "2026-10-08");
    let r = acme(
        &sb,
        "/act_111/insights?date_preset=today&fields=impressions",
    )
    .await;
    assert!(
        num(&r.data()[0]["impressions"]) > 0.0,
        "today is partial, not empty"
    );
    let r = acme(
        &sb,
        "/act_111/insights?date_preset=maximum&time_increment=monthly&limit=100",
    )
    .await;
    assert!(r.data().len() >= 37);

    // Attribution windows.
    let r = acme(
        &sb,
        &format!(
            "{base}&fields=actions&action_attribution_windows={}",
            enc(r#"["7d_click","1d_view"]"#)
        ),
    )
    .await;
    let purchase = r.data()[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action_type"] == "purchase")
        .unwrap()
        .clone();
    assert!(purchase["7d_click"].is_string() && purchase["1d_view"].is_string());
    sb.stop().await;
}

#[tokio::test]
async fn insights_on_objects() {
    let sb = Sandbox::start().await;
    let campaigns = acme(
        &sb,
        "/act_111/insights?level=campaign&date_preset=last_7d&fields=campaign_id,impressions",
    )
    .await;
    let row = &campaigns.data()[0];
    let id = row["campaign_id"].as_str().unwrap();
    let r = acme(
        &sb,
        &format!("/{id}/insights?date_preset=last_7d&fields=campaign_id,campaign_name,impressions"),
    )
    .await;
    assert_eq!(r.data().len(), 1);
    assert_eq!(r.data()[0]["campaign_id"], id);
    assert_eq!(r.data()[0]["impressions"], row["impressions"]);
    let r = acme(
        &sb,
        &format!(
            "/{id}/insights?date_preset=last_7d&level=ad&fields=ad_id,campaign_id,impressions"
        ),
    )
    .await;
    assert!(r.data().iter().all(|x| x["campaign_id"] == id));
    assert_eq!(
        sum(r.data(), "impressions"),
        num(&row["impressions"]) as i64
    );
    let ad = r.data()[0]["ad_id"].as_str().unwrap().to_owned();
    let r = acme(
        &sb,
        &format!("/{ad}/insights?date_preset=last_7d&fields=ad_id,adset_id,spend"),
    )
    .await;
    assert_eq!(r.data()[0]["ad_id"], ad.as_str());
    assert!(r.data()[0]["adset_id"].is_string());
    let counters = sb.counters().await;
    assert_eq!(counters["api_calls"][id], 2);
    assert!(
        counters["api_calls_by_method"]["meta.insights"]
            .as_u64()
            .unwrap()
            >= 4
    );
    assert_eq!(counters["api_calls"]["act_111"], 1);
    sb.stop().await;
}

#[tokio::test]
async fn link_clicks_follow_ga4_paid_social_sessions() {
    let sb = Sandbox::start().await;
    let meta = acme(&sb, "/act_111/insights?date_preset=last_28d&time_increment=1&fields=inline_link_clicks&limit=100").await;
    let token = sb.token("sandbox-refresh-acme").await;
    let (status, ga4) = sb
        .post(
            &format!("/v1beta/properties/{ACME}:runReport"),
            &token,
            &json!({
                "dateRanges": [{"startDate": "28daysAgo", "endDate": "yesterday"}],
                "dimensions": [{"name": "date"}, {"name": "sessionDefaultChannelGroup"}],
                "metrics": [{"name": "sessions"}],
                "limit": 10000,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ga4}");
    let mut checked = 0;
    for row in meta.data() {
        let date = row["date_start"].as_str().unwrap().replace('-', "");
        let sessions: f64 = ga4["rows"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["dimensionValues"][0]["value"] == date.as_str()
                    && r["dimensionValues"][1]["value"] == "Paid Social"
            })
            .map(|r| num(&r["metricValues"][0]["value"]))
            .sum();
        let clicks = num(&row["inline_link_clicks"]);
        let ratio = clicks / sessions;
        assert!(
            (0.75..=1.25).contains(&ratio),
            "{date}: {clicks} link clicks vs {sessions} GA4 paid-social sessions"
        );
        checked += 1;
    }
    assert_eq!(checked, 28);
    sb.stop().await;
}

#[tokio::test]
async fn auth_and_parameter_errors() {
    let sb = Sandbox::start().await;
    let check = |r: &Reply, code: i64, subcode: Option<i64>| {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.error_code(), (code, subcode), "{}", r.body);
        assert!(r.body["error"]["fbtrace_id"].is_string());
        assert!(r.body["error"]["type"].is_string());
    };
    let r = graph(&sb, "/me/adaccounts", None).await;
    check(&r, 2500, None);
    assert_eq!(
        r.body["error"]["message"],
        "An active access token must be used to query information about the current user."
    );
    let r = graph(&sb, "/act_111/campaigns", None).await;
    check(&r, 104, None);
    let r = graph(&sb, "/act_111", Some("not-a-token")).await;
    check(&r, 190, None);
    assert_eq!(r.body["error"]["type"], "OAuthException");
    assert_eq!(
        r.body["error"]["message"],
        "Invalid OAuth access token - Cannot parse access token"
    );
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("OAuth \"Facebook Platform\" \"invalid_token\"")
    );
    let r = graph(&sb, "/act_111", Some("sandbox-meta-acme-expired")).await;
    check(&r, 190, Some(463));
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("Error validating access token: Session has expired on Tuesday, 31-Dec-24 16:00:00 PST. ") && msg.contains("The current time is"), "{msg}");
    let r = graph(
        &sb,
        "/act_111/insights",
        Some("sandbox-meta-acme-pages-only"),
    )
    .await;
    check(&r, 200, None);
    assert_eq!(
        r.body["error"]["message"],
        "(#200) Ad account owner has NOT grant ads_management or ads_read permission"
    );

    // Another shop's account, unknown objects.
    let r = graph(&sb, "/act_211/campaigns", Some(ACME_TOKEN)).await;
    check(&r, 100, Some(33));
    assert_eq!(r.body["error"]["type"], "GraphMethodException");
    assert_eq!(
        r.body["error"]["message"],
        "Unsupported get request. Object with ID 'act_211' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
    );
    let bloom_campaign = graph(&sb, "/act_211/campaigns?limit=1", Some(BLOOM_TOKEN))
        .await
        .body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    check(
        &graph(&sb, &format!("/{bloom_campaign}"), Some(ACME_TOKEN)).await,
        100,
        Some(33),
    );
    check(
        &graph(&sb, "/120999999999999999", Some(ACME_TOKEN)).await,
        100,
        Some(33),
    );
    check(&graph(&sb, "/acme_shop", Some(ACME_TOKEN)).await, 803, None);

    // Fields, edges and parameters.
    let r = graph(&sb, "/act_111?fields=name,xyz", Some(ACME_TOKEN)).await;
    check(&r, 100, None);
    assert_eq!(
        r.body["error"]["message"],
        "(#100) Tried accessing nonexisting field (xyz) on node type (AdAccount)"
    );
    let r = graph(
        &sb,
        "/act_111/ads?fields=creative{id,colour}",
        Some(ACME_TOKEN),
    )
    .await;
    assert_eq!(
        r.body["error"]["message"],
        "(#100) Tried accessing nonexisting field (colour) on node type (AdCreative)"
    );
    let r = graph(&sb, "/act_111/pixels", Some(ACME_TOKEN)).await;
    check(&r, 100, None);
    let r = graph(&sb, "/act_111/insights?fields=spend,xyz", Some(ACME_TOKEN)).await;
    check(&r, 100, None);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("(#100) xyz is not valid for fields param.")
    );
    let r = graph(
        &sb,
        "/act_111/insights?date_preset=lifetime",
        Some(ACME_TOKEN),
    )
    .await;
    check(&r, 100, None);
    assert!(
        r.body["error"]["message"].as_str().unwrap().starts_with(
            "(#100) date_preset must be one of the following values: today, yesterday"
        )
    );
    let r = graph(
        &sb,
        "/act_111/insights?breakdowns=age,country",
        Some(ACME_TOKEN),
    )
    .await;
    check(&r, 100, None);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("(action_type, age, country)")
    );
    check(
        &graph(&sb, "/act_111/insights?level=keyword", Some(ACME_TOKEN)).await,
        100,
        None,
    );
    check(
        &graph(
            &sb,
            "/act_111/insights?time_increment=120",
            Some(ACME_TOKEN),
        )
        .await,
        100,
        None,
    );
    let old = enc(r#"{"since":"2020-01-01","until":"2020-01-31"}"#);
    check(
        &graph(
            &sb,
            &format!("/act_111/insights?time_range={old}"),
            Some(ACME_TOKEN),
        )
        .await,
        3018,
        None,
    );
    let r = get_url(&sb, &sb.url("/v19.0/act_111"), Some(ACME_TOKEN)).await;
    check(&r, 2635, None);
    let r = graph(&sb, "/act_111/campaigns/extra", Some(ACME_TOKEN)).await;
    check(&r, 2500, None);
    let r = sb
        .http
        .post(sb.url("/v26.0/act_111/campaigns"))
        .bearer_auth(ACME_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sb.stop().await;
}

#[tokio::test]
async fn revocation_and_minted_tokens() {
    let sb = Sandbox::start().await;
    let r = sb
        .http
        .post(sb.url("/v26.0/oauth/access_token"))
        .form(&[
            ("grant_type", "fb_exchange_token"),
            ("client_id", "1000000000000001"),
            ("client_secret", "sandbox-meta-app-secret"),
            ("fb_exchange_token", BLOOM_TOKEN),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let minted = r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = graph(&sb, "/act_211/insights?fields=spend", Some(&minted)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a minted token reads what its parent read"
    );
    assert_eq!(r.data()[0]["date_stop"], "2026-10-19");

    let (status, v) = sb
        .control(
            Method::POST,
            "/__sandbox/meta/revoke",
            Some(json!({"name": "bloom"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["error_subcode"], 460);
    for token in [BLOOM_TOKEN, minted.as_str()] {
        let r = graph(&sb, "/act_211", Some(token)).await;
        assert_eq!(r.error_code(), (190, Some(460)));
    }
    assert_eq!(
        graph(&sb, "/act_111", Some(ACME_TOKEN)).await.status,
        StatusCode::OK,
        "other tokens unaffected"
    );
    let r = sb
        .http
        .post(sb.url("/v26.0/oauth/access_token"))
        .form(&[
            ("grant_type", "fb_exchange_token"),
            ("client_id", "1000000000000001"),
            ("client_secret", "sandbox-meta-app-secret"),
            ("fb_exchange_token", BLOOM_TOKEN),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["error_subcode"], 460,
        "a revoked session cannot be extended"
    );
    let (_, v) = sb
        .control(
            Method::POST,
            "/__sandbox/meta/revoke",
            Some(json!({"name": "bloom", "reason": "app_removed"})),
        )
        .await;
    assert_eq!(v["error_subcode"], 458);
    assert_eq!(
        graph(&sb, "/me", Some(BLOOM_TOKEN)).await.error_code(),
        (190, Some(458))
    );
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/meta/restore",
            Some(json!({"name": "bloom"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        graph(&sb, "/act_211", Some(BLOOM_TOKEN)).await.status,
        StatusCode::OK
    );
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/meta/revoke",
            Some(json!({"name": "nobody"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/meta/revoke",
            Some(json!({"name": "bloom", "reason": "bored"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Reset forgets revocations.
    sb.control(
        Method::POST,
        "/__sandbox/meta/revoke",
        Some(json!({"name": "bloom"})),
    )
    .await;
    sb.control(Method::POST, "/__sandbox/reset", None).await;
    assert_eq!(
        graph(&sb, "/act_211", Some(BLOOM_TOKEN)).await.status,
        StatusCode::OK
    );
    sb.stop().await;
}

#[tokio::test]
async fn throttling_and_usage_headers() {
    let sb = Sandbox::start().await;
    let mut counts = Vec::new();
    for _ in 0..3 {
        let r = acme(&sb, "/act_111/insights?fields=spend").await;
        counts.push(
            r.header_json("x-business-use-case-usage")["111"][0]["call_count"]
                .as_u64()
                .unwrap(),
        );
    }
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]) && counts[2] > 0,
        "{counts:?}"
    );
    let r = acme(&sb, "/act_111/campaigns").await;
    let buc = r.header_json("x-business-use-case-usage");
    let types: BTreeSet<&str> = buc["111"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, BTreeSet::from(["ads_insights", "ads_management"]));
    let usage = r.header_json("x-ad-account-usage");
    assert!(usage["acc_id_util_pct"].is_number());
    assert_eq!(usage["ads_api_access_tier"], "standard_access");

    let (status, v) = sb
        .control(Method::POST, "/__sandbox/meta/throttle", Some(json!({"ad_account": "act_111", "code": 80004, "count": 2, "estimated_time_to_regain_access": 7})))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    for _ in 0..2 {
        let r = graph(&sb, "/act_111/campaigns", Some(ACME_TOKEN)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.error_code(), (80004, Some(2_446_079)));
        assert_eq!(r.body["error"]["is_transient"], true);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("(#80004) There have been too many calls to this ad-account.")
        );
        let buc = r.header_json("x-business-use-case-usage");
        let entry = buc["111"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "ads_management")
            .unwrap();
        assert_eq!(entry["call_count"], 100);
        assert_eq!(entry["estimated_time_to_regain_access"], 7);
        // Other accounts are not throttled.
        assert_eq!(
            graph(&sb, "/act_112", Some(ACME_TOKEN)).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        graph(&sb, "/act_111/campaigns", Some(ACME_TOKEN))
            .await
            .status,
        StatusCode::OK
    );

    for (code, subcode) in [
        (17, Some(2_446_079)),
        (613, Some(1_487_742)),
        (4, Some(1_504_022)),
        (80000, Some(2_446_079)),
    ] {
        sb.control(
            Method::POST,
            "/__sandbox/meta/throttle",
            Some(json!({"ad_account": "act_111", "code": code})),
        )
        .await;
        let r = graph(&sb, "/act_111/insights", Some(ACME_TOKEN)).await;
        assert_eq!(r.error_code(), (code, subcode), "{}", r.body);
        assert_eq!(
            r.header_json("x-fb-ads-insights-throttle")["acc_id_util_pct"],
            100
        );
    }
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/meta/throttle",
            Some(json!({"ad_account": "act_111", "code": 42})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/meta/throttle",
            Some(json!({"ad_account": "111", "code": 17})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    sb.control(
        Method::POST,
        "/__sandbox/meta/throttle",
        Some(json!({"ad_account": "act_111", "code": 17, "count": 5})),
    )
    .await;
    let (_, v) = sb
        .control(Method::DELETE, "/__sandbox/meta/throttle", None)
        .await;
    assert_eq!(v["cleared"], 1);
    let (_, v) = sb.control(Method::GET, "/__sandbox/meta/usage", None).await;
    assert!(v["usage"]["act_111"]["ads_insights"].as_u64().unwrap() >= 7);

    // Reset clears usage.
    sb.control(Method::POST, "/__sandbox/reset", None).await;
    let r = acme(&sb, "/act_111/insights?fields=spend").await;
    assert_eq!(
        r.header_json("x-business-use-case-usage")["111"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        r.header_json("x-business-use-case-usage")["111"][0]["call_count"],
        1
    );
    sb.stop().await;
}

#[tokio::test]
async fn injected_faults_answer_in_metas_format() {
    let sb = Sandbox::start().await;
    let (status, _) = sb
        .control(
            Method::POST,
            "/__sandbox/faults",
            Some(json!({"path_prefix": "/v26.0/act_111", "status": 429, "count": 1})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = graph(&sb, "/act_111/insights", Some(ACME_TOKEN)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), (17, Some(2_446_079)));
    assert_eq!(
        r.body["error"]["message"],
        "(#17) User request limit reached"
    );
    assert_eq!(r.body["error"]["is_transient"], true);

    sb.control(Method::POST, "/__sandbox/faults", Some(json!({"path_prefix": "/v26.0/act_111", "status": 503, "count": 1, "message": "Service temporarily unavailable"}))).await;
    let r = graph(&sb, "/act_111", Some(ACME_TOKEN)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.error_code().0, 2);
    assert_eq!(
        r.body["error"]["message"],
        "Service temporarily unavailable"
    );

    sb.control(
        Method::POST,
        "/__sandbox/faults",
        Some(json!({"path_prefix": "/v26.0/", "status": 401, "count": 1})),
    )
    .await;
    assert_eq!(
        graph(&sb, "/me", Some(ACME_TOKEN)).await.error_code(),
        (190, None)
    );
    sb.control(
        Method::POST,
        "/__sandbox/faults",
        Some(json!({"path_prefix": "/v26.0/", "status": 400, "count": 1})),
    )
    .await;
    assert_eq!(
        graph(&sb, "/me", Some(ACME_TOKEN)).await.error_code(),
        (1, None)
    );

    assert_eq!(
        graph(&sb, "/act_111", Some(ACME_TOKEN)).await.status,
        StatusCode::OK
    );
    let counters = sb.counters().await;
    assert_eq!(counters["faulted"], 4);
    assert_eq!(
        counters["api_calls"]["act_111"], 1,
        "faulted calls never reach the handler"
    );
    sb.stop().await;
}

/// Each edge takes only its own `effective_status` values (the business SDK's enums): an ad's
/// `ADSET_PAUSED` on campaigns is Meta's error #100.
#[tokio::test]
async fn effective_status_values_belong_to_their_edge() {
    let sb = Sandbox::start().await;
    let ad_only = enc(r#"["ADSET_PAUSED"]"#);
    acme(
        &sb,
        &format!("/act_111/ads?fields=id&effective_status={ad_only}"),
    )
    .await;
    let r = graph(
        &sb,
        &format!("/act_111/campaigns?fields=id&effective_status={ad_only}"),
        Some(ACME_TOKEN),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["code"], 100, "{}", r.body);
    let campaign_paused = enc(r#"["CAMPAIGN_PAUSED"]"#);
    acme(
        &sb,
        &format!("/act_111/adsets?fields=id&effective_status={campaign_paused}"),
    )
    .await;
    let r = graph(
        &sb,
        &format!("/act_111/campaigns?fields=id&effective_status={campaign_paused}"),
        Some(ACME_TOKEN),
    )
    .await;
    assert_eq!(r.body["error"]["code"], 100, "{}", r.body);
    sb.stop().await;
}
