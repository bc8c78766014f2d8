//! `triad explore SWEEP.toml -o DIR`: every point of a design-space sweep compiled
//! and simulated (`triad run` per point), in parallel (`--jobs`), with a progress
//! bar; results stream to `DIR/results.{csv,jsonl}` as points finish, `--resume`
//! continues an interrupted run, `--shard i/N` runs 1/N of the points and
//! `triad explore merge` puts the shards back together. The sweep format is in the
//! README ("Design-space sweeps").

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::sweep::evaluate::evaluate;
use crate::sweep::pareto::Objective;
use crate::sweep::points::{Point, expand, sweep_id};
use crate::sweep::record::Record;
use crate::sweep::setting::PARAMS;
use crate::sweep::shard::Shard;
use crate::sweep::spec::Sweep;
use crate::sweep::store::{self, CSV, JSONL, MANIFEST, Manifest};

/// Arguments of `triad explore`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct Args {
    /// `merge`: combine shard outputs.
    #[command(subcommand)]
    command: Option<Sub>,
    /// The sweep file (TOML; format in the README).
    #[arg(value_name = "SWEEP.toml", required = true)]
    sweep: Option<PathBuf>,
    /// Output directory: results.csv, results.jsonl, explore.json.
    #[arg(short = 'o', long, value_name = "DIR", required = true)]
    output: Option<PathBuf>,
    /// Points run at once; default: all cores.
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// Continue a run in DIR: skip the points already there.
    #[arg(long)]
    resume: bool,
    /// Run shard i of N (0 <= i < N): the points whose index is i mod N.
    #[arg(long, value_name = "i/N")]
    shard: Option<Shard>,
    /// Mark the Pareto front of these objectives (latency, step, energy,
    /// throughput, dram); overrides the sweep's `pareto`.
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    pareto: Option<Vec<Objective>>,
    /// Check the sweep and print its point count; run nothing.
    #[arg(long)]
    check: bool,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Combine the outputs of `--shard` runs into one (equal to an unsharded run).
    Merge(MergeArgs),
}

/// Arguments of `triad explore merge`.
#[derive(clap::Args, Debug)]
struct MergeArgs {
    /// Shard output directories.
    #[arg(value_name = "DIR", required = true)]
    dirs: Vec<PathBuf>,
    /// Output directory.
    #[arg(short = 'o', long, value_name = "OUT")]
    output: PathBuf,
}

