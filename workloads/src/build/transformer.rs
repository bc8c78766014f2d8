//! The whole model: embeddings, the layer stack (pre- or post-norm), final norm and
//! head, and the graph's inputs and outputs.

use triad_compiler::{DType, Data, Op, TensorType, ValueRef};

use super::{Builder, init};
use crate::config::{Head, Position};
use crate::error::Result;
use crate::phase::Phase;

/// Generate every node of the model into `b.g` and declare the outputs.
pub(crate) fn build_model(b: &mut Builder) -> Result<()> {
    b.g.set_scope("embed");
    b.shared_constants()?;
    let (mut x, table) = embed(b)?;
    let mut present = Vec::with_capacity(2 * b.cfg.layers);
    for i in 0..b.cfg.layers {
        let (y, k, v) = layer(b, i, x)?;
        x = y;
        present.extend([k, v]);
    }
    let out = head(b, x, table)?;
    let keeps_cache = b.cfg.causal || b.past > 0;
    let mut outputs = vec![out];
    if keeps_cache {
        outputs.extend(present);
    }
    b.g.set_outputs(&outputs);
    Ok(())
}

/// Token (+ position, + type) embeddings `[B, S, hidden]` and the token table,
/// scope `embed`.
fn embed(b: &mut Builder) -> Result<(ValueRef, ValueRef)> {
    let cfg = b.cfg;
    let (bs, s, h) = (b.batch, b.new, cfg.hidden);
    let ids =
        b.g.input("input_ids", TensorType::new(DType::I64, [bs, s]))?;
    let r = init::EMBED_RANGE;
    let table = b.weight(
        "embed.tokens.weight",
        b.act,
        &[cfg.vocab, cfg.embed_dim],
        (-r, r),
    )?;
    let mut x = b.op("embed.tokens", Op::Gather { axis: 0 }, &[table, ids])?;
    let token_table = table;
    if cfg.embed_dim != h {
        x = b.linear("embed.project_in", x, (cfg.embed_dim, h), false)?;
    }
    if cfg.position == Position::Learned {
        let rows = cfg.max_positions + cfg.position_offset;
        let ids: Vec<i64> = b
            .opts
            .phase
            .positions()
            .iter()
            .map(|&p| (p + cfg.position_offset) as i64)
            .collect();
        let ids = b.constant("position_ids", DType::I64, &[s], Data::I64(ids))?;
        let table = b.weight("embed.positions.weight", b.act, &[rows, h], (-r, r))?;
        let pe = b.op("embed.positions", Op::Gather { axis: 0 }, &[table, ids])?;
        x = b.op("embed.add_positions", Op::Add, &[x, pe])?;
    }
    if cfg.type_vocab > 0 {
        let types =
            b.g.input("token_type_ids", TensorType::new(DType::I64, [bs, s]))?;
        let table = b.weight(
            "embed.token_types.weight",
            b.act,
            &[cfg.type_vocab, h],
            (-r, r),
        )?;
        let te = b.op("embed.token_types", Op::Gather { axis: 0 }, &[table, types])?;
        x = b.op("embed.add_token_types", Op::Add, &[x, te])?;
    }
    if cfg.embed_norm {
        x = b.norm("embed.norm", x, h)?;
    }
    Ok((x, token_table))
}

/// One transformer layer; returns its output and present K, V.
fn layer(b: &mut Builder, i: usize, x: ValueRef) -> Result<(ValueRef, ValueRef, ValueRef)> {
    let h = b.cfg.hidden;
    let p = format!("layer{i}");
    let scope = |b: &mut Builder, s: &str| b.g.set_scope(format!("{p}/{s}"));
    if b.cfg.pre_norm {
        scope(b, "attn_norm");
        let n = b.norm(&format!("{p}.attn_norm"), x, h)?;
        let (a, k, v) = b.attention(i, n)?;
        scope(b, "residual");
        let x = b.op(&format!("{p}.attn_residual"), Op::Add, &[x, a])?;
        scope(b, "ffn_norm");
        let n = b.norm(&format!("{p}.ffn_norm"), x, h)?;
        let f = feed_forward(b, i, n)?;
        scope(b, "residual");
        let x = b.op(&format!("{p}.ffn_residual"), Op::Add, &[x, f])?;
        Ok((x, k, v))
    } else {
        let (a, k, v) = b.attention(i, x)?;
        scope(b, "residual");
        let x = b.op(&format!("{p}.attn_residual"), Op::Add, &[x, a])?;
        scope(b, "attn_norm");
        let x = b.norm(&format!("{p}.attn_norm"), x, h)?;
        let f = feed_forward(b, i, x)?;
        scope(b, "residual");
        let x = b.op(&format!("{p}.ffn_residual"), Op::Add, &[x, f])?;
        scope(b, "ffn_norm");
        let x = b.norm(&format!("{p}.ffn_norm"), x, h)?;
        Ok((x, k, v))
    }
}

/// Dense FFN (scope `layer{i}/ffn`) or MoE.
fn feed_forward(b: &mut Builder, i: usize, x: ValueRef) -> Result<ValueRef> {
    if b.cfg.experts > 1 {
        b.moe(i, x)
    } else {
        b.g.set_scope(format!("layer{i}/ffn"));
        b.ffn(&format!("layer{i}.ffn"), x)
    }
}

/// Final norm (pre-norm models) and the LM head or pooler; `table` is the token
/// embedding table (read by a tied head).
fn head(b: &mut Builder, x: ValueRef, table: ValueRef) -> Result<ValueRef> {
    let cfg = b.cfg;
    let (bs, s, h, e) = (b.batch, b.new, cfg.hidden, cfg.embed_dim);
    let mut x = x;
    if cfg.pre_norm {
        b.g.set_scope("final_norm");
        x = b.norm("final_norm", x, h)?;
    }
    b.g.set_scope("head");
    // Rows that need an output: every tree token for verify, else the last token
    // (LM head) or the first token (BERT's pooler reads [CLS]).
    let (start, rows) = match (cfg.head, b.opts.phase) {
        (Head::Pooler, _) => (0, 1),
        (Head::Lm, Phase::Verify { .. }) => (0, s),
        (Head::Lm, _) => (s - 1, 1),
    };
    if rows < s {
        let slice = Op::Slice {
            starts: vec![start as i64],
            ends: vec![(start + rows) as i64],
            axes: vec![1],
            steps: vec![],
        };
        x = b.op("head.select", slice, &[x])?;
    }
    match cfg.head {
        Head::Pooler => {
            let x = b.reshape("head.cls", x, &[bs, h])?;
            let d = b.linear("head.pooler", x, (h, h), true)?;
            b.op("pooled", Op::Tanh, &[d])
        }
        Head::Lm => {
            if e != h {
                x = b.linear("head.project_out", x, (h, e), false)?;
            }
            if cfg.tied_embeddings {
                // The LM head reads the token-embedding table [vocab, embed] as is.
                let flat = b.reshape("head.flatten", x, &[bs * rows, e])?;
                let gemm = Op::Gemm {
                    alpha: 1.0,
                    beta: 1.0,
                    trans_a: false,
                    trans_b: true,
                };
                let l = b.op("head.lm", gemm, &[flat, table])?;
                b.reshape("logits", l, &[bs, rows, cfg.vocab])
            } else {
                b.linear_to("head.lm", "logits", x, (e, cfg.vocab), false)
            }
        }
    }
}
