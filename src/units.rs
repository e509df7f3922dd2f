//! Numbers people type and read: memory sizes, CPU counts, seconds.
//!
//! Sizes follow the JVM's convention (`512m` is 512 MiB): every suffix is binary, with or without
//! the `i` (`512Mi`) and a trailing `b` (`512MB`). Kubernetes writes `512Mi`, the downward API
//! writes plain bytes, Docker users write `512m`; all mean the same number here.

use std::fmt;
use std::time::Duration;

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;
pub const GIB: u64 = 1024 * MIB;
const TIB: u64 = 1024 * GIB;

/// A value a person typed that jwrap cannot use; the text says what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue(pub String);

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadValue {}

/// A positive decimal: digits, optionally one `.` and more digits. No sign, no exponent.
fn parse_positive_decimal(text: &str) -> Option<f64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !digits_ok(whole) || !digits_ok(fraction) || (text.contains('.') && fraction.is_empty()) {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value > 0.0).then_some(value)
}

/// `536870912`, `512k`, `512m`, `512Mi`, `512MB`, `1g`, `1.5Gi`, `2t` → bytes.
///
/// # Errors
/// A `BadValue` saying what was expected, for anything but a positive size of at least a byte.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "the product is checked to be within 1..u64::MAX before the cast; sizes are not \
              exact beyond 2^53 bytes (8 PiB), far above any memory"
)]
pub fn parse_size(text: &str) -> Result<u64, BadValue> {
    let bad = || {
        BadValue(format!(
            "invalid size '{text}': expected a positive number of bytes, optionally with a unit \
             (512m, 512Mi, 1.5g, 1Gi)"
        ))
    };
    let trimmed = text.trim();
    let number_end = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(number_end);
    let multiplier = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "ki" | "kib" => KIB,
        "m" | "mb" | "mi" | "mib" => MIB,
        "g" | "gb" | "gi" | "gib" => GIB,
        "t" | "tb" | "ti" | "tib" => TIB,
        _ => return Err(bad()),
    };
    let value = parse_positive_decimal(number).ok_or_else(bad)?;
    let bytes = value * multiplier as f64;
    if bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// The kernel's smallest CPU quota: 1 ms per period of at most 1 s.
const MIN_CPUS: f64 = 0.001;

/// `2`, `1.5`, `500m` (Kubernetes millicores) → CPUs, at least 0.001.
///
/// # Errors
/// A `BadValue` saying what was expected, outside 0.001 to 1 000 000.
pub fn parse_cpus(text: &str) -> Result<f64, BadValue> {
    let bad = || {
        BadValue(format!(
            "invalid CPU count '{text}': expected a positive number such as 2, 1.5 or 500m"
        ))
    };
    let trimmed = text.trim();
    let (number, divisor) = match trimmed.strip_suffix('m') {
        Some(millis) => (millis, 1000.0),
        None => (trimmed, 1.0),
    };
    let cpus = parse_positive_decimal(number).ok_or_else(bad)? / divisor;
    if cpus > 1_000_000.0 {
        return Err(bad());
    }
    if cpus < MIN_CPUS {
        return Err(BadValue(format!(
            "invalid CPU count '{text}': the smallest CPU limit the kernel enforces is 0.001 \
             (1 ms of CPU time a second)"
        )));
    }
    Ok(cpus)
}

/// `0`, `2`, `0.5` → a duration. Zero is allowed (it means "at once" or "off", per option).
///
/// # Errors
/// A `BadValue` saying what was expected, for anything but a number of seconds.
pub fn parse_seconds(text: &str) -> Result<Duration, BadValue> {
    let bad = || {
        BadValue(format!(
            "invalid number of seconds '{text}': expected a number such as 0, 2 or 0.5"
        ))
    };
    let trimmed = text.trim();
    if trimmed.chars().all(|c| c == '0' || c == '.') && trimmed.contains('0') {
        return if trimmed.matches('.').count() <= 1 && !trimmed.ends_with('.') {
            Ok(Duration::ZERO)
        } else {
            Err(bad())
        };
    }
    let seconds = parse_positive_decimal(trimmed).ok_or_else(bad)?;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|d| d.as_secs() <= 7 * 24 * 3600)
        .ok_or_else(bad)
}

