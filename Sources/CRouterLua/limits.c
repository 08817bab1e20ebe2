/*
 * Every limit the sandbox enforces, in one place.
 *
 * An event's rule code runs under four limits: an instruction budget, a wall-clock deadline, a heap cap and (per
 * pattern call) a step budget. The notes' facts that shape how they are enforced (lua-sandbox.md, "Limits" and "Time
 * inside one C call"): a count hook runs between VM instructions only, so a single C call runs to its end unobserved;
 * a hook that raises once is swallowed by the script's own pcall; an allocator returning NULL is the only thing that
 * stops a huge allocation. Each mechanism below closes one of those gaps:
 *
 * 1. The count hook (sb_hook), every RL_HOOK_INTERVAL instructions: adds to the instruction count and reads the clock.
 *    Once a limit is hit it is sticky: the hook re-arms itself with a count of 1, so every further instruction raises
 *    again and no pcall inside the rules can swallow the limit; the status is taken from the engine, not from what
 *    the script returns.
 *
 * 2. The work meter (rl_work, rl_work_ahead in sandbox_internal.h), for time spent inside C functions: every C function
 *    rules can reach whose cost is not constant charges the work it does or is about to do, in units of roughly a
 *    nanosecond on this machine (a byte scanned or copied by a simple loop: 1; a pattern-matching step: 16; a table
 *    element moved: 20; a snprintf conversion: 200). Charges come off a per-engine credit; when it runs out (every
 *    RL_WORK_SLICE units, about a millisecond of work) sb_work_check reads the clock and raises the time limit, and a
 *    single charge larger than the slice is looked ahead: a call that cannot finish before the deadline is ended before
 *    it starts. The functions that charge: the pattern matcher (pattern_guard.c: per step, per pattern item, per byte
 *    a %b, a repetition, a back-reference or a plain search scans), the string library's non-pattern functions,
 *    table, utf8, os.date and tonumber (bounded.c), json.encode/json.decode (lua_json.c) and slack.escape
 *    (globals.c). So a loop of cheap-looking calls (one instruction each, 1,000 between two hook calls) is bounded as
 *    surely as one long call: the meter counts across calls.
 *
 * 3. The allocator (sb_alloc) enforces the heap cap while rule code runs (armed): a refusal that Lua's emergency
 *    collection cannot resolve is final and sticky like the other limits. One string may hold at most a quarter of
 *    the cap (16 MiB by default), which bounds what one instruction on one string can cost (point 4). Blocks of RL_BIG_BLOCK bytes or more are
 *    work ahead (something is about to fill or copy them): the allocator reads the clock and refuses them when they
 *    cannot be filled before the deadline.
 *
 * 4. Careful mode, for the VM instructions whose cost is not constant: comparing, or converting to a number, a string
 *    of n bytes is one instruction that costs O(n), and 1,000 such instructions run between two hook calls. Once the
 *    event holds a string of RL_BIG_STRING bytes or more (the allocator sees every new string object, and load time
 *    ones are remembered), the hook runs after every instruction and reads the clock each time. Such events run their
 *    Lua code several times slower; events without big strings (every shipped rule and finding) never pay for it.
 *
 * When a limit ends an event, the error names the limit and the rule file and line that were running: the message
 * handler locates errors raised by the hook or the meter; a refusal by the allocator (which cannot raise) records the
 * location itself, since Lua does not run the message handler for memory errors.
 *
 * What remains, by design: one VM instruction or one uninterruptible C step over the largest object the limits allow
 * (comparing two 16 MiB strings, converting one to a number at about 2 ns a byte, one rehash of the largest table):
 * at most a few tens of milliseconds with the default 64 MiB cap.
 */
#define LUA_LIB
#include <lua.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"
#include "sandbox_internal.h"

lua_Integer rl_pattern_step_limit(lua_State *L) { return (lua_Integer)engine_of(L)->limits.pattern_steps; }

static void sb_hook(lua_State *L, lua_Debug *ar);

/* The hook interval for the current state of the event. */
static int wanted_hook_count(const rl_engine *e) {
    return (e->tripped || e->careful || e->mem_exceeded) ? 1 : RL_HOOK_INTERVAL;
}

