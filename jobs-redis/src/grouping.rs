//! Grouping a call's items by queue and cutting them into chunks: each chunk is one
//! script call on one queue's keys, and the answers go back to the items' positions.

use jobs_core::BackendError;

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
    entries: Vec<(usize, &'a T)>,
}

impl<'a, T> Chunk<'a, T> {
    /// The items, in order.
    pub(crate) fn items(&self) -> impl ExactSizeIterator<Item = &'a T> + Clone + '_ {
        self.entries.iter().map(|(_, t)| *t)
    }

    /// Puts the call's answers at their items' positions (an item with no answer keeps
    /// the answer it has).
    pub(crate) fn place<A>(&self, answers: Vec<A>, out: &mut [A]) {
        for ((pos, _), answer) in self.entries.iter().zip(answers) {
            out[*pos] = answer;
        }
    }
}

/// `items` grouped by queue, in chunks of at most `max` (one script call each): the one
/// skeleton of renew, progress, finish and unique enqueues. `keys` names a queue's keys (and refuses an
/// invalid name).
pub(crate) fn chunks<'a, T>(
    items: &'a [T],
    max: usize,
    queue_of: impl Fn(&'a T) -> &'a str,
    keys: impl Fn(&str) -> Result<QueueKeys, BackendError>,
) -> Result<Vec<Chunk<'a, T>>, BackendError> {
    let mut out = Vec::new();
    for (queue, group) in by_queue(items.iter().enumerate().map(|(i, t)| (i, queue_of(t), t))) {
        let keys = keys(queue)?;
        if group.len() <= max {
            // The common case, one call for the queue: the group is the chunk, no copy.
            out.push(Chunk {
                keys,
                entries: group,
            });
            continue;
        }
        for chunk in group.chunks(max) {
            out.push(Chunk {
                keys: keys.clone(),
                entries: chunk.to_vec(),
            });
        }
    }
    Ok(out)
}
