/* eml_kernels.h - int8 kernels of the crisp-eml runtime (generated library, C99, no malloc, no stdio).
 * Integer arithmetic follows TFLite Micro's int8 reference kernels exactly. Every kernel writes its output
 * in increasing NHWC flat index order and reads the inputs an element needs before writing it, so the
 * memory planner may overlap an output with its dying input. */
/* @section common */
#ifndef EML_KERNELS_H
#define EML_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int32_t eml_mul_by_qm(int32_t x, int32_t multiplier, int32_t shift);
/* the same for multiplier >= 0 (what convolution / FC kernels use) */
int32_t eml_mul_by_qm_pos(int32_t x, int32_t multiplier, int32_t shift);
/* the same for |x| < 2^30, multiplier >= 0, shift <= -1 (kernels use it when their rq_fast flag is set) */
int32_t eml_mul_by_qm_fast(int32_t x, int32_t multiplier, int32_t shift);
/* @end */
/* @section conv */
typedef struct {
    int32_t in_h, in_w, in_c, out_h, out_w, out_c;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t in_offset, out_offset, act_min, act_max;
    int32_t rq_fast; /* 1: every accumulator is below 2^30 in magnitude and every shift <= -1 (eml_mbqm_fast) */
} eml_conv_params_t;

/* w: int8 weights packed 4 to an int32 word, channel pairs interleaved (see eml_kernels.c); bias (input offset
 * folded in): out_c rounded up to even; scratch: 2 * KP + 1 int16 (KP: k_h * k_w * in_c rounded up to a multiple
 * of 4), 32 + min(out_c, 32) int32 (accumulators) and KP bytes when in_c is not a multiple of 4 */
void eml_conv2d_s8(const eml_conv_params_t *p, const int8_t *in, const int32_t *w, const int32_t *bias,
                   const int32_t *mult, const int32_t *shift, int16_t *scratch, int8_t *out);
/* @end */
/* @section convtk */
/* K = k_h * k_w * in_c <= 12, every shift in -22..-1 and rq_fast: w is the per-channel stream of bias, weights
 * and requantization constants described in eml_kernels.c; no scratch. tkN: kind N (K <= 2: 0, else K <= 4 N);
 * tkNc: the activation narrows the int8 range */
/* @end */
/* @section convtk0 */
void eml_conv2d_tk0_s8(const eml_conv_params_t *p, const int8_t *in, const int32_t *w, int8_t *out);
/* @end */
/* @section convtk0c */
void eml_conv2d_tk0c_s8(const eml_conv_params_t *p, const int8_t *in, const int32_t *w, int8_t *out);
/* @end */
/* @section convtk1 */
void eml_conv2d_tk1_s8(const eml_conv_params_t *p, const int8_t *in, const int32_t *w, int8_t *out);
/* @end */
/* @section convtk1c */
void eml_conv2d_tk1c_s8(const eml_conv_params_t *p, const int8_t *in, const int32_t *w, int8_t *out);
/* @end */
/* @section convtk2 */
void eml_conv2d_tk2_s8(const eml_conv_params_t *p, const int8_t *in, const int32_t *w, int8_t *out);
/* @end */
/* @section convtk2c */
void eml_conv2d_tk2c_s8(const eml_conv_params_t *p, const int8_t *in, const int32_t *w, int8_t *out);
/* @end */
/* @section convtk3 */
void eml_conv2d_tk3_s8(const eml_conv_params_t *p, const int8_t *in, const int32_t *w, int8_t *out);
/* @end */
/* @section convtk3c */
void eml_conv2d_tk3c_s8(const eml_conv_params_t *p, const int8_t *in, const int32_t *w, int8_t *out);
/* @end */
/* @section conv16 */
/* the same with int16 weights, 2 to a word (--optimize speed: twice the weight flash, fewer instructions) */
void eml_conv2d_w16_s8(const eml_conv_params_t *p, const int8_t *in, const int32_t *w, const int32_t *bias,
                       const int32_t *mult, const int32_t *shift, int16_t *scratch, int8_t *out);
/* @end */
/* @section dwconv */
/* requantize n int32 accumulators (raw bytes) to int8 (per-channel multiplier >= 0 and shift) */
void eml_requant_run(const int8_t *accs, int32_t n, const int32_t *mult, const int32_t *shift, int32_t out_off,
                     int32_t lo, int32_t hi, int32_t fast, int8_t *out);
typedef struct {
    int32_t in_h, in_w, in_c, out_h, out_w, out_c, depth_mul;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t in_offset, out_offset, act_min, act_max;
    int32_t rq_fast; /* as in eml_conv_params_t */
    int32_t rows_bytes; /* bytes of the rows scratch the renderer gave this layer (0: none) */
} eml_dwconv_params_t;

/* rows: NULL, or scratch for the 3x3 row rings: 3 * (out_w + 2) * in_c + 4 * out_c bytes for the stride 1 /
 * multiplier 1 / 4k-channel ring of every build; (2 * dil_h + 1) * in_c * ((out_w - 1) * stride_w + 2 * dil_w + 1)
 * + 4 bytes for the Cortex-M DSP planar ring of any 3x3 (other builds ignore it there) */
void eml_dwconv2d_s8(const eml_dwconv_params_t *p, const int8_t *in, const int8_t *w, const int32_t *bias_full,
                     const int32_t *mult, const int32_t *shift, int8_t *rows, int8_t *out);
/* @end */
/* @section dwk */
/* depthwise windows other than 3x3, up to 7x7: rows: NULL, or lower.dw_direct_bytes of scratch (Cortex-M DSP) */
void eml_dwk_s8(const eml_dwconv_params_t *p, const int8_t *in, const int8_t *w, const int32_t *bias_full,
                const int32_t *mult, const int32_t *shift, int8_t *rows, int8_t *out);
