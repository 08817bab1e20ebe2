/*
 * The library functions rules can reach whose cost grows with their arguments, made to charge the work meter
 * (limits.c) so that no call, and no loop of calls, runs past the event's deadline unobserved.
 *
 * Two ways, per function:
 * - Charged wrappers: the work is computed from the arguments before Lua's own function runs (a loop over n
 *   elements, a string of n bytes to copy or convert) and charged ahead with rl_work_ahead, so a call that cannot
 *   finish in time ends before it starts. The wrapper then calls Lua's function itself (kept as the wrapper's
 *   upvalue), unchanged: string.upper/lower/reverse/byte/char/format/pack/packsize/unpack, table.insert/remove/move/
 *   pack/unpack, os.date, tonumber. When the arguments are malformed nothing is charged and Lua's function raises its
 *   own error.
 * - Copies, where the work is only known while it is done: string.rep, table.concat, table.sort and the utf8
 *   library are Lua 5.4.4's code (ltablib.c, lstrlib.c, lutf8lib.c) with charges inside their loops, and utf8.codes
 *   with Lua 5.4.6's fix (a string that starts with, or a character followed by, a stray continuation byte is an
 *   error, not skipped). string.rep of the empty string with no separator returns "" at once (Lua 5.4.4 copies
 *   zero bytes 10^15 times for string.rep("", 1e15)).
 *
 * Units are about a nanosecond of work on this project's machine (limits.c).
 *
 * Lua 5.4.4, Copyright (C) 1994-2022 Lua.org, PUC-Rio. Permission is hereby granted, free of charge, to any person
 * obtaining a copy of this software and associated documentation files (the "Software"), to deal in the Software
 * without restriction, including without limitation the rights to use, copy, modify, merge, publish, distribute,
 * sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do so,
 * subject to the following conditions: The above copyright notice and this permission notice shall be included in
 * all copies or substantial portions of the Software. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#define LUA_LIB
#include <ctype.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <lua.h>
#include <lauxlib.h>

#include "sandbox_internal.h"

#define WORK_ELEMENT 20     /* a table element read or written through the API */
#define WORK_CONVERSION 300 /* one snprintf/strftime conversion */
#define WORK_CONTROL_QUOTED 100 /* %q of a control character: an snprintf of its own */

/* The wrapped function: Lua's own, the wrapper's upvalue 1, called in place (same stack, same arguments). */
static int call_original(lua_State *L) {
    lua_CFunction f = lua_tocfunction(L, lua_upvalueindex(1));
    return f(L);
}

/* Lua's relative string position, as lstrlib's posrelatI (1-based, clamped to 1). */
static size_t posrelat_i(lua_Integer pos, size_t len) {
    if (pos > 0) return (size_t)pos;
    else if (pos == 0) return 1;
    else if (pos < -(lua_Integer)len) return 1;
    else return len + (size_t)pos + 1;
}

/* lstrlib's getendpos. */
static size_t endpos(lua_Integer pos, size_t len) {
    if (pos > (lua_Integer)len) return len;
    else if (pos >= 0) return (size_t)pos;
    else if (pos < -(lua_Integer)len) return 0;
    else return len + (size_t)pos + 1;
}

static int arg_integer(lua_State *L, int arg, lua_Integer def, lua_Integer *out) {
    if (lua_isnoneornil(L, arg)) {
        *out = def;
        return 1;
    }
    int ok;
    *out = lua_tointegerx(L, arg, &ok);
    return ok;
}

/* ================================================================ string */

/* string.upper, lower, reverse: one pass over the bytes. */
static int w_bytewise(lua_State *L) {
    size_t l;
    if (lua_type(L, 1) == LUA_TSTRING) {
        lua_tolstring(L, 1, &l);
        rl_work_ahead(L, (long long)l * 2);
    }
    return call_original(L);
}

/* string.byte(s, i, j): j - i + 1 values pushed. */
static int w_byte(lua_State *L) {
    size_t l;
    lua_Integer i, j;
    if (lua_type(L, 1) == LUA_TSTRING && arg_integer(L, 2, 1, &i)) {
        lua_tolstring(L, 1, &l);
        size_t pi = posrelat_i(i, l);
        if (arg_integer(L, 3, (lua_Integer)pi, &j)) {
            size_t pose = endpos(j, l);
            if (pi <= pose) rl_work_ahead(L, (long long)(pose - pi + 1) * 10);
        }
    }
    return call_original(L);
}

