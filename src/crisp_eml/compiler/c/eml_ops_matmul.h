/* eml_ops_matmul.h - int8 TRANSPOSE_CONV and BATCH_MATMUL (crisp-eml runtime, C99, no malloc, no stdio).
 * Bit-exact with TFLite Micro's int8 reference kernels: int32 sums of (input + offset) * weight products
 * (exact, and equal modulo 2^32 in any order), MultiplyByQuantizedMultiplier, output offset, clamp. */
#ifndef EML_OPS_MATMUL_H
#define EML_OPS_MATMUL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t batches, in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w;
    int32_t in_offset, out_offset, act_min, act_max;
} eml_transpose_conv_params_t;

/* w: [out_c][k_h][k_w][in_c] (TFLite's layout); bias: out_c values or NULL; mult/shift: per output channel.
 * Output-stationary: each output element gathers the input taps that scatter onto it (no int32 scratch). */
void eml_transpose_conv_s8(const eml_transpose_conv_params_t *p, const int8_t *in, const int8_t *w,
                           const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *out);

typedef struct {
    int32_t batch[3], lhs_bstride[3], rhs_bstride[3]; /* broadcast batch dims; stride 0 = broadcast operand */
    int32_t m, n, k;
    int32_t lhs_si, lhs_sk, rhs_sk, rhs_sj; /* lhs(i, kk) = lhs[i * lhs_si + kk * lhs_sk], rhs likewise */
    int32_t lhs_offset, rhs_offset, out_offset, multiplier, shift;
} eml_batch_matmul_params_t;

/* out[b][i][j] = clamp(out_offset + MBQM(sum_kk (lhs(i, kk) + lhs_offset) * (rhs(kk, j) + rhs_offset))) */
void eml_batch_matmul_s8(const eml_batch_matmul_params_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* EML_OPS_MATMUL_H */
