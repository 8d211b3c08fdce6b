//! Keyset pagination: `?limit=` (default 50, at most 200) and an opaque `cursor`.
//!
//! The cursor encodes the id of the last item returned; ids are time-ordered UUID v7, so the
//! next page is `WHERE id > cursor ORDER BY id LIMIT n`, and a deep page costs what the first
//! one does.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDateTime;

use crate::domain::FieldError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// The validated page request.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub limit: i64,
    pub after: Option<String>,
}

impl PageRequest {
    /// The page a client asked for; an error names the query parameter that is wrong.
    pub fn new(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, FieldError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = cursor.map(decode).transpose()?;
        Ok(PageRequest { limit, after })
    }

    /// Rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the extra row off and returns the cursor of the next page, if any.
    pub fn finish<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> &str) -> (Vec<T>, Option<String>) {
        if rows.len() as i64 > self.limit {
            rows.truncate(self.limit as usize);
            let next = rows.last().map(|row| encode(id(row)));
            (rows, next)
        } else {
            (rows, None)
        }
    }
}

/// A page of a list in time order (sessions by start): the cursor holds the last item's time
/// and id, so the next page is `WHERE (at, id) > cursor`.
#[derive(Debug, Clone)]
pub struct TimedPage {
    pub limit: i64,
    pub after: Option<(NaiveDateTime, String)>,
}

impl TimedPage {
    pub fn new(limit: Option<i64>, cursor: Option<&str>) -> Result<Self, FieldError> {
        let plain = PageRequest::new(limit, None)?;
        let after = cursor.map(decode_timed).transpose()?;
        Ok(TimedPage {
            limit: plain.limit,
            after,
        })
    }

    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    pub fn finish<T>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> (NaiveDateTime, &str),
    ) -> (Vec<T>, Option<String>) {
        if rows.len() as i64 > self.limit {
            rows.truncate(self.limit as usize);
            let next = rows.last().map(|row| {
                let (at, id) = key(row);
                URL_SAFE_NO_PAD.encode(format!("t1:{}:{id}", at.and_utc().timestamp_micros()))
            });
            (rows, next)
        } else {
            (rows, None)
        }
    }
}

fn decode_timed(cursor: &str) -> Result<(NaiveDateTime, String), FieldError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let rest = text.strip_prefix("t1:")?;
            let (micros, id) = rest.split_once(':')?;
            let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
            uuid::Uuid::parse_str(id).ok()?;
            Some((at.naive_utc(), id.to_string()))
        })
        .ok_or_else(|| FieldError::new("cursor", "is not a cursor this API returned"))
}

fn encode(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{id}"))
}

fn decode(cursor: &str) -> Result<String, FieldError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("v1:").map(String::from))
        .filter(|id| uuid::Uuid::parse_str(id).is_ok())
        .ok_or_else(|| FieldError::new("cursor", "is not a cursor this API returned"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_outside_1_to_200_are_refused() {
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(201), None).is_err());
        assert_eq!(PageRequest::new(None, None).unwrap().limit, 50);
    }

    #[test]
    fn a_cursor_round_trips_and_a_forged_one_is_refused() {
        let id = crate::clock::new_id();
        let page = PageRequest::new(Some(1), None).unwrap();
        let (rows, next) = page.finish(vec![id.clone(), "later".into()], |s| s);
        assert_eq!(rows, vec![id.clone()]);
        let again = PageRequest::new(Some(1), next.as_deref()).unwrap();
        assert_eq!(again.after, Some(id));
        assert!(PageRequest::new(None, Some("bm9wZQ")).is_err());
    }

    #[test]
    fn a_timed_cursor_round_trips_and_an_id_cursor_is_not_one() {
        let id = crate::clock::new_id();
        let at = chrono::DateTime::from_timestamp_micros(1_800_000_000_123_456)
            .unwrap()
            .naive_utc();
        let page = TimedPage::new(Some(1), None).unwrap();
        let (_, next) = page.finish(vec![(at, id.clone()), (at, "x".into())], |r| (r.0, &r.1));
        let again = TimedPage::new(Some(1), next.as_deref()).unwrap();
        assert_eq!(again.after, Some((at, id.clone())));
        let (_, plain) = PageRequest::new(Some(1), None)
            .unwrap()
            .finish(vec![id.clone(), id], |s| s);
        assert!(TimedPage::new(None, plain.as_deref()).is_err());
    }
}
