//! A channel's history of frames: the newest as they were sent, older ones deflated in blocks.
//!
//! An hour of one GPU's frames at 1 s is about 2.5 MB of JSON that says nearly the same thing
//! every second; held as sent, the system channels' rings were most of the server's memory.
//! Older frames are rarely read (a client back after a long gap, `/api/system/history`), so they
//! are kept deflated, and a read inflates them after the hub's lock is released.

use crate::server::hub::Frame;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::Arc;

/// Frames kept as sent before the oldest are deflated: a client back within about a minute (at
/// 1 s) catches up without inflating anything.
pub const RECENT_FRAMES: usize = 64;
/// Frames deflated together: enough for the repetition between them to pay.
pub const BLOCK_FRAMES: usize = 64;
/// What separates frames in a block: serialised JSON never holds a raw newline.
const SEPARATOR: u8 = b'\n';

pub struct Stored {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub frame: Frame,
}

/// Consecutive frames deflated together, oldest first.
struct Block {
    first_seq: u64,
    /// Each frame's time, as nanoseconds since the epoch.
    at_nanos: Box<[i64]>,
    deflated: Box<[u8]>,
}

impl Block {
    fn last_seq(&self) -> u64 {
        self.first_seq + self.at_nanos.len() as u64 - 1
    }

    fn newest_nanos(&self) -> i64 {
        self.at_nanos.last().copied().unwrap_or(i64::MIN)
    }

    fn deflate(frames: &[Stored]) -> Option<Block> {
        let first = frames.first()?;
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        for stored in frames {
            encoder.write_all(stored.frame.as_bytes()).ok()?;
            encoder.write_all(&[SEPARATOR]).ok()?;
        }
        Some(Block {
            first_seq: first.seq,
            at_nanos: frames.iter().map(|s| nanos(s.at)).collect(),
            deflated: encoder.finish().ok()?.into_boxed_slice(),
        })
    }

    /// The frames after `after_seq` and at or after `from_nanos`. A block that does not inflate
    /// (it was made here, so it cannot happen short of a bug) yields none rather than garbage.
    fn inflate(&self, after_seq: u64, from_nanos: i64) -> Vec<Frame> {
        let mut text = String::new();
        if flate2::read::DeflateDecoder::new(&self.deflated[..])
            .read_to_string(&mut text)
            .is_err()
        {
            return Vec::new();
        }
        text.split_terminator(SEPARATOR as char)
            .zip(self.first_seq..)
            .zip(self.at_nanos.iter())
            .filter(|((_, seq), at)| *seq > after_seq && **at >= from_nanos)
            .map(|((frame, _), _)| Frame::from(frame))
            .collect()
    }
}

fn nanos(at: DateTime<Utc>) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// One channel's frames within the hub's window, oldest first.
pub struct Ring {
    /// Whether older frames are deflated: custom channels keep theirs as sent, since the hub
    /// trims them one by one against a byte budget.
    deflates: bool,
    blocks: VecDeque<Arc<Block>>,
    recent: VecDeque<Stored>,
    /// Frames older than this are out of the window, even where a block still holds them.
    oldest_nanos: i64,
}

impl Ring {
    pub fn new(deflates: bool) -> Ring {
        Ring {
            deflates,
            blocks: VecDeque::new(),
            recent: VecDeque::new(),
            oldest_nanos: i64::MIN,
        }
    }

    pub fn push(&mut self, stored: Stored) {
        self.recent.push_back(stored);
        if self.deflates && self.recent.len() >= RECENT_FRAMES + BLOCK_FRAMES {
            self.deflate_oldest();
        }
    }

    /// Deflates the oldest recent frames that run on in sequence (all of them, as the hub
    /// numbers a channel's messages one by one).
    fn deflate_oldest(&mut self) {
        let first = self.recent[0].seq;
        let run = self
            .recent
            .iter()
            .take(BLOCK_FRAMES)
            .zip(first..)
            .take_while(|(stored, seq)| stored.seq == *seq)
            .count();
        let frames: Vec<Stored> = self.recent.drain(..run).collect();
        match Block::deflate(&frames) {
            Some(block) => self.blocks.push_back(Arc::new(block)),
            // Writing into memory does not fail; if it ever did, keep the frames as they are.
            None => {
                for stored in frames.into_iter().rev() {
                    self.recent.push_front(stored);
                }
            }
        }
    }

    pub fn clear(&mut self) {
        self.blocks.clear();
        self.recent.clear();
    }