/// A percentage of the memory limit: above 0, at most 1000 (values above 100 exist on purpose,
/// to reproduce an over-sized heap).
///
/// # Errors
/// A `BadValue` saying what was expected, outside (0, 1000].
pub fn parse_percent(text: &str) -> Result<f64, BadValue> {
    let bad = || {
        BadValue(format!(
            "invalid percentage '{text}': expected a number above 0 and at most 1000, such as 75"
        ))
    };
    let trimmed = text.trim().trim_end_matches('%');
    let value = parse_positive_decimal(trimmed).ok_or_else(bad)?;
    if value > 1000.0 {
        return Err(bad());
    }
    Ok(value)
}

/// Bytes as a person reads them: `512 MiB`, `1.5 GiB`, `900 KiB`, `17 B`.
#[must_use]
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "for display, to two decimals: the rounding is the point"
)]
pub fn human_bytes(bytes: u64) -> String {
    let units = [(TIB, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")];
    for (size, name) in units {
        if bytes >= size {
            let value = bytes as f64 / size as f64;
            return if (value - value.round()).abs() < 0.005 {
                format!("{} {name}", value.round() as u64)
            } else {
                format!("{value:.2} {name}")
            };
        }
    }
    format!("{bytes} B")
}

/// A CPU count without a needless fraction: `2`, `1.5`, `0.25`.
#[must_use]
pub fn human_cpus(cpus: f64) -> String {
    let text = format!("{cpus:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "0" && cpus > 0.0 {
        // Below the kernel's smallest quota (1 ms a second); only a fake root holds one.
        return format!("{cpus:e}");
    }
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_every_spelling() {
        assert_eq!(parse_size("536870912"), Ok(536_870_912));
        assert_eq!(parse_size("512m"), Ok(512 * MIB));
        assert_eq!(parse_size("512M"), Ok(512 * MIB));
        assert_eq!(parse_size("512Mi"), Ok(512 * MIB));
        assert_eq!(parse_size("512MB"), Ok(512 * MIB));
        assert_eq!(parse_size("1g"), Ok(GIB));
        assert_eq!(parse_size("1.5Gi"), Ok(GIB + GIB / 2));
        assert_eq!(parse_size("64k"), Ok(64 * KIB));
        assert_eq!(parse_size("2t"), Ok(2 * TIB));
    }

    #[test]
    fn sizes_that_are_refused() {
        for bad in [
            "-1", "0", "12x", "", " ", "m", "1.5.1g", "0.0g", "1e9", "+5", "1.", ".g",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(parse_size("99999999999t").is_err());
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("1.5"), Ok(1.5));
        assert_eq!(parse_cpus("2"), Ok(2.0));
        assert_eq!(parse_cpus("500m"), Ok(0.5));
        for bad in ["-1", "0", "12x", "", "0.0", "nan", "inf", "1e3", "0m"] {
            assert!(parse_cpus(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("0"), Ok(Duration::ZERO));
        assert_eq!(parse_seconds("0.0"), Ok(Duration::ZERO));
        assert_eq!(parse_seconds("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_seconds("0.25"), Ok(Duration::from_millis(250)));
        for bad in ["-1", "x", "", "1s", "0..0", "0.", "99999999999"] {
            assert!(parse_seconds(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn percentages() {
        assert_eq!(parse_percent("75"), Ok(75.0));
        assert_eq!(parse_percent("62.5%"), Ok(62.5));
        assert_eq!(parse_percent("150"), Ok(150.0));
        for bad in ["0", "-5", "1001", "x", ""] {
            assert!(parse_percent(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(512 * MIB), "512 MiB");
        assert_eq!(human_bytes(GIB + GIB / 2), "1.50 GiB");
        assert_eq!(human_bytes(2 * GIB), "2 GiB");
        assert_eq!(human_bytes(1000), "1000 B");
        assert_eq!(human_cpus(1.5), "1.5");
        assert_eq!(human_cpus(2.0), "2");
        assert_eq!(human_cpus(0.25), "0.25");
    }
}
