//! One egress policy for every request the server makes on a user's behalf (issue
//! 18, hole 4): inputs by `http(s)://`, callbacks to subscribers, and `s3://`
//! inputs. A URL's host is resolved and every address it resolves to must be
//! public (not loopback, private, link-local, which holds the cloud metadata
//! address, shared, multicast, unspecified or reserved) unless the operator allows
//! it; the connection then goes to the address vetted (the name is pinned to it, so
//! a second resolution cannot swap it); a redirect is vetted again like the first
//! URL (five at most); an `s3://` input reads only a bucket the operator names.
//! Each job's remote inputs are bounded in number, total bytes and time.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Url;

/// Redirects followed (each vetted) before a fetch gives up.
const MAX_REDIRECTS: usize = 5;

/// What the server may reach for a user.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    /// Hosts (names, addresses) and networks (`ADDR/BITS`) reachable even though
    /// not public: an operator's own services on a private network.
    pub allowed: Vec<String>,
    /// Buckets `s3://` inputs may read (none by default: the server's credentials
    /// may reach buckets its users must not).
    pub buckets: Vec<String>,
    /// Remote inputs of one job, at most.
    pub max_inputs: usize,
    /// Bytes of one job's remote inputs, all together, at most.
    pub max_bytes: u64,
    /// Time to fetch one job's remote inputs, all together, at most.
    pub budget: Duration,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        Self {
            allowed: Vec::new(),
            buckets: Vec::new(),
            max_inputs: 100,
            max_bytes: 16 << 30,
            budget: Duration::from_secs(3600),
        }
    }
}

/// The policy in force, with its clients (one per vetted host and address).
#[derive(Debug)]
pub struct Egress {
    policy: EgressPolicy,
    networks: Vec<(IpAddr, u8)>,
    names: Vec<String>,
    clients: Mutex<std::collections::HashMap<(String, SocketAddr), reqwest::Client>>,
}

impl Egress {
    /// The policy, its allowed hosts and networks read (a wrong one is an error).
    pub fn new(policy: EgressPolicy) -> Result<Self, String> {
        let mut networks = Vec::new();
        let mut names = Vec::new();
        for entry in &policy.allowed {
            let entry = entry.trim();
            if let Some((addr, bits)) = entry.split_once('/') {
                let addr: IpAddr = addr
                    .parse()
                    .map_err(|_| format!("allowed egress {entry:?}: not an address/bits"))?;
                let bits: u8 = bits
                    .parse()
                    .ok()
                    .filter(|b| *b <= if addr.is_ipv4() { 32 } else { 128 })
                    .ok_or_else(|| format!("allowed egress {entry:?}: bad prefix length"))?;
                networks.push((addr, bits));
            } else if let Ok(addr) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
                networks.push((addr, if addr.is_ipv4() { 32 } else { 128 }));
            } else if !entry.is_empty() {
                names.push(entry.to_ascii_lowercase());
            }
        }
        Ok(Self {
            policy,
            networks,
            names,
            clients: Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// The policy.
    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// What can be told of a URL before a job is accepted: its scheme, its host, a
    /// literal address that is not reachable, a bucket not allowed.
    pub fn check(&self, url: &str) -> Result<(), String> {
        if let Some(rest) = url.strip_prefix("s3://") {
            let bucket = rest.split('/').next().unwrap_or("");
            if !self.policy.buckets.iter().any(|b| b == bucket) {
                return Err(format!(
                    "{url:?}: bucket {bucket:?} is not one this server reads for its users"
                ));
            }
            return Ok(());
        }
        let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "{url:?}: only http://, https:// and s3:// are fetched"
            ));
        }
        if parsed.username() != "" || parsed.password().is_some() {
            return Err(format!("{url:?}: credentials in a URL are not taken"));
        }
        match parsed.host() {
            None => Err(format!("{url:?} has no host")),
            Some(url::Host::Domain(name)) => {
                if self.name_allowed(name) || !name.eq_ignore_ascii_case("localhost") {
                    Ok(())
                } else {
                    Err(refusal(url, name))
                }
            }
            Some(url::Host::Ipv4(v4)) => self.vet_addr(IpAddr::V4(v4), url),
            Some(url::Host::Ipv6(v6)) => self.vet_addr(IpAddr::V6(v6), url),
        }
    }

    fn name_allowed(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.names.contains(&name)
    }

    fn vet_addr(&self, addr: IpAddr, url: &str) -> Result<(), String> {
        if is_public(addr)
            || self
                .networks
                .iter()
                .any(|(net, bits)| contains(*net, *bits, addr))
        {
            Ok(())
        } else {
            Err(refusal(url, &addr.to_string()))
        }
    }

    /// Resolves the URL's host and vets every address; the one to connect to.
    async fn vet(&self, url: &Url) -> Result<SocketAddr, String> {
        let text = url.as_str();
        self.check(text)?;
        let port = url.port_or_known_default().unwrap_or(80);
        let host = url.host_str().unwrap_or("");
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(v4)) => vec![SocketAddr::new(IpAddr::V4(v4), port)],
            Some(url::Host::Ipv6(v6)) => vec![SocketAddr::new(IpAddr::V6(v6), port)],
            _ => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| format!("{text}: cannot resolve {host}: {e}"))?
                .collect(),
        };
        let first = *addrs
            .first()
            .ok_or_else(|| format!("{text}: {host} resolves to no address"))?;
        // A name the operator allowed is taken as it resolves; any other must
        // resolve to public addresses only (one private answer is enough to refuse:
        // a rebinding name answers both).
        if !self.name_allowed(host) {
            for addr in &addrs {
                self.vet_addr(addr.ip(), text)?;
            }
        }
        Ok(first)
    }

    /// A client that connects to `addr` for `host`, follows no redirect itself.
    fn client(
        &self,
        host: &str,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<reqwest::Client, String> {
        let key = (host.to_string(), addr);
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .resolve(host, addr)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .user_agent("hysope")
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        // Bounded: a user naming many hosts does not grow it for ever.
        if clients.len() >= 256 {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// GETs `url`, following redirects (each vetted as the first URL).
    pub async fn get(&self, url: &str, timeout: Duration) -> Result<reqwest::Response, String> {
        let mut current = Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        for _ in 0..=MAX_REDIRECTS {
            let addr = self.vet(&current).await?;
            let host = current.host_str().unwrap_or("").to_string();
            let response = self
                .client(&host, addr, timeout)?
                .get(current.clone())
                .send()
                .await
                .map_err(|e| format!("{current}: {:#}", anyhow::Error::new(e)))?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| format!("{current}: a redirect without a location"))?;
            current = current
                .join(location)
                .map_err(|e| format!("{current}: redirect to {location:?}: {e}"))?;
        }
        Err(format!("{url}: more than {MAX_REDIRECTS} redirects"))
    }

    /// POSTs JSON to `url` (no redirect followed); the status code.
    pub async fn post_json(
        &self,
        url: &str,
        body: bytes::Bytes,
        timeout: Duration,
    ) -> Result<u16, String> {
        let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        let addr = self.vet(&parsed).await?;
        let host = parsed.host_str().unwrap_or("").to_string();
        let reply = self
            .client(&host, addr, timeout)?
            .post(parsed)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            // With its causes, which say what failed (refused, certificate, timeout).
            .map_err(|e| format!("{:#}", anyhow::Error::new(e)))?;
        Ok(reply.status().as_u16())
    }
}

fn refusal(url: &str, host: &str) -> String {
    format!(
        "{url:?}: {host} is not a public address; the server reaches it only if its operator allows it (--allow-egress)"
    )
}

/// True for an address of the public Internet.
pub fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || v6.segments()[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || first == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64 of any v4
        }
    }
}

