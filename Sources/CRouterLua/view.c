/*
 * The finding view f and ctx.
 */
#define LUA_LIB
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sandbox.h"
#include "lua_json.h"
#include "sandbox_internal.h"

static const char *const field_names[RL_FIELD_COUNT] = {
    "id", "type", "purpose", "resource_kind", "family", "artifact", "severity", "severity_label", "title",
    "description", "account", "event_account", "region", "partition", "resource_type", "action_type", "count",
    "first_seen", "last_seen", "created_at", "updated_at", "archived", "sample", "console_url", "resource",
};

const char *rl_field_name(int field) {
    return (field >= 0 && field < RL_FIELD_COUNT) ? field_names[field] : NULL;
}


/* ---------------------------------------------------------------- f and ctx */

/* __index of ctx's field table (upvalue 1: set of known names, upvalue 2: "ctx"). */
static int fields_missing(lua_State *L) {
    if (lua_type(L, 2) == LUA_TSTRING) {
        const char *key = lua_tostring(L, 2);
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) {
            lua_pushnil(L);
            return 1;
        }
        return luaL_error(L, "%s has no field '%s'", lua_tostring(L, lua_upvalueindex(2)), key);
    }
    return luaL_error(L, "%s has no field of type %s", lua_tostring(L, lua_upvalueindex(2)),
                      luaL_typename(L, 2));
}

static int fields_next(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1)) return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs of the ctx proxy: iterates its field table. */
static int proxy_pairs(lua_State *L) {
    if (!lua_getmetatable(L, 1)) return luaL_error(L, "pairs: not a view");
    lua_pushliteral(L, "__index");
    lua_rawget(L, -2);
    lua_pushcfunction(L, fields_next);
    lua_insert(L, -2);
    lua_pushnil(L);
    return 3;
}

/* Builds the metatable for a field table: {__index = fields_missing(known, what)}. */
static int make_fields_mt(lua_State *L, const char *const *known, int nknown, const char *what) {
    lua_createtable(L, 0, 2);
    lua_createtable(L, 0, nknown);
    for (int i = 0; i < nknown; i++) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, known[i]);
    }
    lua_pushstring(L, what);
    lua_pushcclosure(L, fields_missing, 2);
    lua_setfield(L, -2, "__index");
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Pushes a read-only proxy over the field table at idx (ctx). */
static void push_view(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    lua_createtable(L, 0, 0);
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sb_locked_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, proxy_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* The finding view f is one persistent, empty, locked proxy whose __index is a cache table of the current event's
 * values (written into the engine before rl_event_start): the scalar and short-string fields the rule sources name
 * are put there when the event starts, any other (long strings, fields read by a computed name) on first read;
 * `detail` is converted from the JSON tape on first use. */
/* strlen of each field name (checked against field_names when an engine is created) */
static const unsigned char field_len[RL_FIELD_COUNT] = {2, 4, 7, 13, 6, 8, 8, 14, 5, 11, 7, 13, 6, 9, 13, 11, 5, 10, 9, 10, 10, 8, 6, 11, 8};

static int field_index(const char *k, size_t n) {
    for (int i = 0; i < RL_FIELD_COUNT; i++) {
        if (field_len[i] == n && field_names[i][0] == k[0] && memcmp(field_names[i], k, n) == 0) return i;
    }
    return -1;
}

static void push_value(lua_State *L, const rl_value *v);

static void push_detail(lua_State *L, rl_engine *e) {
    if (e->has_detail) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_fields);
        return;
    }
    if (!e->doc) {
        lua_pushnil(L);
        return;
    }
    rl_push_json(L, e->doc, e->detail_node);
    lua_pushvalue(L, -1);
    lua_rawseti(L, LUA_REGISTRYINDEX, e->ref_fields);
    e->has_detail = 1;
}

#define RL_SHORT_STRING 40 /* Lua's LUAI_MAXSHORTLEN: longer strings are copied, not interned */

/* The field name (or "detail") closest to k[0..n) when it looks like a typo of it, as `router check` suggests
 * (RouterRules/FieldCheck.swift): a camelCase spelling of a snake_case name, or an optimal string alignment distance of
 * at most 1 (up to 4 characters), 2 (up to 8) or 3. NULL otherwise. Only on the error path. */
