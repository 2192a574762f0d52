--- Dockerfile text into a parse tree, as BuildKit's
-- frontend/dockerfile/parser reads it: parser directives (syntax, escape,
-- check) before anything else, comments, line continuations with the
-- escape character, flags (--name=value words first), per-instruction
-- argument forms (JSON exec form, falling back to shell form when the JSON
-- is not an array; key=value pairs; words; one string; ONBUILD's
-- sub-instruction), and heredocs on ADD, COPY and RUN.
--
-- parse(text, file) returns {nodes = {node...}, escape = "\\" | "`",
-- warnings = {...}}; a node is {cmd = "COPY" (as written), flags =
-- {"--from=a"}, args = {string | {sub = node}}, json = bool, original =
-- (the joined line), heredocs = {{name=, expand=, chomp=, content=}},
-- line = (first line, 1-based), end_line = (last line)}. dump(node) is
-- BuildKit's Node.Dump (the form of its parser test files).
-- Failures: nil, "FILE:LINE: message", "BADDOCKERFILE".
local forms = require "ocibuild.dockerfile.forms"
local shell = require "ocibuild.dockerfile.shell"
local text = require "ocibuild.dockerfile.text"

local M = {}

M.CODE = "BADDOCKERFILE"

-- bufio.Scanner's limit: a line of this many bytes or more is refused.
local MAX_LINE = 65536
-- The most instructions a Dockerfile may hold (BuildKit has no bound):
-- each costs a config entry, and a config passing 4 MiB is refused later.
M.MAX_INSTRUCTIONS = 10000

local TOO_LONG = ("dockerfile line greater than max allowed size of %d"):format(MAX_LINE - 1)

local DIRECTIVES = { syntax = true, escape = true, check = true }

-- Instructions that may carry heredocs (and ONBUILD, holding one).
local HEREDOC = { add = true, copy = true, run = true }

-- ---- the escape character and directives ----

local function new_state()
  return { escape = "\\", seen = {}, done = false, line = 0 }
end

-- Looks for a parser directive on line; returns true when it was one,
-- or nil, msg.
local function directive(d, line)
  d.line = d.line + 1
  if d.done then return false end
  if line:sub(1, 1) ~= "#" then
    d.done = true
    return false
  end
  local rest = text.trim_left(line:sub(2))
  local k, v = rest:match("^(%a[%w]*)%s*=%s*(.-)%s*$")
  if not k or v == "" then
    d.done = true
    return false
  end
  k = k:lower()
  if not DIRECTIVES[k] then
    d.done = true
    return false
  end
  if d.seen[k] then return nil, ("only one %s parser directive can be used"):format(k), "BADDOCKERFILE" end
  d.seen[k] = v
  if k == "escape" then
    if v ~= "`" and v ~= "\\" then
      return nil, ("invalid escape token '%s' does not match ` or \\"):format(v), "BADDOCKERFILE"
    end
    d.escape = v
  end
  return true
end

local function is_comment(line)
  return text.trim_left(line):sub(1, 1) == "#"
end

local function trim_newline(s)
  return (s:gsub("[\r\n]+$", ""))
end

-- A line as read (newline cut, left white space cut when strip): its
-- text (nil for a comment) and whether it was a directive.
local function process_line(d, raw, strip)
  local line = trim_newline(raw)
  if strip then line = text.trim_left(line) end
  local ok, err = directive(d, line)
  if ok == nil then return nil, nil, err end
  if is_comment(line) then return nil, ok end -- not a failure: no text, a comment
  return line, ok
end

-- Cuts a line-continuation escape at the end: the line and whether the
-- instruction ends here.
local function trim_continuation(d, line)
  if not line then return "", true end
  local e = d.escape
  local pe = e:gsub("%p", "%%%0")
  local only = line:match("^" .. pe .. "[ \t]*$")
  if only then return "", false end
  local before = line:match("^(.*[^" .. pe .. "])" .. pe .. "[ \t]*$")
  if before then return before, false end
  return line, true
end

local PARSERS
local node_from_line

