//! Weighted queues: the order in which a reservation tries a worker's queues, drawn at
//! random before each reservation (see [`WorkerBuilder::weighted_queues`]).
//!
//! [`WorkerBuilder::weighted_queues`]: super::WorkerBuilder::weighted_queues

use fastrand::Rng;

/// Puts `items` in an order drawn at random, weighted, without replacement: the first is
/// item `i` with probability `weights[i] / total`, the second is drawn the same way from
/// the items left, and so on. `weights` is reordered alongside `items`.
///
/// Returns how many items were drawn: those of positive weight, now at the front. Items
/// of weight 0 are never drawn; they are left behind the drawn ones.
///
/// The draw works in place and allocates nothing, and its outcome does not depend on the
/// order it starts from, so the same slices can be reordered again for each reservation.
///
/// # Panics
///
/// If `items` and `weights` differ in length.
pub(super) fn order<T>(items: &mut [T], weights: &mut [u32], rng: &mut Rng) -> usize {
    assert_eq!(items.len(), weights.len(), "one weight per item");
    // A u64 cannot overflow: at most `u32::MAX` items of at most `u32::MAX` each.
    let mut left: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    for i in 0..items.len() {
        if left == 0 {
            return i;
        }
        // Items `i..` share `left`; each owns a stretch as long as its weight.
        let mut pick = rng.u64(..left);
        let mut j = i;
        while pick >= u64::from(weights[j]) {
            pick -= u64::from(weights[j]);
            j += 1;
        }
        items.swap(i, j);
        weights.swap(i, j);
        left -= u64::from(weights[i]);
    }
    items.len()
}

/// A worker's weighted queues and its own random generator: [`Weighted::draw`] gives the
/// order for the next reservation.
pub(super) struct Weighted {
    queues: Vec<String>,
    weights: Vec<u32>,
    rng: Rng,
}

impl Weighted {
    /// Copies the queues once; each draw then reorders the copy in place. The generator is
    /// seeded from the thread's one (itself seeded from the clock and the thread).
    pub(super) fn new(queues: &[String], weights: &[u32]) -> Self {
        Weighted {
            queues: queues.to_vec(),
            weights: weights.to_vec(),
            rng: Rng::new(),
        }
    }

    /// The queues in the order the next reservation tries them.
    pub(super) fn draw(&mut self) -> &[String] {
        let drawn = order(&mut self.queues, &mut self.weights, &mut self.rng);
        &self.queues[..drawn]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How often each item came first in `rounds` draws, reordering the same slices each
    /// time (as a worker does).
    fn firsts(weights: &[u32], rounds: usize, seed: u64) -> Vec<usize> {
        let mut items: Vec<usize> = (0..weights.len()).collect();
        let mut weights = weights.to_vec();
        let mut rng = Rng::with_seed(seed);
        let mut counts = vec![0; items.len()];
        for _ in 0..rounds {
            order(&mut items, &mut weights, &mut rng);
            counts[items[0]] += 1;
        }
        counts
    }

    #[test]
    fn every_item_is_drawn_once_with_its_weight() {
        let mut rng = Rng::with_seed(7);
        let mut items = ["a", "b", "c", "d"];
        let mut weights = [5, 1, 2, 9];
        for _ in 0..100 {
            assert_eq!(order(&mut items, &mut weights, &mut rng), 4);
            let mut pairs: Vec<_> = items.iter().copied().zip(weights).collect();
            pairs.sort();
            assert_eq!(pairs, [("a", 5), ("b", 1), ("c", 2), ("d", 9)]);
        }
    }

    #[test]
    fn a_weight_0_item_is_never_drawn() {
        let mut rng = Rng::with_seed(1);
        let mut items = ["zero", "one", "two", "nil"];
        let mut weights = [0, 1, 2, 0];
        for _ in 0..1000 {
            assert_eq!(order(&mut items, &mut weights, &mut rng), 2);
            assert!(items[..2].contains(&"one") && items[..2].contains(&"two"));
        }
        let mut none = [0, 0];
        assert_eq!(order(&mut ["a", "b"], &mut none, &mut rng), 0);
        assert_eq!(order::<u8>(&mut [], &mut [], &mut rng), 0);
    }

    #[test]
    fn equal_weights_come_first_about_equally_often() {
        let counts = firsts(&[4, 4, 4, 4], 40_000, 42);
        for c in counts {
            assert!(
                (9_000..=11_000).contains(&c),
                "{c} of 40000, expected ~10000"
            );
        }
    }

    #[test]
    fn an_item_comes_first_in_proportion_to_its_weight() {
        let counts = firsts(&[3, 1], 40_000, 3);
        assert!((29_000..=31_000).contains(&counts[0]), "{counts:?}");
        // Second place, for a lighter item, is drawn among those left: with weights
        // 6:3:1, `1` is second with probability 6/10 * 3/4 + 1/10 * 3/9 = 0.483.
        let mut items = [0, 1, 2];
        let mut weights = [6, 3, 1];
        let mut rng = Rng::with_seed(9);
        let mut second = 0;
        for _ in 0..40_000 {
            order(&mut items, &mut weights, &mut rng);
            second += usize::from(items[1] == 1);
        }
        assert!((18_500..=20_100).contains(&second), "{second} of 40000");
    }

    #[test]
    fn a_fixed_seed_gives_a_fixed_sequence() {
        let run = |seed| {
            let mut w = Weighted::new(&["a".into(), "b".into(), "c".into()], &[3, 2, 1]);
            w.rng = Rng::with_seed(seed);
            (0..50).map(|_| w.draw().to_vec()).collect::<Vec<_>>()
        };
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }
}
