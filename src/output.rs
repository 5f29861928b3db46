//! What the operator sees while a run goes: stderr only (stdout carries data: plans, summaries).
//! Progress bars on a terminal; plain timestamped lines otherwise. NO_COLOR is respected.
//!
//! Names and values reach these messages through `show_ident`/`show` at each call site. As a
//! second line of defence every message is also passed through [`for_terminal`] here, and text
//! written to stdout through [`TerminalText`], so a missed call site cannot send a raw ESC.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pgcutover_core::{show, show_ident, show_lines};

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
        let line = format!("{} {}", self.stamp(), for_terminal(msg));
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
        let line = format!("{label}: {}", for_terminal(msg));
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
            bar.set_prefix(truncate(&show(name), 24));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        if bar.is_none() {
            self.info(&format!(
                "copying {} ({} rows)",
                show(name),
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
                eprintln!(
                    "  {}: {rows} rows so far ({rate:.0} rows/s)",
                    show(&self.name)
                );
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

/// The pipeline tells the operator what it does through these lines and bars.
impl pgcutover_pipeline::observe::Observer for Printer {
    fn info(&self, message: &str) {
        Printer::info(self, message);
    }

    fn warn(&self, message: &str) {
        Printer::warn(self, message);
    }

    fn table(
        &self,
        name: &str,
        rows: Option<u64>,
    ) -> Box<dyn pgcutover_pipeline::observe::Progress> {
        Box::new(Printer::table(self, name, rows))
    }

    /// A step that did not simply succeed gets a warning line; the summary lists them again.
    fn step_done(&self, r: &pgcutover_pipeline::report::StepReport) {
        if let Some(note) = &r.note {
            self.warn(&format!(
                "{} {} on {}: {note}",
                r.kind.label(),
                show_ident(&r.object),
                show_ident(&r.table)
            ));
        } else if let Some(e) = &r.error {
            let what = if r.demoted_to_warning {
                "not carried over"
            } else {
                "FAILED"
            };
            self.warn(&format!(
                "{} {} on {} {what}: {e}",
                r.kind.label(),
                show_ident(&r.object),
                show_ident(&r.table)
            ));
        }
    }
}

impl pgcutover_pipeline::observe::Progress for TableProgress {
    fn set(&mut self, rows: u64) {
        TableProgress::set(self, rows);
    }

    fn finish(self: Box<Self>) {
        TableProgress::finish(*self);
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
        .map(|n| pgcutover_core::show_ident(n).chars().count())
        .max()
        .unwrap_or(5)
        .max(5)
}

/// A message for stderr: no raw control character but the line breaks a message has on purpose,
/// and every line after the first indented, so that a line break that slipped through from a
/// name or a server's message cannot start a line that reads like one of ours (`error: …`).
pub fn for_terminal(msg: &str) -> String {
    let shown = show_lines(msg);
    let mut out = String::with_capacity(shown.len());
    for (i, line) in shown.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.starts_with([' ', '\t']) && !line.is_empty() {
                out.push_str("  ");
            }
        }
        out.push_str(line);
    }
    out
}

/// Text for a person on stdout (the plan, summaries, `status`): whatever a writer formats, no
/// raw control character but `\n` gets through. JSON output does not go through here; it is
/// data, and serde escapes control characters itself.
pub struct TerminalText<W: std::io::Write>(pub W);

impl<W: std::io::Write> std::io::Write for TerminalText<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // `write!` hands over whole `str` pieces; anything else is shown byte by byte.
        let valid = match std::str::from_utf8(buf) {
            Ok(text) => text,
            Err(e) if e.valid_up_to() > 0 => {
                std::str::from_utf8(&buf[..e.valid_up_to()]).expect("checked up to here")
            }
            Err(e) => {
                // Bytes that are not UTF-8 (or a character cut at the end): shown as hex.
                let bad = &buf[..e.error_len().unwrap_or(buf.len())];
                let escaped: String = bad.iter().map(|b| format!("\\x{b:02x}")).collect();
                self.0.write_all(escaped.as_bytes())?;
                return Ok(bad.len());
            }
        };
        self.0.write_all(show_lines(valid).as_bytes())?;
        Ok(valid.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn messages_keep_their_own_lines_and_lose_the_rest() {
        assert_eq!(
            for_terminal("cannot resume:\n  - the source differs"),
            "cannot resume:\n  - the source differs"
        );
        // A line break that slipped through cannot start a line of its own at the margin.
        assert_eq!(
            for_terminal("relation \"a\nerror: forged\" \x1b[2Jgone\r"),
            "relation \"a\n  error: forged\" \\x1b[2Jgone\\r"
        );
    }

    #[test]
    fn text_on_stdout_has_no_raw_control_characters() {
        let mut out = TerminalText(Vec::new());
        let (name, value) = ("table \x1b]0;pwned\x07", "é\u{202e}");
        write!(out, "{name}\n{value}").expect("writes");
        assert_eq!(
            String::from_utf8(out.0).expect("utf-8"),
            "table \\x1b]0;pwned\\x07\né\\u{202e}"
        );
        let mut out = TerminalText(Vec::new());
        out.write_all(b"ok \xff\x1b \xc3\xa9").expect("writes");
        assert_eq!(String::from_utf8(out.0).expect("utf-8"), "ok \\xff\\x1b é");
    }
}
