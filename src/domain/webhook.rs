//! Webhooks (issue 18): what an organisation may subscribe to, where the service may send, when a
//! failed delivery goes again, and what a receiver's answer means. Free of I/O: the sender
//! (`crate::delivery`) resolves names and sends; these rules decide.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::{DateTime, Duration, Utc};
use ipnet::IpNet;
use url::Url;

use crate::domain::event::Event;
use crate::domain::principal::OrganisationKind;
use crate::domain::FieldError;

/// The prefix of a signing secret in the Standard Webhooks format.
pub const SECRET_PREFIX: &str = "whsec_";
/// A failing delivery is tried again for at least this long from its first failure, then the
/// subscription is disabled.
pub const RETRY_WINDOW_HOURS: i64 = 24;
/// After a rotation, the secret before it signs beside the new one this long.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;
/// The most a receiver's `Retry-After` defers the next attempt.
const LONGEST_RETRY_AFTER_HOURS: i64 = 6;
/// The longest URL taken.
pub const MAX_URL_LENGTH: usize = 2048;
/// How many event types one subscription names at most (all there are).
pub const MAX_EVENT_TYPES: usize = Event::TYPES.len();

/// A new signing secret: 32 random bytes, base64, with the `whsec_` prefix.
pub fn new_secret() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The event types an organisation of `kind` is told of, and so may subscribe to: the same as
/// its event log holds (`Event::reaches_employer`, and each organisation's own changes).
pub fn told_to(kind: OrganisationKind, event_type: &str) -> bool {
    match Event::audience_of_type(event_type) {
        None => false,
        Some(audience) => audience.includes(kind),
    }
}

/// Checks a subscription's event types: known, told to the organisation, none twice, at least
/// one. `pointer` is the field's.
pub fn check_event_types(
    kind: OrganisationKind,
    types: &[String],
    pointer: &str,
) -> Vec<FieldError> {
    let mut errors = vec![];
    if types.is_empty() {
        errors.push(FieldError::new(pointer, "name at least one event type"));
    }
    for (i, name) in types.iter().enumerate() {
        let at = format!("{pointer}/{i}");
        if Event::audience_of_type(name).is_none() {
            errors.push(FieldError::new(
                at,
                format!("{name:?} is not an event type"),
            ));
        } else if !told_to(kind, name) {
            errors.push(FieldError::new(
                at,
                format!("{name} events are not told to your organisation"),
            ));
        } else if types[..i].contains(name) {
            errors.push(FieldError::new(at, format!("{name} is named twice")));
        }
    }
    errors
}

