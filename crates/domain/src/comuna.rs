//! Chile's 346 comunas and their regions: the catalogue a citizen's comuna must be in,
//! because the rules (a comuna's Paso a Paso phase) and the operators' searches are by
//! comuna, and a comuna typed freely ("Nunoa", "ÑUÑOA", "nuñoa") would be a different one
//! each time.
//!
//! The list is `data/comunas.csv`: each comuna's Código Único Territorial (CUT, SUBDERE's
//! code since Decreto 1115 of 2018, which added the Ñuble region), its name and its region,
//! taken from the clregions data package (github.com/piperubio/clregions, MIT, commit
//! 3df0e15, itself built from the BCN's and SUBDERE's tables); see `data/NOTICE`.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::error::FieldError;

/// One comuna of the catalogue.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    code: &'static str,
    name: &'static str,
    region: &'static str,
}

struct Catalogue {
    /// By CUT, as the file lists them.
    entries: Vec<Entry>,
    /// Folded name (see `fold`) or CUT → position in `entries`.
    index: HashMap<String, usize>,
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| {
    let entries: Vec<Entry> = include_str!("../data/comunas.csv")
        .lines()
        .skip(1)
        .map(|line| {
            let mut fields = line.split(',');
            let mut next = || fields.next().expect("data/comunas.csv has four columns");
            let (code, name, _region_code, region) = (next(), next(), next(), next());
            Entry { code, name, region }
        })
        .collect();
    let mut index = HashMap::with_capacity(entries.len() * 2);
    for (at, entry) in entries.iter().enumerate() {
        index.insert(fold(entry.name), at);
        index.insert(entry.code.to_owned(), at);
    }
    Catalogue { entries, index }
});

/// A name as people type it, reduced to what tells comunas apart: lower case, no accents
/// or tilde (ñ as n), letters and digits only, single spaces.
fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        let plain = match c {
            'á' | 'à' | 'â' | 'ä' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            c if c.is_alphanumeric() => c,
            c if c.is_whitespace() || c == '-' => ' ',
            _ => continue,
        };
        if plain != ' ' || !(folded.is_empty() || folded.ends_with(' ')) {
            folded.push(plain);
        }
    }
    folded.trim_end().to_owned()
}

/// A comuna of the catalogue, found by its name however it is accented or capitalised, or
/// by its CUT; it shows as the catalogue writes it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Comuna(&'static Entry);

impl std::fmt::Debug for Comuna {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.name)
    }
}

impl Comuna {
    pub fn parse(input: &str) -> Result<Comuna, FieldError> {
        if input.chars().any(char::is_control) {
            return Err(FieldError::Invalid("contiene caracteres no permitidos"));
        }
        let folded = fold(input);
        if folded.is_empty() {
            return Err(FieldError::Required);
        }
        let catalogue = &*CATALOGUE;
        match catalogue.index.get(&folded) {
            Some(&at) => Ok(Comuna(&catalogue.entries[at])),
            None => Err(FieldError::Invalid(
                "no es una comuna de Chile: escríbela como en el listado, por ejemplo Ñuñoa",
            )),
        }
    }

    /// Every comuna, by CUT (so by region).
    pub fn all() -> impl Iterator<Item = Comuna> {
        CATALOGUE.entries.iter().map(Comuna)
    }

    /// Its name as the catalogue writes it (`Ñuñoa`).
    pub fn as_str(&self) -> &'static str {
        self.0.name
    }

    /// Its Código Único Territorial (`13120`).
    pub fn code(&self) -> &'static str {
        self.0.code
    }

    /// Its region's short name (`Metropolitana de Santiago`).
    pub fn region(&self) -> &'static str {
        self.0.region
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_catalogue_holds_chiles_346_comunas_in_16_regions() {
        let all: Vec<Comuna> = Comuna::all().collect();
        assert_eq!(all.len(), 346);
        let regions: HashSet<&str> = all.iter().map(Comuna::region).collect();
        assert_eq!(regions.len(), 16);
        for comuna in &all {
            assert!(
                comuna.code().len() == 5 && comuna.code().bytes().all(|b| b.is_ascii_digit()),
                "{comuna:?}"
            );
            // Each folded name finds its own comuna: no two fold alike.
            assert_eq!(Comuna::parse(comuna.as_str()), Ok(*comuna));
            assert_eq!(Comuna::parse(comuna.code()), Ok(*comuna));
        }
        let chillan = Comuna::parse("Chillán").unwrap();
        assert_eq!((chillan.code(), chillan.region()), ("16101", "Ñuble"));
    }

    #[test]
    fn a_comuna_is_found_however_it_is_typed() {
        for typed in ["Ñuñoa", "ñuñoa", "NUNOA", "  Nuñoa ", "13120"] {
            assert_eq!(Comuna::parse(typed).unwrap().as_str(), "Ñuñoa", "{typed:?}");
        }
        assert_eq!(Comuna::parse("Maipu").unwrap().as_str(), "Maipú");
        assert_eq!(Comuna::parse("ohiggins").unwrap().as_str(), "O'Higgins");
        assert_eq!(Comuna::parse("padre las casas").unwrap().code(), "09112");
    }

    #[test]
    fn what_is_no_comuna_is_refused() {
        assert_eq!(Comuna::parse("  "), Err(FieldError::Required));
        assert!(matches!(Comuna::parse("Springfield"), Err(FieldError::Invalid(_))));
        assert!(matches!(Comuna::parse("1234"), Err(FieldError::Invalid(_))));
        assert!(matches!(Comuna::parse("Ñuñoa\u{0}"), Err(FieldError::Invalid(_))));
    }
}
