//! The sandbox fixtures and the broker seeds tests start from: shops, integrations, accounts.

/// Fixtures the tests share: grants with known properties, one revoked, one without GA4 scope.
pub const FIXTURES: &str = r#"
[[google_clients]]
client_id = "sandbox-client.apps.googleusercontent.com"
client_secret = "sandbox-client-secret-e2e"

[[google_grants]]
name = "acme"
refresh_token = "sandbox-refresh-acme-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/analytics.readonly"]
ga4_properties = ["326784853"]

[[google_grants]]
name = "bloom"
refresh_token = "sandbox-refresh-bloom-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/analytics.readonly"]
ga4_properties = ["412345678", "412345679"]

[[google_grants]]
name = "gsc-only"
refresh_token = "sandbox-refresh-gsc-only-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/webmasters.readonly"]
gsc_sites = ["sc-domain:acme-shop.example", "https://www.gsc-only.example/", "sc-domain:bloom.example"]

[[google_grants]]
name = "rotating"
refresh_token = "sandbox-refresh-rotating-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/analytics.readonly"]
ga4_properties = ["412345679"]
rotate_refresh_token = true

[[google_grants]]
name = "ads"
refresh_token = "sandbox-refresh-ads-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/adwords"]
ads_customers = ["1234567890", "9876543210"]

[[google_grants]]
name = "all"
refresh_token = "sandbox-refresh-all-e2e"
client_id = "sandbox-client.apps.googleusercontent.com"
scopes = ["https://www.googleapis.com/auth/analytics.readonly", "https://www.googleapis.com/auth/webmasters.readonly", "https://www.googleapis.com/auth/adwords"]
ga4_properties = ["326784853"]
gsc_sites = ["sc-domain:acme-shop.example"]
ads_customers = ["1234567890"]

[[ads_customers]]
id = "1234567890"
descriptive_name = "Acme Shop"
currency_code = "PLN"
time_zone = "Europe/Warsaw"

[[ads_customers]]
id = "9876543210"
descriptive_name = "Acme Agency MCC"
currency_code = "PLN"
time_zone = "Europe/Warsaw"
manager = true
clients = ["1112223334"]

[[ads_customers]]
id = "1112223334"
descriptive_name = "Acme Outlet"
currency_code = "EUR"
time_zone = "Europe/Berlin"
daily_clicks = 260
start_date = "2023-03-01"

[[gsc_sites]]
site_url = "sc-domain:acme-shop.example"
brand = ["acme shop", "acme"]
vertical = "fashion"
ga4_property = "326784853"

[[meta_apps]]
app_id = "sandbox-meta-app"
app_secret = "sandbox-meta-app-secret-e2e"

[[meta_tokens]]
name = "meta-acme"
access_token = "sandbox-meta-acme-e2e"
ad_accounts = ["act_111", "act_112"]
permissions = ["ads_read"]

[[meta_tokens]]
name = "meta-expired"
access_token = "sandbox-meta-expired-e2e"
ad_accounts = ["act_111"]
expires_at = "2025-01-01T00:00:00Z"

[[meta_tokens]]
name = "meta-pages-only"
access_token = "sandbox-meta-pages-only-e2e"
ad_accounts = ["act_111"]
permissions = ["pages_read_engagement"]

[[meta_ad_accounts]]
id = "act_111"
name = "Acme Shop"
ga4_property = "326784853"

[[meta_tokens]]
name = "meta-expiring"
access_token = "sandbox-meta-expiring-e2e"
ad_accounts = ["act_111", "act_112"]
permissions = ["ads_read"]

[[ga4_properties]]
id = "326784853"
display_name = "Acme Shop"
account_id = "1000"
account_name = "Acme"
time_zone = "Europe/Warsaw"
currency_code = "PLN"
google_ads_links = ["1234567890"]
custom_dimensions = [{ parameter_name = "shoe_size", display_name = "Shoe size", scope = "EVENT" }]
custom_metrics = [{ parameter_name = "loyalty_points", display_name = "Loyalty points", scope = "EVENT", measurement_unit = "STANDARD" }]
"#;

/// A broker config section with the sandbox's Meta app, for the long-lived token exchange.
pub const META_APP_CONFIG: &str =
    "[meta]\napp_id = \"sandbox-meta-app\"\napp_secret = \"sandbox-meta-app-secret-e2e\"\n";

/// Shops the broker tests seed (uuids, so the same seed works on PostgreSQL).
pub mod shops {
    /// GA4 only, grant `acme`.
    pub const ACME: &str = "11111111-1111-4111-8111-111111111111";
    /// GA4 (grant `bloom`) and Search Console.
    pub const BLOOM: &str = "22222222-2222-4222-8222-222222222222";
    /// GA4 whose grant rotates its refresh token.
    pub const ROTATING: &str = "33333333-3333-4333-8333-333333333333";
    /// GA4 integration granted only the Search Console scope.
    pub const NO_SCOPE: &str = "44444444-4444-4444-8444-444444444444";
    /// No integrations at all.
    pub const EMPTY: &str = "55555555-5555-4555-8555-555555555555";
    /// Meta Ads token expiring in 5 days.
    pub const META: &str = "66666666-6666-4666-8666-666666666666";
    /// Meta Ads token that expired.
    pub const META_EXPIRED: &str = "77777777-7777-4777-8777-777777777777";
    /// Google Ads customer 123-456-7890 (grant `ads`).
    pub const ADS: &str = "88888888-8888-4888-8888-888888888888";
    /// Google Ads client 111-222-3334 reached through manager 987-654-3210 (grant `ads`).
    pub const ADS_CLIENT: &str = "99999999-9999-4999-8999-999999999999";
}

