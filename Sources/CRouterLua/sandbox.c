/*
 * The rule sandbox. See include/sandbox.h for the contract.
 *
 * Every entry point runs its Lua work inside lua_pcall of a small C function ("p_*"), so no Lua error ever
 * longjmps into Swift. Rule code itself runs in a nested lua_pcall with the message handler `msgh`, which
 * records the file and line of the first Lua frame that belongs to a rule file.
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

#define RL_MAX_FILES 256
#define RL_MAX_FORMATS 512
#define RL_HOOK_INTERVAL 1000
#define RL_OUTPUT_MAX 8192
#define RL_CHUNKNAME_MAX 512

typedef struct rl_file {
    char chunkname[RL_CHUNKNAME_MAX];
    int ref_chunk;            /* the compiled main chunk */
    int has_filter, has_route;
    int filter_line, route_line;
    int stateless;            /* its functions can keep nothing between events: the load-time instance is reused */
    int ref_filter, ref_route; /* its functions, when they can never change (else LUA_NOREF: looked up per call) */
} rl_file;

typedef struct rl_format {
    char name[128];
    int file;
    int line;
} rl_format;

typedef struct rl_mention_ref {
    const char *s;
    size_t len;
} rl_mention_ref;

struct rl_engine {
    lua_State *L;
    rl_limits limits;

    /* allocator */
    size_t mem_used;
    int cap_armed;
    int mem_exceeded;
    size_t mem_refused;       /* size of the last refused request */

    /* hook */
    long long instr_used;
    int hook_count;
    double deadline;
    int tripped;              /* RL_ERR_INSTRUCTIONS / RL_ERR_TIMEOUT once a limit is hit, sticky for the event */

    rl_file files[RL_MAX_FILES];
    int nfiles;
    rl_format formats[RL_MAX_FORMATS];
    int nformats;

    /* registry references */
    int ref_globals;          /* the locked globals table rule chunks see as _ENV */
    int ref_ctx_mt;           /* metatable of ctx's field table */
    int ref_msgh;

    /* current event (registry refs, LUA_NOREF outside an event) */
    int in_event;
    /* persistent: the read-only proxies f and ctx (reused every event: nothing can be stored on them), ctx's field
     * table, the per-event slots */
    int ref_f, ref_ctx, ref_ctx_fields, ref_fields, ref_inst, ref_anchor; /* ref_fields: the event's f.detail */
    /* file-level state of snapshotted files, restored before every event: nsnap tables, snap = {T1, S1, T2, S2, ...}
     * (a table and its load-time copy) with snap_n[i] the entry count of copy i; ncells upvalues, cells = {fn1, v1,
     * fn2, v2, ...} (a function and the load-time value of its upvalue number cell_up[i]) */
    int ref_snap, nsnap, ref_cells, ncells;
    int *snap_n, *cell_up;
    unsigned char inst_ready[RL_MAX_FILES]; /* file instantiated for the current event */
    int err_in_load;                        /* the last error came from running a file's main chunk */
    rl_value fval[RL_FIELD_COUNT];          /* the current finding's fields; strings point into fbuf */
    char *fbuf;
    size_t fbuf_cap;
    int has_detail;                         /* f.detail built (cached in the ref_fields slot) */
    /* f's values are kept in a plain table, f's __index (ref_fcache; ref_fkeys: field number + 1 -> name), so reading
     * a field is an ordinary table lookup in the VM. Bit i of fcache_set: field i (RL_FIELD_COUNT: detail) is in it.
     * fields_named: the fields some rule file names (found in the sources at load); fill_fcache writes those that are
     * numbers, booleans or short strings when an event starts (fcache_eager), f_fill the others on first read. */
    int ref_fcache, ref_fkeys;
    uint32_t fcache_set, fcache_eager, fields_named;
    int anchor_len;
    const rj_doc *doc;
    uint32_t detail_node;

    rl_delivery *deliveries;
    int ndeliveries;
    int cap_deliveries;
    rl_mention_ref *mentions;
    int nmentions, cap_mentions;
    int *mention_start;       /* per delivery */

    char *out;                /* format result JSON */
    size_t out_len;
    char output[RL_OUTPUT_MAX];
    size_t output_len;

    /* last error */
    int err_status;
    int err_line;
    int err_file;
    char err_msg[2048];
};

static const char *const field_names[RL_FIELD_COUNT] = {
    "id", "type", "purpose", "resource_kind", "family", "artifact", "severity", "severity_label", "title",
    "description", "account", "event_account", "region", "partition", "resource_type", "action_type", "count",
    "first_seen", "last_seen", "created_at", "updated_at", "archived", "sample", "console_url", "resource",
};

const char *rl_field_name(int field) {
    return (field >= 0 && field < RL_FIELD_COUNT) ? field_names[field] : NULL;
}

static rl_engine *engine_of(lua_State *L) { return *(rl_engine **)lua_getextraspace(L); }

lua_Integer rl_pattern_step_limit(lua_State *L) { return (lua_Integer)engine_of(L)->limits.pattern_steps; }

static double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- errors */

static void set_error(rl_engine *e, int status, int file, int line, const char *fmt, ...) {
    va_list ap;
    e->err_status = status;
    e->err_file = file;
    e->err_line = line;
    va_start(ap, fmt);
    vsnprintf(e->err_msg, sizeof e->err_msg, fmt, ap);
    va_end(ap);
}

static void clear_error(rl_engine *e) {
    e->err_status = RL_OK;
    e->err_file = -1;
    e->err_line = 0;
    e->err_msg[0] = 0;
    e->err_in_load = 0;
}

static int file_of_source(rl_engine *e, const char *source) {
    for (int i = 0; i < e->nfiles; i++)
        if (strcmp(e->files[i].chunkname, source) == 0) return i;
    return -1;
}

/* Message handler for rule code: converts the error value to a string, finds the innermost Lua frame of a rule
 * file, records its location and strips the "file:line: " prefix Lua added. Runs no user code (error values can
 * only be strings, numbers, booleans, nil or plain tables here: scripts have no setmetatable). */
