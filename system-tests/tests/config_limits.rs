//! Config validation (issue 9, Done-when 4): every setting of `tollgate.toml`
//! is documented in the file `init` writes, can be overridden from the
//! environment, and an invalid value — in the file or the environment —
//! refuses to start `serve` with a message that names the setting. So do
//! unusable TLS flags.

use std::process::Command;

use system_tests::*;

/// Each setting with a value outside its bounds.
const INVALID: &[(&str, &str)] = &[
    ("multi_tenant", "\"sometimes\""),
    ("tenant_delete", "\"maybe\""),
    ("tenant_bootstrap", "2"),
    ("billing_api", "\"off-ish\""),
    ("admin_console", "\"yes please\""),
    ("max_body_bytes", "10"),
    ("max_page_size", "0"),
    ("checkpoint_every", "0"),
    ("checkpoint_interval_secs", "100000"),
    ("denial_persist_ms", "10"),
    ("per_address_rps", "0"),
    ("per_address_burst", "0"),
    ("session_capacity", "0"),
    ("session_idle_secs", "1"),
    ("max_connections", "0"),
    ("per_address_connection_share", "0"),
    ("per_address_exempt_loopback", "\"sometimes\""),
    ("header_timeout_secs", "0"),
    ("request_timeout_secs", "0"),
    ("tls_handshake_timeout_secs", "61"),
    ("shutdown_grace_secs", "301"),
];

/// `serve` on `dir` with `env`; it must exit (not listen) with a failure naming `setting`.
fn refuses(dir: &DataDir, extra: &[&str], env: &[(&str, &str)], setting: &str) {
    let mut cmd = Command::new(binary());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"]).arg(&dir.path).args(extra);
    cmd.env_remove("TOLLGATE_CONFIG").env_remove("TOLLGATE_MULTI_TENANT");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{setting}: serve started anyway: {stderr}");
    assert!(!stderr.contains("listening on"), "{setting}: serve listened: {stderr}");
    assert!(stderr.contains(setting), "{setting}: the message does not name it: {stderr}");
}

/// [`refuses`] for an environment override: the message names the variable.
fn env_refuses(dir: &DataDir, setting: &str, value: &str) {
    let var = format!("TOLLGATE_{}", setting.to_ascii_uppercase());
    refuses(dir, &[], &[(var.as_str(), value)], &var);
}

#[test]
fn every_setting_is_documented_in_the_file_init_writes() {
    let dir = DataDir::init();
    let written = std::fs::read_to_string(dir.path.join("tollgate.toml")).expect("init writes tollgate.toml");
    for (setting, _) in INVALID {
        let line = format!("\n{setting} = ");
        assert!(written.contains(&line), "{setting} is not in tollgate.toml:\n{written}");
        // Documented: a comment right above it (or above its group).
        let at = written.find(&line).expect("found");
        assert!(written[..at].trim_end().lines().last().is_some(), "{setting} has no comment");
    }
    let settings = written.lines().filter(|l| !l.starts_with('#') && l.contains(" = ")).count();
    assert_eq!(settings, INVALID.len(), "a setting of tollgate.toml is missing from this test");
}

#[test]
fn each_invalid_setting_in_the_file_refuses_to_start_and_names_it() {
    let dir = DataDir::init();
    let config = dir.path.join("tollgate.toml");
    let original = std::fs::read_to_string(&config).expect("config");
    for (setting, bad) in INVALID {
        let edited: String = original
            .lines()
            .map(|l| if l.starts_with(&format!("{setting} = ")) { format!("{setting} = {bad}") } else { l.to_owned() })
            .collect::<Vec<_>>()
            .join("\n");
        assert_ne!(edited.trim(), original.trim(), "{setting} was not in the file");
        std::fs::write(&config, edited).expect("write config");
        refuses(&dir, &[], &[], setting);
    }
    std::fs::write(&config, "no_such_setting = 1\n").expect("write config");
    refuses(&dir, &[], &[], "no_such_setting");
}

#[test]
fn each_invalid_environment_override_refuses_to_start_and_names_it() {
    let dir = DataDir::init();
    for (setting, bad) in INVALID {
        env_refuses(&dir, setting, bad.trim_matches('"'));
    }
    // A value that is not even a number names the variable.
    env_refuses(&dir, "max_connections", "many");
}

#[test]
fn unusable_tls_flags_refuse_to_start_and_name_the_flag() {
    let dir = DataDir::init();
    let missing = dir.path.join("missing.pem");
    let missing = missing.to_string_lossy();
    refuses(&dir, &["--tls-cert", &missing, "--tls-key", &missing], &[], "--tls-cert");
    let pki = system_tests::pki::Pki::new();
    let files = pki.write(&dir.path.join("pki"));
    let (cert, key) = (files.cert.to_string_lossy(), files.key.to_string_lossy());
    // A key file that holds a certificate, not a key.
    refuses(&dir, &["--tls-cert", &cert, "--tls-key", &cert], &[], "--tls-key");
    refuses(&dir, &["--tls-cert", &cert, "--tls-key", &key, "--client-ca", &key], &[], "--client-ca");
    refuses(&dir, &["--tls-cert", &cert, "--tls-key", &key, "--require-client-cert"], &[], "--client-ca");
}
