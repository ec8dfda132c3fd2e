//! Resource limits for untrusted guests: what a store's instances may
//! allocate ([`ResourceLimiter`], installed with [`crate::Store::limiter`])
//! and a ready-made policy ([`StoreLimits`], built with
//! [`StoreLimitsBuilder`]).
//!
//! The limiter is asked before every growth of a linear memory or a table
//! (`memory.grow` / `table.grow` from wasm, [`crate::Memory::grow`] /
//! [`crate::Table::grow`] from the host) and before the initial allocation
//! of every memory and table; the instance, table and memory counts are
//! checked when a module is instantiated. CPU time is limited separately,
//! with fuel ([`crate::Config::consume_fuel`]) or epochs
//! ([`crate::Config::epoch_interruption`]).
//!
//! ```text
//! grow request --> limiter.memory_growing(current, desired, maximum)
//!                     Ok(true)  -> try to grow; if that fails:
//!                                  limiter.memory_grow_failed(error)
//!                                    Ok(())  -> memory.grow returns -1
//!                                    Err(e)  -> trap carrying e
//!                     Ok(false) -> memory.grow returns -1
//!                     Err(e)    -> trap carrying e (host: Err(e))
//! ```

use crate::Result;

/// Instances a store may hold when its limiter does not say otherwise.
pub const DEFAULT_INSTANCE_LIMIT: usize = 10_000;
/// Tables (defined by instances) a store may hold by default.
pub const DEFAULT_TABLE_LIMIT: usize = 10_000;
/// Memories (defined by instances) a store may hold by default.
pub const DEFAULT_MEMORY_LIMIT: usize = 10_000;

/// Decides how far the memories and tables of a store may grow, and how
/// many instances, tables and memories it may hold.
///
/// Install one with [`crate::Store::limiter`]. Every method may be called
/// from inside running wasm (for `memory.grow` / `table.grow`); an `Err`
/// returned there becomes a trap whose error is the one returned.
pub trait ResourceLimiter {
    /// A linear memory wants to grow from `current` to `desired` bytes
    /// (`current` is 0 when the memory is being created). `maximum` is the
    /// memory's declared maximum in bytes, if any.
    ///
    /// `Ok(true)` allows the growth (it may still fail if it exceeds the
    /// memory's own limits), `Ok(false)` refuses it (`memory.grow` returns
    /// -1; creating a memory fails), `Err` traps.
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool>;

    /// An allowed memory growth failed anyway (beyond the memory's maximum,
    /// or the host could not provide the memory). `Ok(())` lets
    /// `memory.grow` return -1; `Err` traps. The default returns `Ok(())`.
    fn memory_grow_failed(&mut self, error: crate::Error) -> Result<()> {
        let _ = error;
        Ok(())
    }

    /// A table wants to grow from `current` to `desired` elements
    /// (`current` is 0 when the table is being created). `maximum` is the
    /// table's declared maximum, if any. Results as for
    /// [`ResourceLimiter::memory_growing`].
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool>;

    /// An allowed table growth failed anyway; as
    /// [`ResourceLimiter::memory_grow_failed`].
    fn table_grow_failed(&mut self, error: crate::Error) -> Result<()> {
        let _ = error;
        Ok(())
    }

    /// How many instances the store may hold. Read once, when the limiter
    /// is installed. Default [`DEFAULT_INSTANCE_LIMIT`].
    fn instances(&self) -> usize {
        DEFAULT_INSTANCE_LIMIT
    }

    /// How many tables defined by instances the store may hold. Read once,
    /// when the limiter is installed. Default [`DEFAULT_TABLE_LIMIT`].
    fn tables(&self) -> usize {
        DEFAULT_TABLE_LIMIT
    }

    /// How many memories defined by instances the store may hold. Read
    /// once, when the limiter is installed. Default [`DEFAULT_MEMORY_LIMIT`].
    fn memories(&self) -> usize {
        DEFAULT_MEMORY_LIMIT
    }
}

