-- Routes by what the finding is about. The first route that returns deliveries ends routing
-- (unless a delivery says `continue = true`).

-- Slack user-group IDs (S...) of the on-call rotations; mention them for HIGH and above.
local oncall = {
  platform = "S0PLATFORM1",
  identity = "S0IDENTITY1",
  data = "S0DATAOPS01",
}

-- Accounts whose findings go to the owning team's channel as well.
local account_channels = {
  ["111122223333"] = "#team-payments-security",
}

local function high(f)
  return f.severity >= 7
end

-- The buttons on team messages: who may use them is decided in 30-permit.lua.
local buttons = { "ack", "archive", "useful", "not_useful", "suppress" }

return {
  route = function(f, ctx)
    local deliveries = {}
    local function add(d)
      deliveries[#deliveries + 1] = d
    end

    if f.purpose == "CryptoCurrency" then
      add({ channel = "#sec-crypto", mention = high(f) and { oncall.platform } or nil, actions = buttons })
    elseif f.resource_kind == "Kubernetes" or f.resource_kind == "EKS" or f.resource_kind == "ECS"
      or f.resource_kind == "Container" or f.resource_kind == "Runtime" then
      add({ channel = "#sec-containers", mention = high(f) and { oncall.platform } or nil, actions = buttons })
    elseif f.resource_kind == "IAMUser" or f.resource_kind == "IAM" then
      add({ channel = "#sec-identity", mention = high(f) and { oncall.identity } or nil, actions = buttons })
    elseif f.resource_kind == "S3" or f.resource_kind == "RDS" then
      add({ channel = "#sec-data", mention = high(f) and { oncall.data } or nil, actions = buttons })
    end

    local team = account_channels[f.account]
    if team then
      add({ channel = team, format = "compact" })
    end

    if #deliveries > 0 then
      return deliveries
    end
  end,
}