static int msgh(lua_State *L) {
    rl_engine *e = engine_of(L);
    lua_Debug ar;
    const char *msg;
    size_t len;
    if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER) {
        msg = lua_tolstring(L, 1, &len);
    } else if (lua_isnil(L, 1)) {
        msg = lua_pushliteral(L, "error(nil) raised");
    } else {
        msg = luaL_tolstring(L, 1, &len);
    }
    e->err_line = 0;
    e->err_file = -1;
    for (int level = 0; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar)) continue;
        if (ar.currentline > 0 && ar.source && ar.source[0] == '@') {
            int file = file_of_source(e, ar.source);
            e->err_line = ar.currentline;
            e->err_file = file;
            /* strip "short_src:line: " */
            char prefix[RL_CHUNKNAME_MAX + 32];
            int n = snprintf(prefix, sizeof prefix, "%s:%d: ", ar.short_src, ar.currentline);
            if (n > 0 && strncmp(msg, prefix, (size_t)n) == 0) {
                lua_pushstring(L, msg + n);
                return 1;
            }
            break;
        }
    }
    lua_pushstring(L, msg);
    return 1;
}

/* ---------------------------------------------------------------- allocator and hook */

static void *rl_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    rl_engine *e = (rl_engine *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        e->mem_used -= old;
        return NULL;
    }
    if (e->cap_armed && nsize > old && e->mem_used + (nsize - old) > e->limits.memory_bytes) {
        /* Lua answers a refusal with an emergency full collection and asks again for the same size: only a refusal
         * that is not followed by that retry succeeding counts as exceeding the cap. */
        e->mem_exceeded = 1;
        e->mem_refused = nsize;
        return NULL;
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) return NULL;
    if (e->mem_exceeded && nsize == e->mem_refused) e->mem_exceeded = 0;
    e->mem_used = e->mem_used - old + nsize;
    return p;
}

static void rl_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    rl_engine *e = engine_of(L);
    if (!e->tripped) {
        e->instr_used += e->hook_count;
        if (e->instr_used > e->limits.instructions) {
            e->tripped = RL_ERR_INSTRUCTIONS;
        } else if (monotonic_seconds() > e->deadline) {
            e->tripped = RL_ERR_TIMEOUT;
        } else {
            return;
        }
        /* sticky: from now on every instruction raises, so a script's own pcall cannot swallow the limit */
        e->hook_count = 1;
        lua_sethook(L, rl_hook, LUA_MASKCOUNT, 1);
    }
    if (e->tripped == RL_ERR_INSTRUCTIONS)
        luaL_error(L, "instruction budget exceeded (%lld instructions per event)", e->limits.instructions);
    else
        luaL_error(L, "time limit exceeded (%d ms per event)", (int)(e->limits.wall_seconds * 1000 + 0.5));
}

static void arm(rl_engine *e) {
    e->cap_armed = 1;
    if (!e->tripped) {
        e->hook_count = RL_HOOK_INTERVAL;
        lua_sethook(e->L, rl_hook, LUA_MASKCOUNT, RL_HOOK_INTERVAL);
    }
}

static void disarm(rl_engine *e) { e->cap_armed = 0; }

static void reset_limits(rl_engine *e) {
    e->instr_used = 0;
    e->tripped = 0;
    e->mem_exceeded = 0;
    e->deadline = monotonic_seconds() + e->limits.wall_seconds;
    e->hook_count = RL_HOOK_INTERVAL;
    lua_sethook(e->L, rl_hook, LUA_MASKCOUNT, RL_HOOK_INTERVAL);
}

/* Calls the function below its nargs arguments on the stack with the message handler, limits armed.
 * Returns a rl_status; on error the message is recorded and nothing is left on the stack. */
static int call_rule(rl_engine *e, int nargs, int nresults, int file) {
    lua_State *L = e->L;
    int base = lua_gettop(L) - nargs; /* index of the function */
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_msgh);
    lua_insert(L, base);
    arm(e);
    int rc = lua_pcall(L, nargs, nresults, base);
    disarm(e);
    lua_remove(L, base);
    if (rc == LUA_OK && !e->tripped && !e->mem_exceeded) return RL_OK;
    int status;
    if (e->tripped) status = e->tripped;
    else if (e->mem_exceeded || rc == LUA_ERRMEM) status = RL_ERR_MEMORY;
    else status = RL_ERR_RUNTIME;
    const char *msg = NULL;
    if (rc != LUA_OK) msg = lua_tostring(L, -1);
    if (status == RL_ERR_INSTRUCTIONS) {
        set_error(e, status, e->err_file >= 0 ? e->err_file : file, e->err_line,
                  "instruction budget exceeded (%lld instructions per event)", e->limits.instructions);
    } else if (status == RL_ERR_TIMEOUT) {
        set_error(e, status, e->err_file >= 0 ? e->err_file : file, e->err_line,
                  "time limit exceeded (%d ms per event)", (int)(e->limits.wall_seconds * 1000 + 0.5));
    } else if (status == RL_ERR_MEMORY) {
        /* the message handler does not run for memory errors: no location */
        set_error(e, status, file, rc == LUA_ERRMEM ? 0 : e->err_line,
                  "memory limit exceeded (%zu MiB for the rule state)", e->limits.memory_bytes >> 20);
    } else {
        set_error(e, status, e->err_file >= 0 ? e->err_file : file, e->err_line, "%s", msg ? msg : "unknown error");
    }
    if (rc != LUA_OK) lua_pop(L, 1); /* results of a call that returned despite a tripped limit stay: callers settop */
    return status;
}

/* ---------------------------------------------------------------- sandbox library */

static int locked_newindex(lua_State *L) {
    return luaL_error(L, "attempt to modify a read-only table");
}

/* __index of the allow-listed base table: only reached for names it does not have. */
static int globals_missing(lua_State *L) {
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "undefined global '%s'", lua_tostring(L, 2));
    return luaL_error(L, "undefined global");
}

static int globals_newindex(lua_State *L) {
    if (lua_type(L, 2) == LUA_TSTRING)
        return luaL_error(L, "cannot assign global '%s': rule files must declare variables with 'local'",
                          lua_tostring(L, 2));
    return luaL_error(L, "cannot create globals in rule files");
}

/* Pushes a read-only proxy of the table at idx. */
static void push_locked_proxy(lua_State *L, int idx) {
    idx = lua_absindex(L, idx);
    lua_createtable(L, 0, 0);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, idx);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, locked_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

static int sandbox_print(lua_State *L) {
    rl_engine *e = engine_of(L);
    int n = lua_gettop(L);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s = luaL_tolstring(L, i, &len);
        if (i > 1 && e->output_len < RL_OUTPUT_MAX - 1) e->output[e->output_len++] = '\t';
        size_t room = RL_OUTPUT_MAX - 1 - e->output_len;
        if (len > room) len = room;
        memcpy(e->output + e->output_len, s, len);
        e->output_len += len;
        lua_pop(L, 1);
    }
    if (e->output_len < RL_OUTPUT_MAX - 1) e->output[e->output_len++] = '\n';
    e->output[e->output_len] = 0;
    return 0;
}

