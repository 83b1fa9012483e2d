//! Adapter that lets the `oauth2` crate send its requests through our reqwest 0.13 client.
//!
//! oauth2 5's own `reqwest` feature pins reqwest 0.12, which would put a second HTTP stack in
//! the binary; the request/response types are plain `http` 1.x, so a few lines bridge them.

use std::pin::Pin;

type OAuthFuture =
    Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, reqwest::Error>> + Send>>;

/// An async HTTP client for oauth2 built on `client` (which must not follow redirects).
pub fn adapter(client: reqwest::Client) -> impl Fn(oauth2::HttpRequest) -> OAuthFuture {
    move |request| {
        let client = client.clone();
        Box::pin(async move {
            let response = client.execute(reqwest::Request::try_from(request)?).await?;
            let status = response.status();
            let version = response.version();
            let headers = response.headers().clone();
            let body = response.bytes().await?.to_vec();
            let mut out = http::Response::new(body);
            *out.status_mut() = status;
            *out.version_mut() = version;
            *out.headers_mut() = headers;
            Ok(out)
        })
    }
}
