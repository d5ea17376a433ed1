//! A fault-injecting HTTP/1.1 proxy for tests, between a client (`upload`, `raw`) and a real
//! server on 127.0.0.1. It forwards requests byte for byte (keep-alive with the client,
//! `Content-Length` and chunked bodies, the SDK's `aws-chunked` content passes through
//! untouched, `Expect: 100-continue` answered) and, on a seeded share of them, does something
//! else instead:
//! - answers 500 (`InternalError` / `InternalServerError`), 503 (`SlowDown` for S3,
//!   `ServiceUnavailable` for DynamoDB) or throttles (S3 `SlowDown`, DynamoDB 400
//!   `ProvisionedThroughputExceededException`), with the service's own error body;
//! - resets the connection before the server sees the request, or after (the write happened,
//!   the answer is lost);
//! - adds latency;
//! - forwards only part of a `BatchWriteItem` and returns the rest as `UnprocessedItems`;
//! - goes down (closes its port: connections refused) after N requests, and comes back.
//!
//! Every fault is counted ([`Proxy::stats`]). A response hook can rewrite what the server
//! answered (e.g. add hostile keys to a listing).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cityflow::generate::Rng;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    S3,
    DynamoDb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Status500,
    Status503,
    Throttle,
    ResetBefore,
    ResetAfter,
    Latency,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::Status500,
        Fault::Status503,
        Fault::Throttle,
        Fault::ResetBefore,
        Fault::ResetAfter,
        Fault::Latency,
    ];
}

/// What the proxy does, and how often.
#[derive(Debug, Clone)]
pub struct Faults {
    pub seed: u64,
    /// Share of requests that get one of `kinds` (in turn).
    pub share: f64,
    pub kinds: Vec<Fault>,
    /// Added latency range (ms) for [`Fault::Latency`].
    pub latency_ms: (u64, u64),
    /// Share of `BatchWriteItem` calls answered with part of their items unprocessed.
    pub unprocessed_share: f64,
    /// Go down (refuse connections) once this many requests were seen.
    pub down_after: Option<u64>,
}

impl Faults {
    pub fn none() -> Faults {
        Faults {
            seed: 1,
            share: 0.0,
            kinds: Vec::new(),
            latency_ms: (20, 200),
            unprocessed_share: 0.0,
            down_after: None,
        }
    }
}

/// What happened so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub requests: u64,
    pub forwarded: u64,
    pub faults: BTreeMap<String, u64>,
    /// `BatchWriteItem` calls answered with unprocessed items, and how many items.
    pub unprocessed_calls: u64,
    pub unprocessed_items: u64,
    /// Connections refused while down are not seen; requests cut by going down are.
    pub cut_by_down: u64,
}

impl Stats {
    /// Faults injected (unprocessed answers included).
    pub fn injected(&self) -> u64 {
        self.faults.values().sum::<u64>() + self.unprocessed_calls
    }
}

/// A request or response as read: its head, its body (decoded) and the raw bytes.
struct Message {
    start: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    raw: Vec<u8>,
}

impl Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Rebuilt with a new body (`Content-Length`, no chunking, no CRC header).
    fn with_body(&self, body: Vec<u8>) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.start).into_bytes();
        for (k, v) in &self.headers {
            let k_l = k.to_ascii_lowercase();
            if k_l == "content-length" || k_l == "transfer-encoding" || k_l == "x-amz-crc32" {
                continue;
            }
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(&body);
        out
    }
}

/// A message head as read: (raw bytes, start line, headers).
type Head = (Vec<u8>, String, Vec<(String, String)>);

type Hook = dyn Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync;

struct Shared {
    upstream: SocketAddr,
    service: Service,
    faults: Mutex<Faults>,
    rng: Mutex<Rng>,
    stats: Mutex<Stats>,
    seen: AtomicU64,
    fault_turn: AtomicU64,
    down: AtomicBool,
    stop: AtomicBool,
    /// Clones of the open client connections (to cut them when going down), by id.
    clients: Mutex<BTreeMap<u64, TcpStream>>,
    next_id: AtomicU64,
    /// (request target, response body) -> new response body.
    hook: Mutex<Option<Arc<Hook>>>,
}

pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
}

fn addr_of(url: &str) -> SocketAddr {
    let hostport = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    let a: SocketAddr = hostport.parse().expect("upstream is ip:port");
    assert!(a.ip().is_loopback(), "tests only talk to 127.0.0.1");
    a
}

