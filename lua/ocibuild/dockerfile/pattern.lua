--- Shell patterns as BuildKit matches them in ${v#p}, ${v%p} and
-- ${v/p/r}: * (any run) and ? (one character), never a newline; a
-- backslash escapes *, ? and itself (and is dropped before } and /);
-- every other character is itself. BuildKit turns a pattern into a Go
-- regular expression; this matches the same way a backtracking engine
-- does (leftmost; lazy or greedy stars tried in order). Functions return
-- nil, msg on a bad pattern.
local text = require "ocibuild.dockerfile.text"

local M = {}

-- Tokens of a pattern: {any=true} (?), {star=true}, or a character.
local function compile(pattern)
  local toks, cs, i = {}, text.chars(pattern), 1
  while i <= #cs do
    local c = cs[i]
    if c == "*" then
      toks[#toks + 1] = { star = true }
    elseif c == "?" then
      toks[#toks + 1] = { any = true }
    elseif c == "\\" then
      local nx = cs[i + 1]
      -- the escape of } and / inside ${} is not part of the pattern
      if nx ~= "}" and nx ~= "/" then
        if nx ~= "*" and nx ~= "?" and nx ~= "\\" then
          return nil, ("invalid escape '\\%s'"):format(nx or ""), "BADDOCKERFILE"
        end
        toks[#toks + 1] = { ch = nx }
        i = i + 1
      end
    else
      toks[#toks + 1] = { ch = c }
    end
    i = i + 1
  end
  return toks
end

-- Work allowed for one match: tokens times characters. The table below
-- costs that much, where backtracking would cost up to characters to the
-- power of the stars.
M.MAX_WORK = 20000000

-- The end (exclusive) of a match of toks anchored at each position of
-- chars (1 .. #chars + 1), or false there: the match a backtracking
-- regexp engine finds (a lazy star tries the shortest run first, a greedy
-- one the longest), computed from the last token back, each row from the
-- next in one pass. nil, msg, "TOOBIG" when the work would pass MAX_WORK.
local function ends(toks, chars, greedy)
  local n = #chars
  if #toks * (n + 1) > M.MAX_WORK then
    return nil, ("a pattern of %d tokens on a value of %d characters is more work than allowed"):format(#toks, n),
      "TOOBIG"
  end
  local row = {}
  for i = 1, n + 1 do row[i] = i end
  for t = #toks, 1, -1 do
    local tok, new = toks[t], {}
    if tok.star then
      -- the run may take chars[i .. j-1], none a newline: j in [i, m]
      local pick = false
      for i = n + 1, 1, -1 do
        local ok = row[i] and i
        if i > n or chars[i] == "\n" then
          pick = ok
        elseif greedy then
          pick = pick or ok
        else
          pick = ok or pick
        end
        new[i] = pick and row[pick]
      end
    else
      for i = 1, n do
        local c = chars[i]
        new[i] = (tok.any and c ~= "\n" or tok.ch == c) and row[i + 1]
      end
      new[n + 1] = false
    end
    row = new
  end
  return row
end

--- ${v#p} (greedy: ${v##p}): value without the shortest (longest) prefix
-- pattern matches, or value as it is when none does.
function M.trim_prefix(pattern, value, greedy)
  local toks, err = compile(pattern)
  if not toks then return nil, ("invalid pattern (%s) in substitution: %s"):format(pattern, err), "BADDOCKERFILE" end
  local chars = text.chars(value)
  local row, why, code = ends(toks, chars, greedy)
  if not row then return nil, why, code end
  if row[1] then return table.concat(chars, "", row[1]) end
  return value
end

-- The pattern reversed, an escape staying before what it escapes.
local function reverse_pattern(pattern)
  local cs, out = text.chars(pattern), {}
  local n = #cs
  local i = 1
  while i <= n do
    local idx = n - i + 1
    if cs[i] == "\\" and i ~= n then
      out[idx - 1], out[idx] = cs[i], cs[i + 1]
      i = i + 2
    else
      out[idx] = cs[i]
      i = i + 1
    end
  end
  return table.concat(out)
end

local function reverse(s)
  local cs, out = text.chars(s), {}
  for i = #cs, 1, -1 do out[#out + 1] = cs[i] end
  return table.concat(out)
end

--- ${v%p} (greedy: ${v%%p}): the same at the end, as BuildKit does it
-- (both strings reversed, the escapes kept before what they escape).
function M.trim_suffix(pattern, value, greedy)
  local r, err = M.trim_prefix(reverse_pattern(pattern), reverse(value), greedy)
  if not r then return nil, err, "BADDOCKERFILE" end
  return reverse(r)
end

-- The first match at or after chars[pos] (row: ends()): start, end
-- (exclusive).
local function find(row, pos)
  for st = pos, #row do
    if row[st] then return st, row[st] end
  end
end

--- ${v/p/r} and ${v//p/r}: the leftmost match, greedy; with all, every
-- match as Go's ReplaceAllString finds them (an empty match right after
-- another one is not replaced); nil, msg, "TOOBIG" once the result would
-- pass max bytes.
function M.replace(pattern, value, repl, all, max)
  max = max or math.maxinteger
  local toks, err = compile(pattern)
  if not toks then return nil, ("invalid pattern (%s) in substitution: %s"):format(pattern, err), "BADDOCKERFILE" end
  local chars = text.chars(value)
  local row, why, code = ends(toks, chars, true)
  if not row then return nil, why, code end
  if not all then
    local s, e = find(row, 1)
    if not s then return value end
    return table.concat(chars, "", 1, s - 1) .. repl .. table.concat(chars, "", e)
  end
  local out, last, pos, size = {}, 1, 1, 0
  while pos <= #chars + 1 do
    local s, e = find(row, pos)
    if not s then break end
    out[#out + 1] = table.concat(chars, "", last, s - 1)
    if e > last or s == 1 then
      out[#out + 1] = repl
      size = size + #repl + s - last
      if size > max then return nil, ("the result is longer than %d bytes"):format(max), "TOOBIG" end
    end
    last = e
    local width = pos <= #chars and 1 or 0
    if pos + width > e then
      pos = pos + width
    elseif pos + 1 > e then
      pos = pos + 1
    else
      pos = e
    end
  end
  out[#out + 1] = table.concat(chars, "", last)
  return table.concat(out)
end

return M
