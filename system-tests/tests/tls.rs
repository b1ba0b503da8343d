//! HTTPS and mutual TLS (issue 9, Done-when 1).
//!
//! A CA, a server certificate and client certificates are generated here
//! (rcgen). Over HTTPS a bearer client works; with `--require-client-cert` a
//! client without a certificate gets no HTTP answer at all (the handshake ends
//! with a TLS alert); an unbound certificate is 401; a bound one acts as its
//! principal; a header claiming a certificate is ignored; a key and a
//! certificate of different tenants are refused (-31403
//! `credential_mismatch`) and the refusal is audited.

use serde_json::{Value, json};
use system_tests::pki::{ClientIdentity, Pki};
use system_tests::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TLS server on a fresh data dir; `mtls` adds `--client-ca`, `require` `--require-client-cert`.
fn start(pki: &Pki, mtls: bool, require: bool) -> HttpServer {
    let dir = DataDir::init();
    let files = pki.write(&dir.path.join("pki"));
    let mut args = vec!["--tls-cert".to_owned(), path(&files.cert), "--tls-key".to_owned(), path(&files.key)];
    if mtls {
        args.extend(["--client-ca".to_owned(), path(&files.ca)]);
    }
    if require {
        args.push("--require-client-cert".to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    HttpServer::start_in(dir, &args)
}

fn path(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `/mcp` of `server` over HTTPS, with `key` and maybe a client certificate.
fn endpoint(server: &HttpServer, pki: &Pki, key: Option<&str>, cert: Option<&ClientIdentity>) -> Endpoint {
    Endpoint { url: format!("{}/mcp", server.base), key: key.map(str::to_owned), client: Some(pki.https_client(cert)) }
}

async fn whoami(to: &Endpoint) -> Answer {
    http_tool(to, 1, "whoami", json!({})).await
}

/// Bootstrap a tenant; its first tenant-admin key.
async fn tenant(admin: &Endpoint, slug: &str) -> (String, String) {
    let a = http_tool(admin, 2, "tenant.bootstrap", json!({"slug": slug, "display_name": slug})).await;
    let out = tool_output(&a.body).unwrap_or_else(|| panic!("bootstrap {slug}: {:?}", a.body));
    (out["tenant_id"].as_str().expect("tenant id").to_owned(), out["api_key"].as_str().expect("key").to_owned())
}

#[tokio::test]
async fn https_serves_bearer_clients_with_hsts() {
    let pki = Pki::new();
    let server = start(&pki, false, false);
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let to = endpoint(&server, &pki, Some(&server.dir.admin_key), None);
    let a = whoami(&to).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let me = tool_output(&a.body).expect("whoami output");
    assert_eq!(me["transport"], "https");
    assert_eq!(me["principal_kind"], "api_key");
    let hsts = a.headers.get("strict-transport-security").and_then(|v| v.to_str().ok());
    assert_eq!(hsts, Some("max-age=31536000"));
    assert_eq!(a.headers.get("x-content-type-options").and_then(|v| v.to_str().ok()), Some("nosniff"));
    // A client that does not trust the test CA cannot talk to it.
    let plain = Endpoint { client: None, ..to.clone() };
    assert!(try_post(&plain, &[], "{}").await.is_err(), "an untrusted server certificate must fail the handshake");
    // Without a key: 401, as over HTTP.
    assert_eq!(whoami(&to.with_key(None)).await.status, 401);
}

/// With `--require-client-cert`, a client without a certificate never sees
/// an HTTP byte: the server ends the handshake with a TLS alert.
#[tokio::test]
async fn a_client_without_certificate_gets_a_tls_alert_not_an_http_answer() {
    let pki = Pki::new();
    let server = start(&pki, true, true);
    let addr = server.base.trim_start_matches("https://").to_owned();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(pki.client_config(None)));
    let tcp = tokio::net::TcpStream::connect(&addr).await.expect("tcp connect");
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    let outcome: Result<Vec<u8>, std::io::Error> = async {
        // Under TLS 1.3 the client may finish its side first; the alert then arrives on the first read.
        let mut tls = connector.connect(name, tcp).await?;
        tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await?;
        let mut got = Vec::new();
        tls.read_to_end(&mut got).await?;
        Ok(got)
    }
    .await;
    let err = outcome.expect_err("the server must refuse a client without a certificate");
    let text = format!("{err:?}");
    assert!(text.contains("CertificateRequired") || text.contains("HandshakeFailure"), "not a TLS alert: {text}");
    // A client with a certificate from this CA is served (and needs a key or a binding to act).
    let ok = endpoint(&server, &pki, Some(&server.dir.admin_key), Some(&pki.client("c1")));
    assert_eq!(whoami(&ok).await.status, 200);
    // A certificate from another CA is refused in the handshake too.
    let foreign = endpoint(&server, &pki, Some(&server.dir.admin_key), Some(&Pki::foreign_client("x")));
    assert!(try_post(&foreign, &[], "{}").await.is_err());
}

#[tokio::test]
async fn certificates_bind_act_and_unbind_and_headers_claiming_one_are_ignored() {
    let pki = Pki::new();
    let server = start(&pki, true, false);
    let platform = endpoint(&server, &pki, Some(&server.dir.admin_key), None);
    let (tenant_a, admin_a) = tenant(&platform, "tls-alpha").await;
    let cert = pki.client("robot");

    // Unbound certificate, no key: 401 `unknown_certificate`.
    let cert_only = endpoint(&server, &pki, None, Some(&cert));
    let a = whoami(&cert_only).await;
    assert_eq!((a.status, error_code(&a.body)), (401, Some(-31401)), "{:?}", a.body);
    assert_eq!(error_reason(&a.body), Some("unknown_certificate"));

    // Binding without presenting the certificate, and binding as a viewer: refused.
    let no_cert = endpoint(&server, &pki, Some(&admin_a), None);
    let refused = http_tool(&no_cert, 3, "key.bind_cert", json!({"role": "operator", "label": "robot"})).await;
    let unusable = tool_failure(&refused.body).expect("a tool failure");
    assert_eq!(unusable["code"], "failed_precondition");

    // The tenant admin binds it over a connection that presents it.
    let both = endpoint(&server, &pki, Some(&admin_a), Some(&cert));
    let bound = http_tool(&both, 4, "key.bind_cert", json!({"role": "operator", "label": "robot"})).await;
    let out = tool_output(&bound.body).unwrap_or_else(|| panic!("bind: {:?}", bound.body));
    assert_eq!(out["fingerprint"], cert.fingerprint.as_str());

    // Bound: the certificate alone acts as its principal.
    let me = tool_output(&whoami(&cert_only).await.body).expect("whoami as the certificate");
    assert_eq!(me["principal"], format!("cert:{}", cert.fingerprint));
    assert_eq!(me["role"], "operator");
    assert_eq!(me["tenant"], tenant_a.as_str(), "{me}");
    // Key and certificate of one tenant: the key acts with the narrower role.
    let me = tool_output(&whoami(&both).await.body).expect("whoami with both");
    assert_eq!(
        (me["principal"].as_str(), me["role"].as_str()),
        (Some(admin_a.split('_').nth(1).expect("id")), Some("operator"))
    );

    // Headers that claim the bound certificate are ignored, with no certificate or another one.
    let claims: Vec<(&str, String)> = vec![
        ("x-client-cert-fingerprint", cert.fingerprint.clone()),
        ("x-ssl-client-sha256", cert.fingerprint.clone()),
        ("x-forwarded-client-cert", format!("Hash={};Subject=\"CN=robot\"", cert.fingerprint)),
        ("ssl-client-cert", cert.cert_pem.replace('\n', " ")),
    ];
    let headers: Vec<(&str, &str)> = claims.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let body = |id| {
        let mut p = json!({"name": "whoami", "arguments": {}});
        p["_meta"] = modern_meta();
        request(id, "tools/call", p).to_string()
    };
    let mut with = headers.clone();
    with.extend([("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "whoami")]);
    let anonymous = endpoint(&server, &pki, None, None);
    let a = post(&anonymous, &with, &body(5)).await;
    assert_eq!((a.status, error_reason(&a.body)), (401, Some("missing_credential")), "{:?}", a.body);
    let other = endpoint(&server, &pki, None, Some(&pki.client("other")));
    let a = post(&other, &with, &body(6)).await;
    assert_eq!((a.status, error_reason(&a.body)), (401, Some("unknown_certificate")), "{:?}", a.body);

    // Binding a certificate that is bound already answers exactly like presenting none.
    let admin_cert = pki.client("admin-laptop");
    let admin_both = endpoint(&server, &pki, Some(&admin_a), Some(&admin_cert));
    let first = http_tool(&admin_both, 7, "key.bind_cert", json!({"role": "tenant_admin", "label": "laptop"})).await;
    assert!(tool_output(&first.body).is_some(), "{:?}", first.body);
    let again = http_tool(&admin_both, 8, "key.bind_cert", json!({"role": "tenant_admin", "label": "again"})).await;
    assert_eq!(tool_failure(&again.body), Some(unusable.clone()));

    // Unbinding (with the key alone: a lost certificate can be unbound); then the certificate is unknown again.
    let un = http_tool(&no_cert, 9, "key.unbind_cert", json!({"fingerprint": cert.fingerprint})).await;
    assert_eq!(tool_output(&un.body).map(|o| o["unbound"].clone()), Some(Value::Bool(true)), "{:?}", un.body);
    assert_eq!(error_reason(&whoami(&cert_only).await.body), Some("unknown_certificate"));
    let twice = http_tool(&no_cert, 10, "key.unbind_cert", json!({"fingerprint": cert.fingerprint})).await;
    assert_eq!(tool_failure(&twice.body).map(|f| f["code"].clone()), Some(json!("not_found")));

    // "Revoke everything" unbinds the tenant's certificates too, once confirmed.
    let revoke_all = |id: i64, retry: Value| {
        let mut meta = modern_meta();
        meta["io.modelcontextprotocol/clientCapabilities"] = json!({"elicitation": {}});
        let mut params = json!({"name": "key.revoke_all", "arguments": {}, "_meta": meta});
        if let (Some(p), Some(r)) = (params.as_object_mut(), retry.as_object()) {
            p.extend(r.clone());
        }
        let headers = [("mcp-protocol-version", MODERN), ("mcp-method", "tools/call"), ("mcp-name", "key.revoke_all")];
        let (to, body) = (no_cert.clone(), request(id, "tools/call", params).to_string());
        async move { post(&to, &headers, &body).await.body }
    };
    let asked = revoke_all(11, json!({})).await;
    let question = asked["result"]["inputRequests"]["confirm"]["params"]["message"].as_str().unwrap_or_default();
    assert!(question.contains(&admin_cert.fingerprint), "the question names the certificate: {question}");
    let yes = json!({"confirm": {"action": "accept", "content": {"confirm": true}}});
    let done = revoke_all(12, json!({"inputResponses": yes, "requestState": asked["result"]["requestState"]})).await;
    let out = tool_output(&done).unwrap_or_else(|| panic!("{done}"));
    assert_eq!(out["unbound"], json!([admin_cert.fingerprint]), "{out}");
    let laptop_alone = endpoint(&server, &pki, None, Some(&admin_cert));
    assert_eq!(error_reason(&whoami(&laptop_alone).await.body), Some("unknown_certificate"));
}

#[tokio::test]
async fn key_and_certificate_of_different_tenants_are_denied_and_audited() {
    let pki = Pki::new();
    let server = start(&pki, true, false);
    let platform = endpoint(&server, &pki, Some(&server.dir.admin_key), None);
    let (tenant_a, admin_a) = tenant(&platform, "tls-one").await;
    let (tenant_b, admin_b) = tenant(&platform, "tls-two").await;
    let cert = pki.client("a-robot");
    let bind = endpoint(&server, &pki, Some(&admin_a), Some(&cert));
    let bound = http_tool(&bind, 1, "key.bind_cert", json!({"role": "viewer", "label": "a"})).await;
    assert!(tool_output(&bound.body).is_some(), "{:?}", bound.body);

    // B's key with A's certificate: refused, whatever the tool.
    let mixed = endpoint(&server, &pki, Some(&admin_b), Some(&cert));
    for (id, tool, args) in [(2, "whoami", json!({})), (3, "key.bind_cert", json!({"role": "viewer", "label": "b"}))] {
        let a = http_tool(&mixed, id, tool, args).await;
        assert_eq!((a.status, error_code(&a.body)), (403, Some(-31403)), "{tool}: {:?}", a.body);
        assert_eq!(error_reason(&a.body), Some("credential_mismatch"));
    }
    // The platform admin's key with a tenant certificate: refused too.
    let a = whoami(&endpoint(&server, &pki, Some(&server.dir.admin_key), Some(&cert))).await;
    assert_eq!(error_reason(&a.body), Some("credential_mismatch"));
    // Not only tool calls: a tools/list with the mixed credentials is refused and audited as well.
    let listed = modern_call(&mixed, 4, "tools/list", json!({})).await;
    assert_eq!((listed.status, error_reason(&listed.body)), (403, Some("credential_mismatch")), "{:?}", listed.body);

    // Audited in the key's tenant chain, under the key, never the certificate's tenant.
    let (dir, status) = server.stop();
    assert!(status.success());
    let key_b = admin_b.split('_').nth(1).expect("key id");
    let records = audit_chain(&dir.path, &tenant_b);
    let denied: Vec<&Value> = records.iter().filter(|r| r["reason"] == "credential_mismatch").collect();
    assert_eq!(denied.len(), 3, "{records:?}");
    assert!(denied.iter().any(|r| r["tool"] == "tools/list"), "{denied:?}");
    assert!(denied.iter().all(|r| r["principal"] == key_b && r["decision"] == "deny" && r["transport"] == "https"));
    let in_a = audit_chain(&dir.path, &tenant_a);
    assert!(in_a.iter().all(|r| r["reason"] != "credential_mismatch"), "{in_a:?}");
    // The platform key's attempt is recorded on `_system`, under the platform key.
    let system = audit_chain(&dir.path, "_system");
    let platform: Vec<&Value> = system.iter().filter(|r| r["reason"] == "credential_mismatch").collect();
    assert_eq!(platform.len(), 1, "{system:?}");
    assert_eq!(platform[0]["principal"], dir.admin_key.split('_').nth(1).expect("id"));
}
