//! The cleartext listeners of the hyper engine: one socket per address
//! *per thread*, all bound to the same port with `SO_REUSEPORT`, so the
//! kernel spreads new connections over the threads and no thread hands
//! connections to another. Port 0 (tests) is resolved by the first bind;
//! the others take the port it got.

use crate::error::GatewayError;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Each address's listening sockets, one per thread.
#[derive(Debug)]
pub struct Listeners {
    /// The addresses really listened on (port 0 resolved).
    pub addrs: Vec<SocketAddr>,
    /// `per_thread[t]` holds thread `t`'s socket for each address.
    pub per_thread: Vec<Vec<std::net::TcpListener>>,
}

/// Binds `threads` sockets on each of `addrs`.
pub fn bind(addrs: &[SocketAddr], threads: usize) -> Result<Listeners, GatewayError> {
    let threads = threads.max(1);
    let mut per_thread: Vec<Vec<std::net::TcpListener>> =
        (0..threads).map(|_| Vec::new()).collect();
    let mut bound = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let mut real = *addr;
        for sockets in per_thread.iter_mut() {
            let listener = reuse_port_listener(real).map_err(|source| GatewayError::Io {
                path: PathBuf::from(addr.to_string()),
                source,
            })?;
            if real.port() == 0 {
                real = listener.local_addr().map_err(|source| GatewayError::Io {
                    path: PathBuf::from(addr.to_string()),
                    source,
                })?;
            }
            sockets.push(listener);
        }
        bound.push(real);
    }
    Ok(Listeners {
        addrs: bound,
        per_thread,
    })
}

fn reuse_port_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}
