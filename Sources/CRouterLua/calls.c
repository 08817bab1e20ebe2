/*
 * Events and the rule calls: filter, route (and reading the deliveries it returns) and format.
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

/* ---------------------------------------------------------------- events */

typedef struct begin_args {
    double now;
    const char *mode;
    int status;
} begin_args;



static int p_begin(lua_State *L) {
    begin_args *a = (begin_args *)lua_touserdata(L, 1);
    rl_engine *e = engine_of(L);

    /* ctx */
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_ctx_fields);
    lua_pushliteral(L, "now");
    /* whole Unix seconds: os.date and friends take integers */
    lua_pushinteger(L, (lua_Integer)floor(a->now));
    lua_rawset(L, -3);
    lua_pushliteral(L, "mode");
    lua_pushstring(L, a->mode ? a->mode : "live");
    lua_rawset(L, -3);
    lua_pop(L, 1);

    /* what the previous event changed in reused files' state is put back */
    sb_restore_snapshots(e);
    sb_fill_fcache(e);
    a->status = RL_OK;
    return 0;
}

/* Runs file's main chunk for the current event (once) and keeps the table it returns in inst[file].
 * Returns a status; errors are marked as coming from the file's top level. */
static int ensure_instance(rl_engine *e, int file) {
    if (e->inst_ready[file]) return RL_OK;
    lua_State *L = e->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->files[file].ref_chunk);
    int top = lua_gettop(L) - 1;
    int st = sb_call_rule(e, 0, 1, file);
    if (st != RL_OK) {
        lua_settop(L, top);
        e->err_in_load = 1;
        return st;
    }
    if (lua_type(L, -1) != LUA_TTABLE) {
        sb_set_error(e, RL_ERR_RESULT, file, 0, "%s returned %s instead of its table for this event",
                  e->files[file].chunkname + 1, luaL_typename(L, -1));
        lua_settop(L, top);
        e->err_in_load = 1;
        return RL_ERR_RESULT;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_inst);
    lua_insert(L, -2);
    lua_rawseti(L, -2, file + 1);
    lua_settop(L, top);
    e->inst_ready[file] = 1;
    return RL_OK;
}

static void release_event(rl_engine *e) {
    lua_State *L = e->L;
    sb_clear_fcache(e);
    /* drop what only this event may reference; instances are overwritten by the next event */
    if (e->has_detail) {
        lua_pushboolean(L, 0);
        lua_rawseti(L, LUA_REGISTRYINDEX, e->ref_fields);
        e->has_detail = 0;
    }
    if (e->anchor_len > 0) {
        /* assigning nil to present array slots never allocates */
        lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_anchor);
        for (int i = 1; i <= e->anchor_len; i++) {
            lua_pushnil(L);
            lua_rawseti(L, -2, i);
        }
        lua_pop(L, 1);
        e->anchor_len = 0;
    }
    e->ndeliveries = 0;
    e->nmentions = 0;
    e->in_event = 0;
    e->doc = NULL;
    /* an event that filled the heap leaves it to the collector now rather than to the next event's emergency */
    if (e->mem_used > e->limits.memory_bytes / 2) lua_gc(L, LUA_GCCOLLECT);
}

char *rl_event_prepare(rl_engine *e, size_t string_bytes, rl_value **fields) {
    if (e->in_event) release_event(e);
    if (string_bytes + 1 > e->fbuf_cap) {
        size_t cap = string_bytes + string_bytes / 2 + 256;
        char *nb = (char *)realloc(e->fbuf, cap);
        if (!nb) {
            sb_clear_error(e);
            sb_set_error(e, RL_ERR_MEMORY, -1, 0, "out of memory while preparing the event");
            return NULL;
        }
        e->fbuf = nb;
        e->fbuf_cap = cap;
    }
    for (int i = 0; i < RL_FIELD_COUNT; i++) e->fval[i].kind = RL_V_NIL;
    *fields = e->fval;
    return e->fbuf;
}

