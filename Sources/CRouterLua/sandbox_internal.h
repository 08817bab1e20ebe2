#ifndef ROUTER_SANDBOX_INTERNAL_H
#define ROUTER_SANDBOX_INTERNAL_H
#include <lua.h>

/* Steps one call of string.find/match/gsub (or one gmatch step) may take. */
lua_Integer rl_pattern_step_limit(lua_State *L);

int rl_str_find(lua_State *L);
int rl_str_match(lua_State *L);
int rl_str_gmatch(lua_State *L);
int rl_str_gsub(lua_State *L);

#endif
