//! Personal data kept as long as its purpose needs, then erased: a permit's name, RUT and
//! address serve the checkpoint and the holder while it is valid, and a complaint or a
//! correction for a while after. Past `PERSONAL_DATA_RETENTION_DAYS` an expired permit is
//! erased (counted first into anonymous statistics), unless under a legal hold.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use permit_domain::Clock;
use permit_store::{Store, StoreError};
use permit_web::ConfigError;
use permit_web::config::Env;

const DEFAULT_DAYS: i64 = 30;
const DEFAULT_SWEEP_SECONDS: u64 = 3600;

/// Permits erased per database round of a sweep, between which other requests run.
const BATCH: u32 = 500;

#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// `PERSONAL_DATA_RETENTION_DAYS` (30; 1–3650): how long after it expires a permit is kept.
    pub keep: SignedDuration,
    /// `RETENTION_SWEEP_SECONDS` (3600; 1–86400): how often the issuer looks for permits to erase.
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention::of(DEFAULT_DAYS, DEFAULT_SWEEP_SECONDS)
    }
}

impl Retention {
    pub fn read<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Retention, ConfigError> {
        let days: i64 = env.parsed("PERSONAL_DATA_RETENTION_DAYS", DEFAULT_DAYS, "a whole number of days")?;
        let seconds: u64 = env.parsed(
            "RETENTION_SWEEP_SECONDS",
            DEFAULT_SWEEP_SECONDS,
            "a whole number of seconds",
        )?;
        let out_of = |variable, range: &str| ConfigError {
            variable,
            problem: format!("is not between {range}"),
        };
        if !(1..=3650).contains(&days) {
            return Err(out_of("PERSONAL_DATA_RETENTION_DAYS", "1 and 3650"));
        }
        if !(1..=86_400).contains(&seconds) {
            return Err(out_of("RETENTION_SWEEP_SECONDS", "1 and 86400"));
        }
        Ok(Retention::of(days, seconds))
    }

    fn of(days: i64, sweep_seconds: u64) -> Retention {
        Retention {
            keep: SignedDuration::from_hours(24 * days),
            every: Duration::from_secs(sweep_seconds),
        }
    }

    /// Erases every permit past retention at `clock`'s now, in batches; how many went.
    pub async fn sweep(&self, store: &Store, clock: &dyn Clock) -> Result<u64, StoreError> {
        let before = clock.now() - self.keep;
        let mut erased = 0;
        loop {
            let batch = store.erase_expired(before, BATCH, None).await?;
            erased += batch;
            if batch < u64::from(BATCH) {
                return Ok(erased);
            }
        }
    }

    /// Sweeps at once, then every `every`, for as long as the process runs. Every replica
    /// sweeps: each permit is taken by one (an atomic find-and-delete).
    pub fn sweep_in_background(self, store: Store, clock: Arc<dyn Clock>) {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match self.sweep(&store, clock.as_ref()).await {
                    Ok(0) => {}
                    Ok(erased) => tracing::info!(erased, "expired permits erased (personal data retention)"),
                    Err(error) => tracing::warn!(%error, "retention sweep failed; the next one tries again"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&'static str, &str)]) -> Result<Retention, ConfigError> {
        Retention::read(&Env(|name: &str| {
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        }))
    }

    #[test]
    fn thirty_days_by_default_and_bad_values_name_their_variable() {
        let retention = read(&[]).unwrap();
        assert_eq!(retention.keep, SignedDuration::from_hours(720));
        assert_eq!(retention.every, Duration::from_secs(3600));
        for (variable, value) in [
            ("PERSONAL_DATA_RETENTION_DAYS", "0"),
            ("PERSONAL_DATA_RETENTION_DAYS", "forever"),
            ("RETENTION_SWEEP_SECONDS", "0"),
        ] {
            assert_eq!(read(&[(variable, value)]).err().unwrap().variable, variable);
        }
    }
}