int rl_event_start(rl_engine *e, const rj_doc *doc, uint32_t detail_node, double now, const char *mode) {
    if (e->in_event) release_event(e);
    sb_clear_error(e);
    e->in_event = 1;
    e->doc = doc;
    e->detail_node = detail_node;
    e->output_len = 0;
    e->output[0] = 0;
    e->ndeliveries = 0;
    e->nmentions = 0;
    sb_reset_limits(e);
    /* rule files are instantiated anew, on first use, for this event (ensure_instance) */
    for (int i = 0; i < e->nfiles; i++) e->inst_ready[i] = (unsigned char)e->files[i].stateless;
    begin_args a = {now, mode, RL_OK};
    if (sb_run_protected(e, p_begin, &a, -1, "while preparing the event") != RL_OK) return RL_ERR_MEMORY;
    return a.status;
}

/* Pushes inst[file][key] (nil when absent). */
static int push_member(rl_engine *e, int file, const char *key);

/* Pushes `file`'s `key` function (`ref` when the file keeps it by reference, else looked up in the file's table,
 * instantiated for the event if needed) followed by f and ctx. Returns RL_OK, or an error status with nothing
 * pushed. */
static int push_rule_call(rl_engine *e, int file, const char *key, int ref) {
    if (ref != LUA_NOREF) {
        lua_rawgeti(e->L, LUA_REGISTRYINDEX, ref);
        lua_rawgeti(e->L, LUA_REGISTRYINDEX, e->ref_f);
        lua_rawgeti(e->L, LUA_REGISTRYINDEX, e->ref_ctx);
        return RL_OK;
    }
    int st = ensure_instance(e, file);
    if (st != RL_OK) return st;
    if (push_member(e, file, key) != LUA_TFUNCTION) {
        lua_pop(e->L, 1);
        sb_set_error(e, RL_ERR_RESULT, file, 0, "the file's table has no '%s' function for this event", key);
        return RL_ERR_RESULT;
    }
    lua_rawgeti(e->L, LUA_REGISTRYINDEX, e->ref_f);
    lua_rawgeti(e->L, LUA_REGISTRYINDEX, e->ref_ctx);
    return RL_OK;
}
static int push_member(rl_engine *e, int file, const char *key) {
    lua_State *L = e->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_inst);
    lua_rawgeti(L, -1, file + 1);
    lua_remove(L, -2);
    if (lua_type(L, -1) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_pushnil(L);
        return LUA_TNIL;
    }
    lua_pushstring(L, key);
    int t = lua_rawget(L, -2);
    lua_remove(L, -2);
    return t;
}

/* Keeps the value at idx alive until the event ends. */
static void anchor(rl_engine *e, int idx) {
    lua_State *L = e->L;
    idx = lua_absindex(L, idx);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_anchor);
    lua_pushvalue(L, idx);
    lua_rawseti(L, -2, ++e->anchor_len);
    lua_pop(L, 1);
}

/* The optional reason a filter or permit returns second (`n` results above `base`): NULL when absent or nil, else
 * the string, anchored so that it outlives the stack slot. A reason of another type is the rule's error. */
static int take_reason(rl_engine *e, int file, int line, const char *what, int base, int n, const char **reason,
                       size_t *len) {
    lua_State *L = e->L;
    *reason = NULL;
    if (n < 2 || lua_isnil(L, base + 2)) return RL_OK;
    if (lua_type(L, base + 2) != LUA_TSTRING) {
        sb_set_error(e, RL_ERR_RESULT, file, line, "%s's second return value (the reason) must be a string, not %s",
                     what, luaL_typename(L, base + 2));
        return RL_ERR_RESULT;
    }
    anchor(e, base + 2);
    *reason = lua_tolstring(L, base + 2, len);
    return RL_OK;
}

typedef struct filter_args {
    int file;
    int keep;
    const char *reason;
    size_t reason_len;
    int status;
} filter_args;

