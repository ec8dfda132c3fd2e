//! Translation of fixed-width and relaxed SIMD operators (STUB: to be
//! written).

use crate::translate::Translator;
use anyhow::Result;
use weft_environ::wasmparser::Operator;

/// Translates `op` if it is a SIMD operator; returns whether it was.
pub fn translate_simd(_t: &mut Translator<'_, '_>, _op: &Operator<'_>) -> Result<bool> {
    Ok(false)
}
