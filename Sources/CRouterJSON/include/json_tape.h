#ifndef ROUTER_JSON_TAPE_H
#define ROUTER_JSON_TAPE_H
/*
 * A JSON parser that produces a flat "tape": one node per value, in document order.
 * Containers know the index just past their subtree, so skipping a value is O(1).
 * Object members are laid out as a key node (RJ_STRING) immediately followed by its value's subtree.
 * Strings are not unescaped at parse time: nodes point into the document's own copy of the input.
 *
 * Thread-safety: an rj_doc is immutable after rj_parse and may be read from any thread.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    RJ_NULL = 0,
    RJ_FALSE = 1,
    RJ_TRUE = 2,
    RJ_NUMBER = 3,
    RJ_STRING = 4,
    RJ_ARRAY = 5,
    RJ_OBJECT = 6,
} rj_type_t;

typedef struct rj_node {
    uint8_t type;        /* rj_type_t */
    uint8_t flags;       /* RJ_FLAG_* */
    uint32_t start;      /* byte offset in the document's buffer (strings: first byte after the opening quote) */
    uint32_t len;        /* strings: raw byte length between the quotes; numbers: length of the literal; containers: child count (members for objects) */
    uint32_t next;       /* index of the node just past this value's subtree */
} rj_node;

enum {
    RJ_FLAG_ESCAPED = 1, /* string contains backslash escapes */
    RJ_FLAG_INTEGER = 2, /* number literal has no fraction or exponent and fits in int64 */
};

/* An allocator with lua_Alloc's contract (nsize 0 frees; osize is the block's size when ptr is not NULL). */
typedef void *(*rj_alloc_fn)(void *ud, void *ptr, size_t osize, size_t nsize);

typedef struct rj_doc {
    char *buf;           /* private, NUL-terminated copy of the input */
    size_t buf_len;
    rj_node *nodes;
    uint32_t count;
    uint32_t capacity;
    rj_alloc_fn alloc;   /* NULL: the C library's allocator */
    void *alloc_ud;
} rj_doc;

typedef struct rj_error {
    size_t offset;       /* byte offset of the problem */
    uint32_t line;       /* 1-based */
    uint32_t column;     /* 1-based, in bytes */
    char message[128];   /* e.g. "expected ',' or '}' after object member" */
} rj_error;

/* Parses len bytes (copied). Returns NULL and fills err on invalid JSON, on nesting deeper than max_depth,
 * or on input larger than 4 GiB. Accepts exactly one value surrounded by optional whitespace (RFC 8259);
 * a UTF-8 BOM at the start is skipped. Invalid UTF-8 inside strings is accepted (bytes are passed through). */
rj_doc *rj_parse(const char *input, size_t len, uint32_t max_depth, rj_error *err);
/* The same with every block of the document (its copy of the input and its tape) taken from `alloc` (a sandbox's
 * allocator, so its heap cap counts them); "out of memory" when alloc refuses. */
rj_doc *rj_parse_with(const char *input, size_t len, uint32_t max_depth, rj_error *err, rj_alloc_fn alloc, void *ud);
void rj_free(rj_doc *doc);

static inline const rj_node *rj_at(const rj_doc *doc, uint32_t i) { return &doc->nodes[i]; }

/* Object lookup by exact key (compares the unescaped key). Returns the value node index, or UINT32_MAX. */
uint32_t rj_object_get(const rj_doc *doc, uint32_t object, const char *key, size_t key_len);

/* Number value (strtod semantics). For integers rj_int64 gives the exact value. */
double rj_double(const rj_doc *doc, uint32_t node);
int64_t rj_int64(const rj_doc *doc, uint32_t node);

/* Unescaped byte length of a string node (UTF-8; \uXXXX and surrogate pairs become UTF-8, lone surrogates U+FFFD). */
size_t rj_string_length(const rj_doc *doc, uint32_t node);
/* Writes the unescaped string into out (capacity >= rj_string_length), returns bytes written. No NUL added. */
size_t rj_string_copy(const rj_doc *doc, uint32_t node, char *out);

/* Byte offset just past the value's text in doc->buf (after the closing quote/bracket; the value's text starts at
 * node->start - 1 for strings, node->start otherwise). Cost: O(depth + children walked along the last-child chain). */
size_t rj_node_end(const rj_doc *doc, uint32_t node);

#ifdef __cplusplus
}
#endif
#endif