/* string.char(...), utf8.char(...): one conversion per argument. */
static int w_per_argument(lua_State *L) {
    rl_work_ahead(L, (long long)lua_gettop(L) * 10);
    return call_original(L);
}

/* string.format: the format's bytes, a conversion per item, and the bytes %s and %q copy. */
static int w_format(lua_State *L) {
    size_t sfl;
    if (lua_type(L, 1) != LUA_TSTRING) return call_original(L);
    const char *p = lua_tolstring(L, 1, &sfl), *end = p + sfl;
    int top = lua_gettop(L), arg = 1;
    long long work = (long long)sfl * 2;
    while (p < end) {
        const char *pct = memchr(p, '%', (size_t)(end - p));
        if (!pct || pct + 1 >= end) break;
        p = pct + 1;
        if (*p == '%') {
            p++;
            continue;
        }
        while (p < end && strchr("-+ #0123456789.", *p)) p++;
        if (p >= end) break;
        char conversion = *p++;
        if (++arg > top) break; /* Lua's format raises "no value" */
        work += WORK_CONVERSION;
        if (lua_type(L, arg) == LUA_TSTRING && (conversion == 's' || conversion == 'q')) {
            size_t l;
            const char *s = lua_tolstring(L, arg, &l);
            work += (long long)l;
            if (conversion == 'q') {
                rl_work_ahead(L, (long long)l); /* the count below is work too */
                for (size_t k = 0; k < l; k++)
                    if (iscntrl((unsigned char)s[k])) work += WORK_CONTROL_QUOTED;
            }
        }
    }
    rl_work_ahead(L, work);
    return call_original(L);
}

/* string.pack, packsize, unpack: a step per format option, plus the bytes copied. */
static int w_pack(lua_State *L) {
    long long work = 0;
    int top = lua_gettop(L);
    for (int i = 1; i <= top; i++) {
        if (lua_type(L, i) == LUA_TSTRING) {
            size_t l;
            lua_tolstring(L, i, &l);
            work += (long long)l * (i == 1 ? 20 : 1);
        } else {
            work += WORK_ELEMENT;
        }
    }
    rl_work_ahead(L, work);
    return call_original(L);
}

#define MAXSIZE ((size_t)(sizeof(size_t) < sizeof(int) ? (size_t)~(size_t)0 : (size_t)INT_MAX))

/* string.rep (lstrlib's str_rep, charged ahead: a copy per repetition plus the bytes). */
static int str_rep(lua_State *L) {
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || (l == 0 && lsep == 0))
        lua_pushliteral(L, "");
    else if (l_unlikely(l + lsep < l || l + lsep > MAXSIZE / (size_t)n))
        return luaL_error(L, "resulting string too large");
    else {
        size_t totallen = (size_t)n * l + (size_t)(n - 1) * lsep;
        luaL_Buffer b;
        char *p;
        sb_check_string_length(L, totallen); /* string.rep("x", 1e9) is the memory limit, not the time limit */
        rl_work_ahead(L, n * 4 + (long long)(totallen / 8));
        p = luaL_buffinitsize(L, &b, totallen);
        while (n-- > 1) { /* first n-1 copies (followed by separator) */
            memcpy(p, s, l * sizeof(char));
            p += l;
            if (lsep > 0) { /* empty 'memcpy' is not that cheap */
                memcpy(p, sep, lsep * sizeof(char));
                p += lsep;
            }
        }
        memcpy(p, s, l * sizeof(char)); /* last copy (not followed by separator) */
        luaL_pushresultsize(&b, totallen);
    }
    return 1;
}

/* ================================================================ table */

/* The table's length as ltablib's aux_getn sees it (rule code has no __len, so this is the raw length), or -1 when
 * the argument is not a table (the original raises). */
static lua_Integer table_length(lua_State *L, int arg) {
    if (lua_type(L, arg) != LUA_TTABLE) return -1;
    return (lua_Integer)lua_rawlen(L, arg);
}

