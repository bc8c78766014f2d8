//! Units as types: time in picoseconds and clock cycles, sizes in bytes, energy in
//! picojoules. Public signatures use these instead of bare integers wherever a unit
//! is meant, so a cycle count is never added to a picosecond time by accident.
//! Addition saturates at `u64::MAX` (totals over absurd inputs stay defined);
//! subtraction does not, since a negative span is always a bug.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

macro_rules! unit {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $suffix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl Add for $name {
            type Output = $name;
            fn add(self, o: $name) -> $name {
                $name(self.0.saturating_add(o.0))
            }
        }
        impl AddAssign for $name {
            fn add_assign(&mut self, o: $name) {
                self.0 = self.0.saturating_add(o.0);
            }
        }
        impl Sub for $name {
            type Output = $name;
            fn sub(self, o: $name) -> $name {
                $name(self.0 - o.0)
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{} {}", self.0, $suffix)
            }
        }
    };
}

unit!(
    /// A point in or span of simulated time, in picoseconds.
    Picos, u64, "ps"
);
unit!(
    /// A number of clock cycles of some component's clock.
    Cycles, u64, "cycles"
);
unit!(
    /// A size in bytes.
    Bytes, u64, "B"
);

/// An amount of energy in picojoules.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PicoJoules(pub f64);

impl Add for PicoJoules {
    type Output = PicoJoules;
    fn add(self, o: PicoJoules) -> PicoJoules {
        PicoJoules(self.0 + o.0)
    }
}
impl AddAssign for PicoJoules {
    fn add_assign(&mut self, o: PicoJoules) {
        self.0 += o.0;
    }
}
impl fmt::Display for PicoJoules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} pJ", self.0)
    }
}

impl Cycles {
    /// Duration of these cycles at a clock whose period is `period`.
    pub fn at(self, period: Picos) -> Picos {
        Picos(self.0 * period.0)
    }
}
