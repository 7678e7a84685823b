//! The functions in DataFusion give what `Detector::score_batch` gives on the same texts.

mod common;

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, Int64Array, LargeStringArray, RecordBatch,
    StringArray, StringViewArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Int32Type, Int64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use verbovka::{Detector, Verdict};
use verbovka_datafusion::{messages, Functions};

fn detector() -> Arc<Detector> {
    static D: OnceLock<Arc<Detector>> = OnceLock::new();
    D.get_or_init(|| Arc::new(Detector::new().expect("default detector")))
        .clone()
}

/// Sample export texts, lab texts, empty and blank strings, and nulls (`None`) between them.
fn texts() -> Vec<Option<String>> {
    let mut out: Vec<Option<String>> = Vec::new();
    let sample: Vec<String> = common::sample_messages()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert!(
        sample.len() >= 20,
        "sample export has {} messages",
        sample.len()
    );
    let extra = [
        String::new(),
        " ".into(),
        "\u{200b}".into(),
        "Треба пiдп@лити авто ЗСУ біля ТЦК, 500$ одразу після відео. Пиши @job_ua".into(),
        "x".repeat(20_000),
    ];
    for (i, t) in sample
        .into_iter()
        .chain(common::corpus(300))
        .chain(extra)
        .enumerate()
    {
        if i % 9 == 4 {
            out.push(None);
        }
        out.push(Some(t));
    }
    out.push(None);
    out
}

/// A table `t(idx, text)` of `texts` with `text` as `ty`, in batches of 64 rows (several
/// `invoke` calls, each its own `score_batch`).
async fn context(texts: &[Option<String>], ty: &DataType) -> SessionContext {
    let schema = Arc::new(Schema::new(vec![
        Field::new("idx", DataType::Int64, false),
        Field::new("text", ty.clone(), true),
    ]));
    let mut batches = Vec::new();
    for (k, chunk) in texts.chunks(64).enumerate() {
        let idx: ArrayRef = Arc::new(Int64Array::from_iter_values(
            (0..chunk.len()).map(|i| (k * 64 + i) as i64),
        ));
        let refs = chunk.iter().map(Option::as_deref);
        let text: ArrayRef = match ty {
            DataType::Utf8 => Arc::new(refs.collect::<StringArray>()),
            DataType::LargeUtf8 => Arc::new(refs.collect::<LargeStringArray>()),
            DataType::Utf8View => Arc::new(refs.collect::<StringViewArray>()),
            DataType::Dictionary(..) => Arc::new(refs.collect::<DictionaryArray<Int32Type>>()),
            other => panic!("no column of {other}"),
        };
        batches.push(RecordBatch::try_new(schema.clone(), vec![idx, text]).unwrap());
    }
    let ctx = SessionContext::new();
    Functions::with_detector(detector()).register(&ctx);
    ctx.register_table(
        "t",
        Arc::new(MemTable::try_new(schema, vec![batches]).unwrap()),
    )
    .unwrap();
    ctx
}

fn expected(texts: &[Option<String>]) -> Vec<Option<Verdict>> {
    let present: Vec<&str> = texts.iter().flatten().map(String::as_str).collect();
    let mut verdicts = detector().score_batch(&present).into_iter();
    texts
        .iter()
        .map(|t| t.as_ref().map(|_| verdicts.next().unwrap()))
        .collect()
}