/* table.insert(t, pos, v): shifts #t - pos + 1 elements. */
static int w_insert(lua_State *L) {
    lua_Integer e = table_length(L, 1), pos;
    if (e >= 0 && lua_gettop(L) == 3 && arg_integer(L, 2, 0, &pos) && pos >= 1 && pos <= e + 1)
        rl_work_ahead(L, (e + 1 - pos) * WORK_ELEMENT);
    return call_original(L);
}

/* table.remove(t, pos): shifts #t - pos elements. */
static int w_remove(lua_State *L) {
    lua_Integer size = table_length(L, 1), pos;
    if (size >= 0 && arg_integer(L, 2, size, &pos) && pos >= 1 && pos <= size)
        rl_work_ahead(L, (size - pos + 1) * WORK_ELEMENT);
    return call_original(L);
}

/* table.move(a1, f, e, t [, a2]): e - f + 1 elements (nil ones too: Lua 5.4.4 copies 10^15 nils without allocating
 * anything). */
static int w_move(lua_State *L) {
    lua_Integer f, e, t;
    if (arg_integer(L, 2, 0, &f) && arg_integer(L, 3, 0, &e) && arg_integer(L, 4, 0, &t) && e >= f
        && (f > 0 || e < LUA_MAXINTEGER + f)) {
        lua_Unsigned n = (lua_Unsigned)e - (lua_Unsigned)f + 1u;
        rl_work_ahead(L, n > (lua_Unsigned)(LLONG_MAX / WORK_ELEMENT) ? LLONG_MAX : (long long)n * WORK_ELEMENT);
    }
    return call_original(L);
}

/* table.pack(...). */
static int w_tpack(lua_State *L) {
    rl_work_ahead(L, (long long)lua_gettop(L) * WORK_ELEMENT);
    return call_original(L);
}

/* table.unpack(t, i, j): j - i + 1 values (Lua refuses more than the stack can hold: nothing to charge then). */
static int w_tunpack(lua_State *L) {
    lua_Integer i, e;
    lua_Integer len = lua_type(L, 1) == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, 1) : 0;
    if (arg_integer(L, 2, 1, &i) && arg_integer(L, 3, len, &e) && e >= i && (lua_Unsigned)e - (lua_Unsigned)i < 1000000u)
        rl_work_ahead(L, (e - i + 1) * 10);
    return call_original(L);
}

/* table.concat (ltablib's tconcat and addfield, charged per element and per byte). */
static void addfield(lua_State *L, luaL_Buffer *b, lua_Integer i) {
    size_t l;
    lua_geti(L, 1, i);
    if (l_unlikely(!lua_isstring(L, -1)))
        luaL_error(L, "invalid value (%s) at index %I in table for 'concat'", luaL_typename(L, -1), (LUAI_UACINT)i);
    lua_tolstring(L, -1, &l);
    rl_work(L, WORK_ELEMENT + (long long)(l / 8));
    luaL_addvalue(b);
}

static int tconcat(lua_State *L) {
    luaL_Buffer b;
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer last = luaL_len(L, 1);
    size_t lsep;
    const char *sep = luaL_optlstring(L, 2, "", &lsep);
    lua_Integer i = luaL_optinteger(L, 3, 1);
    last = luaL_optinteger(L, 4, last);
    luaL_buffinit(L, &b);
    for (; i < last; i++) {
        addfield(L, &b, i);
        luaL_addlstring(&b, sep, lsep);
    }
    if (i == last) /* add last value (if interval was not empty) */
        addfield(L, &b, i);
    luaL_pushresult(&b);
    return 1;
}

/* table.sort: ltablib's quicksort, charged per comparison (and per byte when two strings are compared without a
 * comparator, which is a strcoll). */

typedef unsigned int IdxT;

#define RANLIMIT 100u

