//! Rewrite rule sets, one file per purpose, each an aligned `rw!` table with a
//! one-line reason above every rule. Rules are directional and only add
//! alternatives; the cost model and extraction decide which one is used.

mod placement;

pub use placement::placement_rules;
