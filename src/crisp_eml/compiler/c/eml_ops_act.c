/* eml_ops_act.c - int8 PRELU, bit-exact with TFLite Micro (see eml_ops_act.h). Element k is written after its
 * inputs are read, in increasing NHWC order (the planner may run it in place). */
#include "eml_ops_act.h"

#include "eml_kernels.h"

void eml_prelu_s8(const eml_prelu_params_t *p, const int8_t *x, const int8_t *alpha, int8_t *out)
{
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->shape[0]; ++i0) {
        for (i1 = 0; i1 < p->shape[1]; ++i1) {
            for (i2 = 0; i2 < p->shape[2]; ++i2) {
                const int8_t *xr = x + i0 * p->x_stride[0] + i1 * p->x_stride[1] + i2 * p->x_stride[2];
                const int8_t *ar = alpha + i0 * p->a_stride[0] + i1 * p->a_stride[1] + i2 * p->a_stride[2];
                for (i3 = 0; i3 < p->shape[3]; ++i3) {
                    const int32_t v = p->in_offset + xr[i3 * p->x_stride[3]];
                    int32_t r;
                    if (v >= 0) {
                        r = eml_mul_by_qm(v, p->mult1, p->shift1);
                    } else {
                        r = eml_mul_by_qm(v * (p->alpha_offset + ar[i3 * p->a_stride[3]]), p->mult2, p->shift2);
                    }
                    r += p->out_offset;
                    *out++ = (int8_t)(r < -128 ? -128 : (r > 127 ? 127 : r));
                }
            }
        }
    }
}
