//! A per-client rate limit: who the client is (its address, or the one a trusted proxy
//! forwarded) and how many requests it may make per window.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use permit_web::ConfigError;
use permit_web::middleware::error_response;

use crate::errors::RateLimited;

/// `count` requests per `per`, all of them usable at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// `10/60`: ten per sixty seconds.
    pub fn parse(text: &str) -> Option<Rate> {
        let (count, secs) = text.trim().split_once('/')?;
        let count: u32 = count.trim().parse().ok().filter(|n| *n > 0)?;
        let secs: u64 = secs.trim().parse().ok().filter(|n| (1..=86_400).contains(n))?;
        Some(Rate {
            count,
            per: Duration::from_secs(secs),
        })
    }

    fn interval(self) -> Duration {
        self.per / self.count
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.count, self.per.as_secs())
    }
}

/// An address block in CIDR notation; a bare address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    network: IpAddr,
    prefix: u8,
}

impl Block {
    fn parse(text: &str) -> Option<Block> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address.parse().ok()?, Some(prefix.parse::<u8>().ok()?)),
            None => (text.parse().ok()?, None),
        };
        let width = if matches!(address, IpAddr::V4(_)) { 32 } else { 128 };
        let prefix = prefix.unwrap_or(width);
        (prefix <= width).then_some(Block {
            network: address,
            prefix,
        })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let mask = |bits: u32| {
            if self.prefix == 0 {
                0
            } else {
                u128::MAX << (bits - u32::from(self.prefix))
            }
        };
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = mask(32);
                (u128::from(u32::from(net)) & mask) == (u128::from(u32::from(ip)) & mask)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask(128);
                (u128::from(net) & mask) == (u128::from(ip) & mask)
            }
            _ => false,
        }
    }
}

/// The proxies whose `X-Forwarded-For` is believed: the ingress controller's pods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Block>);

impl TrustedProxies {
    /// A comma-separated list of addresses and CIDR blocks, e.g. `10.244.0.0/16,127.0.0.1`.
    pub fn parse(variable: &'static str, text: &str) -> Result<TrustedProxies, ConfigError> {
        text.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                Block::parse(item).ok_or_else(|| ConfigError {
                    variable,
                    problem: format!("{item:?} is not an address or a CIDR block such as 10.244.0.0/16"),
                })
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|block| block.contains(ip))
    }

    /// The client behind `peer`: the peer itself unless it is a trusted proxy, else the
    /// nearest address in `X-Forwarded-For` that is not one. Entries left of an untrusted
    /// one could have been written by anybody, so they are never read.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in forwarded.into_iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else { break };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The IPv6 prefix one client is counted by unless `CLIENT_IPV6_PREFIX` says otherwise: a
/// home or mobile connection is given a whole /64 and may use any address in it.
pub const DEFAULT_IPV6_PREFIX: u8 = 64;

/// Who counts as one client: an IPv4 address, or an IPv6 address's first `prefix` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientKey {
    ipv6_prefix: u8,
}

impl ClientKey {
    /// `CLIENT_IPV6_PREFIX`: 32 to 128 bits (128 counts each address alone).
    pub fn parse(variable: &'static str, text: Option<&str>) -> Result<ClientKey, ConfigError> {
        let Some(text) = text else {
            return Ok(ClientKey::default());
        };
        match text.trim().trim_start_matches('/').parse::<u8>() {
            Ok(prefix) if (32..=128).contains(&prefix) => Ok(ClientKey { ipv6_prefix: prefix }),
            _ => Err(ConfigError {
                variable,
                problem: format!("{text:?} is not a prefix length from 32 to 128, such as 64"),
            }),
        }
    }

    /// The address `ip` is counted under: itself for IPv4, its network for IPv6.
    fn of(self, ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.ipv6_prefix)).unwrap_or(0);
                IpAddr::V6((u128::from(v6) & mask).into())
            }
            v4 => v4,
        }
    }
}

impl Default for ClientKey {
    fn default() -> Self {
        ClientKey {
            ipv6_prefix: DEFAULT_IPV6_PREFIX,
        }
    }
}

/// How many clients are remembered before the ones whose window has passed are forgotten.
const SWEEP_AT: usize = 10_000;

/// A generic cell rate limit per key: each request books `per / count` of the key's time,
/// and a key may run up to `per` ahead. One per replica, in memory: a client spread by the
/// load balancer over N replicas gets at most N times the rate.
#[derive(Debug)]
pub struct Cells<K> {
    rate: Rate,
    keys: Mutex<Booked<K>>,
}

#[derive(Debug)]
struct Booked<K> {
    /// When each key's booked time runs out.
    until: HashMap<K, Instant>,
    sweep_at: usize,
}

