//! DRAM and PIM commands as the controller issues them, and the command log a run
//! records for the timing checker.
//!
//! A [`Command`] names its cycle (DRAM command clock), channel and target. Ordinary
//! commands (ACT, PRE, RD, WR, REF, REFpb) address one bank (REF one rank); the PIM
//! all-bank commands (ACT_AB, PRE_AB, MAC_AB, EWMUL, EWADD) address every bank of a
//! channel, and MAC_AB / EWMUL / EWADD read the `sub`-th bank of every PIM unit
//! (`sub` in the `bank` field); MAC_SB is the single-bank MAC, addressed like a RD;
//! the buffer and read-out commands (WR_GB, WR_BIAS, RD_MAC, RD_AF) address the
//! channel's PIM units through the data bus, and AF acts on the units' results.

use serde::Serialize;
use std::fmt;
use triad_isa::Cycles;

/// The kind of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum CommandKind {
    /// Activate one row of one bank.
    Act,
    /// Precharge one bank.
    Pre,
    /// Read one burst.
    Rd,
    /// Write one burst.
    Wr,
    /// All-bank refresh of one rank.
    Ref,
    /// Per-bank refresh.
    RefPb,
    /// PIM: activate the same row in every bank of the channel.
    ActAb,
    /// PIM: precharge every open bank of the channel.
    PreAb,
    /// PIM: one MAC column command in every unit (all-bank MAC).
    MacAb,
    /// PIM: one MAC column command in one bank's unit (single-bank MAC).
    MacSb,
    /// PIM: one element-wise multiply column op in every unit.
    EwMul,
    /// PIM: one element-wise add column op in every unit.
    EwAdd,
    /// PIM: write one burst of the input vector into the global buffer.
    WrGb,
    /// PIM: write one burst of bias values into the accumulators.
    WrBias,
    /// PIM: apply the activation function to one burst of accumulator results.
    Af,
    /// PIM: read one burst of accumulator results.
    RdMac,
    /// PIM: read one burst of results through the activation function.
    RdAf,
    /// PIM: load one burst of every unit's bank into its register file (HBM-PIM's
    /// FILL), the first stage of an element-wise op whose operands are in other rows.
    EwLoad,
    /// PIM: store one register-file burst of every unit into its bank (the last
    /// stage of a staged element-wise op).
    EwStore,
    /// PIM: activate the same row in bank `bank` of every PIM unit.
    ActUb,
    /// PIM: precharge bank `bank` of every PIM unit.
    PreUb,
    /// The channel enters PIM mode (all banks closed; nothing issues for
    /// `tmode_enter`).
    PimEnter,
    /// The channel leaves PIM mode (all banks closed; nothing issues for
    /// `tmode_exit`).
    PimExit,
}

impl CommandKind {
    /// The mnemonic printed in logs and violations.
    pub fn mnemonic(self) -> &'static str {
        match self {
            CommandKind::Act => "ACT",
            CommandKind::Pre => "PRE",
            CommandKind::Rd => "RD",
            CommandKind::Wr => "WR",
            CommandKind::Ref => "REF",
            CommandKind::RefPb => "REFpb",
            CommandKind::ActAb => "ACT_AB",
            CommandKind::PreAb => "PRE_AB",
            CommandKind::MacAb => "MAC_AB",
            CommandKind::MacSb => "MAC_SB",
            CommandKind::EwMul => "EWMUL",
            CommandKind::EwAdd => "EWADD",
            CommandKind::WrGb => "WR_GB",
            CommandKind::WrBias => "WR_BIAS",
            CommandKind::Af => "AF",
            CommandKind::RdMac => "RD_MAC",
            CommandKind::RdAf => "RD_AF",
            CommandKind::EwLoad => "EW_LD",
            CommandKind::ActUb => "ACT_UB",
            CommandKind::PreUb => "PRE_UB",
            CommandKind::EwStore => "EW_ST",
            CommandKind::PimEnter => "PIM_ENTER",
            CommandKind::PimExit => "PIM_EXIT",
        }
    }

    /// True for the all-bank element-wise column commands.
    pub fn is_ewop(self) -> bool {
        matches!(self, CommandKind::EwMul | CommandKind::EwAdd)
    }

    /// True for the all-bank column commands that address the `bank`-th bank of
    /// every PIM unit (MAC_AB, EWMUL, EWADD, EW_LD, EW_ST).
    pub fn is_unit_indexed(self) -> bool {
        matches!(
            self,
            CommandKind::MacAb
                | CommandKind::EwMul
                | CommandKind::EwAdd
                | CommandKind::EwLoad
                | CommandKind::EwStore
                | CommandKind::ActUb
                | CommandKind::PreUb
        )
    }

    /// True for the commands of the PIM families.
    pub fn is_pim(self) -> bool {
        matches!(
            self,
            CommandKind::ActAb
                | CommandKind::PreAb
                | CommandKind::MacAb
                | CommandKind::MacSb
                | CommandKind::EwMul
                | CommandKind::EwAdd
                | CommandKind::WrGb
                | CommandKind::WrBias
                | CommandKind::Af
                | CommandKind::RdMac
                | CommandKind::RdAf
                | CommandKind::EwLoad
                | CommandKind::EwStore
                | CommandKind::ActUb
                | CommandKind::PreUb
        )
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mnemonic())
    }
}

/// One issued command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Command {
    /// DRAM command-clock cycle of issue.
    pub cycle: Cycles,
    /// What it is.
    pub kind: CommandKind,
    /// Channel.
    pub channel: u32,
    /// Rank (0 for channel-wide PIM commands).
    pub rank: u32,
    /// Bank group (0 for channel- or rank-wide commands).
    pub bank_group: u32,
    /// Bank within its group; for MAC_AB, EWMUL and EWADD the bank index within
    /// each PIM unit.
    pub bank: u32,
    /// Row (ACT, ACT_AB, RD, WR, MAC_AB, MAC_SB, EWMUL, EWADD); 0 otherwise.
    pub row: u32,
    /// Column in bursts (RD, WR, MAC_AB, MAC_SB, EWMUL, EWADD); 0 otherwise.
    pub column: u32,
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} @{} ch{} ra{} bg{} ba{} row{} col{}",
            self.kind,
            self.cycle.0,
            self.channel,
            self.rank,
            self.bank_group,
            self.bank,
            self.row,
            self.column
        )
    }
}

/// The commands of a run in issue order (non-decreasing cycle per channel).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CommandLog {
    /// The commands.
    pub commands: Vec<Command>,
}

impl CommandLog {
    /// Appends one command.
    pub fn push(&mut self, c: Command) {
        self.commands.push(c);
    }

    /// Number of commands of `kind`.
    pub fn count(&self, kind: CommandKind) -> usize {
        self.commands.iter().filter(|c| c.kind == kind).count()
    }
}
