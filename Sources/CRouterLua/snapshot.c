/*
 * Whether a rule file can keep state between events, and the snapshot that puts that state back before each one.
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

/* A rule file whose table holds only such functions (filter, route, permit, formats.*) keeps no state between events, so
 * its instance from load time is reused instead of running the file anew for every finding. Any other upvalue (a
 * local table, counter or helper function of the file) makes it run anew per event, which is what guarantees that
 * one finding never sees what a previous one left behind. */
int sb_is_stateless(rl_engine *e, int t) {
    lua_State *L = e->L;
    static const char *const keys[] = {"filter", "route", "permit"};
    for (int i = 0; i < 3; i++) {
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
int sb_snapshot_file(rl_engine *e, int t, int *table_reachable) {
    lua_State *L = e->L;
    t = lua_absindex(L, t);
    int base = lua_gettop(L);
    lua_newtable(L);
    lua_newtable(L);
    lua_newtable(L);
    snap_walk w = {e, base + 1, base + 2, 0, base + 3, 0, 0};
    int ok = 1;
    static const char *const keys[] = {"filter", "route", "permit"};
    for (int i = 0; ok && i < 3; i++) {
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
void sb_restore_snapshots(rl_engine *e) {
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