/* xpcall without running the handler as a message handler (which Lua runs with hooks off): the handler is
 * called as an ordinary function after the protected call failed, so the instruction budget still applies. */
static int sandbox_xpcall(lua_State *L) {
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushboolean(L, 1); /* n + 1: true, in front of the results */
    lua_pushvalue(L, 1);
    for (int i = 3; i <= n; i++) lua_pushvalue(L, i);
    if (lua_pcall(L, n - 2, LUA_MULTRET, 0) == LUA_OK) return lua_gettop(L) - n;
    /* stack: ... true err */
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    lua_pushboolean(L, 0);
    lua_insert(L, -2);
    return 2;
}

/* slack.escape(s): & < > as Slack entities, so finding text in custom formats cannot inject mentions or links. */
static int slack_escape(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    size_t i = 0;
    while (i < len && s[i] != '&' && s[i] != '<' && s[i] != '>') i++;
    if (i == len) {
        /* nothing to escape (the usual case): the argument itself (luaL_checklstring turned a number into a string
         * in place) */
        lua_settop(L, 1);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t run = 0; /* start of the bytes not yet copied */
    for (; i < len; i++) {
        const char *rep;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        default: continue;
        }
        luaL_addlstring(&b, s + run, i - run);
        luaL_addstring(&b, rep);
        run = i + 1;
    }
    luaL_addlstring(&b, s + run, len - run);
    luaL_pushresult(&b);
    return 1;
}

/* Copies the named fields of the table at src into the table at dst (raw). */
static void copy_fields(lua_State *L, int src, int dst, const char *const *names) {
    src = lua_absindex(L, src);
    dst = lua_absindex(L, dst);
    for (; *names; names++) {
        lua_getfield(L, src, *names);
        lua_setfield(L, dst, *names);
    }
}

static int open_sandbox(lua_State *L) {
    rl_engine *e = engine_of(L);
    static const char *const base_names[] = {"assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal",
                                             "rawget", "rawlen", "select", "tonumber", "tostring", "type",
                                             "getmetatable", "_VERSION", NULL};
    static const char *const os_names[] = {"time", "date", "clock", NULL};

    /* base table: what rule code may see */
    lua_createtable(L, 0, 32);
    int base = lua_gettop(L);

    luaL_requiref(L, "_G", luaopen_base, 0);
    copy_fields(L, -1, base, base_names);
    lua_pop(L, 1);
    lua_pushcfunction(L, sandbox_print);
    lua_setfield(L, base, "print");
    lua_pushcfunction(L, sandbox_xpcall);
    lua_setfield(L, base, "xpcall");

    /* string: guarded pattern functions, no dump; the string metatable is locked */
    luaL_requiref(L, "string", luaopen_string, 0);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pushcfunction(L, rl_str_find);
    lua_setfield(L, -2, "find");
    lua_pushcfunction(L, rl_str_match);
    lua_setfield(L, -2, "match");
    lua_pushcfunction(L, rl_str_gmatch);
    lua_setfield(L, -2, "gmatch");
    lua_pushcfunction(L, rl_str_gsub);
    lua_setfield(L, -2, "gsub");
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1)) {
        lua_pushliteral(L, "locked");
        lua_setfield(L, -2, "__metatable");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    push_locked_proxy(L, -1);
    lua_setfield(L, base, "string");
    lua_pop(L, 1);

    luaL_requiref(L, "table", luaopen_table, 0);
    push_locked_proxy(L, -1);
    lua_setfield(L, base, "table");
    lua_pop(L, 1);
    luaL_requiref(L, "math", luaopen_math, 0);
    push_locked_proxy(L, -1);
    lua_setfield(L, base, "math");
    lua_pop(L, 1);
    luaL_requiref(L, "utf8", luaopen_utf8, 0);
    push_locked_proxy(L, -1);
    lua_setfield(L, base, "utf8");
    lua_pop(L, 1);

    luaL_requiref(L, "os", luaopen_os, 0);
    lua_createtable(L, 0, 3);
    copy_fields(L, -2, -1, os_names);
    push_locked_proxy(L, -1);
    lua_setfield(L, base, "os");
    lua_pop(L, 2);

    rl_json_open(L); /* pushes the locked json table */
    lua_setfield(L, base, "json");

    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, slack_escape);
    lua_setfield(L, -2, "escape");
    push_locked_proxy(L, -1);
    lua_setfield(L, base, "slack");
    lua_pop(L, 1);

    /* the globals table chunks see: empty, reads fall through to base, writes raise */
    lua_createtable(L, 0, 0);
    int globals = lua_gettop(L);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, base); /* a table, not a function: a global read is a plain lookup in the VM */
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, globals_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, globals);
    lua_pushvalue(L, globals);
    lua_setfield(L, base, "_G");
    lua_pushvalue(L, globals);
    e->ref_globals = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_pushcfunction(L, msgh);
    e->ref_msgh = luaL_ref(L, LUA_REGISTRYINDEX);

    /* last, once base is complete: reading a name base does not have is an error (base itself is reachable only
     * through the locked globals' metatable) */
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, globals_missing);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, base);
    return 0;
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
    lua_pushcfunction(L, locked_newindex);
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

/* __index of f's cache table (argument 1): pushes a field the cache does not have and keeps it there for the rest of
 * the event (nil values are not kept). */
