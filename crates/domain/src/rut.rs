//! The Chilean RUT/RUN: a body number and a módulo-11 check digit.

use std::fmt;
use std::str::FromStr;

use crate::error::FieldError;

/// A RUT whose check digit has been verified. Stored canonically as `12345678-5`,
/// displayed as `12.345.678-5`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rut {
    body: u32,
    check: CheckDigit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum CheckDigit {
    Digit(u8),
    K,
}

impl CheckDigit {
    fn as_char(self) -> char {
        match self {
            CheckDigit::Digit(d) => char::from(b'0' + d),
            CheckDigit::K => 'K',
        }
    }
}

/// Bodies below one million are not issued to people; above 99.999.999 they do not exist.
const MIN_BODY: u32 = 1_000_000;
const MAX_BODY: u32 = 99_999_999;

impl Rut {
    /// Accepts `12.345.678-5`, `12345678-5`, `123456785` and `k`/`K` as check digit.
    pub fn parse(input: &str) -> Result<Rut, FieldError> {
        let text = input.trim();
        let mut chars = text.chars();
        let check = match chars.next_back() {
            None => return Err(FieldError::Required),
            Some('k' | 'K') => CheckDigit::K,
            Some(c @ '0'..='9') => CheckDigit::Digit(c as u8 - b'0'),
            Some(_) => {
                return Err(FieldError::Invalid("el dígito verificador debe ser un número o K"));
            }
        };
        let written_body = chars.as_str();
        let body = body_digits(written_body.strip_suffix('-').unwrap_or(written_body))
            .ok_or(FieldError::Invalid("escribe el RUT como 12.345.678-5"))?
            .parse()
            .ok()
            .filter(|b| (MIN_BODY..=MAX_BODY).contains(b))
            .ok_or(FieldError::Invalid("el número del RUT está fuera de rango"))?;
        if Rut::check_digit_for(body) != check {
            return Err(FieldError::Invalid("el dígito verificador no corresponde"));
        }
        Ok(Rut { body, check })
    }

    /// The módulo-11 check digit of a RUT body.
    fn check_digit_for(body: u32) -> CheckDigit {
        let mut rest = body;
        let mut sum = 0u32;
        let mut factor = 2;
        while rest > 0 {
            sum += (rest % 10) * factor;
            rest /= 10;
            factor = if factor == 7 { 2 } else { factor + 1 };
        }
        match 11 - (sum % 11) {
            11 => CheckDigit::Digit(0),
            10 => CheckDigit::K,
            d => CheckDigit::Digit(d as u8),
        }
    }

    /// Builds the valid RUT for a body number; used by generators of test data.
    pub fn from_body(body: u32) -> Option<Rut> {
        (MIN_BODY..=MAX_BODY).contains(&body).then(|| Rut {
            body,
            check: Rut::check_digit_for(body),
        })
    }

    /// The form kept in the database and used as a key: `12345678-5`.
    pub fn canonical(&self) -> String {
        format!("{}-{}", self.body, self.check.as_char())
    }

    /// The RUT as shown to whoever checks a permit: its last three digits and check digit,
    /// `**.***.678-5`, enough to match a cédula in the officer's hand. The leading digits
    /// are hidden, and their count too: RUTs are numbered in order of registration, so they
    /// would tell a stranger roughly how old the holder is.
    pub fn masked(&self) -> String {
        format!("**.***.{:03}-{}", self.body % 1000, self.check.as_char())
    }
}

/// The digits of a written body, plain (`12345678`) or with dots grouping thousands
/// (`12.345.678`); `None` for anything else.
fn body_digits(written: &str) -> Option<String> {
    let mut groups = written.split('.');
    let first = groups.next()?;
    let rest: Vec<&str> = groups.collect();
    let all_digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    let well_grouped = rest.is_empty() || (first.len() <= 3 && rest.iter().all(|g| g.len() == 3));
    (all_digits(first) && rest.iter().all(|g| all_digits(g)) && well_grouped).then(|| written.replace('.', ""))
}

impl fmt::Display for Rut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millions = self.body / 1_000_000;
        let thousands = (self.body / 1_000) % 1_000;
        let units = self.body % 1_000;
        write!(f, "{millions}.{thousands:03}.{units:03}-{}", self.check.as_char())
    }
}

impl FromStr for Rut {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rut::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_three_written_forms() {
        for text in ["12.345.678-5", "12345678-5", "123456785", " 12.345.678-5 "] {
            let rut = Rut::parse(text).unwrap();
            assert_eq!(rut.canonical(), "12345678-5");
            assert_eq!(rut.to_string(), "12.345.678-5");
        }
    }

    #[test]
    fn accepts_k_in_either_case() {
        let lower = Rut::parse("10.000.013-k").unwrap();
        let upper = Rut::parse("10000013K").unwrap();
        assert_eq!(lower, upper);
        assert_eq!(lower.canonical(), "10000013-K");
    }

    #[test]
    fn refuses_a_wrong_check_digit() {
        assert_eq!(
            Rut::parse("12.345.678-9"),
            Err(FieldError::Invalid("el dígito verificador no corresponde"))
        );
    }

    #[test]
    fn refuses_the_case_study_load_test_rut() {
        assert!(Rut::parse("1111111-1").is_err());
    }

    #[test]
    fn refuses_empty_garbage_and_misplaced_dots() {
        assert_eq!(Rut::parse("  "), Err(FieldError::Required));
        for text in [
            "abc",
            "12.34.5678-5",
            "1234.5678-5",
            "12-345678-5",
            "12345678-55",
            "9-9",
            "123.456.789.012-3",
            "12345678-",
        ] {
            assert!(Rut::parse(text).is_err(), "{text} should be refused");
        }
    }

    #[test]
    fn masks_all_but_the_last_three_digits_and_the_check_digit() {
        assert_eq!(Rut::parse("12.345.678-5").unwrap().masked(), "**.***.678-5");
        assert_eq!(Rut::parse("7.654.321-6").unwrap().masked(), "**.***.321-6");
        assert!(Rut::from_body(10_000_004).unwrap().masked().starts_with("**.***.004-"));
    }

    proptest! {
        #[test]
        fn every_body_has_exactly_one_valid_check_digit(body in MIN_BODY..=MAX_BODY) {
            let rut = Rut::from_body(body).unwrap();
            let valid = "0123456789K"
                .chars()
                .filter(|c| Rut::parse(&format!("{body}-{c}")).is_ok())
                .count();
            prop_assert_eq!(valid, 1);
            prop_assert_eq!(Rut::parse(&rut.canonical()), Ok(rut));
        }

        #[test]
        fn display_and_canonical_forms_parse_back(body in MIN_BODY..=MAX_BODY) {
            let rut = Rut::from_body(body).unwrap();
            prop_assert_eq!(Rut::parse(&rut.to_string()), Ok(rut));
            prop_assert_eq!(Rut::parse(&rut.canonical().replace('-', "")), Ok(rut));
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,24}") {
            let _ = Rut::parse(&text);
        }
    }
}
