//! Phase and weight-format parsing: round trips and typed errors.

use proptest::prelude::*;
use triad_workloads::{Error, MAX_PHASE_TOKENS, MAX_TREE_TOKENS, Phase, PhaseIssue, WeightFormat};

fn issue(text: &str) -> PhaseIssue {
    match text.parse::<Phase>() {
        Err(Error::Phase { text: t, issue }) => {
            assert_eq!(t, text);
            issue
        }
        other => panic!("`{text}` gave {other:?}"),
    }
}

#[test]
fn the_documented_forms_parse() {
    assert_eq!(
        "prefill:512".parse::<Phase>().unwrap(),
        Phase::Prefill {
            tokens: 512,
            chunk: None
        }
    );
    assert_eq!(
        "prefill:512/chunk:128".parse::<Phase>().unwrap(),
        Phase::Prefill {
            tokens: 512,
            chunk: Some(128)
        }
    );
    assert_eq!(
        "decode:2048".parse::<Phase>().unwrap(),
        Phase::Decode { kv: 2048 }
    );
    assert_eq!(
        "verify:8/kv:100".parse::<Phase>().unwrap(),
        Phase::Verify { tree: 8, kv: 100 }
    );
}

#[test]
fn bad_phases_give_typed_errors() {
    assert_eq!(
        issue("generate:5"),
        PhaseIssue::UnknownKind("generate".into())
    );
    assert_eq!(issue("decode"), PhaseIssue::Missing("kv"));
    assert_eq!(issue("verify:4"), PhaseIssue::Missing("kv"));
    assert_eq!(
        issue("decode:x1"),
        PhaseIssue::NotANumber {
            field: "kv",
            value: "x1".into()
        }
    );
    assert_eq!(
        issue("decode:-1"),
        PhaseIssue::NotANumber {
            field: "kv",
            value: "-1".into()
        }
    );
    assert_eq!(
        issue("prefill:8/chunk:"),
        PhaseIssue::NotANumber {
            field: "chunk",
            value: String::new()
        }
    );
    assert_eq!(
        issue("prefill:8/kv:2"),
        PhaseIssue::Unexpected("kv:2".into())
    );
    assert_eq!(
        issue("decode:8/chunk:2"),
        PhaseIssue::Unexpected("chunk:2".into())
    );
    assert_eq!(
        issue("verify:2/kv:3/kv:4"),
        PhaseIssue::Unexpected("kv:4".into())
    );
    assert_eq!(
        issue("decode:0"),
        PhaseIssue::OutOfRange {
            field: "kv",
            value: 0,
            max: MAX_PHASE_TOKENS
        }
    );
    assert_eq!(
        issue("prefill:99999999999999999999999"),
        PhaseIssue::OutOfRange {
            field: "tokens",
            value: usize::MAX,
            max: MAX_PHASE_TOKENS
        }
    );
    assert_eq!(
        issue("prefill:8/chunk:8"),
        PhaseIssue::ChunkTooLarge {
            chunk: 8,
            tokens: 8
        }
    );
    assert_eq!(issue(""), PhaseIssue::UnknownKind(String::new()));
    let msg = "decode:x".parse::<Phase>().unwrap_err().to_string();
    assert!(
        msg.contains("decode:x") && msg.contains("decode:KV"),
        "{msg}"
    );
}

#[test]
fn directly_built_phases_are_validated() {
    for bad in [
        Phase::Prefill {
            tokens: 0,
            chunk: None,
        },
        Phase::Prefill {
            tokens: 4,
            chunk: Some(0),
        },
        Phase::Prefill {
            tokens: 4,
            chunk: Some(9),
        },
        Phase::Decode { kv: 0 },
        Phase::Verify { tree: 0, kv: 3 },
    ] {
        assert!(
            matches!(bad.validate(), Err(Error::Phase { .. })),
            "{bad:?}"
        );
        // The geometry of an invalid phase is still defined: these must not panic.
        let _ = (bad.new_tokens(), bad.past_tokens(), bad.positions());
    }
    assert!(Phase::Verify { tree: 3, kv: 1 }.validate().is_ok());
}

#[test]
fn phase_geometry() {
    // 10 tokens in chunks of 3: 3, 3, 3, 1 -> the last step has 1 new, 9 cached.
    let p: Phase = "prefill:10/chunk:3".parse().unwrap();
    assert_eq!(
        (p.new_tokens(), p.past_tokens(), p.positions()),
        (1, 9, vec![9])
    );
    let p: Phase = "decode:7".parse().unwrap();
    assert_eq!(
        (p.new_tokens(), p.past_tokens(), p.positions()),
        (1, 7, vec![7])
    );
    // Binary tree of 6 tokens: depths 0, 1, 1, 2, 2, 2.
    let p: Phase = "verify:6/kv:10".parse().unwrap();
    assert_eq!(p.positions(), [10, 11, 11, 12, 12, 12]);
    let p: Phase = "prefill:4".parse().unwrap();
    assert_eq!((p.past_tokens(), p.positions()), (0, vec![0, 1, 2, 3]));
}

#[test]
fn weight_formats_parse() {
    for (text, f) in [
        ("f16", WeightFormat::F16),
        ("BF16", WeightFormat::Bf16),
        ("w8a8", WeightFormat::W8A8),
    ] {
        assert_eq!(text.parse::<WeightFormat>().unwrap(), f);
    }
    for f in WeightFormat::ALL {
        assert_eq!(f.to_string().parse::<WeightFormat>().unwrap(), f);
    }
    assert!(matches!("int8".parse::<WeightFormat>(), Err(Error::WeightFormat(s)) if s == "int8"));
}

fn any_phase() -> impl Strategy<Value = Phase> {
    let n = 1..=MAX_PHASE_TOKENS;
    prop_oneof![
        n.clone().prop_map(|tokens| Phase::Prefill {
            tokens,
            chunk: None
        }),
        (2..=MAX_PHASE_TOKENS)
            .prop_flat_map(|t| (Just(t), 1..t))
            .prop_map(|(tokens, c)| Phase::Prefill {
                tokens,
                chunk: Some(c)
            }),
        n.clone().prop_map(|kv| Phase::Decode { kv }),
        (1..=MAX_TREE_TOKENS, n).prop_map(|(tree, kv)| Phase::Verify { tree, kv }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn display_parse_round_trip(p in any_phase()) {
        let text = p.to_string();
        prop_assert_eq!(text.parse::<Phase>().unwrap(), p);
        // The step covers the prompt exactly: cached + new = total tokens seen.
        if let Phase::Prefill { tokens, chunk: Some(c) } = p {
            prop_assert_eq!(p.past_tokens() + p.new_tokens(), tokens);
            prop_assert!(p.new_tokens() >= 1 && p.new_tokens() <= c);
            prop_assert_eq!(p.past_tokens() % c, 0);
        }
    }

    #[test]
    fn garbage_never_panics(s in "[a-z:/0-9]{0,24}") {
        let _ = s.parse::<Phase>();
    }
}
