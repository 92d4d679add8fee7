//! Producing items on a thread of their own, in batches: the machinery behind [`ReadAhead`] and
//! [`FlatReader::read_ahead`].
//!
//! The producing thread fills batches and hands them over through a bounded channel; the consumer takes items out
//! of a batch in place and returns each spent batch, which the producing thread empties (dropping what is left
//! in it there, not on the consumer's thread) and fills again.
//!
//! [`ReadAhead`]: crate::ReadAhead
//! [`FlatReader::read_ahead`]: crate::FlatReader::read_ahead

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Items per batch.
const BATCH: usize = 512;

/// Batches produced and not yet taken, at most.
const BATCHES: usize = 4;

/// The consumer's end of a producing thread.
pub(crate) struct Batches<T> {
    full: Receiver<Vec<Option<T>>>,
    spent: SyncSender<Vec<Option<T>>>,
    batch: Vec<Option<T>>,
    /// The next item of `batch`.
    pos: usize,
    thread: Option<JoinHandle<()>>,
}

/// What [`Batches::advance`] found.
pub(crate) enum Next<'a, T> {
    /// The next item, in place (take it, or borrow it until the next call).
    Item(&'a mut Option<T>),
    /// The producer is done.
    End,
    /// The producing thread panicked: its items end early.
    Died,
}

impl<T: Send + 'static> Batches<T> {
    /// Starts a thread named `name` that turns `state` into an iterator with `start` and sends its items. Gives
    /// `state` back if no thread can be started.
    pub(crate) fn spawn<S, I, F>(name: &str, state: S, start: F) -> Result<Batches<T>, S>
    where
        S: Send + 'static,
        I: Iterator<Item = T>,
        F: FnOnce(S) -> I + Send + 'static,
    {
        let (tx, full) = sync_channel(BATCHES);
        let (spent, returned) = sync_channel::<Vec<Option<T>>>(BATCHES + 2);
        // The state is handed over once the thread runs, so that it stays the caller's if the thread cannot start.
        let (give, take) = sync_channel::<S>(1);
        let spawned = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let Ok(state) = take.recv() else {
                    return;
                };
                let mut batch = Vec::with_capacity(BATCH);
                for item in start(state) {
                    batch.push(Some(item));
                    if batch.len() == BATCH {
                        let next = match returned.try_recv() {
                            Ok(mut b) => {
                                b.clear();
                                b
                            }
                            Err(_) => Vec::with_capacity(BATCH),
                        };
                        if tx.send(std::mem::replace(&mut batch, next)).is_err() {
                            return;
                        }
                    }
                }
                if !batch.is_empty() {
                    let _ = tx.send(batch);
                }
            });
        let Ok(thread) = spawned else {
            return Err(state);
        };
        if let Err(std::sync::mpsc::SendError(state)) = give.send(state) {
            return Err(state);
        }
        Ok(Batches {
            full,
            spent,
            batch: Vec::new(),
            pos: 0,
            thread: Some(thread),
        })
    }
}

impl<T> Batches<T> {
    /// The item `k` places after the next one, if it is in the batch at hand.
    pub(crate) fn peek(&self, k: usize) -> Option<&T> {
        self.batch.get(self.pos + k)?.as_ref()
    }

    /// Moves to the next item.
    pub(crate) fn advance(&mut self) -> Next<'_, T> {
        match self.forward() {
            Status::Item => Next::Item(&mut self.batch[self.pos - 1]),
            Status::End => Next::End,
            Status::Died => Next::Died,
        }
    }

    /// Moves to the next item, to be used with [`Batches::current`] (for callers that return a borrow of some
    /// items and skip others: `advance`'s borrow would outlast the loop).
    pub(crate) fn forward(&mut self) -> Status {
        loop {
            if self.pos < self.batch.len() {
                self.pos += 1;
                if self.batch[self.pos - 1].is_some() {
                    return Status::Item;
                }
                continue;
            }
            match self.full.recv() {
                Ok(next) => {
                    let spent = std::mem::replace(&mut self.batch, next);
                    self.pos = 0;
                    // Emptied by the producing thread; dropped here only when it has enough spare batches.
                    let _ = self.spent.try_send(spent);
                }
                Err(_) => {
                    // The thread is done: it ended with its items, or it died, which must not pass for the end.
                    let Some(thread) = self.thread.take() else {
                        return Status::End;
                    };
                    return match thread.join() {
                        Ok(()) => Status::End,
                        Err(_) => Status::Died,
                    };
                }
            }
        }
    }

    /// The place of the item [`Batches::forward`] moved to (`None` before the first item; holding `None` once
    /// the item is taken).
    pub(crate) fn current(&mut self) -> Option<&mut Option<T>> {
        let i = self.pos.checked_sub(1)?;
        self.batch.get_mut(i)
    }
}

/// What [`Batches::forward`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// An item: see [`Batches::current`].
    Item,
    /// The producer is done.
    End,
    /// The producing thread panicked: its items end early.
    Died,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yields_every_item_in_order() {
        let Ok(mut b) = Batches::spawn("test", 3 * BATCH + 7, |n| 0..n) else {
            panic!("no thread")
        };
        let mut got = Vec::new();
        while let Next::Item(slot) = b.advance() {
            got.extend(slot.take());
        }
        assert_eq!(got, (0..3 * BATCH + 7).collect::<Vec<_>>());
        assert!(matches!(b.advance(), Next::End));
    }

    #[test]
    fn a_dead_producer_is_reported() {
        let Ok(mut b) = Batches::spawn("test", (), |()| {
            (0..10).map(|i| if i < 5 { i } else { panic!("producer fails") })
        }) else {
            panic!("no thread")
        };
        let mut n = 0;
        let died = loop {
            match b.advance() {
                Next::Item(_) => n += 1,
                Next::End => break false,
                Next::Died => break true,
            }
        };
        assert!(died);
        // The half-filled batch died with the thread.
        assert_eq!(n, 0);
    }
}
