//! `weather` raw files -> [`WeatherAcc`] (stub: to be written).

use crate::discover::InputFile;
use crate::metrics::weather::WeatherAcc;
use crate::quality::QualityAcc;
use crate::sources::DaySelection;

pub const SOURCE: &str = "weather";

/// Reads one file. Never fails: every problem is counted in `q`.
pub fn read_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> WeatherAcc {
    let _ = (f, sel, q);
    WeatherAcc::default()
}
