//! The in-memory backend's event stream: the counterpart of a Redis stream per queue, with
//! the same entry numbering and the same grouping (one entry per transition and kind).

use std::collections::VecDeque;

use crate::store::event::{EntryId, Event, EventCursor, EventKind};
use crate::store::id::JobId;

/// The order in which one transition's entries are appended (as the Lua scripts do): a
/// job's `Failed` always comes before its `Retrying` or `Dead`.
const KIND_ORDER: [&str; 8] = [
    "enqueued",
    "started",
    "progress",
    "succeeded",
    "failed",
    "retrying",
    "dead",
    "cancelled",
];

#[derive(Default)]
pub(crate) struct EventLog {
    entries: VecDeque<(EntryId, Vec<(JobId, EventKind)>)>,
    last: Option<EntryId>,
    /// Events of the transition in progress, appended by [`EventLog::flush`].
    pending: Vec<(JobId, EventKind)>,
}

impl EventLog {
    pub(crate) fn push(&mut self, job: JobId, kind: EventKind) {
        self.pending.push((job, kind));
    }

    /// Appends the pending events as entries (one per kind) and trims the log to
    /// `max_len` entries (0: events are off). True when something was appended.
    pub(crate) fn flush(&mut self, now_ms: u64, max_len: usize) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        let pending = std::mem::take(&mut self.pending);
        if max_len == 0 {
            return false;
        }
        for kind in KIND_ORDER {
            let group: Vec<_> = pending
                .iter()
                .filter(|(_, k)| k.name() == kind)
                .cloned()
                .collect();
            if group.is_empty() {
                continue;
            }
            let id = match self.last {
                Some(last) if last.ms >= now_ms => EntryId {
                    ms: last.ms,
                    seq: last.seq + 1,
                },
                _ => EntryId { ms: now_ms, seq: 0 },
            };
            self.last = Some(id);
            self.entries.push_back((id, group));
        }
        while self.entries.len() > max_len {
            self.entries.pop_front();
        }
        true
    }

    /// Events strictly after `after` (from the oldest kept when `None`), from at most
    /// `max_entries` entries.
    pub(crate) fn read(&self, after: Option<&EventCursor>, max_entries: usize) -> Vec<Event> {
        let mut out = Vec::new();
        let mut taken = 0;
        for (entry, events) in &self.entries {
            if taken >= max_entries {
                break;
            }
            let skip = match after {
                Some(c) if *entry < c.entry => continue,
                Some(c) if *entry == c.entry => c.index as usize + 1,
                _ => 0,
            };
            if skip >= events.len() {
                continue;
            }
            taken += 1;
            out.extend(
                events
                    .iter()
                    .enumerate()
                    .skip(skip)
                    .map(|(i, (job, kind))| Event {
                        cursor: EventCursor {
                            entry: *entry,
                            index: i as u32,
                        },
                        job: *job,
                        kind: kind.clone(),
                    }),
            );
        }
        out
    }

    /// The cursor of the newest event.
    pub(crate) fn last_cursor(&self) -> Option<EventCursor> {
        let (entry, events) = self.entries.back()?;
        Some(EventCursor {
            entry: *entry,
            index: events.len().saturating_sub(1) as u32,
        })
    }
}
