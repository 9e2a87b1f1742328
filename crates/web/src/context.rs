//! What every handler of either service needs: the store, the clock, the rules, the links,
//! the metrics and the limits.

use std::sync::Arc;

use jiff::Timestamp;
use permit_domain::{Clock, Rules, day, time_of_day};
use permit_store::Store;

use crate::config::{Limits, Links};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub rules: Arc<Rules>,
    pub links: Arc<Links>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
}

impl Context {
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// `lunes 30 de noviembre de 2026, 10:15`, in the rules' time zone.
    pub fn local(&self, at: Timestamp) -> String {
        let zoned = self.rules.zoned(at);
        format!("{}, {}", day(&zoned), time_of_day(zoned.time()))
    }

    /// RFC 3339 with the local offset: `2026-11-30T10:15:00-03:00`.
    pub fn rfc3339(&self, at: Timestamp) -> String {
        let zoned = self.rules.zoned(at);
        at.display_with_offset(zoned.offset()).to_string()
    }
}
