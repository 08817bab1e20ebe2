// RouterRules
