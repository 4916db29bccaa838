//! Parsing what the command line takes beyond clap's own types: points in time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time given as RFC 3339 or as a duration before now, in ms since the Unix
/// epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since(pub u64);

/// `2026-12-03T07:00:00Z` (RFC 3339; a missing offset means UTC) or `2h` / `30m` / `1d 2h`
/// (that long ago).
pub fn parse_since(text: &str) -> Result<Since, String> {
    let at = match humantime::parse_rfc3339_weak(text) {
        Ok(at) => at,
        Err(_) => {
            let ago = humantime::parse_duration(text).map_err(|_| {
                format!(
                    "{text:?} is neither an RFC 3339 time (2026-12-03T07:00:00Z) nor a \
                     duration ago (2h, 30m)"
                )
            })?;
            SystemTime::now()
                .checked_sub(ago)
                .ok_or_else(|| format!("{text:?} reaches back before 1970"))?
        }
    };
    let ms = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_millis();
    Ok(Since(u64::try_from(ms).unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_durations_ago() {
        assert_eq!(
            parse_since("2024-12-03T07:00:00Z"),
            Ok(Since(1_733_209_200_000))
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let Since(two_hours_ago) = parse_since("2h").expect("a duration");
        assert!(now - two_hours_ago >= 7_200_000 && now - two_hours_ago < 7_260_000);
        assert!(parse_since("yesterday-ish").is_err());
    }
}
