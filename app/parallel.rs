//! The one policy for spreading work over threads: one per core, at most eight (the machines this
//! runs on have two to eight), and never more than there are pieces of work. Used by the kit's
//! rendering, the scan import's decoding, the hand-off's messages and files, and the password
//! checks against every account.

/// Threads for work of `pieces` independent pieces: one per core, at most eight, at most one per
/// piece, at least one.
pub fn threads_for(pieces: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.clamp(1, 8).min(pieces.max(1))
}

/// At least `min` threads, even on one core (writing files overlaps waiting for the disk).
pub fn threads_at_least(min: usize) -> usize {
    std::thread::available_parallelism().map_or(min, |n| n.get()).clamp(min.max(1), 8)
}

/// `f` of each of `items`, in their order, computed in one chunk per thread.
pub fn map_in_chunks<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let chunk = items.len().div_ceil(threads.max(1)).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        // Callers catch what can fail in `f`, so a join fails only if `f` itself panicked: then
        // so does this, as it would have on one thread.
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_the_order_of_the_items_whatever_the_threads() {
        let items: Vec<usize> = (0..1001).collect();
        for threads in [1, 2, 3, 8] {
            assert_eq!(
                map_in_chunks(&items, threads, |i| i * 2),
                items.iter().map(|i| i * 2).collect::<Vec<_>>()
            );
        }
        assert!(map_in_chunks(&[] as &[usize], 4, |i| *i).is_empty());
        assert!(threads_at_least(2) >= 2);
        assert_eq!(threads_for(1), 1, "never more threads than pieces");
        assert!((1..=8).contains(&threads_for(100)));
    }
}
