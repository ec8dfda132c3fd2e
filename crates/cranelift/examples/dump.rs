//! Prints the machine code size and trap sites of each function of a module
//! and writes the code to /tmp/dis/f<N>.bin (for objdump).
fn main() {
    let path = std::env::args().nth(1).expect("usage: dump FILE.wat");
    let wasm = wat::parse_file(&path).unwrap();
    let t = weft_environ::translate_module(&wasm, weft_environ::default_features()).unwrap();
    let info = t.info;
    let c = weft_cranelift::Compiler::new_native("speed", Default::default()).unwrap();
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