static int sort_comp(lua_State *L, int a, int b) {
    if (lua_isnil(L, 2)) { /* no function? */
        if (lua_type(L, a) == LUA_TSTRING && lua_type(L, b) == LUA_TSTRING) {
            size_t la, lb;
            lua_tolstring(L, a, &la);
            lua_tolstring(L, b, &lb);
            rl_work(L, WORK_ELEMENT + (long long)((la < lb ? la : lb) / 4));
        } else {
            rl_work(L, WORK_ELEMENT);
        }
        return lua_compare(L, a, b, LUA_OPLT); /* a < b */
    } else { /* function (a Lua function: the hook counts its instructions) */
        int res;
        rl_work(L, WORK_ELEMENT);
        lua_pushvalue(L, 2);    /* push function */
        lua_pushvalue(L, a - 1); /* -1 to compensate function */
        lua_pushvalue(L, b - 2); /* -2 to compensate function and 'a' */
        lua_call(L, 2, 1);      /* call function */
        res = lua_toboolean(L, -1); /* get result */
        lua_pop(L, 1);          /* pop result */
        return res;
    }
}

static void set2(lua_State *L, IdxT i, IdxT j) {
    lua_seti(L, 1, i);
    lua_seti(L, 1, j);
}

static IdxT l_randomizePivot(void) {
    return 0x9E3779B9u; /* a fixed choice: results must not depend on the clock */
}

static IdxT partition(lua_State *L, IdxT lo, IdxT up) {
    IdxT i = lo;     /* will be incremented before first use */
    IdxT j = up - 1; /* will be decremented before first use */
    /* loop invariant: a[lo .. i] <= P <= a[j .. up], a[up - 1] == P */
    for (;;) {
        /* next loop: repeat ++i while a[i] < P */
        while (lua_geti(L, 1, ++i), sort_comp(L, -1, -2)) {
            if (l_unlikely(i == up - 1)) /* a[i] < P  but a[up - 1] == P  ?? */
                luaL_error(L, "invalid order function for sorting");
            lua_pop(L, 1); /* remove a[i] */
        }
        /* after the loop, a[i] >= P and a[lo .. i - 1] < P */
        /* next loop: repeat --j while P < a[j] */
        while (lua_geti(L, 1, --j), sort_comp(L, -3, -1)) {
            if (l_unlikely(j < i)) /* j < i  but  a[j] > P ?? */
                luaL_error(L, "invalid order function for sorting");
            lua_pop(L, 1); /* remove a[j] */
        }
        /* after the loop, a[j] <= P and a[j + 1 .. up] >= P */
        if (j < i) { /* no elements to be exchanged? */
            lua_pop(L, 1); /* pop a[j] */
            /* swap pivot (a[up - 1]) with a[i] to satisfy pred.: a[i] == P */
            set2(L, up - 1, i);
            return i;
        }
        /* otherwise, swap a[i] - a[j] to restore invariant and repeat */
        set2(L, i, j);
    }
}

static IdxT choosePivot(IdxT lo, IdxT up, unsigned int rnd) {
    IdxT r4 = (up - lo) / 4; /* range/4 */
    IdxT p = rnd % (r4 * 2) + (lo + r4);
    lua_assert(lo + r4 <= p && p <= up - r4);
    return p;
}