impl Proxy {
    /// Starts a proxy on a free 127.0.0.1 port in front of `upstream` (`http://127.0.0.1:P`).
    pub fn start(upstream: &str, service: Service, faults: Faults) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream: addr_of(upstream),
            service,
            rng: Mutex::new(Rng::new(faults.seed)),
            faults: Mutex::new(faults),
            stats: Mutex::new(Stats::default()),
            seen: AtomicU64::new(0),
            fault_turn: AtomicU64::new(0),
            down: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            clients: Mutex::new(BTreeMap::new()),
            next_id: AtomicU64::new(0),
            hook: Mutex::new(None),
        });
        let sh = shared.clone();
        std::thread::spawn(move || accept_loop(listener, addr, sh));
        Proxy { addr, shared }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats.lock().unwrap().clone()
    }

    /// New faults; the request count for `down_after` starts again.
    pub fn set_faults(&self, f: Faults) {
        self.shared.seen.store(0, Ordering::SeqCst);
        *self.shared.rng.lock().unwrap() = Rng::new(f.seed);
        *self.shared.faults.lock().unwrap() = f;
    }

    /// Down: the port is closed (connections refused) and open connections are cut.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
        if down {
            cut_clients(&self.shared);
        }
        // Wait until the accept loop has closed or reopened the port.
        for _ in 0..200 {
            let refused = TcpStream::connect(self.addr).is_err();
            if refused == down {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the proxy did not go {}", if down { "down" } else { "up" });
    }

    pub fn is_down(&self) -> bool {
        self.shared.down.load(Ordering::SeqCst)
    }

    /// Rewrites response bodies: `hook(request target, body)` returns the new body, or None.
    pub fn set_hook(&self, hook: Arc<Hook>) {
        *self.shared.hook.lock().unwrap() = Some(hook);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        cut_clients(&self.shared);
    }
}

fn cut_clients(sh: &Shared) {
    for c in sh.clients.lock().unwrap().values() {
        let _ = c.shutdown(Shutdown::Both);
    }
}