/// A [`ResourceLimiter`] with fixed limits; build one with
/// [`StoreLimitsBuilder`] and keep it in the store's data:
///
/// ```
/// use weft::{Engine, Store, StoreLimits, StoreLimitsBuilder};
/// struct Data { limits: StoreLimits }
/// let engine = Engine::default();
/// let limits = StoreLimitsBuilder::new().memory_size(1 << 20).instances(2).build();
/// let mut store = Store::new(&engine, Data { limits });
/// store.limiter(|d| &mut d.limits);
/// ```
#[derive(Debug, Clone)]
pub struct StoreLimits {
    memory_size: Option<usize>,
    table_elements: Option<usize>,
    instances: usize,
    tables: usize,
    memories: usize,
    trap_on_grow_failure: bool,
}

impl Default for StoreLimits {
    fn default() -> StoreLimits {
        StoreLimits {
            memory_size: None,
            table_elements: None,
            instances: DEFAULT_INSTANCE_LIMIT,
            tables: DEFAULT_TABLE_LIMIT,
            memories: DEFAULT_MEMORY_LIMIT,
            trap_on_grow_failure: false,
        }
    }
}

impl ResourceLimiter for StoreLimits {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool> {
        let allow =
            self.memory_size.is_none_or(|l| desired <= l) && maximum.is_none_or(|m| desired <= m);
        if !allow && self.trap_on_grow_failure {
            anyhow::bail!(
                "memory growth to {desired} bytes refused by the store's limits (memory_size {:?})",
                self.memory_size
            );
        }
        Ok(allow)
    }

    fn memory_grow_failed(&mut self, error: crate::Error) -> Result<()> {
        if self.trap_on_grow_failure {
            Err(error.context("memory growth failed"))
        } else {
            Ok(())
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool> {
        let allow = self.table_elements.is_none_or(|l| desired <= l)
            && maximum.is_none_or(|m| desired <= m);
        if !allow && self.trap_on_grow_failure {
            anyhow::bail!(
                "table growth to {desired} elements refused by the store's limits (table_elements {:?})",
                self.table_elements
            );
        }
        Ok(allow)
    }

    fn table_grow_failed(&mut self, error: crate::Error) -> Result<()> {
        if self.trap_on_grow_failure {
            Err(error.context("table growth failed"))
        } else {
            Ok(())
        }
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}

/// Builds a [`StoreLimits`]. Everything is unlimited (apart from the
/// default counts) unless set.
#[derive(Debug, Clone, Default)]
pub struct StoreLimitsBuilder(StoreLimits);

impl StoreLimitsBuilder {
    /// A builder with no limits set.
    pub fn new() -> StoreLimitsBuilder {
        StoreLimitsBuilder::default()
    }

    /// The largest size, in bytes, any one linear memory may reach.
    pub fn memory_size(mut self, bytes: usize) -> Self {
        self.0.memory_size = Some(bytes);
        self
    }

    /// The largest number of elements any one table may reach.
    pub fn table_elements(mut self, elements: usize) -> Self {
        self.0.table_elements = Some(elements);
        self
    }

    /// How many instances the store may hold.
    pub fn instances(mut self, n: usize) -> Self {
        self.0.instances = n;
        self
    }

    /// How many tables (defined by instances) the store may hold.
    pub fn tables(mut self, n: usize) -> Self {
        self.0.tables = n;
        self
    }

    /// How many memories (defined by instances) the store may hold.
    pub fn memories(mut self, n: usize) -> Self {
        self.0.memories = n;
        self
    }

    /// Whether a refused or failed growth traps instead of making
    /// `memory.grow` / `table.grow` return -1. Default false.
    pub fn trap_on_grow_failure(mut self, trap: bool) -> Self {
        self.0.trap_on_grow_failure = trap;
        self
    }

    /// The limits.
    pub fn build(self) -> StoreLimits {
        self.0
    }
}
