//! What the operator sees while a run goes: stderr only (stdout carries data: plans, summaries).
//! Progress bars on a terminal; plain timestamped lines otherwise. NO_COLOR is respected.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Printer {
    bars: Option<MultiProgress>,
    start: Instant,
    color: bool,
}

impl Printer {
    pub fn new() -> Printer {
        let tty = std::io::stderr().is_terminal();
        let color = tty && std::env::var_os("NO_COLOR").is_none();
        let bars =
            tty.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(5)));
        Printer {
            bars,
            start: Instant::now(),
            color,
        }
    }

    fn stamp(&self) -> String {
        format!("[{:>7.1}s]", self.start.elapsed().as_secs_f64())
    }

    pub fn info(&self, msg: &str) {
        let line = format!("{} {msg}", self.stamp());
        match &self.bars {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    pub fn warn(&self, msg: &str) {
        let label = if self.color {
            "\x1b[33mwarning\x1b[0m"
        } else {
            "warning"
        };
        let line = format!("{label}: {msg}");
        match &self.bars {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    pub fn error_label(&self) -> &'static str {
        if self.color {
            "\x1b[31merror\x1b[0m"
        } else {
            "error"
        }
    }

    /// A progress handle for one table's copy.
    pub fn table(&self, name: &str, rows: Option<u64>) -> TableProgress {
        let bar = self.bars.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(rows.unwrap_or(0)));
            let style = ProgressStyle::with_template("{prefix:>24.bold} [{bar:30}] {human_pos:>10}/{human_len} rows  {rate:>14}  ETA {eta}")
                .expect("template is valid")
                .with_key("rate", |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{:.0} rows/s", state.per_sec());
                })
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(truncate(name, 24));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if bar.is_none() {
            self.info(&format!(
                "copying {name} ({} rows)",
                rows.map_or("?".into(), |r| r.to_string())
            ));
        }
        TableProgress {
            bar,
            name: name.to_owned(),
            last_line: Instant::now(),
            start: Instant::now(),
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

pub struct TableProgress {
    bar: Option<ProgressBar>,
    name: String,
    last_line: Instant,
    start: Instant,
}

impl TableProgress {
    pub fn set(&mut self, rows: u64) {
        match &self.bar {
            Some(b) => b.set_position(rows),
            None if self.last_line.elapsed() >= Duration::from_secs(10) => {
                self.last_line = Instant::now();
                let rate = rows as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
                eprintln!("  {}: {rows} rows so far ({rate:.0} rows/s)", self.name);
            }
            None => {}
        }
    }

    pub fn finish(self) {
        if let Some(b) = self.bar {
            b.finish();
        }
    }
}

/// `--format json`: one line on stdout, `{"type": kind, "data": …}` (the envelope README
/// documents for every command).
pub fn print_json(
    out: &mut impl std::io::Write,
    kind: &str,
    data: &impl serde::Serialize,
) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &serde_json::json!({"type": kind, "data": data}))?;
    writeln!(out)
}

/// `--report FILE`: the data, pretty-printed.
pub fn write_json_file(
    path: &std::path::Path,
    data: &impl serde::Serialize,
) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    serde_json::to_writer_pretty(&mut f, data)?;
    f.write_all(b"\n")
}

/// The width of a summary table's first column: its longest quoted name, at least "table".
pub fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names
        .map(|n| pgcutover_core::quote_ident(n).chars().count())
        .max()
        .unwrap_or(5)
        .max(5)
}