static const char *nearest_field(const char *k, size_t n) {
    if (n > 64) return NULL;
    char low[65];
    for (size_t i = 0; i < n; i++) low[i] = (char)((k[i] >= 'A' && k[i] <= 'Z') ? k[i] + 32 : k[i]);
    const char *best = NULL;
    int best_d = 1 << 30;
    for (int f = 0; f <= RL_FIELD_COUNT; f++) {
        const char *name = f < RL_FIELD_COUNT ? field_names[f] : "detail";
        size_t m = strlen(name);
        /* camelCase: the name without its underscores, compared with the lowered key */
        size_t a = 0, b = 0;
        while (a < m && b < n) {
            if (name[a] == '_') { a++; continue; }
            if (name[a] != low[b]) break;
            a++, b++;
        }
        if (a == m && b == n) return name;
        int d[66][66];
        for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
        for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
        for (size_t i = 1; i <= n; i++) {
            for (size_t j = 1; j <= m; j++) {
                int cost = low[i - 1] == name[j - 1] ? 0 : 1;
                int v = d[i - 1][j] + 1;
                if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
                if (d[i - 1][j - 1] + cost < v) v = d[i - 1][j - 1] + cost;
                if (i > 1 && j > 1 && low[i - 1] == name[j - 2] && low[i - 2] == name[j - 1] && d[i - 2][j - 2] + 1 < v)
                    v = d[i - 2][j - 2] + 1;
                d[i][j] = v;
            }
        }
        if (d[n][m] < best_d) best_d = d[n][m], best = name;
    }
    int allowed = n <= 4 ? 1 : n <= 8 ? 2 : 3;
    return best_d <= allowed ? best : NULL;
}

/* __index of f's cache table (argument 1): pushes a field the cache does not have and keeps it there for the rest of
 * the event (nil values are not kept). */
static int f_fill(lua_State *L) {
    rl_engine *e = engine_of(L);
    if (lua_type(L, 2) != LUA_TSTRING) return luaL_error(L, "f has no field of type %s", luaL_typename(L, 2));
    size_t n;
    const char *k = lua_tolstring(L, 2, &n);
    int i = n > 0 ? field_index(k, n) : -1;
    if (i < 0 && n == 6 && memcmp(k, "detail", 6) == 0) i = RL_FIELD_COUNT;
    if (i < 0) {
        const char *near = nearest_field(k, n);
        if (near) return luaL_error(L, "f has no field '%s' (did you mean '%s'?)", k, near);
        return luaL_error(L, "f has no field '%s'", k);
    }
    if (i < RL_FIELD_COUNT) push_value(L, &e->fval[i]);
    else push_detail(L, e);
    if (lua_isnil(L, -1)) return 1;
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, 1);
    e->fcache_set |= (uint32_t)1 << i;
    return 1;
}

/* Removes the values f_fill added in this event (outside protected mode: assigning nil to present keys never
 * allocates); fill_fcache's stay until the next event's fill_fcache overwrites them. */
void sb_clear_fcache(rl_engine *e) {
    uint32_t lazy = e->fcache_set & ~e->fcache_eager;
    if (!lazy) return;
    lua_State *L = e->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_fcache);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_fkeys);
    for (int i = 0; i <= RL_FIELD_COUNT; i++) {
        if (!(lazy & ((uint32_t)1 << i))) continue;
        lua_rawgeti(L, -1, i + 1);
        lua_pushnil(L);
        lua_rawset(L, -4);
    }
    lua_pop(L, 2);
    e->fcache_set &= e->fcache_eager;
}

/* Before any rule code of an event runs (protected: it allocates): the named scalar and short-string fields are
 * written into f's cache, overwriting the previous event's; a named field this event does not have (or has as a
 * long string, read per use) is removed. What stays in the cache between events is only ever these. */
void sb_fill_fcache(rl_engine *e) {
    lua_State *L = e->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_fcache);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_fkeys);
    int cache = lua_gettop(L) - 1, keys = cache + 1;
    uint32_t eager = 0;
    for (int i = 0; i < RL_FIELD_COUNT; i++) {
        uint32_t bit = (uint32_t)1 << i;
        if (!(e->fields_named & bit)) continue;
        const rl_value *v = &e->fval[i];
        int keep = v->kind != RL_V_NIL && !(v->kind == RL_V_STRING && v->len > RL_SHORT_STRING);
        if (!keep && !(e->fcache_set & bit)) continue;
        lua_rawgeti(L, keys, i + 1);
        if (keep) push_value(L, v);
        else lua_pushnil(L);
        lua_rawset(L, cache);
        if (keep) eager |= bit;
    }
    lua_settop(L, cache - 1);
    e->fcache_set = eager;
    e->fcache_eager = eager;
}