static int f_fill(lua_State *L) {
    rl_engine *e = engine_of(L);
    if (lua_type(L, 2) != LUA_TSTRING) return luaL_error(L, "f has no field of type %s", luaL_typename(L, 2));
    size_t n;
    const char *k = lua_tolstring(L, 2, &n);
    int i = n > 0 ? field_index(k, n) : -1;
    if (i < 0 && n == 6 && memcmp(k, "detail", 6) == 0) i = RL_FIELD_COUNT;
    if (i < 0) return luaL_error(L, "f has no field '%s'", k);
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
static void clear_fcache(rl_engine *e) {
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
static void fill_fcache(rl_engine *e) {
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

/* ---------------------------------------------------------------- engine */

static int p_open(lua_State *L) {
    rl_engine *e = engine_of(L);
    open_sandbox(L);
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
    lua_pushcfunction(L, locked_newindex);
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

    lua_createtable(L, RL_MAX_FILES, 0);
    e->ref_inst = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    e->ref_snap = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    e->ref_cells = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushboolean(L, 0);
    e->ref_fields = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, 8, 0); /* the event's anchored values, 1..anchor_len; emptied when the event ends */
    e->ref_anchor = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

rl_engine *rl_new(const rl_limits *limits) {
    for (int i = 0; i < RL_FIELD_COUNT; i++)
        if (strlen(field_names[i]) != field_len[i]) return NULL; /* the two tables disagree: a build mistake */
    rl_engine *e = (rl_engine *)calloc(1, sizeof *e);
    if (!e) return NULL;
    e->limits = *limits;
    if (e->limits.max_deliveries <= 0) e->limits.max_deliveries = 50;
    e->L = lua_newstate(rl_alloc, e);
    if (!e->L) {
        free(e);
        return NULL;
    }
    *(rl_engine **)lua_getextraspace(e->L) = e;
    clear_error(e);
    lua_pushcfunction(e->L, p_open);
    if (lua_pcall(e->L, 0, 0, 0) != LUA_OK) {
        lua_close(e->L);
        free(e);
        return NULL;
    }
    /* Incremental GC that waits for the heap to grow tenfold: the live heap is small (compiled rules, libraries) and
     * each event leaves little garbage, so collecting rarely is cheapest; the heap cap still forces a full
     * collection before an allocation is refused. */
    lua_gc(e->L, LUA_GCINC, 1000, 400, 0);
    e->cap_deliveries = e->limits.max_deliveries;
    e->deliveries = (rl_delivery *)calloc((size_t)e->cap_deliveries, sizeof(rl_delivery));
    e->mention_start = (int *)calloc((size_t)e->cap_deliveries, sizeof(int));
    e->cap_mentions = 64;
    e->mentions = (rl_mention_ref *)calloc((size_t)e->cap_mentions, sizeof(rl_mention_ref));
    if (!e->deliveries || !e->mention_start || !e->mentions) {
        rl_free(e);
        return NULL;
    }
    return e;
}

void rl_free(rl_engine *e) {
    if (!e) return;
    if (e->L) lua_close(e->L);
    free(e->deliveries);
    free(e->mention_start);
    free(e->mentions);
    free(e->out);
    free(e->fbuf);
    free(e->snap_n);
    free(e->cell_up);
    free(e);
}

size_t rl_memory_used(const rl_engine *e) { return e->mem_used; }
int rl_error_status(const rl_engine *e) { return e->err_status; }
int rl_error_line(const rl_engine *e) { return e->err_line; }
int rl_error_file(const rl_engine *e) { return e->err_file; }
int rl_error_in_load(const rl_engine *e) { return e->err_in_load; }
const char *rl_error_message(const rl_engine *e) { return e->err_msg; }
int rl_file_count(const rl_engine *e) { return e->nfiles; }
int rl_file_has_filter(const rl_engine *e, int f) { return e->files[f].has_filter; }
int rl_file_has_route(const rl_engine *e, int f) { return e->files[f].has_route; }
int rl_file_filter_line(const rl_engine *e, int f) { return e->files[f].filter_line; }
int rl_file_route_line(const rl_engine *e, int f) { return e->files[f].route_line; }
int rl_format_count(const rl_engine *e) { return e->nformats; }
const char *rl_format_name(const rl_engine *e, int k) { return e->formats[k].name; }
int rl_format_file(const rl_engine *e, int k) { return e->formats[k].file; }
int rl_format_line(const rl_engine *e, int k) { return e->formats[k].line; }

static int function_line(lua_State *L, int idx) {
    lua_Debug ar;
    lua_pushvalue(L, idx);
    if (lua_getinfo(L, ">S", &ar)) return ar.linedefined > 0 ? ar.linedefined : 0;
    return 0;
}

/* Checks the table at idx returned by file `file`'s chunk at load, fills the file's metadata and registers its
 * formats. Returns RL_OK or RL_ERR_RESULT with the error set. */
static int check_file_table(rl_engine *e, int idx, int file, const char *display) {
    lua_State *L = e->L;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE) {
        set_error(e, RL_ERR_RESULT, file, 0,
                  "%s must return a table with 'filter', 'route' and/or 'formats' (it returned %s)", display,
                  luaL_typename(L, idx));
        return RL_ERR_RESULT;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            set_error(e, RL_ERR_RESULT, file, 0,
                      "%s returned a table with a %s key (allowed keys: filter, route, formats)", display,
                      luaL_typename(L, -2));
            lua_pop(L, 2);
            return RL_ERR_RESULT;
        }
        const char *k = lua_tostring(L, -2);
        if (strcmp(k, "filter") == 0 || strcmp(k, "route") == 0) {
            if (lua_type(L, -1) != LUA_TFUNCTION) {
                set_error(e, RL_ERR_RESULT, file, 0, "'%s' must be a function, not %s", k, luaL_typename(L, -1));
                lua_pop(L, 2);
                return RL_ERR_RESULT;
            }
            {
                int line = function_line(L, -1);
                if (k[0] == 'f') {
                    e->files[file].has_filter = 1;
                    e->files[file].filter_line = line;
                } else {
                    e->files[file].has_route = 1;
                    e->files[file].route_line = line;
                }
            }
        } else if (strcmp(k, "formats") == 0) {
            if (lua_type(L, -1) != LUA_TTABLE) {
                set_error(e, RL_ERR_RESULT, file, 0, "'formats' must be a table of functions, not %s",
                          luaL_typename(L, -1));
                lua_pop(L, 2);
                return RL_ERR_RESULT;
            }
            int ft = lua_gettop(L);
            lua_pushnil(L);
            while (lua_next(L, ft)) {
                if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TFUNCTION) {
                    if (lua_type(L, -2) == LUA_TSTRING)
                        set_error(e, RL_ERR_RESULT, file, 0, "formats.%s must be a function, not %s",
                                  lua_tostring(L, -2), luaL_typename(L, -1));
                    else
                        set_error(e, RL_ERR_RESULT, file, 0, "'formats' keys must be names (strings), not %s",
                                  luaL_typename(L, -2));
                    lua_pop(L, 4);
                    return RL_ERR_RESULT;
                }
                {
                    size_t nlen;
                    const char *name = lua_tolstring(L, -2, &nlen);
                    if (nlen == 0 || nlen >= sizeof e->formats[0].name) {
                        set_error(e, RL_ERR_RESULT, file, function_line(L, -1),
                                  "format names must be 1 to %d characters", (int)sizeof e->formats[0].name - 1);
                        lua_pop(L, 4);
                        return RL_ERR_RESULT;
                    }
                    if (strcmp(name, "detailed") == 0 || strcmp(name, "compact") == 0) {
                        set_error(e, RL_ERR_RESULT, file, function_line(L, -1),
                                  "format '%s' is built in and cannot be redefined", name);
                        lua_pop(L, 4);
                        return RL_ERR_RESULT;
                    }
                    for (int i = 0; i < e->nformats; i++) {
                        if (strcmp(e->formats[i].name, name) == 0) {
                            set_error(e, RL_ERR_RESULT, file, function_line(L, -1),
                                      "format '%s' is already defined in %s", name,
                                      e->files[e->formats[i].file].chunkname + 1);
                            lua_pop(L, 4);
                            return RL_ERR_RESULT;
                        }
                    }
                    if (e->nformats >= RL_MAX_FORMATS) {
                        set_error(e, RL_ERR_RESULT, file, 0, "too many formats (at most %d)", RL_MAX_FORMATS);
                        lua_pop(L, 4);
                        return RL_ERR_RESULT;
                    }
                    rl_format *fm = &e->formats[e->nformats++];
                    memcpy(fm->name, name, nlen + 1);
                    fm->file = file;
                    fm->line = function_line(L, -1);
                }
                lua_pop(L, 1);
            }
        } else {
            set_error(e, RL_ERR_RESULT, file, 0, "%s returned a table with unknown key '%s' (allowed: filter, route, formats)",
                      display, k);
            lua_pop(L, 2);
            return RL_ERR_RESULT;
        }
        lua_pop(L, 1);
    }
    return RL_OK;
}