static void set_hook_count(rl_engine *e, int count) {
    if (e->hook_count == count) return;
    e->hook_count = count;
    lua_sethook(e->L, sb_hook, LUA_MASKCOUNT, count);
}

/* The innermost frame of a rule file (file index and line); file and line are left as they are when there is none. Reads only the call
 * chain and the functions' prototypes, which are consistent at every allocation point (Lua must be able to raise a
 * memory error at any of them). */
static void locate(rl_engine *e, int *file, int *line) {
    lua_State *L = e->L;
    lua_Debug ar;
    for (int level = 0; lua_getstack(L, level, &ar); level++) {
        if (!lua_getinfo(L, "Sl", &ar)) continue;
        if (ar.currentline > 0 && ar.source && ar.source[0] == '@') {
            for (int i = 0; i < e->nfiles; i++) {
                if (strcmp(e->files[i].chunkname, ar.source) == 0) {
                    *file = i;
                    *line = ar.currentline;
                    return;
                }
            }
            return;
        }
    }
}

/* A limit is hit: sticky from now on (every instruction raises, every charge checks). */
static void trip(rl_engine *e, int status) {
    if (!e->tripped) e->tripped = status;
    e->work_credit = 0;
    set_hook_count(e, 1);
}

const char *sb_limit_message(rl_engine *e, int status, char *buf, size_t size) {
    switch (status) {
    case RL_ERR_INSTRUCTIONS:
        snprintf(buf, size, "instruction budget exceeded (%lld instructions per event)", e->limits.instructions);
        break;
    case RL_ERR_TIMEOUT:
        snprintf(buf, size, "time limit exceeded (%d ms per event)", (int)(e->limits.wall_seconds * 1000 + 0.5));
        break;
    default:
        if (e->mem_string_refused)
            snprintf(buf, size, "memory limit exceeded (a string of %zu bytes; one string may hold at most %zu MiB, a "
                     "quarter of the rule state's %zu MiB)", e->mem_string_refused, sb_max_string(e) >> 20,
                     e->limits.memory_bytes >> 20);
        else
            snprintf(buf, size, "memory limit exceeded (%zu MiB for the rule state)", e->limits.memory_bytes >> 20);
        break;
    }
    return buf;
}

static int raise_limit(lua_State *L, rl_engine *e) {
    char msg[128];
    return luaL_error(L, "%s", sb_limit_message(e, e->tripped, msg, sizeof msg));
}

/* ---------------------------------------------------------------- allocator */

void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    rl_engine *e = (rl_engine *)ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        free(ptr);
        e->mem_used -= old;
        return NULL;
    }
    if (e->cap_armed && nsize > old) {
        size_t grow = nsize - old;
        int too_long = ptr == NULL && osize == LUA_TSTRING && nsize > sb_max_string(e);
        if (too_long || e->mem_used + grow > e->limits.memory_bytes) {
            /* Lua answers a refusal with an emergency full collection and asks again for the same size: only a
             * refusal that this retry does not resolve exceeds the cap (see the hook). Until then the hook runs
             * after every instruction, so the next one ends the event if it was final. */
            if (!e->mem_exceeded && e->trip_line == 0) locate(e, &e->trip_file, &e->trip_line);
            e->mem_exceeded = 1;
            e->mem_refused = nsize;
            if (too_long) e->mem_string_refused = nsize;
            e->work_credit = 0;
            set_hook_count(e, 1);
            return NULL;
        }
        if (grow >= RL_BIG_BLOCK && (e->tripped == RL_ERR_TIMEOUT
                                     || monotonic_seconds() + (double)grow * RL_NS_PER_BIG_BYTE * 1e-9 > e->deadline)) {
            /* work ahead that cannot be done in time */
            if (e->trip_line == 0) locate(e, &e->trip_file, &e->trip_line);
            trip(e, RL_ERR_TIMEOUT);
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) return NULL;
    if (e->mem_exceeded && nsize == e->mem_refused) e->mem_exceeded = 0;
    e->mem_used = e->mem_used - old + nsize;
    /* a new string object (Lua passes the object's type as osize) big enough to make one instruction costly */
    if (ptr == NULL && osize == LUA_TSTRING && nsize >= RL_BIG_STRING) {
        if (e->loading) e->big_strings_at_load = 1;
        if (e->in_event && !e->careful) {
            e->careful = 1;
            set_hook_count(e, 1);
        }
    }
    return p;
}

