//! The twelve buffer tiers: powers of 4 from 32 B to 128 MiB.

use std::fmt;
use std::str::FromStr;

/// Size of a [`Tier::Pico`] buffer: 32 B.
pub(crate) const PICO_SIZE: usize = 32;
/// Size of a [`Tier::Nano`] buffer: 128 B.
pub(crate) const NANO_SIZE: usize = 128;
/// Size of a [`Tier::Micro`] buffer: 512 B.
pub(crate) const MICRO_SIZE: usize = 512;
/// Size of a [`Tier::Small`] buffer: 2 KiB.
pub(crate) const SMALL_SIZE: usize = 2 << 10;
/// Size of a [`Tier::Medium`] buffer: 8 KiB.
pub(crate) const MEDIUM_SIZE: usize = 8 << 10;
/// Size of a [`Tier::Big`] buffer: 32 KiB.
pub(crate) const BIG_SIZE: usize = 32 << 10;
/// Size of a [`Tier::Large`] buffer: 128 KiB.
pub(crate) const LARGE_SIZE: usize = 128 << 10;
/// Size of a [`Tier::Great`] buffer: 512 KiB.
pub(crate) const GREAT_SIZE: usize = 512 << 10;
/// Size of a [`Tier::Huge`] buffer: 2 MiB.
pub(crate) const HUGE_SIZE: usize = 2 << 20;
/// Size of a [`Tier::Vast`] buffer: 8 MiB.
pub(crate) const VAST_SIZE: usize = 8 << 20;
/// Size of a [`Tier::Giant`] buffer: 32 MiB.
pub(crate) const GIANT_SIZE: usize = 32 << 20;
/// Size of a [`Tier::Titan`] buffer: 128 MiB.
pub(crate) const TITAN_SIZE: usize = 128 << 20;

/// A buffer size class. Each tier is four times the one before it.
///
/// ```
/// use iobuf_pool::Tier;
/// assert_eq!(Tier::Small.size(), 2048);
/// assert_eq!(Tier::for_size(2049), Some(Tier::Medium));
/// assert_eq!("SMALL".parse::<Tier>().unwrap(), Tier::Small);
/// assert_eq!(Tier::Small.to_string(), "small");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// 32 B: UUIDs, flags, tiny control messages.
    Pico,
    /// 128 B: HTTP headers, JSON tokens, small RPC payloads.
    Nano,
    /// 512 B: DNS packets, MQTT messages, protocol frames.
    Micro,
    /// 2 KiB: WebSocket frames, small HTTP responses.
    Small,
    /// 8 KiB: TCP segments, gRPC messages, page I/O.
    Medium,
    /// 32 KiB: TLS records, stream chunks.
    Big,
    /// 128 KiB: io_uring buffer rings, bulk network transfers.
    Large,
    /// 512 KiB: database pages, large API responses.
    Great,
    /// 2 MiB: huge-page aligned, memory-mapped files.
    Huge,
    /// 8 MiB: image processing, compressed archives.
    Vast,
    /// 32 MiB: video frames, model weights.
    Giant,
    /// 128 MiB: large data sets.
    Titan,
}

impl Tier {
    /// All twelve tiers, smallest first.
    pub const ALL: [Tier; 12] = [
        Tier::Pico,
        Tier::Nano,
        Tier::Micro,
        Tier::Small,
        Tier::Medium,
        Tier::Big,
        Tier::Large,
        Tier::Great,
        Tier::Huge,
        Tier::Vast,
        Tier::Giant,
        Tier::Titan,
    ];

    /// The size of one buffer of this tier, in bytes.
    pub const fn size(self) -> usize {
        // 32 << (2 × ordinal): each tier is 4× the previous one.
        PICO_SIZE << (2 * self as usize)
    }

    /// The smallest tier whose buffers hold `len` bytes: `0` gives
    /// [`Tier::Pico`], anything above 128 MiB gives `None`.
    ///
    /// ```
    /// use iobuf_pool::Tier;
    /// assert_eq!(Tier::for_size(0), Some(Tier::Pico));
    /// assert_eq!(Tier::for_size(32), Some(Tier::Pico));
    /// assert_eq!(Tier::for_size(33), Some(Tier::Nano));
    /// assert_eq!(Tier::for_size((128 << 20) + 1), None);
    /// ```
    pub const fn for_size(len: usize) -> Option<Tier> {
        let mut i = 0;
        while i < Tier::ALL.len() {
            if len <= Tier::ALL[i].size() {
                return Some(Tier::ALL[i]);
            }
            i += 1;
        }
        None
    }

    /// The lower-case name, as [`Display`](fmt::Display) prints it and
    /// [`FromStr`] reads it.
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Pico => "pico",
            Tier::Nano => "nano",
            Tier::Micro => "micro",
            Tier::Small => "small",
            Tier::Medium => "medium",
            Tier::Big => "big",
            Tier::Large => "large",
            Tier::Great => "great",
            Tier::Huge => "huge",
            Tier::Vast => "vast",
            Tier::Giant => "giant",
            Tier::Titan => "titan",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing a [`Tier`] from an unknown name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseTierError {
    input: String,
}

impl fmt::Display for ParseTierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown tier '{}'; valid tiers: ", self.input)?;
        for (i, t) in Tier::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(t.name())?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseTierError {}

impl FromStr for Tier {
    type Err = ParseTierError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .iter()
            .copied()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| ParseTierError {
                input: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_powers_of_four_from_32_bytes() {
        let expected = [
            32,
            128,
            512,
            2 << 10,
            8 << 10,
            32 << 10,
            128 << 10,
            512 << 10,
            2 << 20,
            8 << 20,
            32 << 20,
            128 << 20,
        ];
        for (t, want) in Tier::ALL.iter().zip(expected) {
            assert_eq!(t.size(), want, "{t}");
        }
        let consts = [
            PICO_SIZE,
            NANO_SIZE,
            MICRO_SIZE,
            SMALL_SIZE,
            MEDIUM_SIZE,
            BIG_SIZE,
            LARGE_SIZE,
            GREAT_SIZE,
            HUGE_SIZE,
            VAST_SIZE,
            GIANT_SIZE,
            TITAN_SIZE,
        ];
        assert_eq!(consts, expected);
        assert!(Tier::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn for_size_picks_the_smallest_tier_that_holds() {
        assert_eq!(Tier::for_size(0), Some(Tier::Pico));
        for t in Tier::ALL {
            assert_eq!(Tier::for_size(t.size()), Some(t));
            assert_eq!(Tier::for_size(t.size() / 4 + 1), Some(t));
        }
        assert_eq!(Tier::for_size(TITAN_SIZE + 1), None);
        assert_eq!(Tier::for_size(usize::MAX), None);
    }

    #[test]
    fn names_round_trip_case_insensitively() {
        for t in Tier::ALL {
            assert_eq!(t.to_string().parse::<Tier>(), Ok(t));
            assert_eq!(t.name().to_uppercase().parse::<Tier>(), Ok(t));
        }
        assert_eq!(" Medium ".parse::<Tier>(), Ok(Tier::Medium));
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let err = "tiny".parse::<Tier>().unwrap_err().to_string();
        assert!(err.contains("'tiny'"), "{err}");
        for t in Tier::ALL {
            assert!(err.contains(t.name()), "{err} lacks {t}");
        }
        assert!("".parse::<Tier>().is_err());
    }
}
