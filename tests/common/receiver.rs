//! A real HTTP server on 127.0.0.1 standing in for Slack's webhook endpoint: it records every
//! request and answers from a script (then 200 `ok` once the script runs out).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One recorded request.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy for binary bodies; see `bytes`).
    pub body: String,
    /// The body as sent.
    pub bytes: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("the request body is JSON")
    }
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![],
            body: body.into(),
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Answer {
        self.headers.push((k.into(), v.into()));
        self
    }
}

pub struct Receiver {
    pub port: u16,
    server: Arc<tiny_http::Server>,
    received: Arc<Mutex<Vec<Received>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    /// Start on a free port with these answers, in order.
    pub fn start(script: Vec<Answer>) -> Receiver {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (s, r) = (server.clone(), received.clone());
        let thread = std::thread::spawn(move || {
            for mut req in s.incoming_requests() {
                let mut bytes = Vec::new();
                let _ = req.as_reader().read_to_end(&mut bytes);
                let body = String::from_utf8_lossy(&bytes).into_owned();
                r.lock().unwrap().push(Received {
                    method: req.method().to_string(),
                    path: req.url().to_string(),
                    headers: req
                        .headers()
                        .iter()
                        .map(|h| {
                            (
                                h.field.to_string().to_ascii_lowercase(),
                                h.value.to_string(),
                            )
                        })
                        .collect(),
                    body,
                    bytes,
                    at: Instant::now(),
                });
                let a = script
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| Answer::new(200, "ok"));
                let mut resp = tiny_http::Response::from_string(a.body).with_status_code(a.status);
                for (k, v) in a.headers {
                    resp = resp.with_header(
                        tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap(),
                    );
                }
                let _ = req.respond(resp);
            }
        });
        Receiver {
            port,
            server,
            received,
            thread: Some(thread),
        }
    }

    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
