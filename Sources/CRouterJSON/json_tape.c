/*
 * JSON tape parser (see include/json_tape.h).
 *
 * Single pass, iterative (no recursion): while a container is open its node's `next` field temporarily holds the
 * index of the enclosing open container, so the nesting "stack" lives in the tape itself and needs no allocation.
 * Two allocations per document: one block for the rj_doc header plus the copy of the input, one for the node array
 * (grown geometrically, first sized from the input length). The copy is followed by RJ_PAD zero bytes: the NUL right
 * after the input stops every scanner without bounds checks (it is never a valid continuation of a number, literal,
 * whitespace run or string), and the rest of the padding keeps 16-byte SIMD loads in bounds.
 * Strings are scanned 16 bytes at a time with SSE2 where available, else 8 at a time (SWAR), else bytewise.
 */
#include "json_tape.h"

#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__) && !defined(RJ_NO_SIMD) /* RJ_NO_SIMD / RJ_NO_SWAR: test the portable paths */
#include <emmintrin.h>
#define RJ_SSE2 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define RJ_LIKELY(x) __builtin_expect(!!(x), 1)
#define RJ_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define RJ_LIKELY(x) (x)
#define RJ_UNLIKELY(x) (x)
#endif

#define RJ_NO_PARENT UINT32_MAX
/* Zeroed bytes after the NUL terminator, so 16-byte loads starting at or before the terminator stay in bounds. */
#define RJ_PAD 16

/* ------------------------------------------------------------------------------------------------------------ */
/* Errors                                                                                                        */
/* ------------------------------------------------------------------------------------------------------------ */

static void rj_fill_position(rj_error *err, const char *base, size_t offset) {
    uint32_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < offset; i++) {
        if (base[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    err->offset = offset;
    err->line = line;
    err->column = (uint32_t)(offset - line_start + 1);
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void rj_set_message(rj_error *err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

/* Describes the byte at p for an error message ("'x'" or "byte 0xXX"). */
static void rj_describe_byte(char out[16], unsigned char c) {
    if (c >= 0x21 && c < 0x7F) {
        snprintf(out, 16, "'%c'", c);
    } else if (c == ' ') {
        snprintf(out, 16, "' '");
    } else {
        snprintf(out, 16, "byte 0x%02X", c);
    }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Scanners                                                                                                      */
/* ------------------------------------------------------------------------------------------------------------ */

static inline int rj_is_digit(char c) { return (unsigned)(c - '0') < 10u; }

static inline int rj_hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)(c | 0x20);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}


/* Advances p to the first byte that is '"', '\\' or a control character. Never passes the NUL terminator at end
 * (which is itself a control character), and may read up to RJ_PAD - 1 bytes beyond it. */
static inline const char *rj_find_string_stop(const char *p) {
#if RJ_SSE2
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1F);
    for (;;) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                                 _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v)); /* v <= 0x1F unsigned */
        unsigned mask = (unsigned)_mm_movemask_epi8(m);
        if (mask) return p + __builtin_ctz(mask);
        p += 16;
    }
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && \
    !defined(RJ_NO_SWAR)
    /* SWAR, eight bytes at a time. The lowest flagged byte is always a true match (borrows only propagate upward). */
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    for (;;) {
        uint64_t v;
        memcpy(&v, p, 8);
        uint64_t q = v ^ 0x2222222222222222ULL;
        uint64_t b = v ^ 0x5C5C5C5C5C5C5C5CULL;
        uint64_t t = (((q - ones) & ~q) | ((b - ones) & ~b) | ((v - 0x2020202020202020ULL) & ~v)) & highs;
        if (t) return p + (__builtin_ctzll(t) >> 3);
        p += 8;
    }
#else
    while (!(*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)) p++;
    return p;
#endif
}

