/*
 * JSON <-> Lua conversion for the sandbox (see include/lua_json.h).
 *
 * Memory: everything goes through the state's allocator (tables, strings, the decoder's parse tape and the encoder's
 * scratch buffer, both owned by a userdata with __gc), so a sandbox memory cap applies and nothing leaks when a Lua
 * error unwinds through here. Time: both directions charge the sandbox's work meter (limits.c) per value and per byte.
 */
#include "lua_json.h"
#include "sandbox_internal.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RL_JSON_DECODE_MAX_DEPTH 64
#define RL_JSON_ENCODE_MAX_DEPTH 32
#define RL_JSON_OUTBOX_KEY "router.json.outbox"
#define RL_JSON_DOCBOX_KEY "router.json.docbox"

/* ------------------------------------------------------------------------------------------------------------ */
/* Shared registry objects                                                                                       */
/* ------------------------------------------------------------------------------------------------------------ */

static int null_newindex(lua_State *L) { return luaL_error(L, "json.null is read-only"); }

static int null_tostring(lua_State *L) {
    lua_pushliteral(L, "json.null");
    return 1;
}

/* Work units (limits.c): per value converted, and the parse per input byte (an upper bound: dense arrays of small
 * numbers, a tape node every two bytes). */
#define RL_JSON_WORK_VALUE 40
#define RL_JSON_WORK_PARSE_BYTE 4

/* The state's allocator, called directly (for blocks that are not Lua objects). Lua itself answers a refusal with an
 * emergency collection and a retry; a direct caller must do the same, or garbage still waiting for the collector
 * would look like a full heap. */
static void *lj_alloc(lua_State *L, void *p, size_t osize, size_t nsize) {
    void *ud;
    lua_Alloc f = lua_getallocf(L, &ud);
    void *q = f(ud, p, osize, nsize);
    if (q == NULL && nsize > 0) {
        lua_gc(L, LUA_GCCOLLECT);
        q = f(ud, p, osize, nsize);
    }
    return q;
}

typedef struct {
    char *p;
    size_t len, cap;
} rl_outbox;

static int outbox_gc(lua_State *L) {
    rl_outbox *o = (rl_outbox *)lua_touserdata(L, 1);
    if (o && o->p) {
        void *ud;
        lua_Alloc f = lua_getallocf(L, &ud);
        f(ud, o->p, o->cap, 0);
        o->p = NULL;
        o->cap = o->len = 0;
    }
    return 0;
}

/* The decoder's document and the allocator it was parsed with (the document frees itself through it). */
typedef struct {
    rj_doc *doc;
    lua_State *L;
} rl_docbox;

static void *docbox_alloc(void *ud, void *p, size_t osize, size_t nsize) {
    rl_docbox *box = (rl_docbox *)ud;
    if (nsize == 0) {
        void *aud;
        lua_Alloc f = lua_getallocf(box->L, &aud);
        return f(aud, p, osize, 0);
    }
    return lj_alloc(box->L, p, osize, nsize);
}

static int docbox_gc(lua_State *L) {
    rl_docbox *d = (rl_docbox *)lua_touserdata(L, 1);
    if (d && d->doc) {
        rj_free(d->doc);
        d->doc = NULL;
    }
    return 0;
}

