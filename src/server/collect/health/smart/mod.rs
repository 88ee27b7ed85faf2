//! Each disk's SMART, through smartmontools: `smartctl --scan-open --json` lists the disks, and
//! `smartctl --json=c -a -n standby` reads each (a sleeping disk is left asleep) on a thread of
//! its own every ten minutes ([`Smart`]). Where a privileged helper (Vitals' root timer unit)
//! leaves smartctl's JSON in a runtime folder, one `<device>.json` per disk, those files are read
//! instead, so that Vitals needs no root for SMART. A disk without SMART (a virtual disk), one
//! asleep or one that could not be opened has no verdict and a note saying why.

mod parse;
mod reader;

pub use parse::{ASLEEP, NO_SMART, ParseError, ScannedDevice, report, scan};
pub use reader::{
    DEFAULT_INTERVAL, DEFAULT_OUTPUT_CAP, DEFAULT_TIMEOUT, NOT_FOUND, Smart, SmartOptions,
    find_smartctl, read_all, read_device,
};
