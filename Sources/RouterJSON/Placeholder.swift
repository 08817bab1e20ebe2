// RouterJSON
