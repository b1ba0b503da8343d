//! One address cannot take every connection (issue 19, defect 5): a client
//! address holds at most its share of `max_connections`
//! (`per_address_connection_share` percent); beyond it a connection is
//! closed at accept and counted, and a client from another address is still
//! served. Loopback is exempt by default; these tests turn that off.

use std::net::SocketAddr;
use std::time::Duration;

use system_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn addr(base: &str) -> SocketAddr {
    base.trim_start_matches("http://").parse().expect("host:port")
}

/// Connect from the source address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(format!("{from}:0").parse().expect("addr")).expect("bind the source address");
    socket.connect(to).await.expect("connect")
}

/// What the server sends before closing (bounded, so a broken server fails instead of hanging).
async fn read_to_close(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut got)).await.ok().map(|_| got)
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test]
async fn one_address_filling_its_share_leaves_room_for_another() {
    let env = [
        ("TOLLGATE_MAX_CONNECTIONS", "16"),
        ("TOLLGATE_PER_ADDRESS_EXEMPT_LOOPBACK", "false"),
        // The idle sockets stay for the whole test.
        ("TOLLGATE_HEADER_TIMEOUT_SECS", "60"),
    ];
    let (server, log) = HttpServer::start_logged(DataDir::init(), &["--metrics-listen", "127.0.0.1:0"], &env);
    let seen = log.text();
    let metrics_url = seen.lines().find_map(|l| l.strip_prefix("metrics on ")).expect("metrics line").to_owned();
    let to = addr(&server.base);

    // One address opens as many idle sockets as there are slots.
    let mut idle = Vec::new();
    for _ in 0..16 {
        idle.push(connect_from("127.0.0.1", to).await);
    }
    // Another address is still served.
    let mut other = connect_from("127.0.0.2", to).await;
    other.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").await.expect("write");
    let answer = read_to_close(&mut other).await.map(|b| String::from_utf8_lossy(&b).into_owned());
    assert!(answer.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 200")), "{answer:?}");

    // Beyond its share (25% of 16) they are closed at accept, unanswered.
    let last = idle.last_mut().expect("sockets");
    assert_eq!(read_to_close(last).await.as_deref(), Some(&b""[..]), "closed at once, without an answer");

    // Every refusal is counted.
    let text = client().get(&metrics_url).send().await.expect("scrape").text().await.expect("text");
    assert_eq!(sample(&text, "tollgate_connections_refused_per_address_total"), 12.0, "{text}");
    assert!(sample(&text, "tollgate_connections_refused_total") >= 12.0, "{text}");
    drop(idle);
}

#[tokio::test]
async fn loopback_is_exempt_by_default() {
    // A same-host proxy, the test suites and benchmarks all connect from 127.0.0.1.
    let env = [("TOLLGATE_MAX_CONNECTIONS", "16"), ("TOLLGATE_HEADER_TIMEOUT_SECS", "60")];
    let (server, _log) = HttpServer::start_logged(DataDir::init(), &[], &env);
    let to = addr(&server.base);
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(connect_from("127.0.0.1", to).await);
    }
    // Twice its 25% share, and one more is still served.
    let mut more = connect_from("127.0.0.1", to).await;
    more.write_all(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").await.expect("write");
    let answer = read_to_close(&mut more).await.map(|b| String::from_utf8_lossy(&b).into_owned());
    assert!(answer.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 200")), "{answer:?}");
    drop(idle);
}
