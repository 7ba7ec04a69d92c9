//! A relay in front of one fake worldserver that keeps a partition silent about closes.
//!
//! madsim carries a close across a clogged node: a socket's peer sees it dropped at once
//! (its next write fails, its reads end once nothing is queued), where a real partition
//! carries no FIN and no RST until it heals. So a fake worldserver cut off from the gateway
//! sees the gateway's connections close during the partition (at its next time sync) and
//! lingers its players from then on, not from the heal. A scenario that claims otherwise
//! opts its worldserver in (`partition_hides_close`): the gateway's connections to it then
//! go to this relay, on the worldserver's own node (so the partition cuts the relay off with
//! it), which carries bytes both ways and, once the gateway's side has closed, closes the
//! worldserver's side only when the partition no longer cuts it off. Outside a partition it
//! closes at once, as a direct connection would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Port of a relay on its worldserver's node.
pub const RELAY_PORT: u16 = 9102;
/// How often a relay holding a close back looks whether the partition has healed.
pub const HEAL_POLL_MS: u64 = 100;
/// Bytes read at once, each way.
const CHUNK_BYTES: usize = 16 * 1024;

/// Whether the partition cuts the worldserver off now.
pub type Cut = Arc<dyn Fn() -> bool + Send + Sync>;

/// Accepts the gateway's connections on `listener` and carries each to the worldserver at
/// `world`, until the listener fails.
pub async fn serve(listener: TcpListener, world: SocketAddr, cut: Cut) {
    while let Ok((gateway, _)) = listener.accept().await {
        tokio::spawn(carry(gateway, world, cut.clone()));
    }
}

/// One connection: the gateway's side and the worldserver's.
async fn carry(mut gateway: TcpStream, world: SocketAddr, cut: Cut) {
    // A worldserver that is down refuses the relay: the gateway's side closes, as a refused
    // connect would end.
    let Ok(mut fake) = TcpStream::connect(world).await else {
        return;
    };
    let mut up = vec![0u8; CHUNK_BYTES];
    let mut down = vec![0u8; CHUNK_BYTES];
    // The gateway's side has closed (its reads ended): the close waits for the heal.
    let mut gateway_closed = false;
    // Writes to the gateway's side fail: what the worldserver sends is dropped, unseen by it.
    let mut gateway_gone = false;
    loop {
        tokio::select! {
            biased;
            r = gateway.read(&mut up), if !gateway_closed => match r {
                Ok(n) if n > 0 => {
                    if fake.write_all(&up[..n]).await.is_err() || fake.flush().await.is_err() {
                        return;
                    }
                }
                _ => gateway_closed = true,
            },
            r = fake.read(&mut down) => match r {
                Ok(n) if n > 0 => {
                    if !gateway_gone
                        && (gateway.write_all(&down[..n]).await.is_err()
                            || gateway.flush().await.is_err())
                    {
                        gateway_gone = true;
                    }
                }
                // The worldserver closed: both sides close.
                _ => return,
            },
            () = tokio::time::sleep(Duration::from_millis(HEAL_POLL_MS)), if gateway_closed => {}
        }
        if gateway_closed && !cut() {
            return;
        }
    }
}
