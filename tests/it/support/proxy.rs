//! A small fault-injecting TCP proxy between the tool and the sandbox server.
//!
//! [`Proxy::start`] listens on `127.0.0.1:0` and forwards every accepted
//! connection to a loopback upstream (the sandbox MariaDB), two plain threads
//! per connection. The test controls it from its own thread:
//!
//! - [`Proxy::stall_all`] stops forwarding on every connection open now, both
//!   directions, without closing them; new connections still pass (so the
//!   engine's admin `KILL CONNECTION` connections work). [`Proxy::heal`]
//!   resumes them and disarms pending faults.
//! - [`Proxy::cut_all`] closes every open connection abruptly.
//! - One-shot faults, each firing once on the first connection that meets it:
//!   [`Proxy::stall_on`] / [`Proxy::cut_on`] (the client sends bytes containing
//!   a pattern, e.g. ``FROM `wp_3_posts` ``: the matching bytes are forwarded,
//!   so the server runs the query, then the connection stalls or is cut),
//!   [`Proxy::cut_after_bytes`] (a connection has carried more than `n` bytes)
//!   and [`Proxy::cut_connection_number`] (the `k`-th accepted connection).
//! - Observation: connections accepted and open, faults fired, and the server's
//!   connection id (thread id, from its handshake) of every connection — so a
//!   test can look the stalled connection up in `SHOW PROCESSLIST`.
//!
//! Dropping the proxy closes the listener and every connection and joins all
//! its threads.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a fault does to the connection it hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop forwarding in both directions, keeping the sockets open.
    Stall,
    /// Close both sides abruptly.
    Cut,
}

#[derive(Debug, Clone)]
enum Trigger {
    /// Client→server bytes containing this pattern.
    ClientSends(Vec<u8>),
    /// A connection's forwarded bytes (both directions) exceed this.
    AfterBytes(u64),
    /// The k-th accepted connection (1-based, over the proxy's lifetime).
    ConnectionNumber(usize),
}

#[derive(Debug, Clone)]
struct Fault {
    trigger: Trigger,
    action: Action,
}

/// A fault that fired: which connection and what was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    /// Connection number (1-based, in accept order).
    pub connection: usize,
    /// The server's id of that connection (its `SHOW PROCESSLIST` id), if seen.
    pub thread_id: Option<u32>,
    /// What was done.
    pub action: Action,
}

struct Conn {
    number: usize,
    client: TcpStream,
    server: TcpStream,
    stalled: bool,
    closed: bool,
    bytes: u64,
    thread_id: Option<u32>,
    /// Last bytes the client sent, so a pattern split across reads still matches.
    tail: Vec<u8>,
}

impl Conn {
    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            let _ = self.client.shutdown(Shutdown::Both);
            let _ = self.server.shutdown(Shutdown::Both);
        }
    }
}

#[derive(Default)]
struct State {
    conns: Vec<Conn>,
    faults: Vec<Fault>,
    fired: Vec<Fired>,
    accepted: usize,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    stop: AtomicBool,
    /// The server looks down: new connections are closed at once.
    down: AtomicBool,
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The proxy; see the module documentation.
pub struct Proxy {
    shared: Arc<Shared>,
    port: u16,
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy to `upstream`, which must be a loopback address.
    pub fn start(upstream: SocketAddr) -> Proxy {
        assert!(
            upstream.ip().is_loopback(),
            "the test proxy only forwards to loopback, not {upstream}"
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            upstream,
            stop: AtomicBool::new(false),
            down: AtomicBool::new(false),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("proxy-accept".into())
                .spawn(move || accept_loop(listener, shared))
                .expect("spawning the proxy thread")
        };
        Proxy {
            shared,
            port,
            acceptor: Some(acceptor),
        }
    }

