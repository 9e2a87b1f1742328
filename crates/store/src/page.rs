//! Keyset pagination over permits, newest first, behind an opaque cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mongodb::bson::{DateTime, Document, doc};
use permit_domain::Permit;

/// Where the previous page ended: the last permit's request time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    requested_at_ms: i64,
    id: String,
}

/// 0001-01-01T00:00:00Z.
const FIRST_SECOND: i64 = -62_135_596_800;

/// A cursor text that this service did not hand out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the page cursor is not valid")]
pub struct BadCursor;

impl Cursor {
    pub(crate) fn after(permit: &Permit) -> Cursor {
        Cursor {
            requested_at_ms: permit.requested_at.as_millisecond(),
            id: permit.id.to_string(),
        }
    }

    pub fn parse(text: &str) -> Result<Cursor, BadCursor> {
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let (millis, id) = text.split_once(':').ok_or(BadCursor)?;
        let id = permit_domain::PermitId::parse(id).map_err(|_| BadCursor)?;
        // Only a time a permit can have been requested at (years 1 to 9999): the database
        // answers an error, not an empty page, for dates far outside that.
        let at = millis
            .parse::<i64>()
            .ok()
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
            .filter(|at| at.as_millisecond() >= FIRST_SECOND * 1000)
            .ok_or(BadCursor)?;
        Ok(Cursor {
            requested_at_ms: at.as_millisecond(),
            id: id.to_string(),
        })
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.requested_at_ms, self.id))
    }

    /// Permits strictly after this cursor in (requested_at desc, _id desc) order.
    ///
    /// The `$lte` bound stands outside the `$or` so that the planner walks the newest-first
    /// index from the cursor and stops at the page's end. A bare `$or` of the two cases is
    /// planned as two scans and a blocking sort of everything older than the cursor: one
    /// page then cost a read of the whole collection (seen with `explain`, docs/benchmarks.md).
    pub(crate) fn filter(&self) -> Document {
        self.narrow(Document::new())
    }

    /// `filter`'s permits after this cursor, in `filter()`'s shape: the bound joins
    /// `filter`'s own `requested_at` condition, the `$or` beside it.
    pub(crate) fn narrow(&self, mut filter: Document) -> Document {
        let at = DateTime::from_millis(self.requested_at_ms);
        let mut requested_at = filter.get_document("requested_at").cloned().unwrap_or_default();
        requested_at.insert("$lte", at);
        filter.insert("requested_at", requested_at);
        filter.insert(
            "$or",
            vec![
                doc! { "requested_at": { "$lt": at } },
                doc! { "_id": { "$lt": &self.id } },
            ],
        );
        filter
    }
}

/// One page of permits and, when more follow, the cursor to ask for them.
#[derive(Debug)]
pub struct Page {
    pub permits: Vec<Permit>,
    pub next: Option<Cursor>,
}

pub(crate) fn newest_first() -> Document {
    doc! { "requested_at": -1, "_id": -1 }
}

/// The index of a search by comuna: its permits in `newest_first` order.
pub(crate) fn in_comuna_newest_first() -> Document {
    doc! { "comuna": 1, "requested_at": -1, "_id": -1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let cursor = Cursor {
            requested_at_ms: 1_800_000_000_000,
            id: permit_domain::PermitId::generate().to_string(),
        };
        assert_eq!(Cursor::parse(&cursor.encode()), Ok(cursor));
        assert_eq!(Cursor::parse("not a cursor"), Err(BadCursor));
        assert_eq!(Cursor::parse(&URL_SAFE_NO_PAD.encode("1:{\"$gt\":1}")), Err(BadCursor));
        let id = permit_domain::PermitId::generate();
        for millis in [
            "9223372036854775807",
            "-9223372036854775808",
            "253402300800000",
            "-62135596800001",
            "1e3",
        ] {
            let text = URL_SAFE_NO_PAD.encode(format!("{millis}:{id}"));
            assert_eq!(Cursor::parse(&text), Err(BadCursor), "{millis}");
        }
        let late = URL_SAFE_NO_PAD.encode(format!("253402000000000:{id}"));
        assert!(Cursor::parse(&late).is_ok(), "late in year 9999");
    }
}
