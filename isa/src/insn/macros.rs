//! The `instruction_set!` macro: one table of instructions generates the operand
//! structs, the [`super::Instruction`] enum, the [`super::Visitor`] trait and the
//! generic plumbing (text, binary, structural checks, synthesis) that walks each
//! instruction's fields through [`super::field::Field`].
//!
//! Keeping this in one macro means a new instruction is one table row: its
//! assembler, disassembler, binary codec, JSON form and visitor method cannot drift
//! apart.

/// Generates the instruction set from a table of
/// `Variant => visitor_method, opcode, "mnemonic", Class { field: Type, … }` rows.
macro_rules! instruction_set {
    ($(
        $(#[$doc:meta])*
        $variant:ident => $method:ident, $opcode:literal, $mnem:literal, $class:ident {
            $( $(#[$fdoc:meta])* $field:ident : $fty:ty ),* $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $variant {
                $( $(#[$fdoc])* pub $field: $fty, )*
            }

            impl $variant {
                /// Assembly mnemonic.
                pub const MNEMONIC: &'static str = $mnem;
                /// Binary opcode.
                pub const OPCODE: u8 = $opcode;
                /// Which engines may run it.
                pub const CLASS: InsnClass = InsnClass::$class;
                /// Operand names, in assembly and binary order.
                pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];
            }

            impl From<$variant> for Instruction {
                fn from(i: $variant) -> Instruction {
                    Instruction::$variant(i)
                }
            }
        )*

        /// One instruction of an engine's stream. Each variant wraps a struct holding
        /// its operands; see `isa/README.md` for the semantics of each.
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "insn")]
        pub enum Instruction {
            $( $(#[$doc])* #[serde(rename = $mnem)] $variant($variant), )*
        }

        /// A walker over instructions with one method per instruction, in the style of
        /// rrs's `InstructionProcessor`: the timing model, the functional executor, the
        /// verifier and any trace writer implement it and are driven by
        /// [`Instruction::accept`].
        pub trait Visitor {
            /// What each method returns.
            type Output;
            $(
                #[doc = concat!("Handle a `", $mnem, "` instruction.")]
                fn $method(&mut self, insn: &$variant) -> Self::Output;
            )*
        }

        impl Instruction {
            /// Every mnemonic, in table order.
            pub const MNEMONICS: &'static [&'static str] = &[$($mnem),*];
            /// Every opcode, in table order.
            pub const OPCODES: &'static [u8] = &[$($opcode),*];

            /// Call the visitor method for this instruction.
            pub fn accept<V: Visitor + ?Sized>(&self, v: &mut V) -> V::Output {
                match self {
                    $( Instruction::$variant(i) => v.$method(i), )*
                }
            }

            /// Assembly mnemonic.
            pub fn mnemonic(&self) -> &'static str {
                match self {
                    $( Instruction::$variant(_) => $mnem, )*
                }
            }

            /// Binary opcode.
            pub fn opcode(&self) -> u8 {
                match self {
                    $( Instruction::$variant(_) => $opcode, )*
                }
            }

            /// Which engines may run it.
            pub fn class(&self) -> InsnClass {
                match self {
                    $( Instruction::$variant(_) => InsnClass::$class, )*
                }
            }

            /// Operand names of the instruction with mnemonic `mnemonic`.
            pub fn fields_of(mnemonic: &str) -> Option<&'static [&'static str]> {
                match mnemonic {
                    $( $mnem => Some($variant::FIELDS), )*
                    _ => None,
                }
            }

            /// The class of the instruction with mnemonic `mnemonic`.
            pub fn class_of(mnemonic: &str) -> Option<InsnClass> {
                match mnemonic {
                    $( $mnem => Some(InsnClass::$class), )*
                    _ => None,
                }
            }

            /// Every buffer operand, with its operand name.
            pub fn slices(&self) -> Vec<(&'static str, Slice)> {
                let mut out = Vec::new();
                match self {
                    $( Instruction::$variant(i) => {
                        $( if let Some(s) = Field::as_slice(&i.$field) {
                            out.push((stringify!($field), s));
                        } )*
                    } )*
                }
                out
            }

            /// Build a random instruction with opcode `opcode` from `g` (for property
            /// tests and fuzzers). `None` if no instruction has that opcode.
            pub fn synthesize(opcode: u8, g: &mut dyn Synth) -> Option<Instruction> {
                match opcode {
                    $( $opcode => Some(Instruction::$variant($variant {
                        $( $field: <$fty as Field>::synth(g), )*
                    })), )*
                    _ => None,
                }
            }

            /// Append the operands in canonical assembly form.
            pub(crate) fn print_operands(&self, names: &Names<'_>, out: &mut String) {
                match self {
                    $( Instruction::$variant(i) => {
                        let mut parts: Vec<String> = Vec::new();
                        $(
                            let mut s = String::new();
                            if !<$fty as Field>::POSITIONAL {
                                s.push_str(concat!(stringify!($field), "="));
                            }
                            Field::print(&i.$field, names, &mut s);
                            parts.push(s);
                        )*
                        if !parts.is_empty() {
                            out.push(' ');
                            out.push_str(&parts.join(", "));
                        }
                    } )*
                }
            }

            /// Build the instruction `mnemonic` from bound assembly operands.
            pub(crate) fn assemble<B: Operands>(
                mnemonic: &str,
                b: &mut B,
                scope: &Scope,
            ) -> crate::Result<Option<Instruction>> {
                Ok(match mnemonic {
                    $( $mnem => Some(Instruction::$variant($variant {
                        $( $field: b.take::<$fty>(stringify!($field), scope)?, )*
                    })), )*
                    _ => None,
                })
            }

            /// Append the binary form (opcode, then each field).
            pub(crate) fn encode(&self, w: &mut Writer) {
                w.u8(self.opcode());
                match self {
                    $( Instruction::$variant(i) => { $( Field::encode(&i.$field, w); )* } )*
                }
            }

            /// Decode one instruction (opcode, then fields).
            pub(crate) fn decode(r: &mut Reader<'_>) -> crate::Result<Instruction> {
                let at = r.pos();
                let op = r.u8("opcode")?;
                match op {
                    $( $opcode => Ok(Instruction::$variant($variant {
                        $( $field: <$fty as Field>::decode(r, stringify!($field))?, )*
                    })), )*
                    _ => Err(r.error_at(at, format!("unknown opcode {op:#04x}"))),
                }
            }

            /// Check the operands are well formed for `names` (ids in range, floats
            /// finite); the message names the operand.
            pub(crate) fn check_fields(&self, names: &Names<'_>) -> std::result::Result<(), String> {
                match self {
                    $( Instruction::$variant(i) => {
                        $( Field::check(&i.$field, names)
                            .map_err(|e| format!("operand `{}`: {e}", stringify!($field)))?; )*
                    } )*
                }
                Ok(())
            }
        }
    };
}
