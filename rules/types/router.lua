---@meta
-- Type definitions for the router's rule files, for the Lua language server (LuaLS / sumneko).
-- This file is never loaded by the router: it lives in rules/types/, and the router loads only the
-- *.lua files directly in the rules directory. rules/.luarc.json points LuaLS here.
--
-- Annotate a rule file to get completion and checking:
--
--   ---@type RuleFile
--   local rules = {
--     route = function(f, ctx) ... end,   -- f: Finding, ctx: Ctx are inferred
--   }
--   return rules

---@alias SeverityLabel
---| "LOW"      # 1.0-3.9
---| "MEDIUM"   # 4.0-6.9
---| "HIGH"     # 7.0-8.9
---| "CRITICAL" # 9.0 and above
---| "UNKNOWN"  # no severity in the finding

---The finding view: read-only, the same for every input shape. Reading a field not listed here is a rule error.
---@class Finding
---@field id string The GuardDuty finding id.
---@field type string The finding type, e.g. "CryptoCurrency:EC2/BitcoinTool.B!DNS".
---@field purpose string The part of the type before ":", e.g. "CryptoCurrency".
---@field resource_kind string The part of the type between ":" and "/": "EC2", "IAMUser", "Kubernetes", "S3", ...
---@field family string The part of the type after "/", without "!artifact", e.g. "BitcoinTool.B".
---@field artifact string? The part of the type after "!", e.g. "DNS"; nil when absent.
---@field severity number The numeric severity; 0 when absent.
---@field severity_label SeverityLabel LOW/MEDIUM/HIGH/CRITICAL by severity, UNKNOWN when absent.
---@field title string The finding's title.
---@field description string The finding's description.
---@field account string The account the finding is about (detail.accountId, else the envelope's account).
---@field event_account string? The envelope's `account` (the account that delivered the event).
---@field region string The AWS region.
---@field partition string The AWS partition ("aws", "aws-cn", "aws-us-gov").
---@field resource_type string? detail.resource.resourceType, e.g. "Instance", "AccessKey", "S3Bucket".
---@field action_type string? detail.service.action.actionType, e.g. "AWS_API_CALL", "DNS_REQUEST".
---@field count integer How often GuardDuty saw the activity; 1 when absent.
---@field first_seen string? When the activity was first seen (ISO-8601).
---@field last_seen string? When the activity was last seen (ISO-8601).
---@field created_at string? When the finding was created (ISO-8601).
---@field updated_at string? When the finding was last updated (ISO-8601).
---@field archived boolean Whether the finding is archived in GuardDuty.
---@field sample boolean Whether this is a GuardDuty sample finding.
---@field console_url string A link to the finding in the GuardDuty console (partition-aware).
---@field resource string? A short summary of the affected resource, e.g. "i-0abc (EC2 instance)".
---@field detail table The whole finding as Lua values (JSON null is json.null; arrays stay arrays); built on first read.

---The evaluation context.
---@class Ctx
---@field now integer The evaluation time in whole Unix seconds (pinned by `router test --now`).
---@field mode "test"|"live"|"bench"|string "test" in dry runs (`router test`), "live" in `router send`.

---@alias MentionName
---| "here" | "@here" | "channel" | "@channel" | "everyone" | "@everyone"
---| string # a user ID U.../W... (with or without @), a user-group ID S..., or <!here>, <@U...>, <!subteam^S...>

---One message to post. A delivery has exactly these keys; any other key is a rule error.
---@class Delivery
---@field channel? string "#name" or a channel ID; required unless `to` is given.
---@field mention? MentionName|MentionName[] Who to notify: one mention or an array of them.
---@field format? "detailed"|"compact"|string "detailed" (default), "compact", or a name from some file's `formats`.
---@field to? string A destination name (SLACK_WEBHOOK_URL_<NAME>); default "default".
---@field continue? boolean true lets later files' routes add deliveries too.
---@field on_update? "thread"|"update"|"repost"|"ignore" What a later event of the same finding does in this channel (default: "thread" with a bot token, "ignore" with a webhook).
---@field actions? FindingAction|FindingAction[] Buttons on the message (needs a bot token and SLACK_SIGNING_SECRET); who may click them is `permit`'s decision.
---@field suppress_by? SuppressCriterion|SuppressCriterion[] What the suppression rule of the "suppress" button matches (default: type, account, resource).

---@alias FindingAction
---| "ack"        # Acknowledge: shows who did; a second click by the same person takes it back
---| "archive"    # Archive in GuardDuty (the button becomes Unarchive)
---| "useful"     # GuardDuty feedback: useful
---| "not_useful" # GuardDuty feedback: not useful
---| "suppress"   # Create a GuardDuty suppression rule (archive automatically) for findings like this one

---@alias SuppressCriterion "type"|"account"|"region"|"resource"|"action_type"

---Who clicked a button, as Slack names them.
---@class ActionUser
---@field id string The Slack user ID (U... or W...).
---@field name? string The Slack user name.
---@field team? string The Slack team (workspace) ID.

---Who may act on a finding: true allows, false (optionally with a reason) denies, nil has no opinion. Files run in
---order; the first false denies; without any true the click is denied. `f` is the finding as it was last routed.
---@alias PermitFn fun(action: FindingAction|"unarchive", user: ActionUser, f: Finding, ctx: Ctx): boolean?, string?

---A filter: true keeps the finding, false (optionally with a reason) drops it.
---@alias FilterFn fun(f: Finding, ctx: Ctx): boolean, string?

---A route: nil (not mine), one delivery, or an array of deliveries (at most 50 per finding).
---@alias RouteFn fun(f: Finding, ctx: Ctx): Delivery|Delivery[]|nil

---What a format returns: the text, or a table with text and optionally Block Kit blocks and attachments.
---@class FormatResult
---@field text string
---@field blocks? table[]
---@field attachments? table[]

---A custom format: called with the delivery it renders; the router adds the channel and the mentions.
---@alias FormatFn fun(f: Finding, ctx: Ctx, d: Delivery): string|FormatResult

---What every rule file returns; any other key is a load error.
---@class RuleFile
---@field filter? FilterFn
---@field route? RouteFn
---@field formats? table<string, FormatFn> Format names must be unique across all files.
---@field permit? PermitFn

---JSON helpers.
json = {}

---Encodes a Lua value as JSON text.
---@param value any
---@return string
function json.encode(value) end

---Decodes JSON text; JSON null becomes json.null.
---@param text string
---@return any
function json.decode(text) end

---Marks a table as a JSON array (so an empty table encodes as []).
---@generic T: table
---@param t T
---@return T
function json.array(t) end

---The value JSON null converts to (and from); compare with `v == json.null`.
---@type lightuserdata
json.null = nil

---Slack helpers.
slack = {}

---Escapes &, < and > so finding text can never inject a mention or a link.
---@param s string
---@return string
function slack.escape(s) end

-- The sandbox's os has only time, date and clock (.luarc.json disables LuaLS's builtin os library).

