/* eml_json.c - part of the crisp-eml runtime. See eml_json.h. */
#include "eml_json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eml_json_init(eml_json_t *j, const char *text, size_t len)
{
    j->start = text;
    j->p = text;
    j->end = text + len;
    j->depth = 0;
    j->error[0] = '\0';
}

int eml_json_fail(eml_json_t *j, const char *msg)
{
    if (j->error[0] == '\0') {
        (void)snprintf(j->error, sizeof j->error, "%s at byte %lu", msg, (unsigned long)(j->p - j->start));
    }
    return -1;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char eml_json_peek(eml_json_t *j)
{
    while (j->p < j->end && is_ws(*j->p)) {
        j->p++;
    }
    return j->p < j->end ? *j->p : '\0';
}

int eml_json_expect(eml_json_t *j, char c)
{
    if (eml_json_peek(j) != c || j->p >= j->end) {
        char msg[48];
        (void)snprintf(msg, sizeof msg, "expected '%c'", c);
        return eml_json_fail(j, msg);
    }
    j->p++;
    return 0;
}

static int hex4(eml_json_t *j, unsigned *out)
{
    unsigned v = 0;
    int i;
    if (j->end - j->p < 4) {
        return eml_json_fail(j, "truncated \\u escape");
    }
    for (i = 0; i < 4; ++i) {
        char c = *j->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned)(c - 'A' + 10);
        } else {
            return eml_json_fail(j, "bad \\u escape");
        }
    }
    *out = v;
    return 0;
}

/* appends one byte to buf (NULL buf: only validates); -1 when it does not fit */
static int put(eml_json_t *j, char *buf, size_t cap, size_t *n, unsigned char b)
{
    if (buf != NULL) {
        if (*n + 1 >= cap) {
            return eml_json_fail(j, "string too long");
        }
        buf[*n] = (char)b;
    }
    *n += 1;
    return 0;
}

static int put_utf8(eml_json_t *j, char *buf, size_t cap, size_t *n, unsigned cp)
{
    if (cp == 0) {
        return eml_json_fail(j, "NUL character in string");
    }
    if (cp < 0x80) {
        return put(j, buf, cap, n, (unsigned char)cp);
    }
    if (cp < 0x800) {
        return put(j, buf, cap, n, (unsigned char)(0xC0 | (cp >> 6)))
               | put(j, buf, cap, n, (unsigned char)(0x80 | (cp & 0x3F)));
    }
    if (cp < 0x10000) {
        return put(j, buf, cap, n, (unsigned char)(0xE0 | (cp >> 12)))
               | put(j, buf, cap, n, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)))
               | put(j, buf, cap, n, (unsigned char)(0x80 | (cp & 0x3F)));
    }
    return put(j, buf, cap, n, (unsigned char)(0xF0 | (cp >> 18)))
           | put(j, buf, cap, n, (unsigned char)(0x80 | ((cp >> 12) & 0x3F)))
           | put(j, buf, cap, n, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)))
           | put(j, buf, cap, n, (unsigned char)(0x80 | (cp & 0x3F)));
}

/* a string; buf NULL: validate and skip */
static int string_into(eml_json_t *j, char *buf, size_t cap)
{
    size_t n = 0;
    if (eml_json_expect(j, '"') != 0) {
        return -1;
    }
    for (;;) {
        unsigned char c;
        if (j->p >= j->end) {
            return eml_json_fail(j, "unterminated string");
        }
        c = (unsigned char)*j->p++;
        if (c == '"') {
            break;
        }
        if (c < 0x20) {
            return eml_json_fail(j, "control character in string");
        }
        if (c != '\\') {
            if (put(j, buf, cap, &n, c) != 0) {
                return -1;
            }
            continue;
        }
        if (j->p >= j->end) {
            return eml_json_fail(j, "unterminated string");
        }
        c = (unsigned char)*j->p++;
        switch (c) {
        case '"': case '\\': case '/':
            break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (hex4(j, &cp) != 0) {
                return -1;
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return eml_json_fail(j, "lone low surrogate in \\u escape");
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (j->end - j->p < 2 || j->p[0] != '\\' || j->p[1] != 'u') {
                    return eml_json_fail(j, "lone high surrogate in \\u escape");
                }
                j->p += 2;
                if (hex4(j, &lo) != 0) {
                    return -1;
                }
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    return eml_json_fail(j, "bad surrogate pair in \\u escape");
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (put_utf8(j, buf, cap, &n, cp) != 0) {
                return -1;
            }
            continue;
        }
        default:
            return eml_json_fail(j, "bad escape in string");
        }
        if (put(j, buf, cap, &n, c) != 0) {
            return -1;
        }
    }
    if (buf != NULL) {
        buf[n] = '\0';
    }
    return 0;
}