/// Why a URL is not one the service sends to.
pub fn check_url(text: &str, allow_http: bool) -> Result<Url, String> {
    if text.len() > MAX_URL_LENGTH {
        return Err(format!("is longer than {MAX_URL_LENGTH} characters"));
    }
    let url = Url::parse(text).map_err(|e| format!("is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err("must use https".into()),
        other => return Err(format!("must use https, not {other}")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(
            "must not carry credentials: authenticate the deliveries by their signature".into(),
        );
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    match url.host() {
        None => Err("has no host".into()),
        Some(url::Host::Domain(name)) if !name.contains('.') && name != "localhost" => {
            Err("must name a host by its full domain name".into())
        }
        Some(_) => Ok(url),
    }
}

/// Where deliveries may go: public addresses, and the networks an operator allows (an
/// on-premise HR system on a private network).
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    pub allowed: Vec<IpNet>,
}

impl AddressPolicy {
    /// The networks in `list` (comma-separated CIDRs or addresses), or what is wrong with one.
    pub fn parse(list: &str) -> Result<AddressPolicy, String> {
        let allowed = crate::domain::input::networks(list)?;
        Ok(AddressPolicy { allowed })
    }

    /// Why the service does not send to `ip`, or `None` when it may.
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allowed.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        match ip {
            IpAddr::V4(v4) => refuses_v4(v4),
            IpAddr::V6(v6) => refuses_v6(v6),
        }
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn refuses_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("a cloud metadata address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if ip.is_private() {
        Some("a private address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("a broadcast, multicast or reserved address")
    } else if in_v4(ip, [192, 0, 0, 0], 24)
        || in_v4(ip, [192, 0, 2, 0], 24)
        || in_v4(ip, [198, 18, 0, 0], 15)
        || in_v4(ip, [198, 51, 100, 0], 24)
        || in_v4(ip, [203, 0, 113, 0], 24)
    {
        Some("a reserved or documentation address")
    } else {
        None
    }
}

fn refuses_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    // An IPv4 address inside an IPv6 one (mapped, compatible, NAT64, 6to4) is judged as IPv4.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return refuses_v4(v4);
    }
    if segments[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some("an IPv4-compatible address");
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[0] == 0x2002 {
        return Some("an address that embeds an IPv4 one (NAT64 or 6to4)");
    }
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if segments[0] & 0xffc0 == 0xfe80 || segments[0] & 0xffc0 == 0xfec0 {
        Some("a link-local address")
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some("a unique-local (private) address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if segments[0] == 0x2001 && segments[1] == 0x0db8 || segments[..4] == [0x100, 0, 0, 0] {
        Some("a documentation or discard address")
    } else {
        None
    }
}

/// What a receiver's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// 2xx: delivered.
    Delivered,
    /// 410: the receiver is gone for good; the subscription is disabled.
    Gone,
    /// Anything else, or no answer: tried again.
    Failed,
}

pub fn answer(status: Option<u16>) -> Answer {
    match status {
        Some(200..=299) => Answer::Delivered,
        Some(410) => Answer::Gone,
        _ => Answer::Failed,
    }
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// The next attempt, at this time.
    At(DateTime<Utc>),
    /// The delivery has failed for the whole window: it fails, and the subscription is
    /// disabled.
    GiveUp,
}

/// When a delivery whose failures began at `failing_since` goes again after its failed attempt
/// number `attempt` at `now`: after the job queue's growing wait with jitter
/// (`domain::job::backoff`), or later when the receiver asked so (`Retry-After`, up to six
/// hours); never again once it has failed for [`RETRY_WINDOW_HOURS`].
pub fn after_failure(
    failing_since: DateTime<Utc>,
    now: DateTime<Utc>,
    attempt: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Retry {
    if now - failing_since >= Duration::hours(RETRY_WINDOW_HOURS) {
        return Retry::GiveUp;
    }
    let backoff = crate::domain::job::backoff(attempt, jitter);
    let asked = retry_after
        .map(|wait| wait.clamp(Duration::zero(), Duration::hours(LONGEST_RETRY_AFTER_HOURS)))
        .unwrap_or_else(Duration::zero);
    Retry::At(now + backoff.max(asked))
}

/// A `Retry-After` value (RFC 9110 §10.2.3): seconds, or an HTTP date, as a wait from `now`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(Duration::seconds(i64::from(seconds)));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).max(Duration::zero()))
}

/// A subscription as an organisation makes it.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where to send: `https`, to a public address (checked now and at every delivery).
    #[schema(
        example = "https://hr.example.com/trajectum/webhooks",
        min_length = 10,
        max_length = 2048,
        pattern = "^https?://"
    )]
    pub url: String,
    /// The event types to send (API.md "Events"), those the organisation is told of.
    #[schema(example = json!(["order.accepted", "session.scheduled", "session.cancelled"]), min_items = 1)]
    pub event_types: Vec<String>,
    /// What it is for, for people.
    #[serde(default)]
    #[schema(example = "HR suite, production", max_length = 200)]
    pub description: String,
}

/// Changes to a subscription; absent fields stay as they are.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChange {
    #[schema(min_length = 10, max_length = 2048, pattern = "^https?://")]
    pub url: Option<String>,
    #[schema(min_items = 1)]
    pub event_types: Option<Vec<String>>,
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// `true` enables a disabled subscription again (its pending deliveries go out in order);
    /// `false` disables it.
    pub enabled: Option<bool>,
}

/// The longest description taken.
pub const MAX_DESCRIPTION_LENGTH: usize = 200;

/// Checks a description.
pub fn check_description(text: &str, pointer: &str) -> Option<FieldError> {
    (text.chars().count() > MAX_DESCRIPTION_LENGTH).then(|| {
        FieldError::new(
            pointer,
            format!("is longer than {MAX_DESCRIPTION_LENGTH} characters"),
        )
    })
}

