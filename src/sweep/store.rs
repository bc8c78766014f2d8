//! A sweep's output directory: `explore.json` (what the results are of),
//! `results.jsonl` and `results.csv` (one record per point, in point order, Pareto
//! marked), and while a run is going `results.jsonl.partial` / `results.csv.partial`,
//! appended and flushed as each point finishes so an interruption loses nothing
//! finished. `--resume` reads both back; the final files are written atomically
//! at the end, and the partial ones then removed.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use triad_compiler::json::write_atomic;

use super::pareto::{Objective, front};
use super::record::{Record, csv_header};

/// The JSON lines results.
pub const JSONL: &str = "results.jsonl";
/// The CSV results.
pub const CSV: &str = "results.csv";
/// What the results are of.
pub const MANIFEST: &str = "explore.json";
/// Suffix of the files a running sweep appends to.
const PARTIAL: &str = ".partial";

/// What a results directory holds results of (`explore.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Hash of every point id of the full sweep, in order: two directories with
    /// the same value ran shards of the same sweep.
    pub sweep_id: String,
    /// Points in the full sweep.
    pub points: usize,
    /// The shard run (`i/N`), or `null` for the whole sweep or a merge.
    pub shard: Option<String>,
    /// The Pareto objectives' columns.
    pub pareto: Vec<String>,
    /// The swept arch fields (CSV columns).
    pub fields: Vec<String>,
}

impl Manifest {
    /// Reads `dir/explore.json`, if there is one.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Manifest>> {
        let path = dir.join(MANIFEST);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading `{}`", path.display()))?;
        let m = serde_json::from_str(&text).with_context(|| format!("`{}`", path.display()))?;
        Ok(Some(m))
    }

    fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(MANIFEST);
        let text = serde_json::to_string_pretty(self)? + "\n";
        write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing `{}`", path.display()))
    }

    /// The Pareto objectives.
    pub fn objectives(&self) -> anyhow::Result<Vec<Objective>> {
        self.pareto.iter().map(|c| c.parse()).collect()
    }
}

/// The files a running sweep appends to.
pub struct Stream {
    dir: PathBuf,
    fields: Vec<String>,
    jsonl: File,
    csv: File,
}

fn partial(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}{PARTIAL}"))
}

/// Opens `dir` for a run of `manifest`. Without `resume` a directory holding an
/// unfinished run is an error (nothing is thrown away unasked); with it, the records
/// already there (finished or partial; a torn last line is dropped) are returned
/// and kept; a directory holding another sweep or shard is then an error (other
/// Pareto objectives are fine: they only mark the final files).
pub fn open(
    dir: &Path,
    manifest: &Manifest,
    resume: bool,
) -> anyhow::Result<(Stream, Vec<Record>)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let mut done = Vec::new();
    let old = Manifest::read(dir)?;
    if resume {
        // The Pareto objectives only mark the final files: they may change.
        if let Some(old) = &old
            && (Manifest {
                pareto: manifest.pareto.clone(),
                ..old.clone()
            }) != *manifest
        {
            bail!(
                "`{}` holds results of another sweep or shard (its {MANIFEST} differs); use another -o",
                dir.display()
            );
        }
        if old.is_some() {
            done = read_records(&dir.join(JSONL), false)?;
            done.extend(read_records(&partial(dir, JSONL), true)?);
            for r in &mut done {
                r.pareto = None;
            }
        }
    } else if partial(dir, JSONL).exists() {
        bail!(
            "`{}` holds an unfinished run: continue it with --resume, or use another -o",
            dir.display()
        );
    }
    manifest.write(dir)?;
    let mut jsonl = String::new();
    let mut csv = csv_header(&manifest.fields);
    for r in &done {
        jsonl.push_str(&r.json_line()?);
        csv.push_str(&r.csv_row(&manifest.fields));
    }
    let open = |name: &str, text: &str| -> anyhow::Result<File> {
        let path = partial(dir, name);
        write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing `{}`", path.display()))?;
        OpenOptions::new()
            .append(true)
            .open(&path)
            .with_context(|| format!("opening `{}`", path.display()))
    };
    let stream = Stream {
        dir: dir.to_path_buf(),
        fields: manifest.fields.clone(),
        jsonl: open(JSONL, &jsonl)?,
        csv: open(CSV, &csv)?,
    };
    Ok((stream, done))
}

impl Stream {
    /// Appends one finished point to both partial files and flushes them.
    pub fn push(&mut self, r: &Record) -> anyhow::Result<()> {
        let what = |name: &str| format!("appending to `{}`", partial(&self.dir, name).display());
        self.jsonl
            .write_all(r.json_line()?.as_bytes())
            .and_then(|()| self.jsonl.flush())
            .with_context(|| what(JSONL))?;
        self.csv
            .write_all(r.csv_row(&self.fields).as_bytes())
            .and_then(|()| self.csv.flush())
            .with_context(|| what(CSV))?;
        Ok(())
    }

    /// Writes the final files from `records` and removes the partial ones.
    pub fn finish(self, records: Vec<Record>, manifest: &Manifest) -> anyhow::Result<()> {
        write_final(&self.dir, records, manifest)?;
        for name in [JSONL, CSV] {
            let path = partial(&self.dir, name);
            std::fs::remove_file(&path)
                .with_context(|| format!("removing `{}`", path.display()))?;
        }
        Ok(())
    }
}

/// Sorts `records` into point order, marks the Pareto front of the manifest's
/// objectives and writes `dir/results.jsonl`, `dir/results.csv` and the manifest,
/// each atomically.
pub fn write_final(
    dir: &Path,
    mut records: Vec<Record>,
    manifest: &Manifest,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    records.sort_by_key(|r| r.index);
    let metrics: Vec<_> = records.iter().map(|r| r.metrics.as_ref()).collect();
    let on_front = front(&metrics, &manifest.objectives()?);
    let mut jsonl = String::new();
    let mut csv = csv_header(&manifest.fields);
    for (r, p) in records.iter_mut().zip(on_front) {
        r.pareto = Some(p);
        jsonl.push_str(&r.json_line()?);
        csv.push_str(&r.csv_row(&manifest.fields));
    }
    manifest.write(dir)?;
    for (name, text) in [(JSONL, jsonl), (CSV, csv)] {
        let path = dir.join(name);
        write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing `{}`", path.display()))?;
    }
    Ok(())
}

/// The records of a JSON lines file (none if it does not exist). With `torn_tail`,
/// a last line that does not parse is dropped (a run stopped while writing it).
pub fn read_records(path: &Path, torn_tail: bool) -> anyhow::Result<Vec<Record>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Record>(line) {
            Ok(r) => out.push(r),
            Err(_) if torn_tail && i + 1 == lines.len() => {}
            Err(e) => bail!(
                "`{}` line {}: not a result record: {e}",
                path.display(),
                i + 1
            ),
        }
    }
    Ok(out)
}