/* Slow part of rj_scan_string: p points at a stop byte that is not the closing quote. */
static const char *rj_scan_string_slow(const char *p, const char *end, int *escaped, const char **err_at,
                                       rj_error *err) {
    for (;;) {
        char c = *p;
        if (c == '"') {
            *escaped = 1; /* we only get here after at least one escape */
            return p;
        }
        if (c == '\\') {
            const char *bs = p;
            p++;
            switch (*p) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                p++;
                break;
            case 'u':
                for (int i = 1; i <= 4; i++) {
                    /* the NUL terminator is not a hex digit, so this never reads past it */
                    if (rj_hex_value(p[i]) < 0) {
                        *err_at = bs;
                        rj_set_message(err, "invalid \\u escape: expected 4 hexadecimal digits");
                        return NULL;
                    }
                }
                p += 5;
                break;
            default: {
                if (p >= end) {
                    *err_at = NULL;
                    rj_set_message(err, "unterminated string");
                    return NULL;
                }
                unsigned char e = (unsigned char)*p;
                *err_at = bs;
                if (e >= 0x21 && e < 0x7F) {
                    rj_set_message(err, "invalid escape sequence '\\%c' in string", e);
                } else {
                    rj_set_message(err, "invalid escape sequence: backslash followed by byte 0x%02X", e);
                }
                return NULL;
            }
            }
            p = rj_find_string_stop(p);
            continue;
        }
        if (p >= end) {
            *err_at = NULL;
            rj_set_message(err, "unterminated string");
            return NULL;
        }
        *err_at = p;
        rj_set_message(err, "unescaped control character 0x%02X in string", (unsigned char)c);
        return NULL;
    }
}

/* Scans a string body. p points just after the opening quote. On success returns a pointer to the closing quote and
 * sets *escaped; on failure returns NULL and fills err (message and *err_at; NULL err_at = at the opening quote).
 * The common case (no escapes) is inlined into the parser loop. */
static inline const char *rj_scan_string(const char *p, const char *end, int *escaped, const char **err_at,
                                         rj_error *err) {
    p = rj_find_string_stop(p);
    if (RJ_LIKELY(*p == '"')) {
        *escaped = 0;
        return p;
    }
    return rj_scan_string_slow(p, end, escaped, err_at, err);
}

/* Scans a number literal starting at p ('-' or digit). Relies on the NUL terminator after the input.
 * Returns the pointer just past the literal, or NULL with err filled (*err_at set). */
static const char *rj_scan_number(const char *p, uint8_t *flags, const char **err_at, rj_error *err) {
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    const char *digits = p;
    if (*p == '0') {
        p++;
        if (rj_is_digit(*p)) {
            *err_at = digits;
            rj_set_message(err, "leading zeros are not allowed in numbers");
            return NULL;
        }
    } else if (rj_is_digit(*p)) {
        do p++; while (rj_is_digit(*p));
    } else {
        *err_at = p;
        if (*p == 'I') {
            rj_set_message(err, "Infinity is not a valid JSON number");
        } else {
            rj_set_message(err, "expected a digit after '-'");
        }
        return NULL;
    }
    size_t ndigits = (size_t)(p - digits);
    int integer = 1;
    if (*p == '.') {
        integer = 0;
        p++;
        if (!rj_is_digit(*p)) {
            *err_at = p;
            rj_set_message(err, "expected a digit after the decimal point");
            return NULL;
        }
        do p++; while (rj_is_digit(*p));
    }
    if ((*p | 0x20) == 'e') {
        integer = 0;
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!rj_is_digit(*p)) {
            *err_at = p;
            rj_set_message(err, "expected a digit in the exponent");
            return NULL;
        }
        do p++; while (rj_is_digit(*p));
    }
    if (integer) {
        if (ndigits < 19) {
            *flags = RJ_FLAG_INTEGER;
        } else if (ndigits == 19 &&
                   memcmp(digits, neg ? "9223372036854775808" : "9223372036854775807", 19) <= 0) {
            *flags = RJ_FLAG_INTEGER;
        }
    }
    return p;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Parser                                                                                                        */
/* ------------------------------------------------------------------------------------------------------------ */

/* The allocator of a document: the caller's (rj_parse_with), else the C library's. */
static void *rj_realloc(rj_alloc_fn alloc, void *ud, void *p, size_t osize, size_t nsize) {
    if (alloc) return alloc(ud, p, osize, nsize);
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, nsize);
}

