//! The pool of a case's target, built anew for every case.

use super::drive::drive;
use super::{Case, CaseError, Measurement, Settings, Target};
use crate::cli::FaultKind;
use crate::format::human_bytes;
use crate::pools::owned::{AsyncPool, OwnedPool, TokioPool};
#[cfg(feature = "peers")]
use crate::pools::peers;
use crate::pools::{
    BatchPool, CachedPool, CeilingPool, Corrupting, CrossbeamPool, DoubleReturn, Losing, MutexPool,
    NoPool, PoolKind,
};
use iobuf_pool::BufferPool;
use iobuf_pool::DEFAULT_CACHE_SIZE;

/// Runs one case; `tick` gets the fraction of the case's time elapsed.
pub fn run_case(
    case: &Case,
    settings: &Settings,
    tick: &mut dyn FnMut(f64),
) -> Result<Measurement, CaseError> {
    let pool_err = |e: iobuf_pool::Error| {
        CaseError::Pool(format!(
            "cannot build a pool of {} {} buffers ({} each): {e}",
            case.capacity,
            case.tier,
            human_bytes(case.tier.size() as u64)
        ))
    };
    let (tier, cap) = (case.tier, case.capacity);
    match case.target {
        Target::Transport => drive(&NoPool, case, settings, tick),
        Target::Ceiling => {
            let pool = CeilingPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::Iobuf) => {
            let pool = BufferPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::IobufRing) => {
            let pool = BufferPool::builder(tier, cap)
                .thread_cache(0)
                .build()
                .map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::IobufTokio) => {
            let pool = TokioPool::new(tier, cap).map_err(pool_err)?;
            super::tokio_rows::drive_tokio(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::IobufFifo) => {
            let pool = BufferPool::builder(tier, cap)
                .thread_cache(0)
                .reuse_slot(false)
                .build()
                .map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::IobufCached) | Target::Fixed { cached: true } => {
            let pool = CachedPool(BufferPool::new(tier, cap).map_err(pool_err)?);
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::IobufThreadCache) => {
            let pool = BufferPool::builder(tier, cap)
                .thread_cache(DEFAULT_CACHE_SIZE)
                .build()
                .map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Batch { cached } => {
            let cache = if cached { DEFAULT_CACHE_SIZE } else { 0 };
            let pool = BufferPool::builder(tier, cap)
                .thread_cache(cache)
                .build()
                .map_err(pool_err)?;
            drive(&BatchPool(pool), case, settings, tick)
        }
        Target::Pool(PoolKind::IobufOwned) => {
            let pool = OwnedPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::IobufAsync) => {
            let pool = AsyncPool(BufferPool::new(tier, cap).map_err(pool_err)?);
            drive(&pool, case, settings, tick)
        }
        Target::Fixed { cached: false } => {
            let pool = BufferPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::Mutex) => {
            let pool = MutexPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        Target::Pool(PoolKind::Crossbeam) => match settings.fault_every {
            Some(every) => match settings.fault_kind {
                FaultKind::Double => {
                    let pool = DoubleReturn::new(tier, cap, every).map_err(pool_err)?;
                    drive(&pool, case, settings, tick)
                }
                FaultKind::Lose => {
                    let pool = Losing::new(tier, cap, every).map_err(pool_err)?;
                    drive(&pool, case, settings, tick)
                }
                FaultKind::Corrupt => {
                    let pool = Corrupting::new(tier, cap, every).map_err(pool_err)?;
                    drive(&pool, case, settings, tick)
                }
            },
            None => {
                let pool = CrossbeamPool::new(tier, cap).map_err(pool_err)?;
                drive(&pool, case, settings, tick)
            }
        },
        #[cfg(feature = "peers")]
        Target::Pool(PoolKind::ShardedSlab) => {
            let pool = peers::ShardedSlabPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        #[cfg(feature = "peers")]
        Target::Pool(PoolKind::LockfreeObjectPool) => {
            let pool = peers::LinearPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        #[cfg(feature = "peers")]
        Target::Pool(PoolKind::Opool) => {
            let pool = peers::OpoolPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        #[cfg(feature = "peers")]
        Target::Pool(PoolKind::ObjectPool) => {
            let pool = peers::ObjectPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        #[cfg(feature = "peers")]
        Target::Pool(PoolKind::ConcurrentQueue) => {
            let pool = peers::ConcurrentQueuePool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        #[cfg(feature = "peers")]
        Target::Pool(PoolKind::ParkingLot) => {
            let pool = peers::ParkingLotPool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
        #[cfg(feature = "peers")]
        Target::Pool(PoolKind::Lfqueue) => {
            let pool = peers::LfqueuePool::new(tier, cap).map_err(pool_err)?;
            drive(&pool, case, settings, tick)
        }
    }
}
