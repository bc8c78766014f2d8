//! Two clock domains on one event engine: a requester on a 333 ps clock issues reads
//! to the memory system on the DRAM clock, as an NPU or DMA engine will.

use crate::common::*;
use triad_isa::{Cycles, Picos};
use triad_sim::{
    Clock, ComponentId, Direction, Event, EventLoop, EventQueue, MemoryOptions, MemorySystem,
    Submit, World,
};

const CPU: ComponentId = ComponentId(0);
const MEM: ComponentId = ComponentId(1);
/// CPU cycles between requests: longer than a row miss, so the queue never fills.
const CPU_GAP: u64 = 200;

struct Soc {
    cpu: Clock,
    mem: MemorySystem,
    issued: Vec<(Picos, Cycles)>,
    done: Vec<Cycles>,
    want: usize,
    stride: u64,
}

impl World for Soc {
    fn handle(&mut self, e: Event, q: &mut EventQueue) -> triad_sim::Result<()> {
        let dram = self.mem.clock();
        if e.target == CPU {
            // The request enters the controller at the next DRAM clock edge.
            let at = dram.next_cycle_at_or_after(e.time);
            let addr = self.issued.len() as u64 * self.stride;
            assert!(matches!(
                self.mem.submit(Direction::Read, addr, at)?,
                Submit::Accepted(_)
            ));
            self.issued.push((e.time, at));
            q.schedule(dram.time_of(at), MEM, at.0)?;
            if self.issued.len() < self.want {
                q.schedule(e.time + self.cpu.time_of(Cycles(CPU_GAP)), CPU, 0)?;
            }
            return Ok(());
        }
        let t = self.mem.tick(Cycles(e.payload))?;
        self.done
            .extend(self.mem.drain_completions().map(|c| c.done));
        if let Some(n) = t.next {
            q.schedule(dram.time_of(n), MEM, n.0)?;
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        self.done.len() == self.want
    }
}

#[test]
fn a_faster_clock_domain_issues_to_dram() {
    let a = no_refresh("lpddr5");
    let mem = MemorySystem::new(&a, MemoryOptions::default()).unwrap();
    let mut soc = Soc {
        cpu: Clock::new(Picos(333)),
        mem,
        issued: vec![],
        done: vec![],
        want: 50,
        // One row apart in one bank: every read is a row miss (or, first, closed).
        stride: a.dram.capacity_bytes() / u64::from(a.dram.rows),
    };
    let mut engine = EventLoop::new();
    engine.queue.schedule(Picos(1000), CPU, 0).unwrap();
    engine.run(&mut soc).unwrap();
    let tck = a.dram.tck_ps;
    for (i, (t, c)) in soc.issued.iter().enumerate() {
        assert_eq!(t.0, 1000 + i as u64 * 333 * CPU_GAP);
        assert_eq!(c.0, t.0.div_ceil(tck));
    }
    let t = &a.dram.timing;
    // A request can issue one cycle after it arrives (the transaction queue).
    let first = soc.issued[0].1.0 + 1 + u64::from(t.trcd_rd + t.cl) + burst(&a);
    assert_eq!(soc.done[0].0, first);
    // Every later read is a row miss arriving after the previous row's tRAS / tRC.
    let miss = 1 + u64::from(t.trp + t.trcd_rd + t.cl) + burst(&a);
    for (done, (_, at)) in soc.done.iter().zip(&soc.issued).skip(1) {
        assert_eq!(done.0 - at.0, miss);
    }
    let end = soc.done.iter().max().unwrap();
    assert_clean(&a, &soc.mem.command_log().unwrap(), end.0);
}
