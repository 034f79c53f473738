//! The volume monitor: paper orders per day and category, each against its safe limit.

use super::screen::{Ctx, Screen, ShellCommand};
use chrono::Local;
use egui::{Color32, RichText};
use egui_plot::{Bar, BarChart, HLine, Legend, Plot};

use crate::downtime::{VolumeReport, volume_report};
use crate::store::Store;

const DAYS: u32 = 14;

pub struct VolumeScreen {
    report: Result<VolumeReport, String>,
    /// Index into the report's lines of the category plotted.
    selected: usize,
}

impl VolumeScreen {
    pub fn new(store: &Store) -> Self {
        let mut me = Self { report: Err(String::new()), selected: 0 };
        me.reload(store);
        me
    }

    pub fn reload(&mut self, store: &Store) {
        self.report = volume_report(store, Local::now().date_naive(), DAYS).map_err(|e| e.to_string());
    }

    fn show(&mut self, ui: &mut egui::Ui, store: &Store) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("紙オーダー件数 Paper orders per day");
                if ui.button("更新 Refresh").clicked() {
                    self.reload(store);
                }
            });
            let report = match &self.report {
                Ok(r) => r,
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("cannot read the counts: {e}"));
                    return;
                }
            };
            ui.label("紙運用には安全な上限があります（外来検体 200件/日）。 Paper operation has a safe limit (default: outpatient lab 200 a day; `config set volume.limit.<type> N`).");
            ui.add_space(6.0);
            egui::Grid::new("volume_table").striped(true).num_columns(4).show(ui, |ui| {
                ui.label(RichText::new("種類 Order type").strong());
                ui.label(RichText::new("今日 Today").strong());
                ui.label(RichText::new("上限 Limit").strong());
                ui.label(RichText::new(format!("{DAYS}日間 {DAYS} days")).strong());
                ui.end_row();
                for (i, line) in report.lines.iter().enumerate() {
                    if ui.selectable_label(self.selected == i, line.label).clicked() {
                        self.selected = i;
                    }
                    let today = line.counts.last().copied().unwrap_or(0);
                    let over = line.limit.is_some_and(|l| today >= l);
                    let text = RichText::new(today.to_string()).strong();
                    ui.label(if over { text.color(ui.visuals().error_fg_color) } else { text });
                    ui.label(line.limit.map_or("—".to_string(), |l| l.to_string()));
                    ui.label(line.counts.iter().sum::<u32>().to_string());
                    ui.end_row();
                }
            });
            for o in &report.over {
                ui.colored_label(
                    ui.visuals().error_fg_color,
                    format!("▲ {} {}: {} 件 (上限 limit {})", o.day, o.label, o.count, o.limit),
                );
            }
            let Some(line) = report.lines.get(self.selected) else { return };
            ui.add_space(6.0);
            ui.label(RichText::new(line.label).strong());
            let days = report.days.clone();
            let limit = line.limit;
            let bars: Vec<Bar> = line
                .counts
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    let over = limit.is_some_and(|l| c >= l);
                    let color = if over { Color32::from_rgb(200, 40, 40) } else { Color32::from_rgb(60, 120, 200) };
                    Bar::new(i as f64, f64::from(c)).width(0.7).fill(color).name(&days[i])
                })
                .collect();
            let y_top = f64::from(limit.unwrap_or(0).max(line.counts.iter().copied().max().unwrap_or(0)).max(5)) * 1.15;
            Plot::new("volume_plot")
                .height(ui.available_height().max(200.0))
                .legend(Legend::default())
                .include_y(0.0)
                .include_y(y_top)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .x_axis_formatter(move |mark, _| {
                    let i = mark.value.round();
                    if (mark.value - i).abs() < 1e-6 && i >= 0.0 {
                        days.get(i as usize).map(|d| d[5..].to_string()).unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .show(ui, |plot| {
                    plot.bar_chart(BarChart::new("件数 orders", bars));
                    if let Some(l) = limit {
                        plot.hline(HLine::new("上限 safe limit", f64::from(l)).color(Color32::from_rgb(200, 0, 0)).width(2.0));
                    }
                });
        });
    }
}

impl Screen for VolumeScreen {
    fn open(ctx: &mut Ctx<'_>) -> Self {
        Self::new(ctx.store)
    }

    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut Ctx<'_>) -> Vec<ShellCommand> {
        self.show(ui, ctx.store);
        Vec::new()
    }
}
