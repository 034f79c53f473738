//! A scanned page to read from while typing: zoom (buttons, Ctrl+wheel), pan (drag or scroll)
//! and rotate by quarter turns (a page fed sideways).

use egui::{Key, KeyboardShortcut, Modifiers};

use super::labels::{PAGE_FIT_BUTTON, PAGE_ROTATE_BUTTON, PAGE_ZOOM_IN_BUTTON, PAGE_ZOOM_OUT_BUTTON};

/// Tall enough to read handwriting at twice the fit size, small enough to upload at once.
const PREVIEW_HEIGHT: u32 = 2200;
const ZOOM_IN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Plus);
const ZOOM_IN_EQUALS: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Equals);
const ZOOM_OUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Minus);
const ROTATE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::R);

pub struct PageView {
    /// The page, upright, scaled for the screen.
    image: image::GrayImage,
    texture: Option<egui::TextureHandle>,
    /// 1.0 fits the page to the panel's width.
    zoom: f32,
    quarter_turns: u8,
    id: i64,
}

impl PageView {
    pub fn new(id: i64, full: &image::GrayImage) -> Self {
        Self { image: fit_height(full, PREVIEW_HEIGHT), texture: None, zoom: 1.0, quarter_turns: 0, id }
    }

    fn texture(&mut self, ctx: &egui::Context) -> egui::TextureHandle {
        if let Some(t) = &self.texture {
            return t.clone();
        }
        let turned = match self.quarter_turns % 4 {
            1 => image::imageops::rotate90(&self.image),
            2 => image::imageops::rotate180(&self.image),
            3 => image::imageops::rotate270(&self.image),
            _ => self.image.clone(),
        };
        // Graphics drivers cap a texture's side (often at 2048): stay inside it.
        let max = ctx.input(|i| i.max_texture_side).max(256) as u32;
        let (w, h) = turned.dimensions();
        let turned = if w > max || h > max {
            let scale = max as f32 / w.max(h) as f32;
            let (nw, nh) = (((w as f32 * scale) as u32).max(1), ((h as f32 * scale) as u32).max(1));
            image::imageops::resize(&turned, nw, nh, image::imageops::FilterType::Triangle)
        } else {
            turned
        };
        let (w, h) = turned.dimensions();
        let color = egui::ColorImage::from_gray([w as usize, h as usize], turned.as_raw());
        let t = ctx.load_texture(
            format!("entry-page-{}-{}", self.id, self.quarter_turns),
            color,
            Default::default(),
        );
        self.texture = Some(t.clone());
        t
    }

    fn rotate(&mut self) {
        self.quarter_turns = (self.quarter_turns + 1) % 4;
        self.texture = None;
    }

    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let (zoom_in, zoom_out, rotate) = ui.input_mut(|i| {
            (
                i.consume_shortcut(&ZOOM_IN) || i.consume_shortcut(&ZOOM_IN_EQUALS),
                i.consume_shortcut(&ZOOM_OUT),
                i.consume_shortcut(&ROTATE),
            )
        });
        ui.horizontal(|ui| {
            if ui.button(PAGE_ZOOM_OUT_BUTTON).clicked() || zoom_out {
                self.zoom = (self.zoom / 1.25).max(0.25);
            }
            ui.label(format!("{:.0}%", self.zoom * 100.0));
            if ui.button(PAGE_ZOOM_IN_BUTTON).clicked() || zoom_in {
                self.zoom = (self.zoom * 1.25).min(6.0);
            }
            if ui.button(PAGE_FIT_BUTTON).clicked() {
                self.zoom = 1.0;
            }
            if ui.button(PAGE_ROTATE_BUTTON).clicked() || rotate {
                self.rotate();
            }
        });
        let texture = self.texture(ui.ctx());
        let area = egui::ScrollArea::both().id_salt(("entry_page", self.id)).show(ui, |ui| {
            let width = ui.available_width().max(100.0);
            let size = texture.size_vec2();
            ui.add(egui::Image::new(&texture).fit_to_exact_size(size * (width / size.x) * self.zoom))
        });
        if area.inner.hovered() {
            let wheel_zoom = ui.input(|i| i.zoom_delta());
            if wheel_zoom != 1.0 {
                self.zoom = (self.zoom * wheel_zoom).clamp(0.25, 6.0);
            }
        }
    }
}

/// A scanned page no taller than `max_height`, for the screen (a 300-dpi page is 3508 pixels).
pub(super) fn fit_height(full: &image::GrayImage, max_height: u32) -> image::GrayImage {
    let (w, h) = full.dimensions();
    if h <= max_height {
        return full.clone();
    }
    let width = (w as u64 * max_height as u64 / h as u64).max(1) as u32;
    image::imageops::resize(full, width, max_height, image::imageops::FilterType::Triangle)
}