/* Creates the registry objects if missing (idempotent). Leaves the stack unchanged. */
static void rl_json_ensure(lua_State *L) {
    luaL_checkstack(L, 4, "json: stack overflow");
    if (lua_getfield(L, LUA_REGISTRYINDEX, RL_JSON_NULL_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 0); /* the sentinel */
        lua_createtable(L, 0, 3); /* its metatable */
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
        lua_pushcfunction(L, null_newindex);
        lua_setfield(L, -2, "__newindex");
        lua_pushcfunction(L, null_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_setmetatable(L, -2);
        lua_setfield(L, LUA_REGISTRYINDEX, RL_JSON_NULL_KEY);
    } else {
        lua_pop(L, 1);
    }
    if (lua_getfield(L, LUA_REGISTRYINDEX, RL_JSON_ARRAY_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 2);
        lua_pushliteral(L, "array");
        lua_setfield(L, -2, "__jsontype");
        lua_pushliteral(L, "json.array");
        lua_setfield(L, -2, "__metatable");
        lua_setfield(L, LUA_REGISTRYINDEX, RL_JSON_ARRAY_KEY);
    } else {
        lua_pop(L, 1);
    }
    if (luaL_newmetatable(L, RL_JSON_OUTBOX_KEY)) {
        lua_pushcfunction(L, outbox_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, RL_JSON_DOCBOX_KEY)) {
        lua_pushcfunction(L, docbox_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Decoding: tape -> Lua                                                                                         */
/* ------------------------------------------------------------------------------------------------------------ */

typedef struct {
    lua_State *L;
    const rj_doc *doc;
    int null_idx;  /* absolute stack index of json.null */
    int array_idx; /* absolute stack index of the array metatable */
} rl_decoder;

static void push_string_node(lua_State *L, const rj_doc *doc, uint32_t i) {
    const rj_node *n = rj_at(doc, i);
    if (!(n->flags & RJ_FLAG_ESCAPED)) {
        lua_pushlstring(L, doc->buf + n->start, n->len);
        return;
    }
    size_t len = rj_string_length(doc, i);
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, len);
    size_t written = rj_string_copy(doc, i, p);
    luaL_pushresultsize(&b, written);
}

/* Pushes node i. Recursion depth is bounded by the depth limit the document was parsed with. */
static void push_node(rl_decoder *d, uint32_t i) {
    lua_State *L = d->L;
    const rj_doc *doc = d->doc;
    const rj_node *n = rj_at(doc, i);
    rl_work(L, RL_JSON_WORK_VALUE + (n->type == RJ_STRING ? (long long)n->len : 0));
    switch (n->type) {
    case RJ_NULL: lua_pushvalue(L, d->null_idx); break;
    case RJ_FALSE: lua_pushboolean(L, 0); break;
    case RJ_TRUE: lua_pushboolean(L, 1); break;
    case RJ_NUMBER:
        if (n->flags & RJ_FLAG_INTEGER) {
            lua_pushinteger(L, (lua_Integer)rj_int64(doc, i));
        } else {
            lua_pushnumber(L, (lua_Number)rj_double(doc, i));
        }
        break;
    case RJ_STRING: push_string_node(L, doc, i); break;
    case RJ_ARRAY: {
        luaL_checkstack(L, 4, "json: nesting too deep");
        uint32_t count = n->len, end = n->next;
        lua_createtable(L, count > INT32_MAX ? INT32_MAX : (int)count, 0);
        lua_pushvalue(L, d->array_idx);
        lua_setmetatable(L, -2);
        lua_Integer k = 1;
        for (uint32_t c = i + 1; c < end; c = rj_at(doc, c)->next) {
            push_node(d, c);
            lua_rawseti(L, -2, k++);
        }
        break;
    }
    default: { /* RJ_OBJECT */
        luaL_checkstack(L, 5, "json: nesting too deep");
        uint32_t count = n->len, end = n->next;
        lua_createtable(L, 0, count > INT32_MAX ? INT32_MAX : (int)count);
        int t = lua_gettop(L);
        for (uint32_t k = i + 1; k < end; k = rj_at(doc, k + 1)->next) {
            push_string_node(L, doc, k);
            /* Duplicate keys: the first occurrence wins, as in rj_object_get and the Swift side. */
            lua_pushvalue(L, -1);
            if (lua_rawget(L, t) != LUA_TNIL) {
                lua_pop(L, 2);
                continue;
            }
            lua_pop(L, 1);
            push_node(d, k + 1);
            lua_rawset(L, t);
        }
        break;
    }
    }
}

void rl_push_json(lua_State *L, const rj_doc *doc, uint32_t node) {
    rl_json_ensure(L);
    luaL_checkstack(L, 6, "json: stack overflow");
    lua_getfield(L, LUA_REGISTRYINDEX, RL_JSON_NULL_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, RL_JSON_ARRAY_KEY);
    rl_decoder d = {L, doc, lua_gettop(L) - 1, lua_gettop(L)};
    push_node(&d, node);
    lua_replace(L, -3); /* [null array value] -> [value array] */
    lua_pop(L, 1);
}

/* json.decode(s) */
static int json_decode(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_settop(L, 1);
    rl_work_ahead(L, (long long)len * RL_JSON_WORK_PARSE_BYTE);
    /* The document is owned by a userdata so that an error while building tables cannot leak it. */
    rl_docbox *box = (rl_docbox *)lua_newuserdatauv(L, sizeof(rl_docbox), 0);
    box->doc = NULL;
    box->L = L;
    luaL_setmetatable(L, RL_JSON_DOCBOX_KEY);
    rj_error err;
    box->doc = rj_parse_with(s, len, RL_JSON_DECODE_MAX_DEPTH, &err, docbox_alloc, box);
    if (!box->doc) {
        /* a limit the allocator hit while parsing ends the event here, as what it is */
        if (engine_of(L)->tripped || engine_of(L)->mem_exceeded) sb_work_check(L, 0);
        return luaL_error(L, "json.decode: line %d, column %d: %s", (int)err.line, (int)err.column, err.message);
    }
    rl_push_json(L, box->doc, 0);
    rj_free(box->doc);
    box->doc = NULL;
    return 1;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Encoding: Lua -> JSON text                                                                                    */
/* ------------------------------------------------------------------------------------------------------------ */

typedef struct {
    lua_State *L;
    rl_outbox *out;
    int null_idx;
    int array_idx;
    int depth;
    const void *path[RL_JSON_ENCODE_MAX_DEPTH + 1]; /* tables being encoded, outermost first (cycle detection) */
} rl_encoder;

static void out_reserve(rl_encoder *e, size_t extra) {
    rl_outbox *o = e->out;
    if (o->cap - o->len >= extra) return;
    size_t need = o->len + extra;
    if (need < o->len) luaL_error(e->L, "json.encode: output too large");
    size_t cap = o->cap ? o->cap : 256;
    while (cap < need) {
        size_t next = cap * 2;
        if (next < cap) {
            cap = need;
            break;
        }
        cap = next;
    }
    char *p = (char *)lj_alloc(e->L, o->p, o->p ? o->cap : 0, cap);
    if (!p) luaL_error(e->L, "json.encode: not enough memory");
    o->p = p;
    o->cap = cap;
}

static inline void out_bytes(rl_encoder *e, const char *s, size_t n) {
    out_reserve(e, n);
    memcpy(e->out->p + e->out->len, s, n);
    e->out->len += n;
}

static inline void out_char(rl_encoder *e, char c) {
    if (e->out->len == e->out->cap) out_reserve(e, 1);
    e->out->p[e->out->len++] = c;
}

static void encode_string(rl_encoder *e, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    rl_work_ahead(e->L, (long long)n);
    out_reserve(e, n + 2);
    out_char(e, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        if (run < i) out_bytes(e, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\t': esc[1] = 't'; break;
        case '\r': esc[1] = 'r'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xF];
            el = 6;
            break;
        }
        out_bytes(e, esc, el);
    }
    if (run < n) out_bytes(e, s + run, n - run);
    out_char(e, '"');
}

static void encode_integer(rl_encoder *e, lua_Integer v) {
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, LUA_INTEGER_FMT, (LUAI_UACINT)v);
    out_bytes(e, tmp, (size_t)n);
}

/* Replaces a locale decimal separator by '.'. */
static void fix_decimal_point(char *s) {
    const char *dp = localeconv()->decimal_point;
    if (!dp || (dp[0] == '.' && dp[1] == '\0')) return;
    size_t dl = strlen(dp);
    char *at = strstr(s, dp);
    if (!at) return;
    *at = '.';
    if (dl > 1) memmove(at + 1, at + dl, strlen(at + dl) + 1);
}

static void encode_float(rl_encoder *e, lua_Number x) {
    double d = (double)x;
    if (d != d || d == HUGE_VAL || d == -HUGE_VAL) {
        luaL_error(e->L, "json.encode: cannot encode %s", d != d ? "NaN" : "infinity");
    }
    char tmp[40];
    int n;
    if (d == floor(d) && fabs(d) < 9007199254740992.0) {
        n = snprintf(tmp, sizeof tmp, "%lld", (long long)d);
    } else {
        /* Shortest of 15/16/17 significant digits that reads back exactly. */
        n = snprintf(tmp, sizeof tmp, "%.15g", d);
        if (strtod(tmp, NULL) != d) {
            n = snprintf(tmp, sizeof tmp, "%.16g", d);
            if (strtod(tmp, NULL) != d) n = snprintf(tmp, sizeof tmp, "%.17g", d);
        }
        fix_decimal_point(tmp);
        /* An integral float >= 2^53 printed as plain digits keeps a ".0" so it reads back as a float. */
        if (!strpbrk(tmp, ".eE")) strcat(tmp, ".0");
        n = (int)strlen(tmp);
    }
    out_bytes(e, tmp, (size_t)n);
}

typedef struct {
    const char *s;
    size_t len;
} rl_key;

static int key_cmp(const void *a, const void *b) {
    const rl_key *x = (const rl_key *)a, *y = (const rl_key *)b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, m);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

static void encode_value(rl_encoder *e, int idx);

/* Table at absolute index t (not json.null). */
static void encode_table(rl_encoder *e, int t) {
    lua_State *L = e->L;
    const void *self = lua_topointer(L, t);
    for (int i = 0; i < e->depth; i++) {
        if (e->path[i] == self) luaL_error(L, "json.encode: cannot encode a table that contains itself (cycle)");
    }
    if (e->depth >= RL_JSON_ENCODE_MAX_DEPTH) {
        luaL_error(L, "json.encode: nesting deeper than %d levels", RL_JSON_ENCODE_MAX_DEPTH);
    }
    luaL_checkstack(L, 6, "json.encode: nesting too deep");
    e->path[e->depth++] = self;

    int marked = 0;
    if (lua_getmetatable(L, t)) {
        marked = lua_rawequal(L, -1, e->array_idx);
        lua_pop(L, 1);
    }

    lua_Integer n = 0;
    int is_array = marked;
    if (marked) {
        n = (lua_Integer)lua_rawlen(L, t);
    } else {
        /* An array iff the keys are exactly 1..n with n >= 1. */
        lua_Integer count = 0, max = 0;
        int all_positive_ints = 1;
        lua_pushnil(L);
        while (lua_next(L, t)) {
            lua_pop(L, 1);
            count++;
            if (all_positive_ints) {
                if (lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1)) {
                    lua_Integer k = lua_tointeger(L, -1);
                    if (k < 1) {
                        all_positive_ints = 0;
                    } else if (k > max) {
                        max = k;
                    }
                } else {
                    all_positive_ints = 0;
                }
            }
        }
        if (count > 0 && all_positive_ints && max == count) {
            is_array = 1;
            n = count;
        }
    }

    if (is_array) {
        out_char(e, '[');
        for (lua_Integer i = 1; i <= n; i++) {
            if (i > 1) out_char(e, ',');
            lua_rawgeti(L, t, i);
            encode_value(e, lua_gettop(L));
            lua_pop(L, 1);
        }
        out_char(e, ']');
    } else {
        /* Collect the (string) keys, sort them byte-wise. Key strings stay alive: the table holds them.
         * Stack: [.. slot key] where slot anchors the key array once it outgrows `small`. */
        size_t count = 0, cap = 16;
        rl_key small[16];
        rl_key *keys = small;
        lua_pushnil(L); /* slot */
        lua_pushnil(L); /* iteration key */
        while (lua_next(L, t)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING) {
                luaL_error(L, "json.encode: cannot encode table key of type %s", luaL_typename(L, -1));
            }
            if (count == cap) {
                size_t ncap = cap * 2;
                rl_key *bigger = (rl_key *)lua_newuserdatauv(L, ncap * sizeof(rl_key), 0);
                memcpy(bigger, keys, count * sizeof(rl_key));
                lua_replace(L, -3); /* into the slot; the previous array (if any) becomes garbage */
                keys = bigger;
                cap = ncap;
            }
            size_t kl;
            const char *ks = lua_tolstring(L, -1, &kl);
            keys[count].s = ks;
            keys[count].len = kl;
            count++;
        }
        if (count > 1) {
            long long log2 = 1;
            while (((size_t)1 << log2) < count) log2++;
            rl_work_ahead(L, (long long)count * log2 * 20);
            qsort(keys, count, sizeof(rl_key), key_cmp);
        }
        out_char(e, '{');
        for (size_t i = 0; i < count; i++) {
            if (i) out_char(e, ',');
            encode_string(e, keys[i].s, keys[i].len);
            out_char(e, ':');
            lua_pushlstring(L, keys[i].s, keys[i].len);
            lua_rawget(L, t);
            encode_value(e, lua_gettop(L));
            lua_pop(L, 1);
        }
        out_char(e, '}');
        lua_pop(L, 1); /* the slot */
    }
    e->depth--;
}

