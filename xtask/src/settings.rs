//! What the supervisor reads from the environment: a value that is set and not blank, or a
//! default; a bad number stops the command, naming its variable.

use std::ops::RangeInclusive;

use crate::error::Error;

pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn or(name: &str, default: &str) -> String {
    var(name).unwrap_or_else(|| default.to_owned())
}

/// A whole number within `valid`, or `default` when unset.
pub fn number(name: &'static str, default: u16, valid: RangeInclusive<u16>) -> Result<u16, Error> {
    match var(name) {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|n| valid.contains(n))
            .ok_or_else(|| {
                Error::Failed(format!(
                    "{name}={text:?} is not a whole number from {} to {}",
                    valid.start(),
                    valid.end()
                ))
            }),
    }
}