    /// Frames held, deflated or not (within the window).
    pub fn len(&self) -> usize {
        let in_blocks: usize = self
            .blocks
            .iter()
            .map(|b| {
                b.at_nanos
                    .iter()
                    .filter(|at| **at >= self.oldest_nanos)
                    .count()
            })
            .sum();
        in_blocks + self.recent.len()
    }

    /// Bytes the ring holds: frames as sent, and deflated blocks.
    pub fn held_bytes(&self) -> usize {
        let deflated: usize = self.blocks.iter().map(|b| b.deflated.len()).sum();
        deflated + self.recent.iter().map(|s| s.frame.len()).sum::<usize>()
    }

    /// Drops what is older than `oldest`; returns the bytes of the frames dropped as sent.
    pub fn drop_older_than(&mut self, oldest: DateTime<Utc>) -> usize {
        self.oldest_nanos = nanos(oldest);
        while self
            .blocks
            .front()
            .is_some_and(|block| block.newest_nanos() < self.oldest_nanos)
        {
            self.blocks.pop_front();
        }
        let mut dropped = 0;
        while self.blocks.is_empty() && self.recent.front().is_some_and(|s| s.at < oldest) {
            dropped += self.recent.pop_front().map_or(0, |s| s.frame.len());
        }
        dropped
    }

    /// The oldest frame kept as sent, to trim a custom channel by count or bytes.
    pub fn pop_front(&mut self) -> Option<Stored> {
        self.recent.pop_front()
    }

    pub fn front_at(&self) -> Option<DateTime<Utc>> {
        self.recent.front().map(|stored| stored.at)
    }

    /// The sequence number of the oldest frame within the window.
    pub fn first_seq(&self) -> Option<u64> {
        let in_blocks = self.blocks.iter().find_map(|block| {
            let kept = block
                .at_nanos
                .iter()
                .position(|at| *at >= self.oldest_nanos)?;
            Some(block.first_seq + kept as u64)
        });
        in_blocks.or_else(|| self.recent.front().map(|stored| stored.seq))
    }

    pub fn newest(&self) -> Option<&Stored> {
        self.recent.back()
    }

    /// The frame numbered `seq`, looked for from the newest.
    pub fn find(&self, seq: u64) -> Option<Frame> {
        if let Some(stored) = self.recent.iter().rev().find(|stored| stored.seq == seq) {
            return Some(stored.frame.clone());
        }
        let block = self
            .blocks
            .iter()
            .find(|block| (block.first_seq..=block.last_seq()).contains(&seq))?;
        if block.at_nanos[(seq - block.first_seq) as usize] < self.oldest_nanos {
            return None;
        }
        block.inflate(seq - 1, i64::MIN).into_iter().next()
    }

    /// Adds the frames after `after_seq` (and at or after `since`) to `backlog`, oldest first.
    pub fn take_after(&self, after_seq: u64, since: Option<DateTime<Utc>>, backlog: &mut Backlog) {
        let from_nanos = since.map_or(i64::MIN, nanos).max(self.oldest_nanos);
        for block in &self.blocks {
            if block.last_seq() > after_seq && block.newest_nanos() >= from_nanos {
                backlog.parts.push(Part::Block {
                    block: block.clone(),
                    after_seq,
                    from_nanos,
                });
            }
        }
        for stored in &self.recent {
            if stored.seq > after_seq && nanos(stored.at) >= from_nanos {
                backlog.parts.push(Part::Frame(stored.frame.clone()));
            }
        }
    }
}

enum Part {
    Frame(Frame),
    Block {
        block: Arc<Block>,
        after_seq: u64,
        from_nanos: i64,
    },
}

/// Frames taken from rings under the hub's lock, in order; deflated blocks are inflated by
/// `into_frames`, once the lock is released, so a long read never holds up publishing.
#[derive(Default)]
pub struct Backlog {
    parts: Vec<Part>,
}

impl Backlog {
    pub fn push(&mut self, frame: Frame) {
        self.parts.push(Part::Frame(frame));
    }

    pub fn extend(&mut self, frames: impl IntoIterator<Item = Frame>) {
        self.parts.extend(frames.into_iter().map(Part::Frame));
    }

