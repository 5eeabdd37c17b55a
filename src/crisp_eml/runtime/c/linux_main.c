/* linux_main.c - part of the crisp-eml runtime: a static command-line runner around one generated library,
 * built by runtime/build.py (program "linux", with eml_json.c, eml_stream.c and the glue).
 *
 * Usage: NAME-run [--continuous] [--json] [--features] [--raw] FILE|-
 *
 * Input (FILE, or stdin for "-"):
 * - CSV (default): one row per line, EML_MODEL_N_AXES comma-separated numbers (axes in the model's order).
 *   Spaces around a number, empty lines and a first line whose first field is not a number (a header) are
 *   ignored; "\r\n" line ends are accepted.
 * - --features: one whole window per line: EML_MODEL_RAW_LEN numbers (a variable-length model: any positive
 *   multiple of EML_MODEL_N_AXES), what eml_model_classify takes.
 * - --raw: raw little-endian 16-bit PCM, axes interleaved, each sample read as value / 32768 (as crisp-eml
 *   reads WAV files).
 *
 * Output, one line per result on stdout. The time "t" is the end of the window in seconds (rows seen /
 * EML_MODEL_FREQUENCY_HZ); a model without a sampling rate (features in) reports the rows seen instead.
 * - default: every complete window of EML_MODEL_WINDOW_ROWS rows, not overlapping (--features: every line),
 *   is classified: text "t=2.000s walking 0.99609 | badminton=0 running=0 ..." or with --json
 *   {"t":2,"classification":{label:score,...},"label":"walking"} (+ "anomaly" for a model with one;
 *   "label" is null for an anomaly scorer). Rows left over at the end that do not fill a window are reported
 *   on stderr.
 * - --continuous: the stream semantics of eml_stream.h (a window every EML_MODEL_SLICE_ROWS rows once the
 *   first is full) with the post-processing compiled in: {"t":..,"classification":{window scores},
 *   "average":{moving averages},"detection":label or null} per window, or the same as text.
 *
 * Exit status: 0 ok; 2 bad usage or malformed input (the message names the line and the column, or the byte
 * offset of raw input); 1 the model failed or the input could not be read.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eml_json.h"
#include "eml_model.h"
#include "eml_stream.h"

#define MAX_LINE (16u * 1024u * 1024u)
#define BATCH_ROWS 256u
#if EML_MODEL_VARIABLE_LENGTH
#define MAX_VALUES (MAX_LINE / 2u + 1u)
#else
#define MAX_VALUES EML_MODEL_RAW_LEN
#endif

typedef struct {
    int continuous, json, features, raw;
    const char *input;
} options_t;

static float g_values[MAX_VALUES];
static float g_batch[BATCH_ROWS * EML_MODEL_N_AXES];
static eml_stream_result_t g_results[BATCH_ROWS];
static eml_stream_t g_stream;
static char g_out[1u << 20];

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--continuous] [--json] [--features] [--raw] FILE|-\n"
                    "  CSV rows of %d values (axes interleaved); --features: one window (%d values) per line;\n"
                    "  --raw: little-endian 16-bit PCM; --continuous: a result every %d rows with post-processing\n",
            prog, EML_MODEL_N_AXES, EML_MODEL_RAW_LEN, EML_MODEL_SLICE_ROWS);
}

static double seconds(unsigned long long rows)
{
    return EML_MODEL_FREQUENCY_HZ > 0 ? (double)rows / (double)EML_MODEL_FREQUENCY_HZ : (double)rows;
}

static void write_scores(eml_jw_t *w, const float *scores)
{
    eml_jw_floats_object(w, eml_model_labels, scores, EML_MODEL_LABEL_COUNT);
}

static void write_text_scores(eml_jw_t *w, const float *scores)
{
    int k;
    char tmp[48];
    for (k = 0; k < EML_MODEL_LABEL_COUNT; ++k) {
        eml_jw_raw(w, " ");
        eml_jw_raw(w, eml_model_labels[k]);
        (void)snprintf(tmp, sizeof tmp, "=%.5f", (double)scores[k]);
        eml_jw_raw(w, tmp);
    }
}

static int emit(eml_jw_t *w)
{
    if (w->overflow) {
        fprintf(stderr, "result line too long\n");
        return 1;
    }
    eml_jw_raw(w, "\n");
    return fputs(w->buf, stdout) == EOF ? 1 : 0;
}

static int print_window(const options_t *o, unsigned long long rows, const eml_model_output_t *out)
{
    eml_jw_t w;
    char tmp[64];
    eml_jw_init(&w, g_out, sizeof g_out);
    if (o->json) {
        eml_jw_raw(&w, "{\"t\":");
        (void)snprintf(tmp, sizeof tmp, "%.9g", seconds(rows));
        eml_jw_raw(&w, tmp);
        eml_jw_raw(&w, ",\"classification\":");
        write_scores(&w, out->scores);
        if (EML_MODEL_HAS_ANOMALY) {
            eml_jw_raw(&w, ",\"anomaly\":");
            eml_jw_float(&w, out->anomaly);
        }
        eml_jw_raw(&w, ",\"label\":");
        if (EML_MODEL_IS_CLASSIFIER && out->label_index >= 0 && out->label_index < EML_MODEL_LABEL_COUNT) {
            eml_jw_str(&w, eml_model_labels[out->label_index]);
        } else {
            eml_jw_raw(&w, "null");
        }
        eml_jw_raw(&w, "}");
    } else {
        (void)snprintf(tmp, sizeof tmp, "t=%.3fs", seconds(rows));
        eml_jw_raw(&w, tmp);
        if (EML_MODEL_IS_CLASSIFIER && out->label_index >= 0 && out->label_index < EML_MODEL_LABEL_COUNT) {
            eml_jw_raw(&w, " ");
            eml_jw_raw(&w, eml_model_labels[out->label_index]);
            (void)snprintf(tmp, sizeof tmp, " %.5f |", (double)out->scores[out->label_index]);
            eml_jw_raw(&w, tmp);
        }
        write_text_scores(&w, out->scores);
        if (EML_MODEL_HAS_ANOMALY) {
            (void)snprintf(tmp, sizeof tmp, " anomaly=%.5f", (double)out->anomaly);
            eml_jw_raw(&w, tmp);
        }
    }
    return emit(&w);
}

static int print_stream_result(const options_t *o, const eml_stream_result_t *r)
{
    eml_jw_t w;
    char tmp[64];
    const char *det = r->detection >= 0 && r->detection < EML_MODEL_LABEL_COUNT ? eml_model_labels[r->detection]
                                                                                 : NULL;
    eml_jw_init(&w, g_out, sizeof g_out);
    if (o->json) {
        eml_jw_raw(&w, "{\"t\":");
        (void)snprintf(tmp, sizeof tmp, "%.9g", seconds((unsigned long long)r->end_row));
        eml_jw_raw(&w, tmp);
        eml_jw_raw(&w, ",\"classification\":");
        write_scores(&w, r->scores);
        eml_jw_raw(&w, ",\"average\":");
        write_scores(&w, r->averages);
        eml_jw_raw(&w, ",\"detection\":");
        if (det != NULL) {
            eml_jw_str(&w, det);
        } else {
            eml_jw_raw(&w, "null");
        }
        eml_jw_raw(&w, "}");
    } else {
        (void)snprintf(tmp, sizeof tmp, "t=%.3fs", seconds((unsigned long long)r->end_row));
        eml_jw_raw(&w, tmp);
        write_text_scores(&w, r->scores);
        eml_jw_raw(&w, " | average");
        write_text_scores(&w, r->averages);
        if (det != NULL) {
            eml_jw_raw(&w, " | DETECTED ");
            eml_jw_raw(&w, det);
        }
    }
    return emit(&w);
}

/* reads one number of a CSV field [s, e) into *v: 0 ok, -1 not a decimal number, -2 beyond float32's range */
static int parse_number(const char *s, const char *e, float *v)
{
    char tmp[80];
    char *stop = NULL;
    const char *p;
    double d;
    int digits = 0;
    while (s < e && (*s == ' ' || *s == '\t')) {
        s++;
    }
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
        e--;
    }
    if (s == e || (size_t)(e - s) >= sizeof tmp) {
        return -1;
    }
    /* decimal notation only: [+-] digits [. digits] [e [+-] digits] (strtod alone would take inf, nan, hex) */
    p = s;
    if (*p == '+' || *p == '-') {
        p++;
    }
    while (p < e && *p >= '0' && *p <= '9') {
        p++;
        digits++;
    }
    if (p < e && *p == '.') {
        p++;
        while (p < e && *p >= '0' && *p <= '9') {
            p++;
            digits++;
        }
    }
    if (digits == 0) {
        return -1;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) {
            p++;
        }
        if (p >= e || *p < '0' || *p > '9') {
            return -1;
        }
        while (p < e && *p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (p != e) {
        return -1;
    }
    memcpy(tmp, s, (size_t)(e - s));
    tmp[e - s] = '\0';
    d = strtod(tmp, &stop);
    if (*stop != '\0') {
        return -1;
    }
    if (!(fabs(d) <= 3.4028234663852886e38)) {
        return -2;
    }
    *v = (float)d;
    return 0;
}

