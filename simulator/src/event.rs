//! The discrete-event engine: integer picosecond time, one clock per component, and
//! one binary-heap event queue ordered by `(time, sequence number)`.
//!
//! # Model
//! A simulation is a [`World`] (which owns every component) driven by an [`EventLoop`].
//! Components are addressed by a [`ComponentId`]; an [`Event`] names its target and
//! carries a payload of the world's own event type (the program machine's is an enum
//! of engine steps and memory ticks; the trace driver's is a cycle number). The engine pops the earliest event, hands it to [`World::handle`], which may
//! schedule more events through the [`EventQueue`]. Time jumps straight to the next
//! event, so idle cycles cost nothing.
//!
//! # Determinism
//! Events at equal times run in the order they were scheduled: every event gets a
//! strictly increasing sequence number and the heap orders by `(time, seq)`. Nothing
//! depends on hash order or wall time.
//!
//! # Cost
//! Events are plain `Copy` values stored inline in the heap, so the hot path
//! allocates nothing beyond the heap's own growth.
//!
//! # Failure
//! Scheduling an event before the current time is a caller bug and returns
//! [`Error::EventInPast`]; a run that exceeds its event budget stops with
//! [`Error::EventLimit`] instead of spinning forever; a queue that empties while the
//! world is not finished is [`Error::Stalled`], naming what is still pending, so a
//! stalled run never looks like a finished one.

use crate::error::{Error, Result};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use triad_isa::{Cycles, Picos};

/// Identifies a component of a [`World`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId(pub u32);

/// One scheduled event: when, for whom, and a payload whose type the world defines
/// (an enum of the things its components react to; the trace driver uses a cycle
/// number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event<P = u64> {
    /// When it happens.
    pub time: Picos,
    /// Which component handles it.
    pub target: ComponentId,
    /// What happens.
    pub payload: P,
}

/// A component's clock: events of a component happen on its edges. Several clocks
/// of different periods coexist exactly because time is integer picoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Period of one cycle.
    pub period: Picos,
}

impl Clock {
    /// A clock with period `period` (a zero period is treated as 1 ps).
    pub fn new(period: Picos) -> Clock {
        Clock {
            period: Picos(period.0.max(1)),
        }
    }

    /// Time of the rising edge that starts cycle `cycle`.
    pub fn time_of(self, cycle: Cycles) -> Picos {
        Picos(cycle.0.saturating_mul(self.period.0))
    }

    /// The cycle in progress at `time` (edges belong to the cycle they start).
    pub fn cycle_at(self, time: Picos) -> Cycles {
        Cycles(time.0 / self.period.0)
    }

    /// The first cycle whose edge is at or after `time`.
    pub fn next_cycle_at_or_after(self, time: Picos) -> Cycles {
        Cycles(time.0.div_ceil(self.period.0))
    }

    /// The first edge at or after `time`.
    pub fn edge_at_or_after(self, time: Picos) -> Picos {
        self.time_of(self.next_cycle_at_or_after(time))
    }
}

/// Heap entry: ordered by time, then sequence number only (never by payload).
#[derive(Debug)]
struct Entry<P> {
    time: u64,
    seq: u64,
    target: u32,
    payload: P,
}

impl<P> PartialEq for Entry<P> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<P> Eq for Entry<P> {}
impl<P> PartialOrd for Entry<P> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<P> Ord for Entry<P> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

/// The event queue: a binary heap keyed by `(time, seq)`.
#[derive(Debug)]
pub struct EventQueue<P = u64> {
    heap: BinaryHeap<Reverse<Entry<P>>>,
    seq: u64,
    now: Picos,
}

impl<P> Default for EventQueue<P> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            seq: 0,
            now: Picos(0),
        }
    }
}

impl<P: Copy> EventQueue<P> {
    /// An empty queue at time zero.
    pub fn new() -> EventQueue<P> {
        EventQueue::default()
    }

    /// The current simulated time (the time of the event being handled).
    pub fn now(&self) -> Picos {
        self.now
    }

    /// Schedules `payload` for `target` at `time`.
    pub fn schedule(&mut self, time: Picos, target: ComponentId, payload: P) -> Result<()> {
        if time < self.now {
            return Err(Error::EventInPast {
                component: target.0,
                at: time.0,
                now: self.now.0,
            });
        }
        self.heap.push(Reverse(Entry {
            time: time.0,
            seq: self.seq,
            target: target.0,
            payload,
        }));
        self.seq += 1;
        Ok(())
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when no event is waiting.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    fn pop(&mut self) -> Option<Event<P>> {
        let Reverse(e) = self.heap.pop()?;
        self.now = Picos(e.time);
        Some(Event {
            time: Picos(e.time),
            target: ComponentId(e.target),
            payload: e.payload,
        })
    }
}

/// Everything a simulation contains. The world routes each event to the component
/// it names; components call each other directly through the world (no shared
/// ownership), so an NPU, a CPU or a DMA engine can sit next to the memory system and
/// issue requests to it.
pub trait World<P: Copy = u64> {
    /// Handles one event; may schedule more on `queue`.
    fn handle(&mut self, event: Event<P>, queue: &mut EventQueue<P>) -> Result<()>;

    /// True when the simulation has nothing left to do (checked after each event),
    /// so a run can stop even while periodic events (refresh) remain queued.
    fn finished(&self) -> bool;

    /// What is still waiting, for the deadlock error when the queue runs dry before
    /// [`World::finished`] holds.
    fn pending(&self) -> String {
        "the world reports no detail".to_string()
    }
}

/// Why a run stopped without an error.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The world said it was finished.
    #[default]
    Finished,
}