static void auxsort(lua_State *L, IdxT lo, IdxT up, unsigned int rnd) {
    while (lo < up) { /* loop for tail recursion */
        IdxT p; /* Pivot index */
        IdxT n; /* to be used later */
        /* sort elements 'lo', 'p', and 'up' */
        lua_geti(L, 1, lo);
        lua_geti(L, 1, up);
        if (sort_comp(L, -1, -2)) /* a[up] < a[lo]? */
            set2(L, lo, up);      /* swap a[lo] - a[up] */
        else
            lua_pop(L, 2); /* remove both values */
        if (up - lo == 1)  /* only 2 elements? */
            break;         /* already sorted */
        if (up - lo < RANLIMIT || rnd == 0) /* small interval or no randomize? */
            p = (lo + up) / 2;              /* use middle point */
        else /* for larger intervals, it is expensive to compute it */
            p = choosePivot(lo, up, rnd);
        lua_geti(L, 1, p);
        lua_geti(L, 1, lo);
        if (sort_comp(L, -2, -1)) /* a[p] < a[lo]? */
            set2(L, p, lo);       /* swap a[p] - a[lo] */
        else {
            lua_pop(L, 1); /* remove second element */
            lua_geti(L, 1, up);
            if (sort_comp(L, -1, -2)) /* a[up] < a[p]? */
                set2(L, p, up);       /* swap up - p */
            else
                lua_pop(L, 2); /* clean stack */
        }
        if (up - lo == 2) /* only 3 elements? */
            break;        /* already sorted */
        lua_geti(L, 1, p);      /* get median (Pivot) */
        lua_pushvalue(L, -1);   /* push Pivot */
        lua_geti(L, 1, up - 1); /* push a[up - 1] */
        set2(L, p, up - 1);     /* a[p] = a[up - 1]; a[up - 1] = a[p] */
        p = partition(L, lo, up);
        /* a[lo .. p - 1] <= a[p] == P <= a[p + 1 .. up] */
        if (p - lo < up - p) {        /* lower interval is shorter? */
            auxsort(L, lo, p - 1, rnd); /* call recursively for lower interval */
            n = p - lo;                /* size of smaller interval */
            lo = p + 1;                /* tail call for [p + 1 .. up] (upper interval) */
        } else {
            auxsort(L, p + 1, up, rnd); /* call recursively for upper interval */
            n = up - p;                /* size of smaller interval */
            up = p - 1;                /* tail call for [lo .. p - 1]  (lower interval) */
        }
        if ((up - lo) / 128 > n)     /* partition too imbalanced? */
            rnd = l_randomizePivot(); /* try a new randomization */
    } /* tail call auxsort(L, lo, up, rnd) */
}

static int sort(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_Integer n = luaL_len(L, 1);
    if (n > 1) { /* non-trivial interval? */
        luaL_argcheck(L, n < INT_MAX, 1, "array too big");
        if (!lua_isnoneornil(L, 2))         /* is there a 2nd argument? */
            luaL_checktype(L, 2, LUA_TFUNCTION); /* must be a function */
        lua_settop(L, 2); /* make sure there are two arguments */
        auxsort(L, 1, (IdxT)n, 0);
    }
    return 0;
}

/* ================================================================ utf8 (lutf8lib.c, charged per byte walked) */

#define MAXUNICODE 0x10FFFFu
#define MAXUTF 0x7FFFFFFFu
#define MSGInvalid "invalid UTF-8 code"

typedef unsigned int utfint;

#define iscont(p) ((*(p) & 0xC0) == 0x80)
#define iscontp(p) iscont(p)

static lua_Integer u_posrelat(lua_Integer pos, size_t len) {
    if (pos >= 0) return pos;
    else if (0u - (size_t)pos > len) return 0;
    else return (lua_Integer)len + pos + 1;
}

static const char *utf8_decode(const char *s, utfint *val, int strict) {
    static const utfint limits[] = {~(utfint)0, 0x80, 0x800, 0x10000u, 0x200000u, 0x4000000u};
    unsigned int c = (unsigned char)s[0];
    utfint res = 0; /* final result */
    if (c < 0x80)   /* ascii? */
        res = c;
    else {
        int count = 0; /* to count number of continuation bytes */
        for (; c & 0x40; c <<= 1) { /* while it needs continuation bytes... */
            unsigned int cc = (unsigned char)s[++count]; /* read next byte */
            if ((cc & 0xC0) != 0x80) /* not a continuation byte? */
                return NULL;         /* invalid byte sequence */
            res = (res << 6) | (cc & 0x3F); /* add lower 6 bits from cont. byte */
        }
        res |= ((utfint)(c & 0x7F) << (count * 5)); /* add first byte */
        if (count > 5 || res > MAXUTF || res < limits[count]) return NULL; /* invalid byte sequence */
        s += count; /* skip continuation bytes read */
    }
    if (strict) {
        /* check for invalid code points; too large or surrogates */
        if (res > MAXUNICODE || (0xD800u <= res && res <= 0xDFFFu)) return NULL;
    }
    if (val) *val = res;
    return s + 1; /* +1 to include first byte */
}

