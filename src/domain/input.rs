//! What well-formed input is, for the fields many requests share: names, email addresses, phone
//! numbers, free texts, slugs, languages and time zones. Each check adds a [`FieldError`] with the
//! field's JSON pointer; [`verdict`] turns the collected errors into a result.

use std::net::IpAddr;

use chrono_tz::Tz;
use ipnet::IpNet;

use crate::domain::FieldError;

/// The longest free text a field takes unless it says otherwise.
pub const MAX_TEXT: usize = 2000;

/// `Ok` when nothing was found wrong.
pub fn verdict(errors: Vec<FieldError>) -> Result<(), Vec<FieldError>> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A person's name: not blank, at most 200 characters.
pub fn name(pointer: &str, name: &str, errors: &mut Vec<FieldError>) {
    required_text(pointer, name, 200, errors);
}

/// A text that must say something, within `max` characters.
pub fn required_text(pointer: &str, value: &str, max: usize, errors: &mut Vec<FieldError>) {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        errors.push(FieldError::new(pointer, "must not be empty"));
    } else if trimmed.chars().count() > max {
        errors.push(FieldError::new(
            pointer,
            format!("must be at most {max} characters"),
        ));
    }
}

/// An optional text: when given, it must say something, within `max` characters.
pub fn optional_text(pointer: &str, value: Option<&str>, max: usize, errors: &mut Vec<FieldError>) {
    if let Some(value) = value {
        if value.trim().is_empty() {
            errors.push(FieldError::new(pointer, "must not be empty when given"));
        } else {
            required_text(pointer, value, max, errors);
        }
    }
}

/// A pragmatic email check: one `@`, something on both sides, a dot in the domain, no spaces.
pub fn email(pointer: &str, email: &str, errors: &mut Vec<FieldError>) {
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if !valid {
        errors.push(FieldError::new(pointer, "is not a valid email address"));
    }
}

/// A phone number: 6 to 15 digits, with `+ - ( ) .` or spaces between them.
pub fn phone(pointer: &str, phone: &str, errors: &mut Vec<FieldError>) {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let allowed = phone
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    if !allowed || !(6..=15).contains(&digits) {
        errors.push(FieldError::new(
            pointer,
            "is not a phone number (6 to 15 digits, with + - ( ) . or spaces)",
        ));
    }
}

pub fn time_zone(pointer: &str, zone: &str, errors: &mut Vec<FieldError>) {
    if zone.parse::<Tz>().is_err() {
        errors.push(FieldError::new(
            pointer,
            "is not an IANA time zone (e.g. Europe/Amsterdam)",
        ));
    }
}

fn at_most(pointer: &str, len: usize, max: usize, errors: &mut Vec<FieldError>) {
    if len > max {
        errors.push(FieldError::new(
            pointer,
            format!("must have at most {max} entries"),
        ));
    }
}

/// Lower-case slugs (`technical_background`, `reintegration`), unique, at most `max`.
pub fn slugs(pointer: &str, values: &[String], max: usize, errors: &mut Vec<FieldError>) {
    at_most(pointer, values.len(), max, errors);
    for (i, value) in values.iter().enumerate() {
        let slug = (2..=50).contains(&value.len())
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !slug {
            errors.push(FieldError::new(
                format!("{pointer}/{i}"),
                "must be 2 to 50 characters of a-z, 0-9 and _",
            ));
        } else if values[..i].contains(value) {
            errors.push(FieldError::new(format!("{pointer}/{i}"), "is a duplicate"));
        }
    }
}

/// One ISO 639-1 language code (`nl`, `en`).
pub fn language(pointer: &str, value: &str, errors: &mut Vec<FieldError>) {
    if value.len() != 2 || !value.chars().all(|c| c.is_ascii_lowercase()) {
        errors.push(FieldError::new(
            pointer,
            "must be a two-letter ISO 639-1 code such as nl or en",
        ));
    }
}

/// Networks an operator lists in a setting: comma-separated CIDRs or single addresses (an
/// address is its own network); empty, none. The error names the entry that is neither.
pub fn networks(list: &str) -> Result<Vec<IpNet>, String> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("{s:?} is neither a network (CIDR) nor an address"))
        })
        .collect()
}

/// ISO 639-1 codes, unique, at most `max`.
pub fn languages(pointer: &str, values: &[String], max: usize, errors: &mut Vec<FieldError>) {
    at_most(pointer, values.len(), max, errors);
    for (i, value) in values.iter().enumerate() {
        let at = format!("{pointer}/{i}");
        let before = errors.len();
        language(&at, value, errors);
        if errors.len() == before && values[..i].contains(value) {
            errors.push(FieldError::new(at, "is a duplicate"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointers(check: impl FnOnce(&mut Vec<FieldError>)) -> Vec<String> {
        let mut errors = vec![];
        check(&mut errors);
        errors.into_iter().map(|e| e.pointer).collect()
    }

    #[test]
    fn texts_must_say_something_within_their_length() {
        assert!(pointers(|e| optional_text("/a", None, 5, e)).is_empty());
        assert_eq!(pointers(|e| optional_text("/a", Some("  "), 5, e)), ["/a"]);
        assert_eq!(pointers(|e| required_text("/a", "toolong", 5, e)), ["/a"]);
        assert!(pointers(|e| required_text("/a", " ok ", 5, e)).is_empty());
    }

    #[test]
    fn phone_numbers_have_6_to_15_digits() {
        assert!(pointers(|e| phone("/p", "+31 6 1234 5678", e)).is_empty());
        assert_eq!(pointers(|e| phone("/p", "12345", e)), ["/p"]);
        assert_eq!(pointers(|e| phone("/p", "call me", e)), ["/p"]);
    }

    #[test]
    fn slugs_and_languages_name_the_bad_entry() {
        let values = ["nl".to_string(), "NL".to_string(), "nl".to_string()];
        assert_eq!(
            pointers(|e| languages("/l", &values, 10, e)),
            ["/l/1", "/l/2"]
        );
        let slugs_ = ["technical_background".to_string(), "Tech".to_string()];
        assert_eq!(pointers(|e| slugs("/s", &slugs_, 20, e)), ["/s/1"]);
        assert_eq!(pointers(|e| slugs("/s", &slugs_, 1, e)), ["/s", "/s/1"]);
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert!(pointers(|e| time_zone("/tz", "Europe/Amsterdam", e)).is_empty());
        assert_eq!(pointers(|e| time_zone("/tz", "Mars/Base", e)), ["/tz"]);
    }
}
