//! One MLLP connection: framing (0x0B … 0x1C 0x0D), writing a message and reading one framed
//! answer within the timeout.

use std::io::{self, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::SendOptions;

const START_BLOCK: u8 = 0x0B;
const END_BLOCK: u8 = 0x1C;
const CARRIAGE_RETURN: u8 = 0x0D;

/// An acknowledgement longer than this is not an acknowledgement: refusing it keeps a receiver
/// that streams garbage from filling memory.
pub const MAX_ACK_BYTES: usize = 1 << 20;

pub(super) fn frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 3);
    out.push(START_BLOCK);
    out.extend_from_slice(message);
    out.extend_from_slice(&[END_BLOCK, CARRIAGE_RETURN]);
    out
}

pub(super) fn io_text(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused (is the receiver running?)".to_string(),
        io::ErrorKind::ConnectionReset => "the receiver reset the connection".to_string(),
        io::ErrorKind::BrokenPipe => "the receiver closed the connection".to_string(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "timed out".to_string(),
        _ => e.to_string(),
    }
}

/// A connection to the receiver, with what was read past the last frame.
pub(super) struct Link {
    pub(super) stream: TcpStream,
    buffer: Vec<u8>,
}

impl Link {
    pub(super) fn open(target: &str, options: &SendOptions) -> Result<Link, String> {
        let addresses = target.to_socket_addrs().map_err(|e| format!("cannot resolve {target}: {e}"))?;
        // A zero timeout is refused by the OS call; the smallest real wait means "fail fast".
        let timeout = options.connect_timeout.max(Duration::from_millis(1));
        let mut last = format!("{target} resolves to no address");
        for address in addresses {
            match TcpStream::connect_timeout(&address, timeout) {
                Ok(stream) => {
                    // Without it a slow receiver could block a write for ever.
                    let write_timeout = options.ack_timeout.max(Duration::from_millis(1));
                    let _ = stream.set_write_timeout(Some(write_timeout));
                    let _ = stream.set_nodelay(true);
                    return Ok(Link { stream, buffer: Vec::new() });
                }
                Err(e) => last = format!("cannot connect to {target} ({address}): {}", io_text(&e)),
            }
        }
        Err(last)
    }

    /// Reads one frame's content, skipping anything before its start byte.
    pub(super) fn read_frame(&mut self, deadline: Instant, timeout: Duration) -> Result<Vec<u8>, String> {
        let mut chunk = [0u8; 8192];
        let mut scanned = 0;
        loop {
            match self.buffer.iter().position(|&b| b == START_BLOCK) {
                Some(start) => {
                    if start > 0 {
                        self.buffer.drain(..start);
                        scanned = 0;
                    }
                    let from = scanned.max(1);
                    if let Some(end) = self.buffer[from..]
                        .windows(2)
                        .position(|w| w == [END_BLOCK, CARRIAGE_RETURN])
                        .map(|p| p + from)
                    {
                        let content = self.buffer[1..end].to_vec();
                        self.buffer.drain(..end + 2);
                        return Ok(content);
                    }
                    if self.buffer.len() > MAX_ACK_BYTES {
                        return Err(format!("the acknowledgement is longer than {MAX_ACK_BYTES} bytes"));
                    }
                    // The end marker may straddle two reads: look again from its first byte.
                    scanned = self.buffer.len().saturating_sub(1);
                }
                // Bytes before a frame are noise some receivers send (keep-alives, a stray CR).
                None => self.buffer.clear(),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("no acknowledgement within {}", seconds(timeout)));
            }
            self.stream.set_read_timeout(Some(left)).map_err(|e| e.to_string())?;
            match self.stream.read(&mut chunk) {
                Ok(0) if self.buffer.is_empty() => {
                    return Err("the receiver closed the connection without acknowledging".to_string());
                }
                Ok(0) => {
                    return Err(format!(
                        "the receiver closed the connection in the middle of the acknowledgement \
                         ({} bytes read)",
                        self.buffer.len()
                    ));
                }
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    return Err(format!("no acknowledgement within {}", seconds(timeout)));
                }
                Err(e) => return Err(format!("cannot read the acknowledgement: {}", io_text(&e))),
            }
        }
    }

    pub(super) fn close(self) {
        // Tells the receiver the conversation is over rather than leaving it to time out.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

pub(super) fn seconds(d: Duration) -> String {
    if d.as_millis() < 1000 { format!("{} ms", d.as_millis()) } else { format!("{} s", d.as_secs_f64()) }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::net::TcpListener;

    use super::*;

    #[test]
    pub(super) fn frames_are_found_after_noise_and_across_reads() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(b"\r\nnoise\x0bMSH|first\x1c").unwrap();
            std::thread::sleep(Duration::from_millis(50));
            s.write_all(b"\x0d\x0bsecond\x1c\x0d").unwrap();
        });
        let mut link = Link { stream: TcpStream::connect(address).unwrap(), buffer: Vec::new() };
        let t = Duration::from_secs(5);
        assert_eq!(link.read_frame(Instant::now() + t, t).unwrap(), b"MSH|first");
        assert_eq!(link.read_frame(Instant::now() + t, t).unwrap(), b"second");
        peer.join().unwrap();
        let err = link.read_frame(Instant::now() + t, t).unwrap_err();
        assert!(err.contains("closed the connection"), "{err}");
    }

    #[test]
    pub(super) fn an_endless_frame_is_refused_past_the_limit() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let _ = s.write_all(&[START_BLOCK]);
            let junk = vec![b'x'; 64 * 1024];
            for _ in 0..(MAX_ACK_BYTES / junk.len() + 2) {
                if s.write_all(&junk).is_err() {
                    break;
                }
            }
        });
        let mut link = Link { stream: TcpStream::connect(address).unwrap(), buffer: Vec::new() };
        let t = Duration::from_secs(10);
        let err = link.read_frame(Instant::now() + t, t).unwrap_err();
        assert!(err.contains("longer than"), "{err}");
        drop(link);
        peer.join().unwrap();
    }
}
