//! Modules: validated and compiled WebAssembly code, ready to instantiate.

use crate::{Engine, ExternType, Result};
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use weft_environ::{EntityIndex, ModuleInfo};

/// A compiled WebAssembly module. Cheap to clone; can be instantiated any
/// number of times in stores of the same engine.
#[derive(Clone)]
pub struct Module {
    pub(crate) inner: Arc<crate::vm::CompiledModule>,
}

impl std::fmt::Debug for Module {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("name", &self.name())
            .finish()
    }
}

/// One import of a module.
#[derive(Debug, Clone)]
pub struct ImportType {
    module: String,
    name: String,
    ty: ExternType,
}

impl ImportType {
    /// The module name.
    pub fn module(&self) -> &str {
        &self.module
    }
    /// The field name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The expected type.
    pub fn ty(&self) -> &ExternType {
        &self.ty
    }
}

/// One export of a module.
#[derive(Debug, Clone)]
pub struct ExportType {
    name: String,
    ty: ExternType,
}

impl ExportType {
    /// The export's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its type.
    pub fn ty(&self) -> &ExternType {
        &self.ty
    }
}

impl Module {
    /// Compiles a module from the binary format or the text format (`.wat`).
    /// Validation errors name the problem and its byte offset.
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        let bytes = bytes.as_ref();
        let binary = wat::parse_bytes(bytes).map_err(anyhow::Error::new)?;
        Module::from_binary(engine, &binary)
    }

    /// Compiles a module from the binary format only. With a code cache
    /// configured ([`crate::Config::cache_directory`]) the code is loaded
    /// from the cache when present and stored there when not.
    pub fn from_binary(engine: &Engine, binary: &[u8]) -> Result<Module> {
        let inner = match &engine.config().cache_dir {
            Some(dir) => crate::cache::load_or_compile(engine, dir, binary)?,
            None => crate::vm::CompiledModule::compile(engine, binary)?,
        };
        Ok(Module {
            inner: Arc::new(inner),
        })
    }

    /// Reads and compiles a `.wasm` or `.wat` file.
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
        let binary = wat::parse_bytes(&bytes)
            .map_err(|mut e| {
                e.set_path(path);
                anyhow::Error::new(e)
            })?
            .into_owned();
        Module::from_binary(engine, &binary)
            .with_context(|| format!("failed to compile {}", path.display()))
    }

    /// Loads a precompiled module written by [`Engine::precompile_module`]
    /// (or `weft compile -o`) without compiling anything. Fails with a
    /// clear error when the bytes are not a precompiled module, were built
    /// by another weft build or with other code-affecting settings or CPU
    /// features (the error names the settings that differ), or are
    /// truncated or damaged (checked by a CRC-32 checksum before use).
    ///
    /// # Safety
    ///
    /// The machine code in `bytes` is run as it is: the checks above catch
    /// accidents, not malice. `bytes` must come from a trusted
    /// [`Engine::precompile_module`] (or `weft compile`) of this weft
    /// build; a crafted artifact with a matching checksum can do anything
    /// the process can.
    pub unsafe fn deserialize(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        let inner = crate::vm::CompiledModule::from_artifact(
            engine,
            crate::vm::ArtifactSource::Bytes(bytes.as_ref()),
            None,
        )?;
        Ok(Module {
            inner: Arc::new(inner),
        })
    }

    /// [`Module::deserialize`] of a file's contents. The file is mapped,
    /// not read: its machine code runs in place and its memory images are
    /// mapped copy-on-write into instances, so loading costs little more
    /// than checking the checksum.
    ///
    /// # Safety
    ///
    /// As [`Module::deserialize`]: the file must be a trusted artifact.
    /// It must also not be modified in place or truncated while the module
    /// or any of its instances lives (replacing it by renaming another
    /// file over it is fine): its pages are used directly.
    pub unsafe fn deserialize_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let file = std::fs::File::open(path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        let inner = crate::vm::CompiledModule::from_artifact(
            engine,
            crate::vm::ArtifactSource::File(file),
            None,
        )
        .with_context(|| format!("failed to load {}", path.display()))?;
        Ok(Module {
            inner: Arc::new(inner),
        })
    }

    /// Validates a binary module without compiling it.
    pub fn validate(engine: &Engine, binary: &[u8]) -> Result<()> {
        let config = engine.config();
        let t = weft_environ::translate_module_with_limits(
            binary,
            config.features,
            &config.module_limits,
        )?;
        let mut allocs = weft_environ::wasmparser::FuncValidatorAllocations::default();
        for body in t.bodies {
            let mut v = body.validator.into_validator(allocs);
            v.validate(&body.body)?;
            allocs = v.into_allocations();
        }
        Ok(())
    }

    /// The module's name from its name section.
    pub fn name(&self) -> Option<&str> {
        self.info().name.as_deref()
    }

    pub(crate) fn info(&self) -> &ModuleInfo {
        &self.inner.info
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The module's imports, in order.
    pub fn imports(&self) -> impl ExactSizeIterator<Item = ImportType> + '_ {
        self.info().imports.iter().map(|i| ImportType {
            module: i.module.clone(),
            name: i.name.clone(),
            ty: self.entity_type(i.index),
        })
    }

    /// The module's exports, in order.
    pub fn exports(&self) -> impl ExactSizeIterator<Item = ExportType> + '_ {
        self.info().exports.iter().map(|(name, index)| ExportType {
            name: name.clone(),
            ty: self.entity_type(*index),
        })
    }

    pub(crate) fn entity_type(&self, index: EntityIndex) -> ExternType {
        self.inner.entity_type(index)
    }
}
