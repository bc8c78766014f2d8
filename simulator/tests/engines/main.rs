//! Whole programs on the engines: hand-derived cycles per engine kind, semaphores
//! and deadlocks, DMA/compute overlap, the trace file, and properties of random
//! programs.

mod common;
mod overlap;
mod props;
mod sync;
mod timing;
mod trace;
