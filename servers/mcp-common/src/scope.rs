//! One shop, one account: under a broker lease a server reads only the account named by the
//! shop's integration, and nothing at all when the integration names none.
//!
//! The lease scopes *tokens* to one shop, but a token often reaches more than that shop's
//! account: an agency connects all its clients with one Google login or one Meta user. Without
//! this check, shop A's agent could read shop B's property with A's token just by naming it.
//! Missing data means "no": an integration without its account pins nothing, so it reads
//! nothing ([`gate`] refuses every call before a tool runs; [`shop_account`] refuses again).
//! Static credentials (`--credentials-path`) belong to whoever runs the server and are not
//! narrowed.

use broker_proto::Provider;

use crate::credentials::TokenProvider;
use crate::error::UpstreamError;
use crate::output::Refusal;

/// What a server calls its accounts, for messages: `"Google Analytics property"`, …
#[derive(Debug, Clone, Copy)]
pub struct AccountKind {
    /// Upstream service, for credential error texts (`"Google Analytics"`).
    pub service: &'static str,
    /// The account noun (`"Google Analytics property"`).
    pub noun: &'static str,
    /// The provider whose integration names the account.
    pub provider: Provider,
}

/// The shop's account when a lease pins the server to one shop; `None` only with static
/// credentials. Under a lease, an integration that names no account is an error: it grants
/// nothing.
pub async fn shop_account(
    tokens: &TokenProvider,
    kind: AccountKind,
) -> Result<Option<String>, Refusal> {
    match tokens.account().await {
        Ok(None) => Ok(None),
        Ok(Some(account)) => match account.id_for(kind.provider) {
            Some(id) => Ok(Some(id.to_owned())),
            None => Err(no_account(tokens.shop_id().unwrap_or("?"), kind)),
        },
        Err(e) => Err(Refusal(UpstreamError::Credentials(e).explain(kind.service))),
    }
}

/// Refuses every call of a leased server whose shop's integration names no account (before
/// any tool runs, whatever the tool). Static credentials pass.
pub async fn gate(tokens: &TokenProvider, kind: AccountKind) -> Result<(), Refusal> {
    shop_account(tokens, kind).await.map(drop)
}

/// The Google Ads manager (MCC) the shop's integration reads its customer through; optional,
/// and `None` with static credentials.
pub async fn shop_manager(tokens: &TokenProvider) -> Result<Option<String>, Refusal> {
    match tokens.account().await {
        Ok(account) => Ok(account.and_then(|a| {
            a.login_customer_id
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.trim().to_owned())
        })),
        Err(e) => Err(Refusal(
            UpstreamError::Credentials(e).explain(Provider::GoogleAds.service_name()),
        )),
    }
}

fn no_account(shop: &str, kind: AccountKind) -> Refusal {
    Refusal(format!(
        "This server serves shop {shop}, whose {} integration names no {}: it reads nothing until the shop finishes connecting {} in the dashboard (picks its {}).",
        kind.service,
        kind.noun,
        kind.service,
        kind.provider.account_noun()
    ))
}

/// The account a call reads: `requested` (the call's argument, else the server's flag), else
/// the shop's. Both go through `normalize` (the server's id check) before they are compared.
/// `Ok(None)`: static credentials and nothing names an account; the caller says how to find one.
pub async fn resolve(
    tokens: &TokenProvider,
    kind: AccountKind,
    requested: Option<&str>,
    normalize: impl Fn(&str) -> crate::params::Checked<String>,
) -> Result<Option<String>, Refusal> {
    let requested = requested.map(&normalize).transpose()?;
    match shop_account(tokens, kind).await? {
        // Static credentials: the runner's own; any account its token reaches.
        None => Ok(requested),
        Some(shop) => {
            let shop = normalize(&shop).map_err(|e| {
                Refusal(format!(
                    "The shop's integration names an invalid {} ({e}); fix the integration in the dashboard.",
                    kind.noun
                ))
            })?;
            only_the_shops(requested, &shop, kind.noun).map(Some)
        }
    }
}

/// The shop's account `shop`, refusing any other `requested` one.
pub fn only_the_shops(
    requested: Option<String>,
    shop: &str,
    noun: &str,
) -> Result<String, Refusal> {
    match requested {
        Some(r) if r != shop => Err(Refusal(format!(
            "{noun} {r} is not this shop's: this server serves one shop and reads only its {noun} {shop}. Leave the id out to use it."
        ))),
        _ => Ok(shop.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use broker_proto::Account;

    const META: AccountKind = AccountKind {
        service: "Meta Ads",
        noun: "Meta ad account",
        provider: Provider::MetaAds,
    };

    fn pinned(account: Account) -> Arc<TokenProvider> {
        crate::testing::pinned_connection(account).tokens
    }

    #[test]
    fn the_shops_account_is_the_default_and_the_only_one() {
        let noun = "Meta ad account";
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(only_the_shops(None, "act_1", noun), Ok("act_1".into()));
        assert_eq!(
            only_the_shops(s("act_1"), "act_1", noun),
            Ok("act_1".into())
        );
        let e = only_the_shops(s("act_2"), "act_1", noun).unwrap_err();
        assert!(
            e.0.contains("act_2 is not this shop's") && e.0.contains("act_1"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_lease_without_an_account_reads_nothing() {
        for account in [
            Account::default(),
            Account {
                ad_account_id: Some("   ".into()),
                property_id: Some("326784853".into()),
                ..Account::default()
            },
        ] {
            let tokens = pinned(account);
            let e = gate(&tokens, META).await.expect_err("no account, no call");
            assert!(
                e.0.contains("shop-c") && e.0.contains("names no Meta ad account"),
                "{e}"
            );
            // Naming an account does not help: there is nothing to compare it with.
            let e = resolve(&tokens, META, Some("act_2"), |a| Ok(a.to_owned()))
                .await
                .expect_err("refused");
            assert!(e.0.contains("names no"), "{e}");
            assert!(
                resolve(&tokens, META, None, |a| Ok(a.to_owned()))
                    .await
                    .is_err()
            );
        }
    }

    #[tokio::test]
    async fn a_lease_with_an_account_reads_only_it() {
        let tokens = pinned(Account {
            ad_account_id: Some("act_1".into()),
            ..Account::default()
        });
        gate(&tokens, META).await.expect("pinned");
        let id = |a: &str| Ok(a.to_owned());
        assert_eq!(
            resolve(&tokens, META, None, id).await,
            Ok(Some("act_1".into()))
        );
        assert!(resolve(&tokens, META, Some("act_2"), id).await.is_err());
    }

    #[tokio::test]
    async fn static_credentials_are_the_runners_own() {
        let tokens = crate::testing::offline_connection().tokens;
        gate(&tokens, META).await.expect("static");
        let id = |a: &str| Ok(a.to_owned());
        assert_eq!(
            resolve(&tokens, META, Some("act_2"), id).await,
            Ok(Some("act_2".into()))
        );
        assert_eq!(resolve(&tokens, META, None, id).await, Ok(None));
    }
}