/// The broker seed: every GA4 token already expired, so the first vend refreshes.
pub fn broker_seed() -> String {
    let scope = "https://www.googleapis.com/auth/analytics.readonly";
    format!(
        r#"
[[shops]]
id = "{acme}"
name = "Acme"
[[shops.integrations]]
provider = "ga4"
data = {{ token = "stale-token-acme", expires_at = "2020-01-01T00:00:00Z", refresh_token = "sandbox-refresh-acme-e2e", property_id = "326784853", granted_scopes = ["{scope}"] }}

[[shops]]
id = "{bloom}"
name = "Bloom"
[[shops.integrations]]
provider = "ga4"
data = {{ token = "stale-token-bloom", expires_at = 1577836800, refresh_token = "sandbox-refresh-bloom-e2e", property_id = "412345678", granted_scopes = "{scope} openid" }}
[[shops.integrations]]
provider = "gsc"
data = {{ token = "stale-token-bloom-gsc", expires_at = "2020-01-01T00:00:00Z", refresh_token = "sandbox-refresh-gsc-only-e2e", property_url = "sc-domain:bloom.example", granted_scopes = ["https://www.googleapis.com/auth/webmasters.readonly"] }}

[[shops]]
id = "{rotating}"
name = "Rotating"
[[shops.integrations]]
provider = "ga4"
data = {{ token = "stale-token-rot", expires_at = "2020-01-01T00:00:00Z", refresh_token = "sandbox-refresh-rotating-e2e", property_id = "412345679", granted_scopes = ["{scope}"] }}

[[shops]]
id = "{no_scope}"
name = "No scope"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-gsc-only-e2e", property_id = "498765433", granted_scopes = ["https://www.googleapis.com/auth/webmasters.readonly"] }}

[[shops]]
id = "{empty}"
name = "Empty"

[[shops]]
id = "{meta}"
name = "Meta shop"
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-expiring-e2e", expires_at = "{meta_expires}", ad_account_id = "act_111", granted_scopes = ["ads_read"] }}

[[shops]]
id = "{meta_expired}"
name = "Meta expired"
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-expired-e2e", expires_at = "2020-01-01T00:00:00Z", ad_account_id = "act_222", granted_scopes = ["ads_read"] }}

[[shops]]
id = "{ads}"
name = "Ads shop"
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-ads-e2e", customer_id = "123-456-7890", granted_scopes = ["{adwords}"] }}

[[shops]]
id = "{ads_client}"
name = "Ads client shop"
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-ads-e2e", customer_id = "1112223334", login_customer_id = "987-654-3210", granted_scopes = ["{adwords}"] }}
"#,
        ads = shops::ADS,
        ads_client = shops::ADS_CLIENT,
        adwords = "https://www.googleapis.com/auth/adwords",
        meta = shops::META,
        meta_expired = shops::META_EXPIRED,
        meta_expires = (chrono::Utc::now() + chrono::Duration::days(5))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        acme = shops::ACME,
        bloom = shops::BLOOM,
        rotating = shops::ROTATING,
        no_scope = shops::NO_SCOPE,
        empty = shops::EMPTY,
    )
}

/// Id of the `i`th shop of [`full_shops_seed`].
pub fn full_shop_id(i: usize) -> String {
    format!("{i:08x}-0000-4000-8000-000000000000")
}

/// `n` shops with all four integrations (grant `all`, Meta token `meta-acme`), every Google
/// token already expired: for the pool test and the bench.
pub fn full_shops_seed(n: usize) -> String {
    let google = "https://www.googleapis.com/auth";
    let meta_expires = (chrono::Utc::now() + chrono::Duration::days(50))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut seed = String::new();
    for i in 0..n {
        let id = full_shop_id(i);
        seed.push_str(&format!(
            r#"
[[shops]]
id = "{id}"
name = "Shop {i}"
[[shops.integrations]]
provider = "ga4"
data = {{ refresh_token = "sandbox-refresh-all-e2e", property_id = "326784853", granted_scopes = ["{google}/analytics.readonly"] }}
[[shops.integrations]]
provider = "gsc"
data = {{ refresh_token = "sandbox-refresh-all-e2e", property_url = "sc-domain:acme-shop.example", granted_scopes = ["{google}/webmasters.readonly"] }}
[[shops.integrations]]
provider = "google_ads"
data = {{ refresh_token = "sandbox-refresh-all-e2e", customer_id = "1234567890", granted_scopes = ["{google}/adwords"] }}
[[shops.integrations]]
provider = "meta_ads"
data = {{ token = "sandbox-meta-acme-e2e", expires_at = "{meta_expires}", ad_account_id = "act_111", granted_scopes = ["ads_read"] }}
"#
        ));
    }
    seed
}
