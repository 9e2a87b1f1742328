//! When the citizens of the replayed day arrive: 21 April 2021's volume spread over the
//! hours permits could be asked for, with the shape chosen below, compressed by SPEED.

/// Permit requests in the 24 hours of 21 April 2021, as Carabineros de Chile reported them.
pub const RECORD_DAY: u64 = 1_291_970;

/// The share (%) of the day's requests in each hour from 05:00 to 21:00: nothing during the
/// curfew (22:00–05:00); the most at 07:00–09:00, asked for before going out to work or to
/// shop; a second peak at 12:00–14:00 for midday errands; falling through the afternoon
/// towards the curfew. The peak hour (08:00) carries 10 %, 1.7 times the average hour.
pub const HOURLY_SHARE: [(u8, u32); 17] = [
    (5, 2),
    (6, 5),
    (7, 9),
    (8, 10),
    (9, 8),
    (10, 7),
    (11, 8),
    (12, 9),
    (13, 8),
    (14, 6),
    (15, 5),
    (16, 5),
    (17, 5),
    (18, 4),
    (19, 4),
    (20, 3),
    (21, 2),
];

/// Citizens who already used their two permits of the week and ask again (a 429 is the
/// right answer), as a share of the day's requests.
pub const REPEAT_SHARE: f64 = 0.02;

/// One citizen's arrival: seconds after the start of the replay (compressed), and whether
/// they already used up their week.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    pub at: f64,
    pub repeat: bool,
}

/// A small deterministic generator (SplitMix64), so a replay is the same every time.
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `volume` arrivals, each hour's count by its share, at uniformly random moments within
/// the hour (a Poisson process given the count), sorted, compressed by `speed`.
pub fn arrivals(volume: u64, speed: f64, seed: u64) -> Vec<Arrival> {
    let total_share: u32 = HOURLY_SHARE.iter().map(|(_, share)| share).sum();
    let mut random = Random::new(seed);
    let mut arrivals = Vec::with_capacity(volume as usize);
    let mut assigned = 0;
    for (index, (_, share)) in HOURLY_SHARE.iter().enumerate() {
        let count = if index + 1 == HOURLY_SHARE.len() {
            volume - assigned
        } else {
            volume * u64::from(*share) / u64::from(total_share)
        };
        assigned += count;
        let hour_start = index as f64 * 3600.0;
        for _ in 0..count {
            arrivals.push(Arrival {
                at: (hour_start + random.unit() * 3600.0) / speed,
                repeat: random.unit() < REPEAT_SHARE,
            });
        }
    }
    arrivals.sort_by(|a, b| a.at.total_cmp(&b.at));
    arrivals
}

/// How long the replay of the hours with arrivals lasts, in seconds.
pub fn duration(speed: f64) -> f64 {
    HOURLY_SHARE.len() as f64 * 3600.0 / speed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_is_all_there_within_its_hours_in_order_and_the_same_each_time() {
        let speed = 60.0;
        let day = arrivals(100_000, speed, 7);
        assert_eq!(day.len(), 100_000);
        assert!(day.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(day.first().unwrap().at >= 0.0 && day.last().unwrap().at < duration(speed));
        assert_eq!(day, arrivals(100_000, speed, 7));
        let repeats = day.iter().filter(|a| a.repeat).count() as f64 / day.len() as f64;
        assert!((repeats - REPEAT_SHARE).abs() < 0.003, "{repeats}");
    }

    #[test]
    fn the_peak_hour_holds_its_share() {
        let speed = 1.0;
        let day = arrivals(100_000, speed, 1);
        let eight = (3.0 * 3600.0)..(4.0 * 3600.0);
        let in_peak = day.iter().filter(|a| eight.contains(&a.at)).count();
        assert_eq!(in_peak, 10_000, "08:00 is the 4th hour from 05:00 and holds 10 %");
        assert_eq!(HOURLY_SHARE.iter().map(|(_, s)| s).sum::<u32>(), 100);
    }
}