/* splits a line into numbers; returns the count, or -1 after printing an error naming line and column */
static long parse_line(const char *name, unsigned long line_no, char *line, size_t len, float *out, size_t cap,
                       int may_be_header)
{
    size_t n = 0;
    const char *s = line, *end = line + len;
    for (;;) {
        const char *e = memchr(s, ',', (size_t)(end - s));
        float v;
        int bad;
        if (e == NULL) {
            e = end;
        }
        bad = parse_number(s, e, &v);
        if (bad != 0) {
            if (may_be_header && n == 0 && bad == -1) {
                return 0; /* a header line */
            }
            fprintf(stderr, "%s: line %lu, column %lu (field %lu): '%.*s' is %s\n", name, line_no,
                    (unsigned long)(s - line) + 1u, (unsigned long)n + 1u, (int)(e - s > 40 ? 40 : e - s), s,
                    bad == -1 ? "not a number" : "beyond the float32 range");
            return -1;
        }
        if (n < cap) {
            out[n] = v;
        }
        n++;
        if (e == end) {
            break;
        }
        s = e + 1;
    }
    return (long)n;
}

typedef struct {
    const options_t *o;
    unsigned long long rows;  /* rows seen */
    unsigned long long batch_start; /* rows seen before the first row in g_batch */
    size_t batch_rows;        /* rows waiting in g_batch */
    int status;
} runner_t;

