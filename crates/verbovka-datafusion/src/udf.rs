//! The three scalar functions and the one scoring pass they share.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::array::ArrayData;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float32Array, StringBuilder, StructArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use verbovka::{Detector, Evidence, Label, Scores};

/// `verbovka_score`'s name in SQL.
pub const SCORE: &str = "verbovka_score";
/// `verbovka_label`'s name in SQL.
pub const LABEL: &str = "verbovka_label";
/// `verbovka_evidence`'s name in SQL.
pub const EVIDENCE: &str = "verbovka_evidence";

/// Texts longer than this are cut (on a character boundary) before scoring, as the library's
/// export reader and `score_jsonl` cut theirs: a worst-case text then costs under 150 MB.
pub const DEFAULT_MAX_TEXT_BYTES: usize = 1 << 20;

/// The fields of `verbovka_score`'s struct, in order.
pub fn score_fields() -> Fields {
    Fields::from(vec![
        Field::new("label", DataType::Utf8, false),
        Field::new("risk", DataType::Float32, false),
        Field::new("sabotage", DataType::Float32, false),
        Field::new("reconnaissance", DataType::Float32, false),
        Field::new("lure", DataType::Float32, false),
        Field::new("truncated", DataType::Boolean, false),
    ])
}

/// Where the functions get their detector.
#[derive(Clone)]
enum Source {
    /// Built on first use, once per process (see [`default_detector`]).
    Default,
    /// Given at registration.
    Given(Arc<Detector>),
}

/// Batches whose verdicts are kept for a repeated call on the same array (see [`Scorer::score`]).
const RECENT: usize = 16;

/// One batch's results, row by row (`None` for a null text).
type Rows = Arc<Vec<Option<Scored>>>;

/// The scoring shared by the three functions of one [`Functions`] value.
struct Scorer {
    source: Source,
    max_text_bytes: usize,
    /// The last [`RECENT`] arrays scored (kept alive, so equal buffer pointers mean equal
    /// data) and their verdicts.
    recent: Mutex<VecDeque<(ArrayData, Rows)>>,
    /// Texts given to `score_batch` so far.
    scored: AtomicU64,
}

impl Scorer {
    fn new(source: Source, max_text_bytes: usize) -> Self {
        Scorer {
            source,
            max_text_bytes,
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
            scored: AtomicU64::new(0),
        }
    }

    fn detector(&self, function: &str) -> Result<Arc<Detector>> {
        match &self.source {
            Source::Given(d) => Ok(d.clone()),
            Source::Default => default_detector().or_else(|e| {
                exec_err!("{function}: the default verbovka detector failed to load: {e}")
            }),
        }
    }

    /// Scores every non-null row of `array` with one `score_batch` call; `None` for nulls.
    ///
    /// DataFusion 55 evaluates `verbovka_score(text)['a'], verbovka_score(text)['b']` as two
    /// calls on the same array (its leaf-expression pushdown undoes common-subexpression
    /// elimination, apache/datafusion#25329), and a filter's `verbovka_label(text)` often
    /// runs on that same array too: a call on an array scored a moment ago reuses its verdicts
    /// instead of running the model again.
    fn score(&self, function: &str, array: &ArrayRef) -> Result<Rows> {
        let data = array.to_data();
        if array.is_empty() {
            return Ok(Arc::new(Vec::new()));
        }
        {
            let recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, hit)) = recent.iter().find(|(d, _)| d.ptr_eq(&data)) {
                return Ok(hit.clone());
            }
        }
        let texts: Vec<Option<&str>> = match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().iter().collect(),
            DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
            DataType::Utf8View => array.as_string_view().iter().collect(),
            DataType::Null => vec![None; array.len()],
            other => return exec_err!("{function}: expected a string array, got {other}"),
        };
        let present: Vec<&str> = texts
            .iter()
            .flatten()
            .map(|t| cut(t, self.max_text_bytes))
            .collect();
        let mut verdicts = if present.is_empty() {
            Vec::new()
        } else {
            self.scored
                .fetch_add(present.len() as u64, Ordering::Relaxed);
            self.detector(function)?.score_batch(&present)
        }
        .into_iter();
        let scored: Rows = Arc::new(
            texts
                .iter()
                .map(|t| {
                    t.map(|t| {
                        let v = verdicts.next().expect("one verdict per present text");
                        Scored {
                            label: v.label,
                            risk: v.risk,
                            scores: v.scores,
                            truncated: v.truncated || t.len() > self.max_text_bytes,
                            evidence: v.evidence,
                        }
                    })
                })
                .collect(),
        );
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() == RECENT {
            recent.pop_front();
        }
        recent.push_back((data, scored.clone()));
        Ok(scored)
    }
}