int eml_json_string(eml_json_t *j, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0) {
        return eml_json_fail(j, "no room for a string");
    }
    return string_into(j, buf, cap);
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int eml_json_number(eml_json_t *j, double *out)
{
    char tmp[72];
    const char *s;
    size_t n;
    char *stop = NULL;
    if (eml_json_peek(j) == '\0') {
        return eml_json_fail(j, "expected a number");
    }
    s = j->p;
    if (j->p < j->end && *j->p == '-') {
        j->p++;
    }
    if (j->p >= j->end || !is_digit(*j->p)) {
        j->p = s;
        return eml_json_fail(j, "expected a number");
    }
    if (*j->p == '0') {
        j->p++;
        if (j->p < j->end && is_digit(*j->p)) {
            return eml_json_fail(j, "leading zero in number");
        }
    } else {
        while (j->p < j->end && is_digit(*j->p)) {
            j->p++;
        }
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || !is_digit(*j->p)) {
            return eml_json_fail(j, "expected a digit after '.'");
        }
        while (j->p < j->end && is_digit(*j->p)) {
            j->p++;
        }
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (j->p >= j->end || !is_digit(*j->p)) {
            return eml_json_fail(j, "expected a digit in the exponent");
        }
        while (j->p < j->end && is_digit(*j->p)) {
            j->p++;
        }
    }
    n = (size_t)(j->p - s);
    if (n >= sizeof tmp) {
        return eml_json_fail(j, "number too long");
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    *out = strtod(tmp, &stop);
    if (stop != tmp + n) {
        return eml_json_fail(j, "bad number");
    }
    return 0;
}

static int literal(eml_json_t *j, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
        return eml_json_fail(j, "unexpected character");
    }
    j->p += n;
    return 0;
}

int eml_json_skip(eml_json_t *j)
{
    char c = eml_json_peek(j);
    double d;
    int first = 1;
    if (j->p >= j->end) {
        return eml_json_fail(j, "expected a value");
    }
    switch (c) {
    case '"':
        return string_into(j, NULL, 0);
    case 't':
        return literal(j, "true");
    case 'f':
        return literal(j, "false");
    case 'n':
        return literal(j, "null");
    case '{': {
        if (++j->depth > EML_JSON_MAX_DEPTH) {
            return eml_json_fail(j, "nested too deeply");
        }
        j->p++;
        if (eml_json_peek(j) == '}') {
            j->p++;
            j->depth--;
            return 0;
        }
        for (;;) {
            if (string_into(j, NULL, 0) != 0 || eml_json_expect(j, ':') != 0 || eml_json_skip(j) != 0) {
                return -1;
            }
            c = eml_json_peek(j);
            if (c == ',' && j->p < j->end) {
                j->p++;
                continue;
            }
            if (eml_json_expect(j, '}') != 0) {
                return -1;
            }
            j->depth--;
            return 0;
        }
    }
    case '[':
        if (++j->depth > EML_JSON_MAX_DEPTH) {
            return eml_json_fail(j, "nested too deeply");
        }
        j->p++;
        for (;;) {
            if (first && eml_json_peek(j) == ']') {
                j->p++;
                j->depth--;
                return 0;
            }
            first = 0;
            if (eml_json_skip(j) != 0) {
                return -1;
            }
            c = eml_json_peek(j);
            if (c == ',' && j->p < j->end) {
                j->p++;
                continue;
            }
            if (eml_json_expect(j, ']') != 0) {
                return -1;
            }
            j->depth--;
            return 0;
        }
    default:
        return eml_json_number(j, &d);
    }
}

