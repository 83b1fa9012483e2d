//! End-to-end tests of the sandbox over real HTTP: each test binds `127.0.0.1:0`, runs the
//! server with `upstream_sandbox::run`, and talks to it with reqwest. Fixtures come from
//! `examples/sandbox-fixtures.toml`, so the shipped example is always exercised.

mod util;

/// Admin API endpoints and paging.
mod admin;
/// Bearer auth, scopes, property permissions, error envelopes, routing.
mod auth;
/// The OAuth authorization server's code flow (for the gateway).
mod authz;
/// The built binary: first stdout line, SIGTERM.
mod binary;
/// Control plane: faults, revoke, expire, counters, reset.
mod control;
/// runReport / batch / realtime / conversions / funnel / metadata.
mod data;
/// Google Ads API: search, searchStream, paging, field metadata, errors, MCC access.
mod gads;
/// Search Console: sites, searchAnalytics.query, sitemaps, URL Inspection, v3 errors.
mod gsc;
/// Meta Graph / Marketing API: objects, paging, insights, errors, throttling.
mod meta;
/// OAuth token endpoint: success, client auth, OAuth error bodies.
mod oauth;
