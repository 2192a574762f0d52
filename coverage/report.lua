--- Lua line coverage from the counts coverage/lcount.lua wrote:
--   lua5.4 coverage/report.lua LUA_ROOT COUNTS_DIR [-v]
-- A line counts as code when luac puts an instruction on it; prints each
-- file's share of such lines run, the total, and with -v the lines never run.
local root, dir, verbose = arg[1], arg[2], arg[3] == "-v"

local function lines_of(cmd)
  local p = assert(io.popen(cmd))
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

local hits = {}
for _, f in ipairs(lines_of(("find %q -name '*.cov'"):format(dir))) do
  for l in io.lines(f) do
    local file, line, n = l:match("^(.-)\t(%d+)\t(%d+)$")
    if file then
      hits[file] = hits[file] or {}
      hits[file][tonumber(line)] = (hits[file][tonumber(line)] or 0) + tonumber(n)
    end
  end
end

-- (lua/meta holds type stubs for the language server: never run)
local files = lines_of(("find %q -name '*.lua' -not -path '*/meta/*' | LC_ALL=C sort"):format(root))
local total, run = 0, 0
for _, file in ipairs(files) do
  local code = {}
  for _, l in ipairs(lines_of(("luac5.4 -l -l -p %q"):format(file))) do
    -- (a vararg function's VARARGPREP runs before any line hook)
    local n = l:match("^%s+%d+%s+%[(%d+)%]")
    if n and not l:find("VARARGPREP", 1, true) then code[tonumber(n)] = true end
  end
  local ncode, nrun, missed = 0, 0, {}
  local h = hits[file] or {}
  for line in pairs(code) do
    ncode = ncode + 1
    if h[line] then nrun = nrun + 1 else missed[#missed + 1] = line end
  end
  table.sort(missed)
  total, run = total + ncode, run + nrun
  print(("%6.1f%%  %4d/%-4d  %s"):format(ncode > 0 and 100 * nrun / ncode or 100, nrun, ncode, file:sub(#root + 2)))
  if verbose and #missed > 0 then print("         not run: " .. table.concat(missed, " ")) end
end
print(("%6.1f%%  %d of %d lines of Lua run"):format(100 * run / total, run, total))
