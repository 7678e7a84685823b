//! The rule engine against the case tables in `tests/cases/*.toml`, plus rule-file validation.

use serde::Deserialize;
use verbovka::rules::{RuleSet, RuleSpec, DEFAULT_RULES};
use verbovka::{Category, Detector, Error, Label};

#[derive(Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct Case {
    text: String,
    label: String,
    lang: String,
    #[serde(default)]
    tags: Vec<String>,
}

fn load(name: &str) -> Vec<Case> {
    let path = format!("{}/tests/cases/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    toml::from_str::<Cases>(&text)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .case
}

/// Rules alone: recall ≥ 0.8 on positives (label anything but benign counts as found, the
/// exact category is checked separately), ≤ 10 % of hard negatives flagged.
#[test]
fn rules_alone_meet_the_table_targets() {
    let det = Detector::rules_only().unwrap();
    let pos = load("positives.toml");
    let neg = load("negatives.toml");
    assert!(pos.len() >= 130 && neg.len() >= 130);

    let mut found = 0;
    let mut exact = 0;
    let mut misses = Vec::new();
    for c in &pos {
        let v = det.score(&c.text);
        let want: Label = c.label.parse().unwrap();
        if v.is_flagged() {
            found += 1;
        } else {
            misses.push(format!("MISS {:?} {:.2} {}", want, v.risk, c.text));
        }
        if v.label == want {
            exact += 1;
        } else if v.is_flagged() {
            misses.push(format!("WRONG {:?}→{:?} {}", want, v.label, c.text));
        }
    }
    let mut flagged = Vec::new();
    for c in &neg {
        let v = det.score(&c.text);
        if v.is_flagged() {
            flagged.push(format!("FP {:?} {:.2} {}", v.label, v.risk, c.text));
        }
    }
    let recall = found as f64 / pos.len() as f64;
    let exact_rate = exact as f64 / pos.len() as f64;
    let fpr = flagged.len() as f64 / neg.len() as f64;
    eprintln!("{}\n{}", misses.join("\n"), flagged.join("\n"));
    eprintln!(
        "recall {recall:.3}, category accuracy {exact_rate:.3}, hard-negative flag rate {fpr:.3}"
    );
    assert!(recall >= 0.8, "recall {recall:.3}");
    assert!(exact_rate >= 0.7, "category accuracy {exact_rate:.3}");
    assert!(fpr <= 0.10, "hard negatives flagged {fpr:.3}");
}

/// Per category: each category's positives are mostly labelled as that category.
#[test]
fn each_category_is_recognised() {
    let det = Detector::rules_only().unwrap();
    let pos = load("positives.toml");
    for cat in Category::ALL {
        let cases: Vec<&Case> = pos.iter().filter(|c| c.label == cat.as_str()).collect();
        let hit = cases
            .iter()
            .filter(|c| det.score(&c.text).label == Label::from(cat))
            .count();
        let rate = hit as f64 / cases.len() as f64;
        eprintln!("{cat}: {hit}/{} = {rate:.2}", cases.len());
        assert!(rate >= 0.65, "{cat}: {rate:.2}");
    }
}

#[test]
fn obfuscated_positives_are_found() {
    let det = Detector::rules_only().unwrap();
    let pos: Vec<Case> = load("positives.toml")
        .into_iter()
        .filter(|c| c.tags.iter().any(|t| t == "obfuscated"))
        .collect();
    assert!(pos.len() >= 30);
    let found = pos
        .iter()
        .filter(|c| det.score(&c.text).is_flagged())
        .count();
    let rate = found as f64 / pos.len() as f64;
    eprintln!("obfuscated recall {rate:.3}");
    assert!(rate >= 0.8, "obfuscated recall {rate:.3}");
}

#[test]
fn evidence_points_into_the_original() {
    let det = Detector::rules_only().unwrap();
    let text = "Т е р м і н о в о! П.і.д.п.а.л.и авто ЗСУ — 500$ після відео. Пиши @x_worker";
    let v = det.score(text);
    assert_eq!(v.label, Label::Sabotage);
    for e in &v.evidence {
        assert_eq!(e.span.slice(text), Some(e.text.as_str()));
    }
    let arson = v
        .evidence
        .iter()
        .find(|e| e.rule == "sab.arson")
        .expect("arson rule fired");
    assert_eq!(arson.text, "П.і.д.п.а.л.и");
}

#[test]
fn news_context_pulls_scores_down() {
    let det = Detector::rules_only().unwrap();
    let ad = "Підпали авто ЗСУ, оплата 500$ одразу після відео, пиши в лс";
    let news = "СБУ затримала агента, який за 500$ підпалював авто ЗСУ. Йому повідомили про підозру, загрожує до 8 років.";
    let a = det.score(ad);
    let n = det.score(news);
    assert_eq!(a.label, Label::Sabotage);
    assert_eq!(n.label, Label::Benign);
    assert!(
        n.evidence.iter().any(|e| e.weight < 0.0),
        "negative evidence is listed"
    );
}

#[test]
fn a_single_weak_word_stays_low() {
    let det = Detector::rules_only().unwrap();
    for text in [
        "Оплата",
        "фото",
        "авто",
        "Продам авто",
        "Пиши в лс",
        "задание по математике",
    ] {
        let v = det.score(text);
        assert!(v.risk < 0.3, "{text}: {}", v.risk);
        assert!(!v.is_flagged());
    }
}

#[test]
fn default_keywords_are_canonical_cyrillic() {
    let spec = RuleSpec::from_toml(DEFAULT_RULES, "default").unwrap();
    assert!(spec.rules.len() >= 30);
    for r in &spec.rules {
        for k in &r.keywords {
            assert!(
                !k.chars().any(|c| c.is_ascii_alphabetic()),
                "{}: Latin letters in {k:?}",
                r.id
            );
            assert!(
                !k.chars().any(char::is_uppercase),
                "{}: upper case in {k:?}",
                r.id
            );
        }
    }
}

fn rule_error(toml: &str) -> Error {
    let spec = RuleSpec::from_toml(toml, "test.toml");
    match spec.and_then(|s| RuleSet::compile(&s)) {
        Ok(_) => panic!("accepted a bad rule file:\n{toml}"),
        Err(e) => e,
    }
}

#[test]
fn bad_rule_files_name_the_rule() {
    let base = |extra: &str| {
        format!("[[rule]]\nid = \"r1\"\ncategory = \"sabotage\"\nrole = \"action\"\nweight = 1.0\nexplain = \"x\"\n{extra}")
    };
    let e = rule_error(&base("patterns = ['(unclosed']"));
    assert!(
        matches!(&e, Error::Rule { rule, .. } if rule == "r1"),
        "{e}"
    );
    let e = rule_error(&base("keywords = [\"Поджог\"]"));
    assert!(
        matches!(&e, Error::Rule { rule, message } if rule == "r1" && message.contains("canonical")),
        "{e}"
    );
    let e = rule_error(&base("keywords = [\"пoджoг\"]")); // Latin o
    assert!(
        matches!(&e, Error::Rule { rule, .. } if rule == "r1"),
        "{e}"
    );
    let e = rule_error(&base("keywords = [\"x\"]\ncolour = \"red\""));
    assert!(
        matches!(&e, Error::RuleFile { source, .. } if source.to_string().contains("colour")),
        "{e}"
    );
    let e = rule_error(&base("keywords = [\"поджог\"]").replace("sabotage", "arson"));
    assert!(matches!(&e, Error::RuleFile { .. }), "{e}");
    assert!(e.to_string().contains("arson"), "{e}");
    let e = rule_error(&base("").replace("weight = 1.0", "weight = -1.0"));
    assert!(
        matches!(&e, Error::Rule { rule, .. } if rule == "r1"),
        "{e}"
    );
    let e = rule_error(&base(""));
    assert!(matches!(&e, Error::Rule { .. }), "{e}");
    let twice = format!(
        "{}\nkeywords = [\"а\"]\n{}\nkeywords = [\"б\"]",
        base(""),
        base("")
    );
    assert!(
        matches!(rule_error(&twice), Error::Rule { message, .. } if message.contains("duplicate"))
    );
    let neg = base("keywords = [\"суд\"]").replace("role = \"action\"", "role = \"news\"");
    assert!(matches!(rule_error(&neg), Error::Rule { message, .. } if message.contains("any")));
}

#[test]
fn user_rules_extend_the_default() {
    let mut spec = RuleSpec::embedded().unwrap();
    let before = spec.rules.len();
    spec.extend(
        RuleSpec::from_toml(
            "[[rule]]\nid = \"my.drone\"\ncategory = \"sabotage\"\nrole = \"target\"\nweight = 2.0\nexplain = \"drone workshop\"\nkeywords = [\"дронову майстерню\"]\n",
            "mine.toml",
        )
        .unwrap(),
    );
    assert_eq!(spec.rules.len(), before + 1);
    let det = Detector::builder()
        .rules(RuleSet::compile(&spec).unwrap())
        .classifier(None)
        .build()
        .unwrap();
    let v = det.score("Треба підпалити дронову майстерню, оплата одразу");
    assert!(v.evidence.iter().any(|e| e.rule == "my.drone"));
}

#[test]
fn public_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Detector>();
    check::<RuleSet>();
    check::<verbovka::Verdict>();
    check::<Error>();
}
