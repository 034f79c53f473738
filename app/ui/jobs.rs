//! Long work (imports, the demo) runs on a thread with its own database connection, so the
//! window stays responsive and shows a progress bar; SQLite's WAL lets the screen keep reading.

use std::sync::mpsc::{Receiver, TryRecvError, channel};

enum Message<T> {
    Progress { stage: &'static str, done: usize, total: usize },
    Done(T),
}

pub struct Job<T> {
    rx: Receiver<Message<T>>,
    pub title: String,
    stage: &'static str,
    done: usize,
    total: usize,
}

/// Handed to the work: reports progress and wakes the window.
pub struct Reporter<T> {
    tx: std::sync::mpsc::Sender<Message<T>>,
    ctx: egui::Context,
}

impl<T> Reporter<T> {
    pub fn progress(&self, stage: &'static str, done: usize, total: usize) {
        let _ = self.tx.send(Message::Progress { stage, done, total });
        self.ctx.request_repaint();
    }
}

impl<T: Send + 'static> Job<T> {
    pub fn spawn(
        ctx: &egui::Context,
        title: impl Into<String>,
        work: impl FnOnce(&Reporter<T>) -> T + Send + 'static,
    ) -> Self {
        let (tx, rx) = channel();
        let reporter = Reporter { tx, ctx: ctx.clone() };
        let title = title.into();
        let logged = title.clone();
        log::info!("job started: {logged}");
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let result = work(&reporter);
            log::info!("job finished: {logged} ({:.1} s)", started.elapsed().as_secs_f64());
            let _ = reporter.tx.send(Message::Done(result));
            reporter.ctx.request_repaint();
        });
        Self { rx, title, stage: "", done: 0, total: 0 }
    }

    /// Takes the progress reported so far; returns the result once the work has finished, or
    /// an error if its thread died without one.
    pub fn poll(&mut self) -> Option<Result<T, String>> {
        loop {
            match self.rx.try_recv() {
                Ok(Message::Progress { stage, done, total }) => {
                    (self.stage, self.done, self.total) = (stage, done, total);
                }
                Ok(Message::Done(result)) => return Some(Ok(result)),
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    log::error!("job died: {}", self.title);
                    return Some(Err(format!("{} stopped unexpectedly; nothing was committed", self.title)));
                }
            }
        }
    }

    pub fn progress_bar(&self, ui: &mut egui::Ui) {
        let fraction = if self.total == 0 { 0.0 } else { self.done as f32 / self.total as f32 };
        let text = if self.total == 0 {
            format!("{}…", self.title)
        } else {
            format!("{} {} {} / {}", self.title, self.stage, self.done, self.total)
        };
        ui.add(egui::ProgressBar::new(fraction).text(text).animate(true));
        ui.ctx().request_repaint_after(std::time::Duration::from_millis(100));
    }
}