---@class osdate
---@field year integer
---@field month integer 1-12
---@field day integer 1-31
---@field hour integer 0-23
---@field min integer 0-59
---@field sec integer 0-61
---@field wday integer weekday, 1 = Sunday
---@field yday integer day of the year, 1-366
---@field isdst boolean

---@class oslib
os = {}

---Unix seconds now, or of the given date table.
---@param date? osdate|table
---@return integer
function os.time(date) end

---Formats a time ("!" prefix for UTC). With "*t" or "!*t" returns a table, e.g. os.date("!*t", ctx.now).hour.
---The time must be integral: a number with a fraction is an error.
---@param format? string
---@param time? number
---@return string|osdate
---@overload fun(format: "*t"|"!*t", time?: number): osdate
function os.date(format, time) end

---CPU time used, in seconds.
---@return number
function os.clock() end

-- Base functions the sandbox removes (LuaLS cannot disable single base functions, so they are marked here).

---@deprecated Not available in the router's sandbox.
function load() end
---@deprecated Not available in the router's sandbox.
function loadstring() end
---@deprecated Not available in the router's sandbox.
function dofile() end
---@deprecated Not available in the router's sandbox.
function loadfile() end
---@deprecated Not available in the router's sandbox.
function collectgarbage() end
---@deprecated Not available in the router's sandbox.
function rawset() end
---@deprecated Not available in the router's sandbox.
function setmetatable() end
