/* eml_ops_data.h - int8 data movement and reductions (crisp-eml runtime, C99, no malloc): REDUCE_MAX/MIN,
 * SPLIT/SPLIT_V/UNPACK (several outputs), GATHER (constant indices). PACK is eml_concat_s8. Byte copies and
 * compares only: TFLite Micro does not rescale these ops. */
#ifndef EML_OPS_DATA_H
#define EML_OPS_DATA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int32_t shape[4], red[4]; /* input shape (rank <= 4, leading 1s); 1 where the axis is reduced */
    int32_t is_min;           /* 0: REDUCE_MAX, 1: REDUCE_MIN */
} eml_reduce_params_t;

void eml_reduce_minmax_s8(const eml_reduce_params_t *p, const int8_t *in, int8_t *out);

/* the input as [outer][sum of inner]: output k gets inner[k] bytes of each outer row, in turn */
void eml_split_s8(int32_t outer, int32_t n, const int32_t *inner, int8_t *const *outs, const int8_t *in);

typedef struct {
    int32_t batch, outer, axis_size, coord_size, inner;
} eml_gather_axis_params_t;

/* TFLM's Gather: out[b][o][c][:] = in[b][o][coords[b * coord_size + c]][:] (coords checked in range) */
void eml_gather_axis_s8(const eml_gather_axis_params_t *p, const int32_t *coords, const int8_t *in, int8_t *out);

#ifdef __cplusplus
}
#endif

#endif /* EML_OPS_DATA_H */