static int utflen(lua_State *L) {
    lua_Integer n = 0; /* counter for the number of characters */
    size_t len;        /* string length in bytes */
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer posi = u_posrelat(luaL_optinteger(L, 2, 1), len);
    lua_Integer posj = u_posrelat(luaL_optinteger(L, 3, -1), len);
    int lax = lua_toboolean(L, 4);
    luaL_argcheck(L, 1 <= posi && --posi <= (lua_Integer)len, 2, "initial position out of bounds");
    luaL_argcheck(L, --posj < (lua_Integer)len, 3, "final position out of bounds");
    if (posj >= posi) rl_work_ahead(L, (posj - posi + 1) * 3);
    while (posi <= posj) {
        const char *s1 = utf8_decode(s + posi, NULL, !lax);
        if (s1 == NULL) {           /* conversion error? */
            luaL_pushfail(L);       /* return fail ... */
            lua_pushinteger(L, posi + 1); /* ... and current position */
            return 2;
        }
        posi = s1 - s;
        n++;
    }
    lua_pushinteger(L, n);
    return 1;
}

static int codepoint(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer posi = u_posrelat(luaL_optinteger(L, 2, 1), len);
    lua_Integer pose = u_posrelat(luaL_optinteger(L, 3, posi), len);
    int lax = lua_toboolean(L, 4);
    int n;
    const char *se;
    luaL_argcheck(L, posi >= 1, 2, "out of bounds");
    luaL_argcheck(L, pose <= (lua_Integer)len, 3, "out of bounds");
    if (posi > pose) return 0; /* empty interval; return no values */
    if (pose - posi >= INT_MAX) /* (lua_Integer -> int) overflow? */
        return luaL_error(L, "string slice too long");
    n = (int)(pose - posi) + 1; /* upper bound for number of returns */
    luaL_checkstack(L, n, "string slice too long");
    rl_work_ahead(L, (long long)n * 10);
    n = 0;          /* count the number of returns */
    se = s + pose;  /* string end */
    for (s += posi - 1; s < se;) {
        utfint code;
        s = utf8_decode(s, &code, !lax);
        if (s == NULL) return luaL_error(L, MSGInvalid);
        lua_pushinteger(L, code);
        n++;
    }
    return n;
}

/* Walks one character from posi in the given direction (lutf8lib's do-while loops), charging the bytes it passes:
 * a run of stray continuation bytes can be as long as the string. */
static lua_Integer step_back(lua_State *L, const char *s, lua_Integer posi) {
    lua_Integer from = posi;
    do {
        posi--;
    } while (posi > 0 && iscont(s + posi));
    rl_work(L, from - posi);
    return posi;
}

static lua_Integer step_forward(lua_State *L, const char *s, lua_Integer posi) {
    lua_Integer from = posi;
    do {
        posi++;
    } while (iscont(s + posi)); /* (cannot pass final '\0') */
    rl_work(L, posi - from);
    return posi;
}

static int byteoffset(lua_State *L) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Integer n = luaL_checkinteger(L, 2);
    lua_Integer posi = (n >= 0) ? 1 : (lua_Integer)len + 1;
    posi = u_posrelat(luaL_optinteger(L, 3, posi), len);
    luaL_argcheck(L, 1 <= posi && --posi <= (lua_Integer)len, 3, "position out of bounds");
    if (n == 0) {
        /* find beginning of current byte sequence */
        lua_Integer from = posi;
        while (posi > 0 && iscont(s + posi)) posi--;
        rl_work(L, from - posi);
    } else {
        if (iscont(s + posi)) return luaL_error(L, "initial position is a continuation byte");
        if (n < 0) {
            while (n < 0 && posi > 0) { /* move back */
                posi = step_back(L, s, posi);
                n++;
            }
        } else {
            n--; /* do not move for 1st character */
            while (n > 0 && posi < (lua_Integer)len) {
                posi = step_forward(L, s, posi);
                n--;
            }
        }
    }
    if (n == 0) /* did it find given character? */
        lua_pushinteger(L, posi + 1);
    else /* no such character */
        luaL_pushfail(L);
    return 1;
}

/* Lua 5.4.6's iterator: the control value is the position of the previous character; skipping its continuation
 * bytes is charged per byte. */
