//! A fake NVML (`libfake_nvml.so`) that plays back a script, so the GPU collector can be tested without a GPU.
//!
//! The script is a text file whose path is in `FAKE_NVML_SCRIPT`. It is read again on every call, so a
//! test can change the machine between ticks. Unset or unreadable means a working driver with no GPUs.
//!
//! One directive per line; `#` starts a comment; values with spaces are double-quoted:
//!
//! ```text
//! init no_permission   # nvmlInit_v2 fails with this error (no `init` line: it succeeds)
//! driver 550.54.15     # nvmlSystemGetDriverVersion
//! cuda 12040           # nvmlSystemGetCudaDriverVersion_v2
//! gpu name="Fake H100 80GB" uuid=GPU-0 util=37 memutil=12 mem_used=1000 mem_total=8000 temp=55
//! gpu lost=1           # every call on this GPU, its handle lookup included, fails with GPU_IS_LOST
//! ```
//!
//! Each `gpu` line is the next device (0, 1, …). Its keys: `name`, `uuid`, `util`, `memutil`,
//! `mem_used`, `mem_total` (bytes), `temp`, `power_mw`, `limit_mw`, `fan`, `sm_clock`, `mem_clock`,
//! `throttle` (NVML's clock throttle reasons as a number: 4 is the software power cap), `procs`
//! `putil` and `lost`. `procs` is a comma list of `pid:used_bytes:compute|graphics`, where
//! `used_bytes` may be `na` (NVML_VALUE_NOT_AVAILABLE). `putil` is a comma list of
//! `pid:sm:mem:enc:dec` percentages, each process's utilization sample (stamped now).
//!
//! GPU depth: `pstate`; `viol_power_ns`, `viol_thermal_ns`; `ecc` (1 on, 0 off, or `current:pending`),
//! `ecc_cv`, `ecc_uv`, `ecc_ca`, `ecc_ua` (corrected/uncorrected, volatile/aggregate counts);
//! `retired_sbe`, `retired_dbe` (page counts), `retired_pending`; `remap=correctable:uncorrectable:
//! pending:failed`; `pcie_gen`, `pcie_max_gen`, `pcie_width`, `pcie_max_width`, `pcie_replays`,
//! `pcie_tx_bytes`, `pcie_rx_bytes` (counters, field values 197/198), `pcie_tx_kbs`, `pcie_rx_kbs`
//! (nvmlDeviceGetPcieThroughput); `nvlinks`, `nvlink_tx_kib`, `nvlink_rx_kib` (field values 91,
//! 138, 139); `enc`, `dec`; `energy_mj`; `mig` (1 on) with `migs=name:mem_used:mem_total,…`;
//! `events=ns` refuses event registration. `pci_bus_id`, and GPM's keys (`gpm=1`, `gpm_tensor`, …),
//! are described beside their functions. A counter may be written `+rate`: it then grows by
//! `rate` a second (its value is `rate` × seconds since 1970). A line `xid <gpu index> <code>`
//! is an XID error, delivered once to each event set through nvmlEventSetWait_v2; append lines to
//! inject more.
//!
//! A measurement that is absent, or set to `ns`, returns NVML_ERROR_NOT_SUPPORTED. A value may instead
//! name any error below to make that call fail with it (`temp=unknown`). Calls that return several
//! keys fail if either does: `util`+`memutil`, `mem_used`+`mem_total`. `procs=ns` fails both process
//! lists; no `procs` means no processes. A missing `name`/`uuid` gets `Fake GPU {i}`/`GPU-fake-{i}`,
//! and a missing `driver`/`cuda` returns NOT_SUPPORTED. A value that is neither a number nor an error
//! name returns NVML_ERROR_UNKNOWN, so a typo in a test shows up as a failure.
//!
//! Error names (for `init` and values): `uninitialized` (1), `invalid_argument` (2), `ns` or
//! `not_supported` (3), `no_permission` (4), `not_found` (6), `driver_not_loaded` (9),
//! `library_not_found` (12), `lost` or `gpu_is_lost` (15), `unknown` (999); `init` also takes a number.

// The exported names and signatures are NVML's, and so is each function's safety contract: every
// pointer argument is either null (answered with INVALID_ARGUMENT) or valid for the write.
#![allow(non_snake_case, clippy::missing_safety_doc)]

use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_uint, c_ulonglong, c_void};

type Return = c_uint;
type Device = *mut c_void;
type Gpu = HashMap<String, String>;

const SUCCESS: Return = 0;
const ERROR_INVALID_ARGUMENT: Return = 2;
const ERROR_NOT_SUPPORTED: Return = 3;
const ERROR_NOT_FOUND: Return = 6;
const ERROR_INSUFFICIENT_SIZE: Return = 7;
const ERROR_TIMEOUT: Return = 10;
const ERROR_GPU_IS_LOST: Return = 15;
const ERROR_ARGUMENT_VERSION_MISMATCH: Return = 25;
const ERROR_UNKNOWN: Return = 999;

/// NVML's "this value is not available" marker for process memory.
const VALUE_NOT_AVAILABLE: c_ulonglong = c_ulonglong::MAX;

