/*
 * Fuzz target: the JSON tape parser (bytes -> tape), CRouterJSON.
 *
 * For any input: rj_parse either fails with a position inside the input and a message, or returns a tape whose every
 * node is well formed: `next` lies after the node and within the tape, containers hold exactly `len` children that
 * tile their subtree, object keys are strings, every string's unescaped length is what rj_string_copy writes, numbers
 * convert, rj_node_end stays inside the input, and rj_object_get finds each object's first member by its key.
 * The same bytes parsed with a caller's allocator (as json.decode does) give the same tape.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_tape.h"

#define CHECK(cond)                                                                                                  \
    do {                                                                                                             \
        if (!(cond)) {                                                                                               \
            fprintf(stderr, "json_tape fuzz: check failed: %s (line %d)\n", #cond, __LINE__);                      \
            abort();                                                                                                 \
        }                                                                                                            \
    } while (0)

static size_t allocated;

static void *counting_alloc(void *ud, void *p, size_t osize, size_t nsize) {
    (void)ud;
    if (p) allocated -= osize;
    if (nsize == 0) {
        free(p);
        return NULL;
    }
    void *q = realloc(p, nsize);
    if (q) allocated += nsize;
    else if (p) allocated += osize;
    return q;
}

static void check_node(const rj_doc *doc, uint32_t i) {
    const rj_node *n = rj_at(doc, i);
    CHECK(n->next > i && n->next <= doc->count);
    CHECK(n->type <= RJ_OBJECT);
    CHECK(rj_node_end(doc, i) <= doc->buf_len);
    switch (n->type) {
    case RJ_STRING: {
        CHECK((size_t)n->start + n->len <= doc->buf_len);
        CHECK(n->next == i + 1);
        size_t len = rj_string_length(doc, i);
        char *out = malloc(len + 1);
        CHECK(out != NULL);
        CHECK(rj_string_copy(doc, i, out) == len);
        free(out);
        break;
    }
    case RJ_NUMBER:
        CHECK(n->next == i + 1);
        (void)rj_double(doc, i);
        if (n->flags & RJ_FLAG_INTEGER) (void)rj_int64(doc, i);
        break;
    case RJ_ARRAY: {
        uint32_t children = 0, c = i + 1;
        while (c < n->next) {
            check_node(doc, c);
            c = rj_at(doc, c)->next;
            children++;
        }
        CHECK(c == n->next && children == n->len);
        break;
    }
    case RJ_OBJECT: {
        uint32_t members = 0, k = i + 1;
        while (k < n->next) {
            CHECK(rj_at(doc, k)->type == RJ_STRING);
            check_node(doc, k);
            CHECK(k + 1 < n->next);
            check_node(doc, k + 1);
            if (members == 0 && !(rj_at(doc, k)->flags & RJ_FLAG_ESCAPED)) {
                const rj_node *key = rj_at(doc, k);
                CHECK(rj_object_get(doc, i, doc->buf + key->start, key->len) == k + 1);
            }
            k = rj_at(doc, k + 1)->next;
            members++;
        }
        CHECK(k == n->next && members == n->len);
        break;
    }
    default:
        CHECK(n->next == i + 1);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rj_error err;
    rj_doc *doc = rj_parse((const char *)data, size, 64, &err);
    allocated = 0;
    rj_error err2;
    rj_doc *doc2 = rj_parse_with((const char *)data, size, 64, &err2, counting_alloc, NULL);
    CHECK((doc == NULL) == (doc2 == NULL));
    if (!doc) {
        CHECK(err.message[0] != '\0' && err.offset <= size && err.line >= 1 && err.column >= 1);
        CHECK(strcmp(err.message, err2.message) == 0 && err.offset == err2.offset);
        CHECK(allocated == 0);
        return 0;
    }
    CHECK(doc->count >= 1 && doc->count == doc2->count);
    for (uint32_t i = 0; i < doc->count; i++) {
        const rj_node *a = rj_at(doc, i), *b = rj_at(doc2, i);
        CHECK(a->type == b->type && a->flags == b->flags && a->start == b->start && a->len == b->len && a->next == b->next);
    }
    check_node(doc, 0);
    CHECK(rj_at(doc, 0)->next == doc->count);
    rj_free(doc);
    rj_free(doc2);
    CHECK(allocated == 0);
    return 0;
}
