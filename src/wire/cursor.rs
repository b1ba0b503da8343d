//! Opaque pagination cursors for list results.
//!
//! A cursor is base64url of `tg1:<offset>`; clients must treat it as opaque.
//! Anything we did not issue is refused with -32602, never guessed at.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::errors::RpcError;

const PREFIX: &str = "tg1:";

/// Encode the position of the next page.
pub fn encode(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{PREFIX}{offset}"))
}

/// Decode a cursor back into an offset no larger than `len`.
pub fn decode(cursor: &str, len: usize) -> Result<usize, RpcError> {
    let bad = || RpcError::invalid_params("Invalid cursor").with_data(serde_json::json!({ "cursor": cursor }));
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let offset: usize = text.strip_prefix(PREFIX).and_then(|n| n.parse().ok()).ok_or_else(bad)?;
    if offset == 0 || offset > len {
        return Err(bad());
    }
    Ok(offset)
}

/// One page of `items` starting at `cursor`, and the cursor of the next page if any.
pub fn page<T: Clone>(items: &[T], cursor: Option<&str>, size: usize) -> Result<(Vec<T>, Option<String>), RpcError> {
    let start = match cursor {
        None => 0,
        Some(c) => decode(c, items.len())?,
    };
    let end = start.saturating_add(size.max(1)).min(items.len());
    let next = (end < items.len()).then(|| encode(end));
    Ok((items[start..end].to_vec(), next))
}

/// Encode a key-based cursor (continue after `key`), for store-backed lists.
pub fn encode_key(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("tgk1:{key}"))
}

/// Decode a key-based cursor; `None` if we did not issue it.
pub fn decode_key(cursor: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(raw).ok()?.strip_prefix("tgk1:").map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn foreign_and_out_of_range_cursors_are_invalid_params() {
        for c in ["", "!!", "dGcxOg", &encode(0), &encode(99), "eyJvZmZzZXQiOjF9"] {
            assert_eq!(decode(c, 10).map_err(|e| e.code), Err(crate::wire::errors::INVALID_PARAMS), "{c}");
        }
    }

    proptest! {
        #[test]
        fn paging_visits_every_item_once_in_order(len in 0usize..40, size in 1usize..8) {
            let items: Vec<usize> = (0..len).collect();
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let (page, next) = page(&items, cursor.as_deref(), size).map_err(|e| TestCaseError::fail(e.message))?;
                seen.extend(page);
                match next { Some(n) => cursor = Some(n), None => break }
            }
            prop_assert_eq!(seen, items);
        }
    }
}
