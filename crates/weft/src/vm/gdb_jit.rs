//! gdb's JIT compilation interface: telling a debugger about generated code.
//!
//! gdb (and lldb, which implements the same protocol) knows nothing about
//! code that appears in anonymous memory at run time: without help, a
//! backtrace through compiled wasm shows `?? ()` frames and usually stops
//! there. The protocol ("JIT Compilation Interface" in the gdb manual) is
//! a linked list of in-memory object files that the process maintains
//! under two well-known symbols:
//!
//! ```text
//!   __jit_debug_descriptor (static, #[no_mangle])
//!   +-----------------+
//!   | version = 1     |
//!   | action_flag     |  NOACTION / REGISTER / UNREGISTER
//!   | relevant_entry -+-------------------------------+
//!   | first_entry ----+--+                            |
//!   +-----------------+  |                            v
//!                        v        JitCodeEntry        JitCodeEntry
//!                  +------------+    +------------+    +------------+
//!        null <----+-prev       |<---+-prev       |<---+-prev       |
//!                  |      next -+--->|      next -+--->|      next -+--> null
//!                  | symfile ---+-+  | symfile    |    | symfile    |
//!                  +------------+ |  +------------+    +------------+
//!                                 v
//!                   ELF image (one per code memory, see `build_elf`):
//!                   .text      NOBITS, sh_addr = the real code address
//!                   .eh_frame  one FDE per function (Cranelift unwind info)
//!                   .symtab    one FUNC symbol per function / trampoline
//! ```
//!
//! To (un)register an image, the process links (unlinks) its entry, points
//! `relevant_entry` at it, sets `action_flag` and calls the empty function
//! `__jit_debug_register_code`, on which an attached debugger keeps a
//! breakpoint: gdb then reads the entry's object file out of the inferior's
//! memory and loads (drops) its symbols and unwind tables. A debugger that
//! attaches later walks the whole list from `first_entry`. Without a
//! debugger the call returns at once: registering costs a list insert under
//! a mutex (plus building the image, done by the caller).
//!
//! The `.text` section holds no bytes (gdb reads code from the inferior's
//! memory) but sits at the real address, so gdb maps PCs in generated code
//! to the symbols, and the `.eh_frame` FDEs use absolute addresses for the
//! same reason. With them gdb unwinds through wasm frames and trampolines
//! into the host frames below (and, through the fiber crate's CFI, into the
//! code that resumed a fiber).
//!
//! The two symbols are process-global by protocol: another JIT linked into
//! the same executable that defines them too (LLVM's ORC, V8, wasmtime)
//! makes the link fail with duplicate symbols.

use anyhow::Result;
use object::elf;
use object::write::StringId;
use object::write::elf::{FileHeader, ProgramHeader, SectionHeader, Sym, Writer};
use std::ptr;
use std::sync::Mutex;
use weft_cranelift::UnwindInfo;
use weft_cranelift::gimli::RunTimeEndian;
use weft_cranelift::gimli::write::{
    Address, CommonInformationEntry, EhFrame, EndianVec, FrameTable,
};

/// `jit_actions_t` of the gdb manual.
const JIT_NOACTION: u32 = 0;
const JIT_REGISTER_FN: u32 = 1;
const JIT_UNREGISTER_FN: u32 = 2;

/// `struct jit_code_entry` of the gdb manual.
#[repr(C)]
struct JitCodeEntry {
    next_entry: *mut JitCodeEntry,
    prev_entry: *mut JitCodeEntry,
    symfile_addr: *const u8,
    symfile_size: u64,
}

/// `struct jit_descriptor` of the gdb manual.
#[repr(C)]
pub struct JitDescriptor {
    version: u32,
    action_flag: u32,
    relevant_entry: *mut JitCodeEntry,
    first_entry: *mut JitCodeEntry,
}

