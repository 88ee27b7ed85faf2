//! The system's identity and clock: `node_uname_info` (what uname(2) says, as labels) and
//! `node_time_seconds` (the time of the scrape), as node_exporter's uname and time collectors.
//! The boot time comes from /proc/stat, with the other stat fields (stat.rs).

use super::super::{family, gauge};
use prometheus_client::encoding::DescriptorEncoder;
use std::ffi::c_char;
use std::time::{SystemTime, UNIX_EPOCH};

/// What uname(2) returns, each field as text.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Uname {
    sysname: String,
    release: String,
    version: String,
    machine: String,
    nodename: String,
    domainname: String,
}

/// The running kernel's uname; None if the call fails.
pub(super) fn read() -> Option<Uname> {
    // SAFETY: utsname is plain C arrays, valid zeroed; uname only writes into the struct we pass.
    let mut raw: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut raw) } != 0 {
        return None;
    }
    Some(parse(&raw))
}

/// The fields of a utsname, each up to its NUL.
pub(super) fn parse(raw: &libc::utsname) -> Uname {
    Uname {
        sysname: text(&raw.sysname),
        release: text(&raw.release),
        version: text(&raw.version),
        machine: text(&raw.machine),
        nodename: text(&raw.nodename),
        domainname: text(&raw.domainname),
    }
}

/// A C char array as text: up to its first NUL (all of it if it has none), invalid UTF-8 replaced.
fn text(chars: &[c_char]) -> String {
    let bytes: Vec<u8> = chars
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Now, in seconds since the epoch with the fraction (0 if the clock is before 1970).
pub(super) fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

pub(super) fn encode(
    encoder: &mut DescriptorEncoder,
    uname: Option<&Uname>,
    now: f64,
) -> std::fmt::Result {
    family(
        encoder,
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        uname.map(|u| {
            (
                vec![
                    ("sysname", u.sysname.clone()),
                    ("release", u.release.clone()),
                    ("version", u.version.clone()),
                    ("machine", u.machine.clone()),
                    ("nodename", u.nodename.clone()),
                    ("domainname", u.domainname.clone()),
                ],
                gauge(1.0),
            )
        }),
    )?;
    family(
        encoder,
        "node_time_seconds",
        "System time in seconds since epoch (1970).",
        [(vec![], gauge(now))],
    )
}

#[cfg(test)]
mod tests {
    use super::super::render;
    use super::*;

    fn chars(text: &[u8]) -> [c_char; 65] {
        let mut out = [0 as c_char; 65];
        for (slot, &b) in out.iter_mut().zip(text) {
            *slot = b as c_char;
        }
        out
    }

    #[test]
    fn fields_end_at_their_nul_or_the_array() {
        assert_eq!(text(&chars(b"Linux")), "Linux");
        assert_eq!(text(&chars(b"")), "");
        assert_eq!(text(&[b'a' as c_char, b'b' as c_char]), "ab");
        assert_eq!(text(&chars(b"caf\xc3\xa9\xff")), "café\u{fffd}");
    }

    #[test]
    fn uname_info_has_node_exporters_labels() {
        let uname = Uname {
            sysname: "Linux".into(),
            release: "6.18.44-fc-v1147".into(),
            version: "#1 SMP PREEMPT_DYNAMIC @0".into(),
            machine: "x86_64".into(),
            nodename: "vm".into(),
            domainname: "(none)".into(),
        };
        let text = render::text(move |e| encode(e, Some(&uname), 1796300000.25));
        assert!(
            text.contains(
                r##"node_uname_info{sysname="Linux",release="6.18.44-fc-v1147",version="#1 SMP PREEMPT_DYNAMIC @0",machine="x86_64",nodename="vm",domainname="(none)"} 1"##
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE node_uname_info gauge\n"));
        assert_eq!(
            render::value(&text, "node_time_seconds"),
            Some(1796300000.25)
        );
    }

    #[test]
    fn this_machine_and_its_clock() {
        let uname = read().expect("uname works on Linux");
        assert_eq!(uname.sysname, "Linux");
        assert!(!uname.release.is_empty() && !uname.machine.is_empty());
        assert!(now_seconds() > 1.7e9, "after 2023");
    }
}
