//! How the legacy HTTP session capacity is shared, so that one tenant (or
//! one key) filling its share never refuses another tenant or the platform.
//!
//! Invariants: a tenant holds at most [`Shares::tenant`] sessions and a
//! principal at most [`Shares::principal`]; tenants together hold at most
//! [`Shares::tenants`], so [`Shares::capacity`] minus that is always free for
//! platform principals; a refusal names the share that is used up.

use crate::wire::denial::{Denial, SessionShare};

/// Most sessions one principal may hold, so that one key cannot fill the store.
pub const PER_PRINCIPAL: usize = 64;

/// Who holds (or asks for) a session: its tenant (`None`: a platform
/// principal) and principal (`None`: not yet initialized).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner<'a> {
    pub tenant: Option<&'a str>,
    pub principal: Option<&'a str>,
}

/// The shares of one capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    /// Most sessions held at once.
    pub capacity: usize,
    /// Most sessions one tenant's principals hold together: a quarter of the
    /// capacity, raised to one principal's cap as long as that is at most half.
    pub tenant: usize,
    /// Most sessions one principal holds.
    pub principal: usize,
    /// Most sessions all tenants hold together: the capacity less a
    /// sixteenth (at least one session) kept for platform principals.
    pub tenants: usize,
}

impl Shares {
    /// The shares of `capacity` sessions.
    pub fn of(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let tenant = (capacity / 4).max(PER_PRINCIPAL.min(capacity / 2)).max(1);
        let reserve = (capacity / 16).max(1).min(capacity - 1);
        Self { capacity, tenant, principal: PER_PRINCIPAL, tenants: capacity - reserve }
    }

    /// Whether one more session of `new` fits beside the `held` ones; the
    /// refusal names the narrowest share that is used up.
    pub fn admit<'a>(&self, held: impl IntoIterator<Item = Owner<'a>>, new: Owner<'_>) -> Result<(), Denial> {
        let (mut total, mut of_tenants, mut of_tenant, mut of_principal) = (0, 0, 0, 0);
        for owner in held {
            total += 1;
            if owner.tenant.is_some() {
                of_tenants += 1;
                if owner.tenant == new.tenant {
                    of_tenant += 1;
                }
            }
            if new.principal.is_some() && owner.principal == new.principal {
                of_principal += 1;
            }
        }
        let full = |share, limit| Err(Denial::SessionsFull { share, limit });
        if new.principal.is_some() && of_principal >= self.principal {
            return full(SessionShare::Principal, self.principal);
        }
        if new.tenant.is_some() && of_tenant >= self.tenant {
            return full(SessionShare::Tenant, self.tenant);
        }
        if total >= self.capacity || (new.tenant.is_some() && of_tenants >= self.tenants) {
            return full(SessionShare::Capacity, self.capacity);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of<'a>(tenant: &'a str, principal: &'a str) -> Owner<'a> {
        Owner { tenant: Some(tenant), principal: Some(principal) }
    }

    fn platform(principal: &str) -> Owner<'_> {
        Owner { tenant: None, principal: Some(principal) }
    }

    fn refused_share(r: Result<(), Denial>) -> Option<(SessionShare, usize)> {
        match r {
            Err(Denial::SessionsFull { share, limit }) => Some((share, limit)),
            _ => None,
        }
    }

    #[test]
    fn the_shares_of_the_default_and_of_small_capacities() {
        assert_eq!(Shares::of(1024), Shares { capacity: 1024, tenant: 256, principal: 64, tenants: 960 });
        assert_eq!(Shares::of(16), Shares { capacity: 16, tenant: 8, principal: 64, tenants: 15 });
        assert_eq!(Shares::of(200), Shares { capacity: 200, tenant: 64, principal: 64, tenants: 188 });
        assert_eq!(Shares::of(1), Shares { capacity: 1, tenant: 1, principal: 64, tenants: 1 });
        assert_eq!(Shares::of(0).capacity, 1, "never zero");
    }

    #[test]
    fn a_tenant_at_its_share_refuses_only_itself() {
        let shares = Shares::of(16);
        // Eight sessions over two of acme's keys fill acme's share.
        let held: Vec<Owner> = (0..8).map(|i| of("acme", if i % 2 == 0 { "k1" } else { "k2" })).collect();
        let refused = shares.admit(held.iter().copied(), of("acme", "k3"));
        assert_eq!(refused_share(refused), Some((SessionShare::Tenant, 8)));
        assert!(shares.admit(held.iter().copied(), of("globex", "g1")).is_ok(), "another tenant");
        assert!(shares.admit(held.iter().copied(), platform("admin")).is_ok(), "the platform");
    }

    #[test]
    fn tenants_together_leave_room_for_the_platform() {
        let shares = Shares::of(16);
        let names = ["a", "b", "c", "d", "e", "f", "g", "h"];
        let held: Vec<Owner> = (0..15).map(|i| of(names[i % 8], names[i % 8])).collect();
        let refused = shares.admit(held.iter().copied(), of("z", "z"));
        assert_eq!(refused_share(refused), Some((SessionShare::Capacity, 16)));
        assert!(shares.admit(held.iter().copied(), platform("admin")).is_ok(), "the reserve is the platform's");
        let mut full = held;
        full.push(platform("admin"));
        assert_eq!(refused_share(shares.admit(full, platform("admin"))), Some((SessionShare::Capacity, 16)));
    }

    #[test]
    fn one_principal_is_refused_at_its_cap_before_its_tenant_share() {
        let shares = Shares::of(1024);
        let held: Vec<Owner> = (0..PER_PRINCIPAL).map(|_| of("acme", "k1")).collect();
        let refused = shares.admit(held.iter().copied(), of("acme", "k1"));
        assert_eq!(refused_share(refused), Some((SessionShare::Principal, PER_PRINCIPAL)));
        assert!(shares.admit(held.iter().copied(), of("acme", "k2")).is_ok(), "another key of the tenant");
        let admin: Vec<Owner> = (0..PER_PRINCIPAL).map(|_| platform("admin")).collect();
        let refused = shares.admit(admin, platform("admin"));
        assert_eq!(refused_share(refused), Some((SessionShare::Principal, PER_PRINCIPAL)));
    }

    #[test]
    fn unowned_sessions_count_only_against_the_capacity() {
        let shares = Shares::of(2);
        let none = Owner { tenant: None, principal: None };
        assert!(shares.admit([none], none).is_ok());
        assert_eq!(refused_share(shares.admit([none, none], none)), Some((SessionShare::Capacity, 2)));
    }
}
