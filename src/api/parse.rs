//! Parsing what requests carry: JSON bodies, form bodies and query strings, into typed values or
//! a 400 that points at the field (an unknown field, a missing field, a wrong type, malformed
//! JSON at its line and column, a NUL character).

use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Turns serde_path_to_error's path into a JSON pointer. Where the parser lost its way (a
/// segment it cannot name, e.g. in the middle of malformed JSON) the pointer stops at the
/// nearest location it can name.
fn pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => pointer.push_str(&format!("/{index}")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push('/');
                pointer.push_str(&escape(key));
            }
            Segment::Unknown => break,
        }
    }
    pointer
}

/// The pointer of the first string (or key) in `value` that holds a NUL character.
fn nul_at(value: &serde_json::Value, at: &str) -> Option<String> {
    match value {
        serde_json::Value::String(s) => s.contains('\0').then(|| at.to_string()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_at(v, &format!("{at}/{i}"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(k, v)| {
            let here = format!("{at}/{}", escape(k));
            if k.contains('\0') {
                Some(here)
            } else {
                nul_at(v, &here)
            }
        }),
        _ => None,
    }
}

const NUL_REFUSED: &str = "must not contain the NUL character (U+0000)";

/// A NUL character (`\u0000`) is refused wherever a string is taken: PostgreSQL cannot store
/// it, and no field of this API means one.
fn refuse_nul_in_json(body: &[u8]) -> Result<(), ApiError> {
    let escaped = body
        .windows(6)
        .any(|w| w[0] == b'\\' && w[1..].eq_ignore_ascii_case(b"u0000"));
    if !escaped {
        return Ok(());
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => match nul_at(&value, "") {
            Some(at) => Err(ApiError::invalid_field(
                if at.is_empty() { "/".into() } else { at },
                NUL_REFUSED,
            )),
            None => Ok(()),
        },
        // Malformed: the parse below says where.
        Err(_) => Ok(()),
    }
}

/// The field a serde message names in backticks ("unknown field `x`", "missing field `x`").
fn named_field(message: &str) -> Option<&str> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?;
    rest.split('`').next()
}

/// A data error at `path`: the pointer names the offending field itself.
fn shape_error(path: &serde_path_to_error::Path, message: &str) -> ApiError {
    let mut at = pointer(path);
    let detail = match named_field(message) {
        Some(field) => {
            // serde_path_to_error's path ends at the unknown field itself, but at the object
            // that lacks a missing one.
            if !at.ends_with(&format!("/{field}")) {
                at = format!("{at}/{field}");
            }
            if message.starts_with("unknown") {
                "is not a known field".to_string()
            } else {
                "is required".to_string()
            }
        }
        None => message.to_string(),
    };
    let at = if at.is_empty() { "/".to_string() } else { at };
    ApiError::invalid_field(at, detail)
}

pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_field(
            "/",
            "the body is empty; send a JSON object",
        ));
    }
    refuse_nul_in_json(body)?;
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let (at, inner) = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(value) => match deserializer.end() {
            Ok(()) => return Ok(value),
            Err(trailing) => (String::new(), trailing),
        },
        Err(error) => {
            let path = error.path().clone();
            let inner = error.into_inner();
            if inner.classify() == Category::Data {
                let message = inner.to_string();
                let message = message
                    .rfind(" at line ")
                    .map_or(message.as_str(), |i| &message[..i]);
                return Err(shape_error(&path, message));
            }
            (pointer(&path), inner)
        }
    };
    let position = format!("line {}, column {}", inner.line(), inner.column());
    let message = inner.to_string();
    let message = message
        .rfind(" at line ")
        .map_or(message.as_str(), |i| &message[..i]);
    Err(ApiError::BadRequest {
        detail: format!("malformed JSON at {position}: {message}"),
        errors: vec![FieldError::new(
            if at.is_empty() { "/".to_string() } else { at },
            format!("malformed JSON at {position}: {message}"),
        )],
    })
}

