//! Typed failures: the [`ErrorCode`] a client acts on and the message people read.

use serde::{Deserialize, Serialize};

use crate::Provider;

/// What went wrong, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame or message could not be understood.
    BadRequest,
    /// `Hello` with a version this broker does not speak, or a request before `Hello`.
    UnsupportedVersion,
    /// The peer may not make this request (not an admin uid).
    NotPermitted,
    /// No such shop.
    UnknownShop,
    /// The shop has no integration for the provider.
    NoIntegration,
    /// The integration exists but is inactive or deleted.
    IntegrationInactive,
    /// The integration lacks the required scope/permission.
    MissingScope,
    /// The integration names no account (property, site, customer, ad account): the client
    /// has not finished connecting it, so it grants nothing.
    NoAccount,
    /// The grant was revoked or expired: the shop must reconnect.
    ReconnectRequired,
    /// The lease expired.
    LeaseExpired,
    /// The lease was revoked.
    LeaseRevoked,
    /// No such lease.
    UnknownLease,
    /// A shop key that is unknown, revoked or expired (one answer for all three, so a guesser
    /// learns nothing).
    UnknownKey,
    /// The lease does not cover this provider.
    WrongProvider,
    /// The lease is for another shop.
    WrongShop,
    /// The upstream refused the stored token and the broker could not replace it (a Meta
    /// token without an app configured to renew it, or one refused again right after its
    /// replacement).
    TokenRejected,
    /// The token endpoint is unreachable or failing; retry later.
    Unavailable,
    /// A broker bug or store failure.
    Internal,
}

/// A typed error with a message meant for people (the old system's wording where it had one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(deny_unknown_fields)]
#[error("{message}")]
pub struct BrokerError {
    /// The kind.
    pub code: ErrorCode,
    /// What happened and what to do.
    pub message: String,
}

impl BrokerError {
    /// An error of `code` with `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// "The Google Analytics integration for shop X has no property selected. Please finish
    /// connecting Google Analytics in the dashboard." — an integration without its account
    /// grants nothing.
    pub fn no_account(provider: Provider, shop_id: &str) -> Self {
        let service = provider.service_name();
        Self::new(
            ErrorCode::NoAccount,
            format!(
                "The {service} integration for shop {shop_id} has no {} selected.\nPlease finish connecting {service} in the dashboard.",
                provider.account_noun()
            ),
        )
    }

    /// "No Google Analytics integration found for shop X. Please connect your Google Analytics
    /// account in the dashboard." — the old system's wording, which users and scripts know.
    pub fn no_integration(provider: Provider, shop_id: &str) -> Self {
        let service = provider.service_name();
        Self::new(
            ErrorCode::NoIntegration,
            format!(
                "No {service} integration found for shop {shop_id}.\nPlease connect your {service} account in the dashboard."
            ),
        )
    }

    /// "The Google Analytics authorization for shop X was revoked or has expired. Please
    /// reconnect …": the token endpoint refused the grant (`invalid_grant`).
    pub fn reconnect_required(provider: Provider, shop_id: &str) -> Self {
        let service = provider.service_name();
        Self::new(
            ErrorCode::ReconnectRequired,
            format!(
                "The {service} authorization for shop {shop_id} was revoked or has expired.\nPlease reconnect your {service} account in the dashboard."
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Account;

    #[test]
    fn the_guides_wording_for_missing_integrations() {
        assert_eq!(
            BrokerError::no_integration(Provider::Ga4, "non-existent-uuid").message,
            "No Google Analytics integration found for shop non-existent-uuid.\nPlease connect your Google Analytics account in the dashboard."
        );
    }

    #[test]
    fn an_integration_without_its_account_names_what_to_finish() {
        assert_eq!(
            BrokerError::no_account(Provider::Ga4, "shop-c").message,
            "The Google Analytics integration for shop shop-c has no property selected.\nPlease finish connecting Google Analytics in the dashboard."
        );
        assert!(
            BrokerError::no_account(Provider::MetaAds, "s")
                .message
                .contains("has no ad account selected")
        );
        let blank = Account {
            property_id: Some("  ".into()),
            ad_account_id: Some("act_1".into()),
            ..Account::default()
        };
        assert_eq!(blank.id_for(Provider::Ga4), None, "blank is no account");
        assert_eq!(blank.id_for(Provider::Gsc), None);
        assert_eq!(blank.id_for(Provider::MetaAds), Some("act_1"));
        let of = |p: Provider, id: &str| {
            let mut a = Account::default();
            match p {
                Provider::Ga4 => a.property_id = Some(id.into()),
                Provider::Gsc => a.property_url = Some(id.into()),
                Provider::GoogleAds => a.customer_id = Some(id.into()),
                Provider::MetaAds => a.ad_account_id = Some(id.into()),
            }
            a.id_for(p).map(str::to_owned)
        };
        for (p, good) in [
            (Provider::Ga4, "326784853"),
            (Provider::Ga4, "properties/326784853"),
            (Provider::Gsc, "sc-domain:acme-shop.example"),
            (Provider::Gsc, "https://www.example.com/"),
            (Provider::GoogleAds, "1234567890"),
            (Provider::MetaAds, "act_111"),
            (Provider::MetaAds, "111"),
        ] {
            assert_eq!(of(p, good).as_deref(), Some(good), "{p} {good}");
        }
        for (p, bad) in [
            (Provider::Ga4, "0"),
            (Provider::Ga4, "properties/"),
            (Provider::Ga4, "GA-12"),
            (Provider::Gsc, "0"),
            (Provider::Gsc, "sc-domain:"),
            (Provider::Gsc, "https://"),
            (Provider::GoogleAds, "123"),
            (Provider::GoogleAds, "0000000000"),
            (Provider::MetaAds, "act_"),
            (Provider::MetaAds, "act_0"),
        ] {
            assert_eq!(of(p, bad), None, "{p} {bad:?} names no account");
        }
    }
}
