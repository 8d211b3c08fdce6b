//! Entity tags and the conditional reads built on them: `HEAD` on every `GET` route (RFC 9110
//! §9.3.2) and `If-None-Match` answered with `304 Not Modified` (§13.1.2).
//!
//! An `ETag` is `"<version>-<digest>"`: the version is what `If-Match` compares, so a change
//! made against an old read is refused; the digest is of the body sent, so a representation
//! that changes without a new version (a contact deadline passing, a coach renamed, a consent
//! given) gets a new tag and a poller is never told "not modified" about it. A read without a
//! version of its own (a list, free slots, a calendar feed, the events feed) gets
//! `"<digest>"`, so that polling it costs nothing while nothing changed.
//!
//! `If-None-Match` is `*` or a list of entity tags (RFC 9110 §8.8.3); any other value, an empty
//! one included, names no tag and gets the full answer, as the spec says.

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

/// The entity tag of a representation without a version: a 128-bit digest of its body (XXH3,
/// fast on the large bodies of lists and feeds; a tag tells representations apart, it
/// guards no secret).
pub fn body_etag(body: &[u8]) -> String {
    format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(body))
}

/// Whether `value` is an `If-None-Match` RFC 9110 allows: `*`, or entity tags (`"…"` or
/// `W/"…"`, of visible characters other than `"`) separated by commas.
pub fn valid_if_none_match(value: &str) -> bool {
    let value = value.trim();
    if value == "*" {
        return true;
    }
    !value.is_empty()
        && value.split(',').all(|tag| {
            let tag = tag.trim();
            let opaque = tag.strip_prefix("W/").unwrap_or(tag);
            opaque.len() >= 2
                && opaque.starts_with('"')
                && opaque.ends_with('"')
                && opaque[1..opaque.len() - 1]
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
        })
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
        // A value that is not `*` or a list of entity tags names no tag: the full answer.
        &Method::GET => req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .filter(|v| valid_if_none_match(v))
            .map(String::from),
        _ => None,
    };
    let tag_by_body = req.method() == Method::GET && req.path().starts_with("/api/v1/");
    let mut response = next.call(req).await?.map_into_boxed_body();
    if tag_by_body
        && response.status() == StatusCode::OK
        && !response.headers().contains_key(header::ETAG)
    {
        response = with_body_etag(response).await?;
    }
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

/// `response` with the `ETag` of its body.
async fn with_body_etag(
    response: ServiceResponse<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let (request, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|_| actix_web::error::ErrorInternalServerError("the body could not be read"))?;
    let mut head = head.set_body(BoxBody::new(bytes.clone()));
    if let Ok(tag) = header::HeaderValue::from_str(&body_etag(&bytes)) {
        head.headers_mut().insert(header::ETAG, tag);
    }
    Ok(ServiceResponse::new(request, head))
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
    fn if_none_match_is_a_star_or_a_list_of_entity_tags() {
        for valid in [
            "*",
            "\"3-0123456789abcdef\"",
            "W/\"3\"",
            " \"a\" , W/\"b\"",
            "\"\"",
        ] {
            assert!(valid_if_none_match(valid), "{valid:?}");
        }
        for invalid in [
            "",
            " ",
            "3",
            "\"3",
            "abc",
            "\"a\",",
            "W/3",
            "\"a\" \"b\"",
            "**",
        ] {
            assert!(!valid_if_none_match(invalid), "{invalid:?}");
        }
    }

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