/// Script names, code and `nvmlErrorString` text of the errors the script can ask for.
const ERRORS: &[(&[&str], Return, &CStr)] = &[
    (&["success"], SUCCESS, c"Success"),
    (&["uninitialized"], 1, c"Uninitialized"),
    (
        &["invalid_argument"],
        ERROR_INVALID_ARGUMENT,
        c"Invalid Argument",
    ),
    (
        &["ns", "not_supported"],
        ERROR_NOT_SUPPORTED,
        c"Not Supported",
    ),
    (&["no_permission"], 4, c"Insufficient Permissions"),
    (&["not_found"], ERROR_NOT_FOUND, c"Not Found"),
    (
        &["insufficient_size"],
        ERROR_INSUFFICIENT_SIZE,
        c"Insufficient Size",
    ),
    (&["driver_not_loaded"], 9, c"Driver Not Loaded"),
    (&["timeout"], ERROR_TIMEOUT, c"Timeout"),
    (&["library_not_found"], 12, c"NVML Shared Library Not Found"),
    (&["lost", "gpu_is_lost"], ERROR_GPU_IS_LOST, c"GPU is lost"),
    (&["unknown"], ERROR_UNKNOWN, c"Unknown Error"),
];

fn error_named(name: &str) -> Option<Return> {
    ERRORS
        .iter()
        .find(|(names, _, _)| names.contains(&name))
        .map(|(_, code, _)| *code)
}

#[derive(Default)]
struct Script {
    init: Option<Return>,
    driver: Option<String>,
    cuda: Option<String>,
    gpus: Vec<Gpu>,
    /// `xid` lines: (GPU index, code), delivered once each, in order.
    xids: Vec<(usize, u64)>,
}

fn load() -> Script {
    let Some(path) = std::env::var_os("FAKE_NVML_SCRIPT") else {
        return Script::default();
    };
    std::fs::read_to_string(path)
        .map(|text| parse(&text))
        .unwrap_or_default()
}

fn parse(text: &str) -> Script {
    let mut script = Script::default();
    for line in text.lines() {
        let mut words = split_words(line).into_iter();
        match words.next().as_deref() {
            Some("init") => {
                let name = words.next().unwrap_or_default();
                script.init = Some(
                    error_named(&name)
                        .or(name.parse().ok())
                        .unwrap_or(ERROR_UNKNOWN),
                );
            }
            Some("driver") => script.driver = words.next(),
            Some("cuda") => script.cuda = words.next(),
            Some("xid") => {
                let mut numbers = words.filter_map(|w| w.parse::<u64>().ok());
                if let (Some(gpu), Some(code)) = (numbers.next(), numbers.next()) {
                    script.xids.push((gpu as usize, code));
                }
            }
            Some("gpu") => script.gpus.push(
                words
                    .filter_map(|w| w.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                    .collect(),
            ),
            _ => {}
        }
    }
    script
}

/// Splits on whitespace outside double quotes, dropping the quotes and anything after a bare `#`.
fn split_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut in_word) = (Vec::new(), String::new(), false, false);
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '#' if !quoted => break,
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// A scripted value: its number, or the error the script asks the call to fail with.
/// `+rate` is a counter that grows by `rate` a second: its value is `rate` × seconds since 1970.
fn number<T: std::str::FromStr>(value: Option<&String>) -> Result<T, Return> {
    let value = value.ok_or(ERROR_NOT_SUPPORTED)?;
    if let Some(rate) = value.strip_prefix('+') {
        let rate: f64 = rate.parse().map_err(|_| ERROR_UNKNOWN)?;
        let count = (rate * now_micros() as f64 / 1e6) as u64;
        return count.to_string().parse().map_err(|_| ERROR_UNKNOWN);
    }
    value
        .parse()
        .map_err(|_| error_named(value).unwrap_or(ERROR_UNKNOWN))
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn field<T: std::str::FromStr>(gpu: &Gpu, key: &str) -> Result<T, Return> {
    number(gpu.get(key))
}

fn processes(gpu: &Gpu, wanted: &str) -> Result<Vec<ProcessInfo>, Return> {
    let Some(list) = gpu.get("procs") else {
        return Ok(Vec::new());
    };
    if let Some(code) = error_named(list) {
        return Err(code);
    }
    let mut found = Vec::new();
    for entry in list.split(',').filter(|e| !e.is_empty()) {
        let parts: Vec<&str> = entry.split(':').collect();
        let [pid, used, kind] = parts[..] else {
            return Err(ERROR_UNKNOWN);
        };
        if kind != wanted {
            continue;
        }
        found.push(ProcessInfo {
            pid: pid.parse().map_err(|_| ERROR_UNKNOWN)?,
            used_gpu_memory: match used {
                "na" => VALUE_NOT_AVAILABLE,
                bytes => bytes.parse().map_err(|_| ERROR_UNKNOWN)?,
            },
            gpu_instance_id: c_uint::MAX,
            compute_instance_id: c_uint::MAX,
        });
    }
    Ok(found)
}

fn code(result: Result<(), Return>) -> Return {
    result.err().unwrap_or(SUCCESS)
}

/// A GPU's handle is its index + 1; a MIG instance's adds (its index + 1) << 16.
const MIG_SHIFT: usize = 16;

/// Runs `read` on the scripted GPU (or MIG instance) behind a handle, failing every call on a
/// lost GPU.
fn on_gpu(device: Device, read: impl FnOnce(&Gpu) -> Result<(), Return>) -> Return {
    let script = load();
    let handle = device as usize;
    let Some(gpu) = (handle & ((1 << MIG_SHIFT) - 1))
        .checked_sub(1)
        .and_then(|i| script.gpus.get(i))
    else {
        return ERROR_INVALID_ARGUMENT;
    };
    if is_lost(gpu) {
        return ERROR_GPU_IS_LOST;
    }
    match (handle >> MIG_SHIFT).checked_sub(1) {
        None => code(read(gpu)),
        Some(mig) => match mig_instance(gpu, handle & 0xffff, mig) {
            Some(instance) => code(read(&instance)),
            None => ERROR_INVALID_ARGUMENT,
        },
    }
}

/// MIG instance `mig` of GPU `gpu` from `migs=name:mem_used:mem_total,…`, as a GPU of its own.
fn mig_instance(parent: &Gpu, gpu: usize, mig: usize) -> Option<Gpu> {
    let entry = parent.get("migs")?.split(',').nth(mig)?;
    let mut parts = entry.split(':');
    let mut instance = Gpu::new();
    for key in ["name", "mem_used", "mem_total"] {
        instance.insert(key.into(), parts.next()?.into());
    }
    instance.insert("uuid".into(), format!("MIG-fake-{}-{mig}", gpu - 1));
    Some(instance)
}

fn is_lost(gpu: &Gpu) -> bool {
    gpu.get("lost").is_some_and(|v| v == "1")
}

unsafe fn put<T>(out: *mut T, value: T) -> Result<(), Return> {
    if out.is_null() {
        return Err(ERROR_INVALID_ARGUMENT);
    }
    unsafe { out.write(value) };
    Ok(())
}

unsafe fn put_str(out: *mut c_char, length: c_uint, text: &str) -> Result<(), Return> {
    if out.is_null() {
        return Err(ERROR_INVALID_ARGUMENT);
    }
    if text.len() >= length as usize {
        return Err(ERROR_INSUFFICIENT_SIZE);
    }
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr().cast(), out, text.len());
        out.add(text.len()).write(0);
    }
    Ok(())
}

