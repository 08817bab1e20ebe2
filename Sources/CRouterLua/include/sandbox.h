#ifndef ROUTER_SANDBOX_H
#define ROUTER_SANDBOX_H
/*
 * The rule sandbox: one Lua 5.4 state holding the compiled rule files, evaluated one finding at a time.
 *
 * Everything that can raise a Lua error (longjmp) runs here, in C, inside protected calls; the functions below
 * never raise. Swift drives an event with rl_event_prepare/rl_event_start -> rl_call_filter/rl_call_route/rl_call_format ->
 * rl_event_end and reads results through plain C structs.
 *
 * Isolation: library tables, the string metatable and the globals table are locked; a rule file whose functions
 * can keep state (upvalues, tables they reach) has that state put back from a load-time snapshot before every
 * event, or, when there is too much of it, its main chunk runs anew for each event; either way nothing carries
 * from one event to the next. f's values are kept in a table that each event start rewrites.
 * Limits (limits.c has the design): an instruction budget and a wall-clock deadline (a sticky count hook, so a
 * pcall-wrapped loop cannot swallow them), a work meter that every library function whose cost grows with its
 * arguments charges (so the deadline holds inside C calls too: patterns, string, table, utf8, os.date, json,
 * slack.escape), a heap cap and a longest string enforced by the allocator while rule code runs, a hook after every
 * instruction once an event holds big strings, and a step budget for Lua patterns (pattern_guard.c).
 *
 * Threading: an rl_engine is used by one thread at a time.
 */
#include <stddef.h>
#include <stdint.h>
#include "json_tape.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rl_engine rl_engine;

typedef struct rl_limits {
    long long instructions;   /* Lua VM instructions per event (all calls of the event together) */
    double wall_seconds;      /* wall-clock time per event */
    size_t memory_bytes;      /* cap on the whole Lua heap while rule code runs */
    long long pattern_steps;  /* matching steps per call of string.find/match/gsub or gmatch step */
    int max_deliveries;       /* deliveries per finding */
} rl_limits;

typedef enum {
    RL_OK = 0,
    RL_ERR_RUNTIME = 1,       /* a Lua error raised by rule code */
    RL_ERR_INSTRUCTIONS = 2,  /* instruction budget exhausted */
    RL_ERR_TIMEOUT = 3,       /* wall-clock limit */
    RL_ERR_MEMORY = 4,        /* heap cap */
    RL_ERR_RESULT = 5,        /* a rule returned something the contract does not allow */
    RL_ERR_SYNTAX = 6,        /* a rule file does not compile */
} rl_status;

typedef enum { RL_V_NIL = 0, RL_V_STRING = 1, RL_V_NUMBER = 2, RL_V_INTEGER = 3, RL_V_BOOLEAN = 4 } rl_value_kind;

typedef struct rl_value {
    int kind;                 /* rl_value_kind */
    const char *s;            /* RL_V_STRING: bytes (need not be NUL-terminated) */
    size_t len;
    double number;            /* RL_V_NUMBER */
    long long integer;        /* RL_V_INTEGER, and RL_V_BOOLEAN (0/1) */
} rl_value;

/* The fields of the finding view `f`, in this order. `detail` is built lazily from the JSON tape. */
enum {
    RL_F_ID, RL_F_TYPE, RL_F_PURPOSE, RL_F_RESOURCE_KIND, RL_F_FAMILY, RL_F_ARTIFACT, RL_F_SEVERITY,
    RL_F_SEVERITY_LABEL, RL_F_TITLE, RL_F_DESCRIPTION, RL_F_ACCOUNT, RL_F_EVENT_ACCOUNT, RL_F_REGION, RL_F_PARTITION,
    RL_F_RESOURCE_TYPE, RL_F_ACTION_TYPE, RL_F_COUNT, RL_F_FIRST_SEEN, RL_F_LAST_SEEN, RL_F_CREATED_AT,
    RL_F_UPDATED_AT, RL_F_ARCHIVED, RL_F_SAMPLE, RL_F_CONSOLE_URL, RL_F_RESOURCE,
    RL_FIELD_COUNT
};
const char *rl_field_name(int field);

/* The actions a delivery may offer as buttons (the delivery key `actions`), as bits of rl_delivery.actions. */
enum { RL_ACT_ACK = 1, RL_ACT_ARCHIVE = 2, RL_ACT_USEFUL = 4, RL_ACT_NOT_USEFUL = 8, RL_ACT_SUPPRESS = 16 };
/* The finding attributes a suppression rule may match on (the delivery key `suppress_by`), as bits of
 * rl_delivery.suppress_by. */
enum { RL_SUP_TYPE = 1, RL_SUP_ACCOUNT = 2, RL_SUP_REGION = 4, RL_SUP_RESOURCE = 8, RL_SUP_ACTION_TYPE = 16 };

