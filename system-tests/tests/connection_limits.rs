//! Connection limits and timeouts (issue 9): idle or slow clients cannot
//! exhaust the server. Beyond `max_connections` a connection is closed at
//! once; a client that never sends its headers is disconnected after
//! `header_timeout_secs`, which frees its slot.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use system_tests::*;

fn connect(base: &str) -> TcpStream {
    let s = TcpStream::connect(base.trim_start_matches("http://")).expect("connect");
    // A safety net so a broken server fails the test instead of hanging it.
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    s
}

/// Read until the server closes the connection; what it sent.
fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    got
}

#[test]
fn idle_clients_cannot_hold_the_server() {
    let env = [("TOLLGATE_MAX_CONNECTIONS", "2"), ("TOLLGATE_HEADER_TIMEOUT_SECS", "1")];
    let (server, _log) = HttpServer::start_logged(DataDir::init(), &[], &env);
    let mut idle: Vec<TcpStream> = (0..2).map(|_| connect(&server.base)).collect();
    // Both slots are taken by clients that send nothing: a third is closed without an answer.
    let mut third = connect(&server.base);
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
    assert!(read_to_close(&mut third).is_empty(), "a connection beyond the limit must be closed unanswered");
    // The idle ones are disconnected by the header timeout (the server closes; nobody sleeps here).
    let started = Instant::now();
    for s in &mut idle {
        let got = read_to_close(s);
        assert!(!String::from_utf8_lossy(&got).contains("200 OK"), "{got:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(20), "idle connections were not timed out");
    // Their slots are free again.
    let mut fresh = connect(&server.base);
    fresh.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").expect("write");
    let answer = String::from_utf8_lossy(&read_to_close(&mut fresh)).into_owned();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