PARSERS = {
  add = function(rest) return forms.maybe_json_list(rest) end,
  copy = function(rest) return forms.maybe_json_list(rest) end,
  volume = function(rest) return forms.maybe_json_list(rest) end,
  cmd = function(rest) return forms.maybe_json(rest) end,
  entrypoint = function(rest) return forms.maybe_json(rest) end,
  run = function(rest) return forms.maybe_json(rest) end,
  shell = function(rest) return forms.maybe_json(rest) end,
  arg = function(rest, d) return forms.parse_words(rest, d.escape) end,
  env = function(rest, d) return forms.parse_name_val(rest, "ENV", d) end,
  label = function(rest, d) return forms.parse_name_val(rest, "LABEL", d) end,
  expose = function(rest) return rest == "" and {} or forms.split_ws(rest) end,
  from = function(rest) return rest == "" and {} or forms.split_ws(rest) end,
  maintainer = function(rest) return rest == "" and {} or { rest } end,
  stopsignal = function(rest) return rest == "" and {} or { rest } end,
  user = function(rest) return rest == "" and {} or { rest } end,
  workdir = function(rest) return rest == "" and {} or { rest } end,
  healthcheck = function(rest)
    local sep = 1
    while sep <= #rest and not forms.byte_space(rest:sub(sep, sep)) do sep = sep + 1 end
    local nx = sep
    while nx <= #rest and forms.byte_space(rest:sub(nx, nx)) do nx = nx + 1 end
    if sep == 1 then return {} end
    local cmd, isjson = forms.maybe_json(rest:sub(nx))
    if not cmd then return nil, isjson, "BADDOCKERFILE" end
    table.insert(cmd, 1, rest:sub(1, sep - 1))
    return cmd, isjson
  end,
  onbuild = function(rest, d)
    if rest == "" then return {} end
    local child, err = node_from_line(rest, d)
    if not child then return nil, err, "BADDOCKERFILE" end
    return { { sub = child } }
  end,
}

--- One instruction line into a node (without its heredocs and lines).
function node_from_line(line, d)
  local parts = forms.split2(text.trim(line))
  local cmd, flags, rest = parts[1], {}, ""
  if #parts == 2 then rest, flags = forms.builder_flags(parts[2], d) end
  rest = text.trim(rest)
  local fn = PARSERS[cmd:lower()]
  local args, isjson = { "" }, false -- an unknown instruction keeps one empty word
  if fn then
    local err
    args, err = fn(rest, d)
    if not args then return nil, err, "BADDOCKERFILE" end
    isjson = err == true
  end
  return { cmd = cmd, flags = flags, args = args, json = isjson, original = line, heredocs = {},
    known = fn ~= nil }
end

-- The heredoc a word starts, or nil (ParseHeredoc).
function M.heredoc(word)
  local fd, chomp, rest = word:match("^(%d*)<<(%-?)[\t\n\f\r ]*([^<]*)$")
  if not fd or rest == "" then return nil end
  local lex = shell.new("\\")
  lex.skip_unset = true
  local words, err = lex:words(rest, {})
  if not words then return nil, err, "BADDOCKERFILE" end
  if #words ~= 1 then return nil end
  lex.raw_quotes = true
  local raw = lex:words(rest, {})
  local function quotes(s) return select(2, s:gsub("['\"]", "")) end
  return { name = words[1], chomp = chomp == "-", expand = quotes(words[1]) == quotes(raw[1]),
    fd = tonumber(fd) }
end