/* Whether the function at idx can keep state between calls: a Lua function whose only upvalue is _ENV bound to the
 * locked globals has nowhere to keep anything (C functions are not expected here). */
static int function_is_stateless(rl_engine *e, int idx) {
    lua_State *L = e->L;
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TFUNCTION || lua_iscfunction(L, idx)) return 0;
    for (int n = 1;; n++) {
        const char *name = lua_getupvalue(L, idx, n);
        if (!name) return 1;
        int ok = strcmp(name, "_ENV") == 0;
        if (ok) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_globals);
            ok = lua_rawequal(L, -1, -2);
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (!ok) return 0;
    }
}

/* A rule file whose table holds only such functions (filter, route, formats.*) keeps no state between events, so
 * its instance from load time is reused instead of running the file anew for every finding. Any other upvalue (a
 * local table, counter or helper function of the file) makes it run anew per event, which is what guarantees that
 * one finding never sees what a previous one left behind. */
static int is_stateless(rl_engine *e, int t) {
    lua_State *L = e->L;
    static const char *const keys[] = {"filter", "route"};
    for (int i = 0; i < 2; i++) {
        lua_pushstring(L, keys[i]);
        int type = lua_rawget(L, t);
        int ok = type == LUA_TNIL || function_is_stateless(e, -1);
        lua_pop(L, 1);
        if (!ok) return 0;
    }
    lua_pushliteral(L, "formats");
    if (lua_rawget(L, t) == LUA_TTABLE) {
        int ft = lua_gettop(L);
        lua_pushnil(L);
        while (lua_next(L, ft)) {
            int ok = function_is_stateless(e, -1);
            lua_pop(L, 1);
            if (!ok) {
                lua_pop(L, 2);
                return 0;
            }
        }
    }
    lua_pop(L, 1);
    return 1;
}

/* ---------------------------------------------------------------- file-level state: snapshot and restore
 *
 * Running a rule file anew for every finding is what keeps one finding from seeing what an earlier one left behind,
 * and it costs a few microseconds per file and event. A file whose functions reach, through their upvalues, only
 * plain values, functions, read-only engine objects and (nested) tables holding at most RL_SNAPSHOT_MAX_ENTRIES
 * entries in all is instead run once at load; what it can change between events, its upvalues and those tables, is
 * recorded then and put back before every event (only where something changed): the same guarantee, by restoring
 * rather than rebuilding. Scripts cannot set metatables, use `debug` or reach the registry, so upvalues and tables
 * reachable from them are the only state a file has. */

#define RL_SNAPSHOT_MAX_ENTRIES 512
#define RL_SNAPSHOT_MAX_DEPTH 32

typedef struct snap_walk {
    rl_engine *e;
    int visited;   /* stack index: object -> true */
    int tables;    /* stack index: array of tables to snapshot */
    int ntables;
    int cells;     /* stack index: array of fn, n triples (value added later) */
    int ncells;
    int entries;
} snap_walk;

/* An engine object that cannot be changed from Lua: a table whose metatable's __newindex is a C function
 * (the locked library proxies, f, ctx, json.null). */
static int is_readonly_object(lua_State *L, int idx) {
    if (!lua_getmetatable(L, idx)) return 0;
    lua_pushliteral(L, "__newindex");
    lua_rawget(L, -2);
    int ro = lua_iscfunction(L, -1);
    lua_pop(L, 2);
    return ro;
}

static int snap_visit(snap_walk *w, int idx, int depth) {
    lua_State *L = w->e->L;
    idx = lua_absindex(L, idx);
    int t = lua_type(L, idx);
    switch (t) {
    case LUA_TNIL: case LUA_TBOOLEAN: case LUA_TNUMBER: case LUA_TSTRING: case LUA_TLIGHTUSERDATA:
        return 1;
    case LUA_TFUNCTION: case LUA_TTABLE:
        break;
    default:
        return 0; /* full userdata, threads: unknown state */
    }
    if (depth > RL_SNAPSHOT_MAX_DEPTH) return 0;
    lua_pushvalue(L, idx);
    if (lua_rawget(L, w->visited) != LUA_TNIL) {
        lua_pop(L, 1);
        return 1;
    }
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, w->visited);
    if (t == LUA_TFUNCTION) {
        if (lua_iscfunction(L, idx)) return 1;
        for (int n = 1;; n++) {
            const char *name = lua_getupvalue(L, idx, n);
            if (!name) return 1;
            if (strcmp(name, "_ENV") == 0) {
                lua_rawgeti(L, LUA_REGISTRYINDEX, w->e->ref_globals);
                int locked = lua_rawequal(L, -1, -2);
                lua_pop(L, 2);
                if (locked) continue;
                return 0;
            }
            int ok = snap_visit(w, -1, depth + 1);
            lua_pop(L, 1);
            if (!ok) return 0;
            lua_pushvalue(L, idx);
            lua_rawseti(L, w->cells, ++w->ncells);
            lua_pushinteger(L, n);
            lua_rawseti(L, w->cells, ++w->ncells);
            w->ncells++; /* the value's slot, filled when recorded */
        }
    }
    /* a table */
    if (is_readonly_object(L, idx)) return 1;
    lua_pushvalue(L, idx);
    lua_rawseti(L, w->tables, ++w->ntables);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (++w->entries > RL_SNAPSHOT_MAX_ENTRIES || !snap_visit(w, -2, depth + 1) || !snap_visit(w, -1, depth + 1)) {
            lua_pop(L, 2);
            return 0;
        }
        lua_pop(L, 1);
    }
    return 1;
}

