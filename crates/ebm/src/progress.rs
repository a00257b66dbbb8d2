//! Progress of long loops (training, sampling many rows, experiments),
//! reported through a trait so the library draws nothing itself: the `ebm`
//! command shows bars, a library user passes [`Quiet`] or their own.

/// Something that watches long work. `begin` is called once per loop with
/// its length; the returned [`Task`] hears about every step.
pub trait Progress {
    fn begin(&self, label: &str, total: u64) -> Box<dyn Task>;
}

/// One loop under way. Dropping it ends the loop.
pub trait Task {
    /// `done` of `total` units finished (absolute, so resumed runs start part way).
    fn set_position(&self, done: u64);
    /// A short status line (e.g. current energies).
    fn set_message(&self, _message: &str) {}
    /// One more unit done.
    fn advance(&self, by: u64);
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quiet;

struct QuietTask;

impl Task for QuietTask {
    fn set_position(&self, _done: u64) {}
    fn advance(&self, _by: u64) {}
}

impl Progress for Quiet {
    fn begin(&self, _label: &str, _total: u64) -> Box<dyn Task> {
        Box::new(QuietTask)
    }
}
