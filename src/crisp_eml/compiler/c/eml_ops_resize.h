/* eml_ops_resize.h - int8 RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (crisp-eml runtime, C99, no malloc).
 * The compiler computes every source index and interpolation weight exactly as TFLite Micro's reference
 * kernels do and passes them as tables; these kernels only gather (nearest) or blend (bilinear). */
#ifndef EML_OPS_RESIZE_H
#define EML_OPS_RESIZE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t batches, in_h, in_w, channels, out_h, out_w;
} eml_resize_params_t;

/* ys[out_h], xs[out_w]: the source row / column of each output row / column */
void eml_resize_nearest_s8(const eml_resize_params_t *p, const int32_t *ys, const int32_t *xs, const int8_t *in,
                           int8_t *out);
/* ytab[3 * out_h], xtab[3 * out_w]: per output row / column (lower, upper, d) with d = 1024 * position - 1024 *
 * lower (TFLM's ResizeBilinearInteger); out = round_half_away(sum of the four taps weighted in 2^-20 units) */
void eml_resize_bilinear_s8(const eml_resize_params_t *p, const int32_t *ytab, const int32_t *xtab,
                            const int8_t *in, int8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* EML_OPS_RESIZE_H */
