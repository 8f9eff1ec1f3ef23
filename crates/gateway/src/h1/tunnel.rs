//! Upgraded connections (WebSocket) in the hyper engine: once both the
//! client's and the origin's connections have switched protocols, their
//! bytes are copied both ways until either side closes, either side is
//! silent for the per-read timeout, or the site is cut off — the tunnel no
//! longer passes the per-request containment check, so it is tied to the
//! site's switch and closed the moment the site goes to maintenance.

use crate::switch::SiteSwitch;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Runs the tunnel between `client` and `origin` once both upgrades are
/// done; each side's reads wait at most its idle timeout.
pub async fn run(
    client: OnUpgrade,
    origin: OnUpgrade,
    switch: Arc<SiteSwitch>,
    client_idle: Duration,
    origin_idle: Duration,
) {
    let (client, origin) = match tokio::try_join!(client, origin) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!("upgrade: {error}");
            return;
        }
    };
    let (client_read, client_write) = tokio::io::split(TokioIo::new(client));
    let (origin_read, origin_write) = tokio::io::split(TokioIo::new(origin));
    let up = copy(client_read, origin_write, client_idle);
    let down = copy(origin_read, client_write, origin_idle);
    // Whichever ends first ends the tunnel: dropping both halves closes
    // both connections.
    tokio::select! {
        _ = up => {}
        _ = down => {}
        _ = switch.cut_off() => {
            tracing::info!("tunnel closed: its site was cut off");
        }
    }
}

/// Copies until end of stream, an error, or `idle` without a byte.
async fn copy(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    idle: Duration,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::time::timeout(idle, from.read(&mut buf))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "tunnel idle"))??;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        to.write_all(&buf[..n]).await?;
        to.flush().await?;
    }
}
