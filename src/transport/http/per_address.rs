//! The per-address connection cap of the listener: one client address (an
//! IPv6 /64, which one host can fill) holds at most its share of the
//! connection slots, so it can never take every connection.
//!
//! Invariant: an address's count is exactly its live [`AddressSlot`]s (a
//! slot gives its place back when dropped); loopback is capped only when the
//! exemption is off.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};

/// Connections held per client address.
#[derive(Debug)]
pub struct AddressSlots {
    max: usize,
    exempt_loopback: bool,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection's place in its address's share; released on drop.
#[derive(Debug)]
pub struct AddressSlot {
    slots: Option<(Arc<AddressSlots>, IpAddr)>,
}

/// What two connections count as "the same address": an IPv4 address (also
/// when IPv4-mapped), or an IPv6 address's /64 prefix.
fn address_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) if !v6.is_loopback() => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        other => other,
    }
}

impl AddressSlots {
    /// At most `max` connections per address (at least 1); loopback
    /// addresses are not capped when `exempt_loopback`.
    pub fn new(max: usize, exempt_loopback: bool) -> Arc<Self> {
        Arc::new(Self { max: max.max(1), exempt_loopback, held: Mutex::new(HashMap::new()) })
    }

    /// A place for one more connection from `ip`, or `None` if its address
    /// already holds its share.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<AddressSlot> {
        let address = address_of(ip);
        if self.exempt_loopback && address.is_loopback() {
            return Some(AddressSlot { slots: None });
        }
        // A poisoned count refuses nothing (the global limit still holds).
        let Ok(mut held) = self.held.lock() else { return Some(AddressSlot { slots: None }) };
        let n = held.entry(address).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddressSlot { slots: Some((Arc::clone(self), address)) })
    }

    #[cfg(test)]
    fn held(&self, ip: IpAddr) -> usize {
        self.held.lock().map(|h| h.get(&address_of(ip)).copied().unwrap_or(0)).unwrap_or(0)
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let Some((slots, address)) = self.slots.take() else { return };
        if let Ok(mut held) = slots.held.lock()
            && let Some(n) = held.get_mut(&address)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.remove(&address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn an_address_holds_at_most_its_share_and_others_are_unaffected() {
        let slots = AddressSlots::new(2, true);
        let a: Vec<_> = (0..2).filter_map(|_| slots.try_acquire(ip("192.0.2.1"))).collect();
        assert_eq!(a.len(), 2);
        assert!(slots.try_acquire(ip("192.0.2.1")).is_none(), "its share is full");
        assert!(slots.try_acquire(ip("::ffff:192.0.2.1")).is_none(), "IPv4-mapped is the same address");
        assert!(slots.try_acquire(ip("192.0.2.2")).is_some(), "another address is served");
        drop(a);
        assert_eq!(slots.held(ip("192.0.2.1")), 0, "dropped slots are given back");
        assert!(slots.try_acquire(ip("192.0.2.1")).is_some());
    }

    #[test]
    fn an_ipv6_host_is_its_slash_64() {
        let slots = AddressSlots::new(1, true);
        let _first = slots.try_acquire(ip("2001:db8:1:2::1")).expect("first");
        assert!(slots.try_acquire(ip("2001:db8:1:2::ffff")).is_none(), "same /64");
        assert!(slots.try_acquire(ip("2001:db8:1:3::1")).is_some(), "another /64");
    }

    #[test]
    fn loopback_is_exempt_unless_turned_off() {
        let exempt = AddressSlots::new(1, true);
        let held: Vec<_> = (0..10).filter_map(|_| exempt.try_acquire(ip("127.0.0.1"))).collect();
        assert_eq!(held.len(), 10);
        assert!(exempt.try_acquire(ip("::1")).is_some());
        let capped = AddressSlots::new(1, false);
        let _one = capped.try_acquire(ip("127.0.0.1")).expect("first");
        assert!(capped.try_acquire(ip("127.0.0.1")).is_none());
        assert!(capped.try_acquire(ip("127.0.0.2")).is_some(), "each loopback address has its own share");
    }
}
