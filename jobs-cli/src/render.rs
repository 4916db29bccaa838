//! Human output: aligned tables, times, and writing to stdout (a closed pipe ends the
//! command quietly instead of panicking).

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Writes `text` and a newline to stdout.
pub fn line(text: impl std::fmt::Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    out.flush()?;
    Ok(())
}

/// Writes `value` as one line of JSON to stdout.
pub fn json(value: &impl Serialize) -> anyhow::Result<()> {
    line(serde_json::to_string(value)?)
}

/// Rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `ms` since the epoch as UTC RFC 3339 to the second.
pub fn time(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// `ms` since the epoch relative to now: `3m ago`, `in 2h`.
pub fn relative(ms: u64) -> String {
    let now = now_ms();
    let (delta, past) = if ms <= now {
        (now - ms, true)
    } else {
        (ms - now, false)
    };
    let secs = delta / 1000;
    let rough = match secs {
        0 => return "now".to_owned(),
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    };
    if past {
        format!("{rough} ago")
    } else {
        format!("in {rough}")
    }
}

/// A time for humans: RFC 3339, how far from now, and the raw ms.
pub fn full_time(ms: u64) -> String {
    format!("{} ({}) [{ms}]", time(ms), relative(ms))
}

/// Now, in ms since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let t = table(
            &["a", "bb"],
            &[vec!["xxx".into(), "y".into()], vec!["z".into(), "w".into()]],
        );
        assert_eq!(t, "a    bb\nxxx  y\nz    w");
    }

    #[test]
    fn times_read_well() {
        assert_eq!(time(1_733_209_200_000), "2024-12-03T07:00:00Z");
        assert!(relative(now_ms() - 180_000).ends_with("m ago"));
    }
}
