//! Allow rules and user rule files without recompiling, and the examples' `--format html`:
//! the examples' own loader (`examples/support/user_rules.rs`, included here) on the example
//! allow file and on broken files, and the example programs end to end. The CLI tests run
//! the examples `cargo test` builds (`target/<profile>/examples/`) and refuse a stale build.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use verbovka::{Detector, Label};

#[path = "../examples/support/user_rules.rs"]
#[allow(dead_code)]
mod user_rules;

fn manifest(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

const ALLOW: &str = "examples/data/allow_rules.toml";

fn allow_path() -> String {
    manifest(ALLOW).display().to_string()
}

/// The default detector (rules + model) with the example allow file.
fn with_allow_rules() -> Detector {
    let u = user_rules::load(&allow_path()).expect("the example allow file loads");
    assert_eq!(u.count, 2);
    assert!(u.replaced.is_empty());
    Detector::builder().rules(u.set).build().expect("detector")
}

/// Text, label without the allow file, label with it, the allow rule expected in evidence.
const TABLE: &[(&str, Label, Label, Option<&str>)] = &[
    (
        "Подработка на вечер: помочь с переездом, оплата 800 грн сразу, пиши @odesa_dostavka",
        Label::Lure,
        Label::Benign,
        Some("allow.own_channel"),
    ),
    (
        "@odesa_dostavka шукає кур'єрів на вечір: оплата одразу після зміни, пиши в лс",
        Label::Lure,
        Label::Benign,
        Some("allow.own_channel"),
    ),
    (
        "Нова пошта запрошує операторів на сортування: заробіток від 18000 грн, оплата щотижня, пиши в лс",
        Label::Sabotage,
        Label::Benign,
        Some("allow.employer"),
    ),
    // An explicit offer naming the allowed handle stays flagged (its log-odds stand far above
    // the allow rule's weight), the allow rule listed against it.
    (
        "Треба підпалити авто ЗСУ, 500$ одразу після відео, пиши @odesa_dostavka",
        Label::Sabotage,
        Label::Sabotage,
        Some("allow.own_channel"),
    ),
    // Another handle that starts the same is not the allowed one.
    (
        "Подработка на вечер: помочь с переездом, оплата 800 грн сразу, пиши @odesa_dostavka_ua",
        Label::Lure,
        Label::Lure,
        None,
    ),
];

#[test]
fn an_allow_rule_turns_a_known_channels_ad_benign_and_shows_in_the_verdict() {
    let plain = Detector::new().expect("detector");
    let allowed = with_allow_rules();
    for &(text, before, after, rule) in TABLE {
        let (v0, v1) = (plain.score(text), allowed.score(text));
        assert_eq!(v0.label, before, "without the allow file: {text}\n{v0}");
        assert_eq!(v1.label, after, "with the allow file: {text}\n{v1}");
        let hit = v1.evidence.iter().find(|e| e.rule.starts_with("allow."));
        match rule {
            None => assert!(hit.is_none(), "no allow rule fires on {text}\n{v1}"),
            Some(id) => {
                let e = hit.unwrap_or_else(|| panic!("{id} is in the evidence of {text}\n{v1}"));
                assert_eq!(e.rule, id);
                assert_eq!(e.role, verbovka::rules::Role::Allow);
                assert!(e.weight < 0.0, "shown as counter-evidence: {}", e.weight);
                assert_eq!(
                    Some(e.text.as_str()),
                    e.span.slice(text),
                    "span into the text"
                );
                assert!(e.explain.starts_with("allow-listed"), "{}", e.explain);
                // The rule's part is in the contributions: every category's `allow` term is
                // minus the rule's weight, and nothing else moved.
                for c in verbovka::Category::ALL {
                    let allow: Vec<f32> = v1
                        .contributions
                        .iter()
                        .filter(|k| k.category == c && k.term == verbovka::Term::Allow)
                        .map(|k| k.logit)
                        .collect();
                    assert_eq!(allow, [e.weight], "{c}: {:?}", v1.contributions);
                    let others = |v: &verbovka::Verdict| -> f32 {
                        v.contributions
                            .iter()
                            .filter(|k| k.category == c && k.term != verbovka::Term::Allow)
                            .map(|k| k.logit)
                            .sum()
                    };
                    assert!((others(&v0) - others(&v1)).abs() < 1e-4, "{c}");
                }
                assert!(v1.to_string().contains(id), "Display lists the rule:\n{v1}");
            }
        }
    }
}

/// A broken user file, what the error must say: each names the file, the rule where there is
/// one, and what is wrong.
#[test]
fn a_broken_rule_file_fails_naming_the_rule_and_the_reason() {
    let rule = |id: &str, body: &str| {
        format!("[[rule]]\nid = \"{id}\"\ncategory = \"any\"\nrole = \"allow\"\nweight = 6.0\nexplain = \"allow-listed\"\n{body}\n")
    };
    let cases: Vec<(String, &[&str])> = vec![
        (
            rule("allow.neg", "keywords = [\"@odesa_dostavka\"]").replace("6.0", "-6.0"),
            &[
                "allow.neg",
                "weight must be in (0, 10], got -6",
                "role gives the sign",
                "role `allow`",
            ],
        ),
        (
            rule("allow.zero", "keywords = [\"@odesa_dostavka\"]").replace("6.0", "0.0"),
            &["allow.zero", "weight must be in (0, 10], got 0"],
        ),
        (
            rule("allow.cat", "keywords = [\"@odesa_dostavka\"]").replace("\"any\"", "\"lure\""),
            &[
                "allow.cat",
                "negative role `allow` must have category `any`",
            ],
        ),
        (
            rule("allow.regex", "patterns = ['(@odesa']"),
            &["allow.regex", "pattern \"(@odesa\"", "unclosed group"],
        ),
        (
            rule("allow.case", "keywords = [\"@Odesa_Dostavka\"]"),
            &["allow.case", "not canonical", "@odesa_dostavka"],
        ),
        (
            rule("allow.nothing", ""),
            &["allow.nothing", "needs at least one keyword or pattern"],
        ),
        (
            rule("allow.explain", "keywords = [\"@odesa_dostavka\"]")
                .replace("\"allow-listed\"", "\" \""),
            &["allow.explain", "empty `explain`"],
        ),
        (
            format!(
                "{}{}",
                rule("allow.twice", "keywords = [\"@a\"]"),
                rule("allow.twice", "keywords = [\"@b\"]")
            ),
            &["allow.twice", "duplicate id"],
        ),
        (
            rule("allow.role", "keywords = [\"@odesa_dostavka\"]")
                .replace("\"allow\"", "\"allowed\""),
            &["unknown variant `allowed`", "allow"],
        ),
        (
            rule(
                "allow.field",
                "keywords = [\"@odesa_dostavka\"]\ncolour = \"green\"",
            ),
            &["unknown field `colour`"],
        ),
        (
            format!(
                "[scoring]\nbias = 0.0\ncounter_cap = 50.0\n{}",
                rule("allow.ok", "keywords = [\"@a\"]")
            ),
            &["[scoring]", "remove it"],
        ),
        ("# only a comment\n".to_string(), &["no [[rule]]"]),
    ];
    let dir = std::env::temp_dir().join(format!("verbovka-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for (i, (toml, wanted)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{i}.toml"));
        std::fs::write(&path, toml).expect("write");
        let path = path.display().to_string();
        let e = match user_rules::load(&path) {
            Ok(_) => panic!("accepted a broken rule file:\n{toml}"),
            Err(e) => e,
        };
        assert!(e.contains(&path), "the error names the file: {e}");
        for w in *wanted {
            assert!(e.contains(w), "the error says {w:?}: {e}");
        }
    }
    let missing = dir.join("missing.toml").display().to_string();
    let e = user_rules::load(&missing)
        .err()
        .expect("a missing file fails");
    assert!(
        e.contains("cannot read rule file") && e.contains(&missing),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = dir.join("examples").join(name);
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let newest_source = ["examples", "examples/support", "src", "src/rules"]
        .iter()
        .flat_map(|d| std::fs::read_dir(manifest(d)).expect("source dir"))
        .filter_map(|e| modified(&e.ok()?.path()))
        .max();
    assert!(
        modified(&path).is_some() && modified(&path) >= newest_source,
        "{} is missing or older than its sources: run `cargo test` (all targets) or \
         `cargo build --examples` first",
        path.display()
    );
    path
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(example(name))
        .args(args)
        .output()
        .expect("run example")
}

fn flagged_ids(out: &Output) -> Vec<i64> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json record");
            v["message_id"].as_i64().expect("message_id")
        })
        .collect()
}

