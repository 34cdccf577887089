//! [`Features`]: what the running kernel's io_uring supports, probed (never
//! read from its version), so a missing feature is an `Unsupported` error
//! before anything is registered or submitted.

use super::UringError;
use io_uring::{cqueue, opcode, register::Probe, squeue, IoUring};

/// The io_uring features this module uses, as the kernel reports them:
/// `IORING_FEAT_*` bits from ring setup and `IORING_REGISTER_PROBE` for
/// opcodes.
///
/// ```
/// use iobuf_pool::uring::{Features, UringError};
/// let Ok(ring) = io_uring::IoUring::new(4) else { return }; // no io_uring here
/// let features = Features::probe(&ring).unwrap();
/// match features.require_bundles() {
///     Ok(()) => assert!(features.bundles()),
///     Err(UringError::Unsupported { what }) => println!("no {what}"),
///     Err(e) => panic!("{e}"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    bundles: bool,
    send_zc: bool,
}

impl Features {
    /// Asks the kernel behind `ring`.
    ///
    /// # Errors
    /// The probe call failed for another reason than the kernel not knowing
    /// it (`EINVAL`, which reads as "no opcode known").
    ///
    /// ```
    /// let Ok(ring) = io_uring::IoUring::new(4) else { return };
    /// let f = iobuf_pool::uring::Features::probe(&ring).unwrap();
    /// println!("bundles: {}, zero-copy send: {}", f.bundles(), f.send_zc());
    /// ```
    pub fn probe<S, C>(ring: &IoUring<S, C>) -> Result<Features, UringError>
    where
        S: squeue::EntryMarker,
        C: cqueue::EntryMarker,
    {
        let mut probe = Probe::new();
        let send_zc = match ring.submitter().register_probe(&mut probe) {
            Ok(()) => probe.is_supported(opcode::SendZc::CODE),
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => false,
            Err(source) => {
                return Err(UringError::Register {
                    what: "an opcode probe",
                    source,
                })
            }
        };
        Ok(Features {
            bundles: ring.params().is_feature_recvsend_bundle(),
            send_zc,
        })
    }

    /// Whether recv and send bundles (`IORING_RECVSEND_BUNDLE`) work.
    ///
    /// ```
    /// let Ok(ring) = io_uring::IoUring::new(4) else { return };
    /// let f = iobuf_pool::uring::Features::probe(&ring).unwrap();
    /// assert_eq!(f.bundles(), f.require_bundles().is_ok());
    /// ```
    pub fn bundles(&self) -> bool {
        self.bundles
    }

    /// Whether zero-copy send (`IORING_OP_SEND_ZC`) works.
    ///
    /// ```
    /// let Ok(ring) = io_uring::IoUring::new(4) else { return };
    /// let f = iobuf_pool::uring::Features::probe(&ring).unwrap();
    /// assert_eq!(f.send_zc(), f.require_send_zc().is_ok());
    /// ```
    pub fn send_zc(&self) -> bool {
        self.send_zc
    }

    /// `Ok` where bundles work.
    ///
    /// # Errors
    /// [`UringError::Unsupported`] where they do not.
    ///
    /// ```
    /// let Ok(ring) = io_uring::IoUring::new(4) else { return };
    /// let f = iobuf_pool::uring::Features::probe(&ring).unwrap();
    /// if let Err(e) = f.require_bundles() { println!("{e}") }
    /// ```
    pub fn require_bundles(&self) -> Result<(), UringError> {
        if self.bundles {
            Ok(())
        } else {
            Err(UringError::Unsupported {
                what: "recv/send bundles (IORING_RECVSEND_BUNDLE)",
            })
        }
    }

    /// `Ok` where zero-copy send works.
    ///
    /// # Errors
    /// [`UringError::Unsupported`] where it does not.
    ///
    /// ```
    /// let Ok(ring) = io_uring::IoUring::new(4) else { return };
    /// let f = iobuf_pool::uring::Features::probe(&ring).unwrap();
    /// if let Err(e) = f.require_send_zc() { println!("{e}") }
    /// ```
    pub fn require_send_zc(&self) -> Result<(), UringError> {
        if self.send_zc {
            Ok(())
        } else {
            Err(UringError::Unsupported {
                what: "zero-copy send (IORING_OP_SEND_ZC)",
            })
        }
    }
}
