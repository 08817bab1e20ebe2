-- Plain Lua 5.4 with lua-cjson doing the router's per-event work on the same input, for comparing machines:
-- cjson.decode, the finding view built in Lua, the shipped rule files themselves (filters, routes with `continue`,
-- custom formats; no sandbox, no limits), a detailed Block Kit render with escaping, cjson.encode.
-- Usage: lua5.4 scripts/bench-lua.lua RULES_DIR EVENTS.jsonl   (LUA_CPATH must find cjson.so; bench.sh sets it up)
local cjson = require("cjson")
local rules_dir, events_path = arg[1], arg[2]

local function esc(s)
  return (tostring(s):gsub("[&<>]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;" }))
end
local env = setmetatable({ slack = { escape = esc } }, { __index = _G })

local files = {}
local p = io.popen('ls "' .. rules_dir .. '"/*.lua')
for path in p:lines() do files[#files + 1] = path end
p:close()
table.sort(files)
local loaded, formats = {}, {}
for _, path in ipairs(files) do
  local t = assert(loadfile(path, "t", env))()
  loaded[#loaded + 1] = t
  for name, fn in pairs(t.formats or {}) do formats[name] = fn end
end

local function label(s)
  if type(s) ~= "number" then return "UNKNOWN" end
  if s >= 9 then return "CRITICAL" elseif s >= 7 then return "HIGH" elseif s >= 4 then return "MEDIUM" end
  return "LOW"
end
local function str(v) if type(v) == "string" then return v end end

local function view(ev)
  local d = ev.detail
  local t = str(d.type) or ""
  local purpose, rest = t:match("^([^:]*):?(.*)$")
  local kind, fam = rest:match("^([^/]*)/?(.*)$")
  local family, artifact = fam:match("^([^!]*)!?(.*)$")
  local sv = type(d.service) == "table" and d.service or {}
  local info = type(sv.additionalInfo) == "table" and sv.additionalInfo or {}
  local res = type(d.resource) == "table" and d.resource or {}
  local region = str(d.region) or str(ev.region) or ""
  local inst, ak = res.instanceDetails, res.accessKeyDetails
  local resource = type(inst) == "table" and str(inst.instanceId) or type(ak) == "table" and str(ak.userName)
    or str(res.resourceType)
  local sev = type(d.severity) == "number" and d.severity or 0
  return {
    id = str(d.id) or "", type = t, purpose = purpose, resource_kind = kind, family = family,
    artifact = artifact ~= "" and artifact or nil, severity = sev, severity_label = label(d.severity),
    title = str(d.title) or "", description = str(d.description) or "",
    account = str(d.accountId) or str(ev.account) or "", event_account = str(ev.account), region = region,
    partition = str(d.partition) or "aws", resource_type = str(res.resourceType),
    action_type = type(sv.action) == "table" and str(sv.action.actionType) or nil,
    count = math.tointeger(sv.count) or 1, first_seen = str(sv.eventFirstSeen), last_seen = str(sv.eventLastSeen),
    archived = sv.archived == true, sample = info.sample == true or info.sample == "true",
    console_url = "https://" .. region .. ".console.aws.amazon.com/guardduty/home?region=" .. region
      .. "#/findings?macros=current&fId=" .. (str(d.id) or ""),
    resource = resource, detail = d,
  }
end

local function cut(s, n)
  if #s > n then return s:sub(1, n - 3) .. "..." end
  return s
end
local colours = { CRITICAL = "#7b0000", HIGH = "#d0021b", MEDIUM = "#f5a623", LOW = "#4a90e2" }

local function mentions(m)
  if m == nil then return "" end
  if type(m) == "string" then m = { m } end
  local out = {}
  for i, x in ipairs(m) do
    x = x:gsub("^@", "")
    if x == "here" or x == "channel" or x == "everyone" then out[i] = "<!" .. x .. ">"
    elseif x:sub(1, 1) == "S" then out[i] = "<!subteam^" .. x .. ">"
    else out[i] = "<@" .. x .. ">" end
  end
  return table.concat(out, " ")
end

local function render(f, ctx, d)
  local m = mentions(d.mention)
  local format = d.format or "detailed"
  if formats[format] then
    local r = formats[format](f, ctx, d)
    if type(r) == "string" then r = { text = r } end
    r.channel = d.channel
    r.text = (m ~= "" and (m .. " ") or "") .. r.text
    return r
  end
  if format == "compact" then
    return { channel = d.channel, text = cut(m .. " *" .. f.severity_label .. "* `" .. esc(f.type) .. "` "
      .. esc(f.title) .. " (" .. f.account .. ", " .. f.region .. ")", 3000) }
  end
  local fields = {}
  for i, kv in ipairs({ { "Account", f.account }, { "Region", f.region },
    { "Severity", f.severity_label .. " (" .. f.severity .. ")" }, { "Count", tostring(f.count) },
    { "Resource", esc(f.resource or "") }, { "First seen", f.first_seen or "" }, { "Last seen", f.last_seen or "" } }) do
    fields[i] = { type = "mrkdwn", text = cut("*" .. kv[1] .. "*\n" .. kv[2], 2000) }
  end
  return {
    channel = d.channel,
    text = cut(m .. " " .. f.severity_label .. ": " .. esc(f.title) .. " (account " .. f.account .. ", " .. f.region .. ")", 3000),
    attachments = { { color = colours[f.severity_label] or "#999999", blocks = {
      { type = "header", text = { type = "plain_text", text = cut(f.severity_label .. " " .. f.type, 150) } },
      { type = "section", text = { type = "mrkdwn", text = cut(esc(f.description), 3000) } },
      { type = "section", fields = fields },
      { type = "context", elements = { { type = "mrkdwn",
        text = cut(esc(f.id) .. " · <" .. esc(f.console_url) .. "|Open in the GuardDuty console>", 2000) } } },
    } } },
  }
end

local bytes = 0
local ctx = { now = os.time(), mode = "bench" }
local function one(line)
  local f = view(cjson.decode(line))
  for _, t in ipairs(loaded) do
    if t.filter and not t.filter(f, ctx) then return end
  end
  for _, t in ipairs(loaded) do
    if t.route then
      local r = t.route(f, ctx)
      if r then
        if r.channel or r.to then r = { r } end
        local continue = false
        for _, d in ipairs(r) do
          bytes = bytes + #cjson.encode(render(f, ctx, d))
          continue = continue or d.continue == true
        end
        if not continue then return end
      end
    end
  end
end

local lines = {}
for l in io.lines(events_path) do
  if l:find("%S") then lines[#lines + 1] = l end
end
for i = 1, 500 do one(lines[(i - 1) % #lines + 1]) end
local t0 = os.clock()
for _, l in ipairs(lines) do one(l) end
local s = os.clock() - t0
print(string.format("%s with lua-cjson: %d events/s (%d events, %.2f us each), %d payload bytes per event",
  _VERSION, math.floor(#lines / s + 0.5), #lines, s * 1e6 / #lines, bytes // #lines))
