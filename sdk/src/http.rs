//! A small HTTP client on `wasi:http` for notifiers and backup providers (features `notifier`,
//! `backup`): webhooks, off-site copies. Requests go only to origins in the plugin's
//! `grants.hosts`.
//!
//! The host answers only origins the plugin's `grants.hosts` allow; anything else fails with
//! [`HttpError::Denied`] before a connection is made.
//!
//! ```no_run
//! # fn send() -> Result<(), platform_migrate_sdk::http::HttpError> {
//! use platform_migrate_sdk::http;
//! // Needs grants.hosts = ["https://hooks.example.com"]
//! let resp = http::post_json("https://hooks.example.com/T/B/X", &serde_json::json!({"text": "hi"}))?;
//! if resp.status == 429 {
//!     let _wait = resp.header("retry-after");
//! }
//! # Ok(()) }
//! ```

use std::time::Duration;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};

/// Largest response body kept; the rest is dropped.
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body, up to [`MAX_RESPONSE_BODY`] bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The host refused the destination: it is not in the plugin's `grants.hosts`.
    Denied(String),
    /// The URL cannot be sent (not `http(s)://host/...`).
    InvalidUrl(String),
    /// Connecting, sending or receiving failed (refused, timed out, reset, TLS, ...).
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Denied(m) => write!(f, "request denied by the host: {m}"),
            HttpError::InvalidUrl(m) => write!(f, "invalid URL: {m}"),
            HttpError::Transport(m) => write!(f, "{m}"),
        }
    }
}

/// `(scheme, authority, path-with-query)` of an `http(s)://` URL. Never echoes the URL back
/// (it may be a secret).
pub fn split_url(url: &str) -> Result<(Scheme, String, String), HttpError> {
    let (scheme, rest) = if let Some(r) = url.strip_prefix("https://") {
        (Scheme::Https, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (Scheme::Http, r)
    } else {
        return Err(HttpError::InvalidUrl(
            "only http:// and https:// URLs can be sent".into(),
        ));
    };
    let cut = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(cut);
    if authority.is_empty() || authority.contains('@') {
        return Err(HttpError::InvalidUrl(
            "the URL needs a host and no user info".into(),
        ));
    }
    let path = if path.is_empty() {
        "/".to_string()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_string()
    };
    Ok((scheme, authority.to_string(), path))
}

fn transport(e: ErrorCode) -> HttpError {
    let say = |s: &str| HttpError::Transport(s.to_string());
    match e {
        ErrorCode::HttpRequestDenied => {
            HttpError::Denied("the destination is not in this plugin's grants.hosts".into())
        }
        ErrorCode::DnsTimeout | ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => {
            say("the host name could not be resolved")
        }
        ErrorCode::ConnectionRefused => {
            say("connection refused: nothing listens at that address and port")
        }
        ErrorCode::ConnectionTimeout => say("connecting timed out"),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            say("the server did not answer in time")
        }
        ErrorCode::ConnectionTerminated => say("the server closed the connection"),
        ErrorCode::DestinationUnavailable | ErrorCode::DestinationIpUnroutable => {
            say("the destination cannot be reached from here")
        }
        ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => {
            say("the TLS handshake failed (certificate or protocol)")
        }
        ErrorCode::InternalError(Some(m)) => HttpError::Transport(m),
        other => HttpError::Transport(format!("{other:?}")),
    }
}