/* Copies every entry of the table at src into the (empty) table at dst; returns how many. */
static lua_Integer copy_entries(lua_State *L, int src, int dst) {
    src = lua_absindex(L, src);
    dst = lua_absindex(L, dst);
    lua_Integer n = 0;
    lua_pushnil(L);
    while (lua_next(L, src)) {
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_rawset(L, dst);
        n++;
    }
    return n;
}

/* Whether the file table at t can be reused with its state snapshotted; if so, records the snapshot. */
static int snapshot_file(rl_engine *e, int t, int *table_reachable) {
    lua_State *L = e->L;
    t = lua_absindex(L, t);
    int base = lua_gettop(L);
    lua_newtable(L);
    lua_newtable(L);
    lua_newtable(L);
    snap_walk w = {e, base + 1, base + 2, 0, base + 3, 0, 0};
    int ok = 1;
    static const char *const keys[] = {"filter", "route"};
    for (int i = 0; ok && i < 2; i++) {
        lua_pushstring(L, keys[i]);
        lua_rawget(L, t);
        ok = snap_visit(&w, -1, 0);
        lua_pop(L, 1);
    }
    lua_pushliteral(L, "formats");
    if (ok && lua_rawget(L, t) == LUA_TTABLE) {
        int ft = lua_gettop(L);
        lua_pushnil(L);
        while (ok && lua_next(L, ft)) {
            ok = snap_visit(&w, -1, 0);
            lua_pop(L, 1);
        }
        if (!ok) lua_pop(L, 1); /* the key left by an interrupted traversal */
    }
    lua_pop(L, 1);
    if (!ok) {
        lua_settop(L, base);
        return 0;
    }
    /* record: each table with a copy, each upvalue with its value now */
    int *snap_n = (int *)realloc(e->snap_n, sizeof(int) * (size_t)(e->nsnap + w.ntables + 1));
    if (snap_n) e->snap_n = snap_n;
    int *cell_up = (int *)realloc(e->cell_up, sizeof(int) * (size_t)(e->ncells + w.ncells / 3 + 1));
    if (cell_up) e->cell_up = cell_up;
    if (!snap_n || !cell_up) {
        lua_settop(L, base);
        return 0; /* not snapshotted: the file runs anew per event */
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_snap);
    int snap = lua_gettop(L);
    for (int i = 1; i <= w.ntables; i++) {
        lua_rawgeti(L, w.tables, i);
        lua_newtable(L);
        e->snap_n[e->nsnap] = (int)copy_entries(L, -2, -1);
        lua_rawseti(L, snap, 2 * e->nsnap + 2);
        lua_rawseti(L, snap, 2 * e->nsnap + 1);
        e->nsnap++;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_cells);
    int cells = lua_gettop(L);
    for (int i = 1; i + 2 <= w.ncells; i += 3) {
        lua_rawgeti(L, w.cells, i);
        lua_rawgeti(L, w.cells, i + 1);
        int n = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        lua_getupvalue(L, -1, n);
        lua_rawseti(L, cells, 2 * e->ncells + 2);
        lua_rawseti(L, cells, 2 * e->ncells + 1);
        e->cell_up[e->ncells] = n;
        e->ncells++;
    }
    lua_pushvalue(L, t);
    *table_reachable = lua_rawget(L, w.visited) != LUA_TNIL;
    lua_settop(L, base);
    return 1;
}

/* Whether table t holds exactly the n entries of its snapshot s: one traversal of t, a lookup in s per entry. */
static int same_entries(lua_State *L, int t, int s, lua_Integer n) {
    lua_Integer count = 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (++count > n) {
            lua_pop(L, 2);
            return 0;
        }
        lua_pushvalue(L, -2);
        lua_rawget(L, s);
        int same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
        if (!same) {
            lua_pop(L, 1);
            return 0;
        }
    }
    return count == n;
}

/* Puts every snapshotted table and upvalue back as it was at load (only what an event changed is written). */
static void restore_snapshots(rl_engine *e) {
    if (e->nsnap == 0 && e->ncells == 0) return;
    lua_State *L = e->L;
    int base = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_snap);
    int snap = lua_gettop(L);
    for (int i = 0; i < e->nsnap; i++) {
        lua_rawgeti(L, snap, 2 * i + 1);
        lua_rawgeti(L, snap, 2 * i + 2);
        int t = lua_gettop(L) - 1, s = t + 1;
        if (!same_entries(L, t, s, e->snap_n[i])) {
            /* clear (assigning nil to existing fields during a traversal is allowed), then copy back */
            lua_pushnil(L);
            while (lua_next(L, t)) {
                lua_pop(L, 1);
                lua_pushvalue(L, -1);
                lua_pushnil(L);
                lua_rawset(L, t);
            }
            copy_entries(L, s, t);
        }
        lua_pop(L, 2);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_cells);
    int cells = lua_gettop(L);
    for (int i = 0; i < e->ncells; i++) {
        int n = e->cell_up[i];
        lua_rawgeti(L, cells, 2 * i + 1);
        lua_getupvalue(L, -1, n);
        lua_rawgeti(L, cells, 2 * i + 2);
        if (!lua_rawequal(L, -1, -2)) lua_setupvalue(L, -3, n);
        else lua_pop(L, 1);
        lua_pop(L, 2);
    }
    lua_settop(L, base);
}

/* Runs host code `fn(args)` in protected mode. Rule code inside it runs in its own nested protected call, so an
 * error reaching here can only be the host running out of memory: it is recorded against `file` and RL_ERR_MEMORY
 * returned; otherwise RL_OK (the callee reports its own status through `args`). */
static int run_protected(rl_engine *e, lua_CFunction fn, void *args, int file, const char *what) {
    lua_pushcfunction(e->L, fn);
    lua_pushlightuserdata(e->L, args);
    int rc = lua_pcall(e->L, 1, 0, 0);
    e->cap_armed = 0;
    if (rc == LUA_OK) return RL_OK;
    lua_pop(e->L, 1);
    set_error(e, RL_ERR_MEMORY, file, 0, "out of memory %s", what);
    return RL_ERR_MEMORY;
}

