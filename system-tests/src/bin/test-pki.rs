//! `test-pki DIR`: write a fresh test CA (`ca.pem`), a server certificate for
//! localhost/127.0.0.1 (`server.pem`, `server.key`) and one client
//! certificate (`client.pem`, `client.key`) into DIR, and print the client
//! certificate's fingerprint. For CI scripts that start `serve` with TLS.

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: test-pki DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    let pki = system_tests::pki::Pki::new();
    pki.write(&dir);
    let client = pki.client("ci client");
    let written = std::fs::write(dir.join("client.pem"), &client.cert_pem)
        .and_then(|()| std::fs::write(dir.join("client.key"), &client.key_pem));
    if let Err(e) = written {
        eprintln!("test-pki: cannot write {}: {e}", dir.display());
        std::process::exit(1);
    }
    println!("{}", client.fingerprint);
}
