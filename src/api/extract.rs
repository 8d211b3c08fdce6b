//! Strict request extractors: JSON and form bodies, and query strings.
//!
//! They check the content type (415), the size (413, the configured limit), the syntax (400 with
//! line and column), and the shape: an unknown field, a missing field or a wrong type is a 400
//! whose `errors[0].pointer` is the JSON pointer of the field.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::api::parse::{parse_json, parse_urlencoded};
use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body (`application/json` or `application/*+json`).
#[derive(Debug)]
pub struct Json<T>(pub T);

/// A form body (`application/x-www-form-urlencoded`), as OAuth's token endpoint takes.
#[derive(Debug)]
pub struct Form<T>(pub T);

/// Query parameters; unknown ones are refused like unknown body fields.
#[derive(Debug)]
pub struct Query<T>(pub T);

fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<web::Data<AppState>>()
        .map(|s| s.body_limit)
        .unwrap_or(256 * 1024)
}

fn media_type(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

fn is_json(media: &str) -> bool {
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// Reads the whole body, refusing it as soon as it passes `limit` bytes.
async fn read_body(
    declared_length: Option<usize>,
    mut payload: Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    if declared_length.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("cannot read the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}
/// What a body extractor needs of the request: its media type, and its payload with the limits
/// it is read under.
struct Body {
    media: Option<String>,
    declared_length: Option<usize>,
    limit: usize,
    payload: Payload,
}

impl Body {
    fn of(req: &HttpRequest, payload: &mut Payload) -> Body {
        Body {
            media: media_type(req),
            declared_length: declared_length(req),
            limit: body_limit(req),
            payload: payload.take(),
        }
    }

    /// The whole body, refused as soon as it passes the limit.
    async fn read(self) -> Result<web::Bytes, ApiError> {
        read_body(self.declared_length, self.payload, self.limit).await
    }
}

/// A JSON body is sent as JSON: 415 otherwise.
fn require_json(media: Option<&str>) -> Result<(), ApiError> {
    match media {
        Some(m) if is_json(m) => Ok(()),
        Some(m) => Err(ApiError::UnsupportedMediaType(format!(
            "expected Content-Type application/json, got {m}"
        ))),
        None => Err(ApiError::UnsupportedMediaType(
            "send the body with Content-Type: application/json".into(),
        )),
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Body::of(req, payload);
        Box::pin(async move {
            require_json(body.media.as_deref())?;
            parse_json(&body.read().await?).map(Json)
        })
    }
}

/// A JSON body the operation may go without (its spec says `required: false`, declared as
/// `request_body = Option<T>`): no body, an empty one or `null` is `T::default()`; a body that
/// is there is held to everything [`Json`] checks.
#[derive(Debug)]
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Body::of(req, payload);
        Box::pin(async move {
            let media = body.media.clone();
            let bytes = body.read().await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalJson(T::default()));
            }
            require_json(media.as_deref())?;
            parse_json::<Option<T>>(&bytes).map(|body| OptionalJson(body.unwrap_or_default()))
        })
    }
}
impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Body::of(req, payload);
        Box::pin(async move {
            if body.media.as_deref() != Some("application/x-www-form-urlencoded") {
                return Err(ApiError::UnsupportedMediaType(
                    "send the body with Content-Type: application/x-www-form-urlencoded (RFC 6749)"
                        .into(),
                ));
            }
            let bytes = body.read().await?;
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| ApiError::bad_request("the form body is not UTF-8"))?;
            parse_urlencoded(text).map(Form)
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_urlencoded(req.query_string()).map(Query))
    }
}