static int p_filter(lua_State *L) {
    filter_args *a = (filter_args *)lua_touserdata(L, 1);
    rl_engine *e = engine_of(L);
    if ((a->status = push_rule_call(e, a->file, "filter", e->files[a->file].ref_filter)) != RL_OK) return 0;
    int line = e->files[a->file].filter_line; /* recorded at load: the same chunk defines the same function */
    int base = lua_gettop(L) - 3;
    int st = sb_call_rule(e, 2, LUA_MULTRET, a->file);
    if (st != RL_OK) {
        lua_settop(L, base);
        a->status = st;
        return 0;
    }
    int n = lua_gettop(L) - base;
    if (n == 0 || lua_type(L, base + 1) != LUA_TBOOLEAN) {
        sb_set_error(e, RL_ERR_RESULT, a->file, line,
                  "filter must return a boolean (true keeps the finding, false drops it), optionally followed by a "
                  "reason string; it returned %s",
                  n == 0 ? "nothing" : luaL_typename(L, base + 1));
        lua_settop(L, base);
        a->status = RL_ERR_RESULT;
        return 0;
    }
    a->keep = lua_toboolean(L, base + 1);
    a->status = take_reason(e, a->file, line, "filter", base, n, &a->reason, &a->reason_len);
    lua_settop(L, base);
    return 0;
}

int rl_call_filter(rl_engine *e, int file, int *keep, const char **reason, size_t *reason_len) {
    sb_clear_error(e);
    filter_args a = {file, 1, NULL, 0, RL_OK};
    if (sb_run_protected(e, p_filter, &a, file, "in a filter call") != RL_OK) return RL_ERR_MEMORY;
    *keep = a.keep;
    *reason = a.reason;
    *reason_len = a.reason_len;
    return a.status;
}

typedef struct route_args {
    int file;
    int added;
    int status;
} route_args;

static int add_mention(rl_engine *e, lua_State *L, int idx) {
    if (e->nmentions >= e->cap_mentions) {
        int ncap = e->cap_mentions * 2;
        rl_mention_ref *m = (rl_mention_ref *)realloc(e->mentions, (size_t)ncap * sizeof *m);
        if (!m) return 0;
        e->mentions = m;
        e->cap_mentions = ncap;
    }
    anchor(e, idx);
    rl_mention_ref *r = &e->mentions[e->nmentions++];
    r->s = lua_tolstring(L, idx, &r->len);
    return 1;
}

static const char *const action_names[] = {"ack", "archive", "useful", "not_useful", "suppress", NULL};
static const char *const suppress_names[] = {"type", "account", "region", "resource", "action_type", NULL};

#define RL_DELIVERY_KEYS "channel, mention, format, to, continue, on_update, actions, suppress_by"

/* Reads a string or an array of strings, each one of `names`, into bits (1 << index). Returns 0, or 1 when the value
 * has the wrong shape, or 2 when a string is not one of the names (*bad: that string; it stays valid while the value
 * at idx does). */
static int read_names(lua_State *L, int idx, const char *const *names, unsigned *bits, const char **bad) {
    idx = lua_absindex(L, idx);
    *bits = 0;
    lua_Integer n = 1;
    if (lua_type(L, idx) == LUA_TTABLE) {
        n = (lua_Integer)lua_rawlen(L, idx);
        int count = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            count++;
            lua_pop(L, 1);
        }
        if (count != n) return 1;
    } else if (lua_type(L, idx) != LUA_TSTRING) {
        return 1;
    }
    for (lua_Integer j = 1; j <= n; j++) {
        int owned = lua_type(L, idx) == LUA_TTABLE;
        if (owned && lua_rawgeti(L, idx, j) != LUA_TSTRING) {
            lua_pop(L, 1);
            return 1;
        }
        const char *name = lua_tostring(L, owned ? -1 : idx);
        int k = 0;
        while (names[k] && strcmp(names[k], name) != 0) k++;
        if (owned) lua_pop(L, 1); /* the string stays alive: the table holds it */
        if (!names[k]) {
            *bad = name;
            return 2;
        }
        *bits |= 1u << k;
    }
    return 0;
}

