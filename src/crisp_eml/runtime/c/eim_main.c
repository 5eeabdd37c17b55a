/* eim_main.c - part of the crisp-eml runtime: the Edge Impulse Linux runner protocol (.eim) around one generated
 * library, built into a static executable by runtime/build.py (with eml_json.c, eml_stream.c and the glue).
 *
 * Usage: model.eim SOCKET_PATH   serve the protocol on a Unix stream socket (stale socket file replaced)
 *        model.eim --print-info  print {"model_parameters":{...},"project":{...}} (the hello reply's body)
 *
 * One client at a time: a client is served until it disconnects, then the next is accepted. SIGINT, SIGTERM
 * and SIGHUP end the runner and remove the socket file.
 *
 * Framing: requests are JSON objects split by their structure (brace/bracket depth outside strings), so a
 * client may send them with or without newlines between them, several in one write or one across many. Bytes
 * outside an object that are not whitespace (or NUL) form a garbage run, answered by one error reply. A
 * message longer than EIM_MAX_MESSAGE is not stored: its remaining bytes are skipped by structure and one
 * error reply is sent when it ends. Every reply is one JSON object followed by "\n" and a NUL byte, and carries
 * the request's "id" (0 when none could be read) and "success"; failures add "error" and the runner keeps
 * serving. Unknown keys in a request are ignored.
 *
 * Requests (exactly one of these keys per object, plus "id", a number or string echoed as sent):
 * - {"hello":1}: model_parameters (eml_model_parameters_json + "thresholds") and project.
 *   "thresholds" has one entry per label: {"id":k,"type":"classification","label":"...","min_score":thr} (an
 *   anomaly scorer: {"id":0,"type":"anomaly_kmeans"|"anomaly_gmm","min_anomaly_score":thr}), the
 *   current post-processing detection threshold of label k (> 1 never fires), EI style (id + type + min_score).
 * - {"classify":[...]}: EML_MODEL_RAW_LEN numbers (or, for a variable-length model, any positive multiple of
 *   EML_MODEL_N_AXES), axes interleaved. result.classification {label: score} (+ "anomaly" when the model has
 *   one) and timing in microseconds: "classification" is the whole eml_model_classify call (DSP + network:
 *   the uniform API runs them together, so "dsp" is 0), "json" the request parsing, "anomaly" and "stdin" 0.
 *   An image model (EML_MODEL_IMAGE_WIDTH > 0) takes either the library's own frame (W x H x C values 0..255,
 *   channels interleaved, rows top to bottom) or, as Edge Impulse's image clients send it, W x H packed pixels
 *   (R << 16) | (G << 8) | B, integers 0..16777215, unpacked here to R, G, B (a 1-channel library takes the
 *   gray value: R when R = G = B, else 0.299 R + 0.587 G + 0.114 B). For a 1-channel library the two counts
 *   are equal: the values are packed pixels when any of them exceeds 255 (a gray pixel g > 0 packs to 65793 g),
 *   else gray levels (a packed 0 is gray 0 either way). The hello's input_features_count is W x H (packed).
 * - {"classify_continuous":[...]}: exactly EML_MODEL_SLICE_ROWS * EML_MODEL_N_AXES numbers, pushed into the
 *   stream (sliding window, slices, post-processing). The reply's result.classification holds the moving
 *   averages of every label (eml_pp_average), "detection" the label detected on this step or null, and
 *   "window_complete" whether a window ended in this slice. Before the first full window, and on slices in
 *   which no window ends, the averages are those of the last result (0 before the first), "detection" is null
 *   and "window_complete" false. The stream starts empty for every new client connection.
 * - {"set_threshold":{"id":k,"min_score":x}}: sets label k's detection threshold (x finite, >= 0; > 1 means
 *   never); the change lasts until the runner exits and is reported by the next hello.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "eml_json.h"
#include "eml_model.h"
#include "eml_stream.h"

#define EIM_MAX_MESSAGE (4u * 1024u * 1024u)
#define EIM_REPLY_BYTES (1024u * 1024u)
#define EIM_SLICE_LEN (EML_MODEL_SLICE_ROWS * EML_MODEL_N_AXES)
#if EML_MODEL_VARIABLE_LENGTH
#define EIM_MAX_FEATURES (EIM_MAX_MESSAGE / 2u + 1u)
#else
#define EIM_MAX_FEATURES (EML_MODEL_RAW_LEN > EIM_SLICE_LEN ? EML_MODEL_RAW_LEN : EIM_SLICE_LEN)
#endif

#if EML_MODEL_IMAGE_WIDTH > 0
#define EIM_IMAGE_PIXELS (EML_MODEL_IMAGE_WIDTH * EML_MODEL_IMAGE_HEIGHT)
#if EML_MODEL_IMAGE_INPUT_CHANNELS != 1 && EML_MODEL_IMAGE_INPUT_CHANNELS != 3
#error "the .eim unpacks pixels for 1- or 3-channel frames only"
#endif
#endif

enum { REQ_NONE, REQ_HELLO, REQ_CLASSIFY, REQ_CONTINUOUS, REQ_SET_THRESHOLD };
enum { MODE_IDLE, MODE_MESSAGE, MODE_SKIP, MODE_GARBAGE };

static char g_message[EIM_MAX_MESSAGE + 1];
static float g_features[EIM_MAX_FEATURES];
static char g_reply[EIM_REPLY_BYTES];
static float g_thresholds[EML_MODEL_SCORES];
#if EML_MODEL_IMAGE_WIDTH > 0
static float g_frame[EML_MODEL_RAW_LEN]; /* packed pixels unpacked into the library's frame */
#endif
static eml_stream_t g_stream;
static volatile sig_atomic_t g_stop;

