//! The registrar's 200 OK: every current binding with its remaining lifetime, plus Date
//! (RFC 3261 §10.3 step 8).

use sip_core::message::{HeaderName, Request, Response, StatusCode};

use crate::cluster::{Binding, UnixMillis};

/// 200 OK listing `bindings` as `Contact: <uri>;expires=N[;q=..]` (one field each) and the
/// current Date.
pub(super) fn bindings_ok(req: &Request, bindings: &[Binding], now: UnixMillis) -> Response {
    let mut response = Response::for_request(req, StatusCode::OK);
    let headers = response.headers_mut();
    for binding in bindings {
        let mut value = format!(
            "<{}>;expires={}",
            binding.contact.as_str(),
            binding.expires_in(now)
        );
        if let Some(q) = binding.q {
            value.push_str(&format!(";q={q}"));
        }
        // RFC 5626 §6: echo the instance and flow identifiers the phone registered with.
        if let Some(instance) = &binding.instance {
            value.push_str(&format!(";+sip.instance={instance}"));
        }
        if let Some(reg_id) = binding.reg_id {
            value.push_str(&format!(";reg-id={reg_id}"));
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
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[usize::try_from(days % 7).unwrap_or(0)],
        day,
        MONTHS[usize::try_from(month - 1).unwrap_or(0)],
        year,
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
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