fn public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    !(v4.is_private()
        || v4.is_loopback()
        || v4.is_link_local()
        || v4.is_multicast()
        || v4.is_broadcast()
        || v4.is_unspecified()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

/// True when `addr` lies in the network `net/bits`.
fn contains(net: IpAddr, bits: u8, addr: IpAddr) -> bool {
    let addr = match (net, addr) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return false,
        },
        _ => addr,
    };
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            assert!(!is_public(ip(private)), "{private}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(public)), "{public}");
        }
    }

    #[test]
    fn urls_are_checked_and_the_operator_may_allow() {
        let strict = Egress::new(EgressPolicy::default()).unwrap();
        for refused in [
            "http://127.0.0.1:8080/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://localhost/x",
            "http://2130706433/x", // 127.0.0.1 as one number (the URL parser reads it)
            "http://0x7f.1/x",
            "http://user:pw@example.org/x",
            "s3://private-bucket/key",
            "ftp://example.org/x",
        ] {
            assert!(strict.check(refused).is_err(), "{refused}");
        }
        assert!(strict.check("https://example.org/data.zip").is_ok());
        let open = Egress::new(EgressPolicy {
            allowed: vec![
                "127.0.0.1".into(),
                "10.0.0.0/8".into(),
                "minio.internal".into(),
            ],
            buckets: vec!["swot".into()],
            ..EgressPolicy::default()
        })
        .unwrap();
        assert!(open.check("http://127.0.0.1:8080/x").is_ok());
        assert!(open.check("http://10.20.30.40/x").is_ok());
        assert!(open.check("http://192.168.0.1/x").is_err());
        assert!(open.check("s3://swot/a.zip").is_ok());
        assert!(open.check("s3://other/a.zip").is_err());
        assert!(
            Egress::new(EgressPolicy {
                allowed: vec!["10.0.0.0/99".into()],
                ..Default::default()
            })
            .is_err()
        );
    }

    #[tokio::test]
    async fn loopback_is_refused_before_any_connection() {
        let strict = Egress::new(EgressPolicy::default()).unwrap();
        let err = strict
            .get("http://localhost/x", Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(err.contains("not a public"), "{err}");
    }
}