/// What the functions return of one row's verdict (not its contributions: the cache keeps
/// [`RECENT`] batches of these).
struct Scored {
    label: Label,
    risk: f32,
    scores: Scores,
    /// The model read part of the text, or the text was cut before scoring.
    truncated: bool,
    evidence: Vec<Evidence>,
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

static DEFAULT_DETECTOR: OnceLock<std::result::Result<Arc<Detector>, String>> = OnceLock::new();

/// The process-wide default detector ([`Detector::new`]: embedded rules and model), built on
/// the first call and shared by every [`Functions::new`] in the process. This cache lives in
/// this crate, not in `verbovka`: a scheduler that only plans queries never pays for the model.
pub fn default_detector() -> std::result::Result<Arc<Detector>, String> {
    DEFAULT_DETECTOR
        .get_or_init(|| Detector::new().map(Arc::new).map_err(|e| e.to_string()))
        .clone()
}

/// The three functions over one detector: build once, register on every session.
///
/// ```no_run
/// use datafusion::prelude::SessionContext;
/// use verbovka_datafusion::Functions;
///
/// # async fn run() -> datafusion::error::Result<()> {
/// let ctx = SessionContext::new();
/// Functions::new().register(&ctx);
/// let df = ctx.sql("SELECT verbovka_label('Шукаємо сміливих: одне завдання — 500$')").await?;
/// df.show().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Functions {
    scorer: Arc<Scorer>,
}

impl Default for Functions {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Functions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Functions")
            .field(
                "detector",
                &match self.scorer.source {
                    Source::Default => "default (process-wide)",
                    Source::Given(_) => "given",
                },
            )
            .field("max_text_bytes", &self.scorer.max_text_bytes)
            .finish()
    }
}

impl Functions {
    /// Functions over the process-wide [`default_detector`], loaded at the first batch.
    pub fn new() -> Self {
        Self::from_source(Source::Default)
    }

    /// Functions over `detector` (own rules, thresholds or model).
    pub fn with_detector(detector: Arc<Detector>) -> Self {
        Self::from_source(Source::Given(detector))
    }

    fn from_source(source: Source) -> Self {
        Functions {
            scorer: Arc::new(Scorer::new(source, DEFAULT_MAX_TEXT_BYTES)),
        }
    }

    /// Cut texts longer than `bytes` before scoring (default [`DEFAULT_MAX_TEXT_BYTES`]); a
    /// cut text's `truncated` is true.
    pub fn max_text_bytes(self, bytes: usize) -> Self {
        Functions {
            scorer: Arc::new(Scorer::new(self.scorer.source.clone(), bytes.max(1))),
        }
    }

    /// Texts these functions have given to the detector so far (a repeated call on a batch
    /// scored a moment ago is not counted: it reuses the verdicts).
    pub fn texts_scored(&self) -> u64 {
        self.scorer.scored.load(Ordering::Relaxed)
    }

    /// `verbovka_score`, `verbovka_label` and `verbovka_evidence`.
    pub fn udfs(&self) -> Vec<Arc<ScalarUDF>> {
        [Kind::Score, Kind::Label, Kind::Evidence]
            .into_iter()
            .map(|kind| Arc::new(ScalarUDF::new_from_impl(VerbovkaUdf::new(kind, self))))
            .collect()
    }

    /// Registers the three functions on `ctx`.
    pub fn register(&self, ctx: &SessionContext) {
        for udf in self.udfs() {
            ctx.register_udf(udf.as_ref().clone());
        }
    }

    /// Registers the three functions on any registry (a `SessionState`, Ballista's
    /// executor registry).
    pub fn register_on(&self, registry: &mut dyn FunctionRegistry) -> Result<()> {
        for udf in self.udfs() {
            registry.register_udf(udf)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Score,
    Label,
    Evidence,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Score => SCORE,
            Kind::Label => LABEL,
            Kind::Evidence => EVIDENCE,
        }
    }
}

/// One of the three functions. Equal when of the same kind over the same detector (DataFusion
/// compares functions when it deduplicates expressions).
struct VerbovkaUdf {
    kind: Kind,
    scorer: Arc<Scorer>,
    signature: Signature,
}

impl VerbovkaUdf {
    fn new(kind: Kind, functions: &Functions) -> Self {
        VerbovkaUdf {
            kind,
            scorer: functions.scorer.clone(),
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl std::fmt::Debug for VerbovkaUdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kind.name())
    }
}

