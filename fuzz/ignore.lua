-- Fuzz check for ocibuild.build.ignore: a .dockerignore text is read
-- without raising, into patterns of one line each (not always clean:
-- Docker's reader leaves "\r/x" from "/\r/x", and its matcher trims again)
-- that compile or are refused with BADPATTERN; without
-- exceptions, the matcher's per-path and walk answers agree on paths made
-- from the input.
local core = require "ocibuild.core"
local ignore = require "ocibuild.build.ignore"

return function(s)
  local list, err, code = ignore.parse(s, "fuzz")
  if not list then
    assert(code == "BADPATTERN" and not err:find("\n", 1, true), "bad failure")
    return
  end
  for _, e in ipairs(list) do
    assert(not e.pattern:find("\n", 1, true) and e.pattern ~= "", "bad pattern read")
  end
  local m, why, code2 = ignore.compile(list, {})
  if not m then
    assert(code2 == "BADPATTERN", "compile failed otherwise: " .. tostring(why))
    return
  end
  for _, e in ipairs(list) do
    if e.pattern:sub(1, 1) == "!" then return end
  end
  for word in s:gmatch("[%w%.%-_/]+") do
    local p = ignore.clean(word):gsub("^/+", "")
    if p ~= "" and p ~= "." and p:sub(1, 2) ~= ".." then
      local per_path = m:matches(p)
      local state, excluded
      local prefix = ""
      for comp in p:gmatch("[^/]+") do
        prefix = prefix == "" and comp or (prefix .. "/" .. comp)
        excluded, state = m:walk(prefix, state)
      end
      assert(per_path == excluded, "per-path and walk answers differ for " .. p)
    end
  end
  assert(core.matcher({}))
end