    pub fn into_frames(self) -> Vec<Frame> {
        let mut frames = Vec::new();
        for part in self.parts {
            match part {
                Part::Frame(frame) => frames.push(frame),
                Part::Block {
                    block,
                    after_seq,
                    from_nanos,
                } => frames.extend(block.inflate(after_seq, from_nanos)),
            }
        }
        frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + second, 0).unwrap()
    }

    fn frame(seq: u64) -> Frame {
        format!(r#"{{"seq":{seq},"data":{{"text":"a\nb","values":[1,2,3]}}}}"#).into()
    }

    /// A ring of `count` frames, one a second, numbered from 1.
    fn ring(count: u64) -> Ring {
        let mut ring = Ring::new(true);
        for seq in 1..=count {
            ring.push(Stored {
                seq,
                at: at(seq as i64),
                frame: frame(seq),
            });
        }
        ring
    }

    fn frames(ring: &Ring, after_seq: u64, since: Option<DateTime<Utc>>) -> Vec<Frame> {
        let mut backlog = Backlog::default();
        ring.take_after(after_seq, since, &mut backlog);
        backlog.into_frames()
    }

    #[test]
    fn older_frames_are_deflated_and_read_back_whole_and_in_order() {
        let ring = ring(1000);
        assert!(ring.recent.len() < RECENT_FRAMES + BLOCK_FRAMES);
        assert!(ring.recent.len() >= RECENT_FRAMES);
        assert_eq!(ring.blocks.len(), (1000 - ring.recent.len()) / BLOCK_FRAMES);
        let deflated = ring.blocks.iter().map(|b| b.deflated.len()).sum::<usize>();
        let as_sent = (1..=1000 - ring.recent.len() as u64)
            .map(|s| frame(s).len())
            .sum::<usize>();
        assert!(deflated * 5 < as_sent, "{deflated} of {as_sent} bytes");

        let all = frames(&ring, 0, None);
        assert_eq!(all, (1..=1000).map(frame).collect::<Vec<_>>());
        assert_eq!(ring.len(), 1000);
        assert_eq!(ring.first_seq(), Some(1));
        assert_eq!(ring.newest().map(|s| s.seq), Some(1000));
    }

    #[test]
    fn reads_pick_by_sequence_and_time_across_blocks() {
        let ring = ring(1000);
        assert_eq!(
            frames(&ring, 100, None),
            (101..=1000).map(frame).collect::<Vec<_>>()
        );
        assert_eq!(
            frames(&ring, 0, Some(at(500))),
            (500..=1000).map(frame).collect::<Vec<_>>()
        );
        assert_eq!(frames(&ring, 990, Some(at(10))).len(), 10);
        assert!(frames(&ring, 1000, None).is_empty());
        assert_eq!(ring.find(7), Some(frame(7)));
        assert_eq!(ring.find(999), Some(frame(999)));
        assert_eq!(ring.find(1001), None);
    }

    #[test]
    fn the_window_trims_whole_blocks_and_hides_the_rest_of_a_partial_one() {
        let mut ring = ring(1000);
        assert_eq!(
            ring.drop_older_than(at(300)),
            0,
            "nothing as sent was dropped"
        );
        assert_eq!(ring.first_seq(), Some(300));
        assert_eq!(ring.len(), 701);
        assert_eq!(
            frames(&ring, 0, None),
            (300..=1000).map(frame).collect::<Vec<_>>()
        );
        assert_eq!(ring.find(299), None);
        assert!(ring.blocks.front().unwrap().first_seq <= 300);

        ring.drop_older_than(at(2000));
        assert_eq!(ring.first_seq(), None);
        assert_eq!(ring.len(), 0);
        assert!(frames(&ring, 0, None).is_empty());
    }

    #[test]
    fn a_ring_that_does_not_deflate_keeps_every_frame_as_sent() {
        let mut ring = Ring::new(false);
        for seq in 1..=300 {
            ring.push(Stored {
                seq,
                at: at(seq as i64),
                frame: frame(seq),
            });
        }
        assert!(ring.blocks.is_empty());
        assert_eq!(ring.front_at(), Some(at(1)));
        assert_eq!(ring.pop_front().map(|s| s.seq), Some(1));
        assert_eq!(
            ring.drop_older_than(at(11)),
            (2..=10).map(|s| frame(s).len()).sum::<usize>()
        );
        assert_eq!(ring.first_seq(), Some(11));
    }

    #[test]
    fn a_break_in_the_numbering_ends_a_block_early() {
        let mut ring = Ring::new(true);
        for seq in (1..=10).chain(1001..1300) {
            ring.push(Stored {
                seq,
                at: at(seq as i64),
                frame: frame(seq),
            });
        }
        assert_eq!(ring.blocks[0].at_nanos.len(), 10);
        let all: Vec<Frame> = (1..=10).chain(1001..1300).map(frame).collect();
        assert_eq!(frames(&ring, 0, None), all);
        assert_eq!(ring.find(5), Some(frame(5)));
        assert_eq!(ring.find(1005), Some(frame(1005)));
    }
}