typedef struct load_args {
    const char *chunkname;
    const char *source;
    size_t len;
    int status;
} load_args;

/* The view's fields whose names appear as whole words in a rule file's source (comments included: a guess that
 * only decides what is read ahead, never what a rule sees). */
static uint32_t named_fields(const char *src, size_t len) {
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

static int p_load(lua_State *L) {
    load_args *a = (load_args *)lua_touserdata(L, 1);
    rl_engine *e = engine_of(L);
    int file = e->nfiles;
    const char *display = a->chunkname[0] == '@' ? a->chunkname + 1 : a->chunkname;
    if (file >= RL_MAX_FILES) {
        set_error(e, RL_ERR_RESULT, -1, 0, "too many rule files (at most %d)", RL_MAX_FILES);
        a->status = RL_ERR_RESULT;
        return 0;
    }
    e->fields_named |= named_fields(a->source, a->len);
    e->cap_armed = 1;
    int rc = luaL_loadbufferx(L, a->source, a->len, a->chunkname, "t");
    e->cap_armed = 0;
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        int line = 0;
        /* "rules/x.lua:3: message" (long paths are shortened by Lua to "...tail.lua:3: message") */
        const char *colon = NULL;
        size_t dl = strlen(display);
        if (msg && strncmp(msg, display, dl) == 0 && msg[dl] == ':') colon = msg + dl;
        else if (msg && strncmp(msg, "...", 3) == 0) colon = strstr(msg, ".lua:") ? strstr(msg, ".lua:") + 4 : NULL;
        if (colon) {
            char *end;
            long l = strtol(colon + 1, &end, 10);
            if (end != colon + 1 && *end == ':') {
                line = (int)l;
                msg = end + 1;
                while (*msg == ' ') msg++;
            }
        }
        set_error(e, rc == LUA_ERRMEM ? RL_ERR_MEMORY : RL_ERR_SYNTAX, file, line, "%s", msg ? msg : "cannot load");
        a->status = e->err_status;
        return 0;
    }
    /* _ENV = locked globals */
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_globals);
    lua_setupvalue(L, -2, 1);
    /* register the file before running it so errors map to it */
    rl_file *rf = &e->files[file];
    memset(rf, 0, sizeof *rf);
    snprintf(rf->chunkname, sizeof rf->chunkname, "%s", a->chunkname);
    lua_pushvalue(L, -1);
    rf->ref_chunk = luaL_ref(L, LUA_REGISTRYINDEX);
    e->nfiles++;
    reset_limits(e);
    int st = call_rule(e, 0, 1, file);
    if (st != RL_OK) {
        a->status = st;
        e->nfiles--;
        luaL_unref(L, LUA_REGISTRYINDEX, rf->ref_chunk);
        return 0;
    }
    int nformats = e->nformats;
    st = check_file_table(e, -1, file, display);
    if (st != RL_OK) {
        e->nformats = nformats;
        e->nfiles--;
        luaL_unref(L, LUA_REGISTRYINDEX, rf->ref_chunk);
        a->status = st;
        return 0;
    }
    rf->stateless = is_stateless(e, lua_gettop(L));
    int table_reachable = 0;
    if (!rf->stateless && snapshot_file(e, lua_gettop(L), &table_reachable)) rf->stateless = 1;
    rf->ref_filter = rf->ref_route = LUA_NOREF;
    if (rf->stateless) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref_inst);
        lua_pushvalue(L, -2);
        lua_rawseti(L, -2, file + 1);
        lua_pop(L, 1);
        /* no rule code can reach the file's table (nothing keeps it but the engine): its functions never change,
         * so they are kept where a call finds them with one lookup */
        if (!table_reachable) {
            if (lua_getfield(L, -1, "filter") == LUA_TFUNCTION) rf->ref_filter = luaL_ref(L, LUA_REGISTRYINDEX);
            else lua_pop(L, 1);
            if (lua_getfield(L, -1, "route") == LUA_TFUNCTION) rf->ref_route = luaL_ref(L, LUA_REGISTRYINDEX);
            else lua_pop(L, 1);
        }
    }
    a->status = st;
    return 0;
}

int rl_load(rl_engine *e, const char *chunkname, const char *source, size_t len) {
    load_args a = {chunkname, source, len, RL_OK};
    clear_error(e);
    if (run_protected(e, p_load, &a, -1, "while loading a rule file") != RL_OK) return RL_ERR_MEMORY;
    lua_gc(e->L, LUA_GCCOLLECT);
    return a.status;
}

/* ---------------------------------------------------------------- events */

typedef struct begin_args {
    double now;
    const char *mode;
    int status;
} begin_args;

