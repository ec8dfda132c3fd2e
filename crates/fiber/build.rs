//! Declares the crate's custom cfg so that `--cfg weft_fiber_unsupported`
//! (which builds the "unsupported architecture" path on x86_64, for tests)
//! does not trip the `unexpected_cfgs` lint.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(weft_fiber_unsupported)");
}