pub fn parse_urlencoded<T: DeserializeOwned>(input: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(input.as_bytes());
    if let Some((name, _)) = pairs
        .clone()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::invalid_field(
            name.replace('\0', "\\0"),
            NUL_REFUSED,
        ));
    }
    let deserializer = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize::<_, T>(deserializer).map_err(|error| {
        let path = error.path().clone();
        let message = error.into_inner().to_string();
        // Parameters are named plainly, not as pointers.
        match shape_error(&path, &message) {
            ApiError::BadRequest { errors, .. } => {
                let errors: Vec<FieldError> = errors
                    .into_iter()
                    .map(|e| FieldError::new(e.pointer.trim_start_matches('/'), e.detail))
                    .collect();
                ApiError::BadRequest {
                    detail: errors
                        .iter()
                        .map(|e| format!("{}: {}", e.pointer, e.detail))
                        .collect::<Vec<_>>()
                        .join("; "),
                    errors,
                }
            }
            other => other,
        }
    })
}

/// For a date-time query parameter: an error that says what is expected.
pub fn rfc3339<'de, D>(deserializer: D) -> Result<Option<chrono::DateTime<chrono::Utc>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    chrono::DateTime::parse_from_rfc3339(&text)
        .map(|t| Some(t.with_timezone(&chrono::Utc)))
        .map_err(|_| {
            serde::de::Error::custom(
                "must be an RFC 3339 date-time with a time zone, e.g. 2026-11-23T10:00:00Z",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        code: String,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default)]
        items: Vec<Inner>,
    }

    fn first_pointer(error: ApiError) -> String {
        match error {
            ApiError::BadRequest { errors, .. } => errors[0].pointer.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unknown_field_is_named_by_its_pointer() {
        let error =
            parse_json::<Body>(br#"{"name":"a","items":[{"code":"x","colour":1}]}"#).unwrap_err();
        assert_eq!(first_pointer(error), "/items/0/colour");
    }

    #[test]
    fn a_missing_field_and_a_wrong_type_are_named() {
        assert_eq!(
            first_pointer(parse_json::<Body>(b"{}").unwrap_err()),
            "/name"
        );
        assert_eq!(
            first_pointer(parse_json::<Body>(br#"{"name":3}"#).unwrap_err()),
            "/name"
        );
    }

    #[test]
    fn malformed_json_names_the_position() {
        match parse_json::<Body>(b"{\"name\": \"a\",,}").unwrap_err() {
            ApiError::BadRequest { detail, .. } => {
                assert!(detail.contains("line 1, column 14"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_query_parameters_are_refused() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Params {
            limit: Option<u32>,
        }
        let error = parse_urlencoded::<Params>("limt=3").unwrap_err();
        assert_eq!(first_pointer(error), "limt");
    }

    #[test]
    fn malformed_json_points_at_the_nearest_valid_location() {
        match parse_json::<Body>(br#"{"items": [{"code": "a",,}]}"#).unwrap_err() {
            ApiError::BadRequest { errors, .. } => {
                assert_eq!(errors[0].pointer, "/items/0");
                assert!(
                    errors[0].detail.contains("key must be a string"),
                    "{errors:?}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_nul_character_is_refused_where_it_is() {
        let error = parse_json::<Body>(br#"{"name":"a","items":[{"code":"x\u0000y"}]}"#);
        assert_eq!(first_pointer(error.unwrap_err()), "/items/0/code");
        let escaped_backslash = parse_json::<Body>(br#"{"name":"a\\u0000"}"#);
        assert!(
            escaped_backslash.is_ok(),
            "a backslash and the text u0000 is fine"
        );
        let form = parse_urlencoded::<std::collections::HashMap<String, String>>("u=a%00b");
        assert_eq!(first_pointer(form.unwrap_err()), "u");
    }

    #[test]
    fn a_bad_date_time_parameter_says_what_it_expects() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Params {
            #[serde(default, deserialize_with = "rfc3339")]
            updated_since: Option<chrono::DateTime<chrono::Utc>>,
        }
        match parse_urlencoded::<Params>("updated_since=yesterday").unwrap_err() {
            ApiError::BadRequest { detail, errors } => {
                assert_eq!(errors[0].pointer, "updated_since");
                assert!(
                    detail.starts_with("updated_since: must be an RFC 3339"),
                    "{detail}"
                );
            }
            other => panic!("{other:?}"),
        }
        let ok = parse_urlencoded::<Params>("updated_since=2026-11-23T10:00:00%2B01:00").unwrap();
        assert_eq!(
            ok.updated_since.unwrap().to_rfc3339(),
            "2026-11-23T09:00:00+00:00"
        );
    }
}