/// Counters of one run of the event loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Events handled.
    pub events: u64,
    /// Time of the last handled event.
    pub end: Picos,
    /// Why the run stopped.
    pub stop: StopReason,
}

/// The event loop: owns the queue and runs a world until it is finished.
#[derive(Debug)]
pub struct EventLoop<P = u64> {
    /// The event queue (public so a world can be primed before [`EventLoop::run`]).
    pub queue: EventQueue<P>,
    /// Maximum number of events one run may handle.
    pub event_limit: u64,
}

/// Default event budget: far above any test or trace run (a few million events per
/// second of host time), low enough that a livelocked run stops within minutes.
pub const DEFAULT_EVENT_LIMIT: u64 = 2_000_000_000;

impl<P: Copy> Default for EventLoop<P> {
    fn default() -> Self {
        EventLoop::new()
    }
}

impl<P: Copy> EventLoop<P> {
    /// An event loop with an empty queue and the default event budget.
    pub fn new() -> EventLoop<P> {
        EventLoop {
            queue: EventQueue::new(),
            event_limit: DEFAULT_EVENT_LIMIT,
        }
    }

    /// Runs until the world is finished. A queue that runs dry first is
    /// [`Error::Stalled`] (nothing left to do, yet not finished); more events than
    /// the budget is [`Error::EventLimit`].
    pub fn run<W: World<P>>(&mut self, world: &mut W) -> Result<RunSummary> {
        let mut summary = RunSummary::default();
        while !world.finished() {
            let Some(event) = self.queue.pop() else {
                return Err(Error::Stalled {
                    at: self.queue.now.0,
                    events: summary.events,
                    pending: world.pending(),
                });
            };
            if summary.events >= self.event_limit {
                return Err(Error::EventLimit {
                    events: summary.events,
                    limit: self.event_limit,
                    pending: world.pending(),
                });
            }
            summary.events += 1;
            summary.end = event.time;
            world.handle(event, &mut self.queue)?;
        }
        summary.stop = StopReason::Finished;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Recorder {
        seen: Vec<(u64, u32, u64)>,
        stop_after: usize,
    }

    impl World for Recorder {
        fn handle(&mut self, e: Event, q: &mut EventQueue) -> Result<()> {
            self.seen.push((e.time.0, e.target.0, e.payload));
            if e.payload < 3 {
                q.schedule(Picos(e.time.0 + 10), e.target, e.payload + 1)?;
            }
            Ok(())
        }
        fn finished(&self) -> bool {
            self.seen.len() >= self.stop_after
        }
    }

    #[test]
    fn equal_times_run_in_schedule_order_and_time_jumps() {
        let mut engine = EventLoop::new();
        engine
            .queue
            .schedule(Picos(1_000_000), ComponentId(2), 0)
            .unwrap();
        engine
            .queue
            .schedule(Picos(1_000_000), ComponentId(1), 0)
            .unwrap();
        engine.queue.schedule(Picos(5), ComponentId(9), 3).unwrap();
        let mut w = Recorder {
            seen: vec![],
            stop_after: 9,
        };
        let s = engine.run(&mut w).unwrap();
        assert_eq!(s.stop, StopReason::Finished);
        assert_eq!(w.seen[0], (5, 9, 3));
        assert_eq!(w.seen[1], (1_000_000, 2, 0));
        assert_eq!(w.seen[2], (1_000_000, 1, 0));
        assert_eq!(w.seen[3], (1_000_010, 2, 1));
        assert_eq!(w.seen[4], (1_000_010, 1, 1));
        assert_eq!(s.events, 1 + 2 * 4);
        assert_eq!(s.end, Picos(1_000_030));
    }

    #[test]
    fn past_events_and_limits_are_errors() {
        let mut engine = EventLoop::new();
        engine
            .queue
            .schedule(Picos(100), ComponentId(0), 3)
            .unwrap();
        let mut w = Recorder {
            seen: vec![],
            stop_after: 1,
        };
        engine.run(&mut w).unwrap();
        assert!(matches!(
            engine.queue.schedule(Picos(50), ComponentId(0), 0),
            Err(Error::EventInPast { .. })
        ));
        let mut engine = EventLoop::new();
        engine.event_limit = 2;
        engine.queue.schedule(Picos(0), ComponentId(0), 0).unwrap();
        let mut w = Recorder {
            seen: vec![],
            stop_after: usize::MAX,
        };
        assert!(matches!(engine.run(&mut w), Err(Error::EventLimit { .. })));
    }

    #[test]
    fn a_queue_that_runs_dry_before_the_world_finishes_is_a_stall() {
        let mut engine = EventLoop::new();
        engine.queue.schedule(Picos(7), ComponentId(0), 1).unwrap();
        let mut w = Recorder {
            seen: vec![],
            stop_after: 100,
        };
        match engine.run(&mut w) {
            Err(Error::Stalled { at, events, .. }) => assert_eq!((at, events), (27, 3)),
            other => panic!("expected a stall, got {other:?}"),
        }
    }

    #[test]
    fn clock_edges() {
        let c = Clock::new(Picos(625));
        assert_eq!(c.time_of(Cycles(4)), Picos(2500));
        assert_eq!(c.cycle_at(Picos(2499)), Cycles(3));
        assert_eq!(c.next_cycle_at_or_after(Picos(2499)), Cycles(4));
        assert_eq!(c.next_cycle_at_or_after(Picos(2500)), Cycles(4));
    }
}
