//! The registrar's 200 OK: every current binding with its remaining lifetime, plus Date
//! (RFC 3261 §10.3 step 8).

use std::fmt::Write;

use sip_core::message::{HeaderName, Request, Response, StatusCode};

use crate::cluster::{Binding, UnixMillis};

/// 200 OK listing `bindings` as `Contact: <uri>;expires=N[;q=..]` (one field each) and the
/// current Date.
pub(super) fn bindings_ok(req: &Request, bindings: &[Binding], now: UnixMillis) -> Response {
    let mut response = Response::for_request(req, StatusCode::OK);
    let headers = response.headers_mut();
    for binding in bindings {
        let contact = binding.contact.as_str();
        let mut value = String::with_capacity(contact.len() + 24);
        value.push('<');
        value.push_str(contact);
        value.push_str(">;expires=");
        push_decimal(&mut value, u64::from(binding.expires_in(now)), 1);
        if let Some(q) = binding.q {
            let _ = write!(value, ";q={q}");
        }
        // RFC 5626 §6: echo the instance and flow identifiers the phone registered with.
        if let Some(instance) = &binding.instance {
            value.push_str(";+sip.instance=");
            value.push_str(instance);
        }
        if let Some(reg_id) = binding.reg_id {
            value.push_str(";reg-id=");
            push_decimal(&mut value, u64::from(reg_id), 1);
        }
        headers.push(HeaderName::Contact, value);
    }
    headers.push(HeaderName::Date, http_date(now));
    response
}

/// RFC 3261 §20.17 / RFC 1123 date, always GMT: `Mon, 23 Nov 2026 10:40:40 GMT`.
pub(super) fn http_date(now: UnixMillis) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now.as_secs();
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = String::with_capacity(29);
    out.push_str(DAYS[usize::try_from(days % 7).unwrap_or(0)]);
    out.push_str(", ");
    push_decimal(&mut out, day, 2);
    out.push(' ');
    out.push_str(MONTHS[usize::try_from(month - 1).unwrap_or(0)]);
    out.push(' ');
    push_decimal(&mut out, year, 1);
    out.push(' ');
    push_decimal(&mut out, of_day / 3600, 2);
    out.push(':');
    push_decimal(&mut out, of_day % 3600 / 60, 2);
    out.push(':');
    push_decimal(&mut out, of_day % 60, 2);
    out.push_str(" GMT");
    out
}

/// Appends `n` in decimal, zero-padded to at least `width` digits (what `{:0width$}` prints,
/// without the formatting machinery on the per-REGISTER path).
fn push_decimal(out: &mut String, mut n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    while n > 0 || len < width.max(1) {
        digits[len] = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
    }
    for &d in digits[..len].iter().rev() {
        out.push(char::from(d));
    }
}

/// Year, month (1-12) and day (1-31) of the proleptic Gregorian calendar `days` after
/// 1970-01-01, by counting whole 400-year eras from 0000-03-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // 719_468 days from 0000-03-01 to 1970-01-01; an era is 146_097 days.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_zero_padded_to_the_width_and_never_cut() {
        let mut out = String::new();
        for (n, width) in [(0, 1), (7, 2), (42, 2), (3600, 1), (u64::MAX, 2)] {
            push_decimal(&mut out, n, width);
            out.push(' ');
        }
        assert_eq!(out, format!("0 07 42 3600 {} ", u64::MAX));
    }

    #[test]
    fn date_header_uses_rfc_1123_format_in_gmt() {
        assert_eq!(http_date(UnixMillis(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            http_date(UnixMillis(1_795_430_440_000)),
            "Mon, 23 Nov 2026 10:40:40 GMT"
        );
        // Leap day.
        assert_eq!(
            http_date(UnixMillis(951_782_400_000)),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            http_date(UnixMillis(1_704_067_199_999)),
            "Sun, 31 Dec 2023 23:59:59 GMT"
        );
    }
}
