/* eml_ops_resize.c - int8 image resizing, bit-exact with TFLite Micro (see eml_ops_resize.h). Output written
 * in increasing NHWC order. */
#include "eml_ops_resize.h"

void eml_resize_nearest_s8(const eml_resize_params_t *p, const int32_t *ys, const int32_t *xs, const int8_t *in,
                           int8_t *out) {
    const int32_t c = p->channels;
    const int32_t row = p->in_w * c;
    int32_t b, y, x, k;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *img = in + (int32_t)b * p->in_h * row;
        for (y = 0; y < p->out_h; ++y) {
            const int8_t *src_row = img + ys[y] * row;
            for (x = 0; x < p->out_w; ++x) {
                const int8_t *src = src_row + xs[x] * c;
                for (k = 0; k < c; ++k) {
                    out[k] = src[k];
                }
                out += c;
            }
        }
    }
}

void eml_resize_bilinear_s8(const eml_resize_params_t *p, const int32_t *ytab, const int32_t *xtab,
                            const int8_t *in, int8_t *out) {
    const int32_t c = p->channels;
    const int32_t row = p->in_w * c;
    int32_t b, y, x, k;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *img = in + (int32_t)b * p->in_h * row;
        for (y = 0; y < p->out_h; ++y) {
            const int8_t *r0 = img + ytab[3 * y] * row;
            const int8_t *r1 = img + ytab[3 * y + 1] * row;
            const int32_t hy = ytab[3 * y + 2], ly = 1024 - hy;
            for (x = 0; x < p->out_w; ++x) {
                const int32_t c0 = xtab[3 * x] * c, c1 = xtab[3 * x + 1] * c;
                const int32_t hx = xtab[3 * x + 2], lx = 1024 - hx;
                /* |sum| < 128 * 2048 * 2048 = 2^29 (checked by the compiler): int32 is exact */
                const int32_t w00 = ly * lx, w10 = hy * lx, w01 = ly * hx, w11 = hy * hx;
                for (k = 0; k < c; ++k) {
                    const int32_t acc = r0[c0 + k] * w00 + r1[c0 + k] * w10 + r0[c1 + k] * w01 + r1[c1 + k] * w11;
                    out[k] = (int8_t)(acc > 0 ? (acc + (1 << 19)) / (1 << 20) : (acc - (1 << 19)) / (1 << 20));
                }
                out += c;
            }
        }
    }
}