typedef struct {
    size_t len;
    int mode, depth, in_string, escape, garbage_replied;
} framer_t;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static long long micros(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + (long long)(ts.tv_nsec / 1000);
}

static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR && !g_stop) {
                continue;
            }
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* writes the reply in w (or an error if it overflowed) followed by "\n\0" */
static int send_reply(int fd, eml_jw_t *w, const char *id)
{
    if (w->overflow) {
        eml_jw_init(w, g_reply, sizeof g_reply);
        eml_jw_raw(w, "{\"id\":");
        eml_jw_raw(w, id);
        eml_jw_raw(w, ",\"success\":false,\"error\":\"reply too large\"}");
    }
    if (send_all(fd, w->buf, w->len) != 0) {
        return -1;
    }
    return send_all(fd, "\n", 2); /* the newline and the terminating NUL */
}

static int send_error(int fd, const char *id, const char *msg)
{
    eml_jw_t w;
    eml_jw_init(&w, g_reply, sizeof g_reply);
    eml_jw_raw(&w, "{\"id\":");
    eml_jw_raw(&w, id);
    eml_jw_raw(&w, ",\"success\":false,\"error\":");
    eml_jw_str(&w, msg);
    eml_jw_raw(&w, "}");
    return send_reply(fd, &w, id);
}

static int stream_reset(void)
{
    eml_pp_config_t cfg;
    eml_stream_default_config(&cfg);
    cfg.thresholds = g_thresholds; /* this runner's copy: set_threshold changes it */
    return eml_stream_init(&g_stream, &cfg);
}

static void write_info(eml_jw_t *w)
{
    int k;
    eml_jw_raw(w, "\"model_parameters\":{");
    eml_jw_raw(w, eml_model_parameters_json);
    eml_jw_raw(w, ",\"thresholds\":[");
    for (k = 0; k < EML_MODEL_LABEL_COUNT; ++k) {
        eml_jw_raw(w, k ? ",{\"id\":" : "{\"id\":");
        eml_jw_int(w, k);
        eml_jw_raw(w, ",\"type\":\"classification\",\"label\":");
        eml_jw_str(w, eml_model_labels[k]);
        eml_jw_raw(w, ",\"min_score\":");
        eml_jw_float(w, g_thresholds[k]);
        eml_jw_raw(w, "}");
    }
#if EML_MODEL_HAS_ANOMALY
    /* the scorer's own threshold, as Edge Impulse reports an anomaly block's (read only here) */
    eml_jw_raw(w, "{\"id\":0,\"type\":");
    eml_jw_str(w, EML_MODEL_ANOMALY_TYPE);
    eml_jw_raw(w, ",\"min_anomaly_score\":");
    eml_jw_float(w, eml_model_anomaly_threshold);
    eml_jw_raw(w, "}");
#endif
    eml_jw_raw(w, "]},\"project\":");
    eml_jw_raw(w, eml_model_project_json);
}

