/*
 * Fuzz target, differential: the sandbox's step-bounded pattern matcher (pattern_guard.c) against Lua's own
 * (Debian's liblua5.4). For the same subject, pattern and arguments, string.find / match / gmatch / gsub return the
 * same values in both, or the guard refuses with its "pattern too complex" error (then Lua's own is not run: that
 * input is what the guard exists for), or both raise the same error.
 *
 * Input: byte 0 chooses the function and its options, byte 1 the start position (-8..7), byte 2 the pattern's
 * length, then the pattern, then the subject.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "sandbox.h"
#include "sandbox_internal.h"

static rl_engine *engine;
static lua_State *plain;
static lua_CFunction lua_find, lua_match, lua_gmatch, lua_gsub;

#define CHECK(cond, ...)                                                                                             \
    do {                                                                                                             \
        if (!(cond)) {                                                                                               \
            fprintf(stderr, "pattern fuzz: " __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                                   \
            abort();                                                                                                 \
        }                                                                                                            \
    } while (0)

static const char *const replacements[] = {"x", "%0", "%1", "%%", "<%0>", ""};

/* Calls fn(subject, pattern, init[, repl]) in L; pushes the results (or the error) and returns the status and count.
 * For gmatch: up to 64 iterations, every capture of each pushed. */
static int run(lua_State *L, lua_CFunction fn, int op, const char *s, size_t sl, const char *p, size_t pl,
               lua_Integer init, int plain_find, const char *repl, int *nresults) {
    int base = lua_gettop(L);
    int rc;
    if (op == 2) {
        lua_pushcfunction(L, fn);
        lua_pushlstring(L, s, sl);
        lua_pushlstring(L, p, pl);
        lua_pushinteger(L, init);
        rc = lua_pcall(L, 3, 1, 0);
        if (rc == LUA_OK) {
            int iterator = lua_gettop(L);
            for (int k = 0; k < 64; k++) {
                int top = lua_gettop(L);
                lua_pushvalue(L, iterator);
                rc = lua_pcall(L, 0, LUA_MULTRET, 0);
                if (rc != LUA_OK) break;
                if (lua_gettop(L) == top || lua_isnil(L, top + 1)) {
                    lua_settop(L, top);
                    break;
                }
            }
            lua_remove(L, iterator);
        }
    } else {
        lua_pushcfunction(L, fn);
        lua_pushlstring(L, s, sl);
        lua_pushlstring(L, p, pl);
        if (op == 3) {
            lua_pushstring(L, repl);
            lua_pushinteger(L, init < 0 ? -init : init); /* gsub's 4th argument: the most replacements */
            rc = lua_pcall(L, 4, LUA_MULTRET, 0);
        } else {
            lua_pushinteger(L, init);
            lua_pushboolean(L, plain_find);
            rc = lua_pcall(L, 4, LUA_MULTRET, 0);
        }
    }
    *nresults = lua_gettop(L) - base;
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!engine) {
        rl_limits limits = {100000000LL, 60.0, (size_t)256 << 20, 20000, 50};
        engine = rl_new(&limits);
        plain = luaL_newstate();
        CHECK(engine && plain, "setup");
        luaL_requiref(plain, "string", luaopen_string, 0);
        lua_getfield(plain, -1, "find");
        lua_find = lua_tocfunction(plain, -1);
        lua_getfield(plain, -2, "match");
        lua_match = lua_tocfunction(plain, -1);
        lua_getfield(plain, -3, "gmatch");
        lua_gmatch = lua_tocfunction(plain, -1);
        lua_getfield(plain, -4, "gsub");
        lua_gsub = lua_tocfunction(plain, -1);
        lua_settop(plain, 0);
    }
    if (size < 3) return 0;
    int op = data[0] & 3, plain_find = (data[0] >> 2) & 1;
    const char *repl = replacements[(data[0] >> 3) % 6];
    lua_Integer init = (lua_Integer)(data[1] & 15) - 8;
    if (init == 0) init = 1;
    size_t pl = data[2];
    if (pl > size - 3) pl = size - 3;
    const char *p = (const char *)data + 3, *s = p + pl;
    size_t sl = size - 3 - pl;
    lua_CFunction guarded[] = {rl_str_find, rl_str_match, rl_str_gmatch, rl_str_gsub};
    lua_CFunction original[] = {lua_find, lua_match, lua_gmatch, lua_gsub};

    lua_State *G = engine->L; /* outside rule code: no time limit, the step budget applies */
    int ng, np;
    int rg = run(G, guarded[op], op, s, sl, p, pl, init, plain_find, repl, &ng);
    if (rg != LUA_OK && strstr(lua_tostring(G, -1), "pattern too complex")) {
        lua_settop(G, 0);
        return 0;
    }
    int rp = run(plain, original[op], op, s, sl, p, pl, init, plain_find, repl, &np);
    CHECK((rg == LUA_OK) == (rp == LUA_OK), "op %d: guarded %s, Lua's %s", op,
          rg == LUA_OK ? "succeeded" : lua_tostring(G, -1), rp == LUA_OK ? "succeeded" : lua_tostring(plain, -1));
    if (rg != LUA_OK) {
        CHECK(strcmp(lua_tostring(G, -1), lua_tostring(plain, -1)) == 0, "errors differ: %s / %s", lua_tostring(G, -1),
              lua_tostring(plain, -1));
    } else {
        CHECK(ng == np, "op %d: %d results against %d", op, ng, np);
        for (int i = 1; i <= ng; i++) {
            int tg = lua_type(G, i), tp = lua_type(plain, i);
            CHECK(tg == tp, "result %d: %s against %s", i, lua_typename(G, tg), lua_typename(plain, tp));
            if (tg == LUA_TSTRING) {
                size_t a, b;
                const char *x = lua_tolstring(G, i, &a), *y = lua_tolstring(plain, i, &b);
                CHECK(a == b && memcmp(x, y, a) == 0, "result %d: strings differ", i);
            } else if (tg == LUA_TNUMBER) {
                CHECK(lua_tointeger(G, i) == lua_tointeger(plain, i), "result %d: numbers differ", i);
            }
        }
    }
    lua_settop(G, 0);
    lua_settop(plain, 0);
    return 0;
}