static void encode_value(rl_encoder *e, int idx) {
    lua_State *L = e->L;
    rl_work(L, RL_JSON_WORK_VALUE);
    switch (lua_type(L, idx)) {
    case LUA_TNIL: out_bytes(e, "null", 4); break;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx)) {
            out_bytes(e, "true", 4);
        } else {
            out_bytes(e, "false", 5);
        }
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            encode_integer(e, lua_tointeger(L, idx));
        } else {
            encode_float(e, lua_tonumber(L, idx));
        }
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        encode_string(e, s, n);
        break;
    }
    case LUA_TTABLE:
        if (lua_rawequal(L, idx, e->null_idx)) {
            out_bytes(e, "null", 4);
        } else {
            encode_table(e, idx);
        }
        break;
    default:
        luaL_error(L, "json.encode: cannot encode value of type %s", luaL_typename(L, idx));
    }
}

void rl_json_encode(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    rl_json_ensure(L);
    luaL_checkstack(L, 8, "json.encode: stack overflow");
    rl_outbox *out = (rl_outbox *)lua_newuserdatauv(L, sizeof(rl_outbox), 0);
    out->p = NULL;
    out->len = out->cap = 0;
    luaL_setmetatable(L, RL_JSON_OUTBOX_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, RL_JSON_NULL_KEY);
    lua_getfield(L, LUA_REGISTRYINDEX, RL_JSON_ARRAY_KEY);
    rl_encoder e;
    e.L = L;
    e.out = out;
    e.null_idx = lua_gettop(L) - 1;
    e.array_idx = lua_gettop(L);
    e.depth = 0;
    encode_value(&e, idx);
    lua_pop(L, 2); /* [.. outbox] */
    lua_pushlstring(L, out->p ? out->p : "", out->len); /* [.. outbox text] */
    if (out->p) lj_alloc(L, out->p, out->cap, 0); /* free eagerly; __gc would too */
    out->p = NULL;
    out->len = out->cap = 0;
    lua_remove(L, -2); /* [.. text] */
}

