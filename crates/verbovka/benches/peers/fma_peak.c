/* FP32 FMA peak probe: each thread runs 16 independent chains of 512-bit (or 256-bit) fused
 * multiply-adds (enough to cover 2 FMA pipes x 4-cycle latency), on registers only, for a
 * fixed number of iterations; flops = threads x iterations x chains x lanes x 2.
 *
 *   cc -O2 -mavx2 -mfma -pthread fma_peak.c -o fma_peak && ./fma_peak THREADS WIDTH
 *   WIDTH: 512, 256 or auto (the widest this CPU runs). Prints GFLOP/s (best of 5 runs of
 *   ~0.3 s each) and, on stderr, the width measured. The 512-bit kernel is compiled for
 *   AVX-512 on its own (a target attribute), so the binary builds and runs on any x86-64 with
 *   AVX2+FMA; asking for 512 on a CPU without AVX-512F exits 3 instead of dying on SIGILL.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long ITERS = 50000000;
static int WIDTH = 512;
static volatile float sink;

#define CHAINS16(OP) OP(0) OP(1) OP(2) OP(3) OP(4) OP(5) OP(6) OP(7) OP(8) OP(9) OP(10) OP(11) OP(12) OP(13) OP(14) OP(15)

__attribute__((target("avx512f"))) static void *work512(void *arg) {
    (void)arg;
    __m512 b = _mm512_set1_ps(0.9999999f), c = _mm512_set1_ps(1e-7f);
#define DECL(i) __m512 a##i = _mm512_set1_ps(1.0f + (i) * 0.01f);
    CHAINS16(DECL)
    for (long it = 0; it < ITERS; it++) {
#define STEP(i) a##i = _mm512_fmadd_ps(a##i, b, c);
        CHAINS16(STEP)
        __asm__ volatile("" ::: "memory");
    }
    __m512 s = a0;
#define SUM(i) s = _mm512_add_ps(s, a##i);
    CHAINS16(SUM)
    sink = _mm512_reduce_add_ps(s);
    return NULL;
}

static void *work256(void *arg) {
    (void)arg;
    __m256 b = _mm256_set1_ps(0.9999999f), c = _mm256_set1_ps(1e-7f);
#undef DECL
#undef STEP
#undef SUM
#define DECL(i) __m256 a##i = _mm256_set1_ps(1.0f + (i) * 0.01f);
    CHAINS16(DECL)
    for (long it = 0; it < ITERS; it++) {
#define STEP(i) a##i = _mm256_fmadd_ps(a##i, b, c);
        CHAINS16(STEP)
        __asm__ volatile("" ::: "memory");
    }
    __m256 s = a0;
#define SUM(i) s = _mm256_add_ps(s, a##i);
    CHAINS16(SUM)
    float out[8];
    _mm256_storeu_ps(out, s);
    sink = out[0];
    return NULL;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    const char *w = argc > 2 ? argv[2] : "auto";
    __builtin_cpu_init();
    int has512 = __builtin_cpu_supports("avx512f");
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        fprintf(stderr, "fma_peak: this CPU has no AVX2+FMA\n");
        return 3;
    }
    WIDTH = w[0] == 'a' ? (has512 ? 512 : 256) : atoi(w);
    if (threads < 1 || threads > 64 || (WIDTH != 512 && WIDTH != 256)) return 2;
    if (WIDTH == 512 && !has512) {
        fprintf(stderr, "fma_peak: this CPU has no AVX-512F\n");
        return 3;
    }
    fprintf(stderr, "fma_peak: %d-bit\n", WIDTH);
    int lanes = WIDTH == 512 ? 16 : 8;
    ITERS = WIDTH == 512 ? 20000000 : 40000000;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        pthread_t th[64];
        double t0 = now();
        for (int i = 0; i < threads; i++)
            pthread_create(&th[i], NULL, WIDTH == 512 ? work512 : work256, NULL);
        for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
        double dt = now() - t0;
        double gf = (double)threads * ITERS * 16 * lanes * 2 / dt / 1e9;
        if (gf > best) best = gf;
    }
    printf("%.1f\n", best);
    return 0;
}
