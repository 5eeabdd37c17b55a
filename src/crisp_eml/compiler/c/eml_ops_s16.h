/* eml_ops_s16.h - int16-activation kernels (TFLite's 16x8 mode: int16 activations, int8 weights) of the
 * crisp-eml runtime. C99, no malloc, no stdio. Integer arithmetic follows TFLite Micro's int16 reference kernels
 * exactly; every table (softmax exp and reciprocal, sigmoid) is computed by the compiler and passed in. int16
 * tensors sit in the arena at even offsets (the planner aligns by element size). */
#ifndef EML_OPS_S16_H
#define EML_OPS_S16_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CONV_2D (depth_mul = 0) and DEPTHWISE_CONV_2D (depth_mul >= 1). acc64 = 1: int64 accumulator and TFLM's int64
 * MultiplyByQuantizedMultiplier (an int64 bias); 0: the int32 path of a model with an int32 bias. */
typedef struct {
    int32_t in_h, in_w, in_c, out_h, out_w, out_c, depth_mul;
    int32_t k_h, k_w, stride_h, stride_w, dil_h, dil_w, pad_h, pad_w;
    int32_t act_min, act_max, acc64;
} eml_conv_s16_params_t;

/* conv w: [out_c][k_h][k_w][in_c]; depthwise w: [k_h][k_w][out_c]; bias: out_c int64 or NULL */
void eml_conv2d_s16(const eml_conv_s16_params_t *p, const int16_t *in, const int8_t *w, const int64_t *bias,
                    const int32_t *mult, const int32_t *shift, int16_t *out);
void eml_dwconv2d_s16(const eml_conv_s16_params_t *p, const int16_t *in, const int8_t *w, const int64_t *bias,
                      const int32_t *mult, const int32_t *shift, int16_t *out);

typedef struct {
    int32_t batches, in_depth, out_depth, per_channel;
    int32_t in_offset, filter_offset, out_offset, act_min, act_max, acc64;
} eml_fc_s16_params_t;

/* w: [out_depth][in_depth]; mult/shift: out_depth values when per_channel, else one */
void eml_fc_s16(const eml_fc_s16_params_t *p, const int16_t *in, const int8_t *w, const int64_t *bias,
                const int32_t *mult, const int32_t *shift, int16_t *out);

typedef struct {
    int32_t batches, in_h, in_w, ch, out_h, out_w;
    int32_t k_h, k_w, stride_h, stride_w, pad_h, pad_w, act_min, act_max;
} eml_pool_s16_params_t;

void eml_avgpool_s16(const eml_pool_s16_params_t *p, const int16_t *in, int16_t *out);
void eml_maxpool_s16(const eml_pool_s16_params_t *p, const int16_t *in, int16_t *out);

typedef struct {
    int32_t shape[4], red[4];
    int32_t count, input_zero_point, output_zero_point, multiplier, shift;
} eml_mean_s16_params_t;

void eml_mean_s16(const eml_mean_s16_params_t *p, const int16_t *in, int16_t *out);

/* ADD (op 0), SUB (1), MUL (2) with 4-D broadcasting (stride 0 on a broadcast dimension) */
typedef struct {
    int32_t shape[4], a_stride[4], b_stride[4];
    int32_t op, left_shift, in1_offset, in2_offset, in1_multiplier, in1_shift, in2_multiplier, in2_shift;
    int32_t out_multiplier, out_shift, out_offset, act_min, act_max;
} eml_binary_s16_params_t;

void eml_binary_s16(const eml_binary_s16_params_t *p, const int16_t *a, const int16_t *b, int16_t *out);

/* SOFTMAX over the last dimension; exp_lut and recip_lut: TFLM's two 513-entry interpolated tables */
typedef struct {
    int32_t outer, depth, multiplier, shift;
} eml_softmax_s16_params_t;

void eml_softmax_s16(const eml_softmax_s16_params_t *p, const int16_t *exp_lut, const int16_t *recip_lut,
                     const int16_t *in, int16_t *out);

/* LOGISTIC (is_tanh 0) / TANH (1): input * multiplier >> shift interpolated in the 256-entry sigmoid table */
typedef struct {
    int32_t size, is_tanh, multiplier, shift;
} eml_sigmoid_s16_params_t;

void eml_sigmoid_s16(const eml_sigmoid_s16_params_t *p, const uint16_t *table, const int16_t *in, int16_t *out);

/* QUANTIZE between int8/int16 and RELU: clamp(out_zp + MultiplyByQuantizedMultiplier(in - in_zp)); in16/out16 say
 * which side is int16 (else int8) */
typedef struct {
    int32_t size, in16, out16, in_zero_point, out_zero_point, multiplier, shift, act_min, act_max;
} eml_requant_s16_params_t;

void eml_requant_s16(const eml_requant_s16_params_t *p, const void *in, void *out);

/* RELU6: clamp codes to [lo, hi] */
void eml_clamp_s16(const int16_t *in, int16_t *out, int32_t n, int32_t lo, int32_t hi);
void eml_copy_s16(const int16_t *in, int16_t *out, int32_t n);

#ifdef __cplusplus
}
#endif

#endif /* EML_OPS_S16_H */
