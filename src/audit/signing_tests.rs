//! Unit tests of the signing key file and public key pinning.

use super::*;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// RFC 8032 §7.1 test 1.
const RFC8032_SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
/// sha256 of the raw RFC 8032 public key, computed independently.
const RFC8032_FINGERPRINT: &str = "sha256:21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9";

fn rfc_key() -> SigningKey {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(RFC8032_SEED, &mut seed).unwrap();
    SigningKey::from_seed(seed)
}

/// A fresh, empty directory under the system temp dir.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tollgate-audit-key-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn public_key_fingerprint_and_key_id_match_rfc8032_vector() {
    let pk = rfc_key().public_key();
    assert_eq!(pk.to_hex(), RFC8032_PUBLIC);
    assert_eq!(pk.fingerprint(), RFC8032_FINGERPRINT);
    assert_eq!(pk.key_id(), "21fe31dfa154a261");
    assert_eq!(PublicKey::from_hex(RFC8032_PUBLIC).unwrap(), pk);
}

#[test]
fn describe_prints_exactly_two_lines() {
    let pk = rfc_key().public_key();
    assert_eq!(describe(&pk), format!("pubkey: {RFC8032_PUBLIC}\nfingerprint: {RFC8032_FINGERPRINT}"));
}

#[test]
fn pins_accept_hex_or_fingerprint_only() {
    let pk = rfc_key().public_key();
    assert!(pk.matches_pin(RFC8032_PUBLIC));
    assert!(pk.matches_pin(&RFC8032_PUBLIC.to_uppercase()));
    assert!(pk.matches_pin(RFC8032_FINGERPRINT));
    assert!(pk.matches_pin(&format!("  {RFC8032_FINGERPRINT}\n")));
    assert!(!pk.matches_pin("21fe31dfa154a261"));
    assert!(!pk.matches_pin(""));
    assert!(!pk.matches_pin(&format!("sha256:{RFC8032_PUBLIC}")));
    let other = SigningKey::from_seed([7; 32]).public_key();
    assert!(!other.matches_pin(RFC8032_PUBLIC));
    assert!(!other.matches_pin(RFC8032_FINGERPRINT));
}

#[test]
fn from_hex_refuses_bad_lengths_non_points_and_weak_keys() {
    assert!(PublicKey::from_hex(&RFC8032_PUBLIC[..62]).is_err());
    assert!(PublicKey::from_hex(&format!("{RFC8032_PUBLIC}00")).is_err());
    assert!(PublicKey::from_hex(&"zz".repeat(32)).is_err());
    // y = 2 has no x on edwards25519.
    let not_a_point = format!("02{}", "00".repeat(31));
    assert!(PublicKey::from_hex(&not_a_point).is_err());
    // The identity point (y = 1) has small order.
    let identity = format!("01{}", "00".repeat(31));
    let err = PublicKey::from_hex(&identity).unwrap_err();
    assert!(err.to_string().contains("weak"), "{err}");
}

#[test]
fn generated_keys_differ() {
    let a = SigningKey::generate().unwrap();
    let b = SigningKey::generate().unwrap();
    assert_ne!(a.public_key(), b.public_key());
}

#[test]
fn debug_never_shows_the_seed() {
    let shown = format!("{:?}", rfc_key());
    assert!(!shown.contains(RFC8032_SEED), "{shown}");
    assert!(shown.contains("21fe31dfa154a261"), "{shown}");
}

#[test]
fn key_file_round_trips_with_documented_format() {
    let dir = TempDir::new();
    let path = dir.0.join("audit.key");
    rfc_key().write_new(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, format!("{KEY_FILE_HEADER}\n{RFC8032_SEED}\n"));
    let loaded = SigningKey::load(&path).unwrap();
    assert_eq!(loaded.public_key(), rfc_key().public_key());
}

#[cfg(unix)]
#[test]
fn key_file_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new();
    let path = dir.0.join("audit.key");
    SigningKey::generate().unwrap().write_new(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn write_new_refuses_to_overwrite() {
    let dir = TempDir::new();
    let path = dir.0.join("audit.key");
    rfc_key().write_new(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = SigningKey::from_seed([9; 32]).write_new(&path).unwrap_err();
    assert!(matches!(err, AuditError::KeyFileExists { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[cfg(unix)]
#[test]
fn load_refuses_a_key_readable_by_others() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new();
    let path = dir.0.join("audit.key");
    rfc_key().write_new(&path).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o620] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = SigningKey::load(&path).unwrap_err();
        assert!(matches!(err, AuditError::KeyFilePermissions { mode: m, .. } if m == mode), "{mode:o}: {err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
    assert!(SigningKey::load(&path).is_ok());
}

#[test]
fn load_refuses_malformed_files_without_echoing_them() {
    let dir = TempDir::new();
    let cases = [
        format!("{RFC8032_SEED}\n"),
        format!("tollgate-audit-signing-key v2 ed25519\n{RFC8032_SEED}\n"),
        format!("{KEY_FILE_HEADER}\n{}\n", &RFC8032_SEED[..60]),
        format!("{KEY_FILE_HEADER}\n{RFC8032_SEED}\nextra\n"),
        format!("{KEY_FILE_HEADER}\n"),
        String::new(),
    ];
    for (i, text) in cases.iter().enumerate() {
        let path = dir.0.join(format!("bad{i}.key"));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path).unwrap().write_all(text.as_bytes()).unwrap();
        let err = SigningKey::load(&path).unwrap_err();
        assert!(matches!(err, AuditError::KeyFileFormat { .. }), "case {i}: {err}");
        assert!(!err.to_string().contains(&RFC8032_SEED[..16]), "case {i}: {err}");
    }
    let missing = SigningKey::load(&dir.0.join("absent.key")).unwrap_err();
    assert!(matches!(missing, AuditError::KeyFileIo { .. }));
}
