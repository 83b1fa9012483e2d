//! One shop, one account: under a broker lease a server reads only the account named by the
//! shop's integration.
//!
//! The lease scopes *tokens* to one shop, but a token often reaches more than that shop's
//! account: an agency connects all its clients with one Google login or one Meta user. Without
//! this check, shop A's agent could read shop B's property with A's token just by naming it.
//! Static credentials (`--credentials-path`) belong to whoever runs the server and are not
//! narrowed.

use broker_proto::Account;

use crate::credentials::TokenProvider;
use crate::error::UpstreamError;

/// What a server calls its accounts, for messages: `"Google Analytics property"`, …
#[derive(Debug, Clone, Copy)]
pub struct AccountKind {
    /// Upstream service, for credential error texts (`"Google Analytics"`).
    pub service: &'static str,
    /// The account noun (`"Google Analytics property"`).
    pub noun: &'static str,
    /// Its id in the integration record.
    pub of_shop: fn(&Account) -> Option<&String>,
}

/// The shop's account of this kind when a lease pins the server to one shop (`None` with static
/// credentials, or when the integration names none). Errors are tool-error texts.
pub async fn shop_account(
    tokens: &TokenProvider,
    kind: AccountKind,
) -> Result<Option<String>, String> {
    match tokens.account().await {
        Ok(account) => Ok(account.as_ref().and_then(kind.of_shop).cloned()),
        Err(e) => Err(UpstreamError::Credentials(e).explain(kind.service)),
    }
}

/// The account a call reads: `requested` (the call's argument, else the server's flag), else
/// the shop's. Both go through `normalize` (the server's id check) before they are compared.
/// `Ok(None)`: nothing names an account; the caller says how to find one.
pub async fn resolve(
    tokens: &TokenProvider,
    kind: AccountKind,
    requested: Option<&str>,
    normalize: impl Fn(&str) -> Result<String, String>,
) -> Result<Option<String>, String> {
    let requested = requested.map(&normalize).transpose()?;
    let shop = shop_account(tokens, kind)
        .await?
        .map(|s| {
            normalize(&s).map_err(|e| {
                format!(
                    "The shop's integration names an invalid {} ({e}); fix the integration in the dashboard.",
                    kind.noun
                )
            })
        })
        .transpose()?;
    only_the_shops(requested, shop, kind.noun)
}

/// `requested` unless it differs from the shop's account, which is the answer when nothing is
/// requested.
pub fn only_the_shops(
    requested: Option<String>,
    shop: Option<String>,
    noun: &str,
) -> Result<Option<String>, String> {
    match (requested, shop) {
        (Some(r), Some(s)) if r != s => Err(format!(
            "{noun} {r} is not this shop's: this server serves one shop and reads only its {noun} {s}. Leave the id out to use it."
        )),
        (r, s) => Ok(r.or(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shops_account_is_the_default_and_the_only_one() {
        let noun = "Meta ad account";
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(only_the_shops(None, s("act_1"), noun), Ok(s("act_1")));
        assert_eq!(only_the_shops(s("act_1"), s("act_1"), noun), Ok(s("act_1")));
        assert_eq!(only_the_shops(s("act_2"), None, noun), Ok(s("act_2")));
        assert_eq!(only_the_shops(None, None, noun), Ok(None));
        let e = only_the_shops(s("act_2"), s("act_1"), noun).unwrap_err();
        assert!(
            e.contains("act_2 is not this shop's") && e.contains("act_1"),
            "{e}"
        );
    }
}
