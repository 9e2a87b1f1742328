//! Collective permits (from 15 June 2020): an employer asks for its workers, one permit
//! each, valid 7 days, from a spreadsheet. Here the spreadsheet is read: its header, then
//! each worker on their own line, so that the report can say what is wrong where.

use crate::citizen::{Address, BusinessName, Name};
use crate::comuna::Comuna;
use crate::error::FieldError;
use crate::motive::Motive;
use crate::permit::PermitRequest;
use crate::rut::Rut;

/// 1,000 workers of some 100 bytes each, with room.
pub const MAX_BYTES: usize = 256 * 1024;
/// The most workers one upload holds; a larger firm sends several files.
pub const MAX_WORKERS: usize = 1_000;
/// The header, as the form's sample file writes it.
pub const HEADER: [&str; 4] = ["rut", "nombre", "comuna", "direccion"];

/// Who asks for the workers' permits: the firm, by its RUT and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employer {
    pub rut: Rut,
    pub name: BusinessName,
}

/// A worker's line, every field valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// The line in the file, header included, as a spreadsheet numbers it.
    pub line: usize,
    pub rut: Rut,
    pub name: Name,
    /// The workplace's comuna: its phase decides whether a permit is needed.
    pub comuna: Comuna,
    /// The workplace's address.
    pub address: Address,
}

impl Worker {
    /// The request of the worker's collective permit: at their workplace.
    pub fn request(self) -> PermitRequest {
        PermitRequest {
            name: self.name,
            rut: self.rut,
            motive: Motive::collective(),
            address: self.address,
            comuna: self.comuna,
        }
    }
}

/// A line that is no worker, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub line: usize,
    /// The RUT as the file wrote it (at most 20 characters), so the report can be matched
    /// to the spreadsheet.
    pub rut: String,
    pub problem: String,
}

/// One line of the spreadsheet, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row {
    Worker(Worker),
    Refused(Refused),
}

/// A file that is not a spreadsheet of workers at all: nothing in it is read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("el archivo pesa más de {} KiB; divide la nómina en varios archivos", MAX_BYTES / 1024)]
    TooLarge,
    #[error("el archivo no está en UTF-8: guárdalo como «CSV UTF-8 (delimitado por comas)»")]
    NotUtf8,
    #[error("la primera línea debe ser «rut,nombre,comuna,direccion»")]
    Header,
    #[error("el archivo no tiene trabajadores después de la primera línea")]
    Empty,
    #[error("el archivo tiene más de {MAX_WORKERS} trabajadores; divide la nómina en varios archivos")]
    TooMany,
}

