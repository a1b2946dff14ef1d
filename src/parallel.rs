//! Work spread over every core, in order: the one way tem runs CPU-bound
//! loops (signature checks, QR encoding, page building) on all cores. A
//! panic in a worker is resumed on the caller's thread, as if the loop had
//! run there.

/// How many threads CPU-bound work uses: one per core.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Runs `f` on `items` cut into one contiguous part per core, each part on
/// its own thread, and returns the parts' results in input order.
pub fn par_chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let per = items.len().div_ceil(cores()).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|part| scope.spawn(move || f(part)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// `f` of every item, on every core, in input order.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    par_chunks(items, |part| part.iter().map(&f).collect::<Vec<R>>())
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_input_order_whatever_the_split() {
        for n in [0, 1, 2, 3, 7, 1000] {
            let items: Vec<u32> = (0..n).collect();
            assert_eq!(
                par_map(&items, |x| x * 2),
                items.iter().map(|x| x * 2).collect::<Vec<_>>()
            );
            let parts = par_chunks(&items, |p| p.to_vec());
            assert!(parts.len() <= cores().max(1));
            assert_eq!(parts.concat(), items);
        }
    }

    #[test]
    fn a_worker_panic_reaches_the_caller() {
        let r = std::panic::catch_unwind(|| par_map(&[1, 2, 3], |x| assert_ne!(*x, 2)));
        assert!(r.is_err());
    }
}
