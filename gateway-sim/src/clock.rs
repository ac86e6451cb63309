//! Event times as the status service prints them: Europe/Rome with milliseconds
//! (`2024-12-28T11:52:56.733+01:00`; status-check `spring.jackson.time-zone=Europe/Rome`,
//! review S15), from the simulator's clock in milliseconds.

use time::{Date, Month, OffsetDateTime, UtcOffset, Weekday};

/// `unix_ms` in Rome's time, as the status service writes it.
pub fn rome_event_date(unix_ms: i64) -> String {
    let utc = OffsetDateTime::from_unix_timestamp_nanos(i128::from(unix_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let local = utc.to_offset(rome_offset(utc));
    let offset = local.offset();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{}{:02}:{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute(),
        local.second(),
        local.millisecond(),
        if offset.is_negative() { '-' } else { '+' },
        offset.whole_hours().abs(),
        offset.minutes_past_hour().abs(),
    )
}

/// CET, or CEST from 01:00 UTC of March's last Sunday to 01:00 UTC of October's last Sunday
/// (the EU rule).
fn rome_offset(utc: OffsetDateTime) -> UtcOffset {
    let year = utc.year();
    let change = |month| {
        last_sunday(year, month)
            .with_hms(1, 0, 0)
            .expect("valid time")
            .assume_utc()
    };
    let summer = utc >= change(Month::March) && utc < change(Month::October);
    UtcOffset::from_hms(if summer { 2 } else { 1 }, 0, 0).expect("valid offset")
}

fn last_sunday(year: i32, month: Month) -> Date {
    let mut day =
        Date::from_calendar_date(year, month, 31).expect("March and October have 31 days");
    while day.weekday() != Weekday::Sunday {
        day = day.previous_day().expect("a day before");
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winter_summer_and_the_changes() {
        // 2024-12-28T10:52:56.733Z (the review's sample, winter).
        assert_eq!(
            rome_event_date(1_735_383_176_733),
            "2024-12-28T11:52:56.733+01:00"
        );
        // 2025-10-10T13:48:38.425Z (summer).
        assert_eq!(
            rome_event_date(1_760_104_118_425),
            "2025-10-10T15:48:38.425+02:00"
        );
        // 2025-03-30T00:59:59.999Z is still winter, one millisecond later summer.
        assert_eq!(
            rome_event_date(1_743_296_399_999),
            "2025-03-30T01:59:59.999+01:00"
        );
        assert_eq!(
            rome_event_date(1_743_296_400_000),
            "2025-03-30T03:00:00.000+02:00"
        );
    }
}
