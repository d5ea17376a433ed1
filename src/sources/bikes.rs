//! `bikes` raw files -> [`BikesAcc`] (stub: to be written).

use crate::discover::InputFile;
use crate::metrics::bikes::BikesAcc;
use crate::quality::QualityAcc;
use crate::sources::DaySelection;

pub const SOURCE: &str = "bikes";

/// Reads one file. Never fails: every problem is counted in `q`.
pub fn read_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> BikesAcc {
    let _ = (f, sel, q);
    BikesAcc::default()
}