static int iter_aux(lua_State *L, int strict) {
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_Unsigned n = (lua_Unsigned)lua_tointeger(L, 2);
    if (n < len) {
        lua_Unsigned from = n;
        while (iscontp(s + n)) n++; /* go to next character */
        rl_work(L, (long long)(n - from));
    }
    if (n >= len) /* (also handles original 'n' being negative) */
        return 0; /* no more codepoints */
    else {
        utfint code;
        const char *next = utf8_decode(s + n, &code, strict);
        if (next == NULL || iscontp(next)) return luaL_error(L, MSGInvalid);
        lua_pushinteger(L, (lua_Integer)n + 1);
        lua_pushinteger(L, code);
        return 2;
    }
}

static int iter_auxstrict(lua_State *L) { return iter_aux(L, 1); }

static int iter_auxlax(lua_State *L) { return iter_aux(L, 0); }

static int iter_codes(lua_State *L) {
    int lax = lua_toboolean(L, 2);
    const char *s = luaL_checkstring(L, 1);
    luaL_argcheck(L, !iscontp(s), 1, MSGInvalid);
    lua_pushcfunction(L, lax ? iter_auxlax : iter_auxstrict);
    lua_pushvalue(L, 1);
    lua_pushinteger(L, 0);
    return 3;
}

/* ================================================================ os.date, tonumber */

/* os.date(format, t): a strftime per conversion; charged per byte of the format (a conversion takes two). */
static int w_date(lua_State *L) {
    if (lua_type(L, 1) == LUA_TSTRING) {
        size_t l;
        lua_tolstring(L, 1, &l);
        rl_work_ahead(L, (long long)l * (WORK_CONVERSION * 2));
    }
    return call_original(L);
}

/* tonumber(s [, base]): a pass over the string (strtod or the digit loop, about 2 ns a byte). */
static int w_tonumber(lua_State *L) {
    if (lua_type(L, 1) == LUA_TSTRING) {
        size_t l;
        lua_tolstring(L, 1, &l);
        rl_work_ahead(L, (long long)l * 3);
    }
    return call_original(L);
}

/* ================================================================ installing them */

/* Replaces table[name] (a C function of Lua's library) by a closure of `wrapper` holding it. */
static void wrap(lua_State *L, int table, const char *name, lua_CFunction wrapper) {
    lua_getfield(L, table, name);
    if (!lua_iscfunction(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    lua_pushcclosure(L, wrapper, 1);
    lua_setfield(L, table, name);
}

static void put(lua_State *L, int table, const char *name, lua_CFunction f) {
    lua_pushcfunction(L, f);
    lua_setfield(L, table, name);
}

void sb_bound_string(lua_State *L, int table) {
    table = lua_absindex(L, table);
    wrap(L, table, "upper", w_bytewise);
    wrap(L, table, "lower", w_bytewise);
    wrap(L, table, "reverse", w_bytewise);
    wrap(L, table, "byte", w_byte);
    wrap(L, table, "char", w_per_argument);
    wrap(L, table, "format", w_format);
    wrap(L, table, "pack", w_pack);
    wrap(L, table, "packsize", w_pack);
    wrap(L, table, "unpack", w_pack);
    put(L, table, "rep", str_rep);
}

void sb_bound_table(lua_State *L, int table) {
    table = lua_absindex(L, table);
    wrap(L, table, "insert", w_insert);
    wrap(L, table, "remove", w_remove);
    wrap(L, table, "move", w_move);
    wrap(L, table, "pack", w_tpack);
    wrap(L, table, "unpack", w_tunpack);
    put(L, table, "concat", tconcat);
    put(L, table, "sort", sort);
}

void sb_bound_utf8(lua_State *L, int table) {
    table = lua_absindex(L, table);
    put(L, table, "offset", byteoffset);
    put(L, table, "codepoint", codepoint);
    wrap(L, table, "char", w_per_argument);
    put(L, table, "len", utflen);
    put(L, table, "codes", iter_codes);
}

void sb_bound_os(lua_State *L, int table) { wrap(L, lua_absindex(L, table), "date", w_date); }

void sb_bound_base(lua_State *L, int table) { wrap(L, lua_absindex(L, table), "tonumber", w_tonumber); }