/* Reads the delivery table at idx into e->deliveries. Returns RL_OK or RL_ERR_RESULT with the error set. */
static int read_delivery(rl_engine *e, int idx, int file, int line, int position) {
    lua_State *L = e->L;
    idx = lua_absindex(L, idx);
    /* "delivery" or "delivery #n", written only for an error message */
    char where[48] = "delivery";
#define RL_WHERE() (position > 0 ? (snprintf(where, sizeof where, "delivery #%d", position), where) : where)
    if (lua_type(L, idx) != LUA_TTABLE) {
        sb_set_error(e, RL_ERR_RESULT, file, line, "route returned an array whose element %d is %s, not a delivery table",
                  position, luaL_typename(L, idx));
        return RL_ERR_RESULT;
    }
    if (e->ndeliveries >= e->limits.max_deliveries) {
        sb_set_error(e, RL_ERR_RESULT, file, line, "too many deliveries for one finding (at most %d)",
                  e->limits.max_deliveries);
        return RL_ERR_RESULT;
    }
    rl_delivery d;
    memset(&d, 0, sizeof d);
    d.file = file;
    int first_mention = e->nmentions;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            sb_set_error(e, RL_ERR_RESULT, file, line,
                      "%s has a %s key; allowed keys: " RL_DELIVERY_KEYS, RL_WHERE(),
                      luaL_typename(L, -2));
            lua_pop(L, 2);
            e->nmentions = first_mention;
            return RL_ERR_RESULT;
        }
        const char *k = lua_tostring(L, -2);
        int t = lua_type(L, -1);
        const char *want = NULL;
        if (strcmp(k, "channel") == 0 || strcmp(k, "format") == 0 || strcmp(k, "to") == 0
            || strcmp(k, "on_update") == 0) {
            if (t != LUA_TSTRING) want = "a string";
            else {
                anchor(e, -1);
                size_t len;
                const char *s = lua_tolstring(L, -1, &len);
                if (k[0] == 'c') { d.channel = s; d.channel_len = len; }
                else if (k[0] == 'f') { d.format = s; d.format_len = len; }
                else if (k[0] == 'o') { d.on_update = s; d.on_update_len = len; }
                else { d.to = s; d.to_len = len; }
            }
        } else if (strcmp(k, "actions") == 0 || strcmp(k, "suppress_by") == 0) {
            int acts = k[0] == 'a';
            const char *bad = NULL;
            int r = read_names(L, -1, acts ? action_names : suppress_names, acts ? &d.actions : &d.suppress_by, &bad);
            if (r == 1) {
                want = "a string or an array of strings";
            } else if (r == 2) {
                sb_set_error(e, RL_ERR_RESULT, file, line, "%s: '%s' has unknown %s '%s' (allowed: %s)", RL_WHERE(), k,
                             acts ? "action" : "criterion", bad,
                             acts ? "ack, archive, useful, not_useful, suppress"
                                  : "type, account, region, resource, action_type");
                lua_pop(L, 2);
                e->nmentions = first_mention;
                return RL_ERR_RESULT;
            }
        } else if (strcmp(k, "continue") == 0) {
            if (t != LUA_TBOOLEAN) want = "a boolean";
            else { d.has_continue = 1; d.continue_ = lua_toboolean(L, -1); }
        } else if (strcmp(k, "mention") == 0) {
            if (t == LUA_TSTRING) {
                if (!add_mention(e, L, -1)) want = "fewer mentions (out of memory)";
            } else if (t == LUA_TTABLE) {
                lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
                /* must be a pure array of strings */
                int count = 0;
                lua_pushnil(L);
                while (lua_next(L, -2)) {
                    count++;
                    lua_pop(L, 1);
                }
                if (count != n) want = "a string or an array of strings";
                for (lua_Integer j = 1; !want && j <= n; j++) {
                    if (lua_rawgeti(L, -1, j) != LUA_TSTRING) want = "a string or an array of strings";
                    else if (!add_mention(e, L, -1)) want = "fewer mentions (out of memory)";
                    lua_pop(L, 1);
                }
            } else {
                want = "a string or an array of strings";
            }
        } else {
            sb_set_error(e, RL_ERR_RESULT, file, line,
                      "%s has unknown key '%s'; allowed keys: " RL_DELIVERY_KEYS, RL_WHERE(), k);
            lua_pop(L, 2);
            e->nmentions = first_mention;
            return RL_ERR_RESULT;
        }
        if (want) {
            sb_set_error(e, RL_ERR_RESULT, file, line, "%s: '%s' must be %s, not %s", RL_WHERE(), k, want,
                      luaL_typename(L, -1));
            lua_pop(L, 2);
            e->nmentions = first_mention;
            return RL_ERR_RESULT;
        }
        lua_pop(L, 1);
    }
    if (!d.channel && !d.to) {
        sb_set_error(e, RL_ERR_RESULT, file, line, "%s needs a 'channel' (or a 'to' destination)", RL_WHERE());
        e->nmentions = first_mention;
        return RL_ERR_RESULT;
    }
    d.mention_count = e->nmentions - first_mention;
    e->mention_start[e->ndeliveries] = first_mention;
    e->deliveries[e->ndeliveries++] = d;
    return RL_OK;
