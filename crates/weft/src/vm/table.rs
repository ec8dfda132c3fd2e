//! Tables of references.
//!
//! ```text
//! VMTableDefinition --base--> [usize; current_elements]   (heap, may move
//!                                                         on growth)
//! element = 0 for null; a funcref is a *const VMFuncRef; an externref is
//! the store's extern-reference index + 1.
//! ```

use super::vmcontext::VMTableDefinition;
use crate::Result;
use crate::types::TableType;
use anyhow::anyhow;

/// Hard cap on elements per table, whatever the declared maximum.
pub(crate) const MAX_TABLE_ELEMENTS: u64 = 10_000_000;

/// A table owned by a store.
pub(crate) struct TableData {
    elems: Vec<usize>,
    /// Record read by generated code; boxed so its address is stable.
    pub(crate) def: Box<VMTableDefinition>,
    pub(crate) ty: TableType,
}

impl TableData {
    pub(crate) fn new(ty: TableType, init: usize) -> Result<TableData> {
        if ty.min > MAX_TABLE_ELEMENTS {
            return Err(anyhow!(
                "table minimum size of {} elements exceeds weft's limit of {MAX_TABLE_ELEMENTS}",
                ty.min
            ));
        }
        let mut elems = Vec::new();
        elems.try_reserve_exact(ty.min as usize).map_err(|_| {
            anyhow!(
                "out of host memory allocating a table of {} elements",
                ty.min
            )
        })?;
        elems.resize(ty.min as usize, init);
        let def = Box::new(VMTableDefinition {
            base: elems.as_mut_ptr(),
            current_elements: 0,
        });
        let mut t = TableData { elems, def, ty };
        t.sync();
        Ok(t)
    }

    fn sync(&mut self) {
        self.def.base = self.elems.as_mut_ptr();
        self.def.current_elements = self.elems.len();
    }

    pub(crate) fn len(&self) -> u64 {
        self.elems.len() as u64
    }

    pub(crate) fn get(&self, i: u64) -> Option<usize> {
        self.elems.get(usize::try_from(i).ok()?).copied()
    }

    pub(crate) fn set(&mut self, i: u64, v: usize) -> bool {
        match usize::try_from(i).ok().and_then(|i| self.elems.get_mut(i)) {
            Some(slot) => {
                *slot = v;
                true
            }
            None => false,
        }
    }

    pub(crate) fn elems(&self) -> &[usize] {
        &self.elems
    }

    pub(crate) fn elems_mut(&mut self) -> &mut [usize] {
        &mut self.elems
    }

    /// Grows by `delta` elements set to `init`; `None` when the table may
    /// not grow that far (not a trap).
    #[cfg(test)]
    pub(crate) fn grow(&mut self, delta: u64, init: usize) -> Option<u64> {
        self.try_grow(delta, init).ok()
    }

    /// As [`TableData::grow`], saying why the growth failed. A host
    /// allocation failure is such an error, not an abort.
    pub(crate) fn try_grow(&mut self, delta: u64, init: usize) -> Result<u64> {
        let old = self.len();
        let index_max = if self.ty.table64 {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        let max = self
            .ty
            .max
            .unwrap_or(index_max)
            .min(index_max)
            .min(MAX_TABLE_ELEMENTS);
        let new = old
            .checked_add(delta)
            .filter(|n| *n <= max)
            .ok_or_else(|| {
                anyhow!("table of {old} elements cannot grow by {delta}: its maximum is {max}")
            })?;
        self.elems
            .try_reserve_exact((new - old) as usize)
            .map_err(|_| anyhow!("out of host memory growing a table to {new} elements"))?;
        self.elems.resize(new as usize, init);
        self.sync();
        Ok(old)
    }

    /// The type with the current size as minimum.
    pub(crate) fn current_ty(&self) -> TableType {
        TableType {
            min: self.len(),
            ..self.ty
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RefType;

    #[test]
    fn grow_updates_definition() {
        let mut t = TableData::new(TableType::new(RefType::FUNCREF, 2, Some(4)), 0).unwrap();
        assert_eq!(t.def.current_elements, 2);
        assert_eq!(t.grow(2, 9), Some(2));
        assert_eq!(t.def.current_elements, 4);
        assert_eq!(t.def.base, t.elems.as_mut_ptr());
        assert_eq!(t.get(3), Some(9));
        assert_eq!(t.grow(1, 0), None);
        assert!(!t.set(4, 1));
    }
}