    /// A proxy to the sandbox server of [`super::server`].
    pub fn to_sandbox() -> Proxy {
        let s = super::server();
        let ip: std::net::IpAddr = s
            .host
            .parse()
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        Proxy::start(SocketAddr::new(ip, s.port))
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops forwarding on every open connection (both directions, sockets
    /// kept open). Connections accepted later pass normally.
    pub fn stall_all(&self) {
        let mut st = self.shared.lock();
        for c in st.conns.iter_mut().filter(|c| !c.closed) {
            c.stalled = true;
        }
    }

    /// Closes every open connection abruptly.
    pub fn cut_all(&self) {
        let mut st = self.shared.lock();
        for c in st.conns.iter_mut() {
            c.close();
        }
        self.shared.changed.notify_all();
    }

    /// Makes the server look gone (`true`: every open connection is cut and
    /// new ones are closed at once, as by a stopped server) or back (`false`).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
        if down {
            self.cut_all();
        }
    }

    /// Resumes every stalled connection and disarms pending faults.
    pub fn heal(&self) {
        let mut st = self.shared.lock();
        st.faults.clear();
        for c in st.conns.iter_mut() {
            c.stalled = false;
        }
        self.shared.changed.notify_all();
    }

    /// One-shot: the first connection whose client sends bytes containing
    /// `pattern` is stalled right after those bytes reach the server.
    pub fn stall_on(&self, pattern: &str) {
        self.arm(
            Trigger::ClientSends(pattern.as_bytes().to_vec()),
            Action::Stall,
        );
    }

    /// One-shot: the first connection whose client sends bytes containing
    /// `pattern` is cut right after those bytes reach the server.
    pub fn cut_on(&self, pattern: &str) {
        self.arm(
            Trigger::ClientSends(pattern.as_bytes().to_vec()),
            Action::Cut,
        );
    }

    /// One-shot: the first connection that has carried more than `n` bytes
    /// (both directions together) is cut.
    pub fn cut_after_bytes(&self, n: u64) {
        self.arm(Trigger::AfterBytes(n), Action::Cut);
    }

    /// One-shot: the `k`-th connection accepted (1-based, counting every
    /// connection since the proxy started) is cut as soon as it is accepted.
    pub fn cut_connection_number(&self, k: usize) {
        self.arm(Trigger::ConnectionNumber(k), Action::Cut);
    }

    fn arm(&self, trigger: Trigger, action: Action) {
        self.shared.lock().faults.push(Fault { trigger, action });
    }

    /// Connections accepted so far.
    pub fn connection_count(&self) -> usize {
        self.shared.lock().accepted
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared
            .lock()
            .conns
            .iter()
            .filter(|c| !c.closed)
            .count()
    }

    /// Faults armed and not fired yet.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// Faults fired so far, in order.
    pub fn fired(&self) -> Vec<Fired> {
        self.shared.lock().fired.clone()
    }

    /// Server ids of the connections stalled now.
    pub fn stalled_thread_ids(&self) -> Vec<u32> {
        self.shared
            .lock()
            .conns
            .iter()
            .filter(|c| c.stalled && !c.closed)
            .filter_map(|c| c.thread_id)
            .collect()
    }

    /// Waits until `n` faults have fired, at most `limit`; returns them.
    pub fn wait_fired(&self, n: usize, limit: Duration) -> Option<Vec<Fired>> {
        let deadline = Instant::now() + limit;
        let mut st = self.shared.lock();
        loop {
            if st.fired.len() >= n {
                return Some(st.fired.clone());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            st = self
                .shared
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let mut st = self.shared.lock();
            for c in st.conns.iter_mut() {
                c.close();
            }
        }
        self.shared.changed.notify_all();
        // Wake the acceptor blocked in accept().
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
        let threads = std::mem::take(&mut self.shared.lock().threads);
        for t in threads {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(client) = client else { continue };
        if shared.down.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(server) = TcpStream::connect_timeout(&shared.upstream, Duration::from_secs(5))
        else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(c2), Ok(s2), Ok(c3), Ok(s3)) = (
            client.try_clone(),
            server.try_clone(),
            client.try_clone(),
            server.try_clone(),
        ) else {
            continue;
        };
        let mut st = shared.lock();
        st.accepted += 1;
        let number = st.accepted;
        let idx = st.conns.len();
        st.conns.push(Conn {
            number,
            client,
            server,
            stalled: false,
            closed: false,
            bytes: 0,
            thread_id: None,
            tail: Vec::new(),
        });
        if let Some(pos) = st
            .faults
            .iter()
            .position(|f| matches!(f.trigger, Trigger::ConnectionNumber(k) if k == number))
        {
            let f = st.faults.remove(pos);
            fire(&mut st, idx, f.action);
            shared.changed.notify_all();
            continue;
        }
        for (from, to, upstream) in [(c2, s2, true), (s3, c3, false)] {
            let shared = shared.clone();
            let name = format!("proxy-{number}-{}", if upstream { "up" } else { "down" });
            if let Ok(h) = std::thread::Builder::new()
                .name(name)
                .spawn(move || pump(shared, idx, from, to, upstream))
            {
                st.threads.push(h);
            }
        }
    }
}

fn fire(st: &mut State, idx: usize, action: Action) {
    let c = &mut st.conns[idx];
    match action {
        Action::Stall => c.stalled = true,
        Action::Cut => c.close(),
    }
    let fired = Fired {
        connection: c.number,
        thread_id: c.thread_id,
        action,
    };
    st.fired.push(fired);
}

/// The connection id in a server's initial handshake packet (protocol 10):
/// 4-byte packet header, protocol version, NUL-terminated version, id (LE u32).
fn handshake_thread_id(bytes: &[u8]) -> Option<u32> {
    let payload = bytes.get(4..)?;
    if *payload.first()? != 10 {
        return None;
    }
    let nul = payload[1..].iter().position(|&b| b == 0)? + 1;
    let id = payload.get(nul + 1..nul + 5)?;
    Some(u32::from_le_bytes(id.try_into().ok()?))
}

/// Blocks while connection `idx` is stalled (and open, and the proxy running).
fn wait_while_stalled<'a>(
    shared: &'a Shared,
    idx: usize,
    mut st: MutexGuard<'a, State>,
) -> MutexGuard<'a, State> {
    while st.conns[idx].stalled && !st.conns[idx].closed && !shared.stop.load(Ordering::SeqCst) {
        st = shared
            .changed
            .wait_timeout(st, Duration::from_millis(200))
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    st
}

/// Forwards one direction of connection `idx` until either side closes.
fn pump(shared: Arc<Shared>, idx: usize, mut from: TcpStream, mut to: TcpStream, upstream: bool) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut first = true;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => 0,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        let mut st = shared.lock();
        if n == 0 || shared.stop.load(Ordering::SeqCst) {
            // A stalled connection does not pass the close on either: the
            // other side keeps its socket (and the server its thread).
            st = wait_while_stalled(&shared, idx, st);
            st.conns[idx].close();
            shared.changed.notify_all();
            return;
        }
        let data = &buf[..n];
        if !upstream && first {
            st.conns[idx].thread_id = handshake_thread_id(data);
        }
        first = false;
        st.conns[idx].bytes += n as u64;
        let mut after: Option<Action> = None;
        if upstream {
            let c = &mut st.conns[idx];
            let mut window = std::mem::take(&mut c.tail);
            window.extend_from_slice(data);
            let hit = st.faults.iter().position(|f| match &f.trigger {
                Trigger::ClientSends(p) => window.windows(p.len()).any(|w| w == p.as_slice()),
                _ => false,
            });
            let keep = window.len().saturating_sub(256);
            st.conns[idx].tail = window.split_off(keep);
            if let Some(pos) = hit {
                after = Some(st.faults.remove(pos).action);
            }
        }
        let total = st.conns[idx].bytes;
        if let Some(pos) = st
            .faults
            .iter()
            .position(|f| matches!(f.trigger, Trigger::AfterBytes(b) if total > b))
        {
            let f = st.faults.remove(pos);
            fire(&mut st, idx, f.action);
            shared.changed.notify_all();
        }
        // Hold the bytes while the connection is stalled.
        st = wait_while_stalled(&shared, idx, st);
        if st.conns[idx].closed || shared.stop.load(Ordering::SeqCst) {
            return;
        }
        // A stall triggered by these bytes still lets them through, but holds
        // everything after them (the answer included).
        if after == Some(Action::Stall) {
            fire(&mut st, idx, Action::Stall);
            shared.changed.notify_all();
        }
        drop(st);
        if to.write_all(data).is_err() {
            shared.lock().conns[idx].close();
            shared.changed.notify_all();
            return;
        }
        if after == Some(Action::Cut) {
            let mut st = shared.lock();
            fire(&mut st, idx, Action::Cut);
            shared.changed.notify_all();
            return;
        }
    }
}
