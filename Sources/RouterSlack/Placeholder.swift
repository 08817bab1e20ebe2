// RouterSlack
