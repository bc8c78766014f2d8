//! Helpers shared by the interpreter tests: tensor literals and one-op graphs.
//!
//! Each `interp_*.rs` test binary includes this module and uses a subset of it.

#![allow(dead_code)]

use std::collections::BTreeMap;

use triad_compiler::{DType, Graph, Op, Result, Tensor, run};

/// A float tensor (values rounded to `dtype` by the constructor).
pub fn f(dtype: DType, shape: &[usize], v: &[f32]) -> Tensor {
    Tensor::from_f32s(dtype, shape, v.to_vec()).expect("valid float tensor literal")
}

/// An f32 tensor.
pub fn f32t(shape: &[usize], v: &[f32]) -> Tensor {
    f(DType::F32, shape, v)
}

/// An integer tensor.
pub fn int(dtype: DType, shape: &[usize], v: &[i64]) -> Tensor {
    Tensor::from_i64s(dtype, shape, v.to_vec()).expect("valid integer tensor literal")
}

/// A bool tensor.
pub fn bools(shape: &[usize], v: &[bool]) -> Tensor {
    Tensor::from_bools(shape, v.to_vec()).expect("valid bool tensor literal")
}

/// Build a graph applying `op` to graph inputs `x0, x1, …` holding `ins`, run it
/// with [`run`] and return its outputs in order.
pub fn try_op(op: Op, ins: impl AsRef<[Tensor]>) -> Result<Vec<Tensor>> {
    let mut g = Graph::new("one-op");
    let mut refs = Vec::new();
    let mut feed = BTreeMap::new();
    for (k, t) in ins.as_ref().iter().enumerate() {
        let name = format!("x{k}");
        refs.push(g.input(&name, t.ty())?);
        feed.insert(name, t.clone());
    }
    let outs = g.add("op", op, &refs)?;
    g.set_outputs(&outs);
    let res = run(&g, &feed)?;
    Ok(outs
        .iter()
        .map(|v| res[&g.value_info(*v).name].clone())
        .collect())
}

/// [`try_op`] for an op with one output that must succeed.
pub fn op1(op: Op, ins: impl AsRef<[Tensor]>) -> Tensor {
    try_op(op, ins).expect("op runs").remove(0)
}

/// Float values of a tensor.
pub fn fv(t: &Tensor) -> Vec<f32> {
    t.f32s().expect("a float tensor")
}

/// Integer values of a tensor.
pub fn iv(t: &Tensor) -> Vec<i64> {
    t.i64s().expect("an integer tensor")
}

/// Bool values of a tensor.
pub fn bv(t: &Tensor) -> Vec<bool> {
    t.bools().expect("a bool tensor")
}

/// Assert every value is within `tol` of the expected f64 (NaN matches NaN).
pub fn close(got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "length: got {got:?}, want {want:?}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            f64::from(g) == w
        } else {
            (f64::from(g) - w).abs() <= tol
        };
        assert!(
            ok,
            "element {i}: got {g}, want {w} (tol {tol}); all: {got:?}"
        );
    }
}

/// The error text of a failed op run.
pub fn err_text(op: Op, ins: impl AsRef<[Tensor]>) -> String {
    match try_op(op, ins) {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}
