#ifndef ROUTER_SANDBOX_INTERNAL_H
#define ROUTER_SANDBOX_INTERNAL_H
/*
 * What the sandbox's files share. The files, by concern:
 *   engine.c       creating and freeing an engine, errors and their location (the message handler), protected calls
 *   limits.c       every limit in one place: the heap cap (allocator), the instruction budget and the wall clock
 *                  (count hook), the work meter C functions charge, and rule calls under them
 *   globals.c      the locked globals: the allow-listed base library, read-only library proxies, print, xpcall,
 *                  slack.escape
 *   bounded.c      the library functions whose cost grows with their arguments, charging the work meter
 *   view.c         the finding view f and ctx
 *   snapshot.c     which rule files can keep state, and the snapshot that puts it back before each event
 *   load.c         compiling and checking a rule file
 *   calls.c        events and the rule calls (filter, route and its deliveries, format)
 *   pattern_guard.c  Lua's pattern matcher with a step budget and work charges
 *   lua_json.c     json.encode / json.decode and the lazy f.detail
 */
#include <lua.h>
#include <lauxlib.h>
#include <stdint.h>
#include <time.h>
#include "sandbox.h"

#define RL_MAX_FILES 256
#define RL_MAX_FORMATS 512
/* limits.c: see its header comment */
#define RL_HOOK_INTERVAL 1000          /* instructions between two hook calls (outside careful mode) */
#define RL_WORK_SLICE (1LL << 20)      /* work units (about a nanosecond each) between two clock reads */
#define RL_BIG_BLOCK (64 * 1024)       /* an allocation this big is work ahead: the clock is read first */
#define RL_NS_PER_BIG_BYTE 1.0         /* what filling one byte of such a block may cost */
#define RL_BIG_STRING (16 * 1024)      /* a string this long makes one comparison or conversion costly */
#define RL_OUTPUT_MAX 8192
#define RL_CHUNKNAME_MAX 512

typedef struct rl_file {
    char chunkname[RL_CHUNKNAME_MAX];
    int ref_chunk;            /* the compiled main chunk */
    int has_filter, has_route, has_permit;
    int filter_line, route_line, permit_line;
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
    size_t mem_string_refused; /* a string refused for its length alone (0: none) */

    /* hook and work meter */
    long long instr_used;
    int hook_count;           /* the interval the hook is set to */
    double deadline;
    int tripped;              /* the rl_status of the limit that ended the event (0 until then), sticky */
    long long work_credit;    /* work units left before the meter reads the clock */
    int careful;              /* the event holds a big string: the hook runs after every instruction */
    int loading;              /* a rule file is being loaded */
    int big_strings_at_load;  /* loading created a big string (rule state may keep it): every event is careful */
    int trip_file, trip_line; /* where the allocator refused (memory errors run no message handler) */

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

static inline rl_engine *engine_of(lua_State *L) { return *(rl_engine **)lua_getextraspace(L); }

/* The longest string rule code may create: a quarter of the heap cap. */
static inline size_t sb_max_string(const rl_engine *e) { return e->limits.memory_bytes / 4; }

static inline double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* engine.c */
void sb_set_error(rl_engine *e, int status, int file, int line, const char *fmt, ...);
void sb_clear_error(rl_engine *e);
int sb_msgh(lua_State *L);
int sb_run_protected(rl_engine *e, lua_CFunction fn, void *args, int file, const char *what);

/* limits.c */
void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
void sb_reset_limits(rl_engine *e);
int sb_call_rule(rl_engine *e, int nargs, int nresults, int file);
const char *sb_limit_message(rl_engine *e, int status, char *buf, size_t size);
/* Reads the clock (the credit ran out); raises the limit when the deadline has passed or cannot be met with `ahead`
 * more units of work, or when a limit was already hit. Does nothing outside rule code. */
void sb_work_check(lua_State *L, long long ahead);
/* Raises the memory limit when rule code is about to build a string longer than one may be. */
void sb_check_string_length(lua_State *L, size_t len);

/* The work meter (see limits.c): C functions rules can reach charge what they did (rl_work) or are about to do
 * (rl_work_ahead: a call that cannot finish before the deadline ends before it starts), in units of about a
 * nanosecond. Either may raise the time limit (a Lua error), so call them where a Lua error may be raised. */
static inline void rl_work(lua_State *L, long long units) {
    rl_engine *e = engine_of(L);
    if ((e->work_credit -= units) < 0) sb_work_check(L, 0);
}
static inline void rl_work_ahead(lua_State *L, long long units) {
    rl_engine *e = engine_of(L);
    if ((e->work_credit -= units) < 0) sb_work_check(L, units);
}

/* globals.c */
int sb_locked_newindex(lua_State *L);
int sb_open_globals(lua_State *L);

/* bounded.c: Lua's library functions made to charge the work meter, installed into the library table at `table` */
void sb_bound_string(lua_State *L, int table);
void sb_bound_table(lua_State *L, int table);
void sb_bound_utf8(lua_State *L, int table);
void sb_bound_os(lua_State *L, int table);
void sb_bound_base(lua_State *L, int table);

/* view.c */
int sb_fields_consistent(void);
void sb_open_view(lua_State *L, rl_engine *e);
uint32_t sb_named_fields(const char *src, size_t len);
void sb_fill_fcache(rl_engine *e);
void sb_clear_fcache(rl_engine *e);

/* snapshot.c */
int sb_is_stateless(rl_engine *e, int t);
int sb_snapshot_file(rl_engine *e, int t, int *table_reachable);
void sb_restore_snapshots(rl_engine *e);

/* pattern_guard.c: steps one call of string.find/match/gsub (or one gmatch step) may take */
lua_Integer rl_pattern_step_limit(lua_State *L);
int rl_str_find(lua_State *L);
int rl_str_match(lua_State *L);
int rl_str_gmatch(lua_State *L);
int rl_str_gsub(lua_State *L);

#endif
