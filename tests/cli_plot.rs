//! End-to-end runs of `triad plot` on what `triad compile --explain json` and
//! `triad sim --json / --trace` write for a tiny model: every plot parses as SVG with
//! an `<svg>` root, holds as many points or bars as the inputs say it should (counted
//! here from the input files), renders its text as `<text>` elements (no font
//! needed), is byte-identical when redrawn, and bad inputs exit non-zero naming the
//! file and the field.

mod common;
use common::{fails, ok, triad};

use std::path::{Path, PathBuf};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("triad-cli-plot-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Compiles tiny-llama decode for `arch` in `d`, simulates it; returns the
/// explanation, sim report and trace paths.
fn run_tiny(d: &Path, arch: &str) -> (PathBuf, PathBuf, PathBuf) {
    let prog = d.join(format!("{arch}.tasm"));
    let explain = ok(&[
        "compile",
        "--model",
        "tiny-llama",
        "--phase",
        "decode:8",
        "--arch",
        arch,
        "-o",
        s(&prog),
        "--explain",
        "json",
    ]);
    let e = d.join(format!("{arch}.explain.json"));
    std::fs::write(&e, explain).unwrap();
    let trace = d.join(format!("{arch}.trace.json"));
    let sim = ok(&["sim", s(&prog), "--json", "--trace", s(&trace)]);
    let r = d.join(format!("{arch}.sim.json"));
    std::fs::write(&r, sim).unwrap();
    (e, r, trace)
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// What an SVG holds: circles (filled or not), filled non-white rects, texts.
struct Counts {
    filled_circles: usize,
    hollow_circles: usize,
    bars: usize,
    texts: Vec<String>,
}

fn parse_svg(p: &Path) -> Counts {
    let text = std::fs::read_to_string(p).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    let nodes: Vec<_> = root.descendants().filter(|n| n.is_element()).collect();
    let fill = |n: &roxmltree::Node| n.attribute("fill").unwrap_or("none").to_string();
    let circles = nodes.iter().filter(|n| n.tag_name().name() == "circle");
    Counts {
        filled_circles: circles.clone().filter(|n| fill(n) != "none").count(),
        hollow_circles: circles.filter(|n| fill(n) == "none").count(),
        bars: nodes
            .iter()
            .filter(|n| n.tag_name().name() == "rect")
            .filter(|n| !["none", "#FFFFFF"].contains(&fill(n).as_str()))
            .count(),
        texts: nodes
            .iter()
            .filter(|n| n.tag_name().name() == "text")
            .filter_map(|n| n.text().map(|t| t.trim().to_string()))
            .collect(),
    }
}

/// Rows of the explanation the roofline can place: a target, FLOPs, DRAM bytes.
fn plottable(explain: &serde_json::Value) -> Vec<String> {
    explain["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            !r["target"].is_null()
                && r["flops"].as_u64().unwrap() > 0
                && r["op_per_byte"].as_f64().unwrap() > 0.0
        })
        .map(|r| r["node"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn roofline_has_a_point_per_op_and_the_arch_roofs() {
    let d = dir("roofline");
    let (e, r, t) = run_tiny(&d, "mobile-soc-pim");
    let out = d.join("roofline.svg");
    ok(&["plot", "roofline", s(&e), s(&r), "-o", s(&out)]);
    let c = parse_svg(&out);
    let ops = plottable(&json(&e));
    assert!(ops.len() > 10, "{ops:?}");
    // Simulated: the ops some label of the run names (kernel scope before the name).
    let labels: Vec<String> = json(&r)["labels"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let simulated = ops
        .iter()
        .filter(|n| {
            labels
                .iter()
                .any(|l| l == *n || l.ends_with(&format!(".{n}")))
        })
        .count();
    assert!(simulated > 0);
    assert_eq!(c.filled_circles, simulated);
    assert_eq!(c.filled_circles + c.hollow_circles, ops.len());
    for want in [
        "NPU f16",
        "PIM (internal bandwidth)",
        "GOP/s",
        "arithmetic intensity",
    ] {
        assert!(
            c.texts.iter().any(|t| t.contains(want)),
            "no `{want}` in {:?}",
            c.texts
        );
    }
    // With the trace instead, the same ops are simulated; without either, none.
    let out2 = d.join("roofline-trace.svg");
    ok(&["plot", "roofline", s(&e), s(&t), "-o", s(&out2)]);
    assert_eq!(parse_svg(&out2).filled_circles, simulated);
    let out3 = d.join("roofline-est.svg");
    ok(&["plot", "roofline", s(&e), "-o", s(&out3)]);
    let est = parse_svg(&out3);
    assert_eq!((est.filled_circles, est.hollow_circles), (0, ops.len()));
    // Same inputs, same bytes.
    let again = d.join("again.svg");
    ok(&["plot", "roofline", s(&e), s(&r), "-o", s(&again)]);
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn energy_has_a_segment_per_component_and_a_bar_per_top_label() {
    let d = dir("energy");
    let (_, pim, _) = run_tiny(&d, "mobile-soc-pim");
    let (_, npu, _) = run_tiny(&d, "mobile-soc");
    let nonzero = |p: &Path| {
        json(p)["energy"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, v)| *k != "total_pj" && v.as_f64().unwrap() > 0.0)
            .count()
    };
    let out = d.join("energy.svg");
    ok(&["plot", "energy", s(&pim), "--top", "5", "-o", s(&out)]);
    let c = parse_svg(&out);
    assert_eq!(c.bars, nonzero(&pim) + 5);
    assert!(
        c.texts.iter().any(|t| t.contains("energy")),
        "{:?}",
        c.texts
    );
    let both = d.join("energy2.svg");
    ok(&["plot", "energy", s(&npu), s(&pim), "-o", s(&both)]);
    assert_eq!(parse_svg(&both).bars, nonzero(&npu) + nonzero(&pim));
    assert!(
        fails(&[
            "plot",
            "energy",
            s(&npu),
            s(&pim),
            "--top",
            "3",
            "-o",
            s(&both)
        ])
        .contains("one input")
    );
}

#[test]
fn pareto_marks_the_front_of_nested_metrics() {
    let d = dir("pareto");
    let f = d.join("results.jsonl");
    // latency / energy: (1, 9) (2, 4) (5, 1) trade off, (3, 6) and (6, 2) are beaten.
    let rows = [(1, 9), (3, 6), (2, 4), (6, 2), (5, 1)]
        .map(|(l, e)| format!(r#"{{"params": {{"batch": 1}}, "metrics": {{"latency_ps": {l}, "energy_pj": {e}}}, "pareto": false}}"#));
    std::fs::write(&f, rows.join("\n") + "\n\n").unwrap();
    let out = d.join("pareto.svg");
    let args = |x: &str, y: &str| {
        ["plot", "pareto", s(&f), "--x", x, "--y", y, "-o", s(&out)]
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    run(args("metrics.latency_ps", "metrics.energy_pj"));
    let c = parse_svg(&out);
    assert_eq!((c.filled_circles, c.hollow_circles), (3, 2));
    // Maximising energy instead: (1, 9) beats every other point.
    let mut a = args("metrics.latency_ps", "metrics.energy_pj");
    a.push("--max-y".into());
    run(a);
    let c = parse_svg(&out);
    assert_eq!((c.filled_circles, c.hollow_circles), (1, 4));
    // Log axes draw the same points.
    let mut a = args("metrics.latency_ps", "metrics.energy_pj");
    a.extend(["--log-x".into(), "--log-y".into()]);
    run(a);
    let c = parse_svg(&out);
    assert_eq!((c.filled_circles, c.hollow_circles), (3, 2));
    let bad = |a: Vec<String>| fails(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let err = bad(args("metrics.latency_ps", "metrics.tokens_per_s"));
    assert!(
        err.contains("results.jsonl` line 1") && err.contains("metrics.tokens_per_s"),
        "{err}"
    );
    let err = bad(args("params", "metrics.energy_pj"));
    assert!(err.contains("`params` is not a finite number"), "{err}");
    let mut a = args("params.batch", "metrics.energy_pj");
    a.push("--log-x".into());
    std::fs::write(
        &f,
        rows.join("\n").replace(r#""batch": 1"#, r#""batch": 0"#),
    )
    .unwrap();
    let err = bad(a);
    assert!(
        err.contains("results.jsonl") && err.contains("log axis"),
        "{err}"
    );
}

#[test]
fn gantt_has_a_row_per_engine_and_a_bar_per_span() {
    let d = dir("gantt");
    let (_, _, t) = run_tiny(&d, "mobile-soc-pim");
    let trace = json(&t);
    let events = trace["traceEvents"].as_array().unwrap();
    let engines = events
        .iter()
        .find(|e| e["name"] == "process_name" && e["args"]["name"] == "engines")
        .unwrap()["pid"]
        .clone();
    let spans = events
        .iter()
        .filter(|e| e["ph"] == "X" && e["pid"] == engines)
        .count();
    let rows: Vec<&str> = events
        .iter()
        .filter(|e| e["name"] == "thread_name" && e["pid"] == engines)
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    let out = d.join("gantt.svg");
    ok(&["plot", "gantt", s(&t), "--by", "instruction", "-o", s(&out)]);
    let c = parse_svg(&out);
    assert_eq!(c.bars, spans);
    for r in &rows {
        assert!(
            c.texts.iter().any(|t| t == r),
            "no row `{r}` in {:?}",
            c.texts
        );
    }
    let by_label = d.join("gantt-label.svg");
    ok(&["plot", "gantt", s(&t), "-o", s(&by_label)]);
    let merged = parse_svg(&by_label).bars;
    assert!(merged > 0 && merged < spans, "{merged} of {spans}");
}

#[test]
fn bad_inputs_name_the_file_and_the_field() {
    let d = dir("bad");
    let (e, r, t) = run_tiny(&d, "mobile-soc-pim");
    let out = d.join("out.svg");
    // An explanation without FLOPs.
    let mut v = json(&e);
    v["rows"][0].as_object_mut().unwrap().remove("flops");
    let no_flops = d.join("no-flops.json");
    std::fs::write(&no_flops, v.to_string()).unwrap();
    let err = fails(&["plot", "roofline", s(&no_flops), "-o", s(&out)]);
    assert!(
        err.contains("no-flops.json") && err.contains("flops"),
        "{err}"
    );
    // A report whose energy lacks its total.
    let mut v = json(&r);
    v["energy"].as_object_mut().unwrap().remove("total_pj");
    let no_total = d.join("no-total.json");
    std::fs::write(&no_total, v.to_string()).unwrap();
    let err = fails(&["plot", "energy", s(&no_total), "-o", s(&out)]);
    assert!(
        err.contains("no-total.json") && err.contains("energy.total_pj"),
        "{err}"
    );
    // The wrong kind of file for each plot.
    let err = fails(&["plot", "gantt", s(&r), "-o", s(&out)]);
    assert!(err.contains("traceEvents"), "{err}");
    let err = fails(&["plot", "roofline", s(&r), "-o", s(&out)]);
    assert!(err.contains("--explain json"), "{err}");
    let err = fails(&["plot", "roofline", s(&e), s(&t), s(&t), "-o", s(&out)]);
    assert!(err.contains("a second trace"), "{err}");
    let garbage = d.join("garbage.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    let err = fails(&["plot", "roofline", s(&garbage), "-o", s(&out)]);
    assert!(
        err.contains("garbage.json") && err.contains("not JSON"),
        "{err}"
    );
    // Nothing was written by the failures.
    assert!(!out.exists());
    let status = triad(&[
        "plot",
        "roofline",
        s(&e),
        "-o",
        s(&d.join("no/such/dir.svg")),
    ]);
    assert!(!status.status.success());
}