impl PartialEq for VerbovkaUdf {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && Arc::ptr_eq(&self.scorer, &other.scorer)
    }
}

impl Eq for VerbovkaUdf {}

impl Hash for VerbovkaUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
        (Arc::as_ptr(&self.scorer) as usize).hash(state);
    }
}

impl ScalarUDFImpl for VerbovkaUdf {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Strings are scored as they are (no cast); a dictionary of strings is unpacked; `NULL`
    /// is a null string; anything else is a plan error naming the function and the type.
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.name();
        let [t] = arg_types else {
            return plan_err!(
                "{name} takes one argument (the text), got {}",
                arg_types.len()
            );
        };
        match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(vec![t.clone()]),
            DataType::Null => Ok(vec![DataType::Utf8]),
            DataType::Dictionary(_, v)
                if matches!(
                    v.as_ref(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                ) =>
            {
                Ok(vec![v.as_ref().clone()])
            }
            other => plan_err!(
                "{name} takes a string (Utf8, LargeUtf8 or Utf8View), got {other}; \
                 cast it first, e.g. {name}(CAST(x AS VARCHAR))"
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Score => DataType::Struct(score_fields()),
            Kind::Label | Kind::Evidence => DataType::Utf8,
        })
    }

    /// A null text gives null; every other text is scored.
    fn is_strict(&self) -> bool {
        true
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.name();
        let [arg] = args.args.as_slice() else {
            return exec_err!("{name} takes one argument, got {}", args.args.len());
        };
        let (array, scalar) = match arg {
            ColumnarValue::Array(a) => (a.clone(), false),
            ColumnarValue::Scalar(s) => (s.to_array_of_size(1)?, true),
        };
        let scored = self.scorer.score(name, &array)?;
        let out = match self.kind {
            Kind::Score => score_array(&scored)?,
            Kind::Label => Arc::new(
                scored
                    .iter()
                    .map(|s| s.as_ref().map(|s| s.label.as_str()))
                    .collect::<datafusion::arrow::array::StringArray>(),
            ),
            Kind::Evidence => evidence_array(name, &scored)?,
        };
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

fn score_array(scored: &[Option<Scored>]) -> Result<ArrayRef> {
    let f32s = |f: &dyn Fn(&Scored) -> f32| -> ArrayRef {
        Arc::new(
            scored
                .iter()
                .map(|s| s.as_ref().map_or(0.0, f))
                .collect::<Float32Array>(),
        )
    };
    let labels: ArrayRef = Arc::new(
        scored
            .iter()
            .map(|s| Some(s.as_ref().map_or("", |s| s.label.as_str())))
            .collect::<datafusion::arrow::array::StringArray>(),
    );
    let truncated: ArrayRef = Arc::new(
        scored
            .iter()
            .map(|s| Some(s.as_ref().is_some_and(|s| s.truncated)))
            .collect::<BooleanArray>(),
    );
    let columns = vec![
        labels,
        f32s(&|s| s.risk),
        f32s(&|s| s.scores.sabotage),
        f32s(&|s| s.scores.reconnaissance),
        f32s(&|s| s.scores.lure),
        truncated,
    ];
    let nulls = NullBuffer::from_iter(scored.iter().map(Option::is_some));
    let nulls = (nulls.null_count() > 0).then_some(nulls);
    Ok(Arc::new(StructArray::try_new(
        score_fields(),
        columns,
        nulls,
    )?))
}

fn evidence_array(name: &str, scored: &[Option<Scored>]) -> Result<ArrayRef> {
    let mut out = StringBuilder::with_capacity(scored.len(), 64 * scored.len());
    let mut bytes = 0usize;
    for s in scored {
        match s {
            None => out.append_null(),
            Some(s) => {
                let json = serde_json::to_string(&s.evidence)
                    .or_else(|e| exec_err!("{name}: evidence did not serialise: {e}"))?;
                bytes += json.len();
                if bytes > i32::MAX as usize {
                    return exec_err!(
                        "{name}: this batch's evidence JSON passes 2 GiB (a Utf8 array's limit); \
                         lower datafusion.execution.batch_size"
                    );
                }
                out.append_value(json);
            }
        }
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cut_keeps_char_boundaries() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abc", 2), "ab");
        // "д" is two bytes: a cut inside it steps back before it.
        assert_eq!(cut("aдb", 2), "a");
        assert_eq!(cut("aдb", 3), "aд");
    }
}