/* json.encode(v) */
static int json_encode(lua_State *L) {
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    rl_json_encode(L, 1);
    return 1;
}

/* json.array([t]) -> t, marked as an array (a new empty array when called without argument). */
static int json_array(lua_State *L) {
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_createtable(L, 0, 0);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, RL_JSON_ARRAY_KEY);
    if (lua_getmetatable(L, 1)) {
        int same = lua_rawequal(L, -1, -2);
        lua_pop(L, 1);
        if (!same) return luaL_error(L, "json.array: the table already has a metatable");
    }
    lua_setmetatable(L, 1);
    return 1;
}

static int json_locked_newindex(lua_State *L) { return luaL_error(L, "json is read-only"); }

void rl_json_open(lua_State *L) {
    rl_json_ensure(L);
    luaL_checkstack(L, 4, "json: stack overflow");
    lua_createtable(L, 0, 4); /* the library */
    lua_getfield(L, LUA_REGISTRYINDEX, RL_JSON_NULL_KEY);
    lua_setfield(L, -2, "null");
    lua_pushcfunction(L, json_encode);
    lua_setfield(L, -2, "encode");
    lua_pushcfunction(L, json_decode);
    lua_setfield(L, -2, "decode");
    lua_pushcfunction(L, json_array);
    lua_setfield(L, -2, "array");
    /* the locked proxy: reads fall through, writes raise, the metatable is hidden */
    lua_createtable(L, 0, 0);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, json_locked_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2); /* leave only the proxy */
}