/// Reads a spreadsheet of workers, comma- or semicolon-separated (as a spreadsheet in
/// Chile saves it), quotes allowed: every line, a worker or why not. A worker whose RUT
/// came on an earlier line is refused as a repeat.
pub fn parse_table(bytes: &[u8]) -> Result<Vec<Row>, TableError> {
    if bytes.len() > MAX_BYTES {
        return Err(TableError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| TableError::NotUtf8)?;
    let text = text.trim_start_matches('\u{feff}');
    let first = text.lines().next().unwrap_or_default();
    let delimiter = if first.contains(';') { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = reader.records();
    let header = records.next().and_then(Result::ok).ok_or(TableError::Header)?;
    let header: Vec<String> = header.iter().map(str::to_lowercase).collect();
    if header != HEADER {
        return Err(TableError::Header);
    }
    // The reader counts a run of blank lines as one, and a record's position can be where
    // such a run begins: a line is numbered by where its first character is.
    let line_at = |byte: u64| {
        let byte = usize::try_from(byte).unwrap_or(usize::MAX).min(text.len());
        let start = text.as_bytes()[byte..]
            .iter()
            .position(|&b| b != b'\n' && b != b'\r')
            .map_or(text.len(), |skipped| byte + skipped);
        text.as_bytes()[..start].iter().filter(|&&b| b == b'\n').count() + 1
    };
    let mut rows: Vec<Row> = Vec::new();
    for record in records {
        let (line, fields) = match record {
            Ok(record) => (
                record.position().map_or(0, |p| line_at(p.byte())),
                record.iter().map(str::to_owned).collect::<Vec<_>>(),
            ),
            Err(error) => {
                let line = error.position().map_or(0, |p| line_at(p.byte()));
                rows.push(Row::Refused(refused(
                    line,
                    "",
                    "la línea no se puede leer como CSV".into(),
                )));
                continue;
            }
        };
        if fields.iter().all(String::is_empty) {
            continue;
        }
        if rows.len() == MAX_WORKERS {
            return Err(TableError::TooMany);
        }
        let row = match worker(line, &fields) {
            Ok(worker) => match rows.iter().find_map(|row| match row {
                Row::Worker(earlier) if earlier.rut == worker.rut => Some(earlier.line),
                _ => None,
            }) {
                Some(earlier) => Row::Refused(refused(
                    line,
                    &fields[0],
                    format!("repite al trabajador de la línea {earlier}"),
                )),
                None => Row::Worker(worker),
            },
            Err(problem) => Row::Refused(refused(line, fields.first().map_or("", String::as_str), problem)),
        };
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(TableError::Empty);
    }
    Ok(rows)
}

fn refused(line: usize, rut: &str, problem: String) -> Refused {
    Refused {
        line,
        rut: rut.chars().take(20).collect(),
        problem,
    }
}

/// Every field of a line, or what is wrong with each, named as the header names it.
fn worker(line: usize, fields: &[String]) -> Result<Worker, String> {
    let [rut, name, comuna, address] = fields else {
        return Err(format!(
            "tiene {} columnas y deben ser 4 ({})",
            fields.len(),
            HEADER.join(",")
        ));
    };
    let mut problems = Vec::new();
    let mut field = |name: &str, error: FieldError| problems.push(format!("{name}: {error}"));
    let rut = Rut::parse(rut).map_err(|e| field("rut", e)).ok();
    let name = Name::parse(name).map_err(|e| field("nombre", e)).ok();
    let comuna = Comuna::parse(comuna).map_err(|e| field("comuna", e)).ok();
    let address = Address::parse(address).map_err(|e| field("direccion", e)).ok();
    match (rut, name, comuna, address) {
        (Some(rut), Some(name), Some(comuna), Some(address)) => Ok(Worker {
            line,
            rut,
            name,
            comuna,
            address,
        }),
        _ => Err(problems.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(lines: &[&str]) -> Vec<u8> {
        format!("rut,nombre,comuna,direccion\n{}\n", lines.join("\n")).into_bytes()
    }

    fn problem(row: &Row) -> Option<(usize, &str)> {
        match row {
            Row::Refused(refused) => Some((refused.line, refused.problem.as_str())),
            Row::Worker(_) => None,
        }
    }

    #[test]
    fn workers_read_with_quotes_and_either_separator() {
        let rows = parse_table(&table(&[
            "12.345.678-5,Juana Pérez Soto,Ñuñoa,\"Av. Grecia 1234, depto. 5\"",
            "",
            "7654321-6, Tomás Aravena , maipu , Los Aromos 55",
        ]))
        .unwrap();
        assert_eq!(rows.len(), 2);
        let Row::Worker(second) = &rows[1] else {
            panic!("{rows:?}")
        };
        assert_eq!(
            (second.line, second.comuna.as_str(), second.name.as_str()),
            (4, "Maipú", "Tomás Aravena")
        );
        let Row::Worker(first) = &rows[0] else {
            panic!("{rows:?}")
        };
        assert_eq!(first.address.as_str(), "Av. Grecia 1234, depto. 5");
        let semicolons =
            "\u{feff}RUT;Nombre;Comuna;Direccion\r\n12.345.678-5;Juana Pérez;Ñuñoa;Av. Grecia 1234, depto. 5\r\n";
        assert!(matches!(
            &parse_table(semicolons.as_bytes()).unwrap()[0],
            Row::Worker(_)
        ));
    }

    #[test]
    fn each_bad_line_is_named_with_what_is_wrong_and_a_repeat_is_refused() {
        let rows = parse_table(&table(&[
            "12.345.678-5,Juana Pérez Soto,Ñuñoa,Av. Grecia 1234",
            "12.345.678-9,Pedro Soto,Ñuñoa,Av. Grecia 1234",
            "12345678-5,Juana Pérez Soto,Ñuñoa,Av. Grecia 1234",
            "7654321-6,Tomás,Gotham,",
            "7654321-6,Tomás",
        ]))
        .unwrap();
        let problems: Vec<_> = rows.iter().map(problem).collect();
        assert_eq!(problems[0], None);
        assert_eq!(problems[1], Some((3, "rut: el dígito verificador no corresponde")));
        assert_eq!(problems[2], Some((4, "repite al trabajador de la línea 2")));
        let (line, both) = problems[3].unwrap();
        assert_eq!(line, 5);
        assert!(both.starts_with("comuna: ") && both.contains("; direccion: "), "{both}");
        assert_eq!(
            problems[4],
            Some((6, "tiene 2 columnas y deben ser 4 (rut,nombre,comuna,direccion)"))
        );
    }

    #[test]
    fn a_file_that_is_no_table_of_workers_is_refused_whole() {
        assert_eq!(parse_table(b"nombre,rut\n1,2\n"), Err(TableError::Header));
        assert_eq!(parse_table(b"rut,nombre,comuna,direccion\n\n"), Err(TableError::Empty));
        assert_eq!(
            parse_table(b"rut,nombre,comuna,direccion\n\xe1\n"),
            Err(TableError::NotUtf8)
        );
        assert_eq!(parse_table(&vec![b' '; MAX_BYTES + 1]), Err(TableError::TooLarge));
        let many: Vec<String> = (0..=MAX_WORKERS)
            .map(|n| {
                format!(
                    "{},Juana Pérez,Ñuñoa,Av. Grecia 1",
                    Rut::from_body(10_000_000 + n as u32).unwrap()
                )
            })
            .collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(parse_table(&table(&many)), Err(TableError::TooMany));
    }
}