#[repr(C)]
pub struct Utilization {
    gpu: c_uint,
    memory: c_uint,
}

/// `nvmlMemory_v2_t`.
#[repr(C)]
pub struct MemoryV2 {
    version: c_uint,
    total: c_ulonglong,
    reserved: c_ulonglong,
    free: c_ulonglong,
    used: c_ulonglong,
}

/// `nvmlProcessInfo_t` (= `nvmlProcessInfo_v2_t`), what the `_v3` process calls fill.
#[repr(C)]
pub struct ProcessInfo {
    pid: c_uint,
    used_gpu_memory: c_ulonglong,
    gpu_instance_id: c_uint,
    compute_instance_id: c_uint,
}

#[unsafe(no_mangle)]
pub extern "C" fn nvmlInit_v2() -> Return {
    load().init.unwrap_or(SUCCESS)
}

#[unsafe(no_mangle)]
pub extern "C" fn nvmlShutdown() -> Return {
    SUCCESS
}

#[unsafe(no_mangle)]
pub extern "C" fn nvmlErrorString(result: Return) -> *const c_char {
    ERRORS
        .iter()
        .find(|(_, code, _)| *code == result)
        .map_or(c"Unknown Error", |(_, _, text)| *text)
        .as_ptr()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlSystemGetDriverVersion(
    version: *mut c_char,
    length: c_uint,
) -> Return {
    let driver = load().driver.ok_or(ERROR_NOT_SUPPORTED);
    code(driver.and_then(|d| unsafe { put_str(version, length, &d) }))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlSystemGetCudaDriverVersion_v2(version: *mut c_int) -> Return {
    code(number(load().cuda.as_ref()).and_then(|v| unsafe { put(version, v) }))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetCount_v2(count: *mut c_uint) -> Return {
    code(unsafe { put(count, load().gpus.len() as c_uint) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetHandleByIndex_v2(
    index: c_uint,
    device: *mut Device,
) -> Return {
    match load().gpus.get(index as usize) {
        None => ERROR_INVALID_ARGUMENT,
        Some(gpu) if is_lost(gpu) => ERROR_GPU_IS_LOST,
        Some(_) => code(unsafe { put(device, (index as usize + 1) as Device) }),
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetIndex(device: Device, index: *mut c_uint) -> Return {
    let gpu = (device as usize & ((1 << MIG_SHIFT) - 1)).saturating_sub(1);
    on_gpu(device, |_| unsafe { put(index, gpu as c_uint) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetName(
    device: Device,
    name: *mut c_char,
    length: c_uint,
) -> Return {
    on_gpu(device, |gpu| {
        let fallback = format!("Fake GPU {}", device as usize - 1);
        unsafe { put_str(name, length, gpu.get("name").unwrap_or(&fallback)) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetUUID(
    device: Device,
    uuid: *mut c_char,
    length: c_uint,
) -> Return {
    on_gpu(device, |gpu| {
        let fallback = format!("GPU-fake-{}", device as usize - 1);
        unsafe { put_str(uuid, length, gpu.get("uuid").unwrap_or(&fallback)) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetUtilizationRates(
    device: Device,
    out: *mut Utilization,
) -> Return {
    on_gpu(device, |gpu| {
        let rates = Utilization {
            gpu: field(gpu, "util")?,
            memory: field(gpu, "memutil")?,
        };
        unsafe { put(out, rates) }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetMemoryInfo_v2(device: Device, out: *mut MemoryV2) -> Return {
    const VERSION_2: c_uint = size_of::<MemoryV2>() as c_uint | 2 << 24;
    on_gpu(device, |gpu| {
        if out.is_null() || unsafe { (*out).version } != VERSION_2 {
            return Err(ERROR_ARGUMENT_VERSION_MISMATCH);
        }
        let (used, total): (c_ulonglong, c_ulonglong) =
            (field(gpu, "mem_used")?, field(gpu, "mem_total")?);
        let free = total.saturating_sub(used);
        unsafe {
            put(
                out,
                MemoryV2 {
                    version: VERSION_2,
                    total,
                    reserved: 0,
                    free,
                    used,
                },
            )
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetTemperature(
    device: Device,
    sensor: c_uint,
    temp: *mut c_uint,
) -> Return {
    on_gpu(device, |gpu| match sensor {
        0 => unsafe { put(temp, field(gpu, "temp")?) },
        _ => Err(ERROR_INVALID_ARGUMENT),
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetPowerUsage(
    device: Device,
    milliwatts: *mut c_uint,
) -> Return {
    on_gpu(device, |gpu| unsafe {
        put(milliwatts, field(gpu, "power_mw")?)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetEnforcedPowerLimit(
    device: Device,
    milliwatts: *mut c_uint,
) -> Return {
    on_gpu(device, |gpu| unsafe {
        put(milliwatts, field(gpu, "limit_mw")?)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetNumFans(device: Device, count: *mut c_uint) -> Return {
    on_gpu(device, |gpu| unsafe {
        put(count, c_uint::from(field::<c_uint>(gpu, "fan").is_ok()))
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetFanSpeed_v2(
    device: Device,
    fan: c_uint,
    speed: *mut c_uint,
) -> Return {
    on_gpu(device, |gpu| match fan {
        0 => unsafe { put(speed, field(gpu, "fan")?) },
        _ => Err(ERROR_INVALID_ARGUMENT),
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetCurrentClocksThrottleReasons(
    device: Device,
    reasons: *mut c_ulonglong,
) -> Return {
    on_gpu(device, |gpu| unsafe {
        put(reasons, field(gpu, "throttle")?)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetClockInfo(
    device: Device,
    clock: c_uint,
    mhz: *mut c_uint,
) -> Return {
    on_gpu(device, |gpu| match clock {
        1 => unsafe { put(mhz, field(gpu, "sm_clock")?) },
        2 => unsafe { put(mhz, field(gpu, "mem_clock")?) },
        _ => Err(ERROR_NOT_SUPPORTED),
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetComputeRunningProcesses_v3(
    device: Device,
    count: *mut c_uint,
    infos: *mut ProcessInfo,
) -> Return {
    unsafe { running_processes(device, "compute", count, infos) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetGraphicsRunningProcesses_v3(
    device: Device,
    count: *mut c_uint,
    infos: *mut ProcessInfo,
) -> Return {
    unsafe { running_processes(device, "graphics", count, infos) }
}

/// NVML's two-call protocol: `*count` is the room in `infos` on the way in and the number of
/// processes on the way out; too little room answers INSUFFICIENT_SIZE with the count needed.
unsafe fn running_processes(
    device: Device,
    kind: &str,
    count: *mut c_uint,
    infos: *mut ProcessInfo,
) -> Return {
    on_gpu(device, |gpu| {
        let found = processes(gpu, kind)?;
        if count.is_null() {
            return Err(ERROR_INVALID_ARGUMENT);
        }
        let room = unsafe { count.read() } as usize;
        unsafe { count.write(found.len() as c_uint) };
        if found.is_empty() {
            return Ok(());
        }
        if room < found.len() || infos.is_null() {
            return Err(ERROR_INSUFFICIENT_SIZE);
        }
        for (i, info) in found.into_iter().enumerate() {
            unsafe { infos.add(i).write(info) };
        }
        Ok(())
    })
}

/// `nvmlProcessUtilizationSample_t`.
#[repr(C)]
#[derive(Debug, PartialEq)]
pub struct ProcessUtilizationSample {
    pid: c_uint,
    time_stamp: c_ulonglong,
    sm_util: c_uint,
    mem_util: c_uint,
    enc_util: c_uint,
    dec_util: c_uint,
}

fn utilization_samples(gpu: &Gpu) -> Result<Vec<ProcessUtilizationSample>, Return> {
    let list = gpu.get("putil").ok_or(ERROR_NOT_SUPPORTED)?;
    if let Some(code) = error_named(list) {
        return Err(code);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as c_ulonglong);
    let mut samples = Vec::new();
    for entry in list.split(',').filter(|e| !e.is_empty()) {
        let numbers: Vec<c_uint> = entry
            .split(':')
            .map(|n| n.parse().map_err(|_| ERROR_UNKNOWN))
            .collect::<Result<_, _>>()?;
        let [pid, sm_util, mem_util, enc_util, dec_util] = numbers[..] else {
            return Err(ERROR_UNKNOWN);
        };
        samples.push(ProcessUtilizationSample {
            pid,
            time_stamp: now,
            sm_util,
            mem_util,
            enc_util,
            dec_util,
        });
    }
    Ok(samples)
}

/// The same two-call protocol as the process lists; every sample is newer than any timestamp.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetProcessUtilization(
    device: Device,
    samples: *mut ProcessUtilizationSample,
    count: *mut c_uint,
    _last_seen_time_stamp: c_ulonglong,
) -> Return {
    on_gpu(device, |gpu| {
        let found = utilization_samples(gpu)?;
        if count.is_null() {
            return Err(ERROR_INVALID_ARGUMENT);
        }
        let room = unsafe { count.read() } as usize;
        unsafe { count.write(found.len() as c_uint) };
        if room < found.len() || samples.is_null() {
            return Err(ERROR_INSUFFICIENT_SIZE);
        }
        for (i, sample) in found.into_iter().enumerate() {
            unsafe { samples.add(i).write(sample) };
        }
        Ok(())
    })
}

/// Writes one scripted number through an out-pointer.
fn put_field<T: std::str::FromStr>(device: Device, key: &str, out: *mut T) -> Return {
    on_gpu(device, |gpu| unsafe { put(out, field(gpu, key)?) })
}

/// A scripted `a:b:…` list of numbers with exactly `N` entries.
fn numbers<const N: usize>(gpu: &Gpu, key: &str) -> Result<[c_uint; N], Return> {
    let value = gpu.get(key).ok_or(ERROR_NOT_SUPPORTED)?;
    if let Some(code) = error_named(value) {
        return Err(code);
    }
    let parsed: Vec<c_uint> = value
        .split(':')
        .map(|n| n.parse().map_err(|_| ERROR_UNKNOWN))
        .collect::<Result<_, _>>()?;
    parsed.try_into().map_err(|_| ERROR_UNKNOWN)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetPerformanceState(
    device: Device,
    state: *mut c_uint,
) -> Return {
    put_field(device, "pstate", state)
}

/// `nvmlViolationTime_t`.
#[repr(C)]
pub struct ViolationTime {
    reference_time: c_ulonglong,
    violation_time: c_ulonglong,
}

/// Policy 0 is power (`viol_power_ns`), 1 is thermal (`viol_thermal_ns`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetViolationStatus(
    device: Device,
    policy: c_uint,
    out: *mut ViolationTime,
) -> Return {
    on_gpu(device, |gpu| {
        let key = match policy {
            0 => "viol_power_ns",
            1 => "viol_thermal_ns",
            _ => return Err(ERROR_NOT_SUPPORTED),
        };
        let time = ViolationTime {
            reference_time: now_micros(),
            violation_time: field(gpu, key)?,
        };
        unsafe { put(out, time) }
    })
}

/// `ecc=current` or `ecc=current:pending` (1 on, 0 off).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetEccMode(
    device: Device,
    current: *mut c_uint,
    pending: *mut c_uint,
) -> Return {
    on_gpu(device, |gpu| {
        let (now, next) = match numbers::<1>(gpu, "ecc") {
            Ok([now]) => (now, now),
            Err(_) => numbers::<2>(gpu, "ecc").map(|[now, next]| (now, next))?,
        };
        unsafe { put(current, now).and_then(|()| put(pending, next)) }
    })
}

/// Error type 0 corrected / 1 uncorrected, counter 0 volatile / 1 aggregate: `ecc_cv`, `ecc_uv`,
/// `ecc_ca`, `ecc_ua`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetTotalEccErrors(
    device: Device,
    error_type: c_uint,
    counter_type: c_uint,
    count: *mut c_ulonglong,
) -> Return {
    let key = match (error_type, counter_type) {
        (0, 0) => "ecc_cv",
        (1, 0) => "ecc_uv",
        (0, 1) => "ecc_ca",
        (1, 1) => "ecc_ua",
        _ => return ERROR_INVALID_ARGUMENT,
    };
    put_field(device, key, count)
}

/// Cause 0 is multiple single-bit errors (`retired_sbe` pages), 1 double-bit (`retired_dbe`).
unsafe fn retired_pages(
    device: Device,
    cause: c_uint,
    count: *mut c_uint,
    addresses: *mut c_ulonglong,
    timestamps: *mut c_ulonglong,
) -> Return {
    on_gpu(device, |gpu| {
        let key = match cause {
            0 => "retired_sbe",
            1 => "retired_dbe",
            _ => return Err(ERROR_INVALID_ARGUMENT),
        };
        let pages: c_uint = field(gpu, key)?;
        if count.is_null() {
            return Err(ERROR_INVALID_ARGUMENT);
        }
        let room = unsafe { count.read() };
        unsafe { count.write(pages) };
        if room < pages || addresses.is_null() {
            return Err(ERROR_INSUFFICIENT_SIZE);
        }
        for page in 0..pages as usize {
            unsafe { addresses.add(page).write(0x1000 * page as c_ulonglong) };
            if !timestamps.is_null() {
                unsafe { timestamps.add(page).write(now_micros()) };
            }
        }
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetRetiredPages(
    device: Device,
    cause: c_uint,
    count: *mut c_uint,
    addresses: *mut c_ulonglong,
) -> Return {
    unsafe { retired_pages(device, cause, count, addresses, std::ptr::null_mut()) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetRetiredPages_v2(
    device: Device,
    cause: c_uint,
    count: *mut c_uint,
    addresses: *mut c_ulonglong,
    timestamps: *mut c_ulonglong,
) -> Return {
    unsafe { retired_pages(device, cause, count, addresses, timestamps) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetRetiredPagesPendingStatus(
    device: Device,
    pending: *mut c_uint,
) -> Return {
    put_field(device, "retired_pending", pending)
}

/// `remap=correctable:uncorrectable:pending:failed`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetRemappedRows(
    device: Device,
    correctable: *mut c_uint,
    uncorrectable: *mut c_uint,
    pending: *mut c_uint,
    failed: *mut c_uint,
) -> Return {
    on_gpu(device, |gpu| {
        let [c, u, p, f] = numbers::<4>(gpu, "remap")?;
        unsafe {
            put(correctable, c)?;
            put(uncorrectable, u)?;
            put(pending, p)?;
            put(failed, f)
        }
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetCurrPcieLinkGeneration(
    device: Device,
    generation: *mut c_uint,
) -> Return {
    put_field(device, "pcie_gen", generation)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetMaxPcieLinkGeneration(
    device: Device,
    generation: *mut c_uint,
) -> Return {
    put_field(device, "pcie_max_gen", generation)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetCurrPcieLinkWidth(
    device: Device,
    width: *mut c_uint,
) -> Return {
    put_field(device, "pcie_width", width)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetMaxPcieLinkWidth(
    device: Device,
    width: *mut c_uint,
) -> Return {
    put_field(device, "pcie_max_width", width)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetPcieReplayCounter(
    device: Device,
    count: *mut c_uint,
) -> Return {
    put_field(device, "pcie_replays", count)
}

/// Counter 0 is transmit (`pcie_tx_kbs`), 1 receive (`pcie_rx_kbs`), in KB/s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetPcieThroughput(
    device: Device,
    counter: c_uint,
    kilobytes_per_second: *mut c_uint,
) -> Return {
    let key = match counter {
        0 => "pcie_tx_kbs",
        1 => "pcie_rx_kbs",
        _ => return ERROR_INVALID_ARGUMENT,
    };
    put_field(device, key, kilobytes_per_second)
}

/// `nvmlFieldValue_t`, its value always an unsigned long long.
#[repr(C)]
pub struct FieldValue {
    field_id: c_uint,
    scope_id: c_uint,
    timestamp: i64,
    latency_usec: i64,
    value_type: c_uint,
    nvml_return: Return,
    value: c_ulonglong,
}

/// The field ids the fake answers and the script keys behind them.
const FIELDS: [(c_uint, &str); 5] = [
    (91, "nvlinks"),
    (138, "nvlink_tx_kib"),
    (139, "nvlink_rx_kib"),
    (197, "pcie_tx_bytes"),
    (198, "pcie_rx_bytes"),
];

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetFieldValues(
    device: Device,
    count: c_int,
    values: *mut FieldValue,
) -> Return {
    on_gpu(device, |gpu| {
        if values.is_null() || count <= 0 {
            return Err(ERROR_INVALID_ARGUMENT);
        }
        for i in 0..count as usize {
            let value = unsafe { &mut *values.add(i) };
            let read = FIELDS
                .iter()
                .find(|(id, _)| *id == value.field_id)
                .map_or(Err(ERROR_NOT_SUPPORTED), |(_, key)| field(gpu, key));
            value.timestamp = now_micros() as i64;
            value.value_type = 3;
            match read {
                Ok(number) => (value.nvml_return, value.value) = (SUCCESS, number),
                Err(code) => value.nvml_return = code,
            }
        }
        Ok(())
    })
}

unsafe fn engine_utilization(
    device: Device,
    key: &str,
    percent: *mut c_uint,
    period_us: *mut c_uint,
) -> Return {
    on_gpu(device, |gpu| unsafe {
        put(percent, field(gpu, key)?)?;
        put(period_us, 1_000_000)
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetEncoderUtilization(
    device: Device,
    percent: *mut c_uint,
    period_us: *mut c_uint,
) -> Return {
    unsafe { engine_utilization(device, "enc", percent, period_us) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetDecoderUtilization(
    device: Device,
    percent: *mut c_uint,
    period_us: *mut c_uint,
) -> Return {
    unsafe { engine_utilization(device, "dec", percent, period_us) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetTotalEnergyConsumption(
    device: Device,
    millijoules: *mut c_ulonglong,
) -> Return {
    put_field(device, "energy_mj", millijoules)
}

/// `mig=1` turns MIG on (0: off); `migs=name:mem_used:mem_total,…` lists its instances.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetMigMode(
    device: Device,
    current: *mut c_uint,
    pending: *mut c_uint,
) -> Return {
    on_gpu(device, |gpu| {
        let mode: c_uint = field(gpu, "mig")?;
        unsafe { put(current, mode).and_then(|()| put(pending, mode)) }
    })
}

/// Room for seven instances, as an A100 or H100 has.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetMaxMigDeviceCount(
    device: Device,
    count: *mut c_uint,
) -> Return {
    on_gpu(device, |gpu| {
        field::<c_uint>(gpu, "mig")?;
        unsafe { put(count, 7) }
    })
}

/// A slot with no instance answers NOT_FOUND, as NVML does.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetMigDeviceHandleByIndex(
    device: Device,
    index: c_uint,
    mig: *mut Device,
) -> Return {
    on_gpu(device, |gpu| {
        let instances = gpu.get("migs").map_or(0, |list| list.split(',').count());
        if field::<c_uint>(gpu, "mig")? != 1 || index as usize >= instances {
            return Err(ERROR_NOT_FOUND);
        }
        let handle = device as usize | (index as usize + 1) << MIG_SHIFT;
        unsafe { put(mig, handle as Device) }
    })
}

/// NVML's XID event bit.
const EVENT_XID: c_ulonglong = 8;

/// Every GPU offers XID events unless its `events` is an error (`events=ns`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetSupportedEventTypes(
    device: Device,
    types: *mut c_ulonglong,
) -> Return {
    on_gpu(device, |gpu| match gpu.get("events") {
        Some(value) => Err(error_named(value).unwrap_or(ERROR_UNKNOWN)),
        None => unsafe { put(types, EVENT_XID | 1 | 2) },
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceRegisterEvents(
    device: Device,
    _types: c_ulonglong,
    set: *mut c_void,
) -> Return {
    on_gpu(device, |gpu| match gpu.get("events") {
        _ if set.is_null() => Err(ERROR_INVALID_ARGUMENT),
        Some(value) => Err(error_named(value).unwrap_or(ERROR_UNKNOWN)),
        None => Ok(()),
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlEventSetCreate(set: *mut *mut c_void) -> Return {
    let id = NEXT_SET.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let mut sets = event_sets();
    let state = EventSetState {
        generation: sets.generation,
        // A set made again (a re-registration) starts where the turn's sets have got to.
        delivered: sets.delivered,
    };
    sets.sets.insert(id, state);
    code(unsafe { put(set, id as *mut c_void) })
}

/// Each event set's turn and how many of the script's `xid` lines it was given: every set (each
/// server of this process) gets each XID of its turn once, so one still stopping from an earlier
/// test can neither take the next test's XIDs nor be given them.
#[derive(Default)]
struct EventSets {
    /// Bumped by `fakeNvmlReset`, at the start of each test's turn.
    generation: usize,
    /// The most any set of this turn has been given.
    delivered: usize,
    sets: HashMap<usize, EventSetState>,
}

struct EventSetState {
    generation: usize,
    delivered: usize,
}

static NEXT_SET: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

fn event_sets() -> std::sync::MutexGuard<'static, EventSets> {
    static SETS: std::sync::OnceLock<std::sync::Mutex<EventSets>> = std::sync::OnceLock::new();
    SETS.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[unsafe(no_mangle)]
pub extern "C" fn nvmlEventSetFree(set: *mut c_void) -> Return {
    event_sets().sets.remove(&(set as usize));
    SUCCESS
}

/// `nvmlEventData_t`.
#[repr(C)]
pub struct EventData {
    device: Device,
    event_type: c_ulonglong,
    event_data: c_ulonglong,
    gpu_instance_id: c_uint,
    compute_instance_id: c_uint,
}

/// Delivers the script's next `xid` line, waiting for one to be added up to `timeout_ms`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlEventSetWait_v2(
    set: *mut c_void,
    data: *mut EventData,
    timeout_ms: c_uint,
) -> Return {
    if set.is_null() || data.is_null() {
        return ERROR_INVALID_ARGUMENT;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms.into());
    loop {
        let next = {
            let xids = load().xids;
            let mut sets = event_sets();
            let generation = sets.generation;
            let given = sets.sets.get_mut(&(set as usize)).and_then(|state| {
                let next = xids
                    .get(state.delivered)
                    .filter(|_| state.generation == generation)?;
                state.delivered += 1;
                Some((*next, state.delivered))
            });
            if let Some((_, delivered)) = given {
                sets.delivered = sets.delivered.max(delivered);
            }
            given.map(|(next, _)| next)
        };
        if let Some((gpu, xid)) = next {
            let event = EventData {
                device: (gpu + 1) as Device,
                event_type: EVENT_XID,
                event_data: xid,
                gpu_instance_id: c_uint::MAX,
                compute_instance_id: c_uint::MAX,
            };
            return code(unsafe { put(data, event) });
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return ERROR_TIMEOUT;
        }
        std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(50)));
    }
}

/// `pci_bus_id=00000000:3B:00.0` (absent: `00000000:0{i}:00.0` from the handle's index).
#[repr(C)]
pub struct PciInfo {
    bus_id_legacy: [c_char; 16],
    domain: c_uint,
    bus: c_uint,
    device: c_uint,
    pci_device_id: c_uint,
    pci_sub_system_id: c_uint,
    bus_id: [c_char; 32],
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlDeviceGetPciInfo_v3(device: Device, out: *mut PciInfo) -> Return {
    let index = (device as usize & ((1 << MIG_SHIFT) - 1)).saturating_sub(1);
    on_gpu(device, |gpu| unsafe {
        if out.is_null() {
            return Err(ERROR_INVALID_ARGUMENT);
        }
        let bus_id = match gpu.get("pci_bus_id") {
            Some(id) if error_named(id).is_some() => return Err(error_named(id).unwrap_or(0)),
            Some(id) => id.clone(),
            None => format!("00000000:{:02X}:00.0", index + 1),
        };
        out.write(PciInfo {
            bus_id_legacy: [0; 16],
            domain: 0,
            bus: index as c_uint + 1,
            device: 0,
            pci_device_id: 0x2330_10de,
            pci_sub_system_id: 0,
            bus_id: [0; 32],
        });
        put_str((*out).bus_id.as_mut_ptr(), 32, &bus_id)
    })
}

// GPM, the profiling counters: `gpm=1` says the GPU supports it (absent or 0: it does not; an
// error name makes the support query fail with it). `gpm_sample=<error>` makes taking a sample
// fail. Each metric's value (percent, or MiB/s for the byte rates) is a key: `gpm_gr`,
// `gpm_sm`, `gpm_occupancy`, `gpm_tensor`, `gpm_dram`, `gpm_fp64`, `gpm_fp32`, `gpm_fp16`,
// `gpm_pcie_tx`, `gpm_pcie_rx`, `gpm_nvlink_tx`, `gpm_nvlink_rx`; an absent one answers
// NOT_SUPPORTED in its slot. A comparison gives the scripted values as they are when it is made.
// Samples live on the heap; `FAKE_NVML_GPM_SAMPLES` counts those not yet freed.

/// NVML's GPM metric ids and the script key of each.
const GPM_METRICS: &[(c_uint, &str)] = &[
    (1, "gpm_gr"),
    (2, "gpm_sm"),
    (3, "gpm_occupancy"),
    (5, "gpm_tensor"),
    (10, "gpm_dram"),
    (11, "gpm_fp64"),
    (12, "gpm_fp32"),
    (13, "gpm_fp16"),
    (20, "gpm_pcie_tx"),
    (21, "gpm_pcie_rx"),
    (60, "gpm_nvlink_rx"),
    (61, "gpm_nvlink_tx"),
];

static GPM_SAMPLES: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// A sample: the handle of the GPU it was last taken on (0: never taken).
struct GpmSample {
    device: usize,
}

#[repr(C)]
pub struct GpmSupport {
    version: c_uint,
    is_supported_device: c_uint,
}

#[repr(C)]
pub struct GpmMetric {
    metric_id: c_uint,
    nvml_return: Return,
    value: f64,
    short_name: *mut c_char,
    long_name: *mut c_char,
    unit: *mut c_char,
}

#[repr(C)]
pub struct GpmMetricsGet {
    version: c_uint,
    num_metrics: c_uint,
    sample1: *mut c_void,
    sample2: *mut c_void,
    metrics: [GpmMetric; 98],
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlGpmQueryDeviceSupport(device: Device, out: *mut GpmSupport) -> Return {
    on_gpu(device, |gpu| unsafe {
        if out.is_null() || (*out).version != 1 {
            return Err(ERROR_ARGUMENT_VERSION_MISMATCH);
        }
        let supported = match gpu.get("gpm").map(String::as_str) {
            None | Some("0") => 0,
            Some("1") => 1,
            Some(other) => return Err(error_named(other).unwrap_or(ERROR_UNKNOWN)),
        };
        (*out).is_supported_device = supported;
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlGpmSampleAlloc(out: *mut *mut c_void) -> Return {
    let sample = Box::into_raw(Box::new(GpmSample { device: 0 }));
    GPM_SAMPLES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    code(unsafe { put(out, sample.cast()) })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlGpmSampleFree(sample: *mut c_void) -> Return {
    if sample.is_null() {
        return ERROR_INVALID_ARGUMENT;
    }
    drop(unsafe { Box::from_raw(sample.cast::<GpmSample>()) });
    GPM_SAMPLES.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    SUCCESS
}

/// Forgets which `xid` lines were delivered: a test's turn starts with a fresh script whose
/// first XID must be delivered even if an earlier test's was.
#[unsafe(no_mangle)]
pub extern "C" fn fakeNvmlReset() -> i64 {
    let mut sets = event_sets();
    sets.generation += 1;
    sets.delivered = 0;
    0
}

/// How many GPM samples are allocated and not yet freed: for a test of the collector's leaks.
#[unsafe(no_mangle)]
pub extern "C" fn fakeNvmlGpmSamplesInUse() -> i64 {
    GPM_SAMPLES.load(std::sync::atomic::Ordering::Relaxed)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlGpmSampleGet(device: Device, sample: *mut c_void) -> Return {
    on_gpu(device, |gpu| {
        if sample.is_null() {
            return Err(ERROR_INVALID_ARGUMENT);
        }
        if gpu.get("gpm").map(String::as_str) != Some("1") {
            return Err(ERROR_NOT_SUPPORTED);
        }
        if let Some(failure) = gpu.get("gpm_sample") {
            return Err(error_named(failure).unwrap_or(ERROR_UNKNOWN));
        }
        unsafe { (*sample.cast::<GpmSample>()).device = device as usize };
        Ok(())
    })
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn nvmlGpmMetricsGet(request: *mut GpmMetricsGet) -> Return {
    let Some(request) = (unsafe { request.as_mut() }) else {
        return ERROR_INVALID_ARGUMENT;
    };
    if request.version != 1 {
        return ERROR_ARGUMENT_VERSION_MISMATCH;
    }
    if request.sample1.is_null() || request.sample2.is_null() || request.num_metrics > 98 {
        return ERROR_INVALID_ARGUMENT;
    }
    let (first, second) = unsafe {
        (
            (*request.sample1.cast::<GpmSample>()).device,
            (*request.sample2.cast::<GpmSample>()).device,
        )
    };
    // Two samples of one GPU, both taken: what NVML needs to compare them.
    if first == 0 || first != second {
        return ERROR_INVALID_ARGUMENT;
    }
    on_gpu(first as Device, |gpu| {
        for metric in &mut request.metrics[..request.num_metrics as usize] {
            let read = GPM_METRICS
                .iter()
                .find(|(id, _)| *id == metric.metric_id)
                .map_or(Err(ERROR_NOT_SUPPORTED), |(_, key)| field::<f64>(gpu, key));
            (metric.short_name, metric.long_name, metric.unit) = (
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            match read {
                Ok(value) => (metric.nvml_return, metric.value) = (SUCCESS, value),
                Err(failure) => (metric.nvml_return, metric.value) = (failure, 0.0),
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_parse_quotes_comments_and_errors() {
        let script = parse(
            "# a machine\ninit no_permission\ndriver 550.54.15\ncuda 12040\n\
             gpu name=\"Fake H100 80GB\" util=ns # trailing\ngpu lost=1\n",
        );
        assert_eq!(script.init, Some(4));
        assert_eq!(script.driver.as_deref(), Some("550.54.15"));
        assert_eq!(script.gpus.len(), 2);
        assert_eq!(script.gpus[0]["name"], "Fake H100 80GB");
        assert_eq!(
            field::<u32>(&script.gpus[0], "util"),
            Err(ERROR_NOT_SUPPORTED)
        );
        assert_eq!(
            field::<u32>(&script.gpus[0], "temp"),
            Err(ERROR_NOT_SUPPORTED)
        );
        assert!(is_lost(&script.gpus[1]));
    }

    #[test]
    fn processes_are_split_by_kind() {
        let script = parse("gpu procs=1:10:compute,2:na:graphics\n");
        let compute = processes(&script.gpus[0], "compute").unwrap();
        let graphics = processes(&script.gpus[0], "graphics").unwrap();
        assert_eq!(
            (compute.len(), compute[0].pid, compute[0].used_gpu_memory),
            (1, 1, 10)
        );
        assert_eq!(graphics[0].used_gpu_memory, VALUE_NOT_AVAILABLE);
    }

    #[test]
    fn utilization_samples_are_read_per_process() {
        let script = parse("gpu putil=7:60:20:0:5\ngpu putil=7:1\ngpu\n");
        let samples = utilization_samples(&script.gpus[0]).unwrap();
        assert_eq!(
            (samples[0].pid, samples[0].sm_util, samples[0].dec_util),
            (7, 60, 5)
        );
        assert_eq!(utilization_samples(&script.gpus[1]), Err(ERROR_UNKNOWN));
        assert_eq!(
            utilization_samples(&script.gpus[2]),
            Err(ERROR_NOT_SUPPORTED)
        );
    }
}
