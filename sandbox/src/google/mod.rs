//! Google-wide pieces: the OAuth token endpoint, bearer-token authentication and the
//! `google.rpc.Status` error envelope. API modules (`ga4`, later GSC and Ads) build on these.

pub mod auth;
pub mod oauth;
pub mod rpc;