#undef RL_WHERE
}

static int p_route(lua_State *L) {
    route_args *a = (route_args *)lua_touserdata(L, 1);
    rl_engine *e = engine_of(L);
    a->added = 0;
    if ((a->status = push_rule_call(e, a->file, "route", e->files[a->file].ref_route)) != RL_OK) return 0;
    int line = e->files[a->file].route_line; /* recorded at load */
    int base = lua_gettop(L) - 3;
    int st = sb_call_rule(e, 2, 1, a->file);
    if (st != RL_OK) {
        lua_settop(L, base);
        a->status = st;
        return 0;
    }
    int r = base + 1;
    int before = e->ndeliveries;
    int before_mentions = e->nmentions;
    a->status = RL_OK;
    if (lua_isnil(L, r)) {
        /* no deliveries */
    } else if (lua_type(L, r) != LUA_TTABLE) {
        sb_set_error(e, RL_ERR_RESULT, a->file, line,
                  "route must return nil, a delivery table or an array of delivery tables; it returned %s",
                  luaL_typename(L, r));
        a->status = RL_ERR_RESULT;
    } else {
        lua_Integer n = (lua_Integer)lua_rawlen(L, r);
        if (n == 0 && lua_rawgeti(L, r, 1) == LUA_TNIL) {
            lua_pop(L, 1);
            /* a single delivery, or {} meaning none */
            lua_pushnil(L);
            int empty = !lua_next(L, r);
            if (!empty) lua_pop(L, 2);
            if (!empty) a->status = read_delivery(e, r, a->file, line, 0);
        } else {
            if (n == 0) lua_pop(L, 1);
            /* an array: every key must be 1..n */
            lua_Integer count = 0;
            lua_pushnil(L);
            while (lua_next(L, r)) {
                count++;
                lua_pop(L, 1);
            }
            if (count != n) {
                sb_set_error(e, RL_ERR_RESULT, a->file, line,
                          "route returned a table that mixes array items and named keys; return one delivery table "
                          "or an array of delivery tables");
                a->status = RL_ERR_RESULT;
            }
            for (lua_Integer j = 1; a->status == RL_OK && j <= n; j++) {
                lua_rawgeti(L, r, j);
                a->status = read_delivery(e, -1, a->file, line, (int)j);
                lua_pop(L, 1);
            }
        }
    }
    if (a->status != RL_OK) {
        e->ndeliveries = before;
        e->nmentions = before_mentions;
    }
    a->added = e->ndeliveries - before;
    lua_settop(L, base);
    return 0;
}

int rl_call_route(rl_engine *e, int file, int *added) {
    sb_clear_error(e);
    route_args a = {file, 0, RL_OK};
    if (sb_run_protected(e, p_route, &a, file, "in a route call") != RL_OK) {
        *added = 0;
        return RL_ERR_MEMORY;
    }
    *added = a.added;
    return a.status;
}

int rl_delivery_count(const rl_engine *e) { return e->ndeliveries; }

void rl_delivery_get(const rl_engine *e, int index, rl_delivery *out) { *out = e->deliveries[index]; }

const char *rl_delivery_mention(const rl_engine *e, int index, int mention, size_t *len) {
    const rl_mention_ref *r = &e->mentions[e->mention_start[index] + mention];
    *len = r->len;
    return r->s;
}

typedef struct permit_args {
    int file;
    const char *action, *user_id, *user_name, *team;
    int verdict;
    const char *reason;
    size_t reason_len;
    int status;
} permit_args;

