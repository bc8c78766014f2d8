//! The `op_table!` macro and the per-kind facts it records: one row per IR op
//! generates the [`super::Op`] enum (its JSON form), the fieldless [`OpKind`], and
//! each kind's [`OpInfo`] (name, [`Category`], [`Arity`], [`Export`]).
//!
//! Keeping the op list in one macro means a new op is one row; its semantics then go
//! into one function per hook, each in its own module: shape inference (`infer/`),
//! evaluation (`interp/`), FLOPs (`stats/flops.rs`) and ONNX export
//! (`onnx/export.rs`). The e-graph language needs nothing more: its op codes carry
//! the op and are parsed by name through [`OpKind::from_name`]. The hooks dispatch
//! either on the category (every binary op evaluates through one kernel) or through
//! one exhaustive `match` per hook, so a missing semantic is a compile error or, for
//! category-dispatched hooks, a failure of the `op_table` integration test, which
//! runs every kind through every hook.

use serde::{Deserialize, Serialize};

/// What an op does, coarsely; the hooks that treat a whole group alike dispatch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Graph inputs, weights, constants: no operands, a declared type.
    Source,
    /// Matrix products.
    LinearAlgebra,
    /// Element-wise ops of two broadcasting operands (arithmetic, comparison, logic).
    Binary,
    /// Element-wise math of one operand.
    Unary,
    /// Element-wise activation functions of one operand.
    Activation,
    /// Other element-wise ops (`Where`, `Cast`).
    Elementwise,
    /// Normalisations along an axis (softmax, layer and RMS norm).
    Norm,
    /// Attention helpers (rotary embedding, causal mask).
    Attention,
    /// Pure data movement: layout changes, slicing, gathers.
    Layout,
    /// Reductions over axes.
    Reduction,
    /// Quantisation and dequantisation.
    Quant,
    /// Mixture-of-experts routing.
    Moe,
    /// KV-cache updates.
    KvCache,
}

/// How many operands an op takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arity {
    /// Exactly this many.
    Fixed(usize),
    /// `min` to `max`: the last ones are optional (a bias, a zero point).
    Optional {
        /// Required operands.
        min: usize,
        /// Required plus optional operands.
        max: usize,
    },
    /// At least `min` (variadic).
    Variadic {
        /// Fewest operands.
        min: usize,
    },
    /// `base` plus one per expert (the op's `experts` attribute).
    PerExpert {
        /// Operands besides the expert results.
        base: usize,
    },
}

/// How ONNX export writes an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Export {
    /// As the standard ONNX op of the same name with the same operands and no
    /// attributes.
    Direct,
    /// By its own rule in `onnx/export.rs`: ONNX attributes, another op name or a
    /// decomposition into standard ops (the module doc lists the refusals).
    Rule,
}

/// The facts the op table records about one kind of op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OpInfo {
    /// The name written in graph JSON, e-graph terms and error messages.
    pub name: &'static str,
    /// What the op does, coarsely.
    pub category: Category,
    /// How many operands it takes.
    pub arity: Arity,
    /// How ONNX export writes it.
    pub export: Export,
    /// Its attribute names, in declaration (and JSON) order.
    pub attrs: &'static [&'static str],
}

/// Generates the op set from a table of
/// `Variant { attr: Type, … } => Category, arity, export;` rows (attribute-free ops
/// omit the braces and are unit variants, which serialise without `attrs`).
macro_rules! op_table {
    ($(
        $(#[$doc:meta])*
        $variant:ident $({ $( $(#[$fattr:meta])* $field:ident : $fty:ty ),* $(,)? })?
            => $cat:ident, $arity:expr, $export:ident;
    )*) => {
        /// A tensor operator with its attributes.
        ///
        /// Axes are signed: negative values count from the end, as in ONNX. Unless
        /// stated, all float inputs of an op share one dtype and the result has that
        /// dtype.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "op", content = "attrs", deny_unknown_fields)]
        pub enum Op {
            $(
                $(#[$doc])*
                $variant $({ $( $(#[$fattr])* $field: $fty ),* })?,
            )*
        }

        /// The kind of an [`Op`], without its attributes: one per row of the op table.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum OpKind {
            $(
                #[doc = concat!("[`Op::", stringify!($variant), "`].")]
                $variant,
            )*
        }

        impl OpKind {
            /// Every kind, in table order.
            pub const ALL: &'static [OpKind] = &[$(OpKind::$variant),*];

            /// What the op table records about this kind.
            pub const fn info(self) -> &'static OpInfo {
                match self {
                    $( OpKind::$variant => &OpInfo {
                        name: stringify!($variant),
                        category: Category::$cat,
                        arity: $arity,
                        export: Export::$export,
                        attrs: &[$($(stringify!($field)),*)?],
                    }, )*
                }
            }

            /// The kind named `name` (as [`OpInfo::name`] spells it), if any.
            pub fn from_name(name: &str) -> Option<OpKind> {
                match name {
                    $( stringify!($variant) => Some(OpKind::$variant), )*
                    _ => None,
                }
            }
        }

        impl Op {
            /// This op's kind (its row of the op table).
            pub fn kind(&self) -> OpKind {
                match self {
                    $( Op::$variant { .. } => OpKind::$variant, )*
                }
            }
        }
    };
}

pub(crate) use op_table;
