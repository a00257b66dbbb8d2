//! Progress bars for the library's long loops (hidden when stderr is not a
//! terminal, e.g. in CI logs).

use ebm::progress::{Progress, Task};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

/// Draws a bar with rate and ETA per loop when a person is watching.
pub struct Bars {
    enabled: bool,
}

impl Bars {
    /// Bars only when stderr is a terminal.
    pub fn when_watched() -> Self {
        Self {
            enabled: std::io::stderr().is_terminal(),
        }
    }
}

struct BarTask(ProgressBar);

impl Task for BarTask {
    fn set_position(&self, done: u64) {
        self.0.set_position(done);
    }
    fn set_message(&self, message: &str) {
        self.0.set_message(message.to_string());
    }
    fn advance(&self, by: u64) {
        self.0.inc(by);
    }
}

impl Drop for BarTask {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bars {
    fn begin(&self, label: &str, total: u64) -> Box<dyn Task> {
        if !self.enabled {
            return Box::new(BarTask(ProgressBar::hidden()));
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template("{prefix:>8} [{bar:32.cyan/blue}] {pos}/{len} {per_sec} ETA {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(label.to_string());
        Box::new(BarTask(bar))
    }
}
