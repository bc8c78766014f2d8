//! Semaphores: signals cost a cycle, waits block until covered, and a program that
//! can never finish is a named deadlock.

use crate::common::*;
use triad_sim::{Error, SimOptions, simulate};

#[test]
fn a_wait_releases_when_the_signal_lands() {
    let a = arch("mobile-soc");
    let npu = a.npu.as_ref().unwrap();
    let text = ".buffer h, spm, addr=0, shape=[1, 1280], dtype=f16\n\
                .sem s\n\
                .stream npu.vec\n\
                unary exp, h, h, rows=1, cols=1280, dtype=f16\n\
                signal s, value=1\n\
                .stream npu.mx\n\
                wait s, value=1\n";
    let r = run(&a, text);
    // exp: 1280 / 128 lanes = 10 cycles; signal: 1 cycle; the wait is released at the
    // signal's start (cycle 10) and costs nothing.
    assert_eq!(r.total_ps, 11 * npu.tck_ps);
    let mx = engine(&r, "npu.mx");
    assert_eq!((mx.stalled_ps, mx.busy_ps), (10 * npu.tck_ps, 0));
}

#[test]
fn a_lock_order_deadlock_names_every_waiting_engine() {
    // Two mutexes taken in opposite orders with work in between: the verifier's single
    // schedule (one engine at a time) finishes, the concurrent run cannot.
    let text = ".buffer h, spm, addr=0, shape=[1, 4096], dtype=f16\n\
                .buffer d, dram, addr=0, shape=[1, 4096], dtype=f16\n\
                .sem s, init=1\n\
                .sem t, init=1\n\
                .stream npu.vec\n\
                wait s, value=1\n\
                unary exp, h, h, rows=1, cols=4096, dtype=f16\n\
                wait t, value=1\n\
                signal t, value=1\n\
                signal s, value=1\n\
                .stream cpu.0\n\
                wait t, value=1\n\
                unary exp, d, d, rows=1, cols=4096, dtype=f16\n\
                wait s, value=1\n\
                signal s, value=1\n\
                signal t, value=1\n";
    let err = simulate(&program(text), &arch("mobile-soc"), &SimOptions::default()).unwrap_err();
    let Error::ProgramDeadlock { waiting, .. } = &err else {
        panic!("expected a deadlock, got {err}");
    };
    let names: Vec<_> = waiting
        .iter()
        .map(|w| (w.engine.to_string(), w.index, w.sem.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("npu.vec".to_string(), 2, "t"),
            ("cpu.0".to_string(), 2, "s")
        ]
    );
    let msg = err.to_string();
    assert!(
        msg.contains("npu.vec #2 `wait t, value=1` (count 0)"),
        "{msg}"
    );
}

#[test]
fn a_program_the_verifier_proves_stuck_is_refused_before_running() {
    let text = ".sem s\n.stream npu.mx\nwait s, value=1\n";
    let err = simulate(&program(text), &arch("mobile-soc"), &SimOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Isa(_)), "{err}");
}
