//! WebAssembly to Cranelift IR translation and native compilation (STUB).

/// The native code generator.
pub struct Compiler;

impl Compiler {
    /// A compiler for the host CPU.
    pub fn new_native(_opt: &str) -> anyhow::Result<Compiler> {
        Ok(Compiler)
    }
}
