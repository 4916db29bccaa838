//! Grouping a call's items by queue and cutting them into chunks: each chunk is one
//! script call on one queue's keys, and the answers go back to the items' positions.

use jobs_core::BackendError;
use jobs_core::backend::LeaseStatus;

use crate::keys::QueueKeys;

/// Groups items by queue, keeping each item's position so answers can be put back in order.
pub(crate) fn by_queue<'a, T>(
    items: impl IntoIterator<Item = (usize, &'a str, T)>,
) -> Vec<(&'a str, Vec<(usize, T)>)> {
    let mut groups: Vec<(&str, Vec<(usize, T)>)> = Vec::new();
    for (pos, queue, item) in items {
        match groups.iter_mut().find(|(q, _)| *q == queue) {
            Some((_, group)) => group.push((pos, item)),
            None => groups.push((queue, vec![(pos, item)])),
        }
    }
    groups
}

/// Items of one queue for one script call, with their positions in the caller's list.
pub(crate) struct Chunk<'a, T> {
    pub keys: QueueKeys,
    at: Vec<usize>,
    pub items: Vec<&'a T>,
}

impl<T> Chunk<'_, T> {
    /// Puts the call's answers at their items' positions (an item with no answer keeps
    /// the status it has: stale).
    pub(crate) fn place(&self, answers: Vec<LeaseStatus>, out: &mut [LeaseStatus]) {
        for (pos, answer) in self.at.iter().zip(answers) {
            out[*pos] = answer;
        }
    }
}

/// `items` grouped by queue, in chunks of at most `max` (one script call each): the one
/// skeleton of renew, progress and finish. `keys` names a queue's keys (and refuses an
/// invalid name).
pub(crate) fn chunks<'a, T>(
    items: &'a [T],
    max: usize,
    queue_of: impl Fn(&'a T) -> &'a str,
    keys: impl Fn(&str) -> Result<QueueKeys, BackendError>,
) -> Result<Vec<Chunk<'a, T>>, BackendError> {
    let mut out = Vec::new();
    for (queue, group) in by_queue(items.iter().enumerate().map(|(i, t)| (i, queue_of(t), t))) {
        let mut keys = Some(keys(queue)?);
        let last = group.len().div_ceil(max).saturating_sub(1);
        for (i, chunk) in group.chunks(max).enumerate() {
            // Most calls are one chunk: the keys move into it, a copy only for the others.
            let keys = if i == last { keys.take() } else { keys.clone() };
            out.push(Chunk {
                keys: keys.expect("taken for the last chunk only"),
                at: chunk.iter().map(|(pos, _)| *pos).collect(),
                items: chunk.iter().map(|(_, t)| *t).collect(),
            });
        }
    }
    Ok(out)
}
