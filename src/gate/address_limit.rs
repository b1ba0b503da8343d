//! The per-client-address limit: a token bucket per IP address, checked by
//! the HTTP transport before anything else (authentication included), so
//! that a flood of bad requests costs almost nothing.
//!
//! Invariant: a refused request is -31429 `address_rate_limited` with
//! `retry_after_ms` and is counted (aggregated) in the `_system` audit chain.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::wire::denial::Denial;

/// Requests per second and burst per client address.
pub struct AddressLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl AddressLimit {
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Admit one request from `addr`, or say how long to wait. IPv6 clients
    /// are limited per /64 (one host's usual allocation); IPv4-mapped
    /// addresses count as their IPv4 address.
    pub fn check(&self, addr: IpAddr) -> Result<(), Denial> {
        match self.limiter.check_key(&bucket_of(addr)) {
            Ok(()) => Ok(()),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
                Err(Denial::AddressRateLimited { retry_after_ms: ms })
            }
        }
    }

    /// Forget idle addresses (memory stays bounded).
    pub fn sweep(&self) {
        self.limiter.retain_recent();
    }
}

fn bucket_of(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_bucket_is_refused_per_address_only() {
        let limit = AddressLimit::new(NonZeroU32::MIN, NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert!(limit.check(a).is_ok());
        }
        let refused = limit.check(a).expect_err("fourth request in the burst");
        assert!(matches!(refused, Denial::AddressRateLimited { retry_after_ms } if retry_after_ms > 0), "{refused:?}");
        assert!(limit.check(b).is_ok(), "another address has its own bucket");
        let one: IpAddr = "2001:db8::1".parse().unwrap_or(a);
        let same_64: IpAddr = "2001:db8::ffff:2".parse().unwrap_or(a);
        assert_eq!(bucket_of(one), bucket_of(same_64), "an IPv6 /64 shares a bucket");
    }
}
