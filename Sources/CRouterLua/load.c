/*
 * Loading a rule file: compiling it as text, running its main chunk once and checking the table it returns.
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
        sb_set_error(e, RL_ERR_RESULT, file, 0,
                  "%s must return a table with 'filter', 'route', 'permit' and/or 'formats' (it returned %s)", display,
                  luaL_typename(L, idx));
        return RL_ERR_RESULT;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            sb_set_error(e, RL_ERR_RESULT, file, 0,
                      "%s returned a table with a %s key (allowed keys: filter, route, permit, formats)", display,
                      luaL_typename(L, -2));
            lua_pop(L, 2);
            return RL_ERR_RESULT;
        }
        const char *k = lua_tostring(L, -2);
        if (strcmp(k, "filter") == 0 || strcmp(k, "route") == 0 || strcmp(k, "permit") == 0) {
            if (lua_type(L, -1) != LUA_TFUNCTION) {
                sb_set_error(e, RL_ERR_RESULT, file, 0, "'%s' must be a function, not %s", k, luaL_typename(L, -1));
                lua_pop(L, 2);
                return RL_ERR_RESULT;
            }
            {
                int line = function_line(L, -1);
                if (k[0] == 'f') {
                    e->files[file].has_filter = 1;
                    e->files[file].filter_line = line;
                } else if (k[0] == 'p') {
                    e->files[file].has_permit = 1;
                    e->files[file].permit_line = line;
                } else {
                    e->files[file].has_route = 1;
                    e->files[file].route_line = line;
                }
            }
        } else if (strcmp(k, "formats") == 0) {
            if (lua_type(L, -1) != LUA_TTABLE) {
                sb_set_error(e, RL_ERR_RESULT, file, 0, "'formats' must be a table of functions, not %s",
                          luaL_typename(L, -1));
                lua_pop(L, 2);
                return RL_ERR_RESULT;
            }
            int ft = lua_gettop(L);
            lua_pushnil(L);
            while (lua_next(L, ft)) {
                if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TFUNCTION) {
                    if (lua_type(L, -2) == LUA_TSTRING)
                        sb_set_error(e, RL_ERR_RESULT, file, 0, "formats.%s must be a function, not %s",
                                  lua_tostring(L, -2), luaL_typename(L, -1));
                    else
                        sb_set_error(e, RL_ERR_RESULT, file, 0, "'formats' keys must be names (strings), not %s",
                                  luaL_typename(L, -2));
                    lua_pop(L, 4);
                    return RL_ERR_RESULT;
                }
                {
                    size_t nlen;
                    const char *name = lua_tolstring(L, -2, &nlen);
                    if (nlen == 0 || nlen >= sizeof e->formats[0].name) {
                        sb_set_error(e, RL_ERR_RESULT, file, function_line(L, -1),
                                  "format names must be 1 to %d characters", (int)sizeof e->formats[0].name - 1);
                        lua_pop(L, 4);
                        return RL_ERR_RESULT;
                    }
                    if (strcmp(name, "detailed") == 0 || strcmp(name, "compact") == 0) {
                        sb_set_error(e, RL_ERR_RESULT, file, function_line(L, -1),
                                  "format '%s' is built in and cannot be redefined", name);
                        lua_pop(L, 4);
                        return RL_ERR_RESULT;
                    }
                    for (int i = 0; i < e->nformats; i++) {
                        if (strcmp(e->formats[i].name, name) == 0) {
                            sb_set_error(e, RL_ERR_RESULT, file, function_line(L, -1),
                                      "format '%s' is already defined in %s", name,
                                      e->files[e->formats[i].file].chunkname + 1);
                            lua_pop(L, 4);
                            return RL_ERR_RESULT;
                        }
                    }
                    if (e->nformats >= RL_MAX_FORMATS) {
                        sb_set_error(e, RL_ERR_RESULT, file, 0, "too many formats (at most %d)", RL_MAX_FORMATS);
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
            sb_set_error(e, RL_ERR_RESULT, file, 0, "%s returned a table with unknown key '%s' (allowed: filter, route, permit, formats)",
                      display, k);
            lua_pop(L, 2);
            return RL_ERR_RESULT;
        }
        lua_pop(L, 1);
    }
    return RL_OK;
}

typedef struct load_args {
    const char *chunkname;
    const char *source;
    size_t len;
    int status;
} load_args;

static int p_load(lua_State *L) {
    load_args *a = (load_args *)lua_touserdata(L, 1);
    rl_engine *e = engine_of(L);
    int file = e->nfiles;
    const char *display = a->chunkname[0] == '@' ? a->chunkname + 1 : a->chunkname;
    if (file >= RL_MAX_FILES) {
        sb_set_error(e, RL_ERR_RESULT, -1, 0, "too many rule files (at most %d)", RL_MAX_FILES);
        a->status = RL_ERR_RESULT;
        return 0;
    }
    e->fields_named |= sb_named_fields(a->source, a->len);
    sb_reset_limits(e); /* compiling and running the file's main chunk happen under the limits of one event */
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
        sb_set_error(e, rc == LUA_ERRMEM ? RL_ERR_MEMORY : RL_ERR_SYNTAX, file, line, "%s", msg ? msg : "cannot load");
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
    int st = sb_call_rule(e, 0, 1, file);
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
    rf->stateless = sb_is_stateless(e, lua_gettop(L));
    int table_reachable = 0;
    if (!rf->stateless && sb_snapshot_file(e, lua_gettop(L), &table_reachable)) rf->stateless = 1;
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
    sb_clear_error(e);
    e->loading = 1;
    int rc = sb_run_protected(e, p_load, &a, -1, "while loading a rule file");
    e->loading = 0;
    if (rc != RL_OK) return RL_ERR_MEMORY;
    lua_gc(e->L, LUA_GCCOLLECT);
    return a.status;
}
