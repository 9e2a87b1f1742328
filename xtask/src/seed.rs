//! The permits a browser cannot create, put into the database for the browser tests: one
//! that expired and one not valid yet. Written through permit-store, so the document shape
//! is the services' own.

use jiff::{SignedDuration, Timestamp};
use permit_domain::{Permit, PermitForm, Window};
use permit_store::Store;

use crate::error::Error;

/// `{"expired": id, "not_yet_valid": id}`.
pub async fn seed(uri: &str, database: &str) -> Result<String, Error> {
    let store = Store::connect(uri, database, "xtask-seed").await?;
    let now = Timestamp::now();
    let expired = permit(now - SignedDuration::from_hours(5), 3);
    let not_yet_valid = permit(now + SignedDuration::from_hours(2), 3);
    for permit in [&expired, &not_yet_valid] {
        store.issue(permit, None).await?;
    }
    Ok(
        serde_json::json!({ "expired": expired.id.to_string(), "not_yet_valid": not_yet_valid.id.to_string() })
            .to_string(),
    )
}

/// A permit for a fixed citizen, valid from `start` for `hours`.
fn permit(start: Timestamp, hours: i64) -> Permit {
    let request = PermitForm {
        name: "Tomás Aravena Rojas".into(),
        rut: "7654321-6".into(),
        motive: "compras".into(),
        address: "Los Aromos 55".into(),
        comuna: "Maipú".into(),
    }
    .parse()
    .expect("a valid request");
    let window = Window {
        requested_at: start - SignedDuration::from_mins(15),
        valid_from: start,
        expires_at: start + SignedDuration::from_hours(hours),
    };
    Permit::issue(request, window)
}
