//! Helpers shared by the integration test crates.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod pg;

use tem::render::layout::Layout;

use serde_json::Value;

/// A plain raster of a QR symbol: `scale` pixels per module, 4-module quiet zone.
pub fn render_qr(qr: &qrcode::QrCode, scale: u32) -> image::GrayImage {
    let width = qr.width() as u32;
    let colors = qr.to_colors();
    let side = (width + 8) * scale;
    image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / scale) as i64 - 4, (y / scale) as i64 - 4);
        let dark = mx >= 0
            && my >= 0
            && (mx as u32) < width
            && (my as u32) < width
            && colors[(my as u32 * width + mx as u32) as usize] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    })
}

/// A temporary folder with a database and key directory, and the real `tem` binary.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tem"));
        c.current_dir(self.dir.path())
            .env("TEM_DB", self.path("tem.db"))
            .env("TEM_KEYS", self.path("keys"))
            // The field kit's pinned key set: this test's own, never the
            // machine's ~/.config/tem.
            .env("TEM_TRUST_STORE", self.path("trusted-keys.json"))
            .env_remove("TEM_BASE_URL")
            .env_remove("TEM_ADMIN_TOKEN")
            .env_remove("RUST_LOG");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tem {args:?} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects exit status `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(code),
            "tem {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }

    pub fn batches(&self) -> Vec<Value> {
        serde_json::from_str::<Value>(&self.ok(&["batch", "list", "--json"]))
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    pub fn stamp_count(&self, batch: u64) -> u64 {
        let b: Value =
            serde_json::from_str(&self.ok(&["batch", "show", &batch.to_string(), "--json"]))
                .unwrap();
        b["stamps"]["total"].as_u64().unwrap()
    }
}

/// A TCP port that is free now, for a `tem serve` to listen on.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (30 s at most) until something listens on `port`.
pub fn wait_listening(port: u16) {
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "tem serve did not listen on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Starts `tem serve` from `cmd` (its environment already set) on a free
/// port and waits until it listens; returns the process and its base URL.
pub fn serve(mut cmd: Command) -> (std::process::Child, String) {
    let port = free_port();
    let child = cmd
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(port);
    (child, format!("http://127.0.0.1:{port}"))
}

pub fn tool(name: &str) {
    assert!(
        Command::new(name).arg("-v").output().is_ok(),
        "{name} is missing: run the tests through scripts/test, which installs poppler-utils and zbar-tools"
    );
}

/// Rasterises every page of a PDF at `dpi`; returns the page images in order.
pub fn rasterise(pdf: &Path, dpi: u32) -> Vec<image::GrayImage> {
    tool("pdftoppm");
    let dir = pdf.parent().unwrap().join(format!("pages-{dpi}"));
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("pdftoppm")
        .args(["-r", &dpi.to_string(), "-gray", "-png"])
        .arg(pdf)
        .arg(dir.join("p"))
        .status()
        .unwrap();
    assert!(status.success());
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    pages
        .iter()
        .map(|p| image::open(p).unwrap().to_luma8())
        .collect()
}

pub fn px(mm: f64, dpi: u32) -> u32 {
    (mm * f64::from(dpi) / 25.4).round() as u32
}

/// Cuts label `slot` out of a page raster.
pub fn label_crop(
    page: &image::GrayImage,
    layout: &Layout,
    slot: u32,
    dpi: u32,
) -> image::GrayImage {
    let (x, y) = layout.label_origin(slot);
    image::imageops::crop_imm(
        page,
        px(x, dpi),
        px(y, dpi),
        px(layout.label_width, dpi),
        px(layout.label_height, dpi),
    )
    .to_image()
}

/// Rasterises an SVG at `dpi` with librsvg (grey, on white).
pub fn rasterise_svg(svg: &Path, dpi: u32) -> image::GrayImage {
    tool("rsvg-convert");
    let png = svg.with_extension(format!("{dpi}.png"));
    let status = Command::new("rsvg-convert")
        .args([
            "-d",
            &dpi.to_string(),
            "-p",
            &dpi.to_string(),
            "-b",
            "white",
            "-o",
        ])
        .arg(&png)
        .arg(svg)
        .status()
        .unwrap();
    assert!(status.success());
    image::open(&png).unwrap().to_luma8()
}

/// Decodes each image with zxing-cpp's `ZXingReader` (Debian
/// zxing-cpp-tools), a decoder independent of zbar; one result per image
/// (empty when none).
pub fn zxing_each(images: &[image::GrayImage], dir: &Path) -> Vec<String> {
    assert!(
        Command::new("ZXingReader").output().is_ok(),
        "ZXingReader is missing: run the tests through scripts/test, which installs zxing-cpp-tools"
    );
    let crops = dir.join("zxing");
    std::fs::create_dir_all(&crops).unwrap();
    let paths: Vec<PathBuf> = images
        .iter()
        .enumerate()
        .map(|(i, im)| {
            let path = crops.join(format!("{i:05}.png"));
            im.save(&path).unwrap();
            path
        })
        .collect();
    let out = Command::new("ZXingReader")
        .args(["-1", "-format", "QRCode"])
        .args(&paths)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    // One line per file: `path QRCode "text"`, or `path None`.
    paths
        .iter()
        .map(|p| {
            let prefix = format!("{} QRCode \"", p.display());
            text.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .map(|t| t.trim_end_matches('"').to_string())
                .unwrap_or_default()
        })
        .collect()
}

/// Decodes each image with zbarimg; one result per image (empty when none).
pub fn zbar_each(images: &[image::GrayImage], dir: &Path) -> Vec<String> {
    tool("zbarimg");
    let crops = dir.join("crops");
    std::fs::create_dir_all(&crops).unwrap();
    images
        .iter()
        .enumerate()
        .map(|(i, im)| {
            let path = crops.join(format!("{i:05}.png"));
            im.save(&path).unwrap();
            let out = Command::new("zbarimg")
                .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
                .arg(&path)
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        })
        .collect()
}
