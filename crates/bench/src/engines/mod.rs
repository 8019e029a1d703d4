//! Thin adapters that replay a [`workload`](crate::workload) stream on one engine each.
//!
//! Every adapter implements [`Engine`]: build a fresh engine for a workload (untimed; the
//! full core registers users and funds them here), apply one [`Step`] (timed), and list the
//! final book's aggregated levels so runs can be compared by [`book_hash`](crate::workload::book_hash).
//! Adapters do the least work their engine's API allows; where an engine lacks an
//! operation, the adapter's doc says how it is emulated.

pub mod bourse_book;
pub mod bourse_core;
pub mod lobster;
pub mod matchcore;
pub mod orderbook_rs;
pub mod rust_order_book;

use crate::workload::{Level, Spec, Step};

/// One engine, driven through the benchmark's neutral command stream.
pub trait Engine: Sized {
    /// Fresh state for a workload with `spec.markets` markets and `spec.users` users.
    fn new(spec: &Spec) -> Self;
    /// Applies one command. Panics only on a bug in the adapter or a diverging engine
    /// (a command the reference model accepted but the engine refused).
    fn apply(&mut self, step: &Step);
    /// Every non-empty price level of every market.
    fn levels(&self) -> Vec<Level>;
}

/// The engines this benchmark knows, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum EngineKind {
    BourseBook,
    BourseCore,
    Matchcore,
    Lobster,
    RustOrderBook,
    OrderbookRs,
}

impl EngineKind {
    pub const ALL: [EngineKind; 6] = [
        EngineKind::BourseBook,
        EngineKind::BourseCore,
        EngineKind::Matchcore,
        EngineKind::Lobster,
        EngineKind::RustOrderBook,
        EngineKind::OrderbookRs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EngineKind::BourseBook => "bourse-book",
            EngineKind::BourseCore => "bourse-core",
            EngineKind::Matchcore => "matchcore",
            EngineKind::Lobster => "lobster",
            EngineKind::RustOrderBook => "rust-order-book",
            EngineKind::OrderbookRs => "orderbook-rs",
        }
    }

    /// Why this engine's final book may legitimately differ from the reference model's.
    pub fn divergence(self) -> Option<&'static str> {
        match self {
            EngineKind::Lobster | EngineKind::RustOrderBook => {
                Some("no in-place reduce: cancel + re-add loses queue priority")
            }
            _ => None,
        }
    }
}

/// Calls `$body` with the type alias `$E` bound to the adapter of `$kind`, so the run
/// loops are monomorphised per engine (no dynamic dispatch in the timed path).
#[macro_export]
macro_rules! with_engine {
    ($kind:expr, $E:ident => $body:expr) => {{
        use $crate::engines::EngineKind as K;
        match $kind {
            K::BourseBook => {
                type $E = $crate::engines::bourse_book::BourseBook;
                $body
            }
            K::BourseCore => {
                type $E = $crate::engines::bourse_core::BourseCore;
                $body
            }
            K::Matchcore => {
                type $E = $crate::engines::matchcore::Matchcore;
                $body
            }
            K::Lobster => {
                type $E = $crate::engines::lobster::Lobster;
                $body
            }
            K::RustOrderBook => {
                type $E = $crate::engines::rust_order_book::RustOrderBook;
                $body
            }
            K::OrderbookRs => {
                type $E = $crate::engines::orderbook_rs::OrderbookRs;
                $body
            }
        }
    }};
}

/// Grows `v` so that `v[i]` exists (dense id → engine id maps).
pub(crate) fn slot(v: &mut Vec<u64>, i: u64) -> &mut u64 {
    let i = i as usize;
    if v.len() <= i {
        v.resize((i + 1).max(v.len() * 2), u64::MAX);
    }
    &mut v[i]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{book_hash, generate, standard, NAMES};

    fn final_hash<E: Engine>(w: &crate::workload::Workload) -> u64 {
        let mut e = E::new(&w.spec);
        for s in w.setup.iter().chain(&w.steps) {
            e.apply(s);
        }
        book_hash(&mut e.levels())
    }

    /// Each adapter, on every small workload, ends with the reference model's book where
    /// its semantics match, and (where they do not) still ends with a valid book.
    #[test]
    fn adapters_reproduce_the_reference_book() {
        for name in NAMES {
            let mut spec = standard(name, true).unwrap();
            spec.ops = 5_000;
            let w = generate(&spec);
            for kind in EngineKind::ALL {
                let h = with_engine!(kind, E => final_hash::<E>(&w));
                if kind.divergence().is_none() {
                    assert_eq!(h, w.expected_hash, "{} on {name}", kind.name());
                }
            }
        }
    }

    /// The emulating adapters still agree when the stream has no reduce.
    #[test]
    fn emulating_adapters_agree_without_reduce() {
        let mut spec = standard("W1", true).unwrap();
        spec.ops = 5_000;
        spec.mix.reduce = 0;
        let w = generate(&spec);
        assert_eq!(w.counts.reduce, 0);
        for kind in [EngineKind::Lobster, EngineKind::RustOrderBook] {
            let h = with_engine!(kind, E => final_hash::<E>(&w));
            assert_eq!(h, w.expected_hash, "{}", kind.name());
        }
    }
}
