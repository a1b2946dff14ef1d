//! Slow and idle clients: a client that trickles a request's head
//! (slowloris) and an idle keep-alive connection are closed by the server
//! on time, so they cannot hold its connections for ever.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tem::web::{CLIENT_REQUEST_TIMEOUT, KEEP_ALIVE};

use crate::api::helpers::spawn_app;

/// Reads until the server closes the connection (or `limit` passes);
/// returns how long that took and what was read.
fn until_closed(mut s: TcpStream, limit: Duration, trickle: bool) -> (Duration, String) {
    let started = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while started.elapsed() < limit {
        if trickle {
            // One more header byte every half second: never a whole head.
            if s.write_all(b"x").is_err() {
                break;
            }
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    (
        started.elapsed(),
        String::from_utf8_lossy(&got).into_owned(),
    )
}

#[test]
fn slow_and_idle_clients_are_closed_on_time() {
    let app = spawn_app();
    let host = app.address.trim_start_matches("http://").to_string();
    let slow = {
        let host = host.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&host).unwrap();
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: tem\r\nX-Slow: ")
                .unwrap();
            until_closed(s, Duration::from_secs(30), true)
        })
    };
    let idle = std::thread::spawn(move || {
        let mut s = TcpStream::connect(&host).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: tem\r\n\r\n")
            .unwrap();
        until_closed(s, Duration::from_secs(40), false)
    });
    let (took, text) = slow.join().unwrap();
    assert!(
        took >= CLIENT_REQUEST_TIMEOUT - Duration::from_secs(1)
            && took <= CLIENT_REQUEST_TIMEOUT + Duration::from_secs(3),
        "a trickled request head was cut after {took:?}: {text:?}"
    );
    assert!(!text.contains("200 OK"), "{text}");
    let (took, text) = idle.join().unwrap();
    assert!(text.contains("200 OK"), "{text}");
    assert!(
        took >= KEEP_ALIVE - Duration::from_secs(1) && took <= KEEP_ALIVE + Duration::from_secs(3),
        "an idle keep-alive connection was closed after {took:?}"
    );
}
