//! The catalogue of motives a temporary individual permit can be issued for.
//!
//! Modelled on the 2020 "permiso temporal individual" of Chile's Comisaría Virtual: each
//! motive has its own duration, and a few have a weekly cap of their own on top of the
//! general weekly limit. The README documents the table and where it departs from 2020.

use jiff::SignedDuration;

use crate::error::FieldError;

struct Entry {
    code: &'static str,
    label: &'static str,
    minutes: i64,
    weekly_cap: Option<u32>,
    /// Issued only to an employer's workers (`collective`), never asked for by a citizen.
    collective: bool,
}

/// The one table: stable code (API and database), es-CL label, duration, own weekly cap.
static CATALOGUE: [Entry; 11] = [
    Entry {
        code: "compras",
        label: "Compra de insumos básicos (alimentos, farmacia)",
        minutes: 180,
        weekly_cap: None,
        collective: false,
    },
    Entry {
        code: "atencion-medica",
        label: "Atención médica o asistencia a un centro de salud",
        minutes: 720,
        weekly_cap: None,
        collective: false,
    },
    Entry {
        code: "servicios-basicos",
        label: "Pago de servicios básicos y trámites",
        minutes: 180,
        weekly_cap: None,
        collective: false,
    },
    Entry {
        code: "banco",
        label: "Cobro de beneficios o trámites bancarios",
        minutes: 180,
        weekly_cap: None,
        collective: false,
    },
    Entry {
        code: "paseo-mascotas",
        label: "Paseo de mascotas",
        minutes: 30,
        weekly_cap: None,
        collective: false,
    },
    Entry {
        code: "funeral",
        label: "Funeral de un familiar directo",
        minutes: 300,
        weekly_cap: None,
        collective: false,
    },
    Entry {
        code: "asistencia-terceros",
        label: "Asistencia a adultos mayores o personas que requieren cuidado",
        minutes: 180,
        weekly_cap: None,
        collective: false,
    },
    Entry {
        code: "retiro-alimentos",
        label: "Retiro de alimentos en un establecimiento educacional (JUNAEB)",
        minutes: 120,
        weekly_cap: Some(1),
        collective: false,
    },
    Entry {
        code: "donacion-sangre",
        label: "Donación de sangre",
        minutes: 120,
        weekly_cap: Some(1),
        collective: false,
    },
    Entry {
        code: "citacion-judicial",
        label: "Citación de tribunales, fiscalía o policía",
        minutes: 240,
        weekly_cap: None,
        collective: false,
    },
    // The collective permit of 15 June 2020: an employer's, for each worker, 7 days.
    Entry {
        code: "trabajo-colectivo",
        label: "Permiso colectivo de trabajo (otorgado por el empleador)",
        minutes: 7 * 24 * 60,
        weekly_cap: None,
        collective: true,
    },
];

/// One motive of the catalogue; the only way to get one is from the table.
#[derive(Clone, Copy)]
pub struct Motive(&'static Entry);

impl Motive {
    pub fn parse(code: &str) -> Result<Motive, FieldError> {
        let code = code.trim();
        if code.is_empty() {
            return Err(FieldError::Required);
        }
        CATALOGUE
            .iter()
            .find(|e| e.code == code)
            .map(Motive)
            .ok_or(FieldError::Invalid("elige un motivo de la lista"))
    }

    /// Every motive, the collective one included: what a check may meet.
    pub fn all() -> impl Iterator<Item = Motive> {
        CATALOGUE.iter().map(Motive)
    }

    /// The motives a citizen may ask for, in the order a form lists them.
    pub fn individual() -> impl Iterator<Item = Motive> {
        Motive::all().filter(|m| !m.0.collective)
    }

    /// The motive of an employer's collective permit for a worker.
    pub fn collective() -> Motive {
        Motive::all()
            .find(|m| m.0.collective)
            .expect("the catalogue has the collective motive")
    }

    /// Whether it is the collective permit's, which no citizen asks for.
    pub fn is_collective(self) -> bool {
        self.0.collective
    }

    pub fn code(self) -> &'static str {
        self.0.code
    }

    pub fn label(self) -> &'static str {
        self.0.label
    }

    pub fn duration(self) -> SignedDuration {
        SignedDuration::from_mins(self.0.minutes)
    }

    /// How many permits for this motive one RUT may have per week, beyond the general limit.
    pub fn weekly_cap(self) -> Option<u32> {
        self.0.weekly_cap
    }

    /// `3 h`, `30 min`, `1 h 30 min`
    pub fn duration_label(self) -> String {
        duration_label(self.duration())
    }
}

/// A permit's duration in words: `3 h`, `30 min`, `1 h 30 min`.
pub fn duration_label(duration: SignedDuration) -> String {
    let minutes = duration.as_mins();
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

impl PartialEq for Motive {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}

impl Eq for Motive {}

impl std::fmt::Debug for Motive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Motive").field(&self.code()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_url_safe_and_round_trip() {
        let codes: HashSet<_> = Motive::all().map(Motive::code).collect();
        assert_eq!(codes.len(), CATALOGUE.len());
        for motive in Motive::all() {
            assert!(motive.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
            assert_eq!(Motive::parse(motive.code()).unwrap(), motive);
        }
    }

    #[test]
    fn durations_match_the_2020_rules() {
        let minutes = |code| Motive::parse(code).unwrap().duration().as_mins();
        assert_eq!(minutes("compras"), 180);
        assert_eq!(minutes("atencion-medica"), 720);
        assert_eq!(minutes("paseo-mascotas"), 30);
        assert_eq!(minutes("funeral"), 300);
        assert_eq!(
            Motive::collective().duration().as_hours(),
            7 * 24,
            "a collective permit's week"
        );
        assert!(Motive::individual().all(|m| !m.is_collective()));
        assert_eq!(Motive::individual().count() + 1, Motive::all().count());
    }

    #[test]
    fn unknown_and_missing_codes_are_refused() {
        assert_eq!(
            Motive::parse("test_1"),
            Err(FieldError::Invalid("elige un motivo de la lista"))
        );
        assert_eq!(Motive::parse(""), Err(FieldError::Required));
    }

    #[test]
    fn duration_labels_read_naturally() {
        assert_eq!(Motive::parse("paseo-mascotas").unwrap().duration_label(), "30 min");
        assert_eq!(Motive::parse("compras").unwrap().duration_label(), "3 h");
    }
}
