//! Tells the test code which CPU it is built on, so that a kernel test this CPU cannot run is
//! reported as ignored (with the reason), never as a silent pass. Nothing else uses it: the
//! library chooses its kernels at run time. `VERBOVKA_TEST_CPU=noavx512` builds the tests as
//! for a CPU without AVX-512 (to run them under `qemu-x86_64 -cpu EPYC-Rome`, say),
//! `VERBOVKA_TEST_CPU=noavx2` as for one without AVX2 either (`-cpu Westmere`).
fn main() {
    println!("cargo:rustc-check-cfg=cfg(verbovka_test_cpu_avx512)");
    println!("cargo:rustc-check-cfg=cfg(verbovka_test_cpu_avx2)");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=VERBOVKA_TEST_CPU");
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    let cpu = std::env::var("VERBOVKA_TEST_CPU").unwrap_or_default();
    let no512 = cpu == "noavx512" || cpu == "noavx2";
    if native && !no512 && avx512() {
        println!("cargo:rustc-cfg=verbovka_test_cpu_avx512");
    }
    if native && cpu != "noavx2" && avx2() {
        println!("cargo:rustc-cfg=verbovka_test_cpu_avx2");
    }
}

#[cfg(target_arch = "x86_64")]
fn avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx2() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
        && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(not(target_arch = "x86_64"))]
fn avx512() -> bool {
    false
}
