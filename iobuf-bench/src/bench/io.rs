//! `io`: each worker reads its own scratch file through its own
//! io_uring into pool buffers, several reads in flight, checking every
//! buffer's bytes against the file before returning it.

use super::phase::Shared;
use super::worker::{ItemOf, Worker};
use super::{Case, CaseError, Target};
use crate::io::{IoThread, SetupError};
use crate::measure::{record, Recorder};
use crate::pools::{BenchItem, BenchPool, PoolHandle};
use crate::scenario::IoParams;
use std::time::Instant;

/// Each io worker's ring and scratch file, made before the threads start
/// so that a failure is an error of the case, not of a thread, and writing
/// the files stays out of the measured time.
pub fn io_setup<'p, P: BenchPool>(
    pool: &'p P,
    case: &Case,
    params: &IoParams,
) -> Result<Vec<IoThread<'p>>, CaseError> {
    let fixed = match case.target {
        Target::Fixed { .. } => Some(pool.buffer_pool().ok_or_else(|| {
            CaseError::Setup(format!("{}: this pool has no fixed buffers", case.label()))
        })?),
        _ => None,
    };
    // Differs per case, so no two scratch files of a run hold the same words.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (0..case.threads)
        .map(|id| {
            IoThread::new(params, case.tier.size(), id, nonce, fixed).map_err(|e| match e {
                SetupError::Unavailable(why) | SetupError::Other(why) => CaseError::Setup(why),
                SetupError::Fixed(why) => {
                    CaseError::Skipped(format!("{} skipped: {why}", case.label()))
                }
            })
        })
        .collect()
}

/// A read in flight. Its buffer stays here, owned, until the completion
/// has been reaped: the kernel writes into it until then.
struct InFlight<I> {
    item: I,
    offset: u64,
    t0: Option<Instant>,
}

/// Submits what is queued and waits for a completion, through signals.
fn submit_and_wait(ring: &mut io_uring::IoUring) -> Result<(), String> {
    loop {
        match ring.submit_and_wait(1) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // The kernel is short of room for completions: reap what is there.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::EAGAIN)) => {
                if !ring.completion().is_empty() {
                    return Ok(());
                }
                std::thread::yield_now();
            }
            Err(e) => return Err(format!("io_uring_enter failed: {e}")),
        }
    }
}

/// The reads that have completed: check each buffer against the file,
/// give up its claim and return it. `count`: while measuring (not while
/// draining after the window).
fn reap<H: PoolHandle>(
    io: &mut IoThread<'_>,
    slots: &mut [Option<InFlight<H::Item>>],
    free: &mut Vec<usize>,
    w: &mut Worker<'_, H>,
    count: bool,
) {
    let (seed, len) = (io.seed(), io.read_len());
    for cqe in io.ring.completion() {
        let k = cqe.user_data() as usize;
        let Some(InFlight {
            mut item,
            offset,
            t0,
        }) = slots.get_mut(k).and_then(Option::take)
        else {
            w.rec.error.get_or_insert_with(|| {
                format!("a completion for read {k}, which is not in flight")
            });
            continue;
        };
        free.push(k);
        match iobuf_pool::uring::cqe_result(cqe.result()) {
            Ok(n) => {
                if !crate::io::verify(item.bytes(), seed, offset, len, n as usize) {
                    w.rec.corrupted += 1;
                }
            }
            Err(e) => {
                w.rec
                    .error
                    .get_or_insert_with(|| format!("a read of the scratch file failed: {e}"));
            }
        }
        w.release_ownership(&item);
        w.put(item, count && t0.is_some());
        if count {
            if let Some(t0) = t0 {
                record(&mut w.rec.end_to_end, t0.elapsed());
            }
            w.complete_op();
        }
    }
}

/// Gets a buffer, reads part of this thread's file into it through its
/// ring, waits for the completion, checks it and returns the buffer;
/// `depth` reads in flight at most. Only the first get of a round may wait
/// for a buffer, so a thread never waits while holding some (as in burst).
pub fn io_worker<P: BenchPool>(
    pool: &P,
    id: usize,
    sh: &Shared<'_>,
    mut io: IoThread<'_>,
    depth: usize,
) -> Recorder {
    let mut w = Worker::new(pool.handle(), id, sh);
    let mut slots: Vec<Option<InFlight<ItemOf<'_, P>>>> = (0..depth).map(|_| None).collect();
    let mut free: Vec<usize> = (0..depth).rev().collect();
    w.start();
    while w.running() && w.rec.error.is_none() {
        while let Some(&k) = free.last() {
            let first = free.len() == depth;
            let Some((mut item, t0)) = w.get(first) else {
                break;
            };
            w.take_ownership(&item);
            let offset = io.next_offset();
            let bytes = item.bytes();
            crate::io::poison(bytes, io.seed(), offset, io.read_len());
            let pushed = io
                .read_entry(bytes.as_mut_ptr(), item.index(), offset, k as u64)
                .and_then(|entry| {
                    // The buffer's owner (`item`) goes into slots[k] and
                    // leaves it only in `reap`, after the completion, or is
                    // leaked below if the ring fails.
                    // SAFETY: so the bytes stay valid until the completion is
                    // reaped; the file lives in `io` as long as the ring.
                    unsafe { io.ring.submission().push(&entry) }
                        .map_err(|_| "the submission queue is full".to_string())
                });
            if let Err(why) = pushed {
                // Never submitted: the buffer goes back as it is.
                sh.ownership.release(item.index());
                w.h.put(item);
                w.rec.error.get_or_insert(why);
                break;
            }
            free.pop();
            slots[k] = Some(InFlight { item, offset, t0 });
        }
        if free.len() == depth {
            // Nothing in flight: the case stopped while waiting for a buffer.
            break;
        }
        if let Err(why) = submit_and_wait(&mut io.ring) {
            return abandon(w, why, io, slots);
        }
        reap(&mut io, &mut slots, &mut free, &mut w, true);
    }
    // Every read in flight completes before its buffer goes back.
    while free.len() < depth {
        if let Err(why) = submit_and_wait(&mut io.ring) {
            return abandon(w, why, io, slots);
        }
        reap(&mut io, &mut slots, &mut free, &mut w, false);
    }
    w.finish()
}

/// The ring failed with reads in flight: whether the kernel will still
/// write into their buffers is unknown, so the buffers and the ring are
/// leaked rather than reused or freed, and the case fails (the run stops
/// at once).
#[cold]
fn abandon<H: PoolHandle>(
    w: Worker<'_, H>,
    why: String,
    io: IoThread<'_>,
    slots: Vec<Option<InFlight<H::Item>>>,
) -> Recorder {
    std::mem::forget(slots);
    std::mem::forget(io);
    let mut rec = w.finish();
    rec.error.get_or_insert(why);
    rec
}