typedef struct rl_delivery {
    const char *channel; size_t channel_len;  /* NULL when absent */
    const char *format; size_t format_len;    /* NULL when absent */
    const char *to; size_t to_len;            /* NULL when absent */
    const char *on_update; size_t on_update_len; /* NULL when absent */
    int has_continue;
    int continue_;
    int mention_count;
    int file;                                  /* index of the file whose route returned it */
    unsigned actions;                          /* RL_ACT_* bits */
    unsigned suppress_by;                      /* RL_SUP_* bits; 0: the default (type, account, resource) */
} rl_delivery;

/* Returns NULL only when out of memory. */
rl_engine *rl_new(const rl_limits *limits);
void rl_free(rl_engine *e);

/* Compiles a rule file (text only, never binary chunks) and runs it once to check what it returns.
 * `chunkname` is "@rules/x.lua" so messages read "rules/x.lua:3: ...". Returns RL_OK or an error status
 * (see rl_error_*). Format names must be unique across files. */
int rl_load(rl_engine *e, const char *chunkname, const char *source, size_t len);

int rl_file_count(const rl_engine *e);
int rl_file_has_filter(const rl_engine *e, int file);
int rl_file_has_route(const rl_engine *e, int file);
int rl_file_filter_line(const rl_engine *e, int file);  /* line where the function is defined */
int rl_file_route_line(const rl_engine *e, int file);
int rl_file_has_permit(const rl_engine *e, int file);
int rl_file_permit_line(const rl_engine *e, int file);
int rl_format_count(const rl_engine *e);
const char *rl_format_name(const rl_engine *e, int format);  /* NUL-terminated */
int rl_format_file(const rl_engine *e, int format);
int rl_format_line(const rl_engine *e, int format);

/* The last error: status, 1-based line (0 when unknown), the file index it happened in (-1 when unknown) and a
 * message without the "file:line:" prefix. Valid until the next call. */
int rl_error_status(const rl_engine *e);
int rl_error_line(const rl_engine *e);
int rl_error_file(const rl_engine *e);
/* 1 when the last error came from running a rule file's main chunk (its top level) for the event. */
int rl_error_in_load(const rl_engine *e);
const char *rl_error_message(const rl_engine *e);

/* Starts an event, in two steps. rl_event_prepare ends any current event and returns a buffer of at least
 * string_bytes bytes and (*fields) the engine's RL_FIELD_COUNT values of `f`, all nil (in enum order); the caller
 * writes the strings into the buffer and points the values at them (NULL: out of memory, error recorded). Then
 * rl_event_start builds `f` from them, the lazily converted `f.detail` (doc/detail_node; doc may be NULL; the
 * document must stay alive until rl_event_end) and `ctx` ({now, mode}). */
char *rl_event_prepare(rl_engine *e, size_t string_bytes, rl_value **fields);
int rl_event_start(rl_engine *e, const rj_doc *doc, uint32_t detail_node, double now, const char *mode);
/* Runs file's filter. On RL_OK, *keep is 0/1 and *reason (may be NULL) stays valid until rl_event_end. */
int rl_call_filter(rl_engine *e, int file, int *keep, const char **reason, size_t *reason_len);
/* Runs file's route and appends what it returns to the event's deliveries; *added = how many. */
int rl_call_route(rl_engine *e, int file, int *added);
int rl_delivery_count(const rl_engine *e);
/* Pointers stay valid until rl_event_end. */
void rl_delivery_get(const rl_engine *e, int index, rl_delivery *out);
const char *rl_delivery_mention(const rl_engine *e, int index, int mention, size_t *len);
/* Runs file's permit(action, user, f, ctx) for the current event (user: {id, name, team}). On RL_OK, *verdict is 1
 * (true: allowed by this file), 0 (false: denied) or -1 (nil: no opinion), and *reason (may be NULL) stays valid until
 * rl_event_end. */
int rl_call_permit(rl_engine *e, int file, const char *action, const char *user_id, const char *user_name,
                   const char *team, int *verdict, const char **reason, size_t *reason_len);
/* Calls format function `format` with (f, ctx, d) where d describes delivery `delivery` (or an empty delivery
 * when delivery < 0). On RL_OK, *json is the returned string itself (*is_string = 1) or the JSON text of the
 * returned table (*is_string = 0), NUL-terminated, valid until the next call. */
int rl_call_format(rl_engine *e, int format, int delivery, const char **json, size_t *json_len, int *is_string);
/* What the event's scripts printed (print is captured, never written to stdout). */
const char *rl_event_output(const rl_engine *e, size_t *len);
void rl_event_end(rl_engine *e);

/* Heap currently used by the state, in bytes. */
size_t rl_memory_used(const rl_engine *e);

#ifdef __cplusplus
}
#endif
#endif
