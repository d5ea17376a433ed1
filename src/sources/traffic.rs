//! `traffic` raw files -> [`TrafficAcc`] (stub: to be written).

use crate::discover::InputFile;
use crate::metrics::traffic::TrafficAcc;
use crate::quality::QualityAcc;
use crate::sources::DaySelection;

pub const SOURCE: &str = "traffic";

/// Reads one file. Never fails: every problem is counted in `q`.
pub fn read_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> TrafficAcc {
    let _ = (f, sel, q);
    TrafficAcc::default()
}
