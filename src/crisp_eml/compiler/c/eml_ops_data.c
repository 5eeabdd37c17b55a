/* eml_ops_data.c - int8 REDUCE_MAX/MIN, SPLIT/SPLIT_V/UNPACK and GATHER, bit-exact with TFLite Micro (see
 * eml_ops_data.h). Outputs are written in increasing order; these ops never run in place. */
#include "eml_ops_data.h"

void eml_reduce_minmax_s8(const eml_reduce_params_t *p, const int8_t *in, int8_t *out)
{
    int32_t ext[4], st[4], o[4], r[4], d;
    st[3] = 1;
    for (d = 2; d >= 0; --d) {
        st[d] = st[d + 1] * p->shape[d + 1];
    }
    for (d = 0; d < 4; ++d) {
        ext[d] = p->red[d] ? p->shape[d] : 1;
    }
    for (o[0] = 0; o[0] < (p->red[0] ? 1 : p->shape[0]); ++o[0]) {
        for (o[1] = 0; o[1] < (p->red[1] ? 1 : p->shape[1]); ++o[1]) {
            for (o[2] = 0; o[2] < (p->red[2] ? 1 : p->shape[2]); ++o[2]) {
                for (o[3] = 0; o[3] < (p->red[3] ? 1 : p->shape[3]); ++o[3]) {
                    const int8_t *base = in + o[0] * st[0] + o[1] * st[1] + o[2] * st[2] + o[3] * st[3];
                    int32_t acc = p->is_min ? 127 : -128;
                    for (r[0] = 0; r[0] < ext[0]; ++r[0]) {
                        for (r[1] = 0; r[1] < ext[1]; ++r[1]) {
                            for (r[2] = 0; r[2] < ext[2]; ++r[2]) {
                                const int8_t *row = base + r[0] * st[0] + r[1] * st[1] + r[2] * st[2];
                                for (r[3] = 0; r[3] < ext[3]; ++r[3]) {
                                    const int32_t v = row[r[3] * st[3]];
                                    if (p->is_min ? v < acc : v > acc) {
                                        acc = v;
                                    }
                                }
                            }
                        }
                    }
                    *out++ = (int8_t)acc;
                }
            }
        }
    }
}

void eml_split_s8(int32_t outer, int32_t n, const int32_t *inner, int8_t *const *outs, const int8_t *in)
{
    int32_t o, k, i;
    for (o = 0; o < outer; ++o) {
        for (k = 0; k < n; ++k) {
            int8_t *dst = outs[k] + o * inner[k];
            for (i = 0; i < inner[k]; ++i) {
                dst[i] = *in++;
            }
        }
    }
}

void eml_gather_axis_s8(const eml_gather_axis_params_t *p, const int32_t *coords, const int8_t *in, int8_t *out)
{
    int32_t b, o, c, i;
    for (b = 0; b < p->batch; ++b) {
        for (o = 0; o < p->outer; ++o) {
            const int8_t *src = in + (b * p->outer + o) * p->axis_size * p->inner;
            for (c = 0; c < p->coord_size; ++c) {
                const int8_t *s = src + coords[b * p->coord_size + c] * p->inner;
                for (i = 0; i < p->inner; ++i) {
                    *out++ = s[i];
                }
            }
        }
    }
}
