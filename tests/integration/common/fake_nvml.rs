//! The fake NVML library (tests/fake_nvml), built once per test run, and turns at scripting it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// The environment variable the fake reads its script's path from.
pub const SCRIPT_VAR: &str = "FAKE_NVML_SCRIPT";

/// `libfake_nvml.so`, built on first use (a few seconds) into `target/fake-nvml`.
pub fn library() -> &'static Path {
    static LIBRARY: OnceLock<PathBuf> = OnceLock::new();
    LIBRARY.get_or_init(build)
}

fn build() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target/fake-nvml");
    let output = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(root.join("tests/fake_nvml/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("cargo can be run to build the fake NVML");
    assert!(
        output.status.success(),
        "building the fake NVML failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target.join("release/libfake_nvml.so")
}

/// Calls one of the fake's own test functions (`extern "C" fn() -> i64`), in the copy of the
/// library NVML loads too: a second dlopen of the same file shares its state.
pub fn call(library: &Path, function: &std::ffi::CStr) -> i64 {
    let path = std::ffi::CString::new(library.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: the fake exports these functions with this signature; the handle is closed after
    // the call.
    unsafe {
        let handle = libc::dlopen(path.as_ptr(), libc::RTLD_NOW);
        assert!(!handle.is_null(), "the fake NVML loads");
        let symbol = libc::dlsym(handle, function.as_ptr());
        assert!(!symbol.is_null(), "the fake exports {function:?}");
        let function: extern "C" fn() -> i64 = std::mem::transmute(symbol);
        let answer = function();
        libc::dlclose(handle);
        answer
    }
}

/// One test's exclusive turn with the fake. The script path is process-wide (an environment
/// variable), so tests in one binary take turns; the script can be rewritten between ticks.
pub struct FakeNvml {
    script: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

impl FakeNvml {
    /// Waits for the turn, then points the fake at a fresh script holding `script`.
    pub fn start(script: &str) -> Self {
        static TURN: Mutex<()> = Mutex::new(());
        // A test that failed during its turn changes nothing the next one relies on.
        let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        call(library(), c"fakeNvmlReset");
        let path =
            std::env::temp_dir().join(format!("vitals-fake-nvml-{}.script", std::process::id()));
        // SAFETY: only this helper writes the environment, and only during a turn, when no other
        // thread of this binary is calling into the fake.
        unsafe { std::env::set_var(SCRIPT_VAR, &path) };
        let fake = FakeNvml {
            script: path,
            _turn: turn,
        };
        fake.write(script);
        fake
    }

    pub fn library(&self) -> &'static Path {
        library()
    }

    /// Replaces the script; the fake reads it again on its next call.
    pub fn write(&self, script: &str) {
        std::fs::write(&self.script, script).expect("the fake NVML script can be written");
    }
}

impl Drop for FakeNvml {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.script);
    }
}