/// The list head the debugger reads. Only ever accessed through raw
/// pointers while holding [`LOCK`].
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static mut __jit_debug_descriptor: JitDescriptor = JitDescriptor {
    version: 1,
    action_flag: JIT_NOACTION,
    relevant_entry: ptr::null_mut(),
    first_entry: ptr::null_mut(),
};

/// The function the debugger sets its breakpoint on. It must exist as a
/// real call: never inlined, and its body is an empty `asm!` block, which
/// the compiler must assume reads and writes memory, so neither the call
/// nor the descriptor stores before it can be optimised away.
#[unsafe(no_mangle)]
#[inline(never)]
pub extern "C" fn __jit_debug_register_code() {
    // SAFETY: an empty asm block does nothing at run time; it is only a
    // compiler barrier.
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) };
}

/// Serialises every change to the descriptor and the entry list.
static LOCK: Mutex<()> = Mutex::new(());

/// An object file registered with the debugger; unregistered on drop.
pub(crate) struct GdbJitImage {
    /// Owned by this value (from `Box::into_raw`), linked into the list.
    entry: *mut JitCodeEntry,
    /// The ELF image `entry.symfile_addr` points into.
    _image: Box<[u8]>,
}

// SAFETY: the entry is only read or written while holding `LOCK`, and the
// image is immutable.
unsafe impl Send for GdbJitImage {}
// SAFETY: as above; `&GdbJitImage` gives no access to anything.
unsafe impl Sync for GdbJitImage {}

impl GdbJitImage {
    /// Links `image` (an ELF object file) into the debugger's list and
    /// tells an attached debugger about it.
    pub(crate) fn register(image: Vec<u8>) -> GdbJitImage {
        let image = image.into_boxed_slice();
        let entry = Box::into_raw(Box::new(JitCodeEntry {
            next_entry: ptr::null_mut(),
            prev_entry: ptr::null_mut(),
            symfile_addr: image.as_ptr(),
            symfile_size: image.len() as u64,
        }));
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: we hold `LOCK`, so nothing else touches the descriptor or
        // the list; every entry in the list is a live allocation owned by a
        // `GdbJitImage` (they unlink themselves under the lock before they
        // are freed), and `entry` is our fresh, unlinked allocation.
        unsafe {
            let d = &raw mut __jit_debug_descriptor;
            let first = (*d).first_entry;
            (*entry).next_entry = first;
            if !first.is_null() {
                (*first).prev_entry = entry;
            }
            (*d).first_entry = entry;
            notify(d, entry, JIT_REGISTER_FN);
        }
        GdbJitImage {
            entry,
            _image: image,
        }
    }
}

impl Drop for GdbJitImage {
    fn drop(&mut self) {
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: we hold `LOCK`; `self.entry` is linked (by `register`)
        // and so are its neighbours, all live. After unlinking it and
        // notifying the debugger nothing refers to it any more, so it is
        // freed with the `Box` it came from.
        unsafe {
            let d = &raw mut __jit_debug_descriptor;
            let e = self.entry;
            let (prev, next) = ((*e).prev_entry, (*e).next_entry);
            if prev.is_null() {
                (*d).first_entry = next;
            } else {
                (*prev).next_entry = next;
            }
            if !next.is_null() {
                (*next).prev_entry = prev;
            }
            notify(d, e, JIT_UNREGISTER_FN);
            drop(Box::from_raw(e));
        }
    }
}

/// Reports `action` on `entry` to an attached debugger.
///
/// # Safety
///
/// The caller holds `LOCK`; `d` is the descriptor and `entry` a live entry.
unsafe fn notify(d: *mut JitDescriptor, entry: *mut JitCodeEntry, action: u32) {
    // SAFETY: per the contract, the descriptor is ours to write.
    unsafe {
        (*d).relevant_entry = entry;
        (*d).action_flag = action;
    }
    __jit_debug_register_code();
    // SAFETY: as above.
    unsafe {
        (*d).relevant_entry = ptr::null_mut();
        (*d).action_flag = JIT_NOACTION;
    }
}

