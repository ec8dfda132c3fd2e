//! Trap codes shared by generated code and the runtime's trap handler.

use core::fmt;

/// The reason a WebAssembly computation stopped abnormally.
///
/// Generated code records one of these (as a Cranelift user trap code, see
/// [`Trap::as_u8`]) at every instruction that may trap; the trap handler maps
/// the faulting program counter back to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Trap {
    /// The wasm call stack exceeded its configured maximum size.
    StackOverflow,
    /// A load or store outside the bounds of a linear memory.
    MemoryOutOfBounds,
    /// A table access outside the bounds of a table.
    TableOutOfBounds,
    /// `call_indirect` on a null table entry.
    IndirectCallToNull,
    /// `call_indirect` whose callee has a different signature.
    BadSignature,
    /// Integer overflow in a division or a float-to-int conversion.
    IntegerOverflow,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero,
    /// A float-to-int conversion of NaN.
    BadConversionToInteger,
    /// The `unreachable` instruction was executed.
    UnreachableCodeReached,
    /// A null reference was dereferenced (`call_ref`, `ref.as_non_null`, ...).
    NullReference,
    /// Wasm code was interrupted (epoch deadline or explicit interrupt).
    Interrupt,
    /// Wasm code ran out of fuel.
    OutOfFuel,
    /// A host function returned an error; the error itself travels beside
    /// the trap and is what callers see.
    HostError,
    /// An operation that is valid but not supported by this build of weft
    /// (for example a GC instruction) was executed.
    Unsupported,
    /// `resume`, `resume_throw`, `switch` or `cont.bind` of a continuation
    /// that was already resumed (continuations are one-shot).
    ContinuationConsumed,
    /// A `resume`, `switch` or `cont.bind` of a null continuation.
    NullContinuation,
    /// `suspend` or `switch` found no handler for its tag between it and
    /// the nearest host frame.
    UnhandledTag,
    /// `ref.cast` or `br_on_cast` of a value that is not of the target
    /// type (only `ref.cast` traps).
    CastFailure,
    /// An array access (`array.get`, `array.set`, `array.copy`, ...)
    /// outside the array's length.
    ArrayOutOfBounds,
    /// The managed heap could not hold a new object (its configured limit
    /// was reached, or the object is larger than any heap can be).
    GcHeapOutOfMemory,
    /// `ref.cast_desc_eq` of a value whose descriptor is not the given one.
    DescriptorCastFailure,
}

impl Trap {
    /// Every trap code, in `as_u8` order.
    pub const ALL: &'static [Trap] = &[
        Trap::StackOverflow,
        Trap::MemoryOutOfBounds,
        Trap::TableOutOfBounds,
        Trap::IndirectCallToNull,
        Trap::BadSignature,
        Trap::IntegerOverflow,
        Trap::IntegerDivisionByZero,
        Trap::BadConversionToInteger,
        Trap::UnreachableCodeReached,
        Trap::NullReference,
        Trap::Interrupt,
        Trap::OutOfFuel,
        Trap::HostError,
        Trap::Unsupported,
        Trap::ContinuationConsumed,
        Trap::NullContinuation,
        Trap::UnhandledTag,
        Trap::CastFailure,
        Trap::ArrayOutOfBounds,
        Trap::GcHeapOutOfMemory,
        Trap::DescriptorCastFailure,
    ];

    /// A stable small number for this trap (1-based, never zero), used as
    /// the Cranelift user trap code.
    pub fn as_u8(self) -> u8 {
        Self::ALL.iter().position(|t| *t == self).unwrap() as u8 + 1
    }

    /// Inverse of [`Trap::as_u8`].
    pub fn from_u8(code: u8) -> Option<Trap> {
        Self::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// The message the WebAssembly specification's test suite uses for this
    /// trap.
    pub fn message(self) -> &'static str {
        match self {
            Trap::StackOverflow => "call stack exhausted",
            Trap::MemoryOutOfBounds => "out of bounds memory access",
            Trap::TableOutOfBounds => "out of bounds table access",
            Trap::IndirectCallToNull => "uninitialized element",
            Trap::BadSignature => "indirect call type mismatch",
            Trap::IntegerOverflow => "integer overflow",
            Trap::IntegerDivisionByZero => "integer divide by zero",
            Trap::BadConversionToInteger => "invalid conversion to integer",
            Trap::UnreachableCodeReached => "unreachable",
            Trap::NullReference => "null reference",
            Trap::Interrupt => "interrupt",
            Trap::OutOfFuel => "all fuel consumed",
            Trap::HostError => "host function error",
            Trap::Unsupported => "unsupported operation",
            Trap::ContinuationConsumed => "continuation already consumed",
            Trap::NullContinuation => "null continuation reference",
            Trap::UnhandledTag => "unhandled tag",
            Trap::CastFailure => "cast failure",
            Trap::ArrayOutOfBounds => "out of bounds array access",
            Trap::GcHeapOutOfMemory => "out of memory: the GC heap is full",
            Trap::DescriptorCastFailure => "descriptor cast failure",
        }
    }
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Trap {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_nonzero() {
        for t in Trap::ALL {
            let c = t.as_u8();
            assert_ne!(c, 0);
            assert_eq!(Trap::from_u8(c), Some(*t));
        }
        assert_eq!(Trap::from_u8(0), None);
        assert_eq!(Trap::from_u8(200), None);
    }
}
