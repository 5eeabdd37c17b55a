/* eml_ops_act.h - int8 PRELU (crisp-eml runtime, C99, no malloc). HARD_SWISH and LEAKY_RELU are functions of
 * one int8 code: the compiler tabulates TFLite Micro's reference outputs and they run as eml_lut_s8. */
#ifndef EML_OPS_ACT_H
#define EML_OPS_ACT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t shape[4], x_stride[4], a_stride[4]; /* output shape; element strides (0: broadcast) */
    int32_t in_offset, alpha_offset, out_offset, mult1, shift1, mult2, shift2;
} eml_prelu_params_t;

/* out = x >= 0 ? x * s_in / s_out : x * alpha * s_in * s_a / s_out (TFLM's BroadcastPrelu4DSlow) */
void eml_prelu_s8(const eml_prelu_params_t *p, const int8_t *x, const int8_t *alpha, int8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* EML_OPS_ACT_H */