static int rj_grow(rj_node **nodes, uint32_t *cap, rj_alloc_fn alloc, void *ud) {
    uint64_t want = (uint64_t)*cap * 2;
    if (want > UINT32_MAX) want = UINT32_MAX;
    if (want <= *cap) return 0;
    rj_node *n = (rj_node *)rj_realloc(alloc, ud, *nodes, (size_t)*cap * sizeof(rj_node), (size_t)want * sizeof(rj_node));
    if (!n) return 0;
    *nodes = n;
    *cap = (uint32_t)want;
    return 1;
}

static inline int rj_is_ws(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/* Skips JSON whitespace. Stops at the NUL terminator; may read up to RJ_PAD - 1 bytes beyond it. */
static inline const char *rj_skip_ws(const char *p) {
    if (RJ_LIKELY((unsigned char)*p > ' ')) return p;
    if (!rj_is_ws(*p)) return p;
    p++;
    if (!rj_is_ws(*p)) return p;
#if RJ_SSE2
    /* runs of indentation */
    const __m128i sp = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'), tab = _mm_set1_epi8('\t');
    for (;;) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, nl)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, tab)));
        unsigned mask = (~(unsigned)_mm_movemask_epi8(m)) & 0xFFFFu;
        if (mask) return p + __builtin_ctz(mask);
        p += 16;
    }
#else
    while (rj_is_ws(*p)) p++;
    return p;
#endif
}

rj_doc *rj_parse(const char *input, size_t len, uint32_t max_depth, rj_error *err) {
    return rj_parse_with(input, len, max_depth, err, NULL, NULL);
}

rj_doc *rj_parse_with(const char *input, size_t len, uint32_t max_depth, rj_error *err, rj_alloc_fn alloc, void *ud) {
    rj_error scratch;
    if (!err) err = &scratch;
    err->offset = 0;
    err->line = 0;
    err->column = 0;
    err->message[0] = '\0';

    if (len >= UINT32_MAX || len > SIZE_MAX - sizeof(rj_doc) - RJ_PAD) {
        err->offset = 0;
        err->line = 1;
        err->column = 1;
        rj_set_message(err, "input too large (limit is 4 GiB)");
        return NULL;
    }

    rj_doc *doc = (rj_doc *)rj_realloc(alloc, ud, NULL, 0, sizeof(rj_doc) + len + RJ_PAD);
    if (!doc) {
        err->line = 1;
        err->column = 1;
        rj_set_message(err, "out of memory");
        return NULL;
    }
    char *base = (char *)(doc + 1);
    if (len) memcpy(base, input, len);
    memset(base + len, 0, RJ_PAD);
    doc->buf = base;
    doc->buf_len = len;
    doc->alloc = alloc;
    doc->alloc_ud = ud;

    uint64_t est = (uint64_t)len / 8 + 16;
    uint32_t cap = est > UINT32_MAX ? UINT32_MAX : (uint32_t)est;
    rj_node *nodes = (rj_node *)rj_realloc(alloc, ud, NULL, 0, (size_t)cap * sizeof(rj_node));
    if (!nodes) {
        rj_realloc(alloc, ud, doc, sizeof(rj_doc) + len + RJ_PAD, 0);
        err->line = 1;
        err->column = 1;
        rj_set_message(err, "out of memory");
        return NULL;
    }

    const char *p = base;
    const char *const end = base + len;
    const char *err_at = NULL;
    uint32_t count = 0;
    uint32_t cur = RJ_NO_PARENT; /* innermost open container */
    uint32_t depth = 0;

    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF) {
        p += 3;
    }

#define RJ_FAIL_AT(at, ...)                                                                                          \
    do {                                                                                                             \
        err_at = (at);                                                                                               \
        rj_set_message(err, __VA_ARGS__);                                                                            \
        goto fail;                                                                                                   \
    } while (0)

#define RJ_ENSURE_CAP()                                                                                              \
    do {                                                                                                             \
        if (RJ_UNLIKELY(count == cap) && !rj_grow(&nodes, &cap, alloc, ud)) RJ_FAIL_AT(p, "out of memory");                    \
    } while (0)