/* ,"result":{"classification":{label: value, ...}  (the result object is left open) */
static void write_classification(eml_jw_t *w, const float *values)
{
    eml_jw_raw(w, ",\"result\":{\"classification\":");
    eml_jw_floats_object(w, eml_model_labels, values, EML_MODEL_LABEL_COUNT);
}

static void write_head(eml_jw_t *w, const char *id)
{
    eml_jw_init(w, g_reply, sizeof g_reply);
    eml_jw_raw(w, "{\"id\":");
    eml_jw_raw(w, id);
    eml_jw_raw(w, ",\"success\":true");
}

static void write_timing(eml_jw_t *w, long long classify_us, long long json_us)
{
    eml_jw_raw(w, ",\"timing\":{\"dsp\":0,\"classification\":");
    eml_jw_int(w, classify_us);
    eml_jw_raw(w, ",\"anomaly\":0,\"json\":");
    eml_jw_int(w, json_us);
    eml_jw_raw(w, ",\"stdin\":0}");
}

#if EML_MODEL_IMAGE_WIDTH > 0
/* g_features holds EIM_IMAGE_PIXELS packed pixels: unpacks them into g_frame; 0, or -1 with msg set */
static int unpack_pixels(char *msg, size_t cap)
{
    size_t i;
    for (i = 0; i < (size_t)EIM_IMAGE_PIXELS; ++i) {
        float v = g_features[i], r, g, b;
        long p;
        if (!(v >= 0.0f && v <= 16777215.0f) || v != (float)(long)v) {
            (void)snprintf(msg, cap, "classify: pixel %lu is not a packed RGB value (an integer 0..16777215): %g",
                           (unsigned long)i, (double)v);
            return -1;
        }
        p = (long)v;
        r = (float)((p >> 16) & 255L);
        g = (float)((p >> 8) & 255L);
        b = (float)(p & 255L);
#if EML_MODEL_IMAGE_INPUT_CHANNELS == 1
        g_frame[i] = (r == g && g == b) ? g : 0.299f * r + 0.587f * g + 0.114f * b;
#else
        g_frame[3 * i] = r;
        g_frame[3 * i + 1] = g;
        g_frame[3 * i + 2] = b;
#endif
    }
    return 0;
}

/* the frame to classify: g_features as sent, or the packed pixels in it unpacked (NULL: msg says why) */
static const float *image_frame(size_t n, char *msg, size_t cap)
{
    size_t i;
    int packed = n == (size_t)EIM_IMAGE_PIXELS;
    if (n != (size_t)EIM_IMAGE_PIXELS && n != (size_t)EML_MODEL_RAW_LEN) {
        (void)snprintf(msg, cap, "classify takes %d packed pixels ((R << 16) | (G << 8) | B, %dx%d) or %d values "
                       "(%d per pixel), got %lu", EIM_IMAGE_PIXELS, EML_MODEL_IMAGE_WIDTH, EML_MODEL_IMAGE_HEIGHT,
                       EML_MODEL_RAW_LEN, EML_MODEL_IMAGE_INPUT_CHANNELS, (unsigned long)n);
        return NULL;
    }
    if (EML_MODEL_IMAGE_INPUT_CHANNELS == 1) { /* same count: packed when a value is above a gray level */
        packed = 0;
        for (i = 0; i < n && !packed; ++i) {
            packed = g_features[i] > 255.0f;
        }
    }
    if (!packed) {
        return g_features;
    }
    return unpack_pixels(msg, cap) == 0 ? g_frame : NULL;
}
#endif