/// Every row of `SELECT verbovka_score, verbovka_label, verbovka_evidence` against `expected`.
async fn check_table(ctx: &SessionContext, texts: &[Option<String>]) {
    let want = expected(texts);
    let batches = ctx
        .sql(
            "SELECT idx, verbovka_score(text) AS s, verbovka_label(text) AS l, \
             verbovka_evidence(text) AS e FROM t ORDER BY idx",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let mut row = 0usize;
    let mut flagged = 0usize;
    for b in &batches {
        let idx = b.column(0).as_primitive::<Int64Type>();
        let s = b.column(1).as_struct();
        let label = b.column(2).as_string::<i32>();
        let evidence = b.column(3).as_string::<i32>();
        let s_label = s.column_by_name("label").unwrap().as_string::<i32>();
        let f = |name: &str| {
            s.column_by_name(name)
                .unwrap()
                .as_primitive::<Float32Type>()
                .clone()
        };
        let (risk, sab, rec, lure) = (f("risk"), f("sabotage"), f("reconnaissance"), f("lure"));
        let truncated = s.column_by_name("truncated").unwrap().as_boolean();
        for i in 0..b.num_rows() {
            assert_eq!(idx.value(i) as usize, row);
            match &want[row] {
                None => {
                    assert!(
                        s.is_null(i) && label.is_null(i) && evidence.is_null(i),
                        "row {row}: null in, null out"
                    );
                }
                Some(v) => {
                    assert!(
                        s.is_valid(i) && label.is_valid(i) && evidence.is_valid(i),
                        "row {row}"
                    );
                    assert_eq!(label.value(i), v.label.as_str(), "row {row}");
                    assert_eq!(s_label.value(i), v.label.as_str(), "row {row}");
                    // Bit for bit: the same detector on the same text.
                    assert_eq!(risk.value(i).to_bits(), v.risk.to_bits(), "row {row}");
                    assert_eq!(
                        sab.value(i).to_bits(),
                        v.scores.sabotage.to_bits(),
                        "row {row}"
                    );
                    assert_eq!(
                        rec.value(i).to_bits(),
                        v.scores.reconnaissance.to_bits(),
                        "row {row}"
                    );
                    assert_eq!(
                        lure.value(i).to_bits(),
                        v.scores.lure.to_bits(),
                        "row {row}"
                    );
                    assert_eq!(truncated.value(i), v.truncated, "row {row}");
                    assert_eq!(
                        evidence.value(i),
                        serde_json::to_string(&v.evidence).unwrap(),
                        "row {row}"
                    );
                    flagged += v.is_flagged() as usize;
                }
            }
            row += 1;
        }
    }
    assert_eq!(row, texts.len());
    // The texts hold recruitment posts: a check that would pass on all-benign output is none.
    assert!(flagged >= 20, "only {flagged} flagged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn utf8_large_utf8_and_view_equal_score_batch() {
    let texts = texts();
    assert!(texts.iter().any(Option::is_none) && texts.iter().any(|t| t.as_deref() == Some("")));
    for ty in [DataType::Utf8, DataType::LargeUtf8, DataType::Utf8View] {
        let ctx = context(&texts, &ty).await;
        check_table(&ctx, &texts).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dictionary_strings_are_unpacked() {
    let texts: Vec<Option<String>> = texts().into_iter().take(80).collect();
    let ty = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
    let ctx = context(&texts, &ty).await;
    let want = expected(&texts);
    let b = ctx
        .sql("SELECT verbovka_label(text) FROM t ORDER BY idx")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let got: Vec<Option<String>> = b
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    let want: Vec<Option<String>> = want
        .iter()
        .map(|v| v.as_ref().map(|v| v.label.to_string()))
        .collect();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constants_nulls_and_struct_fields() {
    let ctx = SessionContext::new();
    Functions::new().register(&ctx); // the process-wide default detector
    let post = "Треба пiдп@лити авто ЗСУ біля ТЦК, 500$ одразу після відео. Пиши @job_ua";
    let v = detector().score(post);
    let b = ctx
        .sql(&format!(
            "SELECT verbovka_label('{post}') AS l, verbovka_score('{post}')['risk'] AS r, \
             verbovka_label(NULL) AS n, verbovka_label('') AS e"
        ))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(b[0].column(0).as_string::<i32>().value(0), v.label.as_str());
    assert_eq!(v.label, verbovka::Label::Sabotage);
    assert_eq!(
        b[0].column(1)
            .as_primitive::<Float32Type>()
            .value(0)
            .to_bits(),
        v.risk.to_bits()
    );
    assert!(b[0].column(2).is_null(0), "NULL in, NULL out");
    assert_eq!(
        b[0].column(3).as_string::<i32>().value(0),
        detector().score("").label.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_strings_are_plan_errors_naming_function_and_type() {
    let ctx = SessionContext::new();
    Functions::new().register(&ctx);
    for (sql, words) in [
        ("SELECT verbovka_label(42)", vec!["verbovka_label", "Int64"]),
        (
            "SELECT verbovka_score(1.5)",
            vec!["verbovka_score", "Float64"],
        ),
        (
            "SELECT verbovka_evidence(true)",
            vec!["verbovka_evidence", "Boolean"],
        ),
        (
            "SELECT verbovka_label('a', 'b')",
            vec!["verbovka_label", "one argument"],
        ),
    ] {
        let err = match ctx.sql(sql).await {
            Err(e) => e.to_string(),
            Ok(df) => df.collect().await.expect_err(sql).to_string(),
        };
        for w in words {
            assert!(err.contains(w), "{sql}: {err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_texts_are_cut_before_scoring() {
    let ctx = SessionContext::new();
    Functions::with_detector(detector())
        .max_text_bytes(100)
        .register(&ctx);
    // 60 two-byte letters = 120 bytes: cut at 100, a character boundary.
    let post = "ж".repeat(60);
    let b = ctx
        .sql(&format!("SELECT verbovka_score('{post}') AS s"))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let s = b[0].column(0).as_struct();
    let risk = s
        .column_by_name("risk")
        .unwrap()
        .as_primitive::<Float32Type>()
        .value(0);
    assert_eq!(
        risk.to_bits(),
        detector().score(&"ж".repeat(50)).risk.to_bits()
    );
    assert!(s.column_by_name("truncated").unwrap().as_boolean().value(0));
}

/// The README's query over Parquet written by the converter's sink and over JSON Lines,
/// against counts made with `score_batch`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_and_jsonl_folders() {
    let msgs = common::messages(600);
    let texts: Vec<&str> = msgs.iter().map(|m| m.text.as_str()).collect();
    let verdicts = detector().score_batch(&texts);
    let mut want: std::collections::BTreeMap<String, i64> = Default::default();
    for (m, v) in msgs.iter().zip(&verdicts) {
        if v.is_flagged() {
            *want
                .entry(m.chat.name.clone().unwrap_or_default())
                .or_default() += 1;
        }
    }
    assert!(want.len() >= 3, "{want:?}");

    let dir = common::TempDir::new("udf");
    let pq = dir.0.join("parquet");
    let js = dir.0.join("jsonl");
    std::fs::create_dir_all(&pq).unwrap();
    std::fs::create_dir_all(&js).unwrap();
    common::write_parquet(&pq, &msgs, 3);
    for (k, chunk) in msgs.chunks(250).enumerate() {
        let mut s = String::new();
        for m in chunk {
            s += &serde_json::json!({"chat": m.chat.name, "id": m.id, "date": m.date_iso(),
                                     "author": m.author, "text": m.text})
            .to_string();
            s.push('\n');
        }
        std::fs::write(js.join(format!("part-{k}.jsonl")), s).unwrap();
    }
    for (path, format) in [
        (&pq, messages::TableFormat::Parquet),
        (&js, messages::TableFormat::JsonLines(".jsonl")),
    ] {
        let ctx = SessionContext::new();
        Functions::with_detector(detector()).register(&ctx);
        assert_eq!(
            messages::register_messages(&ctx, "messages", path)
                .await
                .unwrap(),
            format
        );
        let b = ctx
            .sql("SELECT chat, count(*) FROM messages WHERE verbovka_label(text) <> 'benign' GROUP BY chat ORDER BY chat")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut got: std::collections::BTreeMap<String, i64> = Default::default();
        for b in &b {
            // Parquet strings are read as Utf8View, JSON's as Utf8.
            let chat = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
            let chat = chat.as_string::<i32>();
            let n = b.column(1).as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                got.insert(chat.value(i).to_string(), n.value(i));
            }
        }
        assert_eq!(got, want, "{format:?}");
        let rows = ctx
            .sql("SELECT count(*) FROM messages")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(
            rows[0].column(0).as_primitive::<Int64Type>().value(0),
            msgs.len() as i64
        );
    }
}

/// DataFusion 55 evaluates `verbovka_score(text)['a'], verbovka_score(text)['b']` (and a
/// filter's `verbovka_label(text)` below them) as separate calls on one batch; the model still
/// runs once per text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_scored_once_however_many_calls_read_it() {
    let msgs = common::messages(400);
    let dir = common::TempDir::new("once");
    common::write_parquet(&dir.0, &msgs, 2);
    let texts: Vec<&str> = msgs.iter().map(|m| m.text.as_str()).collect();
    let flagged = detector()
        .score_batch(&texts)
        .iter()
        .filter(|v| v.is_flagged())
        .count();
    for (sql, rows) in [
        (
            "SELECT verbovka_score(text)['risk'] AS r, verbovka_score(text)['label'] AS l, \
             verbovka_score(text)['lure'] AS u FROM messages",
            msgs.len(),
        ),
        (
            "SELECT verbovka_score(text)['risk'] AS r, verbovka_score(text)['label'] AS l \
             FROM messages WHERE verbovka_label(text) <> 'benign'",
            flagged,
        ),
    ] {
        let functions = Functions::with_detector(detector());
        let ctx = SessionContext::new();
        functions.register(&ctx);
        messages::register_messages(&ctx, "messages", &dir.0)
            .await
            .unwrap();
        let got: usize = ctx
            .sql(sql)
            .await
            .unwrap()
            .collect()
            .await
            .unwrap()
            .iter()
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(got, rows, "{sql}");
        assert_eq!(
            functions.texts_scored(),
            msgs.len() as u64,
            "each text scored once: {sql}"
        );
    }
}
