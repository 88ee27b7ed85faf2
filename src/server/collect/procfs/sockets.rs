//! Who is on the other end of a loopback TCP connection: the kernel's socket tables
//! (`/proc/net/tcp`, `/proc/net/tcp6`) name the uid that owns each socket, so a request's peer
//! address tells which local user sent it, with no privilege.

use std::net::{IpAddr, SocketAddr};

/// The uid owning the local socket bound to `peer` (the client's end of a connection to us), or
/// `None` when it is not a local socket or the tables cannot be read.
pub fn local_socket_uid(peer: SocketAddr) -> Option<u32> {
    let table = match peer.ip() {
        IpAddr::V4(_) => "/proc/net/tcp",
        IpAddr::V6(_) => "/proc/net/tcp6",
    };
    let text = std::fs::read_to_string(table).ok()?;
    uid_of(&text, &address_text(peer))
}

/// The uid column of the row whose local address is `local` ("0100007F:1F90").
fn uid_of(table: &str, local: &str) -> Option<u32> {
    table.lines().skip(1).find_map(|row| {
        let mut columns = row.split_whitespace();
        let _slot = columns.next()?;
        if !columns.next()?.eq_ignore_ascii_case(local) {
            return None;
        }
        // rem_address, st, tx:rx queues, tr:tm->when, retrnsmt, then the uid.
        columns.nth(5)?.parse().ok()
    })
}

/// An address as the tables write it: the IP's 32-bit words in host byte order, in hex, then
/// the port in hex.
fn address_text(address: SocketAddr) -> String {
    let ip = match address.ip() {
        IpAddr::V4(ip) => format!("{:08X}", u32::from_ne_bytes(ip.octets())),
        IpAddr::V6(ip) => ip
            .octets()
            .chunks(4)
            .map(|word| {
                format!(
                    "{:08X}",
                    u32::from_ne_bytes([word[0], word[1], word[2], word[3]])
                )
            })
            .collect(),
    };
    format!("{ip}:{:04X}", address.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_matched_by_their_local_address() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
                     0: 0100007F:0BB8 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1 1\n   \
                     1: 0100007F:D431 0100007F:0BB8 01 00000000:00000000 00:00000000 00000000  1000        0 2 1\n";
        let client: SocketAddr = "127.0.0.1:54321".parse().unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(address_text(client), "0100007F:D431");
        }
        assert_eq!(uid_of(table, "0100007F:D431"), Some(1000));
        assert_eq!(uid_of(table, "0100007F:0BB8"), Some(0));
        assert_eq!(uid_of(table, "0100007F:0001"), None);
    }

    #[test]
    fn this_processs_own_connection_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server_end, peer) = listener.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        // SAFETY: getuid has no preconditions.
        let me = unsafe { libc::getuid() };
        assert_eq!(local_socket_uid(peer), Some(me));
    }
}