fn accept_loop(listener: TcpListener, addr: SocketAddr, sh: Arc<Shared>) {
    let mut listener = Some(listener);
    loop {
        if sh.stop.load(Ordering::SeqCst) {
            return;
        }
        let down = sh.down.load(Ordering::SeqCst);
        if down && listener.is_some() {
            listener = None;
        } else if !down && listener.is_none() {
            listener = TcpListener::bind(addr).ok();
        }
        let Some(l) = listener.as_ref() else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        l.set_nonblocking(true).unwrap();
        match l.accept() {
            Ok((c, _)) => {
                c.set_nonblocking(false).unwrap();
                let _ = c.set_nodelay(true);
                let id = sh.next_id.fetch_add(1, Ordering::SeqCst);
                if let Ok(k) = c.try_clone() {
                    sh.clients.lock().unwrap().insert(id, k);
                }
                let sh = sh.clone();
                std::thread::spawn(move || {
                    let end = serve(c, &sh);
                    // Our clone goes first: the last descriptor closes the socket (with a reset
                    // when asked).
                    sh.clients.lock().unwrap().remove(&id);
                    if let End::Reset(c) = end {
                        reset(c);
                    }
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
    }
}

/// Closes with a TCP reset (SO_LINGER 0), as a crashed peer or a middlebox does.
fn reset(c: TcpStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a properly sized linger struct.
    unsafe {
        libc::setsockopt(
            c.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(c);
}

fn read_head<R: BufRead>(r: &mut R) -> std::io::Result<Option<Head>> {
    let mut raw = Vec::new();
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 {
            if raw.is_empty() {
                return Ok(None);
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "head cut",
            ));
        }
        raw.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if text.is_empty() {
            if lines.is_empty() {
                continue; // stray CRLF between messages
            }
            break;
        }
        lines.push(text);
        if raw.len() > 256 * 1024 {
            return Err(std::io::Error::other("head too long"));
        }
    }
    let start = lines.remove(0);
    let headers = lines
        .into_iter()
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Ok(Some((raw, start, headers)))
}

/// Reads a chunked body: (decoded, raw).
fn read_chunked<R: BufRead>(r: &mut R) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut raw = Vec::new();
    let mut body = Vec::new();
    loop {
        let mut line = Vec::new();
        r.read_until(b'\n', &mut line)?;
        raw.extend_from_slice(&line);
        let size_text = String::from_utf8_lossy(&line);
        let size_text = size_text.trim().split(';').next().unwrap_or("").to_string();
        let size = usize::from_str_radix(&size_text, 16)
            .map_err(|_| std::io::Error::other(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailers until an empty line.
            loop {
                let mut t = Vec::new();
                let n = r.read_until(b'\n', &mut t)?;
                raw.extend_from_slice(&t);
                if n == 0 || t == b"\r\n" || t == b"\n" {
                    return Ok((body, raw));
                }
            }
        }
        let mut chunk = vec![0u8; size + 2];
        r.read_exact(&mut chunk)?;
        raw.extend_from_slice(&chunk);
        body.extend_from_slice(&chunk[..size]);
    }
}

fn read_body<R: BufRead>(
    r: &mut R,
    headers: &[(String, String)],
    until_eof: bool,
) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        return read_chunked(r);
    }
    if let Some(n) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        let mut b = vec![0u8; n];
        r.read_exact(&mut b)?;
        return Ok((b.clone(), b));
    }
    if until_eof {
        let mut b = Vec::new();
        r.read_to_end(&mut b)?;
        return Ok((b.clone(), b));
    }
    Ok((Vec::new(), Vec::new()))
}

fn read_request<R: BufRead>(r: &mut R, c: &mut TcpStream) -> std::io::Result<Option<Message>> {
    let Some((mut raw, start, headers)) = read_head(r)? else {
        return Ok(None);
    };
    let expect = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("expect") && v.eq_ignore_ascii_case("100-continue"));
    if expect {
        c.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let (body, raw_body) = read_body(r, &headers, false)?;
    raw.extend_from_slice(&raw_body);
    Ok(Some(Message {
        start,
        headers,
        body,
        raw,
    }))
}

fn read_response<R: BufRead>(r: &mut R, head_request: bool) -> std::io::Result<Message> {
    loop {
        let (mut raw, start, headers) = read_head(r)?
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no response"))?;
        let status: u16 = start
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if (100..200).contains(&status) {
            continue; // interim (100 Continue): the client already had one from us
        }
        let (body, raw_body) = if head_request || status == 204 || status == 304 {
            (Vec::new(), Vec::new())
        } else {
            read_body(r, &headers, true)?
        };
        raw.extend_from_slice(&raw_body);
        return Ok(Message {
            start,
            headers,
            body,
            raw,
        });
    }
}

fn fault_response(service: Service, fault: Fault, head: bool) -> Vec<u8> {
    let (status, ctype, body) = match (service, fault) {
        (Service::S3, Fault::Status500) => (
            "500 Internal Server Error",
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again. (injected)</Message></Error>".to_string(),
        ),
        (Service::S3, _) => (
            "503 Slow Down",
            "application/xml",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate. (injected)</Message></Error>".to_string(),
        ),
        (Service::DynamoDb, Fault::Status500) => (
            "500 Internal Server Error",
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error (injected)"}"#.to_string(),
        ),
        (Service::DynamoDb, Fault::Status503) => (
            "503 Service Unavailable",
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ServiceUnavailable","message":"Service unavailable (injected)"}"#.to_string(),
        ),
        (Service::DynamoDb, _) => (
            "400 Bad Request",
            "application/x-amz-json-1.0",
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded. (injected)"}"#.to_string(),
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nx-amz-request-id: injected\r\nx-amzn-RequestId: injected\r\nContent-Length: {}\r\n\r\n",
        if head { 0 } else { body.len() }
    )
    .into_bytes();
    if !head {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

/// Forwards `req` on a fresh connection to the server and reads the answer.
fn forward(sh: &Shared, req: &[u8], head: bool) -> std::io::Result<Message> {
    let mut up = TcpStream::connect(sh.upstream)?;
    up.set_nodelay(true)?;
    up.write_all(req)?;
    let mut r = BufReader::new(up);
    read_response(&mut r, head)
}

/// Splits a BatchWriteItem body: (body to forward, withheld requests per table).
fn split_batch(body: &[u8], rng: &mut Rng) -> Option<(Vec<u8>, serde_json::Map<String, Value>)> {
    let mut v: Value = serde_json::from_slice(body).ok()?;
    let items = v.get_mut("RequestItems")?.as_object_mut()?;
    let mut withheld = serde_json::Map::new();
    for (table, reqs) in items.iter_mut() {
        let list = reqs.as_array_mut()?;
        if list.len() < 2 {
            continue;
        }
        let keep = 1 + rng.below(list.len() as u64 - 1) as usize;
        let rest: Vec<Value> = list.split_off(keep);
        withheld.insert(table.clone(), Value::Array(rest));
    }
    if withheld.is_empty() {
        return None;
    }
    Some((serde_json::to_vec(&v).ok()?, withheld))
}

/// How a connection ends: closed, or reset.
enum End {
    Close,
    Reset(TcpStream),
}

fn serve(mut c: TcpStream, sh: &Shared) -> End {
    let Ok(rc) = c.try_clone() else {
        return End::Close;
    };
    let mut reader = BufReader::new(rc);
    loop {
        let req = match read_request(&mut reader, &mut c) {
            Ok(Some(r)) => r,
            _ => return End::Close,
        };
        if sh.stop.load(Ordering::SeqCst) || sh.down.load(Ordering::SeqCst) {
            sh.stats.lock().unwrap().cut_by_down += 1;
            return End::Reset(c);
        }
        let n = sh.seen.fetch_add(1, Ordering::SeqCst) + 1;
        let f = sh.faults.lock().unwrap().clone();
        if f.down_after.is_some_and(|k| n > k) {
            sh.down.store(true, Ordering::SeqCst);
            sh.stats.lock().unwrap().cut_by_down += 1;
            cut_clients(sh);
            return End::Reset(c);
        }
        let head = req.start.starts_with("HEAD ");
        let target = req
            .start
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_string();
        let (fault, latency, unprocessed) = {
            let mut rng = sh.rng.lock().unwrap();
            // Which requests fail is drawn (seeded); the kinds take turns, so that every kind
            // shows up in a short run.
            let fault = (!f.kinds.is_empty() && rng.chance(f.share)).then(|| {
                let n = sh.fault_turn.fetch_add(1, Ordering::SeqCst);
                f.kinds[(n % f.kinds.len() as u64) as usize]
            });
            let (lo, hi) = f.latency_ms;
            let latency = lo + rng.below(hi.saturating_sub(lo) + 1);
            let batch = sh.service == Service::DynamoDb
                && req
                    .header("x-amz-target")
                    .is_some_and(|t| t.ends_with(".BatchWriteItem"));
            let unprocessed = if batch && fault.is_none() && rng.chance(f.unprocessed_share) {
                split_batch(&req.body, &mut rng)
            } else {
                None
            };
            (fault, latency, unprocessed)
        };
        {
            let mut st = sh.stats.lock().unwrap();
            st.requests += 1;
            if let Some(k) = fault {
                *st.faults.entry(format!("{k:?}")).or_default() += 1;
            }
        }
        match fault {
            Some(Fault::ResetBefore) => {
                return End::Reset(c);
            }
            Some(k @ (Fault::Status500 | Fault::Status503 | Fault::Throttle)) => {
                if c.write_all(&fault_response(sh.service, k, head)).is_err() {
                    return End::Close;
                }
                continue;
            }
            Some(Fault::Latency) => std::thread::sleep(Duration::from_millis(latency)),
            _ => {}
        }
        let sent = match &unprocessed {
            Some((body, _)) => req.with_body(body.clone()),
            None => req.raw.clone(),
        };
        let resp = match forward(sh, &sent, head) {
            Ok(r) => r,
            Err(_) => {
                return End::Reset(c);
            }
        };
        sh.stats.lock().unwrap().forwarded += 1;
        if fault == Some(Fault::ResetAfter) {
            return End::Reset(c);
        }
        let hook = sh.hook.lock().unwrap().clone();
        let mut out = resp.raw.clone();
        if let Some((_, withheld)) = unprocessed {
            let mut v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            if resp.start.contains(" 200 ") && v.is_object() {
                let n: usize = withheld
                    .values()
                    .map(|l| l.as_array().map_or(0, Vec::len))
                    .sum();
                v["UnprocessedItems"] = Value::Object(withheld);
                out = resp.with_body(serde_json::to_vec(&v).unwrap());
                let mut st = sh.stats.lock().unwrap();
                st.unprocessed_calls += 1;
                st.unprocessed_items += n as u64;
            }
        } else if let Some(h) = hook {
            if let Some(b) = h(&target, &resp.body) {
                out = resp.with_body(b);
            }
        }
        if c.write_all(&out).is_err() {
            return End::Close;
        }
        let close = resp
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        if close {
            return End::Close;
        }
    }
}
