--- Support for the .dockerignore differential spec: builds and drives the
-- Go helper (spec/diff/dockerignore-ref, Docker's own code), computes
-- ocibuild's answers to the same questions, and lists the differences.
local core = require "ocibuild.core"
local ignore = require "ocibuild.build.ignore"
local T = require "support"

local M = {}

local REF_SRC = T.root .. "/spec/diff/dockerignore-ref"

local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
local function unhex(h) return (h:gsub("%x%x", function(x) return string.char(tonumber(x, 16)) end)) end
function M.show(s) return (("%q"):format(s):gsub("\\\n", "\\n")) end

-- Builds the Go helper once (GOPATH mode, offline, Debian's /usr/share/gocode).
local ref_bin, ref_why
function M.ref()
  if ref_bin or ref_why then return ref_bin, ref_why end
  if T.sh("command -v go") ~= 0 then
    ref_why = "go is not installed (scripts/setup installs golang-go): differential spec not run"
    return nil, ref_why
  end
  local out = T.build .. "/dockerignore-ref"
  local cmd = ("cd %s && env GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOPROXY=off "
    .. "GOCACHE=%s go build -o %s .")
    :format(T.q(REF_SRC), T.q(T.build .. "/go-cache"), T.q(out))
  T.must(cmd)
  ref_bin = out
  return ref_bin
end


-- Asks the helper about a list of {text, paths} cases; its answers per case.
function M.ask(bin, list)
  local req = {}
  for _, c in ipairs(list) do
    req[#req + 1] = "C " .. hex(c[1])
    for _, p in ipairs(c[2]) do req[#req + 1] = "P " .. hex(p) end
  end
  local inf = os.tmpname()
  local f = assert(io.open(inf, "wb"))
  f:write(table.concat(req, "\n"), "\n")
  f:close()
  local code, out, err = T.sh(T.q(bin) .. " batch < " .. T.q(inf))
  os.remove(inf)
  assert(code == 0, "dockerignore-ref failed: " .. err)
  local answers, cur = {}, nil
  for line in out:gmatch("[^\n]+") do
    local tag, rest = line:match("^(%u+) ?(.*)$")
    if tag == "R" or tag == "RERR" then
      cur = { paths = {} }
      answers[#answers + 1] = cur
      if tag == "RERR" then
        cur.read_error = unhex(rest)
      else
        cur.patterns = {}
        for h in rest:gmatch("%x+") do cur.patterns[#cur.patterns + 1] = unhex(h) end
        if rest == "" then cur.patterns = {} end
      end
    elseif tag == "NERR" then
      cur.new_error = unhex(rest)
    elseif tag == "BAD" then
      cur.bad = tonumber(rest) + 1
    elseif tag == "OK" then
      cur.ok = true
    elseif tag == "A" then
      local a, b, z = rest:match("^(%S) (%S) (%S)$")
      cur.paths[#cur.paths + 1] = { a, b, z }
    end
  end
  assert(#answers == #list, ("helper answered %d cases of %d"):format(#answers, #list))
  return answers
end

local function bit(b) return b and "1" or "0" end

-- ocibuild's answers for one path: per path; walk chained over the
-- components from the top (as strings.Split cuts them); no parent state.
local function ours(m, path)
  local a = m:matches(path)
  local state, b
  local parts, start = {}, 1
  while true do
    local i = path:find("/", start, true)
    if not i then
      parts[#parts + 1] = path
      break
    end
    parts[#parts + 1] = path:sub(1, i - 1)
    start = i + 1
  end
  for _, prefix in ipairs(parts) do b, state = m:walk(prefix, state) end
  local z = m:walk(path)
  return { bit(a), bit(b), bit(z) }
end

local function same_list(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- Compares ocibuild with the helper's answers; returns the differences (as
-- readable lines) and counts of what was compared.
function M.compare(list, answers)
  local diffs, n = {}, { cases = 0, paths = 0, errors = 0 }
  local function diff(c, fmt, ...)
    diffs[#diffs + 1] = ("case %s: " .. fmt):format(M.show(c[1]), ...)
  end
  for k, c in ipairs(list) do
    local want = answers[k]
    n.cases = n.cases + 1
    local parsed, perr = ignore.parse(c[1])
    if want.read_error then
      if parsed then diff(c, "Docker's reader fails (%s), ocibuild's does not", want.read_error) end
      n.errors = n.errors + 1
      goto continue
    end
    local docker_fails = want.new_error or want.bad
    if not parsed then
      if not docker_fails then diff(c, "ocibuild's reader fails: %s", perr) end
      n.errors = n.errors + 1
      goto continue
    end
    do
      local got = {}
      for i, e in ipairs(parsed) do got[i] = e.pattern end
      if not same_list(got, want.patterns) then
        diff(c, "patterns %s, Docker reads %s", M.show(table.concat(got, "|")),
          M.show(table.concat(want.patterns, "|")))
        goto continue
      end
      local m, err, code, bad = core.matcher(got)
      if docker_fails then
        n.errors = n.errors + 1
        if m then
          diff(c, "Docker rejects it (%s), ocibuild accepts it", want.new_error or ("pattern " .. want.bad))
        elseif code ~= "BADPATTERN" then
          diff(c, "error code %s", tostring(code))
        elseif want.bad and bad ~= want.bad then
          diff(c, "ocibuild rejects pattern %d, Docker pattern %d", bad, want.bad)
        end
        goto continue
      end
      if not m then
        -- the one documented refusal: Unicode classes in Docker's regexp
        if not err:find("unsupported: Unicode classes", 1, true) then
          diff(c, "ocibuild rejects it: %s", err)
        end
        goto continue
      end
      for i, p in ipairs(c[2]) do
        local got3, want3 = ours(m, p), want.paths[i]
        n.paths = n.paths + 1
        for j, what in ipairs { "per-path", "walk", "no-parent walk" } do
          if got3[j] ~= want3[j] then
            diff(c, "path %s: %s answer %s, Docker %s", M.show(p), what, got3[j], want3[j])
          end
        end
      end
    end
    ::continue::
  end
  return diffs, n
end

-- Strings for Clean and TrimSpace: path pieces and white space of all kinds.
local CLEAN_PIECES = { "a", "b", "é", ".", "..", "/", "/", "//", "...", ".a", "a.", " ", "\t",
  "\194\160", "\227\128\128", "\226\128\139", "\194\133", "\255", "\226\128", "\r", "\n",
  "\v", "!", "\239\187\191", "\226\128\128", "\225\154\128", "\226\128\168", "x y" }

function M.clean_inputs(seed, n)
  math.randomseed(seed)
  local list = { "", ".", "/", "..", "//", "./", "../", "/..", "a/..", "a/../..", "/a/../.." }
  for _ = 1, n do
    local parts = {}
    for _ = 1, math.random(0, 8) do parts[#parts + 1] = CLEAN_PIECES[math.random(#CLEAN_PIECES)] end
    list[#list + 1] = table.concat(parts)
  end
  return list
end

-- Go's filepath.Clean and strings.TrimSpace of each string: {clean, trim}.
function M.go_clean(bin, list)
  local req = {}
  for i, s in ipairs(list) do req[i] = hex(s) end
  local inf = os.tmpname()
  local f = assert(io.open(inf, "wb"))
  f:write(table.concat(req, "\n"), "\n")
  f:close()
  local code, out, err = T.sh(T.q(bin) .. " clean < " .. T.q(inf))
  os.remove(inf)
  assert(code == 0, "dockerignore-ref failed: " .. err)
  local res = {}
  for c, t in out:gmatch("(%x*) (%x*)\n") do res[#res + 1] = { unhex(c), unhex(t) } end
  assert(#res == #list, "helper answered " .. #res .. " of " .. #list)
  return res
end

function M.report(diffs)
  local head = {}
  for i = 1, math.min(#diffs, 30) do head[i] = diffs[i] end
  return ("%d differences:\n%s"):format(#diffs, table.concat(head, "\n"))
end

-- Generated cases, from a fixed seed (Lua 5.4's xoshiro256**).
local PAT_TOKENS = {
  "a", "a", "b", "b", "c", "é", ".", "-", " ", "*", "*", "**", "?", "/", "/", "/", "[a-c]",
  "[^b]", "[a]", "\\*", "\\.", "[[:alpha:]]", "\\d", "^", "$", "(", "+", "[!a]", "\\b", "]",
  "ab", ".a", "\\", "[*]", "{", "|", "\\Q", "\\E", "[b-a]", "!", "\255", "a b", "{2}",
  "{1,2}", "{0}", "{,}", "{1,}", "}", "\\x41", "\\w", "\\S", "\\B", "\\z", "[^/]",
  "[]a]", "[[:digit:]]", "A", "5", "**/", "/**", "[a-", "\\[", "x",
}
local SEGMENTS = { "a", "b", "c", "ab", "a.b", ".a", "é", "a b", "-", "[a]", "x", "ac", "aa",
  "a*", "b.c", "ba", "^", "$", "a$", "\255", "bc", "ca", "5", "_", "A", "a|b", "{", "aab",
  "a{2}", "]", "x5", "ab5" }

local function pick(t) return t[math.random(#t)] end

local function gen_pattern()
  local parts = {}
  for _ = 1, math.random(1, 5) do parts[#parts + 1] = pick(PAT_TOKENS) end
  local p = table.concat(parts)
  local r = math.random()
  if r < 0.3 then p = "!" .. p elseif r < 0.35 then p = "/" .. p elseif r < 0.4 then p = "./" .. p end
  if math.random() < 0.05 then p = " " .. p .. " " end
  return p
end

local function gen_path()
  local parts = {}
  for _ = 1, math.random(1, 4) do parts[#parts + 1] = pick(SEGMENTS) end
  return table.concat(parts, "/")
end

function M.generated(seed, ncases, npaths)
  math.randomseed(seed)
  local list = {}
  for _ = 1, ncases do
    local lines = {}
    for _ = 1, math.random(1, 4) do lines[#lines + 1] = gen_pattern() end
    local paths = {}
    for _ = 1, npaths do paths[#paths + 1] = gen_path() end
    list[#list + 1] = { table.concat(lines, "\n"), paths }
  end
  return list
end

-- Context trees: {ignore text (nil: no file), entries}; an entry is "dir/",
-- "file", "link -> target", "fifo|", or "sock=".
M.TREES = {
  { "a/c\n!a", { "a/b", "a/c/d", "a/c/e/f", "b" } },
  { "a\n!a/b/c/d", { "a/x", "a/b/y", "a/b/c/z", "a/b/c/d/e", "a/b/c/d/f/g", "a/b/c/dd" } },
  { "a\n!a/**/*.go", { "a/x.go", "a/b/y.go", "a/b/z.txt", "a/c/", "b.go" } },
  { "*\n!src\nsrc/**/*.test", { "src/a.go", "src/x/b.test", "src/x/c.go", "docs/r.md", "top" } },
  { "**/node_modules\n!**/node_modules/keep", { "node_modules/a/b.js", "node_modules/keep",
    "web/node_modules/x", "web/node_modules/keep/y", "web/app.js" } },
  { "build\n!docs", { "build/out", "build/docs/x", "docs/a" } },
  { "a\n!a/b\na", { "a/b", "a/c" } },
  { "a\n!a/b\na", { "a/b/c", "a/d/" } },
  { "*\n!.dockerignore\n!x", { "x", "y", "d/x" } },
  { "", { "a", "b/c", "d/" } },
  { nil, { "a", "b/c" } },
  { "\239\187\191# comment\r\n*.log\r\n!keep.log\r\n", { "a.log", "keep.log", "d/keep.log", "d/b" } },
  { "**\n!a/b", { "a/b/x", "a/b/y/z", "a/c", "a/bb", "c" } },
  { "**\n!a/b", { "a/b", "a/c", "c" } },
  { "a/*\n!a/b", { "a/b/d", "a/c/d", "a/e" } },
  { "a\n!a/b", { "a/b/c", "a/b/d/e", "a/x" } },
  { "-*\n!--keep\n* *", { "-a", "--keep", "a b", "é/x y", "é/z", ".hidden", "..dots" } },
  { "a\n!a/l", { "a/l -> ../b", "a/f", "b" } },
  { "p\n!p/q", { "p/q|", "p/r|", "s|" } },
  { "s", { "s/sock=", "t/sock=", "t/f" } },
  { "*.sock", { "a.sock=", "b" } },
  { "a/b/c\n!a", { "a/b/c/d", "a/b/x" } },
  { "a/c\n!a\n!a/c/d", { "a/c/d", "a/c/e" } },
  { "d*\n!d?/keep", { "d1/keep", "d1/drop", "d/keep", "dd/keep/x", "e" } },
  { "[a-b]*\n![a]/x", { "a/x", "a/y", "b/x", "c/x" } },
  { "**/*.tmp\n!**/important.tmp\ncache/**", { "x.tmp", "d/important.tmp", "cache/important.tmp",
    "cache/y", "cache/" } },
  { "*/\n!a/", { "a/b", "c/d", "e" } },
  { "x\n!x/y/", { "x/y/z", "x/q" } },
}

function M.make_tree(root, tree)
  if tree[1] then T.write(root .. "/.dockerignore", tree[1]) end
  for _, e in ipairs(tree[2]) do
    local name, target = e:match("^(.-) %-> (.*)$")
    if name then
      T.must(("mkdir -p %s && ln -s %s %s"):format(T.q((root .. "/" .. name):match("^(.*)/")),
        T.q(target), T.q(root .. "/" .. name)))
    elseif e:sub(-1) == "/" then
      T.must("mkdir -p " .. T.q(root .. "/" .. e))
    elseif e:sub(-1) == "|" then
      local p = root .. "/" .. e:sub(1, -2)
      T.must(("mkdir -p %s && mkfifo %s"):format(T.q(p:match("^(.*)/")), T.q(p)))
    elseif e:sub(-1) == "=" then
      local p = root .. "/" .. e:sub(1, -2)
      T.must(("mkdir -p %s && python3 -c %s %s"):format(T.q(p:match("^(.*)/")),
        T.q("import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])"), T.q(p)))
    else
      T.write(root .. "/" .. e, e)
    end
  end
end

local LETTER = { file = "f", dir = "d", symlink = "l", fifo = "p", chardev = "c", blockdev = "b" }

local function our_walk(root)
  -- read as a build reads a context's own file (a missing one is empty)
  local list, err, code = ignore.read(root .. "/.dockerignore", root)
  if not list then return nil, err, code end
  local m, explain = ignore.compile(list)
  if not m then return nil, explain, "BADPATTERN" end
  local w
  w, err, code = core.walk(root, m)
  if not w then return nil, err, code end
  local out = {}
  while true do
    local p, info, c = w:next()
    if not p then
      if info then return nil, info, c end
      break
    end
    if info.type ~= "socket" then out[#out + 1] = LETTER[info.type] .. " " .. p end
  end
  return out
end

local function docker_walk(bin, root)
  local code, out, err = T.sh(("%s walk %s %s"):format(T.q(bin), T.q(root), T.q(root .. "/.dockerignore")))
  if code ~= 0 then return nil, err end
  local list = {}
  for typ, h in out:gmatch("(%a) (%x*)\n") do list[#list + 1] = typ .. " " .. unhex(h) end
  return list
end

function M.compare_walks(bin, root, label, text)
  local want, werr = docker_walk(bin, root)
  local got, gerr, gcode = our_walk(root)
  if want and not got and gcode == "BADPATTERN" then
    -- Docker compiles a pattern when a path first reaches it; ocibuild
    -- checks every pattern up front. Docker must reject the list too.
    local a = M.ask(bin, { { text, {} } })[1]
    if a.read_error or a.new_error or a.bad then return {} end
  end
  if not want or not got then
    if want or got then
      return { ("%s: Docker %s, ocibuild %s"):format(label, want and "walks" or ("fails: " .. werr),
        got and "walks" or ("fails: " .. tostring(gerr))) }
    end
    return {}
  end
  if same_list(got, want) then return {} end
  return { ("%s:\n  ocibuild: %s\n  Docker:   %s"):format(label, table.concat(got, ", "),
    table.concat(want, ", ")) }
end

function M.random_tree(seed)
  math.randomseed(seed)
  local lines, entries = {}, {}
  for _ = 1, math.random(2, 6) do lines[#lines + 1] = gen_pattern() end
  local kind = {} -- path -> "dir" | "file", so that no file needs to be a directory
  for _ = 1, math.random(15, 40) do
    local p, ok = gen_path(), true
    local dir = math.random() < 0.15
    for q in p:gmatch("()/") do
      if kind[p:sub(1, q - 1)] == "file" then ok = false end
    end
    if kind[p] then ok = false end
    if ok then
      for q in p:gmatch("()/") do kind[p:sub(1, q - 1)] = "dir" end
      kind[p] = dir and "dir" or "file"
      entries[#entries + 1] = dir and p .. "/" or p
    end
  end
  return { table.concat(lines, "\n"), entries }
end

return M