value:
    p = rj_skip_ws(p);
    RJ_ENSURE_CAP();
    {
        /* Strings dominate real documents: test them first (an if-chain predicts better than a jump table here). */
        char c = *p;
        if (RJ_LIKELY(c == '"')) goto v_string;
        if (rj_is_digit(c) || c == '-') goto v_number;
        if (c == '{' || c == '[') goto v_container;
        if (c == 't' || c == 'f' || c == 'n') goto v_literal;
        goto v_invalid;
    }
v_container: {
        if (RJ_UNLIKELY(depth >= max_depth)) RJ_FAIL_AT(p, "nesting depth exceeds the limit of %u", max_depth);
        int is_object = (*p == '{');
        rj_node *n = &nodes[count];
        n->type = is_object ? RJ_OBJECT : RJ_ARRAY;
        n->flags = 0;
        n->start = (uint32_t)(p - base);
        n->len = 0;
        n->next = cur;
        cur = count++;
        depth++;
        p = rj_skip_ws(p + 1);
        if (is_object) {
            if (*p == '"') goto key;
            if (*p == '}') goto close;
            if (p == end) RJ_FAIL_AT(p, "unexpected end of input in object, expected a string key or '}'");
            RJ_FAIL_AT(p, "expected a string key or '}' in object");
        }
        if (*p == ']') goto close;
        goto value;
    }
v_string: {
        int escaped = 0;
        const char *q = rj_scan_string(p + 1, end, &escaped, &err_at, err);
        if (RJ_UNLIKELY(!q)) {
            if (!err_at) err_at = p;
            goto fail;
        }
        rj_node *n = &nodes[count++];
        n->type = RJ_STRING;
        n->flags = escaped ? RJ_FLAG_ESCAPED : 0;
        n->start = (uint32_t)(p + 1 - base);
        n->len = (uint32_t)(q - (p + 1));
        n->next = count;
        p = q + 1;
        goto after_value;
    }
v_literal: {
        uint8_t type;
        size_t l;
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            type = RJ_TRUE;
            l = 4;
        } else if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            type = RJ_FALSE;
            l = 5;
        } else if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            type = RJ_NULL;
            l = 4;
        } else {
            RJ_FAIL_AT(p, "invalid literal (expected true, false or null)");
        }
        rj_node *n = &nodes[count++];
        n->type = type;
        n->flags = 0;
        n->start = (uint32_t)(p - base);
        n->len = (uint32_t)l;
        n->next = count;
        p += l;
        goto after_value;
    }
v_number: {
        uint8_t flags = 0;
        const char *q = rj_scan_number(p, &flags, &err_at, err);
        if (RJ_UNLIKELY(!q)) goto fail;
        rj_node *n = &nodes[count++];
        n->type = RJ_NUMBER;
        n->flags = flags;
        n->start = (uint32_t)(p - base);
        n->len = (uint32_t)(q - p);
        n->next = count;
        p = q;
        goto after_value;
    }
v_invalid:
    if (p == end) RJ_FAIL_AT(p, "unexpected end of input, expected a value");
    if ((end - p >= 3 && memcmp(p, "NaN", 3) == 0) || (end - p >= 8 && memcmp(p, "Infinity", 8) == 0)) {
        RJ_FAIL_AT(p, "NaN and Infinity are not valid JSON numbers");
    }
    if (*p == '\'') RJ_FAIL_AT(p, "strings must use double quotes");
    {
        char d[16];
        rj_describe_byte(d, (unsigned char)*p);
        RJ_FAIL_AT(p, "unexpected %s, expected a value", d);
    }

after_value:
    if (RJ_UNLIKELY(cur == RJ_NO_PARENT)) goto done;
    {
        rj_node *c = &nodes[cur];
        c->len++;
        p = rj_skip_ws(p);
        if (c->type == RJ_OBJECT) {
            if (RJ_LIKELY(*p == ',')) {
                p = rj_skip_ws(p + 1);
                if (RJ_LIKELY(*p == '"')) goto key;
                if (*p == '}') RJ_FAIL_AT(p, "trailing comma in object");
                if (p == end) RJ_FAIL_AT(p, "unexpected end of input in object, expected a string key");
                RJ_FAIL_AT(p, "expected a string key after ',' in object");
            }
            if (*p == '}') goto close;
            if (p == end) RJ_FAIL_AT(p, "unexpected end of input in object, expected ',' or '}'");
            RJ_FAIL_AT(p, "expected ',' or '}' after object member");
        } else {
            if (RJ_LIKELY(*p == ',')) {
                p = rj_skip_ws(p + 1);
                if (*p == ']') RJ_FAIL_AT(p, "trailing comma in array");
                goto value;
            }
            if (*p == ']') goto close;
            if (p == end) RJ_FAIL_AT(p, "unexpected end of input in array, expected ',' or ']'");
            RJ_FAIL_AT(p, "expected ',' or ']' after array element");
        }
    }

