//! `chantiers` raw files -> [`ChantiersAcc`] (stub: to be written).

use crate::discover::InputFile;
use crate::metrics::chantiers::ChantiersAcc;
use crate::quality::QualityAcc;
use crate::sources::DaySelection;

pub const SOURCE: &str = "chantiers";

/// Reads one file. Never fails: every problem is counted in `q`.
pub fn read_file(f: &InputFile, sel: &DaySelection, q: &mut QualityAcc) -> ChantiersAcc {
    let _ = (f, sel, q);
    ChantiersAcc::default()
}