local function heredocs_of(line)
  local lex = shell.new("\\")
  lex.raw_quotes, lex.raw_escapes, lex.skip_unset = true, true, true
  local docs = {}
  for _, w in ipairs(lex:words(line, {}) or {}) do
    local h, err = M.heredoc(w)
    if err then return nil, err, "BADDOCKERFILE" end
    if h then docs[#docs + 1] = h end
  end
  return docs
end

local function can_heredoc(node)
  if node.cmd:lower() == "onbuild" and node.args[1] and type(node.args[1]) == "table" then
    node = node.args[1].sub
  end
  return HEREDOC[node.cmd:lower()] and not node.json
end

--- Leading tabs cut from each line of a heredoc (<<-).
function M.chomp(s)
  return (("\n" .. s):gsub("\n\t+", "\n"):sub(2))
end


--- Parses text (the file's bytes; file names it in messages).
function M.parse(src, file)
  file = file or "Dockerfile"
  local function fail(line, msg) return nil, ("%s:%d: %s"):format(file, line, msg), M.CODE end
  local d = new_state()
  local nodes, warnings = {}, {}
  local pos, cur = 1, 0
  -- the next line, with its newline (read as needed: the file's lines are
  -- never all held at once)
  local function scan()
    if pos > #src then return nil end
    local nl = src:find("\n", pos, true) or #src
    local l = src:sub(pos, nl)
    pos = nl + 1
    if #trim_newline(l) >= MAX_LINE then return nil, true end -- not a failure: the caller says it
    return l
  end
  while true do
    local raw, long = scan()
    if long then return fail(cur + 1, TOO_LONG) end
    if not raw then break end
    if d.done and (raw == "\n" or raw == "\r\n") then -- a blank line, quickly
      cur = cur + 1
      goto next
    end
    if cur == 0 and raw:sub(1, 3) == "\239\187\191" then raw = raw:sub(4) end
    local line, _, err = process_line(d, raw, true)
    if err then return fail(cur + 1, err) end
    cur = cur + 1
    local start = cur
    local done
    line, done = trim_continuation(d, line)
    if not (done and line == "") then
      local buf, empty_cont = { line }, false
      while not done do
        local nraw
        nraw, long = scan()
        if long then return fail(cur + 1, TOO_LONG) end
        if not nraw then break end
        local l
        l, _, err = process_line(d, nraw, false)
        if err then return fail(cur + 1, err) end
        cur = cur + 1
        if not is_comment(nraw) then
          if text.trim_left(trim_newline(nraw)) == "" then
            empty_cont = true
          else
            l, done = trim_continuation(d, l)
            buf[#buf + 1] = l
          end
        end
      end
      local full = table.concat(buf)
      if empty_cont then
        warnings[#warnings + 1] = { line = cur, message = "empty continuation line found in: " .. full }
      end
      local node
      node, err = node_from_line(full, d)
      if not node then return fail(start, err) end
      if can_heredoc(node) and full:find("<<", 1, true) then
        local docs
        docs, err = heredocs_of(full)
        if not docs then return fail(start, err) end
        for _, h in ipairs(docs) do
          local from, to, ended = pos, pos - 1, false
          while true do
            local hl
            hl, long = scan()
            if long then return fail(cur + 1, TOO_LONG) end
            if not hl then break end
            cur = cur + 1
            local term = trim_newline(hl)
            if h.chomp then term = term:gsub("^\t+", "") end
            if term == h.name then
              ended = true
              break
            end
            to = pos - 1
          end
          if not ended then return fail(start, "unterminated heredoc") end
          h.content = src:sub(from, to)
          node.heredocs[#node.heredocs + 1] = h
        end
      end
      node.line, node.end_line = start, cur
      if #nodes >= M.MAX_INSTRUCTIONS then
        return fail(start, ("more than %d instructions"):format(M.MAX_INSTRUCTIONS))
      end
      nodes[#nodes + 1] = node
    end
    ::next::
  end
  if #nodes == 0 then return fail(math.max(cur, 1), "file with no instructions") end
  return { nodes = nodes, escape = d.escape, warnings = warnings, directives = d.seen }
end

--- BuildKit's Node.Dump of one instruction: (cmd ["--flags"] "arg" ...).
function M.dump(node)
  local out = { node.cmd:lower() }
  if #node.flags > 0 then
    local q = {}
    for i, f in ipairs(node.flags) do q[i] = text.quote(f) end
    out[#out + 1] = " [" .. table.concat(q, " ") .. "]"
  end
  for _, a in ipairs(node.args) do
    if type(a) == "table" then
      out[#out + 1] = " " .. M.dump(a.sub)
    else
      out[#out + 1] = " " .. text.quote(a)
    end
  end
  return "(" .. text.trim(table.concat(out)) .. ")"
end

return M
