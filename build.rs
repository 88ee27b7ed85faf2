//! Two things the binary carries from its build:
//! - the commit it is built from, for `vitals --version` (`unknown` outside a git checkout,
//!   `-dirty` after uncommitted changes);
//! - in a release build of the server by `scripts/run` (or `cargo leptos build --release
//!   --precompress`), the site built just before it (the WASM, its JS, the CSS, ECharts, the
//!   icon, with their gzip and brotli copies), so `vitals` serves the dashboard from any
//!   directory. Other builds embed nothing and serve the site from disk.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    record_commit();
    embed_site();
}

fn record_commit() {
    // A watched path that does not exist counts as changed on every build: name only those there.
    for watched in [
        ".git/HEAD",
        ".git/refs/heads",
        ".git/packed-refs",
        ".git/index",
    ]
    .into_iter()
    .filter(|path| Path::new(path).exists())
    {
        println!("cargo:rerun-if-changed={watched}");
    }
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|changes| !changes.is_empty());
            if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            }
        }
        None => "unknown".to_owned(),
    };
    println!("cargo:rustc-env=VITALS_COMMIT={commit}");
}

/// Writes `$OUT_DIR/site.rs`: the `SITE` table of embedded files (empty unless embedding).
fn embed_site() {
    println!("cargo:rerun-if-env-changed=LEPTOS_SITE_ROOT");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    let server = std::env::var_os("CARGO_FEATURE_SSR").is_some();
    // Both builders name the site while they build the server. scripts/site.mjs, and cargo-leptos
    // with --precompress, finish the site first and leave a .gz beside the WASM; cargo-leptos
    // without it builds both at once and the site may be half written: only a finished site is
    // embedded.
    println!("cargo:rerun-if-env-changed=LEPTOS_OUTPUT_NAME");
    let name = std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_default();
    let root = std::env::var("LEPTOS_SITE_ROOT")
        .ok()
        .filter(|_| release && server)
        .map(PathBuf::from)
        .filter(|root| root.join(format!("pkg/{name}.wasm.gz")).is_file());
    let mut table = String::from("pub static SITE: &[SiteFile] = &[\n");
    if let Some(root) = root {
        println!("cargo:rerun-if-changed={}", root.display());
        let mut files = Vec::new();
        walk(&root, &mut files);
        files.sort();
        for file in files.iter().filter(|f| !is_variant(f)) {
            println!("cargo:rerun-if-changed={}", file.display());
            let rel = file.strip_prefix(&root).expect("walked under the root");
            let url = format!("/{}", rel.to_string_lossy().replace('\\', "/"));
            let bytes = std::fs::read(file).expect("a file of the site");
            let variant = |ext: &str| {
                let path = PathBuf::from(format!("{}.{ext}", file.display()));
                match path.is_file() {
                    true => format!("Some(include_bytes!({:?}))", path.canonicalize().unwrap()),
                    false => "None".to_owned(),
                }
            };
            let _ = writeln!(
                table,
                "    SiteFile {{ path: {url:?}, raw: include_bytes!({:?}), gzip: {}, brotli: {}, etag: \"\\\"{:016x}\\\"\" }},",
                file.canonicalize().unwrap(),
                variant("gz"),
                variant("br"),
                fnv1a(&bytes),
            );
        }
    }
    table.push_str("];\n");
    std::fs::write(out.join("site.rs"), table).expect("OUT_DIR is writable");
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else {
            files.push(path);
        }
    }
}

/// A precompressed copy, embedded beside the file it copies.
fn is_variant(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("gz" | "br"))
}

/// A 64-bit FNV-1a hash of the file: its ETag, which changes with every build that changes it.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}
