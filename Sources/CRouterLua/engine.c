/*
 * The engine: creating and freeing it, its accessors, errors and the message handler that locates them, and
 * protected calls of host code. See include/sandbox.h for the contract and sandbox_internal.h for the map of files.
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

/* ---------------------------------------------------------------- errors */

void sb_set_error(rl_engine *e, int status, int file, int line, const char *fmt, ...) {
    va_list ap;
    e->err_status = status;
    e->err_file = file;
    e->err_line = line;
    va_start(ap, fmt);
    vsnprintf(e->err_msg, sizeof e->err_msg, fmt, ap);
    va_end(ap);
}

void sb_clear_error(rl_engine *e) {
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
int sb_msgh(lua_State *L) {
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

/* Runs host code `fn(args)` in protected mode. Rule code inside it runs in its own nested protected call, so an
 * error reaching here can only be the host running out of memory: it is recorded against `file` and RL_ERR_MEMORY
 * returned; otherwise RL_OK (the callee reports its own status through `args`). */
int sb_run_protected(rl_engine *e, lua_CFunction fn, void *args, int file, const char *what) {
    lua_pushcfunction(e->L, fn);
    lua_pushlightuserdata(e->L, args);
    int rc = lua_pcall(e->L, 1, 0, 0);
    e->cap_armed = 0;
    if (rc == LUA_OK) return RL_OK;
    lua_pop(e->L, 1);
    sb_set_error(e, RL_ERR_MEMORY, file, 0, "out of memory %s", what);
    return RL_ERR_MEMORY;
}

/* ---------------------------------------------------------------- engine */

static int p_open(lua_State *L) {
    rl_engine *e = engine_of(L);
    sb_open_globals(L);
    sb_open_view(L, e);

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
    if (!sb_fields_consistent()) return NULL; /* the view's two field tables disagree: a build mistake */
    rl_engine *e = (rl_engine *)calloc(1, sizeof *e);
    if (!e) return NULL;
    e->limits = *limits;
    if (e->limits.max_deliveries <= 0) e->limits.max_deliveries = 50;
    e->L = lua_newstate(sb_alloc, e);
    if (!e->L) {
        free(e);
        return NULL;
    }
    *(rl_engine **)lua_getextraspace(e->L) = e;
    sb_clear_error(e);
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
int rl_file_has_permit(const rl_engine *e, int f) { return e->files[f].has_permit; }
int rl_file_permit_line(const rl_engine *e, int f) { return e->files[f].permit_line; }
int rl_format_count(const rl_engine *e) { return e->nformats; }
const char *rl_format_name(const rl_engine *e, int k) { return e->formats[k].name; }
int rl_format_file(const rl_engine *e, int k) { return e->formats[k].file; }
int rl_format_line(const rl_engine *e, int k) { return e->formats[k].line; }