key: {
    /* p points at the opening quote of a member key. */
    RJ_ENSURE_CAP();
    int escaped = 0;
    const char *q = rj_scan_string(p + 1, end, &escaped, &err_at, err);
    if (RJ_UNLIKELY(!q)) {
        if (!err_at) err_at = p;
        goto fail;
    }
    rj_node *n = &nodes[count++];
    n->type = RJ_STRING;
    n->flags = escaped ? RJ_FLAG_ESCAPED : 0;
    n->start = (uint32_t)(p + 1 - base);
    n->len = (uint32_t)(q - (p + 1));
    n->next = count;
    p = rj_skip_ws(q + 1);
    if (RJ_UNLIKELY(*p != ':')) {
        if (p == end) RJ_FAIL_AT(p, "unexpected end of input in object, expected ':'");
        RJ_FAIL_AT(p, "expected ':' after object key");
    }
    p++;
    goto value;
}

close: {
    /* p points at the closing bracket of the container `cur`. */
    rj_node *c = &nodes[cur];
    uint32_t parent = c->next;
    c->next = count;
    cur = parent;
    depth--;
    p++;
    goto after_value;
}

done:
    p = rj_skip_ws(p);
    if (p != end) RJ_FAIL_AT(p, "unexpected trailing characters after the JSON value");
    doc->nodes = nodes;
    doc->count = count;
    doc->capacity = cap;
    return doc;

fail:
    rj_fill_position(err, base, (size_t)(err_at - base));
    rj_realloc(alloc, ud, nodes, (size_t)cap * sizeof(rj_node), 0);
    rj_realloc(alloc, ud, doc, sizeof(rj_doc) + len + RJ_PAD, 0);
    return NULL;

#undef RJ_FAIL_AT
#undef RJ_ENSURE_CAP
}