static int do_classify(int fd, const char *id, size_t n, long long json_us)
{
    eml_model_output_t out;
    eml_jw_t w;
    long long t0, t1;
    int status;
    const float *frame = g_features;
#if EML_MODEL_IMAGE_WIDTH > 0
    char msg[200];
    long long u0 = micros();
    frame = image_frame(n, msg, sizeof msg);
    if (frame == NULL) {
        return send_error(fd, id, msg);
    }
    n = (size_t)EML_MODEL_RAW_LEN;
    json_us += micros() - u0;
#else
    if (EML_MODEL_VARIABLE_LENGTH ? (n == 0 || n % EML_MODEL_N_AXES != 0) : n != EML_MODEL_RAW_LEN) {
        char msg[160];
        if (EML_MODEL_VARIABLE_LENGTH) {
            (void)snprintf(msg, sizeof msg, "classify takes a positive multiple of %d features, got %lu",
                           EML_MODEL_N_AXES, (unsigned long)n);
        } else {
            (void)snprintf(msg, sizeof msg, "classify takes %d features, got %lu", EML_MODEL_RAW_LEN,
                           (unsigned long)n);
        }
        return send_error(fd, id, msg);
    }
#endif
    t0 = micros();
    status = eml_model_classify(frame, n, &out);
    t1 = micros();
    if (status != 0) {
        return send_error(fd, id, eml_model_status_str(status));
    }
    write_head(&w, id);
    write_classification(&w, out.scores);
    if (EML_MODEL_HAS_ANOMALY) {
        eml_jw_raw(&w, ",\"anomaly\":");
        eml_jw_float(&w, out.anomaly);
    }
    eml_jw_raw(&w, "}");
    write_timing(&w, t1 - t0, json_us);
    eml_jw_raw(&w, "}");
    return send_reply(fd, &w, id);
}

static int do_continuous(int fd, const char *id, size_t n, long long json_us)
{
    eml_stream_result_t res[2];
    float averages[EML_MODEL_SCORES];
    eml_jw_t w;
    size_t used = 0, got;
    long long t0, t1;
    int k;
    int32_t detection = -1;
    if (!EML_MODEL_IS_CLASSIFIER) {
        return send_error(fd, id, "classify_continuous needs a classifier (this model only scores anomalies)");
    }
    if (n != EIM_SLICE_LEN) {
        char msg[160];
        (void)snprintf(msg, sizeof msg, "classify_continuous takes one slice: %d features (%d rows of %d axes), "
                       "got %lu", EIM_SLICE_LEN, EML_MODEL_SLICE_ROWS, EML_MODEL_N_AXES, (unsigned long)n);
        return send_error(fd, id, msg);
    }
    t0 = micros();
    got = eml_stream_push(&g_stream, g_features, (size_t)EML_MODEL_SLICE_ROWS, res, 2, &used);
    t1 = micros();
    if (used != (size_t)EML_MODEL_SLICE_ROWS) {
        return send_error(fd, id, "the stream did not take the whole slice");
    }
    if (got > 0 && res[got - 1].status != 0) {
        return send_error(fd, id, eml_model_status_str(res[got - 1].status));
    }
    if (got > 0) {
        detection = res[got - 1].detection;
    }
    for (k = 0; k < EML_MODEL_SCORES; ++k) {
        averages[k] = got > 0 ? res[got - 1].averages[k] : eml_pp_average(&g_stream.pp, k);
    }
    write_head(&w, id);
    write_classification(&w, averages);
    eml_jw_raw(&w, ",\"detection\":");
    if (detection >= 0 && detection < EML_MODEL_LABEL_COUNT) {
        eml_jw_str(&w, eml_model_labels[detection]);
    } else {
        eml_jw_raw(&w, "null");
    }
    eml_jw_raw(&w, got > 0 ? ",\"window_complete\":true}" : ",\"window_complete\":false}");
    write_timing(&w, t1 - t0, json_us);
    eml_jw_raw(&w, "}");
    return send_reply(fd, &w, id);
}