/* classifies or streams the rows in g_batch */
static int flush(runner_t *r)
{
    size_t off = 0;
    if (r->o->continuous) {
        while (off < r->batch_rows) {
            size_t used = 0, i;
            size_t got = eml_stream_push(&g_stream, g_batch + off * EML_MODEL_N_AXES, r->batch_rows - off,
                                         g_results, BATCH_ROWS, &used);
            for (i = 0; i < got; ++i) {
                if (g_results[i].status != 0) {
                    fprintf(stderr, "the model failed: %s\n", eml_model_status_str(g_results[i].status));
                    return 1;
                }
                if (print_stream_result(r->o, &g_results[i]) != 0) {
                    return 1;
                }
            }
            off += used;
        }
    } else {
        /* the batch holds whole windows (BATCH_ROWS is a multiple of the window or one window) */
        for (off = 0; off + EML_MODEL_WINDOW_ROWS <= r->batch_rows; off += EML_MODEL_WINDOW_ROWS) {
            eml_model_output_t out;
            int status = eml_model_classify(g_batch + off * EML_MODEL_N_AXES, EML_MODEL_RAW_LEN, &out);
            unsigned long long end = r->batch_start + off + EML_MODEL_WINDOW_ROWS;
            if (status != 0) {
                fprintf(stderr, "the model failed: %s\n", eml_model_status_str(status));
                return 1;
            }
            if (print_window(r->o, end, &out) != 0) {
                return 1;
            }
        }
    }
    r->batch_rows = 0;
    return 0;
}

/* batch capacity in rows: continuous BATCH_ROWS, else whole windows */
static size_t batch_cap(const options_t *o)
{
    size_t per = EML_MODEL_WINDOW_ROWS;
    if (o->continuous) {
        return BATCH_ROWS;
    }
    return per > BATCH_ROWS ? per : (BATCH_ROWS / per) * per;
}

static int add_row(runner_t *r, const float *row)
{
    if (r->batch_rows == 0) {
        r->batch_start = r->rows;
    }
    memcpy(g_batch + r->batch_rows * EML_MODEL_N_AXES, row, EML_MODEL_N_AXES * sizeof(float));
    r->batch_rows++;
    r->rows++;
    return r->batch_rows == batch_cap(r->o) ? flush(r) : 0;
}

static int run_raw(runner_t *r, FILE *in, const char *name)
{
    unsigned char buf[2 * EML_MODEL_N_AXES];
    float row[EML_MODEL_N_AXES];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) == sizeof buf) {
        int a;
        for (a = 0; a < EML_MODEL_N_AXES; ++a) {
            int v = (int)(buf[2 * a] | (buf[2 * a + 1] << 8));
            row[a] = (float)(v >= 32768 ? v - 65536 : v) / 32768.0f;
        }
        if (add_row(r, row) != 0) {
            return 1;
        }
    }
    if (ferror(in)) {
        fprintf(stderr, "%s: %s\n", name, strerror(errno));
        return 1;
    }
    if (got != 0) {
        fprintf(stderr, "%s: byte %llu: the input ends inside a row (%lu of %lu bytes)\n", name,
                r->rows * (unsigned long long)sizeof buf, (unsigned long)got, (unsigned long)sizeof buf);
        return 2;
    }
    return 0;
}