void rj_free(rj_doc *doc) {
    if (!doc) return;
    rj_alloc_fn alloc = doc->alloc;
    void *ud = doc->alloc_ud;
    rj_realloc(alloc, ud, doc->nodes, (size_t)doc->capacity * sizeof(rj_node), 0);
    rj_realloc(alloc, ud, doc, sizeof(rj_doc) + doc->buf_len + RJ_PAD, 0); /* the buffer lives in the same block */
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Strings                                                                                                       */
/* ------------------------------------------------------------------------------------------------------------ */

static inline uint32_t rj_hex4(const char *s) {
    return (uint32_t)((rj_hex_value(s[0]) << 12) | (rj_hex_value(s[1]) << 8) | (rj_hex_value(s[2]) << 4) |
                      rj_hex_value(s[3]));
}

static inline size_t rj_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the (validated) escape sequence at s (pointing at the backslash) into out (up to 4 bytes).
 * Returns the number of bytes written; *next receives the position after the sequence. */
static size_t rj_decode_escape(const char *s, const char **next, char *out) {
    char c = s[1];
    switch (c) {
    case 'b': *out = '\b'; break;
    case 'f': *out = '\f'; break;
    case 'n': *out = '\n'; break;
    case 'r': *out = '\r'; break;
    case 't': *out = '\t'; break;
    case 'u': {
        uint32_t cp = rj_hex4(s + 2);
        const char *after = s + 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* A valid escape is always followed by at least the closing quote, so after[0] is readable. */
            if (after[0] == '\\' && after[1] == 'u') {
                uint32_t lo = rj_hex4(after + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    after += 6;
                } else {
                    cp = 0xFFFD;
                }
            } else {
                cp = 0xFFFD;
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
        }
        *next = after;
        return rj_utf8_encode(cp, out);
    }
    default: *out = c; break; /* '"', '\\', '/' */
    }
    *next = s + 2;
    return 1;
}

size_t rj_string_length(const rj_doc *doc, uint32_t node) {
    const rj_node *n = &doc->nodes[node];
    if (n->type != RJ_STRING) return 0;
    if (!(n->flags & RJ_FLAG_ESCAPED)) return n->len;
    const char *s = doc->buf + n->start, *e = s + n->len;
    size_t total = 0;
    char tmp[4];
    while (s < e) {
        const char *bs = (const char *)memchr(s, '\\', (size_t)(e - s));
        if (!bs) {
            total += (size_t)(e - s);
            break;
        }
        total += (size_t)(bs - s);
        total += rj_decode_escape(bs, &s, tmp);
    }
    return total;
}

size_t rj_string_copy(const rj_doc *doc, uint32_t node, char *out) {
    const rj_node *n = &doc->nodes[node];
    if (n->type != RJ_STRING) return 0;
    const char *s = doc->buf + n->start, *e = s + n->len;
    if (!(n->flags & RJ_FLAG_ESCAPED)) {
        if (n->len) memcpy(out, s, n->len);
        return n->len;
    }
    char *o = out;
    while (s < e) {
        const char *bs = (const char *)memchr(s, '\\', (size_t)(e - s));
        if (!bs) {
            memcpy(o, s, (size_t)(e - s));
            o += e - s;
            break;
        }
        memcpy(o, s, (size_t)(bs - s));
        o += bs - s;
        o += rj_decode_escape(bs, &s, o);
    }
    return (size_t)(o - out);
}

/* Compares an escaped raw string with an unescaped key without allocating. */
static int rj_escaped_equals(const char *s, size_t n, const char *key, size_t key_len) {
    const char *e = s + n;
    size_t k = 0;
    char tmp[4];
    while (s < e) {
        if (*s != '\\') {
            if (k >= key_len || key[k] != *s) return 0;
            k++;
            s++;
        } else {
            size_t m = rj_decode_escape(s, &s, tmp);
            if (k + m > key_len || memcmp(key + k, tmp, m) != 0) return 0;
            k += m;
        }
    }
    return k == key_len;
}

uint32_t rj_object_get(const rj_doc *doc, uint32_t object, const char *key, size_t key_len) {
    const rj_node *nodes = doc->nodes;
    if (object >= doc->count || nodes[object].type != RJ_OBJECT) return UINT32_MAX;
    uint32_t end = nodes[object].next;
    uint32_t i = object + 1;
    while (i < end) {
        const rj_node *k = &nodes[i];
        if (!(k->flags & RJ_FLAG_ESCAPED)) {
            if (k->len == key_len && memcmp(doc->buf + k->start, key, key_len) == 0) return i + 1;
        } else if (key_len <= k->len && rj_escaped_equals(doc->buf + k->start, k->len, key, key_len)) {
            /* Unescaping never makes a string longer, hence the length pre-check. */
            return i + 1;
        }
        i = nodes[i + 1].next;
    }
    return UINT32_MAX;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Numbers                                                                                                       */
/* ------------------------------------------------------------------------------------------------------------ */

int64_t rj_int64(const rj_doc *doc, uint32_t node) {
    const rj_node *n = &doc->nodes[node];
    if (n->type != RJ_NUMBER) return 0;
    if (n->flags & RJ_FLAG_INTEGER) {
        const char *s = doc->buf + n->start, *e = s + n->len;
        int neg = 0;
        if (*s == '-') {
            neg = 1;
            s++;
        }
        uint64_t v = 0;
        while (s < e) v = v * 10 + (uint64_t)(*s++ - '0');
        /* The parser guarantees v <= 2^63 for negatives and < 2^63 otherwise. */
        return neg ? (int64_t)(0 - v) : (int64_t)v;
    }
    double d = rj_double(doc, node);
    if (d != d) return 0;
    if (d >= 9223372036854775807.0) return INT64_MAX;
    if (d <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)d;
}

static const double rj_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* strtod on a copy of the literal, coping with a non-"C" LC_NUMERIC (decimal comma). */
static double rj_strtod_literal(const char *s, size_t len) {
    char small[64];
    char *tmp = len < sizeof small ? small : (char *)malloc(len + 1);
    if (!tmp) return strtod(s, NULL); /* the literal is followed by a non-number byte */
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *endp = NULL;
    double d = strtod(tmp, &endp);
    if (endp != tmp + len) {
        const char *dp = localeconv()->decimal_point;
        char *dot = memchr(tmp, '.', len);
        if (dot && dp && dp[0]) {
            *dot = dp[0];
            d = strtod(tmp, NULL);
        }
    }
    if (tmp != small) free(tmp);
    return d;
}

double rj_double(const rj_doc *doc, uint32_t node) {
    const rj_node *n = &doc->nodes[node];
    if (n->type != RJ_NUMBER) return 0.0;
    if (n->flags & RJ_FLAG_INTEGER) return (double)rj_int64(doc, node); /* one correctly rounded conversion */

    /* Clinger's fast path: up to 2^53 significand and |exponent| <= 22 is exact with one multiply or divide. */
    const char *s = doc->buf + n->start, *e = s + n->len;
    int neg = 0;
    if (*s == '-') {
        neg = 1;
        s++;
    }
    uint64_t m = 0;
    int nd = 0, truncated = 0;
    long exp10 = 0;
    while (s < e && rj_is_digit(*s)) {
        int d = *s++ - '0';
        if (m == 0 && d == 0) continue;
        if (nd < 19) {
            m = m * 10 + (uint64_t)d;
            nd++;
        } else {
            exp10++;
            if (d) truncated = 1;
        }
    }
    if (s < e && *s == '.') {
        s++;
        while (s < e && rj_is_digit(*s)) {
            int d = *s++ - '0';
            if (m == 0 && d == 0) {
                exp10--;
                continue;
            }
            if (nd < 19) {
                m = m * 10 + (uint64_t)d;
                nd++;
                exp10--;
            } else if (d) {
                truncated = 1;
            }
        }
    }
    if (s < e && (*s | 0x20) == 'e') {
        s++;
        int eneg = 0;
        if (*s == '+' || *s == '-') eneg = (*s++ == '-');
        long ev = 0;
        while (s < e && rj_is_digit(*s)) {
            if (ev < 100000) ev = ev * 10 + (*s - '0');
            s++;
        }
        exp10 += eneg ? -ev : ev;
    }
    if (m == 0) return neg ? -0.0 : 0.0;
    if (!truncated && m <= (1ULL << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        d = exp10 >= 0 ? d * rj_pow10[exp10] : d / rj_pow10[-exp10];
        return neg ? -d : d;
    }
    return rj_strtod_literal(doc->buf + n->start, n->len);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Extents                                                                                                       */
/* ------------------------------------------------------------------------------------------------------------ */

size_t rj_node_end(const rj_doc *doc, uint32_t node) {
    const rj_node *nodes = doc->nodes;
    const char *buf = doc->buf;
    uint32_t closings = 0;
    uint32_t i = node;
    /* Descend through last children to the last leaf (a scalar or an empty container). */
    while ((nodes[i].type == RJ_ARRAY || nodes[i].type == RJ_OBJECT) && nodes[i].len > 0) {
        uint32_t end = nodes[i].next;
        uint32_t c = i + 1;
        if (nodes[i].type == RJ_OBJECT) {
            for (;;) {
                uint32_t after = nodes[c + 1].next;
                if (after >= end) break;
                c = after;
            }
            c = c + 1; /* the last member's value */
        } else {
            while (nodes[c].next < end) c = nodes[c].next;
        }
        closings++;
        i = c;
    }
    const rj_node *n = &nodes[i];
    size_t pos;
    switch (n->type) {
    case RJ_STRING: pos = (size_t)n->start + n->len + 1; break;
    case RJ_ARRAY:
    case RJ_OBJECT: closings++; pos = (size_t)n->start + 1; break;
    default: pos = (size_t)n->start + n->len; break;
    }
    while (closings--) {
        while (buf[pos] == ' ' || buf[pos] == '\n' || buf[pos] == '\r' || buf[pos] == '\t') pos++;
        pos++; /* the closing bracket */
    }
    return pos;
}
