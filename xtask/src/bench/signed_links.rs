//! `signed-links`: COUNT distinct signed validation paths (`/v/{token}`) for the capacity
//! benchmark, signed with this checkout's key as the issuer would sign them; and what one
//! Ed25519 signature and one verification cost on one core, which bounds the signed path.

use std::io::Write;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use permit_domain::{IssuedUnder, Motive, PermitId, Phase, Policies, Rules};
use permit_token::{KeySet, PermitClaims, SigningKey};

use crate::error::Error;
use crate::paths::Paths;
use crate::secrets;

/// Prints `count` links on stdout and the Ed25519 cost on stderr.
pub fn signed_links(paths: &Paths, count: usize) -> Result<(), Error> {
    let (links, signed, verified) = timed_links(paths, count)?;
    let per = |total: Duration| total.as_secs_f64() * 1e6 / count as f64;
    eprintln!(
        "ed25519 on one core: sign {:.1} µs, verify {:.1} µs per token ({:.0} verifications/s); {} characters each",
        per(signed),
        per(verified),
        1e6 / per(verified),
        links.first().map_or(0, |link| link.len() - "/v/".len())
    );
    let mut out = std::io::stdout().lock();
    for link in links {
        writeln!(out, "{link}").map_err(Error::io("writing the links"))?;
    }
    Ok(())
}

/// `count` distinct signed links to permits valid now.
pub fn links(paths: &Paths, count: usize) -> Result<Vec<String>, Error> {
    timed_links(paths, count).map(|(links, _, _)| links)
}

/// What the links' permits were issued under: as a permit of a comuna in Cuarentena under
/// the rules in force carries it. Read once: the policy file is not part of a signature.
static ISSUED_UNDER: LazyLock<IssuedUnder> = LazyLock::new(|| IssuedUnder {
    policy: Policies::history(&Rules::default().time_zone)
        .in_force(Timestamp::now())
        .version
        .clone(),
    phase: Some(Phase::Cuarentena),
});

/// The `n`th of distinct permits valid now, for three hours, as the issuer masks them.
fn valid_now(n: usize) -> PermitClaims {
    let now = Timestamp::now();
    PermitClaims {
        id: PermitId::generate(),
        motive: Motive::parse("compras").expect("a catalogue motive"),
        valid_from: now - SignedDuration::from_mins(1),
        expires_at: now + SignedDuration::from_hours(3),
        name: "C. P.".into(),
        rut: format!("**.***.{:03}-{}", n % 1000, n % 10),
        issued_under: Some(ISSUED_UNDER.clone()),
    }
}

/// `scanner-fixture`: what the scanner's script test verifies, signed by a key made for
/// it: `{"keys": JWK Set, "valid": token, "long_window": token, "longest_window_seconds"}`.
/// The second token is genuinely signed but valid from year -9999 to 9999, which no motive
/// gives; the last is what the scanner's page tells its script.
pub fn scanner_fixture() {
    let key = SigningKey::parse(&SigningKey::generate_pem()).expect("a key just made parses");
    let long_window = PermitClaims {
        valid_from: Timestamp::MIN,
        expires_at: Timestamp::MAX,
        ..valid_now(0)
    };
    println!(
        "{}",
        serde_json::json!({
            "keys": serde_json::from_str::<serde_json::Value>(&KeySet::new([key.public_key().clone()]).to_json())
                .expect("a JWK Set is JSON"),
            "valid": key.sign_token(&valid_now(0)),
            "long_window": key.sign_token(&long_window),
            "longest_window_seconds": PermitClaims::longest_window().as_secs(),
        })
    );
}

/// The links, verified once here as they are made, with the time all the signatures took
/// and the time all the verifications took.
fn timed_links(paths: &Paths, count: usize) -> Result<(Vec<String>, Duration, Duration), Error> {
    let keys = secrets::permit_keys(&paths.run_dir())?;
    let key = SigningKey::parse(&keys.signing).map_err(|e| Error::Failed(e.to_string()))?;
    let accepted = KeySet::parse(&keys.public).map_err(|e| Error::Failed(e.to_string()))?;
    let signing = Instant::now();
    let tokens: Vec<String> = (0..count).map(|n| key.sign_token(&valid_now(n))).collect();
    let signed = signing.elapsed();
    let verifying = Instant::now();
    for token in &tokens {
        accepted
            .verify(token)
            .map_err(|e| Error::Failed(format!("a token just signed does not verify: {e}")))?;
    }
    let verified = verifying.elapsed();
    let links = tokens.into_iter().map(|token| format!("/v/{token}")).collect();
    Ok((links, signed, verified))
}
