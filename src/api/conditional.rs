//! Entity tags and the conditional reads built on them: `HEAD` on every `GET` route (RFC 9110
//! §9.3.2) and `If-None-Match` answered with `304 Not Modified` (§13.1.2).
//!
//! An `ETag` is `"<version>-<digest>"`: the version is what `If-Match` compares, so a change
//! made against an old read is refused; the digest is of the body sent, so a representation
//! that changes without a new version (a contact deadline passing, a coach renamed, a consent
//! given) gets a new tag and a poller is never told "not modified" about it.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::HttpResponse;
use sha2::{Digest, Sha256};

/// The entity tag of a representation with `version` and `body`.
pub fn etag(version: i32, body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{version}-{}\"", hex::encode(&digest[..8]))
}

/// The version an entity tag this API issued names (`"3-…"`, or `"3"` as the version alone);
/// `None` for anything else, a weak tag included.
pub fn version_of(tag: &str) -> Option<i32> {
    let opaque = tag.strip_prefix('"')?.strip_suffix('"')?;
    let version = match opaque.split_once('-') {
        Some((version, digest))
            if digest.len() == 16 && digest.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            version
        }
        Some(_) => return None,
        None => opaque,
    };
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    version.parse().ok()
}

/// Whether `If-None-Match` (a list of tags, or `*`) names `current`, by the weak comparison
/// RFC 9110 §13.1.2 prescribes: `W/` prefixes are ignored.
fn none_match_names(if_none_match: &str, current: &str) -> bool {
    let current = current.trim_start_matches("W/");
    if_none_match.trim() == "*"
        || if_none_match
            .split(',')
            .map(|tag| tag.trim().trim_start_matches("W/"))
            .any(|tag| tag == current)
}

/// Serves `HEAD` as `GET` (the connection drops the body and keeps its length), and answers a
/// `GET` or `HEAD` whose `If-None-Match` names the response's `ETag` with `304` and no body.
/// The handler has run by then: authorisation and "not found" are decided as for any read.
pub async fn conditional_reads(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    let condition = match req.method() {
        &Method::GET => req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        _ => None,
    };
    let response = next.call(req).await?.map_into_boxed_body();
    let unchanged = condition.is_some_and(|condition| {
        response.status() == StatusCode::OK
            && response
                .headers()
                .get(header::ETAG)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|current| none_match_names(&condition, current))
    });
    if !unchanged {
        return Ok(response.map_into_left_body());
    }
    let (request, full) = response.into_parts();
    let mut not_modified = HttpResponse::NotModified();
    for (name, value) in kept_on_304(full.headers()) {
        not_modified.append_header((name.clone(), value.clone()));
    }
    Ok(ServiceResponse::new(request, not_modified.finish()).map_into_right_body())
}

/// The headers a 304 repeats from the 200 it stands for (RFC 9110 §15.4.5): all but those
/// that describe the body it does not send.
fn kept_on_304(
    headers: &HeaderMap,
) -> impl Iterator<Item = (&header::HeaderName, &header::HeaderValue)> {
    headers
        .iter()
        .filter(|(name, _)| ![header::CONTENT_TYPE, header::CONTENT_LENGTH].contains(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_names_its_version_and_changes_with_the_body() {
        let tag = etag(3, b"{\"a\":1}");
        assert_eq!(version_of(&tag), Some(3));
        assert_ne!(tag, etag(3, b"{\"a\":2}"));
        assert_eq!(tag, etag(3, b"{\"a\":1}"));
    }

    #[test]
    fn if_match_accepts_the_tag_or_the_bare_version_and_nothing_else() {
        assert_eq!(version_of("\"7\""), Some(7));
        assert_eq!(version_of("\"7-0123456789abcdef\""), Some(7));
        for refused in [
            "W/\"7\"",
            "7",
            "\"\"",
            "\"-1\"",
            "\"7-xyz\"",
            "\"7-0123456789abcdef0\"",
            "\"+7\"",
        ] {
            assert_eq!(version_of(refused), None, "{refused}");
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_a_star() {
        let current = "\"2-0123456789abcdef\"";
        assert!(none_match_names(current, current));
        assert!(none_match_names(&format!("W/{current}"), current));
        assert!(none_match_names(
            &format!("\"1-aaaaaaaaaaaaaaaa\", {current}"),
            current
        ));
        assert!(none_match_names("*", current));
        assert!(!none_match_names("\"1-aaaaaaaaaaaaaaaa\"", current));
        assert!(!none_match_names("\"2\"", current));
    }
}