/* ---------------------------------------------------------------- hook */

static void sb_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    rl_engine *e = engine_of(L);
    if (!e->tripped) {
        e->instr_used += e->hook_count;
        if (e->mem_exceeded) {
            e->tripped = RL_ERR_MEMORY;
        } else if (e->instr_used > e->limits.instructions) {
            e->tripped = RL_ERR_INSTRUCTIONS;
        } else if (monotonic_seconds() > e->deadline) {
            e->tripped = RL_ERR_TIMEOUT;
        } else {
            set_hook_count(e, wanted_hook_count(e));
            return;
        }
        trip(e, e->tripped);
    }
    raise_limit(L, e);
}

/* ---------------------------------------------------------------- work meter */

void sb_work_check(lua_State *L, long long ahead) {
    rl_engine *e = engine_of(L);
    e->work_credit = RL_WORK_SLICE;
    if (!e->cap_armed) return; /* host code (the engine building what rules read): not limited */
    if (!e->tripped) {
        if (e->mem_exceeded) {
            e->tripped = RL_ERR_MEMORY;
        } else if (monotonic_seconds() + (double)ahead * 1e-9 > e->deadline) {
            e->tripped = RL_ERR_TIMEOUT;
        } else {
            return;
        }
        trip(e, e->tripped);
    }
    raise_limit(L, e);
}

void sb_check_string_length(lua_State *L, size_t len) {
    rl_engine *e = engine_of(L);
    if (!e->cap_armed || len <= sb_max_string(e)) return;
    if (!e->tripped) {
        e->mem_exceeded = 1;
        e->mem_string_refused = len;
        trip(e, RL_ERR_MEMORY);
    }
    raise_limit(L, e);
}

/* ---------------------------------------------------------------- arming, resetting, calling rule code */

static void arm(rl_engine *e) {
    e->cap_armed = 1;
    set_hook_count(e, wanted_hook_count(e));
}

static void disarm(rl_engine *e) { e->cap_armed = 0; }

void sb_reset_limits(rl_engine *e) {
    e->instr_used = 0;
    e->tripped = 0;
    e->mem_exceeded = 0;
    e->mem_string_refused = 0;
    e->trip_file = -1;
    e->trip_line = 0;
    e->careful = e->big_strings_at_load;
    e->work_credit = RL_WORK_SLICE;
    e->deadline = monotonic_seconds() + e->limits.wall_seconds;
    e->hook_count = wanted_hook_count(e);
    lua_sethook(e->L, sb_hook, LUA_MASKCOUNT, e->hook_count);
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
    if (status == RL_ERR_MEMORY && !e->tripped) trip(e, RL_ERR_MEMORY); /* the rest of the event stops too */
    const char *msg = NULL;
    if (rc != LUA_OK) msg = lua_tostring(L, -1);
    if (status == RL_ERR_RUNTIME) {
        sb_set_error(e, status, e->err_file >= 0 ? e->err_file : file, e->err_line, "%s", msg ? msg : "unknown error");
    } else {
        /* where the limit was hit: the message handler's location when it ran (errors raised by the hook or the
         * meter), else what the allocator recorded when it refused (Lua runs no message handler for memory errors) */
        int at_file = file, at_line = 0;
        if (rc != LUA_ERRMEM && e->err_line > 0) {
            at_file = e->err_file >= 0 ? e->err_file : file;
            at_line = e->err_line;
        } else if (e->trip_line > 0) {
            at_file = e->trip_file >= 0 ? e->trip_file : file;
            at_line = e->trip_line;
        }
        char text[128];
        sb_set_error(e, status, at_file, at_line, "%s", sb_limit_message(e, status, text, sizeof text));
    }
    if (rc != LUA_OK) lua_pop(L, 1); /* results of a call that returned despite a tripped limit stay: callers settop */
    return status;
}
