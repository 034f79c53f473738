//! Back-entry speed: a code master's search runs on every keystroke of a code field, so it must
//! answer well within one frame (16.7 ms) on a master the size of the real ones (the receipt
//! computer's drug master holds about 20,000 items); reading a charge slip's tick boxes happens
//! once per page opened. Also the save of one keyed charge slip (one transaction with its lines).
//!
//! Run with `cargo bench --bench entry`; figures go in README.
#![allow(clippy::unwrap_used)] // a benchmark stops at the first failure

use std::time::{Duration, Instant};

use kamikarte::domain::MasterItem;
use kamikarte::entry::masters::MasterIndex;
use kamikarte::entry::omr::read_ticks;
use kamikarte::form;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn master(n: usize) -> Vec<MasterItem> {
    const NAMES: [(&str, &str); 8] = [
        ("アセトアミノフェン錠", "アセトアミノフェンジョウ"),
        ("セファゾリンナトリウム注", "セファゾリンナトリウムチュウ"),
        ("生理食塩液", "セイリショクエンエキ"),
        ("ロキソプロフェン錠", "ロキソプロフェンジョウ"),
        ("ブドウ糖注射液", "ブドウトウチュウシャエキ"),
        ("ヘパリンナトリウム注", "ヘパリンナトリウムチュウ"),
        ("アムロジピン錠", "アムロジピンジョウ"),
        ("インスリン注", "インスリンチュウ"),
    ];
    (0..n)
        .map(|i| {
            let (name, kana) = NAMES[i % NAMES.len()];
            MasterItem {
                code: format!("{}{:06}", ["D", "G", "J", "K"][i % 4], 620_000 + i),
                name: format!("{name}{}mg", (i % 97) * 5 + 5),
                kana: Some(kana.to_string()),
                unit: Some("錠".into()),
                points: Some((i % 500) as f64),
                uses: ((i * 7919) % 5000) as u64,
                details: Default::default(),
            }
        })
        .collect()
}

fn main() {
    let items = master(20_000);
    let t = Instant::now();
    let index = MasterIndex::new(items);
    println!("master of 20000 items: index built in {:.1} ms", ms(t.elapsed()));
    // What a clerk's keystrokes make of the query, one key at a time.
    for (what, typed) in
        [("a code", "D620123"), ("a kana reading", "アセトア"), ("hiragana", "へぱりん"), ("a name", "生理")]
    {
        let mut worst = Duration::ZERO;
        let mut total = Duration::ZERO;
        let mut n = 0;
        for _ in 0..50 {
            let mut q = String::new();
            for c in typed.chars() {
                q.push(c);
                let t = Instant::now();
                let found = index.search(&q, 6);
                let e = t.elapsed();
                std::hint::black_box(found);
                worst = worst.max(e);
                total += e;
                n += 1;
            }
        }
        println!(
            "search by {what} ('{typed}', one key at a time): mean {:.3} ms, worst {:.3} ms per keystroke",
            ms(total) / n as f64,
            ms(worst)
        );
    }

    // A charge slip at 300 dpi: the printed tick boxes drawn where the form puts them, some
    // filled, the page shifted by 1.5 mm.
    let slip = form::built_in().into_iter().find(|f| f.id == "charge_slip").expect("shipped");
    let px = 300.0 / 25.4;
    let (w, h) = ((slip.width_mm * px) as u32, (slip.height_mm * px) as u32);
    let mut page = image::GrayImage::from_pixel(w, h, image::Luma([250]));
    for (i, b) in slip.fields.iter().flat_map(|f| f.tick_boxes()).enumerate() {
        let (x0, y0) = (((b.x_mm + 1.5) * px) as u32, ((b.y_mm + 1.5) * px) as u32);
        let side = (b.size_mm * px) as u32;
        for d in 0..side {
            for t in 0..3 {
                for (x, y) in
                    [(x0 + d, y0 + t), (x0 + d, y0 + side - t), (x0 + t, y0 + d), (x0 + side - t, y0 + d)]
                {
                    page.put_pixel(x.min(w - 1), y.min(h - 1), image::Luma([20]));
                }
            }
        }
        if i % 5 == 0 {
            for d in 8..side - 8 {
                for t in 0..6 {
                    page.put_pixel(x0 + d, y0 + d + t - 3, image::Luma([30]));
                    page.put_pixel(x0 + side - d, y0 + d + t - 3, image::Luma([30]));
                }
            }
        }
    }
    let mut runs = Vec::new();
    let mut ticked = 0;
    for _ in 0..20 {
        let t = Instant::now();
        let reading = read_ticks(&page, &slip).expect("the synthetic slip registers");
        runs.push(t.elapsed());
        ticked = reading.ticks.iter().filter(|t| t.ticked).count();
    }
    runs.sort();
    println!(
        "tick boxes of a 300-dpi charge slip ({w}×{h} px, 24 boxes, {ticked} ticked): median {:.1} ms, worst {:.1} ms",
        ms(runs[runs.len() / 2]),
        ms(runs[runs.len() - 1])
    );
}
