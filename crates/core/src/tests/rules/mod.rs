//! One test (or a few) per rule of the crate docs, one module per rule area. The core
//! fixture (`Fx`, the toy market, the users) is the parent's; what several areas share
//! besides is in `fixtures`.

mod amend;
mod fees;
mod fixtures;
mod kyc;
mod kyc_levels;
mod matching;
mod orders;
mod reference_data;
mod snapshot;
mod stops;
mod users;
mod withdrawals;
