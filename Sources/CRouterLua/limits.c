/*
 * The limits: the allocator (heap cap), the count hook (instructions and wall clock) and rule calls under them.
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

lua_Integer rl_pattern_step_limit(lua_State *L) { return (lua_Integer)engine_of(L)->limits.pattern_steps; }

/* ---------------------------------------------------------------- allocator and hook */

void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
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

void sb_reset_limits(rl_engine *e) {
    e->instr_used = 0;
    e->tripped = 0;
    e->mem_exceeded = 0;
    e->deadline = monotonic_seconds() + e->limits.wall_seconds;
    e->hook_count = RL_HOOK_INTERVAL;
    lua_sethook(e->L, rl_hook, LUA_MASKCOUNT, RL_HOOK_INTERVAL);
}

/* Calls the function below its nargs arguments on the stack with the message handler, limits armed.
 * Returns a rl_status; on error the message is recorded and nothing is left on the stack. */
int sb_call_rule(rl_engine *e, int nargs, int nresults, int file) {
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
        sb_set_error(e, status, e->err_file >= 0 ? e->err_file : file, e->err_line,
                  "instruction budget exceeded (%lld instructions per event)", e->limits.instructions);
    } else if (status == RL_ERR_TIMEOUT) {
        sb_set_error(e, status, e->err_file >= 0 ? e->err_file : file, e->err_line,
                  "time limit exceeded (%d ms per event)", (int)(e->limits.wall_seconds * 1000 + 0.5));
    } else if (status == RL_ERR_MEMORY) {
        /* the message handler does not run for memory errors: no location */
        sb_set_error(e, status, file, rc == LUA_ERRMEM ? 0 : e->err_line,
                  "memory limit exceeded (%zu MiB for the rule state)", e->limits.memory_bytes >> 20);
    } else {
        sb_set_error(e, status, e->err_file >= 0 ? e->err_file : file, e->err_line, "%s", msg ? msg : "unknown error");
    }
    if (rc != LUA_OK) lua_pop(L, 1); /* results of a call that returned despite a tripped limit stay: callers settop */
    return status;
}