static void push_value(lua_State *L, const rl_value *v) {
    switch (v->kind) {
    case RL_V_STRING: lua_pushlstring(L, v->s, v->len); break;
    case RL_V_NUMBER: lua_pushnumber(L, v->number); break;
    case RL_V_INTEGER: lua_pushinteger(L, (lua_Integer)v->integer); break;
    case RL_V_BOOLEAN: lua_pushboolean(L, v->integer != 0); break;
    default: lua_pushnil(L); break;
    }
}

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
    restore_snapshots(e);
    fill_fcache(e);
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
    int st = call_rule(e, 0, 1, file);
    if (st != RL_OK) {
        lua_settop(L, top);
        e->err_in_load = 1;
        return st;
    }
    if (lua_type(L, -1) != LUA_TTABLE) {
        set_error(e, RL_ERR_RESULT, file, 0, "%s returned %s instead of its table for this event",
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
    clear_fcache(e);
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
}

char *rl_event_prepare(rl_engine *e, size_t string_bytes, rl_value **fields) {
    if (e->in_event) release_event(e);
    if (string_bytes + 1 > e->fbuf_cap) {
        size_t cap = string_bytes + string_bytes / 2 + 256;
        char *nb = (char *)realloc(e->fbuf, cap);
        if (!nb) {
            clear_error(e);
            set_error(e, RL_ERR_MEMORY, -1, 0, "out of memory while preparing the event");
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
    clear_error(e);
    e->in_event = 1;
    e->doc = doc;
    e->detail_node = detail_node;
    e->output_len = 0;
    e->output[0] = 0;
    e->ndeliveries = 0;
    e->nmentions = 0;
    reset_limits(e);
    /* rule files are instantiated anew, on first use, for this event (ensure_instance) */
    for (int i = 0; i < e->nfiles; i++) e->inst_ready[i] = (unsigned char)e->files[i].stateless;
    begin_args a = {now, mode, RL_OK};
    if (run_protected(e, p_begin, &a, -1, "while preparing the event") != RL_OK) return RL_ERR_MEMORY;
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
        set_error(e, RL_ERR_RESULT, file, 0, "the file's table has no '%s' function for this event", key);
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
    int st = call_rule(e, 2, LUA_MULTRET, a->file);
    if (st != RL_OK) {
        lua_settop(L, base);
        a->status = st;
        return 0;
    }
    int n = lua_gettop(L) - base;
    if (n == 0 || lua_type(L, base + 1) != LUA_TBOOLEAN) {
        set_error(e, RL_ERR_RESULT, a->file, line,
                  "filter must return a boolean (true keeps the finding, false drops it), optionally followed by a "
                  "reason string; it returned %s",
                  n == 0 ? "nothing" : luaL_typename(L, base + 1));
        lua_settop(L, base);
        a->status = RL_ERR_RESULT;
        return 0;
    }
    a->keep = lua_toboolean(L, base + 1);
    a->reason = NULL;
    if (n >= 2 && !lua_isnil(L, base + 2)) {
        if (lua_type(L, base + 2) != LUA_TSTRING) {
            set_error(e, RL_ERR_RESULT, a->file, line, "filter's second return value (the reason) must be a string, not %s",
                      luaL_typename(L, base + 2));
            lua_settop(L, base);
            a->status = RL_ERR_RESULT;
            return 0;
        }
        anchor(e, base + 2);
        a->reason = lua_tolstring(L, base + 2, &a->reason_len);
    }
    lua_settop(L, base);
    a->status = RL_OK;
    return 0;
}

int rl_call_filter(rl_engine *e, int file, int *keep, const char **reason, size_t *reason_len) {
    clear_error(e);
    filter_args a = {file, 1, NULL, 0, RL_OK};
    if (run_protected(e, p_filter, &a, file, "in a filter call") != RL_OK) return RL_ERR_MEMORY;
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

/* Reads the delivery table at idx into e->deliveries. Returns RL_OK or RL_ERR_RESULT with the error set. */
static int read_delivery(rl_engine *e, int idx, int file, int line, int position) {
    lua_State *L = e->L;
    idx = lua_absindex(L, idx);
    /* "delivery" or "delivery #n", written only for an error message */
    char where[48] = "delivery";
#define RL_WHERE() (position > 0 ? (snprintf(where, sizeof where, "delivery #%d", position), where) : where)
    if (lua_type(L, idx) != LUA_TTABLE) {
        set_error(e, RL_ERR_RESULT, file, line, "route returned an array whose element %d is %s, not a delivery table",
                  position, luaL_typename(L, idx));
        return RL_ERR_RESULT;
    }
    if (e->ndeliveries >= e->limits.max_deliveries) {
        set_error(e, RL_ERR_RESULT, file, line, "too many deliveries for one finding (at most %d)",
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
            set_error(e, RL_ERR_RESULT, file, line,
                      "%s has a %s key; allowed keys: channel, mention, format, to, continue, on_update", RL_WHERE(),
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
            set_error(e, RL_ERR_RESULT, file, line,
                      "%s has unknown key '%s'; allowed keys: channel, mention, format, to, continue, on_update", RL_WHERE(), k);
            lua_pop(L, 2);
            e->nmentions = first_mention;
            return RL_ERR_RESULT;
        }
        if (want) {
            set_error(e, RL_ERR_RESULT, file, line, "%s: '%s' must be %s, not %s", RL_WHERE(), k, want,
                      luaL_typename(L, -1));
            lua_pop(L, 2);
            e->nmentions = first_mention;
            return RL_ERR_RESULT;
        }
        lua_pop(L, 1);
    }
    if (!d.channel && !d.to) {
        set_error(e, RL_ERR_RESULT, file, line, "%s needs a 'channel' (or a 'to' destination)", RL_WHERE());
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
    int st = call_rule(e, 2, 1, a->file);
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
        set_error(e, RL_ERR_RESULT, a->file, line,
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
                set_error(e, RL_ERR_RESULT, a->file, line,
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
    clear_error(e);
    route_args a = {file, 0, RL_OK};
    if (run_protected(e, p_route, &a, file, "in a route call") != RL_OK) {
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
        set_error(e, RL_ERR_RESULT, fm->file, 0, "the file's table has no 'formats' table for this event");
        a->status = RL_ERR_RESULT;
        return 0;
    }
    lua_pushstring(L, fm->name);
    if (lua_rawget(L, -2) != LUA_TFUNCTION) {
        lua_pop(L, 2);
        set_error(e, RL_ERR_RESULT, fm->file, fm->line, "formats.%s is not a function for this event", fm->name);
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
    }
    int base = lua_gettop(L) - 4;
    int st = call_rule(e, 3, 1, fm->file);
    if (st != RL_OK) {
        lua_settop(L, base);
        a->status = st;
        return 0;
    }
    int t = lua_type(L, base + 1);
    if (t != LUA_TSTRING && t != LUA_TTABLE) {
        set_error(e, RL_ERR_RESULT, fm->file, line,
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
        /* encode under the cap (user tables can be large); errors here are the rule's */
        luaL_Buffer b;
        e->cap_armed = 1;
        luaL_buffinit(L, &b);
        rl_json_encode(L, base + 1, &b);
        luaL_pushresult(&b);
        e->cap_armed = 0;
        s = lua_tolstring(L, -1, &len);
        a->is_string = 0;
    }
    char *copy = (char *)realloc(e->out, len + 1);
    if (!copy) {
        lua_settop(L, base);
        set_error(e, RL_ERR_MEMORY, fm->file, line, "out of memory");
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
    clear_error(e);
    format_args a = {format, delivery, RL_OK, 0};
    lua_pushcfunction(e->L, p_format);
    lua_pushlightuserdata(e->L, &a);
    int rc = lua_pcall(e->L, 1, 0, 0);
    e->cap_armed = 0;
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(e->L, -1);
        if (rc == LUA_ERRMEM || e->mem_exceeded)
            set_error(e, RL_ERR_MEMORY, e->formats[format].file, 0, "memory limit exceeded while encoding format '%s'",
                      e->formats[format].name);
        else
            set_error(e, RL_ERR_RESULT, e->formats[format].file, e->formats[format].line, "format '%s' returned a value that cannot be sent: %s",
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
