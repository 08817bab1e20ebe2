#include "lua_json.h"
