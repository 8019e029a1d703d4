//! Bourse's full exchange core (`bourse-core`): risk checks and holds, matching, and the
//! settlement ledger, driven with real `Command`s. Placeholder until the core's API lands.

use super::Engine;
use crate::workload::{Level, Spec, Step};

/// Whether this adapter can run yet.
pub const AVAILABLE: bool = false;

pub struct BourseCore;

impl Engine for BourseCore {
    fn new(_spec: &Spec) -> Self {
        unreachable!("bourse-core is not available yet; callers check AVAILABLE")
    }
    fn apply(&mut self, _step: &Step) {}
    fn levels(&self) -> Vec<Level> {
        Vec::new()
    }
}
