-- Differential spec: BuildKit's own test data run through ocibuild's
-- Dockerfile parser and shell lexer, when OCIBUILD_BUILDKIT_SRC names a
-- checkout of BuildKit's tree (or the frontend/dockerfile part of it:
--   git -C BUILDKIT archive HEAD frontend/dockerfile | tar -x -C DIR).
-- The files are BuildKit's and are not part of ocibuild; without them the
-- spec is pending. What applies: every parser test file must parse to
-- its `result` (BuildKit's Node.Dump; files with RUN are only parsed),
-- every negative one must fail; every row of shell/envVarTest marked A
-- (all systems) or U (Unix) must expand as listed (W rows are Windows
-- only); every line of shell/wordsTest must split as listed.
local parser = require "ocibuild.dockerfile.parser"
local shell = require "ocibuild.dockerfile.shell"
local text = require "ocibuild.dockerfile.text"
local T = require "support"

local SRC = os.getenv("OCIBUILD_BUILDKIT_SRC")
local DIR = SRC and SRC .. "/frontend/dockerfile"

local function missing()
  if not SRC or SRC == "" then
    return "OCIBUILD_BUILDKIT_SRC is not set (a checkout of github.com/moby/buildkit; see the spec's header)"
  end
  if not T.exists(DIR .. "/shell/envVarTest") then
    return ("OCIBUILD_BUILDKIT_SRC=%s holds no frontend/dockerfile/shell/envVarTest"):format(SRC)
  end
end

local function list(dir)
  local out = {}
  for name in T.must("ls " .. T.q(dir)):gmatch("[^\n]+") do out[#out + 1] = name end
  return out
end

-- Figures for the report, printed once at the end.
local figures = {}

describe("BuildKit's test data", function()
  teardown(function()
    if next(figures) then
      io.stderr:write("\nBuildKit data: ", table.concat(figures, "; "), "\n")
    end
  end)

  it("parser testfiles: each Dockerfile parses to its result", function()
    local why = missing()
    if why then return pending(why) end
    local names, fails, with_run = list(DIR .. "/parser/testfiles"), {}, 0
    for _, name in ipairs(names) do
      local src = T.read(DIR .. "/parser/testfiles/" .. name .. "/Dockerfile")
      local want = T.read(DIR .. "/parser/testfiles/" .. name .. "/result")
      local tree, err = parser.parse(src, name)
      local got
      if tree then
        local parts = {}
        for _, n in ipairs(tree.nodes) do
          parts[#parts + 1] = parser.dump(n)
          if n.cmd:lower() == "run" then with_run = with_run + 1 end
        end
        got = table.concat(parts, "\n") .. "\n"
      end
      if got ~= want then fails[#fails + 1] = ("%s: %s"):format(name, err or "dump differs") end
    end
    figures[#figures + 1] = ("parser testfiles %d/%d (%d RUN lines only parsed)"):format(#names - #fails,
      #names, with_run)
    assert.is_true(#names >= 30)
    assert(#fails == 0, table.concat(fails, "\n"))
  end)

  it("parser testfiles-negative: each Dockerfile is refused", function()
    local why = missing()
    if why then return pending(why) end
    local names, fails = list(DIR .. "/parser/testfiles-negative"), {}
    for _, name in ipairs(names) do
      local tree, err = parser.parse(T.read(DIR .. "/parser/testfiles-negative/" .. name .. "/Dockerfile"), name)
      if tree then fails[#fails + 1] = name .. " parsed" end
      if err then assert.matches("^" .. name:gsub("%p", "%%%0") .. ":%d+: ", err) end
    end
    figures[#figures + 1] = ("negative testfiles %d/%d"):format(#names - #fails, #names)
    assert.is_true(#names >= 4)
    assert(#fails == 0, table.concat(fails, "\n"))
  end)

  it("shell envVarTest: every Unix row expands as listed", function()
    local why = missing()
    if why then return pending(why) end
    local lex = shell.new("\\")
    local env = { PWD = "/home", SHELL = "bash", KOREAN = "\237\149\156\234\181\173\236\150\180", NULL = "" }
    local n, windows, fails = 0, 0, {}
    for line in io.lines(DIR .. "/shell/envVarTest") do
      if line:sub(1, 1) ~= "#" and text.trim(line) ~= "" then
        local p, src, want = line:match("^([^|]*)|([^|]*)|([^|]*)$")
        p, src, want = text.trim(p), text.trim(src), text.trim(want)
        if p == "W" then
          windows = windows + 1
        else
          n = n + 1
          local got, err = lex:word(src, env)
          if not ((want == "error" and got == nil) or got == want) then
            fails[#fails + 1] = ("%s: want %s, got %s"):format(src, want, tostring(got or err))
          end
        end
      end
    end
    figures[#figures + 1] = ("envVarTest %d/%d (%d Windows-only rows do not apply)"):format(n - #fails, n, windows)
    assert.is_true(n >= 200)
    assert(#fails == 0, table.concat(fails, "\n"))
  end)

  it("shell wordsTest: every line splits as listed", function()
    local why = missing()
    if why then return pending(why) end
    local lex = shell.new("\\")
    local env, n, fails = {}, 0, {}
    for line in io.lines(DIR .. "/shell/wordsTest") do
      if line:sub(1, 4) == "ENV " then
        local k, v = line:sub(4):gsub("^ +", ""):match("^([^=]*)=?(.*)$")
        env[k] = v
      elseif line:sub(1, 1) ~= "#" then
        local a, b = line:match("^([^|]*)|([^|]*)$")
        local want = {}
        for w in (b:gsub("^ +", "") .. ","):gmatch("([^,]*),") do want[#want + 1] = w end
        local got = lex:words(text.trim(a), env) or { "error" }
        n = n + 1
        if table.concat(got, ",") ~= table.concat(want, ",") or #got ~= #want then
          fails[#fails + 1] = ("%s: want %s, got %s"):format(a, table.concat(want, "|"), table.concat(got, "|"))
        end
      end
    end
    figures[#figures + 1] = ("wordsTest %d/%d"):format(n - #fails, n)
    assert.is_true(n >= 20)
    assert(#fails == 0, table.concat(fails, "\n"))
  end)
end)