/* @end */
/* @section dwt */
/* depthwise 3x3 of 1-3 channels at stride >= 2 (lower.dw_tiny): the Cortex-M DSP kernel, no scratch; rows as for
 * eml_dwconv2d_s8 (other builds run it) */
void eml_dwt_s8(const eml_dwconv_params_t *p, const int8_t *in, const int8_t *w, const int32_t *bias_full,
                const int32_t *mult, const int32_t *shift, int8_t *rows, int8_t *out);
/* @end */
/* @section dwf */
/* depthwise layers of a few output pixels (lower.dw_few): the Cortex-M DSP kernel, no scratch; rows as for
 * eml_dwconv2d_s8 (other builds run it) */
void eml_dwf_s8(const eml_dwconv_params_t *p, const int8_t *in, const int8_t *w, const int32_t *bias_full,
                const int32_t *mult, const int32_t *shift, int8_t *rows, int8_t *out);
/* @end */
/* @section fc */
/* w: out_depth rows of in_depth int8 weights, each row padded with zeros to k_pad (in_depth rounded up to a
 * multiple of 4) so that every row starts at a multiple of 4 bytes and ends on a whole word; rq_fold (per-tensor
 * only): every accumulator provably below 2^30 in magnitude and every shift in [-22, -1] (the folded
 * requantization) */
typedef struct {
    int32_t batches, in_depth, out_depth, per_channel;
    int32_t out_offset, act_min, act_max, k_pad, rq_fold;
} eml_fc_params_t;

void eml_fc_s8(const eml_fc_params_t *p, const int8_t *in, const int8_t *w, const int32_t *bias_folded,
               const int32_t *mult, const int32_t *shift, int8_t *out);
/* @end */
/* @section fcs */
/* in_depth <= 12, per-tensor, the small-K convolution's requantization conditions: w is the stream of m, c, e and
 * the rows' doubled biases and int16 weight pairs described in eml_kernels.c (the params' weights layout fields
 * unused) */
void eml_fc_small_s8(const eml_fc_params_t *p, const int8_t *in, const int32_t *w, int8_t *out);
/* @end */
/* @section pool */
typedef struct {
    int32_t batches, in_h, in_w, ch, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w, act_min, act_max;
} eml_pool_params_t;

void eml_avgpool_s8(const eml_pool_params_t *p, const int8_t *in, int8_t *out);
void eml_maxpool_s8(const eml_pool_params_t *p, const int8_t *in, int8_t *out);
/* @end */
/* @section fixedpoint */
/* (internal gemmlowp helpers: nothing public) */
/* @end */
/* @section softmax */
typedef struct {
    int32_t outer, depth, diff_min;
} eml_softmax_params_t;

/* exp_tab[-d]: exp(d) in Q0.31 for the row difference d = x - max in [-255, 0] (0 below diff_min) */
void eml_softmax_s8(const eml_softmax_params_t *p, const int32_t *exp_tab, const int8_t *in, int8_t *out);
/* @end */
/* @section lut */
/* out[i] = lut[in[i] + 128]: any int8 -> int8 elementwise function (LOGISTIC, TANH) */
void eml_lut_s8(const int8_t *lut, const int8_t *in, int8_t *out, int32_t n);
/* @end */
/* @section mean */
typedef struct {
    int32_t shape[4], red[4];
    int32_t count, input_zero_point, output_zero_point, multiplier, shift;
} eml_mean_params_t;

void eml_mean_s8(const eml_mean_params_t *p, const int8_t *in, int8_t *out);
/* @end */
/* @section binary */
typedef struct {
    int32_t shape[4], a_stride[4], b_stride[4];
    int32_t op; /* 0 ADD, 1 SUB, 2 MUL */
    int32_t left_shift, in1_offset, in2_offset, in1_multiplier, in1_shift, in2_multiplier, in2_shift;
    int32_t out_multiplier, out_shift, out_offset, act_min, act_max;
} eml_binary_params_t;

void eml_binary_s8(const eml_binary_params_t *p, const int8_t *a, const int8_t *b, int8_t *out);
/* @end */
/* @section binary_const */
typedef struct {
    int32_t size, is_mul, fast, x_offset, out_multiplier, out_shift, out_offset, act_min, act_max;
} eml_binary_const_params_t;

void eml_binary_const_s8(const eml_binary_const_params_t *p, const int8_t *x, const int32_t *c,
                         const int32_t *tab, int8_t *out);
/* @end */
/* @section gather */
typedef struct {
    int32_t shape[4], lo[4], hi[4], step[4];
    int32_t base, pad_value;
} eml_gather_params_t;

void eml_gather_s8(const eml_gather_params_t *p, const int8_t *in, int8_t *out);
/* @end */
/* @section concat */
void eml_concat_s8(int32_t outer, int32_t n, const int8_t *const *ins, const int32_t *inner, int8_t *out);
/* @end */
/* @section clamp */
void eml_clamp_buf_s8(const int8_t *in, int8_t *out, int32_t n, int32_t lo, int32_t hi);
/* @end */
/* @section requant */
typedef struct {
    int32_t size, in_offset, out_offset, multiplier, shift, act_min, act_max;
} eml_requant_params_t;

/* out = clamp(out_offset + MultiplyByQuantizedMultiplier(in + in_offset)) : QUANTIZE int8->int8, RELU, RELU6 */
void eml_requant_s8(const eml_requant_params_t *p, const int8_t *in, int8_t *out);
/* @end */
/* @section copy */
void eml_copy_s8(const int8_t *in, int8_t *out, int32_t n);
/* @end */
/* @section tail */
#ifdef __cplusplus
}
#endif

#endif /* EML_KERNELS_H */
/* @end */
