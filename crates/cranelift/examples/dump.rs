//! Prints the machine code size and trap sites of each function of a module
//! and writes the code to /tmp/dis/f<N>.bin (for objdump).
//!
//! With a function index as second argument, prints that function's CLIF
//! as translated, after optimisation, and the machine code listing:
//! `cargo run --release -p weft-cranelift --example dump -- FILE 42`.
fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: dump FILE.wat|FILE.wasm [FUNC_INDEX]");
    let only: Option<u32> = std::env::args().nth(2).map(|s| s.parse().unwrap());
    let wasm = wat::parse_file(&path).unwrap();
    let t = weft_environ::translate_module(&wasm, weft_environ::default_features()).unwrap();
    let info = t.info;
    let c = weft_cranelift::Compiler::new_native("speed", Default::default()).unwrap();
    if let Some(idx) = only {
        let b = t
            .bodies
            .into_iter()
            .nth((idx - info.num_imported_funcs) as usize)
            .expect("no such defined function");
        let [before, after, vcode] = c.function_listing(&info, idx, b).unwrap();
        println!(";; ---- CLIF as translated ----\n{before}");
        println!(";; ---- CLIF after optimisation ----\n{after}");
        println!(";; ---- machine code ----\n{vcode}");
        return;
    }
    std::fs::create_dir_all("/tmp/dis").unwrap();
    for (i, b) in t.bodies.into_iter().enumerate() {
        let idx = info.num_imported_funcs + i as u32;
        let (f, _) = c
            .compile_function(&info, idx, b, Default::default())
            .unwrap();
        std::fs::write(format!("/tmp/dis/f{idx}.bin"), &f.code).unwrap();
        println!("f{idx}: {} bytes traps={:?}", f.code.len(), f.traps);
    }
}
