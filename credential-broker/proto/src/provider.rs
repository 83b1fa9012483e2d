//! The upstream data sources a lease can cover, and what each calls its account.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An upstream data source a lease can cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Google Analytics 4.
    Ga4,
    /// Google Search Console.
    Gsc,
    /// Google Ads.
    GoogleAds,
    /// Meta (Facebook/Instagram) Ads.
    MetaAds,
}

impl Provider {
    /// All providers, in display order.
    pub const ALL: [Provider; 4] = [
        Provider::Ga4,
        Provider::Gsc,
        Provider::GoogleAds,
        Provider::MetaAds,
    ];

    /// The name used on the command line and in JSON: `ga4`, `gsc`, `google_ads`, `meta_ads`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Ga4 => "ga4",
            Provider::Gsc => "gsc",
            Provider::GoogleAds => "google_ads",
            Provider::MetaAds => "meta_ads",
        }
    }

    /// The product name users know, as the dashboard and the old system's messages say it.
    pub fn service_name(self) -> &'static str {
        match self {
            Provider::Ga4 => "Google Analytics",
            Provider::Gsc => "Google Search Console",
            Provider::GoogleAds => "Google Ads",
            Provider::MetaAds => "Meta Ads",
        }
    }

    /// What the integration's account is called in the dashboard: the thing a client picks
    /// after signing in (`"property"`, `"customer account"`, `"ad account"`).
    pub fn account_noun(self) -> &'static str {
        match self {
            Provider::Ga4 | Provider::Gsc => "property",
            Provider::GoogleAds => "customer account",
            Provider::MetaAds => "ad account",
        }
    }

    /// The read scope (or Meta permission) the integration must have been granted.
    pub fn required_scope(self) -> &'static str {
        match self {
            Provider::Ga4 => "analytics.readonly",
            Provider::Gsc => "webmasters.readonly",
            Provider::GoogleAds => "adwords",
            Provider::MetaAds => "ads_read",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown provider name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}: use ga4, gsc, google_ads or meta_ads")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace('-', "_").as_str() {
            "ga4" | "google_analytics" => Ok(Provider::Ga4),
            "gsc" | "search_console" | "google_search_console" => Ok(Provider::Gsc),
            "google_ads" | "ads" => Ok(Provider::GoogleAds),
            "meta_ads" | "meta" | "facebook_ads" => Ok(Provider::MetaAds),
            _ => Err(UnknownProvider(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_parse_and_print() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            assert_eq!(
                serde_json::to_string(&p).unwrap(),
                format!("\"{}\"", p.as_str())
            );
        }
        assert_eq!("Google-Ads".parse::<Provider>(), Ok(Provider::GoogleAds));
        assert!("bing".parse::<Provider>().is_err());
    }
}
