//! Limits on what an untrusted module may ask of the compiler, checked
//! while the module is parsed (before anything is compiled), and the one
//! result value by which a growth builtin asks generated code to trap.
//!
//! Every limit is optional; unset, only `wasmparser`'s own implementation
//! limits apply (for example at most 1,000,000 functions, 50,000 locals
//! per function and 7,654,321 bytes per function body).

use anyhow::{Result, bail};

/// Returned by the `MemoryGrow` and `TableGrow` builtins when the store's
/// resource limiter turned the growth into an error: the error is parked
/// in the store and generated code traps with `Trap::HostError`. (No
/// memory or table can have this many pages or elements.)
pub const GROW_TRAPPED: u64 = u64::MAX - 1;

/// Compile-time limits on a module's size and complexity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModuleLimits {
    /// Largest module, in bytes of the binary format.
    pub max_module_size: Option<usize>,
    /// Most functions (imported and defined).
    pub max_functions: Option<u32>,
    /// Largest function body, in bytes.
    pub max_function_body_size: Option<usize>,
    /// Most locals (parameters excluded) a function may declare.
    pub max_function_locals: Option<u32>,
}

impl ModuleLimits {
    /// Checks the size of the whole binary.
    pub fn check_module_size(&self, len: usize) -> Result<()> {
        if let Some(max) = self.max_module_size
            && len > max
        {
            bail!(
                "module is {len} bytes, more than the limit of {max} bytes \
                 (max_module_size)"
            );
        }
        Ok(())
    }

    /// Checks the number of functions (imported plus declared so far).
    pub fn check_functions(&self, count: u64) -> Result<()> {
        if let Some(max) = self.max_functions
            && count > u64::from(max)
        {
            bail!(
                "module has {count} functions, more than the limit of {max} \
                 (max_functions)"
            );
        }
        Ok(())
    }

    /// Checks one function body: its size and its declared locals.
    pub fn check_body(&self, func_index: u32, body: &wasmparser::FunctionBody<'_>) -> Result<()> {
        let range = body.range();
        let size = (range.end - range.start) as usize;
        if let Some(max) = self.max_function_body_size
            && size > max
        {
            bail!(
                "function {func_index} has a body of {size} bytes, more than \
                 the limit of {max} bytes (max_function_body_size)"
            );
        }
        if let Some(max) = self.max_function_locals {
            let mut total: u64 = 0;
            for decl in body.get_locals_reader()? {
                let (count, _) = decl?;
                total += u64::from(count);
                if total > u64::from(max) {
                    bail!(
                        "function {func_index} declares more than {max} locals, \
                         the limit (max_function_locals)"
                    );
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_limits_accept_anything() {
        let l = ModuleLimits::default();
        l.check_module_size(usize::MAX).unwrap();
        l.check_functions(u64::MAX).unwrap();
    }

    #[test]
    fn errors_name_the_limit() {
        let l = ModuleLimits {
            max_module_size: Some(10),
            max_functions: Some(2),
            ..Default::default()
        };
        l.check_module_size(10).unwrap();
        let e = l.check_module_size(11).unwrap_err().to_string();
        assert!(
            e.contains("max_module_size") && e.contains("11 bytes"),
            "{e}"
        );
        l.check_functions(2).unwrap();
        let e = l.check_functions(3).unwrap_err().to_string();
        assert!(
            e.contains("max_functions") && e.contains("3 functions"),
            "{e}"
        );
    }
}
