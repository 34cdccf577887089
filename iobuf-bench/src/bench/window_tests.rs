//! Window-true counting, checked against a pool that timestamps every call.

use super::drive::drive;
use super::{Case, Settings, Target};
use crate::pools::{BenchItem, BenchPool, PoolHandle, PoolKind};
use crate::scenario::builtin;
use iobuf_pool::Tier;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A `Mutex<Vec>` pool whose every get and put is timestamped: the log has
/// one `(got, returned)` per buffer that went out and came back.
struct Timestamped {
    free: Mutex<Vec<Item>>,
    log: Mutex<Vec<(Instant, Instant)>>,
    capacity: usize,
}

struct Item {
    index: usize,
    bytes: Vec<u8>,
    got: Instant,
}

impl BenchItem for Item {
    fn index(&self) -> usize {
        self.index
    }
    fn bytes(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl Timestamped {
    fn new(capacity: usize) -> Self {
        let now = Instant::now();
        let items = (0..capacity)
            .map(|index| Item {
                index,
                bytes: vec![0; 64],
                got: now,
            })
            .collect();
        Timestamped {
            free: Mutex::new(items),
            log: Mutex::new(Vec::new()),
            capacity,
        }
    }
}

struct Handle<'a>(&'a Timestamped);

impl PoolHandle for Handle<'_> {
    type Item = Item;
    fn try_get(&mut self) -> Option<Item> {
        let mut item = self.0.free.lock().unwrap().pop()?;
        item.got = Instant::now();
        Some(item)
    }
    fn get_timeout(&mut self, timeout: Duration) -> Option<Item> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(item) = self.try_get() {
                return Some(item);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::yield_now();
        }
    }
    fn put(&mut self, item: Item) {
        let returned = Instant::now();
        self.0.log.lock().unwrap().push((item.got, returned));
        self.0.free.lock().unwrap().push(item);
    }
}

impl BenchPool for Timestamped {
    type Handle<'a> = Handle<'a>;
    fn handle(&self) -> Handle<'_> {
        Handle(self)
    }
    fn capacity(&self) -> usize {
        self.capacity
    }
    fn drain(&self) -> Vec<usize> {
        self.free
            .lock()
            .unwrap()
            .drain(..)
            .map(|i| i.index)
            .collect()
    }
}

fn case(scenario: &str, threads: usize) -> Case {
    Case {
        scenario: builtin(scenario).unwrap(),
        tier: Tier::Pico,
        capacity: 64,
        threads,
        producers: threads,
        consumers: threads,
        target: Target::Pool(PoolKind::Mutex),
    }
}

fn settings(warmup_ms: u64, duration_ms: u64, rate: Option<f64>) -> Settings {
    Settings {
        warmup: Duration::from_millis(warmup_ms),
        duration: Duration::from_millis(duration_ms),
        cpus: Vec::new(),
        rate,
        sample_every: 1,
        fault_every: None,
        check: crate::measure::CheckLevel::Full,
        fault_kind: crate::cli::FaultKind::Double,
        slow: None,
    }
}

/// 64 threads on however few cores, a window of 2 ms: every pair counted
/// was taken and returned inside the window, so the count is at most the
/// number of logged pairs that lie inside it. Before the fix, threads that
/// never saw the window kept their warm-up counts and the sum ran past
/// everything done inside it.
#[test]
fn only_operations_inside_the_window_count_with_64_threads() {
    for (scenario, warmup) in [("pairs", 20), ("burst", 20), ("pairs", 0)] {
        let pool = Timestamped::new(64);
        let m = drive(
            &pool,
            &case(scenario, 64),
            &settings(warmup, 2, None),
            &mut |_| {},
        )
        .unwrap();
        let (opened, closed) = m.window_edges;
        let log = pool.log.lock().unwrap();
        let inside = log
            .iter()
            .filter(|(got, returned)| *got >= opened && *returned <= closed)
            .count() as u64;
        assert!(
            m.ops <= inside,
            "{scenario}: counted {} pairs, but only {inside} of {} lie inside the window",
            m.ops,
            log.len()
        );
        assert_eq!(m.window, closed - opened);
        assert_eq!(m.lost + m.duplicates, 0);
    }
}

/// `--rate R`: a window of `d` offers `floor(d × R)` operations per thread;
/// nothing more is counted.
#[test]
fn an_open_loop_counts_only_what_was_offered() {
    // (A fresh pool each time: the check after a case drains it.)
    // 1 op/s per thread for 200 ms: nothing is due inside the window.
    let pool = Timestamped::new(64);
    let m = drive(
        &pool,
        &case("pairs", 2),
        &settings(0, 200, Some(1.0)),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(m.ops, 0, "{m:?}");
    // 100 op/s per thread for 200 ms: at most 20 per thread are due.
    let pool = Timestamped::new(64);
    let m = drive(
        &pool,
        &case("pairs", 2),
        &settings(0, 200, Some(100.0)),
        &mut |_| {},
    )
    .unwrap();
    assert!(m.ops <= 40, "{} ops counted, 40 offered", m.ops);
    assert!(m.ops > 0, "{m:?}");
}
