-- Drops what nobody should be paged for. Filters run in file order; the first `false` drops the finding.
-- Edit the tables below for your organisation.

-- Accounts where findings are expected (security tooling, red-team sandboxes): only HIGH and above get through.
local noisy_accounts = {
  ["444455556666"] = "red-team sandbox",
}

-- Finding types you have decided to ignore everywhere, with the reason shown in `router test`.
local ignored_types = {
  ["Policy:IAMUser/RootCredentialUsage"] = nil, -- example: set a reason string to ignore a type
}

return {
  filter = function(f, ctx)
    if f.archived then
      return false, "archived in GuardDuty"
    end
    local reason = ignored_types[f.type]
    if reason then
      return false, reason
    end
    local why = noisy_accounts[f.account]
    if why and f.severity < 7 then
      return false, "below HIGH in " .. why .. " account " .. f.account
    end
    -- LOW findings (below 4.0) are left to the GuardDuty console, except unknown new types, which we want to see.
    if f.severity_label == "LOW" then
      return false, "LOW severity"
    end
    return true
  end,
}