static int do_set_threshold(int fd, const char *id, long long label, double min_score)
{
    eml_jw_t w;
    if (EML_MODEL_LABEL_COUNT == 0) {
        return send_error(fd, id, "set_threshold: this model has no thresholds (it only scores anomalies)");
    }
    if (label < 0 || label >= EML_MODEL_LABEL_COUNT) {
        char msg[96];
        (void)snprintf(msg, sizeof msg, "set_threshold: no threshold with id %lld (ids are 0..%d)", label,
                       EML_MODEL_LABEL_COUNT - 1);
        return send_error(fd, id, msg);
    }
    if (!(min_score >= 0.0 && min_score <= 1e30)) {
        return send_error(fd, id, "set_threshold: min_score must be a finite number >= 0");
    }
    g_thresholds[label] = (float)min_score;
    if (eml_pp_set_threshold(&g_stream.pp, (int32_t)label, (float)min_score) != 0) {
        return send_error(fd, id, "set_threshold: rejected by the post-processing");
    }
    write_head(&w, id);
    eml_jw_raw(&w, "}");
    return send_reply(fd, &w, id);
}

/* "id" of a request whose parsing failed: a number or string value of key "id" at the top level, else "0" */
static void recover_id(const char *msg, size_t len, char *id, size_t cap)
{
    size_t i;
    int depth = 0;
    (void)snprintf(id, cap, "0");
    for (i = 0; i < len; ++i) {
        char c = msg[i];
        if (c == '"') {
            size_t s = i + 1, e = s;
            while (e < len && msg[e] != '"') {
                e += msg[e] == '\\' ? 2 : 1;
            }
            if (e >= len) {
                return;
            }
            i = e;
            if (depth == 1 && e - s == 2 && memcmp(msg + s, "id", 2) == 0) {
                eml_json_t j;
                const char *v0;
                double d;
                eml_json_init(&j, msg + e + 1, len - e - 1);
                if (eml_json_expect(&j, ':') != 0) {
                    continue;
                }
                v0 = (eml_json_peek(&j), j.p);
                if (eml_json_number(&j, &d) == 0 && (size_t)(j.p - v0) < cap) {
                    (void)snprintf(id, cap, "%.*s", (int)(j.p - v0), v0);
                    return;
                }
            }
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
}

static int handle_message(int fd, const char *msg, size_t len)
{
    eml_json_t j;
    char key[64], id[72] = "0";
    int first = 1, r, kind = REQ_NONE, extra = 0;
    size_t n = 0;
    long long label = -1, t0 = micros();
    double min_score = -1.0;
    eml_json_init(&j, msg, len);
    if (eml_json_object_begin(&j) != 0) {
        return send_error(fd, id, j.error);
    }
    while ((r = eml_json_object_next(&j, &first, key, sizeof key)) == 1) {
        int new_kind = REQ_NONE;
        if (strcmp(key, "id") == 0) {
            const char *v0;
            char c = eml_json_peek(&j);
            v0 = j.p;
            if ((c != '"' && c != '-' && (c < '0' || c > '9')) || eml_json_skip(&j) != 0) {
                (void)eml_json_fail(&j, "\"id\" must be a number or a string");
                break;
            }
            if ((size_t)(j.p - v0) >= sizeof id) {
                (void)eml_json_fail(&j, "\"id\" is too long");
                break;
            }
            (void)snprintf(id, sizeof id, "%.*s", (int)(j.p - v0), v0);
            continue;
        }
        if (strcmp(key, "hello") == 0) {
            new_kind = REQ_HELLO;
            r = eml_json_skip(&j);
        } else if (strcmp(key, "classify") == 0 || strcmp(key, "classify_continuous") == 0) {
            new_kind = key[8] == '\0' ? REQ_CLASSIFY : REQ_CONTINUOUS;
            r = eml_json_float_array(&j, g_features, EIM_MAX_FEATURES, &n);
        } else if (strcmp(key, "set_threshold") == 0) {
            int f2 = 1, r2;
            char k2[32];
            new_kind = REQ_SET_THRESHOLD;
            r = eml_json_object_begin(&j);
            while (r == 0 && (r2 = eml_json_object_next(&j, &f2, k2, sizeof k2)) != 0) {
                double d;
                if (r2 < 0) {
                    r = -1;
                } else if (strcmp(k2, "id") == 0 || strcmp(k2, "min_score") == 0) {
                    if (eml_json_number(&j, &d) != 0) {
                        r = -1;
                    } else if (k2[0] == 'i') {
                        if (d != (double)(long long)d || d < -1e9 || d > 1e9) {
                            r = eml_json_fail(&j, "set_threshold: \"id\" must be an integer");
                        }
                        label = (long long)d;
                    } else {
                        min_score = d;
                    }
                } else {
                    r = eml_json_skip(&j);
                }
            }
            if (r == 0 && (label < 0 || min_score < 0.0)) {
                (void)eml_json_fail(&j, "set_threshold takes \"id\" (a label index) and \"min_score\" (a number >= 0)");
                r = -1;
            }
        } else {
            r = eml_json_skip(&j); /* unknown keys are ignored */
        }
        if (r != 0) {
            break;
        }
        if (new_kind != REQ_NONE) {
            extra += kind != REQ_NONE;
            kind = new_kind;
        }
    }
    if (r == 0) {
        r = eml_json_finish(&j);
    }
    if (r != 0) {
        if (strcmp(id, "0") == 0) {
            recover_id(msg, len, id, sizeof id);
        }
        return send_error(fd, id, j.error[0] ? j.error : "malformed request");
    }
    if (extra) {
        return send_error(fd, id, "one request per message: hello, classify, classify_continuous or set_threshold");
    }
    switch (kind) {
    case REQ_HELLO: {
        eml_jw_t w;
        write_head(&w, id);
        eml_jw_raw(&w, ",");
        write_info(&w);
        eml_jw_raw(&w, "}");
        return send_reply(fd, &w, id);
    }
    case REQ_CLASSIFY:
        return do_classify(fd, id, n, micros() - t0);
    case REQ_CONTINUOUS:
        return do_continuous(fd, id, n, micros() - t0);
    case REQ_SET_THRESHOLD:
        return do_set_threshold(fd, id, label, min_score);
    default:
        return send_error(fd, id, "unknown request: expected hello, classify, classify_continuous or set_threshold");
    }
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0';
}

/* feeds received bytes through the framer; -1 when the client can no longer be written to */
static int feed(int fd, framer_t *f, const char *buf, size_t len)
{
    size_t i;
    char msg[96];
    for (i = 0; i < len; ++i) {
        char c = buf[i];
        if (f->mode == MODE_GARBAGE) {
            if (!is_space(c) && c != '{') {
                continue;
            }
            if (!f->garbage_replied && send_error(fd, "0", "not a JSON object") != 0) {
                return -1;
            }
            f->mode = MODE_IDLE;
        }
        if (f->mode == MODE_IDLE) {
            if (is_space(c)) {
                continue;
            }
            if (c != '{') {
                f->mode = MODE_GARBAGE;
                f->garbage_replied = 0;
                continue;
            }
            f->mode = MODE_MESSAGE;
            f->len = 0;
            f->depth = 0;
            f->in_string = 0;
            f->escape = 0;
        }
        if (f->mode == MODE_MESSAGE) {
            if (f->len < EIM_MAX_MESSAGE) {
                g_message[f->len++] = c;
            } else {
                f->mode = MODE_SKIP;
            }
        }
        if (f->in_string) {
            if (f->escape) {
                f->escape = 0;
            } else if (c == '\\') {
                f->escape = 1;
            } else if (c == '"') {
                f->in_string = 0;
            }
            continue;
        }
        if (c == '"') {
            f->in_string = 1;
        } else if (c == '{' || c == '[') {
            f->depth++;
        } else if ((c == '}' || c == ']') && --f->depth == 0) {
            int rc;
            if (f->mode == MODE_MESSAGE) {
                rc = handle_message(fd, g_message, f->len);
            } else {
                (void)snprintf(msg, sizeof msg, "message larger than %u bytes", (unsigned)EIM_MAX_MESSAGE);
                rc = send_error(fd, "0", msg);
            }
            f->mode = MODE_IDLE;
            if (rc != 0) {
                return -1;
            }
        }
    }
    if (f->mode == MODE_GARBAGE && !f->garbage_replied) {
        f->garbage_replied = 1;
        return send_error(fd, "0", "not a JSON object");
    }
    return 0;
}

static void serve_client(int fd)
{
    static char buf[65536];
    framer_t f;
    memset(&f, 0, sizeof f);
    if (stream_reset() != 0) {
        (void)send_error(fd, "0", "bad post-processing setting");
        return;
    }
    while (!g_stop) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || feed(fd, &f, buf, (size_t)n) != 0) {
            break;
        }
    }
}