static int run_text(runner_t *r, FILE *in, const char *name)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long line_no = 0;
    int rc = 0, seen_data = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        long n;
        size_t want;
        line_no++;
        if ((size_t)len > MAX_LINE) {
            fprintf(stderr, "%s: line %lu: longer than %u bytes\n", name, line_no, (unsigned)MAX_LINE);
            rc = 2;
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (strspn(line, " \t") == (size_t)len) {
            continue;
        }
        if (memchr(line, '\0', (size_t)len) != NULL) {
            fprintf(stderr, "%s: line %lu: NUL byte in a text line\n", name, line_no);
            rc = 2;
            break;
        }
        n = parse_line(name, line_no, line, (size_t)len, g_values, MAX_VALUES, !seen_data);
        if (n < 0) {
            rc = 2;
            break;
        }
        if (n == 0) {
            seen_data = 1; /* the header: only the first line may be one */
            continue;
        }
        seen_data = 1;
        if (r->o->features) {
            int ok = EML_MODEL_VARIABLE_LENGTH ? (n % EML_MODEL_N_AXES == 0) : (n == EML_MODEL_RAW_LEN);
            eml_model_output_t out;
            int status;
            if (!ok) {
                fprintf(stderr, "%s: line %lu: %ld values, expected %s%d\n", name, line_no, n,
                        EML_MODEL_VARIABLE_LENGTH ? "a multiple of " : "",
                        EML_MODEL_VARIABLE_LENGTH ? EML_MODEL_N_AXES : EML_MODEL_RAW_LEN);
                rc = 2;
                break;
            }
            status = eml_model_classify(g_values, (size_t)n, &out);
            r->rows += (unsigned long long)n / EML_MODEL_N_AXES;
            if (status != 0) {
                fprintf(stderr, "%s: line %lu: the model failed: %s\n", name, line_no, eml_model_status_str(status));
                rc = 1;
                break;
            }
            if (print_window(r->o, r->rows, &out) != 0) {
                rc = 1;
                break;
            }
            continue;
        }
        want = EML_MODEL_N_AXES;
        if ((size_t)n != want) {
            fprintf(stderr, "%s: line %lu: %ld values, expected %lu (one per axis)\n", name, line_no, n,
                    (unsigned long)want);
            rc = 2;
            break;
        }
        if (add_row(r, g_values) != 0) {
            rc = 1;
            break;
        }
    }
    if (rc == 0 && ferror(in)) {
        fprintf(stderr, "%s: %s\n", name, strerror(errno));
        rc = 1;
    }
    free(line);
    return rc;
}

int main(int argc, char **argv)
{
    options_t o;
    runner_t r;
    FILE *in;
    const char *name;
    int i, rc, status;
    memset(&o, 0, sizeof o);
    for (i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--continuous") == 0) {
            o.continuous = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            o.json = 1;
        } else if (strcmp(argv[i], "--features") == 0) {
            o.features = 1;
        } else if (strcmp(argv[i], "--raw") == 0) {
            o.raw = 1;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(argv[0]);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]);
            usage(argv[0]);
            return 2;
        } else if (o.input == NULL) {
            o.input = argv[i];
        } else {
            fprintf(stderr, "%s: more than one input (%s)\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (o.input == NULL) {
        usage(argv[0]);
        return 2;
    }
    if (o.features && (o.continuous || o.raw)) {
        fprintf(stderr, "%s: --features takes whole windows; it cannot be combined with --continuous or --raw\n",
                argv[0]);
        return 2;
    }
    if (o.continuous && !EML_MODEL_IS_CLASSIFIER) {
        fprintf(stderr, "%s: --continuous needs a classifier (this model only scores anomalies)\n", argv[0]);
        return 2;
    }
    status = eml_model_init();
    if (status != 0) {
        fprintf(stderr, "%s: model init failed: %s\n", argv[0], eml_model_status_str(status));
        return 1;
    }
    if (o.continuous && eml_stream_init(&g_stream, NULL) != 0) {
        fprintf(stderr, "%s: bad post-processing setting\n", argv[0]);
        return 1;
    }
    name = strcmp(o.input, "-") == 0 ? "stdin" : o.input;
    in = strcmp(o.input, "-") == 0 ? stdin : fopen(o.input, o.raw ? "rb" : "r");
    if (in == NULL) {
        fprintf(stderr, "%s: cannot open %s: %s\n", argv[0], o.input, strerror(errno));
        return 2;
    }
    memset(&r, 0, sizeof r);
    r.o = &o;
    rc = o.raw ? run_raw(&r, in, name) : run_text(&r, in, name);
    if (rc == 0 && r.batch_rows > 0) {
        size_t whole = o.continuous ? r.batch_rows : r.batch_rows - r.batch_rows % EML_MODEL_WINDOW_ROWS;
        size_t left = r.batch_rows - whole;
        r.batch_rows = whole;
        rc = flush(&r);
        if (rc == 0 && left > 0) {
            fprintf(stderr, "%s: the last %lu rows do not fill a window of %d rows (ignored)\n", name,
                    (unsigned long)left, EML_MODEL_WINDOW_ROWS);
        }
    }
    if (in != stdin) {
        (void)fclose(in);
    }
    if (fflush(stdout) != 0) {
        rc = rc ? rc : 1;
    }
    return rc;
}
