//! The latest snapshot, read by REST, Prometheus and the process scans without ever collecting.

use crate::server::collect::Snapshot;
use crate::server::runtime::lock;
use crate::wire::GpuStatus;
use std::sync::{Arc, RwLock};

/// The latest snapshot, shared with REST and Prometheus so a request never triggers a collection,
/// and the GPU status, known from the priming sample on (before the first full tick).
#[derive(Clone, Default, Debug)]
pub struct Latest {
    snapshot: Arc<RwLock<Option<Arc<Snapshot>>>>,
    gpu_status: Arc<RwLock<GpuStatus>>,
}

impl Latest {
    pub fn get(&self) -> Option<Arc<Snapshot>> {
        lock::read(&self.snapshot).clone()
    }

    pub fn gpu_status(&self) -> GpuStatus {
        lock::read(&self.gpu_status).clone()
    }

    pub(crate) fn set(&self, snapshot: Arc<Snapshot>) {
        *lock::write(&self.gpu_status) = snapshot.gpu_status.clone();
        *lock::write(&self.snapshot) = Some(snapshot);
    }

    /// The GPU status before the first full tick (from the priming sample).
    pub(crate) fn set_gpu_status(&self, status: GpuStatus) {
        *lock::write(&self.gpu_status) = status;
    }
}
