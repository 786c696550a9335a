//! `wasi:http` for plugins, behind the outbound-host allowlist. Every request's URI (its own
//! scheme and authority, never a `Host` header) is checked against the plugin's
//! `grants.hosts` before any connection is made; anything else is answered with
//! `HttpRequestDenied` and recorded as a denial. Timeouts are capped by the host.

use super::state::PluginState;
use crate::policy::{hosts, HostGrant};
use http_body_util::{BodyExt, Limited};
use std::future::Future;
use std::time::Duration;
use wasmtime_wasi_http::{
    Error, RequestOptions, WasiBody, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

/// Longest a plugin may wait to connect or for a response's first byte.
pub const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The allowlist hook of one plugin.
pub struct HttpGate {
    pub plugin: String,
    pub hosts: Vec<HostGrant>,
    /// Denied destinations, as messages naming the grant to add.
    pub denials: super::denials::Denials,
    /// Largest response body the plugin may read; past it the body fails with
    /// `HttpResponseBodySize`.
    pub max_response_bytes: u64,
}

impl HttpGate {
    pub fn new(
        plugin: &str,
        builtin: Option<&'static str>,
        hosts: Vec<HostGrant>,
        max_response_bytes: u64,
    ) -> HttpGate {
        HttpGate {
            plugin: plugin.to_string(),
            hosts,
            denials: super::denials::Denials::new(plugin, builtin),
            max_response_bytes,
        }
    }
}

fn cap(t: Option<Duration>) -> Option<Duration> {
    Some(t.map_or(MAX_HTTP_TIMEOUT, |t| t.min(MAX_HTTP_TIMEOUT)))
}

/// Resolves once a signal asks the host to stop what it is doing.
async fn until_interrupted() {
    while !crate::interrupt::aborting() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type Io = Box<dyn Future<Output = Result<(), Error>> + Send>;
type Sent = Box<dyn Future<Output = Result<(http::Response<WasiBody>, Io), Error>> + Send>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Io,
    ) -> Sent {
        let _ = fut;
        let mut request = request;
        // Say who is calling, unless the plugin did (servers log it; some refuse requests
        // without one).
        if !request.headers().contains_key(http::header::USER_AGENT) {
            let agent = format!(
                "platform-migrate/{} (plugin {})",
                env!("CARGO_PKG_VERSION"),
                self.plugin
            );
            if let Ok(v) = http::HeaderValue::from_str(&agent) {
                request.headers_mut().insert(http::header::USER_AGENT, v);
            }
        }
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_string();
        let host = uri.host().unwrap_or("").to_string();
        let port = uri.port_u16();
        if let Err(denied) = hosts::check(&self.plugin, &self.hosts, &scheme, &host, port) {
            self.denials.record(&denied.0);
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let origin = match port {
            Some(p) => format!("{scheme}://{host}:{p}"),
            None => format!("{scheme}://{host}"),
        };
        tracing::debug!(plugin = %self.plugin, "HTTP {} {origin}", request.method());
        let o = options.unwrap_or_default();
        let options = RequestOptions {
            connect_timeout: cap(o.connect_timeout),
            first_byte_timeout: cap(o.first_byte_timeout),
            between_bytes_timeout: cap(o.between_bytes_timeout),
        };
        let max = self.max_response_bytes;
        let plugin = self.plugin.clone();
        Box::new(async move {
            // A signal (SIGINT/SIGTERM) ends the wait for the server at once instead of after
            // the timeout: the plugin sees an error and the host goes on to exit.
            let send = wasmtime_wasi_http::default_send_request(request, Some(options));
            let (res, io) = tokio::select! {
                r = send => r?,
                () = until_interrupted() => {
                    return Err(Error::InternalError(Some("interrupted by a signal".into())));
                }
            };
            let res = res.map(|body| {
                Limited::new(body, max as usize)
                    .map_err(move |e| match e.downcast::<Error>() {
                        Ok(inner) => *inner,
                        Err(_) => {
                            tracing::warn!(plugin = %plugin, "HTTP response body larger than {max} bytes cut off (limits.http-response-kb)");
                            Error::HttpResponseBodySize(Some(max))
                        }
                    })
                    .boxed_unsync()
            });
            Ok((res, Box::new(io) as Io))
        })
    }
}

impl WasiHttpView for PluginState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http.ctx,
            table: &mut self.table,
            hooks: &mut self.http.gate,
        }
    }
}
