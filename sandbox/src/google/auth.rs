//! Bearer-token authentication for emulated Google APIs: the token comes from
//! `Authorization: Bearer …` or the `access_token` query parameter, and must be a live token
//! issued by this sandbox's token endpoint for a grant that is not revoked.

use std::time::Instant;

use axum::http::{HeaderMap, header};

use super::rpc::{ApiError, MethodId};
use crate::state::AppState;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Index of the grant the token was issued for.
    pub grant: usize,
    /// Scopes of the token.
    pub scopes: Vec<String>,
}

/// Authenticates a request or returns Google's 401.
pub fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    query: &[(String, String)],
    method: MethodId,
) -> Result<Caller, ApiError> {
    let token = match headers.get(header::AUTHORIZATION) {
        Some(value) => {
            let value = value.to_str().unwrap_or("").trim();
            match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                    token.trim().to_string()
                }
                _ => {
                    return Err(ApiError::invalid_credentials(
                        Some(method),
                        "ACCESS_TOKEN_TYPE_UNSUPPORTED",
                    ));
                }
            }
        }
        None => match query.iter().find(|(k, _)| k == "access_token") {
            Some((_, token)) => token.clone(),
            None => return Err(ApiError::credentials_missing(Some(method))),
        },
    };
    if token.is_empty() {
        return Err(ApiError::credentials_missing(Some(method)));
    }
    let rt = state.lock();
    let live = rt.tokens.get(&token).filter(|t| {
        !t.force_expired
            && t.expires_at > Instant::now()
            && !rt.revoked.get(t.grant).copied().unwrap_or(true)
    });
    match live {
        Some(t) => Ok(Caller {
            grant: t.grant,
            scopes: t.scopes.clone(),
        }),
        None => Err(ApiError::invalid_credentials(
            Some(method),
            "ACCESS_TOKEN_EXPIRED",
        )),
    }
}

/// Requires at least one of `accepted` scopes or returns Google's 403.
pub fn require_scope(caller: &Caller, accepted: &[&str], method: MethodId) -> Result<(), ApiError> {
    if caller.scopes.iter().any(|s| accepted.contains(&s.as_str())) {
        Ok(())
    } else {
        Err(ApiError::scope_insufficient(Some(method), accepted))
    }
}
