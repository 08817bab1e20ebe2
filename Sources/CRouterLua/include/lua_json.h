#ifndef ROUTER_LUA_JSON_H
#define ROUTER_LUA_JSON_H
/*
 * JSON <-> Lua conversion for the sandbox. Every function here may raise a Lua error (longjmp):
 * call them only from C code running inside a protected call.
 */
#include <lua.h>
#include <lauxlib.h>
#include "json_tape.h"

/* Registry keys of the two shared sentinels/metatables. */
#define RL_JSON_NULL_KEY "router.json.null"     /* a unique, empty, locked table: JSON null */
#define RL_JSON_ARRAY_KEY "router.json.array"   /* metatable marking arrays, so empty arrays stay arrays */

/* Creates the sentinel and array metatable in the registry (idempotent) and pushes a locked `json` library table:
 * json.null, json.encode(v) -> string, json.decode(s) -> value, json.array(t) -> t (marked as an array). */
void rl_json_open(lua_State *L);

/* Pushes the value at `node` of `doc` as Lua values: objects -> tables, arrays -> tables with the array metatable,
 * null -> the json.null sentinel, integers (RJ_FLAG_INTEGER) -> Lua integers, other numbers -> floats,
 * strings -> Lua strings (unescaped). Depth is bounded by the parser. */
void rl_push_json(lua_State *L, const rj_doc *doc, uint32_t node);

/* Pushes the JSON text of the Lua value at `idx` (a string). nil and json.null -> null; booleans; integers as integers;
 * floats with up to 17 significant digits (integral floats without ".0" only if |x| < 2^53); strings escaped
 * (control chars as \u00XX, invalid UTF-8 passed through as is); tables: an array when it carries the array metatable
 * or when its keys are exactly 1..n with n >= 1, an object otherwise (keys must be strings: other keys raise
 * "cannot encode table key of type X"), objects' keys sorted byte-wise for deterministic output.
 * Raises on functions, userdata, threads, NaN/inf, cycles and depth > 32. */
void rl_json_encode(lua_State *L, int idx);

#endif
