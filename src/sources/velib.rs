//! `velib` raw files -> [`VelibAcc`] (stub: to be written).

use crate::discover::InputFile;
use crate::metrics::velib::VelibAcc;
use crate::quality::QualityAcc;
use crate::sources::DaySelection;

pub const SOURCE: &str = "velib";

/// Reads one file. Never fails: every problem is counted in `q`.
pub fn read_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> VelibAcc {
    let _ = (f, sel, q);
    VelibAcc::default()
}
