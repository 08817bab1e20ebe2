/*
 * Fuzz target: json.decode and json.encode round trips inside a sandboxed rule state (CRouterLua's lua_json.c over
 * the tape parser), and slack.escape, through the engine's public API as the router calls it.
 *
 * The input is the finding's `description`; a rule decodes it. When json.decode accepts it, json.encode of the value
 * either succeeds and is a fixed point (decoding and encoding the text again gives the same text), or refuses with
 * one of its documented reasons (infinity from a huge number, nesting deeper than json.encode allows); when
 * json.decode refuses, it says where. slack.escape of the input leaves no '<' or '>' and no '&' that does not start
 * an entity it wrote. Any other outcome, a rule error the rule did not expect or a crash, is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox.h"
#include "sandbox_internal.h"

static const char rule[] =
    "local function escaped_ok(s, e)\n"
    "  if e:find('[<>]') then return false end\n"
    "  for at in e:gmatch('()&') do\n"
    "    local rest = e:sub(at, at + 4)\n"
    "    if not (rest:sub(1, 5) == '&amp;' or rest:sub(1, 4) == '&lt;' or rest:sub(1, 4) == '&gt;') then return false end\n"
    "  end\n"
    "  return #e >= #s\n"
    "end\n"
    "return { route = function(f)\n"
    "  local s = f.description\n"
    "  assert(escaped_ok(s, slack.escape(s)), 'slack.escape left something unescaped')\n"
    "  local ok, v = pcall(json.decode, s)\n"
    "  if not ok then\n"
    "    assert(tostring(v):find('json.decode: line %d+, column %d+: '), 'decode error without a position: ' .. tostring(v))\n"
    "    return nil\n"
    "  end\n"
    "  local ok2, text = pcall(json.encode, v)\n"
    "  if not ok2 then\n"
    "    local m = tostring(text)\n"
    "    assert(m:find('cannot encode infinity', 1, true) or m:find('nesting deeper than', 1, true), 'encode refused: ' .. m)\n"
    "    return nil\n"
    "  end\n"
    "  local again = json.encode(json.decode(text))\n"
    "  assert(again == text, 'round trip changed the text: ' .. text .. ' -> ' .. again)\n"
    "  return { channel = '#ok' }\n"
    "end }\n";

static rl_engine *engine;

static void fail(const char *what) {
    fprintf(stderr, "lua_json fuzz: %s: %s (line %d, status %d)\n", what, rl_error_message(engine), rl_error_line(engine),
            rl_error_status(engine));
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!engine) {
        rl_limits limits = {100000000LL, 20.0, (size_t)256 << 20, 1000000, 50};
        engine = rl_new(&limits);
        if (!engine || rl_load(engine, "@rules/50-fuzz.lua", rule, sizeof rule - 1) != RL_OK) fail("load");
    }
    rl_value *fields;
    char *buf = rl_event_prepare(engine, size, &fields);
    if (!buf) fail("prepare");
    if (size) memcpy(buf, data, size);
    fields[RL_F_DESCRIPTION].kind = RL_V_STRING;
    fields[RL_F_DESCRIPTION].s = buf;
    fields[RL_F_DESCRIPTION].len = size;
    if (rl_event_start(engine, NULL, 0, 0, "test") != RL_OK) fail("start");
    int added = 0;
    if (rl_call_route(engine, 0, &added) != RL_OK) fail("route");
    rl_event_end(engine);
    /* what the event allocated is freed now, not at some later input: libFuzzer's leak check (which runs whenever an
     * input ends with more allocations than frees) then has nothing to look at */
    lua_gc(engine->L, LUA_GCCOLLECT);
    return 0;
}