/// One function of a code memory, for [`build_elf`].
pub(crate) struct JitFunction<'a> {
    /// Symbol name.
    pub name: String,
    /// Absolute start address and length of its code.
    pub addr: usize,
    pub len: usize,
    /// Cranelift's unwind info for it, if any.
    pub unwind: Option<&'a UnwindInfo>,
}

/// Builds the ELF image describing the code memory `[base, base + len)`
/// holding `funcs`: a byte-less `.text` at `base`, one `STT_FUNC` symbol
/// per function, and an `.eh_frame` with one FDE per function that has
/// System V unwind info (all relative to `cie`).
///
/// The image is `ET_DYN` with one `PT_LOAD` for the code, so gdb takes
/// every address in it as absolute (it relocates nothing: section
/// addresses, symbol values and FDE addresses are the real ones).
pub(crate) fn build_elf(
    base: usize,
    len: usize,
    funcs: &[JitFunction<'_>],
    cie: Option<CommonInformationEntry>,
) -> Result<Vec<u8>> {
    let eh_frame = match cie {
        Some(cie) => {
            let mut table = FrameTable::default();
            let cie_id = table.add_cie(cie);
            let mut any = false;
            for f in funcs {
                if let Some(UnwindInfo::SystemV(info)) = f.unwind {
                    table.add_fde(cie_id, info.to_fde(Address::Constant(f.addr as u64)));
                    any = true;
                }
            }
            if any {
                let mut eh = EhFrame(EndianVec::new(RunTimeEndian::Little));
                table.write_eh_frame(&mut eh)?;
                // A zero length word ends the section (as crtend.o does).
                let mut bytes = eh.0.into_vec();
                bytes.extend_from_slice(&[0; 4]);
                bytes
            } else {
                Vec::new()
            }
        }
        None => Vec::new(),
    };

    // Symbol names are NUL-terminated in ELF; a name section may hold any
    // bytes, so NULs are escaped rather than allowed to truncate (or, in
    // the writer, to abort on) the name.
    let symbol_names: Vec<String> = funcs.iter().map(|f| f.name.replace('\0', "\\0")).collect();
    let mut out = Vec::new();
    let mut w = Writer::new(object::Endianness::Little, true, &mut out);
    // Layout (phase 1: reserve file ranges and indices).
    w.reserve_file_header();
    w.reserve_program_headers(1);
    let text_name = w.add_section_name(b".text");
    let text_index = w.reserve_section_index();
    let eh = if eh_frame.is_empty() {
        None
    } else {
        let name = w.add_section_name(b".eh_frame");
        let _index = w.reserve_section_index();
        let offset = w.reserve(eh_frame.len() as u64, 8);
        Some((name, offset))
    };
    w.reserve_null_symbol_index();
    let names: Vec<StringId> = symbol_names
        .iter()
        .map(|name| {
            w.reserve_symbol_index(Some(text_index));
            w.add_string(name.as_bytes())
        })
        .collect();
    // Section indices (which name their sections) before the tables.
    w.reserve_symtab_section_index();
    w.reserve_strtab_section_index();
    w.reserve_shstrtab_section_index();
    w.reserve_symtab();
    w.reserve_strtab()?;
    w.reserve_shstrtab()?;
    w.reserve_section_headers();

    // Phase 2: write in the same order.
    w.write_file_header(&FileHeader {
        os_abi: elf::ELFOSABI_NONE,
        abi_version: 0,
        e_type: elf::ET_DYN,
        e_machine: elf::EM_X86_64,
        e_entry: 0,
        e_flags: elf::FileFlags(0),
    })?;
    w.write_align_program_headers();
    w.write_program_header(&ProgramHeader {
        p_type: elf::PT_LOAD,
        p_flags: elf::ProgramFlags(elf::PF_R.0 | elf::PF_X.0),
        p_offset: 0,
        p_vaddr: base as u64,
        p_paddr: base as u64,
        p_filesz: 0,
        p_memsz: len as u64,
        p_align: 16,
    });
    if let Some((_, offset)) = eh {
        w.pad_until(offset);
        w.write(&eh_frame);
    }
    w.write_null_symbol();
    for (f, name) in funcs.iter().zip(&names) {
        w.write_symbol(&Sym {
            section: Some(text_index.0),
            st_name: w.string_offset(Some(*name)),
            st_info: elf::SymbolInfo::new(elf::STB_GLOBAL, elf::STT_FUNC),
            st_other: elf::STV_DEFAULT.into(),
            st_shndx: elf::SHN_UNDEF,
            st_value: f.addr as u64,
            st_size: f.len as u64,
        });
    }
    w.write_strtab();
    w.write_shstrtab();
    w.write_null_section_header();
    w.write_section_header(&SectionHeader {
        sh_name: w.section_name_offset(Some(text_name)),
        sh_type: elf::SHT_NOBITS,
        sh_flags: elf::SectionFlags(elf::SHF_ALLOC.0 | elf::SHF_EXECINSTR.0),
        sh_addr: base as u64,
        sh_offset: 0,
        sh_size: len as u64,
        sh_link: 0,
        sh_info: 0,
        sh_addralign: 16,
        sh_entsize: 0,
    });
    if let Some((name, offset)) = eh {
        w.write_section_header(&SectionHeader {
            sh_name: w.section_name_offset(Some(name)),
            sh_type: elf::SHT_PROGBITS,
            sh_flags: elf::SectionFlags(0),
            sh_addr: 0,
            sh_offset: offset,
            sh_size: eh_frame.len() as u64,
            sh_link: 0,
            sh_info: 0,
            sh_addralign: 8,
            sh_entsize: 0,
        });
    }
    w.write_symtab_section_header(1);
    w.write_strtab_section_header();
    w.write_shstrtab_section_header();
    debug_assert_eq!(w.reserved_len(), w.len());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_cranelift::gimli::{self, UnwindSection};

    /// The entries currently linked, checking `prev`/`next` consistency.
    fn linked_entries() -> Vec<*mut JitCodeEntry> {
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        // SAFETY: we hold `LOCK`; linked entries are live.
        unsafe {
            let d = &raw const __jit_debug_descriptor;
            let mut prev = ptr::null_mut();
            let mut e = (*d).first_entry;
            while !e.is_null() {
                assert_eq!((*e).prev_entry, prev, "broken prev link");
                out.push(e);
                prev = e;
                e = (*e).next_entry;
            }
            assert_eq!((*d).action_flag, JIT_NOACTION);
        }
        out
    }

    #[test]
    fn register_and_unregister_keep_the_list_consistent() {
        let a = GdbJitImage::register(vec![1]);
        let b = GdbJitImage::register(vec![2]);
        let c = GdbJitImage::register(vec![3]);
        let (ea, eb, ec) = (a.entry, b.entry, c.entry);
        let list = linked_entries();
        assert!([ea, eb, ec].iter().all(|e| list.contains(e)));
        drop(b);
        let list = linked_entries();
        assert!(list.contains(&ea) && list.contains(&ec) && !list.contains(&eb));
        drop(c);
        drop(a);
        let list = linked_entries();
        assert!(!list.contains(&ea) && !list.contains(&ec));
    }

    fn u16_at(b: &[u8], o: usize) -> u16 {
        u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
    }
    fn u32_at(b: &[u8], o: usize) -> u32 {
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
    }
    fn u64_at(b: &[u8], o: usize) -> u64 {
        u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
    }

    /// (name, sh_type, sh_addr, sh_offset, sh_size) of every section.
    fn sections(elf: &[u8]) -> Vec<(String, u32, u64, usize, usize)> {
        let (shoff, shnum, shstrndx) = (
            u64_at(elf, 0x28) as usize,
            u16_at(elf, 0x3c) as usize,
            u16_at(elf, 0x3e) as usize,
        );
        let hdr = |i: usize| &elf[shoff + 64 * i..shoff + 64 * (i + 1)];
        let strtab = u64_at(hdr(shstrndx), 0x18) as usize;
        (0..shnum)
            .map(|i| {
                let h = hdr(i);
                let name_off = strtab + u32_at(h, 0) as usize;
                let end = elf[name_off..].iter().position(|&c| c == 0).unwrap();
                (
                    String::from_utf8(elf[name_off..name_off + end].to_vec()).unwrap(),
                    u32_at(h, 4),
                    u64_at(h, 0x10),
                    u64_at(h, 0x18) as usize,
                    u64_at(h, 0x20) as usize,
                )
            })
            .collect()
    }

    #[test]
    fn image_maps_text_symbols_and_fdes_to_the_real_addresses() {
        let compiler = weft_cranelift::Compiler::new_native("speed", Default::default()).unwrap();
        let ty = weft_environ::wasmparser::FuncType::new(
            [weft_environ::wasmparser::ValType::I32],
            [weft_environ::wasmparser::ValType::I32],
        );
        let f = compiler
            .compile_trampoline(weft_cranelift::TrampolineKind::ArrayToWasm, &ty)
            .unwrap();
        assert!(matches!(f.unwind, Some(UnwindInfo::SystemV(_))));
        let base = 0x7f00_0000_0000usize;
        let funcs = [
            JitFunction {
                name: "first".into(),
                addr: base,
                len: f.code.len(),
                unwind: f.unwind.as_ref(),
            },
            JitFunction {
                name: "second".into(),
                addr: base + 0x100,
                len: f.code.len(),
                unwind: f.unwind.as_ref(),
            },
        ];
        let elf = build_elf(base, 0x200, &funcs, compiler.systemv_cie()).unwrap();
        assert_eq!(&elf[..4], b"\x7fELF");
        assert_eq!(u16_at(&elf, 16), elf::ET_DYN.0);

        let secs = sections(&elf);
        let find = |n: &str| secs.iter().find(|s| s.0 == n).unwrap().clone();
        let text = find(".text");
        assert_eq!(
            (text.1, text.2, text.4),
            (elf::SHT_NOBITS.0, base as u64, 0x200)
        );

        // Symbols: values are absolute addresses in .text.
        let (symtab, strtab) = (find(".symtab"), find(".strtab"));
        let mut syms = Vec::new();
        for i in 1..symtab.4 / 24 {
            let s = &elf[symtab.3 + 24 * i..];
            let name_off = strtab.3 + u32_at(s, 0) as usize;
            let end = elf[name_off..].iter().position(|&c| c == 0).unwrap();
            let name = String::from_utf8(elf[name_off..name_off + end].to_vec()).unwrap();
            syms.push((name, u64_at(s, 8), u64_at(s, 16)));
        }
        assert_eq!(
            syms,
            [
                ("first".to_string(), base as u64, f.code.len() as u64),
                (
                    "second".to_string(),
                    base as u64 + 0x100,
                    f.code.len() as u64
                ),
            ]
        );

        // .eh_frame: one FDE per function, at its absolute address.
        let eh = find(".eh_frame");
        let data = &elf[eh.3..eh.3 + eh.4];
        let eh_frame = gimli::read::EhFrame::new(data, gimli::LittleEndian);
        let bases = gimli::read::BaseAddresses::default();
        let mut entries = eh_frame.entries(&bases);
        let mut fdes = Vec::new();
        while let Some(entry) = entries.next().unwrap() {
            if let gimli::read::CieOrFde::Fde(partial) = entry {
                let fde = partial
                    .parse(gimli::read::EhFrame::cie_from_offset)
                    .unwrap();
                fdes.push((fde.initial_address(), fde.len()));
            }
        }
        let n = f.code.len() as u64;
        assert_eq!(fdes, [(base as u64, n), (base as u64 + 0x100, n)]);
    }
}