static int p_permit(lua_State *L) {
    permit_args *a = (permit_args *)lua_touserdata(L, 1);
    rl_engine *e = engine_of(L);
    if ((a->status = push_rule_call(e, a->file, "permit", LUA_NOREF)) != RL_OK) return 0;
    /* (function f ctx) -> (function action user f ctx) */
    lua_pushstring(L, a->action);
    lua_insert(L, -3);
    lua_createtable(L, 0, 3);
    lua_pushstring(L, a->user_id ? a->user_id : "");
    lua_setfield(L, -2, "id");
    if (a->user_name) {
        lua_pushstring(L, a->user_name);
        lua_setfield(L, -2, "name");
    }
    if (a->team) {
        lua_pushstring(L, a->team);
        lua_setfield(L, -2, "team");
    }
    lua_insert(L, -3);
    int line = e->files[a->file].permit_line;
    int base = lua_gettop(L) - 5;
    int st = sb_call_rule(e, 4, LUA_MULTRET, a->file);
    if (st != RL_OK) {
        lua_settop(L, base);
        a->status = st;
        return 0;
    }
    int n = lua_gettop(L) - base;
    int t = n == 0 ? LUA_TNIL : lua_type(L, base + 1);
    if (t != LUA_TBOOLEAN && t != LUA_TNIL) {
        sb_set_error(e, RL_ERR_RESULT, a->file, line,
                     "permit must return true (allowed), false (denied) or nil (no opinion), optionally followed by a "
                     "reason string; it returned %s",
                     luaL_typename(L, base + 1));
        lua_settop(L, base);
        a->status = RL_ERR_RESULT;
        return 0;
    }
    a->verdict = t == LUA_TNIL ? -1 : lua_toboolean(L, base + 1);
    a->status = take_reason(e, a->file, line, "permit", base, n, &a->reason, &a->reason_len);
    lua_settop(L, base);
    return 0;
}

int rl_call_permit(rl_engine *e, int file, const char *action, const char *user_id, const char *user_name,
                   const char *team, int *verdict, const char **reason, size_t *reason_len) {
    sb_clear_error(e);
    permit_args a = {file, action, user_id, user_name, team, -1, NULL, 0, RL_OK};
    if (sb_run_protected(e, p_permit, &a, file, "in a permit call") != RL_OK) return RL_ERR_MEMORY;
    *verdict = a.verdict;
    *reason = a.reason;
    *reason_len = a.reason_len;
    return a.status;
}

typedef struct format_args {
    int format;
    int delivery;
    int status;
    int is_string;
} format_args;