/// Send one request and read the whole response. `timeout` bounds connecting and waiting for
/// the first byte (the host may cap it lower).
pub fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Option<Duration>,
) -> Result<Response, HttpError> {
    let (scheme, authority, path) = split_url(url)?;
    let fields = Fields::new();
    for (k, v) in headers {
        fields
            .append(k, v.as_bytes())
            .map_err(|e| HttpError::InvalidUrl(format!("header {k}: {e:?}")))?;
    }
    // The body's length is known: say so, rather than send it chunked, which some servers and
    // proxies refuse (411 Length Required) or do not read.
    let has_length = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"));
    if !has_length && !body.is_empty() {
        fields
            .append("content-length", body.len().to_string().as_bytes())
            .map_err(|e| HttpError::InvalidUrl(format!("header content-length: {e:?}")))?;
    }
    let req = OutgoingRequest::new(fields);
    let m = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_string()),
    };
    let bad = |what: &str| HttpError::InvalidUrl(format!("the host refused the {what}"));
    req.set_method(&m).map_err(|_| bad("method"))?;
    req.set_scheme(Some(&scheme)).map_err(|_| bad("scheme"))?;
    req.set_authority(Some(&authority))
        .map_err(|_| bad("host"))?;
    req.set_path_with_query(Some(&path))
        .map_err(|_| bad("path"))?;
    let out_body = req.body().map_err(|_| bad("body"))?;
    let options = timeout.map(|t| {
        let o = RequestOptions::new();
        let ns = t.as_nanos().min(u64::MAX as u128) as u64;
        let _ = o.set_connect_timeout(Some(ns));
        let _ = o.set_first_byte_timeout(Some(ns));
        let _ = o.set_between_bytes_timeout(Some(ns));
        o
    });
    let pending = outgoing_handler::handle(req, options).map_err(transport)?;
    // A refused request (denied host, connection error) closes the body stream: when writing
    // fails, the response future holds the real reason.
    let mut body_error = None;
    match out_body.write() {
        Ok(stream) => {
            for chunk in body.chunks(4096) {
                if let Err(e) = stream.blocking_write_and_flush(chunk) {
                    body_error = Some(format!("sending the body: {e:?}"));
                    break;
                }
            }
        }
        Err(()) => body_error = Some("the request body could not be opened".into()),
    }
    let finished = OutgoingBody::finish(out_body, None);
    pending.subscribe().block();
    let resp = match pending.get() {
        Some(Ok(Ok(r))) => r,
        Some(Ok(Err(e))) => return Err(transport(e)),
        Some(Err(())) | None => {
            return Err(HttpError::Transport("no response".into()));
        }
    };
    if let Some(e) = body_error {
        return Err(HttpError::Transport(e));
    }
    finished.map_err(transport)?;
    let status = resp.status();
    let headers = resp
        .headers()
        .entries()
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    let mut data = Vec::new();
    if let Ok(incoming) = resp.consume() {
        if let Ok(stream) = incoming.stream() {
            // Until closed (or failed): keep what arrived, up to the cap.
            while let Ok(bytes) = stream.blocking_read(64 * 1024) {
                let room = MAX_RESPONSE_BODY.saturating_sub(data.len());
                data.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body: data,
    })
}

/// POST a JSON document (`content-type: application/json`).
pub fn post_json(url: &str, doc: &serde_json::Value) -> Result<Response, HttpError> {
    let body = serde_json::to_vec(doc).map_err(|e| HttpError::InvalidUrl(e.to_string()))?;
    send(
        "POST",
        url,
        &[("content-type", "application/json")],
        &body,
        Some(Duration::from_secs(10)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_origin_and_path() {
        let (s, a, p) = split_url("https://hooks.slack.com/services/T/B/X").unwrap();
        assert!(matches!(s, Scheme::Https));
        assert_eq!(a, "hooks.slack.com");
        assert_eq!(p, "/services/T/B/X");
        let (s, a, p) = split_url("http://127.0.0.1:8080").unwrap();
        assert!(matches!(s, Scheme::Http));
        assert_eq!((a.as_str(), p.as_str()), ("127.0.0.1:8080", "/"));
        assert_eq!(split_url("http://h?x=1").unwrap().2, "/?x=1");
    }

    #[test]
    fn bad_urls_never_echo_the_url() {
        let e = split_url("ftp://secret-token@x/").unwrap_err();
        assert!(!e.to_string().contains("secret-token"));
        let e = split_url("https://user:secret-token@x/").unwrap_err();
        assert!(!e.to_string().contains("secret-token"));
    }
}