impl<K: std::hash::Hash + Eq> Cells<K> {
    pub fn new(rate: Rate) -> Cells<K> {
        Cells {
            rate,
            keys: Mutex::new(Booked {
                until: HashMap::new(),
                sweep_at: SWEEP_AT,
            }),
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Counts one request of `key` now, or refuses it with 429 and how long to wait.
    pub fn admit(&self, key: K) -> Result<(), RateLimited> {
        self.admit_at(key, Instant::now()).map_err(|wait| RateLimited {
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        })
    }

    fn admit_at(&self, key: K, now: Instant) -> Result<(), Duration> {
        let interval = self.rate.interval();
        // Up to `per` may be booked ahead; a request that would book past it waits.
        let allowance = self.rate.per - interval;
        let mut keys = self.keys.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let booked = keys.until.get(&key).map_or(now, |until| (*until).max(now));
        let ahead = booked - now;
        if ahead > allowance {
            return Err(ahead - allowance);
        }
        keys.until.insert(key, booked + interval);
        if keys.until.len() >= keys.sweep_at {
            keys.until.retain(|_, until| *until > now);
            keys.sweep_at = (keys.until.len() * 2).max(SWEEP_AT);
        }
        Ok(())
    }
}

/// The per-client limit on permit requests: cells keyed by the client's address (or its
/// IPv6 network, `ClientKey`), as a trusted proxy forwarded it.
#[derive(Debug)]
pub struct ClientLimiter {
    cells: Cells<IpAddr>,
    trusted: TrustedProxies,
    key: ClientKey,
}

impl ClientLimiter {
    pub fn new(rate: Rate, trusted: TrustedProxies, key: ClientKey) -> ClientLimiter {
        ClientLimiter {
            cells: Cells::new(rate),
            trusted,
            key,
        }
    }

    /// One line saying what is limited, for the start-up log.
    pub fn log(&self) {
        tracing::info!(
            create_rate_limit = %self.cells.rate,
            trusted_proxy_blocks = self.trusted.0.len(),
            ipv6_prefix = self.key.ipv6_prefix,
            "per-client limit on permit requests (CREATE_RATE_LIMIT=off to switch off, TRUSTED_PROXIES, CLIENT_IPV6_PREFIX)"
        );
    }

    /// Counts one request of the client behind `peer`, or refuses it with 429 and how long to wait.
    pub fn admit(&self, peer: IpAddr, headers: &HeaderMap) -> Result<(), RateLimited> {
        self.cells.admit(self.key.of(self.trusted.client(peer, headers)))
    }

    #[cfg(test)]
    fn admit_at(&self, client: IpAddr, now: Instant) -> Result<(), Duration> {
        self.cells.admit_at(client, now)
    }
}

/// The route layer in front of every way to request a permit: a client over its limit is
/// answered 429 before the request is read.
pub async fn limit(
    State(limiter): State<Arc<ClientLimiter>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    match limiter.admit(peer.ip(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => error_response(&request, refused.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().unwrap());
        headers
    }

    #[test]
    fn rates_parse_as_count_per_seconds() {
        assert_eq!(Rate::parse("30/60").unwrap().to_string(), "30/60");
        assert_eq!(
            Rate::parse(" 10 / 60 "),
            Some(Rate {
                count: 10,
                per: Duration::from_secs(60)
            })
        );
        for bad in ["10", "0/60", "10/0", "ten/60", "10/-1", "10/100000", ""] {
            assert_eq!(Rate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn blocks_match_their_addresses_only() {
        let block = Block::parse("10.244.0.0/16").unwrap();
        assert!(block.contains(ip("10.244.3.7")));
        assert!(block.contains(ip("::ffff:10.244.3.7")));
        assert!(!block.contains(ip("10.245.0.1")));
        assert!(!block.contains(ip("fd00::1")));
        assert!(Block::parse("0.0.0.0/0").unwrap().contains(ip("203.0.113.9")));
        assert!(Block::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(Block::parse("127.0.0.1").unwrap().contains(ip("127.0.0.1")));
        assert!(!Block::parse("127.0.0.1").unwrap().contains(ip("127.0.0.2")));
        for bad in ["10.0.0.0/33", "fd00::/129", "10.0.0/8", "localhost", "10.0.0.0/x"] {
            assert_eq!(Block::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_bad_proxy_list_names_its_variable() {
        let error = TrustedProxies::parse("TRUSTED_PROXIES", "10.0.0.0/8, nope").unwrap_err();
        assert_eq!(error.variable, "TRUSTED_PROXIES");
        assert!(error.problem.contains("nope"));
        assert_eq!(TrustedProxies::parse("X", " , ").unwrap(), TrustedProxies::default());
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("X", "10.244.0.0/16").unwrap();
        let headers = forwarded("198.51.100.1, 203.0.113.5, 10.244.1.2");
        // A direct client cannot choose its address by sending the header.
        assert_eq!(trusted.client(ip("203.0.113.9"), &headers), ip("203.0.113.9"));
        // Behind the proxies: the nearest untrusted hop, never the spoofable left end.
        assert_eq!(trusted.client(ip("10.244.0.9"), &headers), ip("203.0.113.5"));
        // No header, or an unreadable hop: the last address that is known.
        assert_eq!(trusted.client(ip("10.244.0.9"), &HeaderMap::new()), ip("10.244.0.9"));
        assert_eq!(
            trusted.client(ip("10.244.0.9"), &forwarded("203.0.113.5, garbage, 10.244.1.2")),
            ip("10.244.1.2")
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.244.0.9"), &headers),
            ip("10.244.0.9")
        );
    }

    #[test]
    fn a_client_gets_its_burst_then_waits_its_interval() {
        let limiter = ClientLimiter::new(
            Rate::parse("3/60").unwrap(),
            TrustedProxies::default(),
            ClientKey::default(),
        );
        let (client, other, start) = (ip("203.0.113.1"), ip("203.0.113.2"), Instant::now());
        for _ in 0..3 {
            assert_eq!(limiter.admit_at(client, start), Ok(()));
        }
        assert_eq!(limiter.admit_at(client, start), Err(Duration::from_secs(20)));
        assert_eq!(limiter.admit_at(other, start), Ok(()), "clients are counted apart");
        let later = start + Duration::from_secs(15);
        assert_eq!(limiter.admit_at(client, later), Err(Duration::from_secs(5)));
        assert_eq!(limiter.admit_at(client, start + Duration::from_secs(20)), Ok(()));
        // A quiet client is back to its whole burst.
        let much_later = start + Duration::from_secs(600);
        for _ in 0..3 {
            assert_eq!(limiter.admit_at(client, much_later), Ok(()));
        }
    }

    #[test]
    fn refusals_are_429_with_whole_seconds_to_wait() {
        let limiter = ClientLimiter::new(
            Rate::parse("1/7").unwrap(),
            TrustedProxies::default(),
            ClientKey::default(),
        );
        assert!(limiter.admit(ip("203.0.113.1"), &HeaderMap::new()).is_ok());
        let Err(RateLimited { retry_after_secs }) = limiter.admit(ip("203.0.113.1"), &HeaderMap::new()) else {
            panic!("the second request in the window must be refused")
        };
        assert!((6..=7).contains(&retry_after_secs), "{retry_after_secs}");
    }

    #[test]
    fn addresses_rotated_inside_one_ipv6_64_are_one_client() {
        let limiter = ClientLimiter::new(
            Rate::parse("3/60").unwrap(),
            TrustedProxies::default(),
            ClientKey::default(),
        );
        let admitted = (0..100u16)
            .filter(|n| {
                let address = format!("2001:db8:a:b:{n:x}:{:x}:1:2", n.wrapping_mul(7919));
                limiter.admit(ip(&address), &HeaderMap::new()).is_ok()
            })
            .count();
        assert_eq!(admitted, 3, "100 addresses of one /64 get one client's burst");
        assert!(
            limiter.admit(ip("2001:db8:a:c::1"), &HeaderMap::new()).is_ok(),
            "the next /64 is another client"
        );
        let per_address = ClientLimiter::new(
            Rate::parse("1/60").unwrap(),
            TrustedProxies::default(),
            ClientKey::parse("CLIENT_IPV6_PREFIX", Some("128")).unwrap(),
        );
        assert!(per_address.admit(ip("2001:db8::1"), &HeaderMap::new()).is_ok());
        assert!(per_address.admit(ip("2001:db8::2"), &HeaderMap::new()).is_ok());
        // An IPv4 client written as IPv6 (a dual-stack socket) is still its IPv4 address.
        let v4 = ClientKey::default();
        assert_eq!(v4.of(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
    }

    #[test]
    fn the_ipv6_prefix_is_a_length_from_32_to_128() {
        assert_eq!(
            ClientKey::parse("CLIENT_IPV6_PREFIX", None).unwrap(),
            ClientKey::default()
        );
        assert_eq!(
            ClientKey::parse("CLIENT_IPV6_PREFIX", Some("/56"))
                .unwrap()
                .of(ip("2001:db8:1:2ff::1")),
            ip("2001:db8:1:200::")
        );
        for bad in ["0", "16", "129", "sixty-four", ""] {
            assert_eq!(
                ClientKey::parse("CLIENT_IPV6_PREFIX", Some(bad)).unwrap_err().variable,
                "CLIENT_IPV6_PREFIX",
                "{bad}"
            );
        }
    }

    #[test]
    fn forgotten_clients_do_not_accumulate() {
        let limiter = ClientLimiter::new(
            Rate::parse("1/1").unwrap(),
            TrustedProxies::default(),
            ClientKey::default(),
        );
        let start = Instant::now();
        for n in 0..(SWEEP_AT as u32 + 10) {
            let client = IpAddr::from(std::net::Ipv4Addr::from(n));
            limiter
                .admit_at(client, start + Duration::from_millis(u64::from(n)))
                .unwrap();
        }
        let remembered = limiter.cells.keys.lock().unwrap().until.len();
        assert!(remembered < 1_100, "{remembered} clients still remembered");
    }
}
