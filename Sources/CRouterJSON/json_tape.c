#include "json_tape.h"
