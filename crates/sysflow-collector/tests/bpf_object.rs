//! The committed BPF object must be what `src/bpf/sysflow.bpf.c` compiles to, so that a clone without clang builds
//! the same probes. When the build compiled the source (clang present), the fresh stripped object is compared byte
//! for byte with `src/bpf/sysflow.bpf.o`; regenerate with `SYSFLOW_BPF_UPDATE_OBJ=1 cargo build -p sysflow-collector`.

#[test]
fn bpf_object_is_up_to_date() {
    let fresh = env!("SYSFLOW_BPF_FRESH_OBJ");
    if fresh.is_empty() {
        if std::env::var("SYSFLOW_TEST_REQUIRE_CLANG").is_ok_and(|v| v == "1") {
            panic!(
                "the BPF object was not rebuilt: clang is missing (SYSFLOW_TEST_REQUIRE_CLANG=1)"
            );
        }
        eprintln!("skipped: built from the committed object (no clang), nothing to compare");
        return;
    }
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/src/bpf/sysflow.bpf.o");
    let a = std::fs::read(fresh).unwrap_or_else(|e| panic!("reading {fresh}: {e}"));
    let b = std::fs::read(committed).unwrap_or_else(|e| panic!("reading {committed}: {e}"));
    assert!(
        a == b,
        "src/bpf/sysflow.bpf.o differs from a fresh build of src/bpf/sysflow.bpf.c ({} vs {} bytes); run \
         `SYSFLOW_BPF_UPDATE_OBJ=1 cargo build -p sysflow-collector` and commit the object",
        b.len(),
        a.len()
    );
}