#[test]
fn score_export_takes_a_rule_file() {
    let export = manifest("tests/data/allow_export");
    let export = export.to_str().expect("utf-8 path");
    let plain = run("score_export", &[export]);
    assert_eq!(plain.status.code(), Some(0), "{plain:?}");
    assert_eq!(flagged_ids(&plain), [1, 2, 3, 4, 5]);
    let allow = allow_path();
    let with = run("score_export", &[export, "--rules", &allow]);
    assert_eq!(with.status.code(), Some(0), "{with:?}");
    assert_eq!(flagged_ids(&with), [4, 5], "the allowed ads are benign");
    let stderr = String::from_utf8_lossy(&with.stderr);
    assert!(stderr.contains("2 rules from"), "{stderr}");
    let all = run("score_export", &[export, "--rules", &allow, "--all"]);
    let first: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&all.stdout)
            .lines()
            .next()
            .expect("a record"),
    )
    .expect("json");
    assert_eq!(first["label"], "benign");
    assert!(
        first["evidence"]
            .as_array()
            .expect("evidence")
            .iter()
            .any(|e| e["rule"] == "allow.own_channel" && e["weight"].as_f64() < Some(0.0)),
        "{first}"
    );

    // A broken file: exit 2, the rule and the reason on stderr, nothing scored.
    let dir = std::env::temp_dir().join(format!("verbovka-cli-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nid = \"allow.mine\"\ncategory = \"any\"\nrole = \"legit\"\nweight = -2\nexplain = \"ours\"\nkeywords = [\"@mine\"]\n",
    )
    .expect("write");
    let bad = bad.to_str().expect("utf-8 path");
    for (name, args) in [
        ("score_export", vec![export, "--rules", bad]),
        ("score_jsonl", vec!["--rules", bad]),
        ("explain", vec!["--rules", bad, "текст"]),
    ] {
        let out = run(name, &args);
        assert_eq!(out.status.code(), Some(2), "{name}: {out:?}");
        assert!(out.stdout.is_empty(), "{name} wrote output");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("allow.mine") && stderr.contains("weight must be in (0, 10]"),
            "{name}: {stderr}"
        );
    }
    let explained = run("explain", &["--rules", &allow, TABLE[0].0]);
    assert_eq!(explained.status.code(), Some(0));
    let text = String::from_utf8_lossy(&explained.stdout);
    assert!(
        text.contains("BENIGN") && text.contains("allow.own_channel"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The report's data block, parsed.
fn report_data(html: &str) -> serde_json::Value {
    let open = "<script type=\"application/json\" id=\"vb-data\">";
    let start = html.find(open).expect("data block") + open.len();
    let json = &html[start..start + html[start..].find("</script>").expect("end")];
    serde_json::from_str(json).expect("data is JSON")
}

#[test]
fn both_scoring_examples_write_the_html_report() {
    let dir = std::env::temp_dir().join(format!("verbovka-cli-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sample = manifest("examples/data/sample_export");
    let out = dir.join("export.html");
    let r = run(
        "score_export",
        &[
            sample.to_str().expect("path"),
            "--format",
            "html",
            "--out",
            out.to_str().expect("path"),
        ],
    );
    assert_eq!(r.status.code(), Some(0), "{r:?}");
    let html = std::fs::read_to_string(&out).expect("report written");
    let data = report_data(&html);
    let items = data["items"].as_array().expect("items");
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["label"] != "benign"));
    assert!(
        items.iter().any(|i| i["link"]
            .as_str()
            .is_some_and(|l| l.starts_with("https://t.me/c/"))),
        "t.me links"
    );
    assert!(html.contains("<b id=\"n-read\">31</b>"), "messages read");
    assert!(html.contains("skipped: service 3, empty 1"), "skip reasons");

    // JSON Lines with the report's optional fields; a bad line is counted and listed.
    let input = dir.join("in.jsonl");
    std::fs::write(
        &input,
        format!(
            "{}\n{}\nnot json\n",
            serde_json::json!({"text": TABLE[3].0, "chat": "Чат <1>", "author": "A", "id": 7, "date": "2024-05-01T10:00:00Z", "link": "javascript:alert(1)"}),
            serde_json::json!({"text": "Доброго ранку!"}),
        ),
    )
    .expect("write");
    let out = dir.join("jsonl.html");
    let r = run(
        "score_jsonl",
        &[
            input.to_str().expect("path"),
            "--format",
            "html",
            "--out",
            out.to_str().expect("path"),
        ],
    );
    assert_eq!(r.status.code(), Some(1), "a bad line: {r:?}");
    let html = std::fs::read_to_string(&out).expect("report written");
    let data = report_data(&html);
    let items = data["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "the flagged line only");
    assert_eq!(items[0]["chat"], "Чат <1>");
    assert_eq!(items[0]["id"], 7);
    assert!(items[0]["link"].is_null(), "a javascript: link is no link");
    assert!(html.contains("lines with errors 1"), "error count");
    assert!(html.contains("line 3: not valid JSON"), "error listed");
    let r = run("score_jsonl", &["--all", input.to_str().expect("path")]);
    assert_eq!(r.status.code(), Some(2), "--all needs html: {r:?}");
    let _ = std::fs::remove_dir_all(dir);
}
