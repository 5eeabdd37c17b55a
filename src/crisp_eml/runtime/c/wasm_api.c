/* wasm_api.c - the WebAssembly face of a generated model library (crisp-eml `--format wasm`).
 *
 * Built with emcc -sSTANDALONE_WASM --no-entry together with the library, its glue (eml_model.[ch]) and
 * eml_stream.c. There is no malloc and no JS glue: JavaScript writes floats into the static buffer that
 * eml_wasm_input() points to, calls eml_wasm_classify(len) or eml_wasm_stream_push(offset, n_rows), and
 * reads the results through the accessors below (pointers into static memory; the memory never grows).
 * One model and one stream per instance, used from one thread, like the library itself. */
#include <stddef.h>
#include <stdint.h>

#include "eml_model.h"
#include "eml_stream.h"

#define EML_WASM_EXPORT __attribute__((used, visibility("default")))

/* Input capacity in floats: a window, or a chunk of stream rows (whole rows only). */
#define EML_WASM_MIN_FLOATS 16384
#define EML_WASM_CAP_FLOATS (EML_MODEL_RAW_LEN * 4 > EML_WASM_MIN_FLOATS ? EML_MODEL_RAW_LEN * 4 : EML_WASM_MIN_FLOATS)
#define EML_WASM_CAP_ROWS (EML_WASM_CAP_FLOATS / EML_MODEL_N_AXES)
/* Results one eml_wasm_stream_push call may return; the caller pushes the rows left over again. */
#define EML_WASM_MAX_RESULTS 64

static float input[EML_WASM_CAP_FLOATS];
static eml_model_output_t output;
static float thresholds[EML_MODEL_SCORES];
static eml_pp_config_t pp_config;
static eml_stream_t stream;
static eml_stream_result_t results[EML_WASM_MAX_RESULTS];
static size_t used_rows;
static int initialized;

static int stream_start(void)
{
    eml_stream_default_config(&pp_config);
    pp_config.thresholds = thresholds; /* the module's copy: eml_wasm_set_threshold changes it */
    used_rows = 0;
    return eml_stream_init(&stream, &pp_config);
}

/* --- life cycle and single windows --- */

EML_WASM_EXPORT int eml_wasm_init(void)
{
    int status = eml_model_init();
    size_t k;
    if (status != 0) {
        return status;
    }
    for (k = 0; k < EML_MODEL_SCORES; k++) {
        thresholds[k] = eml_pp_thresholds[k];
    }
    if (stream_start() != 0) {
        return -3;
    }
    initialized = 1;
    return 0;
}

EML_WASM_EXPORT float *eml_wasm_input(void) { return input; }
EML_WASM_EXPORT int eml_wasm_input_capacity(void) { return EML_WASM_CAP_FLOATS; }

/* Classify input[0..len): 0 ok, else the library's status (eml_wasm_status_str). */
EML_WASM_EXPORT int eml_wasm_classify(int len)
{
    if (len < 0 || len > EML_WASM_CAP_FLOATS) {
        return -1;
    }
    return eml_model_classify(input, (size_t)len, &output);
}

EML_WASM_EXPORT const float *eml_wasm_scores(void) { return output.scores; }
EML_WASM_EXPORT const int8_t *eml_wasm_codes(void) { return output.codes; }
EML_WASM_EXPORT float eml_wasm_anomaly(void) { return output.anomaly; }
EML_WASM_EXPORT int eml_wasm_label_index(void) { return (int)output.label_index; }

EML_WASM_EXPORT const char *eml_wasm_status_str(int status)
{
    if (status == -1) {
        return "input longer than the wasm input buffer";
    }
    if (status == -2) {
        return "eml_wasm_init() was not called or failed";
    }
    if (status == -3) {
        return "the post-processing setting is invalid";
    }
    return eml_model_status_str(status);
}

/* --- continuous mode --- */

/* Push n_rows rows from input[offset_rows * N_AXES ...]: returns the number of results (at most
 * EML_WASM_MAX_RESULTS; eml_wasm_stream_used() tells how many rows were consumed) or a negative status. */
EML_WASM_EXPORT int eml_wasm_stream_push(int offset_rows, int n_rows)
{
    if (!initialized) {
        return -2;
    }
    if (offset_rows < 0 || n_rows < 0 || offset_rows + n_rows > EML_WASM_CAP_ROWS) {
        return -1;
    }
    used_rows = 0;
    return (int)eml_stream_push(&stream, input + (size_t)offset_rows * EML_MODEL_N_AXES, (size_t)n_rows, results,
                                EML_WASM_MAX_RESULTS, &used_rows);
}

