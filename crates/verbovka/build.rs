//! Tells the test code which CPU it is built on, so that a kernel test this CPU cannot run is
//! reported as ignored (with the reason), never as a silent pass. Nothing else uses it: the
//! library chooses its kernels at run time.
fn main() {
    println!("cargo:rustc-check-cfg=cfg(verbovka_test_cpu_avx512)");
    println!("cargo:rerun-if-changed=build.rs");
    let native = std::env::var("HOST").ok() == std::env::var("TARGET").ok();
    if native && avx512() {
        println!("cargo:rustc-cfg=verbovka_test_cpu_avx512");
    }
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
