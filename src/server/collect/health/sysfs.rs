//! Where the health readers find sysfs: `/sys`, or a fixture tree a test points them at.

use std::path::{Path, PathBuf};

/// The root the hwmon, EDAC and AER readers read under (`/sys` unless `--sysfs-root` says).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysfsRoot(pub PathBuf);

impl Default for SysfsRoot {
    fn default() -> Self {
        SysfsRoot(PathBuf::from("/sys"))
    }
}

impl SysfsRoot {
    /// A path under the root (`class/hwmon` → `/sys/class/hwmon`).
    pub fn join(&self, relative: &str) -> PathBuf {
        self.0.join(relative)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
impl SysfsRoot {
    /// A fixture tree of `tests/fixtures/sysfs` (`desktop`, `server`).
    pub fn fixture(name: &str) -> SysfsRoot {
        SysfsRoot(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/sysfs")
                .join(name),
        )
    }
}