/// Run `triad explore`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(Sub::Merge(m)) = args.command {
        return merge(&m);
    }
    let (Some(path), Some(dir)) = (&args.sweep, &args.output) else {
        bail!("give a sweep file and -o DIR");
    };
    let sweep = Sweep::load(path)?;
    let points = expand(&sweep)?;
    let pareto = args.pareto.clone().unwrap_or_else(|| sweep.pareto.clone());
    let manifest = Manifest {
        sweep_id: sweep_id(&points),
        points: points.len(),
        shard: args.shard.map(|s| s.to_string()),
        pareto: pareto.iter().map(ToString::to_string).collect(),
        fields: sweep
            .groups
            .iter()
            .flat_map(|g| &g.axes)
            .map(|a| a.name.clone())
            .filter(|n| !PARAMS.contains(&n.as_str()))
            .collect(),
    };
    let mine: Vec<&Point> = points
        .iter()
        .filter(|p| args.shard.is_none_or(|s| s.has(p.index)))
        .collect();
    if args.check {
        println!(
            "{}: {} points{}",
            path.display(),
            points.len(),
            args.shard
                .map(|s| format!(", {} in shard {s}", mine.len()))
                .unwrap_or_default()
        );
        return Ok(());
    }
    let (stream, mut done) = store::open(dir, &manifest, args.resume)?;
    let by_id: HashMap<&str, usize> = mine.iter().map(|p| (p.id.as_str(), p.index)).collect();
    let mut have: BTreeMap<usize, Record> = BTreeMap::new();
    for mut r in done.drain(..) {
        let Some(&index) = by_id.get(r.id.as_str()) else {
            bail!(
                "`{}` holds point {} which this sweep does not have: use another -o",
                dir.display(),
                r.id
            );
        };
        r.index = index;
        have.insert(index, r);
    }
    let pending: Vec<&Point> = mine
        .into_iter()
        .filter(|p| !have.contains_key(&p.index))
        .collect();
    let jobs = args.jobs.unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("starting the worker threads")?;
    eprintln!(
        "explore: {} points{}, {} already done, {} to run on {} threads",
        points.len(),
        args.shard
            .map(|s| format!(" (shard {s})"))
            .unwrap_or_default(),
        have.len(),
        pending.len(),
        pool.current_num_threads()
    );
    let bar = ProgressBar::new(pending.len() as u64).with_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {pos}/{len} points, {per_sec}, ETA {eta}",
        )
        .context("the progress bar template")?,
    );
    let start = Instant::now();
    let out = Mutex::new((stream, have.into_values().collect::<Vec<_>>()));
    pool.install(|| {
        pending.par_iter().try_for_each(|p| {
            let r = evaluate(p, &manifest.fields);
            let mut guard = out
                .lock()
                .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
            let (stream, records) = &mut *guard;
            stream.push(&r)?;
            records.push(r);
            bar.inc(1);
            anyhow::Ok(())
        })
    })?;
    bar.finish_and_clear();
    let (stream, records) = out
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a worker panicked"))?;
    let failed = records.iter().filter(|r| r.error.is_some()).count();
    stream.finish(records, &manifest)?;
    eprintln!(
        "explore: ran {} points in {:.2} s; wrote {} and {} in `{}`{}",
        pending.len(),
        start.elapsed().as_secs_f64(),
        CSV,
        JSONL,
        dir.display(),
        if failed > 0 {
            format!("; {failed} points failed (see the error column)")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// `triad explore merge`: the union of shard outputs, checked to be of one sweep,
/// in point order with the Pareto front over all of them.
fn merge(args: &MergeArgs) -> anyhow::Result<()> {
    let mut manifest: Option<Manifest> = None;
    let mut records: BTreeMap<usize, Record> = BTreeMap::new();
    for dir in &args.dirs {
        let m = Manifest::read(dir)?.with_context(|| {
            format!(
                "`{}` has no {MANIFEST}: not a `triad explore` output",
                dir.display()
            )
        })?;
        if dir.join(format!("{JSONL}.partial")).exists() || !dir.join(JSONL).is_file() {
            bail!(
                "`{}` holds an unfinished run: finish it with `triad explore --resume` first",
                dir.display()
            );
        }
        let whole = Manifest { shard: None, ..m };
        match &manifest {
            None => manifest = Some(whole),
            Some(first) if *first != whole => bail!(
                "`{}` holds results of another sweep than `{}` (their {MANIFEST} differ)",
                dir.display(),
                args.dirs[0].display()
            ),
            Some(_) => {}
        }
        for mut r in store::read_records(&dir.join(JSONL), false)? {
            r.pareto = None;
            if let Some(prev) = records.get(&r.index)
                && *prev != r
            {
                bail!(
                    "point {} differs between the inputs (`{}` and an earlier one)",
                    r.index,
                    dir.display()
                );
            }
            records.insert(r.index, r);
        }
    }
    let manifest = manifest.context("no input directories")?;
    if records.len() != manifest.points {
        eprintln!(
            "warning: the inputs hold {} of the sweep's {} points (a shard missing?)",
            records.len(),
            manifest.points
        );
    }
    let n = records.len();
    store::write_final(&args.output, records.into_values().collect(), &manifest)?;
    eprintln!(
        "merged {n} points from {} directories into `{}`",
        args.dirs.len(),
        args.output.display()
    );
    Ok(())
}