/* Iterator for pairs(f): the fields in view order (nil ones skipped), then detail. */
static int f_next(lua_State *L) {
    rl_engine *e = engine_of(L);
    int i = 0;
    if (!lua_isnil(L, 2)) {
        size_t n;
        const char *k = lua_tolstring(L, 2, &n);
        if (k && n == 6 && memcmp(k, "detail", 6) == 0) return 0;
        i = k ? field_index(k, n) + 1 : RL_FIELD_COUNT;
        if (i <= 0) return luaL_error(L, "invalid key to 'next'");
    }
    while (i < RL_FIELD_COUNT && e->fval[i].kind == RL_V_NIL) i++;
    if (i < RL_FIELD_COUNT) {
        lua_pushstring(L, field_names[i]);
        push_value(L, &e->fval[i]);
        return 2;
    }
    if (!e->doc) return 0;
    lua_pushliteral(L, "detail");
    push_detail(L, e);
    return 2;
}

static int f_pairs(lua_State *L) {
    lua_pushcfunction(L, f_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

static void push_value(lua_State *L, const rl_value *v) {
    switch (v->kind) {
    case RL_V_STRING: lua_pushlstring(L, v->s, v->len); break;
    case RL_V_NUMBER: lua_pushnumber(L, v->number); break;
    case RL_V_INTEGER: lua_pushinteger(L, (lua_Integer)v->integer); break;
    case RL_V_BOOLEAN: lua_pushboolean(L, v->integer != 0); break;
    default: lua_pushnil(L); break;
    }
}

/* The view's fields whose names appear as whole words in a rule file's source (comments included: a guess that
 * only decides what is read ahead, never what a rule sees). */
uint32_t sb_named_fields(const char *src, size_t len) {
    uint32_t mask = 0;
    for (int i = 0; i < RL_FIELD_COUNT; i++) {
        size_t n = field_len[i];
        for (const char *p = src, *end = src + len; p + n <= end; p++) {
            p = memchr(p, field_names[i][0], (size_t)(end - p));
            if (!p || p + n > end) break;
            if (memcmp(p, field_names[i], n) != 0) continue;
            int before = p > src && (isalnum((unsigned char)p[-1]) || p[-1] == '_');
            int after = p + n < end && (isalnum((unsigned char)p[n]) || p[n] == '_');
            if (!before && !after) {
                mask |= (uint32_t)1 << i;
                break;
            }
        }
    }
    return mask;
}

int sb_fields_consistent(void) {
    for (int i = 0; i < RL_FIELD_COUNT; i++)
        if (strlen(field_names[i]) != field_len[i]) return 0;
    return 1;
}

/* Creates f (one empty, locked proxy whose __index is the cache of its values; the cache's own __index: f_fill) and
 * ctx (a proxy over one field table whose values are set for each event), with their registry references. */
void sb_open_view(lua_State *L, rl_engine *e) {
    static const char *const known_ctx[] = {"now", "mode"};
    e->ref_ctx_mt = make_fields_mt(L, known_ctx, 2, "ctx");

    /* f: one empty, locked proxy whose __index is the cache of its values (the cache's own __index: f_fill) */
    lua_createtable(L, RL_FIELD_COUNT + 1, 0); /* field number + 1 -> name */
    for (int i = 0; i <= RL_FIELD_COUNT; i++) {
        lua_pushstring(L, i < RL_FIELD_COUNT ? field_names[i] : "detail");
        lua_rawseti(L, -2, i + 1);
    }
    e->ref_fkeys = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 0, RL_FIELD_COUNT + 1);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, f_fill);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    e->ref_fcache = luaL_ref(L, LUA_REGISTRYINDEX);
    /* stack: cache */
    lua_createtable(L, 0, 0);
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sb_locked_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, f_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
    e->ref_f = luaL_ref(L, LUA_REGISTRYINDEX);

    /* ctx: a proxy over one field table whose values are set for each event */
    lua_createtable(L, 0, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_ctx_mt);
    lua_setmetatable(L, -2);
    push_view(L, -1);
    e->ref_ctx = luaL_ref(L, LUA_REGISTRYINDEX);
    e->ref_ctx_fields = luaL_ref(L, LUA_REGISTRYINDEX);
}