int eml_json_float_array(eml_json_t *j, float *buf, size_t cap, size_t *count)
{
    size_t n = 0;
    *count = 0;
    if (eml_json_peek(j) != '[') {
        return eml_json_fail(j, "expected an array of numbers");
    }
    j->p++;
    if (eml_json_peek(j) == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        double d;
        char c = eml_json_peek(j);
        if (c != '-' && !is_digit(c)) {
            char msg[64];
            (void)snprintf(msg, sizeof msg, "element %lu is not a number", (unsigned long)n);
            return eml_json_fail(j, msg);
        }
        if (eml_json_number(j, &d) != 0) {
            return -1;
        }
        if (!(fabs(d) <= (double)FLT_MAX)) {
            char msg[64];
            (void)snprintf(msg, sizeof msg, "element %lu is out of float32 range", (unsigned long)n);
            return eml_json_fail(j, msg);
        }
        if (n < cap) {
            buf[n] = (float)d;
        }
        n++;
        *count = n;
        c = eml_json_peek(j);
        if (c == ',' && j->p < j->end) {
            j->p++;
            continue;
        }
        return eml_json_expect(j, ']');
    }
}

int eml_json_object_begin(eml_json_t *j)
{
    if (eml_json_peek(j) != '{') {
        return eml_json_fail(j, "expected an object");
    }
    j->p++;
    return 0;
}

int eml_json_object_next(eml_json_t *j, int *first, char *key, size_t key_cap)
{
    char c = eml_json_peek(j);
    if (*first) {
        *first = 0;
        if (c == '}' && j->p < j->end) {
            j->p++;
            return 0;
        }
    } else if (c == '}' && j->p < j->end) {
        j->p++;
        return 0;
    } else if (eml_json_expect(j, ',') != 0) {
        return -1;
    }
    if (eml_json_peek(j) != '"') {
        return eml_json_fail(j, "expected a key");
    }
    if (eml_json_string(j, key, key_cap) != 0 || eml_json_expect(j, ':') != 0) {
        return -1;
    }
    return 1;
}

int eml_json_finish(eml_json_t *j)
{
    if (eml_json_peek(j) != '\0' || j->p < j->end) {
        return eml_json_fail(j, "unexpected data after the value");
    }
    return 0;
}

void eml_jw_init(eml_jw_t *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->overflow = cap == 0;
    if (cap > 0) {
        buf[0] = '\0';
    }
}

void eml_jw_rawn(eml_jw_t *w, const char *s, size_t n)
{
    if (w->overflow || w->len + n >= w->cap) {
        w->overflow = 1;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void eml_jw_raw(eml_jw_t *w, const char *s)
{
    eml_jw_rawn(w, s, strlen(s));
}

void eml_jw_str(eml_jw_t *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    eml_jw_rawn(w, "\"", 1);
    for (; *u != '\0'; ++u) {
        char esc[7];
        if (*u == '"' || *u == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*u;
            eml_jw_rawn(w, esc, 2);
        } else if (*u < 0x20 || *u == 0x7F) {
            esc[0] = '\\';
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[*u >> 4];
            esc[5] = hex[*u & 0xF];
            eml_jw_rawn(w, esc, 6);
        } else {
            eml_jw_rawn(w, (const char *)u, 1);
        }
    }
    eml_jw_rawn(w, "\"", 1);
}

void eml_jw_float(eml_jw_t *w, float v)
{
    char tmp[32];
    int prec;
    if (!isfinite(v)) {
        eml_jw_raw(w, "null");
        return;
    }
    /* the shortest of %.6g .. %.9g that reads back as the same float32 (%.9g always does) */
    for (prec = 6; prec <= 9; ++prec) {
        (void)snprintf(tmp, sizeof tmp, "%.*g", prec, (double)v);
        if ((float)strtod(tmp, NULL) == v) {
            break;
        }
    }
    eml_jw_raw(w, tmp);
}

void eml_jw_int(eml_jw_t *w, long long v)
{
    char tmp[32];
    (void)snprintf(tmp, sizeof tmp, "%lld", v);
    eml_jw_raw(w, tmp);
}

void eml_jw_floats_object(eml_jw_t *w, const char *const *keys, const float *values, int n)
{
    int k;
    eml_jw_raw(w, "{");
    for (k = 0; k < n; ++k) {
        if (k) {
            eml_jw_raw(w, ",");
        }
        eml_jw_str(w, keys[k]);
        eml_jw_raw(w, ":");
        eml_jw_float(w, values[k]);
    }
    eml_jw_raw(w, "}");
}
