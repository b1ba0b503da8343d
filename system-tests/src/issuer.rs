//! A tiny OAuth issuer for tests: RFC 8414 metadata and a JWK set on
//! loopback, its own signing keys, and a count of the key-set fetches.
//!
//! It stands in for a real authorization server where one cannot produce
//! the token a test needs (expired, mis-audienced, `alg: none`, HS256 signed
//! with the public key, a `jku` elsewhere, a rotated key): the tokens are
//! minted here, with keys that only this issuer's JWK set publishes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A signing key with its public JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    pkcs8: Vec<u8>,
    pub jwk: Value,
    /// The raw public key bytes (what an HS256 forgery would use as its secret).
    pub public: Vec<u8>,
}

impl SigningKey {
    pub fn ed25519(kid: &str) -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate").as_ref().to_vec();
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).expect("parse");
        let public = pair.public_key().as_ref().to_vec();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig", "alg": "EdDSA", "x": b64(&public)});
        Self { kid: kid.into(), alg: Algorithm::EdDSA, pkcs8, jwk, public }
    }

    pub fn es256(kid: &str) -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("generate").as_ref().to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng).expect("parse");
        let public = pair.public_key().as_ref().to_vec();
        // Uncompressed point: 0x04 || x || y.
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
            "x": b64(&public[1..33]), "y": b64(&public[33..65])});
        Self { kid: kid.into(), alg: Algorithm::ES256, pkcs8, jwk, public }
    }

    fn encoding(&self) -> EncodingKey {
        match self.alg {
            Algorithm::ES256 => EncodingKey::from_ec_der(&self.pkcs8),
            _ => EncodingKey::from_ed_der(&self.pkcs8),
        }
    }

    /// A token with this key, `typ: at+jwt`, its `kid`, and the given claims.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with(claims, |_| {})
    }

    /// A token with this key and a header edited first.
    pub fn sign_with(&self, claims: &Value, edit: impl FnOnce(&mut Header)) -> String {
        let mut header = Header::new(self.alg);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        edit(&mut header);
        jsonwebtoken::encode(&header, claims, &self.encoding()).expect("sign")
    }
}

/// A token whose header and signature are written by hand (for `alg: none`, `crit`).
pub fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!("{}.{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()), b64(signature))
}

/// An HS256 token signed with `secret` (a forgery that uses a public key as its secret).
pub fn hs256(secret: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("sign")
}

struct State {
    keys: Vec<SigningKey>,
}

/// The issuer: `http://127.0.0.1:PORT`, serving metadata and keys until dropped
/// (its thread stays parked on accept; the process ends with the test).
pub struct Issuer {
    pub url: String,
    state: Arc<Mutex<State>>,
    jwks_fetches: Arc<AtomicUsize>,
    other_fetches: Arc<AtomicUsize>,
}

impl Issuer {
    /// An issuer publishing `keys`.
    pub fn start(keys: Vec<SigningKey>) -> Self {
        Self::start_at("127.0.0.1:0", keys)
    }

    /// An issuer on a given address (to come up where one was expected and absent).
    pub fn start_at(addr: &str, keys: Vec<SigningKey>) -> Self {
        let listener = TcpListener::bind(addr).expect("bind issuer");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State { keys }));
        let (jwks_fetches, other_fetches) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (s, j, o, u) = (Arc::clone(&state), Arc::clone(&jwks_fetches), Arc::clone(&other_fetches), url.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (s, j, o, u) = (Arc::clone(&s), Arc::clone(&j), Arc::clone(&o), u.clone());
                std::thread::spawn(move || serve(stream, &s, &j, &o, &u));
            }
        });
        Self { url, state, jwks_fetches, other_fetches }
    }

    /// Publish these keys from now on (a rotation).
    pub fn set_keys(&self, keys: Vec<SigningKey>) {
        self.state.lock().expect("state").keys = keys;
    }

    /// How many times the JWK set was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many requests were for anything but metadata and the key set.
    pub fn other_fetches(&self) -> usize {
        self.other_fetches.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: std::net::TcpStream, state: &Mutex<State>, jwks: &AtomicUsize, other: &AtomicUsize, url: &str) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).map_or(true, |n| n == 0) || h == "\r\n" {
            break;
        }
    }
    let body = match path.as_str() {
        "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => {
            Some(json!({"issuer": url, "jwks_uri": format!("{url}/jwks"), "token_endpoint": format!("{url}/token")}))
        }
        "/jwks" => {
            jwks.fetch_add(1, Ordering::SeqCst);
            let keys: Vec<Value> = state.lock().expect("state").keys.iter().map(|k| k.jwk.clone()).collect();
            Some(json!({ "keys": keys }))
        }
        _ => {
            other.fetch_add(1, Ordering::SeqCst);
            None
        }
    };
    let (status, text) = match body {
        Some(b) => ("200 OK", b.to_string()),
        None => ("404 Not Found", String::new()),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
}

/// The resource URI the OAuth tests configure (`--oauth-resource`).
pub const RESOURCE: &str = "https://tollgate.test/mcp";
/// Where its metadata is published.
pub const METADATA_URL: &str = "https://tollgate.test/.well-known/oauth-protected-resource/mcp";
/// The tests' pinned time (`--clock-file`), and its Unix seconds.
pub const T0: &str = "2030-01-01T00:00:00Z";
pub const T0_UNIX: i64 = 1_893_456_000;

/// RFC 9068 claims for `sub` through `client_id`, issued at `now` for five minutes.
pub fn claims(iss: &str, sub: &str, client_id: &str, now: i64, scope: &str) -> Value {
    json!({
        "iss": iss, "sub": sub, "client_id": client_id, "aud": RESOURCE,
        "iat": now, "exp": now + 300, "jti": format!("{sub}-{now}"), "scope": scope,
    })
}

/// Every tollgate scope.
pub const ALL_SCOPES: &str = "tollgate:read tollgate:operate tollgate:audit tollgate:admin";

/// A server trusting `issuer` for [`RESOURCE`], on a clock file set to [`T0`]
/// (returned, to move time), with a per-address limit that stays out of the way.
pub fn oauth_server(issuer: &str) -> (crate::HttpServer, std::path::PathBuf) {
    let dir = crate::DataDir::init();
    std::fs::write(dir.path.join("tollgate.toml"), "per_address_rps = 100000\nper_address_burst = 100000\n")
        .expect("config");
    let clock = dir.path.join("clock");
    std::fs::write(&clock, T0).expect("clock");
    let clock_arg = clock.to_string_lossy().into_owned();
    let server = crate::HttpServer::start_in(
        dir,
        &["--clock-file", &clock_arg, "--oauth-issuer", issuer, "--oauth-resource", RESOURCE],
    );
    (server, clock)
}

/// Move the pinned clock to `T0 + secs`.
pub fn set_clock(clock: &std::path::Path, secs: i64) {
    let t = T0_UNIX + secs;
    let (days, rem) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // 2030-01-01 is day 21915 since the epoch; tests move time by at most days.
    let day = days - 21_915;
    assert!((0..31).contains(&day), "set_clock only moves within January 2030");
    let text = format!("2030-01-{:02}T{:02}:{:02}:{:02}Z", day + 1, rem / 3600, rem % 3600 / 60, rem % 60);
    std::fs::write(clock, text).expect("clock");
}
