//! The e-class analysis: the result types of every class, from the IR's own
//! inference (`infer`, the function the graph builder and validation use), so a
//! rewrite can never invent a shape the IR would reject.
//!
//! Limits and failure: a class whose op rejects its operands gets
//! [`ClassInfo::Invalid`] with the reason (a rule produced an ill-typed term; such
//! classes are never extracted). Merging two classes with different known types
//! keeps the first and counts a conflict in [`TensorAnalysis::type_conflicts`]: it
//! means an unsound rule, and the stats report it.

use egg::{Analysis, DidMerge, EGraph, Id};

use crate::data::TensorType;
use crate::egraph::lang::{OpTable, TensorLang};
use crate::infer::infer;

/// What the analysis knows of a class.
#[derive(Clone, Debug, PartialEq)]
pub enum ClassInfo {
    /// A tag leaf (`cpu`, `dram`, a port number, a split): not a tensor.
    Tag,
    /// A tensor-valued class and its result types (several for multi-output ops).
    Types(Vec<TensorType>),
    /// An op that rejects its operands, with the reason.
    Invalid(String),
}

impl ClassInfo {
    /// The single type of a one-output class.
    pub fn single(&self) -> Option<&TensorType> {
        match self {
            ClassInfo::Types(t) if t.len() == 1 => Some(&t[0]),
            _ => None,
        }
    }
}

/// The analysis state: the op table the e-nodes index, and a conflict counter.
#[derive(Clone, Debug, Default)]
pub struct TensorAnalysis {
    /// The ops [`crate::egraph::OpCode`]s refer to.
    pub ops: OpTable,
    /// Merges of two classes with different known types (unsound rules); 0 when sound.
    pub type_conflicts: usize,
    /// (class a rule matched, rule name) for every rewrite rule application that
    /// changed the e-graph (placement rules are not recorded: the target says it).
    pub fired: Vec<(Id, String)>,
}

/// The e-graph type used throughout.
pub type TensorGraph = EGraph<TensorLang, TensorAnalysis>;

fn port_of(eg: &TensorGraph, id: Id) -> Option<u32> {
    eg[id].nodes.iter().find_map(|n| match n {
        TensorLang::Port(p) => Some(*p),
        _ => None,
    })
}

impl Analysis<TensorLang> for TensorAnalysis {
    type Data = ClassInfo;

    fn make(eg: &mut TensorGraph, enode: &TensorLang, _id: Id) -> ClassInfo {
        match enode {
            TensorLang::Target(_)
            | TensorLang::Memory(_)
            | TensorLang::Port(_)
            | TensorLang::Split(_) => ClassInfo::Tag,
            TensorLang::On([_, e])
            | TensorLang::Xfer([_, _, e])
            | TensorLang::Inl(e)
            | TensorLang::Par([_, e]) => eg[*e].data.clone(),
            TensorLang::Out([p, e]) => match (port_of(eg, *p), &eg[*e].data) {
                (Some(p), ClassInfo::Types(t)) => match t.get(p as usize) {
                    Some(t) => ClassInfo::Types(vec![t.clone()]),
                    None => ClassInfo::Invalid(format!("output {p} of a {}-output op", t.len())),
                },
                (_, ClassInfo::Invalid(r)) => ClassInfo::Invalid(r.clone()),
                _ => ClassInfo::Invalid("`out` needs a port and a tensor".into()),
            },
            TensorLang::Op(code, children) => {
                let entry = eg.analysis.ops.get(*code);
                if let Some(src) = &entry.source {
                    return ClassInfo::Types(vec![src.ty.clone()]);
                }
                let mut tys = Vec::with_capacity(children.len());
                for c in children {
                    match &eg[*c].data {
                        ClassInfo::Invalid(r) => return ClassInfo::Invalid(r.clone()),
                        info => match info.single() {
                            Some(t) => tys.push(t),
                            None => {
                                return ClassInfo::Invalid(format!(
                                    "{}: an operand is not a single tensor",
                                    code.name
                                ));
                            }
                        },
                    }
                }
                match infer(&entry.op, &tys) {
                    Ok(t) => ClassInfo::Types(t),
                    Err(m) => ClassInfo::Invalid(format!("{}: {m:?}", code.name)),
                }
            }
        }
    }

    fn merge(&mut self, a: &mut ClassInfo, b: ClassInfo) -> DidMerge {
        match (&*a, &b) {
            (x, y) if x == y => DidMerge(false, false),
            (ClassInfo::Invalid(_), ClassInfo::Types(_)) => {
                *a = b;
                DidMerge(true, false)
            }
            (ClassInfo::Types(_), ClassInfo::Invalid(_)) => DidMerge(false, true),
            _ => {
                self.type_conflicts += 1;
                DidMerge(false, true)
            }
        }
    }
}
