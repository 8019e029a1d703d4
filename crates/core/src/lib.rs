//! Exchange core (stub).