/// Why a subscription was disabled.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DisabledReason {
    /// The receiver answered 410 Gone.
    Gone,
    /// A delivery failed for a day.
    Failing,
    /// The organisation disabled it.
    ByRequest,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Gone => "gone",
            DisabledReason::Failing => "failing",
            DisabledReason::ByRequest => "by_request",
        }
    }

    pub fn parse(text: &str) -> Option<DisabledReason> {
        [
            DisabledReason::Gone,
            DisabledReason::Failing,
            DisabledReason::ByRequest,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AddressPolicy {
        AddressPolicy::default()
    }

    #[test]
    fn deliveries_never_go_to_the_services_own_networks() {
        for refused in [
            "127.0.0.1",
            "127.8.9.10",
            "169.254.169.254",
            "169.254.1.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(policy().refuses(ip).is_some(), "{refused} is let through");
        }
        for public in [
            "93.184.215.14",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert_eq!(policy().refuses(ip), None, "{public} is refused");
        }
    }

    #[test]
    fn an_operator_allows_its_own_network_and_nothing_else() {
        let allowed = AddressPolicy::parse("10.20.0.0/16, 192.168.1.5").unwrap();
        assert_eq!(allowed.refuses("10.20.3.4".parse().unwrap()), None);
        assert_eq!(allowed.refuses("192.168.1.5".parse().unwrap()), None);
        assert!(allowed.refuses("192.168.1.6".parse().unwrap()).is_some());
        assert!(allowed.refuses("127.0.0.1".parse().unwrap()).is_some());
        assert!(AddressPolicy::parse("10.0.0.0/33").is_err());
        assert!(AddressPolicy::parse("intranet").is_err());
    }

    #[test]
    fn only_https_urls_without_credentials_are_taken() {
        assert!(check_url("https://hr.example.com/hooks?x=1", false).is_ok());
        assert!(check_url("http://hr.example.com/hooks", false)
            .unwrap_err()
            .contains("https"));
        assert!(check_url("http://hr.example.com/hooks", true).is_ok());
        assert!(check_url("ftp://hr.example.com/", true).is_err());
        assert!(check_url("https://user:pw@hr.example.com/", false).is_err());
        assert!(check_url("https://hr.example.com/#x", false).is_err());
        assert!(check_url("/hooks", false).is_err());
        assert!(check_url("https://intranet/hooks", false).is_err());
        assert!(check_url(&format!("https://a.example/{}", "x".repeat(2048)), false).is_err());
    }

    #[test]
    fn only_2xx_delivers_and_410_means_gone() {
        assert_eq!(answer(Some(200)), Answer::Delivered);
        assert_eq!(answer(Some(204)), Answer::Delivered);
        assert_eq!(answer(Some(410)), Answer::Gone);
        for failed in [Some(301), Some(404), Some(429), Some(500), None] {
            assert_eq!(answer(failed), Answer::Failed, "{failed:?}");
        }
    }

    #[test]
    fn a_failing_delivery_is_tried_again_for_a_day_with_growing_waits() {
        let start = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut now = start;
        let mut waits = vec![];
        for attempt in 1.. {
            match after_failure(start, now, attempt, None, 0.0) {
                Retry::At(next) => {
                    waits.push(next - now);
                    now = next;
                }
                Retry::GiveUp => break,
            }
        }
        assert!(now - start >= Duration::hours(RETRY_WINDOW_HOURS));
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        assert!(waits.len() >= 8, "{} attempts in a day", waits.len() + 1);
        assert!(waits.iter().all(|w| *w <= Duration::hours(6)));
    }

    #[test]
    fn retry_after_defers_the_next_attempt_up_to_six_hours() {
        let now = DateTime::parse_from_rfc3339("2026-12-07T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let asked = after_failure(now, now, 1, Some(Duration::minutes(10)), 1.0);
        assert_eq!(asked, Retry::At(now + Duration::minutes(10)));
        let short = after_failure(now, now, 1, Some(Duration::seconds(1)), 1.0);
        assert_eq!(short, Retry::At(now + Duration::seconds(30)));
        let long = after_failure(now, now, 1, Some(Duration::days(3)), 1.0);
        assert_eq!(long, Retry::At(now + Duration::hours(6)));
        assert_eq!(parse_retry_after("120", now), Some(Duration::seconds(120)));
        let date = parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT", now).unwrap();
        assert!(date > Duration::days(365));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn an_organisation_subscribes_to_what_it_is_told_of() {
        let employer = OrganisationKind::Employer;
        let provider = OrganisationKind::Provider;
        assert!(check_event_types(employer, &["session.scheduled".into()], "/e").is_empty());
        let at_risk = check_event_types(employer, &["alliance.at_risk".into()], "/e");
        assert_eq!(at_risk[0].pointer, "/e/0");
        assert!(check_event_types(provider, &["alliance.at_risk".into()], "/e").is_empty());
        assert!(!check_event_types(employer, &["coach.added".into()], "/e").is_empty());
        assert!(
            !check_event_types(provider, &["follow_up_policy.updated".into()], "/e").is_empty()
        );
        assert!(!check_event_types(provider, &[], "/e").is_empty());
        let twice = ["order.created".to_string(), "order.created".to_string()];
        assert_eq!(check_event_types(provider, &twice, "/e")[0].pointer, "/e/1");
        assert!(!check_event_types(provider, &["order.teleported".into()], "/e").is_empty());
    }
}