static int print_info(void)
{
    eml_jw_t w;
    eml_jw_init(&w, g_reply, sizeof g_reply);
    eml_jw_raw(&w, "{");
    write_info(&w);
    eml_jw_raw(&w, "}");
    if (w.overflow) {
        fprintf(stderr, "model information too large\n");
        return 1;
    }
    printf("%s\n", w.buf);
    return 0;
}

/* The socket appears at `path` only once it listens: a client that connects as soon as the file exists
 * (the official one polls for it) would otherwise be refused between bind() and listen(). It is bound
 * under a temporary name in the same folder and renamed; a path too long for that is bound directly. */
static int listen_at(int srv, struct sockaddr_un *addr, const char *path)
{
    char tmp[sizeof addr->sun_path];
    const char *slash = strrchr(path, '/');
    size_t dir = slash != NULL ? (size_t)(slash - path) + 1u : 0u;
    int n = snprintf(tmp, sizeof tmp, "%.*s.eim-%ld.tmp", (int)dir, path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) {
        return bind(srv, (struct sockaddr *)addr, sizeof *addr) != 0 || listen(srv, 4) != 0 ? -1 : 0;
    }
    memcpy(addr->sun_path, tmp, (size_t)n + 1u);
    (void)unlink(tmp);
    if (bind(srv, (struct sockaddr *)addr, sizeof *addr) != 0) {
        return -1;
    }
    if (listen(srv, 4) != 0 || rename(tmp, path) != 0) {
        int err = errno;
        (void)unlink(tmp);
        errno = err;
        return -1;
    }
    memcpy(addr->sun_path, path, strlen(path) + 1u);
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_un addr;
    struct sigaction sa;
    int srv, k, status;
    const char *path;
    if (argc != 2 || argv[1][0] == '\0') {
        fprintf(stderr, "usage: %s SOCKET_PATH | --print-info\n", argv[0]);
        return 2;
    }
    for (k = 0; k < EML_MODEL_SCORES; ++k) {
        g_thresholds[k] = eml_pp_thresholds[k];
    }
    status = eml_model_init();
    if (status != 0) {
        fprintf(stderr, "%s: model init failed: %s\n", argv[0], eml_model_status_str(status));
        return 1;
    }
    if (strcmp(argv[1], "--print-info") == 0) {
        return print_info();
    }
    path = argv[1];
    if (strlen(path) >= sizeof addr.sun_path) {
        fprintf(stderr, "%s: socket path longer than %lu bytes: %s\n", argv[0],
                (unsigned long)sizeof addr.sun_path - 1, path);
        return 2;
    }
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: accept/recv return EINTR */
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    (void)sigaction(SIGPIPE, &sa, NULL);

    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, strlen(path) + 1);
    srv = socket(AF_UNIX, SOCK_STREAM, 0);
    if (srv < 0) {
        perror("socket");
        return 1;
    }
    (void)unlink(path); /* a stale socket from an earlier run */
    if (listen_at(srv, &addr, path) != 0) {
        fprintf(stderr, "%s: cannot listen on %s: %s\n", argv[0], path, strerror(errno));
        (void)close(srv);
        return 1;
    }
    while (!g_stop) {
        int fd = accept(srv, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            perror("accept");
            break;
        }
        serve_client(fd);
        (void)close(fd);
    }
    (void)close(srv);
    (void)unlink(path);
    return 0;
}