EML_WASM_EXPORT int eml_wasm_stream_used(void) { return (int)used_rows; }
EML_WASM_EXPORT void eml_wasm_stream_reset(void) { (void)stream_start(); }

/* Accessors of result i of the last push (end_row as a double: exact below 2^53 rows). */
EML_WASM_EXPORT double eml_wasm_result_end_row(int i) { return (double)results[i].end_row; }
EML_WASM_EXPORT const int8_t *eml_wasm_result_codes(int i) { return results[i].codes; }
EML_WASM_EXPORT const float *eml_wasm_result_scores(int i) { return results[i].scores; }
EML_WASM_EXPORT const float *eml_wasm_result_averages(int i) { return results[i].averages; }
EML_WASM_EXPORT int eml_wasm_result_detection(int i) { return (int)results[i].detection; }
EML_WASM_EXPORT float eml_wasm_result_anomaly(int i) { return results[i].anomaly; }
EML_WASM_EXPORT int eml_wasm_result_status(int i) { return (int)results[i].status; }

/* Change one label's detection threshold (the stream keeps its averages): 0 ok, -1 bad label or threshold. */
EML_WASM_EXPORT int eml_wasm_set_threshold(int k, float thr)
{
    if (k < 0 || k >= EML_MODEL_SCORES) {
        return -1;
    }
#if EML_MODEL_IS_CLASSIFIER
    if (eml_pp_set_threshold(&stream.pp, (int32_t)k, thr) != 0) {
        return -1;
    }
#endif
    thresholds[k] = thr;
    return 0;
}

EML_WASM_EXPORT float eml_wasm_threshold(int k) { return k >= 0 && k < EML_MODEL_SCORES ? thresholds[k] : -1.0f; }

/* --- what the model is --- */

EML_WASM_EXPORT const char *eml_wasm_name(void) { return EML_MODEL_NAME; }
EML_WASM_EXPORT int eml_wasm_is_classifier(void) { return EML_MODEL_IS_CLASSIFIER; }
EML_WASM_EXPORT int eml_wasm_has_anomaly(void) { return EML_MODEL_HAS_ANOMALY; }
EML_WASM_EXPORT int eml_wasm_label_count(void) { return EML_MODEL_LABEL_COUNT; }
EML_WASM_EXPORT int eml_wasm_score_count(void) { return EML_MODEL_SCORES; }
EML_WASM_EXPORT const char *eml_wasm_label(int k)
{
    return k >= 0 && k < EML_MODEL_LABEL_COUNT ? eml_model_labels[k] : "";
}
EML_WASM_EXPORT int eml_wasm_raw_len(void) { return EML_MODEL_RAW_LEN; }
EML_WASM_EXPORT int eml_wasm_n_axes(void) { return EML_MODEL_N_AXES; }
EML_WASM_EXPORT int eml_wasm_window_rows(void) { return EML_MODEL_WINDOW_ROWS; }
EML_WASM_EXPORT int eml_wasm_slice_rows(void) { return EML_MODEL_SLICE_ROWS; }
EML_WASM_EXPORT int eml_wasm_slices_per_window(void) { return EML_MODEL_SLICES_PER_WINDOW; }
EML_WASM_EXPORT int eml_wasm_variable_length(void) { return EML_MODEL_VARIABLE_LENGTH; }
EML_WASM_EXPORT int eml_wasm_dsp_in_c(void) { return EML_MODEL_DSP_IN_C; }
EML_WASM_EXPORT double eml_wasm_frequency(void) { return EML_MODEL_FREQUENCY_HZ; }
EML_WASM_EXPORT float eml_wasm_output_scale(void) { return EML_MODEL_OUTPUT_SCALE; }
EML_WASM_EXPORT int eml_wasm_output_zero_point(void) { return EML_MODEL_OUTPUT_ZERO_POINT; }
EML_WASM_EXPORT int eml_wasm_average_windows(void) { return EML_PP_AVERAGE_WINDOWS; }
EML_WASM_EXPORT int eml_wasm_suppression_steps(void) { return EML_PP_SUPPRESSION_STEPS; }
EML_WASM_EXPORT const char *eml_wasm_parameters_json(void) { return eml_model_parameters_json; }
EML_WASM_EXPORT const char *eml_wasm_project_json(void) { return eml_model_project_json; }
