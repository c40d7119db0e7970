//! The calling window of a notification: the local times of day (in the request's time
//! zone) and the weekdays on which it may ring. A window whose end is earlier than its start
//! crosses midnight: it opens on a listed day and closes the next morning. Pure: time comes
//! in as an argument.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Days a window opening can be searched ahead (a week and one day covers every weekday).
const SEARCH_DAYS: i64 = 8;

/// When a notification may ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingWindow {
    start: NaiveTime,
    end: NaiveTime,
    timezone: Tz,
    /// Weekdays on which the window opens (never empty).
    days: Vec<Weekday>,
}

impl CallingWindow {
    /// A window from `start` to `end` local time in `timezone`, opening on `days` (empty:
    /// every day). `start == end` is not a window; callers refuse it.
    pub fn new(start: NaiveTime, end: NaiveTime, timezone: Tz, days: Vec<Weekday>) -> Self {
        let days = if days.is_empty() {
            vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ]
        } else {
            days
        };
        Self {
            start,
            end,
            timezone,
            days,
        }
    }

    fn crosses_midnight(&self) -> bool {
        self.end <= self.start
    }

    /// Whether the window is open at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.timezone);
        let time = local.time();
        let today = local.weekday();
        if self.crosses_midnight() {
            (time >= self.start && self.days.contains(&today))
                || (time < self.end && self.days.contains(&today.pred()))
        } else {
            time >= self.start && time < self.end && self.days.contains(&today)
        }
    }

    /// `now` when the window is open, else its next opening.
    pub fn next_opening(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_open(now) {
            return now;
        }
        let today = now.with_timezone(&self.timezone).date_naive();
        (0..=SEARCH_DAYS)
            .filter_map(|ahead| today.checked_add_signed(Duration::days(ahead)))
            .filter(|date| self.days.contains(&date.weekday()))
            .filter_map(|date| self.opening_on(date))
            .find(|opening| *opening > now)
            .unwrap_or(now)
    }

    /// The instant the window opens on local `date`: its start time, or, when a daylight
    /// saving change skips that time, the first minute after the gap.
    fn opening_on(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        let mut local = date.and_time(self.start);
        // A gap is at most a few hours; step through it a minute at a time.
        for _ in 0..(24 * 60) {
            if let Some(at) = self.timezone.from_local_datetime(&local).earliest() {
                return Some(at.with_timezone(&Utc));
            }
            local += Duration::minutes(1);
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn time(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn berlin(start: &str, end: &str, days: Vec<Weekday>) -> CallingWindow {
        CallingWindow::new(time(start), time(end), chrono_tz::Europe::Berlin, days)
    }

    #[test]
    fn inside_the_window_the_opening_is_now() {
        let window = berlin("09:00", "20:00", Vec::new());
        // 2026-11-23 is a Monday; Berlin is UTC+1 in November.
        let now = utc("2026-11-23T10:00:00Z");
        assert!(window.is_open(now));
        assert_eq!(window.next_opening(now), now);
    }

    #[test]
    fn after_the_end_the_window_opens_next_morning_in_its_time_zone() {
        let window = berlin("09:00", "20:00", Vec::new());
        let now = utc("2026-11-23T19:30:00Z"); // 20:30 in Berlin
        assert!(!window.is_open(now));
        assert_eq!(window.next_opening(now), utc("2026-11-24T08:00:00Z"));
    }

    #[test]
    fn before_the_start_the_window_opens_the_same_day() {
        let window = berlin("09:00", "20:00", Vec::new());
        assert_eq!(
            window.next_opening(utc("2026-11-23T06:00:00Z")),
            utc("2026-11-23T08:00:00Z")
        );
    }

    #[test]
    fn unlisted_days_are_skipped() {
        let window = berlin("09:00", "17:00", vec![Weekday::Mon, Weekday::Tue]);
        // Tuesday 18:00 Berlin: next is Monday 09:00.
        let now = utc("2026-11-24T17:00:00Z");
        assert_eq!(window.next_opening(now), utc("2026-11-30T08:00:00Z"));
        // Saturday noon is closed though inside the hours.
        assert!(!window.is_open(utc("2026-11-28T11:00:00Z")));
    }

    #[test]
    fn a_window_crossing_midnight_stays_open_into_the_next_morning() {
        let window = berlin("22:00", "02:00", vec![Weekday::Fri]);
        // Friday 23:00 Berlin, then Saturday 01:00 Berlin: open.
        assert!(window.is_open(utc("2026-11-27T22:00:00Z")));
        assert!(window.is_open(utc("2026-11-28T00:00:00Z")));
        // Saturday 03:00: closed; Saturday 23:00: closed (Saturday is not listed).
        assert!(!window.is_open(utc("2026-11-28T02:00:00Z")));
        assert!(!window.is_open(utc("2026-11-28T22:00:00Z")));
        assert_eq!(
            window.next_opening(utc("2026-11-28T02:00:00Z")),
            utc("2026-12-04T21:00:00Z")
        );
    }

    #[test]
    fn the_opening_follows_daylight_saving_time() {
        let window = berlin("09:00", "20:00", Vec::new());
        // 2026-03-29: Berlin moves from UTC+1 to UTC+2 at 02:00 local.
        assert_eq!(
            window.next_opening(utc("2026-03-28T21:00:00Z")),
            utc("2026-03-29T07:00:00Z")
        );
    }

    #[test]
    fn an_opening_inside_a_daylight_saving_gap_moves_past_the_gap() {
        let window = berlin("02:30", "05:00", Vec::new());
        // 02:30 does not exist in Berlin on 2026-03-29; the window opens at 03:00 CEST.
        assert_eq!(
            window.next_opening(utc("2026-03-28T22:00:00Z")),
            utc("2026-03-29T01:00:00Z")
        );
    }

    #[test]
    fn other_time_zones_shift_the_opening() {
        let window = CallingWindow::new(
            time("09:00"),
            time("17:00"),
            chrono_tz::America::New_York,
            Vec::new(),
        );
        // 2026-11-23 12:00 UTC is 07:00 in New York (UTC-5).
        assert_eq!(
            window.next_opening(utc("2026-11-23T12:00:00Z")),
            utc("2026-11-23T14:00:00Z")
        );
    }
}
