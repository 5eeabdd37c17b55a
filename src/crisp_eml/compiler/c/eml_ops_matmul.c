/* eml_ops_matmul.c - int8 TRANSPOSE_CONV and BATCH_MATMUL (see eml_ops_matmul.h). Outputs are written in
 * increasing flat index order. */
#include "eml_ops_matmul.h"

#include "eml_kernels.h"

static int8_t eml_mm_store(int32_t acc, int32_t mult, int32_t shift, int32_t off, int32_t lo, int32_t hi) {
    int32_t v = eml_mul_by_qm(acc, mult, shift) + off;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    return (int8_t)v;
}

void eml_transpose_conv_s8(const eml_transpose_conv_params_t *p, const int8_t *in, const int8_t *w,
                           const int32_t *bias, const int32_t *mult, const int32_t *shift, int8_t *out) {
    const int32_t ic = p->in_c;
    int32_t b, oy, ox, oc, ky, kx, c;
    for (b = 0; b < p->batches; ++b) {
        const int8_t *img = in + (int32_t)b * p->in_h * p->in_w * ic;
        for (oy = 0; oy < p->out_h; ++oy) {
            for (ox = 0; ox < p->out_w; ++ox) {
                for (oc = 0; oc < p->out_c; ++oc) {
                    /* unsigned: TFLM's int32 scratch wraps; the low 32 bits are the same in any order */
                    uint32_t acc = 0;
                    for (ky = 0; ky < p->k_h; ++ky) {
                        const int32_t ty = oy + p->pad_h - ky;
                        int32_t iy;
                        if (ty < 0 || ty % p->stride_h != 0) {
                            continue;
                        }
                        iy = ty / p->stride_h;
                        if (iy >= p->in_h) {
                            continue;
                        }
                        for (kx = 0; kx < p->k_w; ++kx) {
                            const int32_t tx = ox + p->pad_w - kx;
                            const int8_t *src;
                            const int8_t *wt;
                            int32_t ix, sum = 0;
                            if (tx < 0 || tx % p->stride_w != 0) {
                                continue;
                            }
                            ix = tx / p->stride_w;
                            if (ix >= p->in_w) {
                                continue;
                            }
                            src = img + (iy * p->in_w + ix) * ic;
                            wt = w + ((oc * p->k_h + ky) * p->k_w + kx) * ic;
                            for (c = 0; c < ic; ++c) {
                                sum += (src[c] + p->in_offset) * wt[c];
                            }
                            acc += (uint32_t)sum;
                        }
                    }
                    if (bias) {
                        acc += (uint32_t)bias[oc];
                    }
                    *out++ = eml_mm_store((int32_t)acc, mult[oc], shift[oc], p->out_offset, p->act_min,
                                          p->act_max);
                }
            }
        }
    }
}

void eml_batch_matmul_s8(const eml_batch_matmul_params_t *p, const int8_t *lhs, const int8_t *rhs, int8_t *out) {
    int32_t b0, b1, b2, i, j, kk;
    for (b0 = 0; b0 < p->batch[0]; ++b0) {
        for (b1 = 0; b1 < p->batch[1]; ++b1) {
            for (b2 = 0; b2 < p->batch[2]; ++b2) {
                const int8_t *l = lhs + b0 * p->lhs_bstride[0] + b1 * p->lhs_bstride[1] + b2 * p->lhs_bstride[2];
                const int8_t *r = rhs + b0 * p->rhs_bstride[0] + b1 * p->rhs_bstride[1] + b2 * p->rhs_bstride[2];
                for (i = 0; i < p->m; ++i) {
                    const int8_t *li = l + i * p->lhs_si;
                    for (j = 0; j < p->n; ++j) {
                        const int8_t *rj = r + j * p->rhs_sj;
                        uint32_t acc = 0;
                        for (kk = 0; kk < p->k; ++kk) {
                            acc += (uint32_t)((li[kk * p->lhs_sk] + p->lhs_offset) * (rj[kk * p->rhs_sk] + p->rhs_offset));
                        }
                        *out++ = eml_mm_store((int32_t)acc, p->multiplier, p->shift, p->out_offset, -128, 127);
                    }
                }
            }
        }
    }
}
