//! Figures, targets, the stdout table and bench/results/latest.json.

use serde_json::{Value, json};

/// A bound a figure (or its ratio) is held to.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
}

impl Target {
    fn met(self, v: f64) -> bool {
        match self {
            Target::AtLeast(b) => v >= b,
            Target::AtMost(b) => v <= b,
            Target::Below(b) => v < b,
        }
    }

    fn text(self, unit: &str) -> String {
        let (op, b) = match self {
            Target::AtLeast(b) => (">=", b),
            Target::AtMost(b) => ("<=", b),
            Target::Below(b) => ("<", b),
        };
        format!("{op} {}{unit}", trim_num(b))
    }
}

/// One measured figure. With `ratio_to`, the target applies to the ratio
/// value / reference, else to the value itself.
#[derive(Clone, Debug)]
pub struct Figure {
    pub key: String,
    pub label: String,
    pub value: Option<f64>,
    pub unit: String,
    pub ratio: Option<f64>,
    pub ratio_to: String,
    pub target: Option<Target>,
    pub note: String,
}

impl Figure {
    pub fn new(key: &str, label: &str, value: f64, unit: &str) -> Figure {
        Figure {
            key: key.into(),
            label: label.into(),
            value: Some(value),
            unit: unit.into(),
            ratio: None,
            ratio_to: String::new(),
            target: None,
            note: String::new(),
        }
    }

    /// A figure that could not be measured (`why` is printed).
    pub fn skipped(key: &str, label: &str, why: &str) -> Figure {
        Figure {
            value: None,
            note: why.into(),
            ..Figure::new(key, label, 0.0, "")
        }
    }

    /// value / reference, named `to` ("ref A").
    pub fn ratio(mut self, reference: f64, to: &str) -> Figure {
        self.ratio = self.value.map(|v| v / reference);
        self.ratio_to = to.into();
        self
    }

    pub fn target(mut self, t: Target) -> Figure {
        self.target = Some(t);
        self
    }

    pub fn note(mut self, n: &str) -> Figure {
        self.note = n.into();
        self
    }

    /// "PASS", "BELOW", "-" (no target) or "SKIP".
    pub fn result(&self) -> &'static str {
        let Some(v) = self.value else { return "SKIP" };
        match self.target {
            None => "-",
            Some(t) if t.met(self.ratio.unwrap_or(v)) => "PASS",
            Some(_) => "BELOW",
        }
    }

    fn target_text(&self) -> String {
        match (self.target, self.ratio_to.is_empty()) {
            (None, _) => String::new(),
            (Some(t), true) => t.text(&format!(" {}", self.unit)),
            (Some(t), false) => format!("{}x {}", t.text(""), self.ratio_to),
        }
    }

    fn value_text(&self) -> String {
        match self.value {
            None => "skipped".into(),
            Some(v) => format!("{} {}", fmt_num(v), self.unit).trim_end().to_owned(),
        }
    }

    fn ratio_text(&self) -> String {
        self.ratio
            .map_or_else(String::new, |r| format!("{}x {}", fmt_ratio(r), self.ratio_to))
    }

    pub fn json(&self) -> Value {
        json!({
            "key": self.key,
            "figure": self.label,
            "value": self.value,
            "unit": self.unit,
            "ratio": self.ratio,
            "ratio_to": if self.ratio_to.is_empty() { Value::Null } else { json!(self.ratio_to) },
            "target": self.target_text(),
            "result": self.result(),
            "note": self.note,
        })
    }
}

fn trim_num(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn fmt_ratio(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.1}")
    } else if r >= 0.01 {
        format!("{r:.2}")
    } else {
        format!("{r:.4}")
    }
}

/// The table printed on stdout (markdown, so README can show it as is).
pub fn table(figures: &[Figure]) -> String {
    let rows: Vec<[String; 5]> = figures
        .iter()
        .map(|f| {
            [
                f.label.clone(),
                f.value_text(),
                f.ratio_text(),
                f.target_text(),
                f.result().to_owned(),
            ]
        })
        .collect();
    let head = ["figure", "value", "ratio", "target", "result"];
    let mut w: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = w[i]))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&head.map(String::from));
    out += &format!(
        "|{}|\n",
        w.iter().map(|n| "-".repeat(n + 2)).collect::<Vec<_>>().join("|")
    );
    for r in &rows {
        out += &line(r);
    }
    out
}
