//! Handle registry: C handles are opaque integers (cast to the opaque
//! pointer types), never addresses. A value is issued once per process and
//! looked up in the table of its kind, so a closed, stale, forged or
//! wrong-kind handle is reported as STS_EHANDLE instead of being
//! dereferenced.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use super::status::Status;
use super::sys;

static NEXT_ID: AtomicUsize = AtomicUsize::new(0x1000);

/// Objects of one handle kind, by handle value.
pub struct Table<T> {
    map: Mutex<Option<HashMap<usize, Arc<T>>>>,
}

impl<T> Table<T> {
    /// An empty table (usable in a `static`).
    pub const fn new() -> Table<T> {
        Table {
            map: Mutex::new(None),
        }
    }

    /// Registers `v`; returns its new handle value.
    pub fn insert(&self, v: T) -> usize {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        self.map
            .lock()
            .get_or_insert_with(HashMap::new)
            .insert(id, Arc::new(v));
        id
    }

    /// The object behind a handle value.
    pub fn get(&self, id: usize) -> Result<Arc<T>, Status> {
        self.map
            .lock()
            .as_ref()
            .and_then(|m| m.get(&id).cloned())
            .ok_or(Status(sys::STS_EHANDLE))
    }

    /// Unregisters a handle value; later uses of it fail.
    pub fn remove(&self, id: usize) -> Result<Arc<T>, Status> {
        self.map
            .lock()
            .as_mut()
            .and_then(|m| m.remove(&id))
            .ok_or(Status(sys::STS_EHANDLE))
    }

    /// Unregisters every handle value.
    pub fn drain(&self) -> Vec<Arc<T>> {
        self.map
            .lock()
            .take()
            .map(|m| m.into_values().collect())
            .unwrap_or_default()
    }
}

/// Handle value from an opaque pointer.
pub fn id_of<P>(p: *mut P) -> Result<usize, Status> {
    if p.is_null() {
        Err(Status(sys::STS_ENULL))
    } else {
        Ok(p as usize)
    }
}

/// Opaque pointer from a handle value.
pub fn ptr_of<P>(id: usize) -> *mut P {
    id as *mut P
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_and_foreign_values_are_rejected() {
        let t: Table<u8> = Table::new();
        let other: Table<u8> = Table::new();
        let id = t.insert(7);
        assert_eq!(*t.get(id).unwrap(), 7);
        assert!(other.get(id).is_err());
        t.remove(id).unwrap();
        assert_eq!(t.get(id).unwrap_err(), Status(sys::STS_EHANDLE));
        assert_eq!(t.remove(id).unwrap_err(), Status(sys::STS_EHANDLE));
        assert_ne!(t.insert(1), id);
    }
}
