//! The operator console's reads: tenants by plan and billing status, and a
//! filtered page of tenants. Read-only, each a single indexed query.
//!
//! Invariant: nothing here writes; pages are keyset-paginated by tenant id,
//! so a cursor stays valid while tenants are added.

use super::StoreError;
use super::sql::{Db, args};

/// How many tenants have each value of a grouping (a plan, a billing status).
pub type Tally = Vec<(String, u64)>;

/// Tenants by plan, and by recorded billing status (no billing row: `active`),
/// excluding deleted tenants (they have no row in `tenants`).
pub fn tenant_tallies(conn: &Db) -> Result<(Tally, Tally), StoreError> {
    let tally = |sql: &str| -> Result<Tally, StoreError> {
        conn.all(sql, args![], |r| Ok((r.get::<String>(0)?, r.get::<u64>(1)?)))
    };
    let by_plan = tally("SELECT plan, COUNT(*) FROM tenants GROUP BY plan ORDER BY plan")?;
    let by_status = tally(
        "SELECT COALESCE(b.status, 'active'), COUNT(*) FROM tenants t LEFT JOIN billing b ON b.tenant_id = t.id \
         GROUP BY 1 ORDER BY 1",
    )?;
    Ok((by_plan, by_status))
}

/// What a console page of tenants is filtered by (each `None`: any).
#[derive(Debug, Clone, Default)]
pub struct TenantFilter<'a> {
    pub plan: Option<&'a str>,
    /// The tenant's own status (`active` / `suspended`).
    pub status: Option<&'a str>,
    /// The recorded billing status (`active`, `trialing`, `past_due`, `canceled`).
    pub billing_status: Option<&'a str>,
    pub slug_prefix: Option<&'a str>,
}

/// A tenant as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleTenant {
    pub id: String,
    pub slug: String,
    pub display_name: String,
    pub plan: String,
    pub status: String,
    pub billing_status: String,
    pub created_at: String,
}

/// Tenants with id greater than `after` that match `filter`, in id order.
pub fn tenant_page(
    conn: &Db,
    filter: &TenantFilter<'_>,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<ConsoleTenant>, StoreError> {
    // A prefix is compared with substr/length (portable, and no LIKE wildcards to escape).
    conn.all(
        "SELECT t.id, t.slug, t.display_name, t.plan, t.status, COALESCE(b.status, 'active'), t.created_at \
         FROM tenants t LEFT JOIN billing b ON b.tenant_id = t.id \
         WHERE t.id > ?1 \
           AND (CAST(?2 AS TEXT) IS NULL OR t.plan = ?2) \
           AND (CAST(?3 AS TEXT) IS NULL OR t.status = ?3) \
           AND (CAST(?4 AS TEXT) IS NULL OR COALESCE(b.status, 'active') = ?4) \
           AND (CAST(?5 AS TEXT) IS NULL OR substr(t.slug, 1, length(CAST(?5 AS TEXT))) = ?5) \
         ORDER BY t.id LIMIT ?6",
        args![
            after.unwrap_or(""),
            filter.plan,
            filter.status,
            filter.billing_status,
            filter.slug_prefix,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        |r| {
            Ok(ConsoleTenant {
                id: r.get(0)?,
                slug: r.get(1)?,
                display_name: r.get(2)?,
                plan: r.get(3)?,
                status: r.get(4)?,
                billing_status: r.get(5)?,
                created_at: r.get(6)?,
            })
        },
    )
}

/// How many live chains (each tenant's and `_system`) have a valid verification since a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainsVerified {
    pub chains: u64,
    pub verified: u64,
    /// Up to ten chains without one, in id order.
    pub unverified: Vec<String>,
}

/// Which live chains were verified valid at or after `since` (RFC 3339).
pub fn chains_verified_since(conn: &Db, since: &str) -> Result<ChainsVerified, StoreError> {
    let count = |sql: &str| -> Result<u64, StoreError> { conn.one(sql, args![since], |r| r.get::<u64>(0)) };
    let tenants = count("SELECT COUNT(*) FROM tenants WHERE CAST(?1 AS TEXT) IS NOT NULL")?;
    let verified = count(
        "SELECT COUNT(*) FROM chain_verifications v WHERE v.verified_at >= ?1 AND v.valid = 1 \
         AND (v.tenant_id = '_system' OR v.tenant_id IN (SELECT id FROM tenants))",
    )?;
    let unverified = conn.all(
        "SELECT id FROM (SELECT '_system' AS id UNION ALL SELECT id FROM tenants) c \
         WHERE id NOT IN (SELECT tenant_id FROM chain_verifications WHERE verified_at >= ?1 AND valid = 1) \
         ORDER BY id LIMIT 10",
        args![since],
        |r| r.get(0),
    )?;
    Ok(ChainsVerified { chains: tenants + 1, verified, unverified })
}
