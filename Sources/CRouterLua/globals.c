/*
 * The locked globals rule code sees: the allow-listed base library, read-only library proxies, print, xpcall and
 * slack.escape.
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

/* ---------------------------------------------------------------- sandbox library */

int sb_locked_newindex(lua_State *L) {
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
    lua_pushcfunction(L, sb_locked_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

static int sandbox_print(lua_State *L) {
    rl_engine *e = engine_of(L);
    int n = lua_gettop(L);
    rl_work_ahead(L, (long long)n * 20);
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
    rl_work_ahead(L, (long long)len); /* a pass over the bytes (two when there is something to escape) */
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

int sb_open_globals(lua_State *L) {
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
    sb_bound_base(L, base);
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
    sb_bound_string(L, -1);
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
    sb_bound_table(L, -1);
    push_locked_proxy(L, -1);
    lua_setfield(L, base, "table");
    lua_pop(L, 1);
    luaL_requiref(L, "math", luaopen_math, 0);
    push_locked_proxy(L, -1);
    lua_setfield(L, base, "math");
    lua_pop(L, 1);
    luaL_requiref(L, "utf8", luaopen_utf8, 0);
    sb_bound_utf8(L, -1);
    push_locked_proxy(L, -1);
    lua_setfield(L, base, "utf8");
    lua_pop(L, 1);

    luaL_requiref(L, "os", luaopen_os, 0);
    lua_createtable(L, 0, 3);
    copy_fields(L, -2, -1, os_names);
    sb_bound_os(L, -1);
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

    lua_pushcfunction(L, sb_msgh);
    e->ref_msgh = luaL_ref(L, LUA_REGISTRYINDEX);

    /* last, once base is complete: reading a name base does not have is an error (base itself is reachable only
     * through the locked globals' metatable) */
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, globals_missing);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, base);
    return 0;
}
