//! What a citizen writes about themselves: name and address (the comuna is `comuna`'s).

use crate::error::FieldError;

/// Trims, collapses inner white space and checks length and characters.
fn clean(
    input: &str,
    min: usize,
    max: usize,
    allowed: impl Fn(char) -> bool,
    hint: &'static str,
) -> Result<String, FieldError> {
    if input.chars().any(char::is_control) {
        return Err(FieldError::Invalid("contiene caracteres no permitidos"));
    }
    let text = input.split_whitespace().collect::<Vec<_>>().join(" ");
    let length = text.chars().count();
    if length == 0 {
        Err(FieldError::Required)
    } else if length < min {
        Err(FieldError::TooShort(min))
    } else if length > max {
        Err(FieldError::TooLong(max))
    } else if !text.chars().all(|c| c == ' ' || allowed(c)) {
        Err(FieldError::Invalid(hint))
    } else {
        Ok(text)
    }
}

fn name_char(c: char) -> bool {
    c.is_alphabetic() || matches!(c, '\'' | '’' | '-' | '.')
}

/// A person's full name as written, letters and the punctuation names use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

impl Name {
    pub fn parse(input: &str) -> Result<Name, FieldError> {
        clean(
            input,
            2,
            80,
            name_char,
            "usa solo letras, espacios, apóstrofos y guiones",
        )
        .map(Name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The initial of each word, `J. P. S.`, of the first six at most (a QR code has to
    /// hold them). Not the words' lengths, which would narrow a name down for a stranger
    /// and add nothing for an officer holding the cédula.
    pub fn masked(&self) -> String {
        let words: Vec<&str> = self.0.split(' ').collect();
        let mut initials: Vec<String> = words
            .iter()
            .take(MASKED_WORDS)
            .filter_map(|word| word.chars().next())
            .map(|initial| format!("{initial}."))
            .collect();
        if words.len() > MASKED_WORDS {
            initials.push("…".into());
        }
        initials.join(" ")
    }
}

/// Initials shown of a masked name, at most.
const MASKED_WORDS: usize = 6;

/// A street address; free text, since Chilean addresses take every shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(String);

impl Address {
    pub fn parse(input: &str) -> Result<Address, FieldError> {
        clean(input, 3, 120, |_| true, "").map(Address)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A firm's name (razón social) as it writes it: `Panadería La Espiga SpA`, `A&B Ltda.`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessName(String);

impl BusinessName {
    pub fn parse(input: &str) -> Result<BusinessName, FieldError> {
        clean(input, 2, 100, |_| true, "").map(BusinessName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Who issued a permit for a citizen at a counter (assisted issuance): the operator's
/// name and post as they give it, e.g. `Sgto. 2° R. Soto, 33ª Comisaría Ñuñoa`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator(String);

impl Operator {
    pub fn parse(input: &str) -> Result<Operator, FieldError> {
        clean(input, 3, 100, |_| true, "").map(Operator)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why an operator looks a citizen up: the request behind it, e.g. a prosecutor's order
/// by its number (`Oficio 1234-2026, Fiscalía Local de Ñuñoa`); 3–200 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(input: &str) -> Result<Reason, FieldError> {
        clean(input, 3, 200, |_| true, "").map(Reason)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The judicial case a look-up answers (`RIT 1234-2026`, `RUC 2600123456-7`); up to 60
/// characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseNumber(String);

impl CaseNumber {
    pub fn parse(input: &str) -> Result<CaseNumber, FieldError> {
        clean(input, 3, 60, |_| true, "").map(CaseNumber)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_and_a_case_number_are_short_lines_of_text() {
        assert_eq!(
            Reason::parse("  Oficio 12,  Fiscalía ").unwrap().as_str(),
            "Oficio 12, Fiscalía"
        );
        assert_eq!(Reason::parse(""), Err(FieldError::Required));
        assert_eq!(Reason::parse(&"x".repeat(201)), Err(FieldError::TooLong(200)));
        assert!(Reason::parse("Oficio\n12").is_err());
        assert_eq!(CaseNumber::parse("RIT 1234-2026").unwrap().as_str(), "RIT 1234-2026");
        assert_eq!(CaseNumber::parse(&"1".repeat(61)), Err(FieldError::TooLong(60)));
    }

    #[test]
    fn an_operator_is_named_in_3_to_100_characters_without_control_characters() {
        assert_eq!(
            Operator::parse("  Sgto. Soto,  33ª Comisaría ").unwrap().as_str(),
            "Sgto. Soto, 33ª Comisaría"
        );
        assert_eq!(Operator::parse("ab"), Err(FieldError::TooShort(3)));
        assert!(Operator::parse("Sgto.\nSoto").is_err());
        assert_eq!(Operator::parse(""), Err(FieldError::Required));
    }

    #[test]
    fn names_are_trimmed_and_collapsed() {
        assert_eq!(
            Name::parse("  María   José  O'Higgins ").unwrap().as_str(),
            "María José O'Higgins"
        );
    }

    #[test]
    fn names_refuse_digits_markup_and_control_characters() {
        assert!(Name::parse("user_1").is_err());
        assert!(Name::parse("<script>").is_err());
        assert_eq!(
            Name::parse("Ana\u{0}"),
            Err(FieldError::Invalid("contiene caracteres no permitidos"))
        );
        assert_eq!(Name::parse(""), Err(FieldError::Required));
        assert_eq!(Name::parse("A"), Err(FieldError::TooShort(2)));
        assert_eq!(Name::parse(&"a".repeat(81)), Err(FieldError::TooLong(80)));
    }

    #[test]
    fn names_are_masked_word_by_word() {
        assert_eq!(Name::parse("Juan Pérez").unwrap().masked(), "J. P.");
        assert_eq!(Name::parse("Ángela  de la Fuente").unwrap().masked(), "Á. d. l. F.");
        assert_eq!(Name::parse(&"a ".repeat(40)).unwrap().masked(), "a. a. a. a. a. a. …");
    }

    #[test]
    fn addresses_take_any_printable_text() {
        assert_eq!(
            Address::parse("Av. Libertador B. O'Higgins 1234, depto. 5 #B")
                .unwrap()
                .as_str(),
            "Av. Libertador B. O'Higgins 1234, depto. 5 #B"
        );
        assert_eq!(Address::parse("ab"), Err(FieldError::TooShort(3)));
        assert!(Address::parse("calle\n1").is_err());
    }
}
