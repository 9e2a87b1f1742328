//! The movement-permit domain: types that can only hold valid values, and the rules a
//! permit is issued under. No I/O: the clock is passed in.

mod calendar;
mod citizen;
mod clock;
pub mod collective;
mod comuna;
mod error;
mod motive;
mod operator;
mod permit;
mod permit_id;
mod phase;
mod policy;
mod privacy;
mod rules;
mod rut;

pub use calendar::{DayRange, day, day_and_time, time_of_day};
pub use citizen::{Address, BusinessName, CaseNumber, Name, Operator, Reason};
pub use clock::{Clock, SystemClock};
pub use collective::Employer;
pub use comuna::Comuna;
pub use error::{FieldError, FieldErrors};
pub use motive::Motive;
pub use operator::{OperatorAccount, OperatorToken, Role};
pub use permit::{Permit, PermitForm, PermitRequest, Status};
pub use permit_id::{NotAPermitId, PermitId};
pub use phase::{EFFECTIVE_AT, Phase, Retroactive, Schedule, effective};
pub use policy::{Days, IssuedUnder, Place, Policies, Policy, PolicyError, PolicyVersion};
pub use privacy::{PrivacyKey, Pseudonym, WeakKey};
pub use rules::{Curfew, QuotaClaim, QuotaReached, Refusal, Rules, Terms, Week, Window};
pub use rut::Rut;
