//! Gzip inflated on a second thread: a `.csv.gz` read is two serial jobs, inflating and parsing,
//! and running the first on another core takes it off the parser's path (AWS's exports are one
//! gzip stream, so the inflating itself cannot be split). The thread fills blocks of
//! [`BLOCK`] bytes into a bounded queue ([`QUEUE`] blocks: memory stays bounded whatever the
//! file's size) and the parser reads them through [`Read`]; used blocks go back to the thread.

use std::io::{self, Read};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::thread;

/// Bytes per block handed from the inflating thread to the parser.
const BLOCK: usize = 256 * 1024;
/// Blocks that may wait in the queue.
const QUEUE: usize = 4;

/// The parser's end: reads the blocks the inflating thread produced, in order. An error of the
/// decoder (a corrupt or truncated stream) is returned by `read` as it was raised; dropping the
/// reader stops the thread at its next block.
pub(crate) struct Inflated {
    blocks: Receiver<io::Result<Vec<u8>>>,
    spent: SyncSender<Vec<u8>>,
    block: Vec<u8>,
    pos: usize,
    ended: bool,
}

impl Inflated {
    /// Starts the thread on `decoder`. When no thread can be started, the decoder is given
    /// back to be read in place.
    pub(crate) fn spawn<R: Read + Send + 'static>(decoder: R) -> Result<Inflated, R> {
        let (tx, blocks) = mpsc::sync_channel::<io::Result<Vec<u8>>>(QUEUE);
        let (spent, recycled) = mpsc::sync_channel::<Vec<u8>>(QUEUE + 2);
        // The decoder moves into the thread only if it starts: keep it reachable until then.
        let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(decoder)));
        let theirs = slot.clone();
        let started = thread::Builder::new()
            .name("tollgate-aws-inflate".into())
            .spawn(move || {
                let decoder = theirs.lock().ok().and_then(|mut d| d.take());
                if let Some(decoder) = decoder {
                    inflate(decoder, &tx, &recycled);
                }
            });
        match started {
            Ok(_) => Ok(Inflated {
                blocks,
                spent,
                block: Vec::new(),
                pos: 0,
                ended: false,
            }),
            Err(_) => match slot.lock().ok().and_then(|mut d| d.take()) {
                Some(decoder) => Err(decoder),
                // Unreachable: the thread did not start, so it took nothing.
                None => Ok(Inflated {
                    blocks: mpsc::sync_channel(0).1,
                    spent,
                    block: Vec::new(),
                    pos: 0,
                    ended: true,
                }),
            },
        }
    }
}

/// The thread: fills blocks until the end of the stream, an error, or the reader is gone.
fn inflate<R: Read>(
    mut decoder: R,
    tx: &SyncSender<io::Result<Vec<u8>>>,
    recycled: &Receiver<Vec<u8>>,
) {
    loop {
        let mut buf = match recycled.try_recv() {
            Ok(b) => b,
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Vec::with_capacity(BLOCK),
        };
        buf.resize(BLOCK, 0);
        let mut n = 0;
        while n < BLOCK {
            match decoder.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // What was inflated before the error is still handed over first.
                    buf.truncate(n);
                    if n > 0 && tx.send(Ok(buf)).is_err() {
                        return;
                    }
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        if n == 0 {
            return; // end of stream: dropping `tx` tells the reader
        }
        buf.truncate(n);
        if tx.send(Ok(buf)).is_err() {
            return; // the reader was dropped
        }
    }
}

impl Read for Inflated {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.block.len() {
            if self.ended {
                return Ok(0);
            }
            match self.blocks.recv() {
                Ok(Ok(next)) => {
                    let old = std::mem::replace(&mut self.block, next);
                    self.pos = 0;
                    // A full recycle queue just drops the block.
                    let _ = self.spent.try_send(old);
                }
                Ok(Err(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                Err(_) => {
                    self.ended = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.block.len() - self.pos);
        out[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
