//! Builds the BPF object and its libbpf-rs skeleton.
//!
//! With clang on `PATH` (and `SYSFLOW_BPF_USE_COMMITTED` unset), `src/bpf/sysflow.bpf.c` is compiled, stripped of
//! DWARF with `llvm-strip -g` when available, and the skeleton is generated from that fresh object; its path is
//! exported as `SYSFLOW_BPF_FRESH_OBJ` so the `bpf_object_is_up_to_date` test can compare it with the committed
//! `src/bpf/sysflow.bpf.o`. Without clang, the skeleton is generated from the committed object (no clang needed).
//! `SYSFLOW_BPF_UPDATE_OBJ=1` copies the fresh object over the committed one.

use std::env;
use std::path::PathBuf;
use std::process::Command;

use libbpf_cargo::SkeletonBuilder;

fn main() {
    let manifest = PathBuf::from(
        env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set by cargo"),
    );
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let src = manifest.join("src/bpf/sysflow.bpf.c");
    let committed = manifest.join("src/bpf/sysflow.bpf.o");
    let skel = out.join("sysflow.skel.rs");
    for f in [
        "src/bpf/sysflow.bpf.c",
        "src/bpf/events.h",
        "src/bpf/vmlinux.h",
        "src/bpf/sysflow.bpf.o",
    ] {
        println!("cargo:rerun-if-changed={f}");
    }
    println!("cargo:rerun-if-env-changed=SYSFLOW_BPF_USE_COMMITTED");
    println!("cargo:rerun-if-env-changed=SYSFLOW_BPF_UPDATE_OBJ");
    println!("cargo:rerun-if-env-changed=CLANG");

    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_string());
    let have_clang = env::var_os("SYSFLOW_BPF_USE_COMMITTED").is_none()
        && Command::new(&clang)
            .arg("--version")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);

    let obj = if have_clang {
        let raw = out.join("sysflow.bpf.raw.o");
        SkeletonBuilder::new()
            .source(&src)
            .obj(&raw)
            .clang(&clang)
            .clang_args([
                format!("-I{}", manifest.join("src/bpf").display()),
                // keep the checkout path out of the object (BTF line info), so every clone builds the same bytes
                format!("-ffile-prefix-map={}=.", manifest.display()),
                "-fdebug-compilation-dir=.".to_string(),
                "-Wall".to_string(),
            ])
            .build()
            .expect("compiling src/bpf/sysflow.bpf.c with clang");
        let fresh = out.join("sysflow.bpf.o");
        let stripped = Command::new("llvm-strip")
            .arg("-g")
            .arg(&raw)
            .arg("-o")
            .arg(&fresh)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !stripped {
            std::fs::copy(&raw, &fresh).expect("copying the BPF object");
        }
        if env::var_os("SYSFLOW_BPF_UPDATE_OBJ").is_some() {
            std::fs::copy(&fresh, &committed).expect("updating src/bpf/sysflow.bpf.o");
        }
        println!("cargo:rustc-env=SYSFLOW_BPF_FRESH_OBJ={}", fresh.display());
        fresh
    } else {
        println!("cargo:rustc-env=SYSFLOW_BPF_FRESH_OBJ=");
        committed
    };
    SkeletonBuilder::new()
        .obj(&obj)
        .generate(&skel)
        .expect("generating the BPF skeleton");
}
