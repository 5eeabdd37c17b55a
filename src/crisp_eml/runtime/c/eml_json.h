/* eml_json.h - part of the crisp-eml runtime; copied next to a generated library by runtime/build.py.
 *
 * A small, strict, bounded JSON reader for the requests the .eim runner and the command-line runner take, and a
 * writer for their replies. The reader pulls values out of one complete text (RFC 8259 grammar, no extensions:
 * no comments, no trailing commas, no NaN/Infinity, no leading zeros, no control characters in strings, UTF-8
 * passed through, \uXXXX escapes decoded incl. surrogate pairs) and never reads past `end`; nesting deeper than
 * EML_JSON_MAX_DEPTH is an error. The writer appends to a caller-owned buffer and records overflow instead of
 * writing past it; floats are written as the shortest of "%.6g".."%.9g" that reads back as the same float32 ("%.9g" always
 * does), non-finite values as null.
 * C99, no dynamic allocation. */
#ifndef EML_JSON_H
#define EML_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EML_JSON_MAX_DEPTH 32

typedef struct {
    const char *start;  /* the text (error offsets count from here) */
    const char *p;      /* next byte to read */
    const char *end;    /* one past the last byte */
    int depth;          /* current nesting while skipping */
    char error[160];    /* first error, "" while none */
} eml_json_t;

void eml_json_init(eml_json_t *j, const char *text, size_t len);
/* records `msg` (with the byte offset) as the error unless one is recorded already; always returns -1 */
int eml_json_fail(eml_json_t *j, const char *msg);
/* skips whitespace; returns the next byte or 0 at the end */
char eml_json_peek(eml_json_t *j);
/* consumes `c` (after whitespace) or fails: 0 ok, -1 error */
int eml_json_expect(eml_json_t *j, char c);
/* a string into buf (NUL-terminated, decoded); longer than cap-1 bytes or with an embedded NUL is an error */
int eml_json_string(eml_json_t *j, char *buf, size_t cap);
/* a number (strict JSON grammar) */
int eml_json_number(eml_json_t *j, double *out);
/* validates and skips any value */
int eml_json_skip(eml_json_t *j);
/* an array of numbers, each finite as a float32: stores the first `cap` into buf, counts all into *count */
int eml_json_float_array(eml_json_t *j, float *buf, size_t cap, size_t *count);
/* object iteration: call eml_json_object_begin, then eml_json_object_next until it returns 0 (end, '}' consumed);
 * it returns 1 with the key in `key` (the value is next), -1 on error. */
int eml_json_object_begin(eml_json_t *j);
int eml_json_object_next(eml_json_t *j, int *first, char *key, size_t key_cap);
/* 0 when only whitespace is left, else an error */
int eml_json_finish(eml_json_t *j);

typedef struct {
    char *buf;
    size_t cap;
    size_t len;        /* bytes written (always < cap: buf stays NUL-terminated) */
    int overflow;      /* 1 when something did not fit */
} eml_jw_t;

void eml_jw_init(eml_jw_t *w, char *buf, size_t cap);
void eml_jw_raw(eml_jw_t *w, const char *s);
void eml_jw_rawn(eml_jw_t *w, const char *s, size_t n);
/* a JSON string literal with quotes; control characters, '"' and '\\' escaped, bytes >= 0x80 passed through */
void eml_jw_str(eml_jw_t *w, const char *s);
/* the shortest "%.Ng" (N = 6..9) that round-trips the float32; null when not finite */
void eml_jw_float(eml_jw_t *w, float v);
void eml_jw_int(eml_jw_t *w, long long v);
/* {"keys[0]":values[0],...} for n pairs (labels and their scores) */
void eml_jw_floats_object(eml_jw_t *w, const char *const *keys, const float *values, int n);

#ifdef __cplusplus
}
#endif

#endif /* EML_JSON_H */