static int p_format(lua_State *L) {
    format_args *a = (format_args *)lua_touserdata(L, 1);
    rl_engine *e = engine_of(L);
    rl_format *fm = &e->formats[a->format];
    int ist = ensure_instance(e, fm->file);
    if (ist != RL_OK) {
        a->status = ist;
        return 0;
    }
    if (push_member(e, fm->file, "formats") != LUA_TTABLE) {
        lua_pop(L, 1);
        sb_set_error(e, RL_ERR_RESULT, fm->file, 0, "the file's table has no 'formats' table for this event");
        a->status = RL_ERR_RESULT;
        return 0;
    }
    lua_pushstring(L, fm->name);
    if (lua_rawget(L, -2) != LUA_TFUNCTION) {
        lua_pop(L, 2);
        sb_set_error(e, RL_ERR_RESULT, fm->file, fm->line, "formats.%s is not a function for this event", fm->name);
        a->status = RL_ERR_RESULT;
        return 0;
    }
    lua_remove(L, -2);
    int line = fm->line; /* recorded at load */
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_f);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_ctx);
    /* d: a fresh table describing the delivery */
    lua_createtable(L, 0, 6);
    if (a->delivery >= 0 && a->delivery < e->ndeliveries) {
        const rl_delivery *d = &e->deliveries[a->delivery];
        if (d->channel) { lua_pushlstring(L, d->channel, d->channel_len); lua_setfield(L, -2, "channel"); }
        lua_pushlstring(L, d->to ? d->to : "default", d->to ? d->to_len : 7);
        lua_setfield(L, -2, "to");
        lua_pushstring(L, fm->name);
        lua_setfield(L, -2, "format");
        lua_pushboolean(L, d->continue_);
        lua_setfield(L, -2, "continue");
        if (d->on_update) { lua_pushlstring(L, d->on_update, d->on_update_len); lua_setfield(L, -2, "on_update"); }
        lua_createtable(L, d->mention_count, 0);
        for (int j = 0; j < d->mention_count; j++) {
            const rl_mention_ref *m = &e->mentions[e->mention_start[a->delivery] + j];
            lua_pushlstring(L, m->s, m->len);
            lua_rawseti(L, -2, j + 1);
        }
        lua_setfield(L, -2, "mention");
        lua_createtable(L, 5, 0);
        int n = 0;
        for (int j = 0; action_names[j]; j++) {
            if (!(d->actions & (1u << j))) continue;
            lua_pushstring(L, action_names[j]);
            lua_rawseti(L, -2, ++n);
        }
        lua_setfield(L, -2, "actions");
    }
    int base = lua_gettop(L) - 4;
    int st = sb_call_rule(e, 3, 1, fm->file);
    if (st != RL_OK) {
        lua_settop(L, base);
        a->status = st;
        return 0;
    }
    int t = lua_type(L, base + 1);
    if (t != LUA_TSTRING && t != LUA_TTABLE) {
        sb_set_error(e, RL_ERR_RESULT, fm->file, line,
                  "format '%s' must return a string or a table with 'text' (and optionally 'blocks', 'attachments'); it "
                  "returned %s",
                  fm->name, luaL_typename(L, base + 1));
        lua_settop(L, base);
        a->status = RL_ERR_RESULT;
        return 0;
    }
    size_t len;
    const char *s;
    if (t == LUA_TSTRING) {
        /* a plain text result is handed over as is */
        s = lua_tolstring(L, base + 1, &len);
        a->is_string = 1;
    } else {
        /* encode under the limits (user tables can be large); errors here are the rule's */
        e->cap_armed = 1;
        rl_json_encode(L, base + 1);
        e->cap_armed = 0;
        s = lua_tolstring(L, -1, &len);
        a->is_string = 0;
    }
    char *copy = (char *)realloc(e->out, len + 1);
    if (!copy) {
        lua_settop(L, base);
        sb_set_error(e, RL_ERR_MEMORY, fm->file, line, "out of memory");
        a->status = RL_ERR_MEMORY;
        return 0;
    }
    memcpy(copy, s, len);
    copy[len] = 0;
    e->out = copy;
    e->out_len = len;
    lua_settop(L, base);
    a->status = RL_OK;
    return 0;
}

/* Runs p_format; a Lua error raised by the JSON encoder (bad value in the result) becomes a result error. */
int rl_call_format(rl_engine *e, int format, int delivery, const char **json, size_t *json_len, int *is_string) {
    sb_clear_error(e);
    format_args a = {format, delivery, RL_OK, 0};
    lua_pushcfunction(e->L, p_format);
    lua_pushlightuserdata(e->L, &a);
    int rc = lua_pcall(e->L, 1, 0, 0);
    e->cap_armed = 0;
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(e->L, -1);
        if (e->tripped || rc == LUA_ERRMEM || e->mem_exceeded) {
            int status = e->tripped ? e->tripped : RL_ERR_MEMORY;
            char text[128];
            sb_set_error(e, status, e->formats[format].file, e->formats[format].line, "%s while encoding format '%s'",
                         sb_limit_message(e, status, text, sizeof text), e->formats[format].name);
        } else
            sb_set_error(e, RL_ERR_RESULT, e->formats[format].file, e->formats[format].line, "format '%s' returned a value that cannot be sent: %s",
                      e->formats[format].name, msg ? msg : "?");
        lua_pop(e->L, 1);
        return e->err_status;
    }
    if (a.status == RL_OK) {
        *json = e->out;
        *json_len = e->out_len;
        *is_string = a.is_string;
    }
    return a.status;
}

const char *rl_event_output(const rl_engine *e, size_t *len) {
    *len = e->output_len;
    return e->output;
}

void rl_event_end(rl_engine *e) {
    if (e->in_event) release_event(e);
    lua_sethook(e->L, NULL, 0, 0);
}
