//! Telephone numbers through the `phonenumber` crate: E.164 normalization and the region of
//! a number. Pure.

use phonenumber::country::Id as Region;
use phonenumber::metadata::{DATABASE, Metadata};
use phonenumber::{Mode, PhoneNumber};

/// `number` in E.164 (`+12125551234`), read as a national number of `region` unless it
/// already carries a country code (`+44...`, or an international prefix such as `011`).
/// `None` when it is not a phone number or its length is not one the numbering plan allows
/// (so extensions such as `1001` are not taken for numbers); the dialplan then leaves the
/// destination unchanged.
pub fn normalize(number: &str, region: Region) -> Option<String> {
    let parsed = phonenumber::parse(Some(region), number).ok()?;
    let plan = numbering_plan(&parsed)?;
    let digits = u16::try_from(parsed.national().to_string().len()).ok()?;
    let d = plan.descriptors();
    let possible = [
        Some(d.general()),
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
    ]
    .into_iter()
    .flatten()
    .any(|desc| desc.possible_length().contains(&digits));
    possible.then(|| parsed.format().mode(Mode::E164).to_string())
}

/// The region of an E.164 number (`+` then digits); a number without `+` has none.
pub fn region_of(number: &str) -> Option<Region> {
    if !number.starts_with('+') {
        return None;
    }
    let parsed = phonenumber::parse(None, number).ok()?;
    numbering_plan(&parsed)?.id().parse().ok()
}

/// The plan of the region whose patterns claim the number; for numbers no region claims
/// (fictional 555 numbers), the plan of their country code's main region.
fn numbering_plan(number: &PhoneNumber) -> Option<&'static Metadata> {
    number.metadata(&DATABASE).or_else(|| {
        let regions = DATABASE.by_code(&number.code().value())?;
        let main = regions.iter().find(|m| m.is_main_country_for_code());
        main.or(regions.first()).copied()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn national_numbers_become_e164_in_the_given_region() {
        assert_eq!(
            normalize("2125551234", Region::US).as_deref(),
            Some("+12125551234")
        );
        assert_eq!(
            normalize("020 7123 4567", Region::GB).as_deref(),
            Some("+442071234567")
        );
        assert_eq!(
            normalize("+442071234567", Region::US).as_deref(),
            Some("+442071234567")
        );
    }

    #[test]
    fn extensions_and_text_are_not_numbers() {
        for n in ["1001", "911", "12", "abc", ""] {
            assert_eq!(normalize(n, Region::US), None, "{n}");
        }
    }

    #[test]
    fn regions_come_from_e164_numbers_only() {
        assert_eq!(region_of("+12125551234"), Some(Region::US));
        assert_eq!(region_of("+14165551234"), Some(Region::CA));
        assert_eq!(region_of("+15551230001"), Some(Region::US));
        assert_eq!(region_of("+442071234567"), Some(Region::GB));
        assert_eq!(region_of("2125551234"), None);
        assert_eq!(region_of("+999"), None);
    }
}
