//! The guard in front of every route: the token (bearer header or cookie, set once by
//! `?token=`), read-only mode, and changes sent only as JSON.

use std::sync::Arc;

use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// The cookie that carries the token (hex-encoded, so any token fits a cookie value).
const COOKIE: &str = "jobs_web_token";

/// What the guard enforces.
pub(crate) struct Guard {
    pub(crate) read_only: bool,
    pub(crate) token: Option<String>,
}

/// Checks the token, then refuses changes in read-only mode and changes not sent as JSON
/// (a cross-site form cannot send JSON, so the cookie cannot be used against the user).
pub(crate) async fn guard(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = &guard.token {
        if request.method() == Method::GET {
            if let Some(given) = query_token(request.uri().query()) {
                return if same(given.as_bytes(), token.as_bytes()) {
                    signed_in(&request, token)
                } else {
                    unauthorized(&request)
                };
            }
        }
        if !presents(request.headers(), token) {
            return unauthorized(&request);
        }
    }
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        if guard.read_only {
            return refuse(StatusCode::FORBIDDEN, "the dashboard is read-only");
        }
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return refuse(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "changes are sent as JSON (Content-Type: application/json)",
            );
        }
    }
    next.run(request).await
}

/// A JSON error body, as the API's handlers answer too.
pub(crate) fn refuse(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
}

/// The value of `token=` in a query string, if any.
fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
}

/// True when the request carries the token, as a bearer header or as the cookie.
fn presents(headers: &HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix("Bearer "))
        .any(|given| same(given.trim().as_bytes(), token.as_bytes()));
    let wanted = hex(token);
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == COOKIE && same(value.as_bytes(), wanted.as_bytes()));
    bearer || cookie
}

/// Compares in time independent of where the inputs differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The path the client asked for (the host application's, before any `nest` stripped
/// its prefix) and the dashboard's own prefix in it.
fn paths(request: &Request) -> (String, String) {
    let full = request
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| request.uri().path(), |o| o.0.path())
        .to_owned();
    let inner = request.uri().path();
    let prefix = full
        .strip_suffix(inner)
        .or_else(|| (inner == "/").then_some(full.as_str()))
        .unwrap_or("")
        .trim_end_matches('/')
        .to_owned();
    (full, prefix)
}

/// Sets the cookie and sends the browser back to the same page without the token in
/// its address (nor its history).
fn signed_in(request: &Request, token: &str) -> Response {
    let (full, prefix) = paths(request);
    let path = if prefix.is_empty() { "/" } else { &prefix };
    let cookie = format!(
        "{COOKIE}={}; Path={path}; HttpOnly; SameSite=Strict",
        hex(token)
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&full) {
        headers.insert(header::LOCATION, value);
    }
    response
}

/// 401: JSON for the API, the login form for a page.
fn unauthorized(request: &Request) -> Response {
    let mut response = if request.uri().path().starts_with("/api/") {
        refuse(StatusCode::UNAUTHORIZED, "a token is required")
    } else {
        (StatusCode::UNAUTHORIZED, Html(crate::assets::LOGIN)).into_response()
    };
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert_eq!(hex("a b;"), "6120623b");
    }

    #[test]
    fn the_token_is_read_from_the_query() {
        assert_eq!(query_token(Some("x=1&token=a%20b")).as_deref(), Some("a b"));
        assert_eq!(query_token(Some("x=1")), None);
        assert_eq!(query_token(None), None);
    }
}
