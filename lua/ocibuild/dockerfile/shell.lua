--- Shell-word expansion as BuildKit's frontend/dockerfile/shell applies
-- it to Dockerfile instructions: quotes (' and "), the escape character,
-- $v and ${v} with the forms ${v:-w} ${v-w} ${v:+w} ${v+w} ${v:?w} ${v?w}
-- ${v#p} ${v##p} ${v%p} ${v%%p} ${v/p/r} ${v//p/r}, and the split into
-- words after expansion. Patterns take * and ? (never a newline) and
-- escaped characters, matched as Go's regexp matches the pattern BuildKit
-- makes of them (ocibuild.dockerfile.pattern).
--   local lex = shell.new("\\")        -- or "`"; options below
--   lex:word("${A:-x}/b", { A = "1" }) --> "1/b"
--   lex:words("a \"b c\"", {})         --> { "a", "b c" }
-- Options (fields of the lexer): raw_quotes (keep the quotes),
-- raw_escapes (keep escape characters), skip_unset (leave unset
-- variables as written), skip_quotes (quotes are plain characters).
-- Functions return nil, msg on a syntax error.
local pattern = require "ocibuild.dockerfile.pattern"
local text = require "ocibuild.dockerfile.text"

local M = {}
local Lex = {}

-- The most bytes one word may expand to (BuildKit has no bound): what
-- repeated or nested expansions may build is bounded in time and memory.
M.MAX = 1 << 20
Lex.__index = Lex

--- A lexer with the escape character esc ("\\" or "`").
function M.new(esc)
  return setmetatable({ escape = esc or "\\" }, Lex)
end

-- The scanner over one input: chars and a position.
local Scan = {}
Scan.__index = Scan

local function scan(s)
  return setmetatable({ c = text.chars(s), i = 1 }, Scan)
end

function Scan:peek() return self.c[self.i] end

function Scan:next()
  local ch = self.c[self.i]
  if ch then self.i = self.i + 1 end
  return ch
end

-- Words being split: what expansion yields is split on white space, what
-- quotes yield is not.
local function new_words()
  return { buf = {}, len = 0, list = {}, in_word = false }
end

local function add_raw(w, s)
  w.buf[#w.buf + 1] = s
  w.len = w.len + #s
  w.in_word = true
end

local function flush(w)
  w.list[#w.list + 1] = table.concat(w.buf)
  w.buf, w.len, w.in_word = {}, 0, false
end

local function add_char(w, ch)
  if text.is_space(ch) then
    if w.in_word and w.len > 0 then flush(w) end
  else
    add_raw(w, ch)
  end
end

local function add_string(w, s)
  for _, ch in ipairs(text.chars(s)) do add_char(w, ch) end
end

local function get_words(w)
  if w.len > 0 then flush(w) end
  return w.list
end

local SPECIAL = { ["@"] = true, ["*"] = true, ["#"] = true, ["?"] = true, ["-"] = true, ["$"] = true,
  ["!"] = true, ["0"] = true }

-- A word being expanded: the lexer's options, the scanner, the env.
local Word = {}
Word.__index = Word

function Word:get(name)
  local v = self.env[name]
  if v == nil then return "", false end
  return v, true
end

function Word:name()
  local out, s = {}, self.s
  while s:peek() do
    local ch = s:peek()
    if #out == 0 and text.is_digit(ch) then
      while s:peek() and text.is_digit(s:peek()) do out[#out + 1] = s:next() end
      return table.concat(out)
    end
    if #out == 0 and SPECIAL[ch] then return s:next() end
    if not (text.is_letter(ch) or text.is_digit(ch) or ch == "_") then break end
    out[#out + 1] = s:next()
  end
  return table.concat(out)
end

function Word:single_quote()
  local s, out = self.s, {}
  local ch = s:next()
  if self.lex.raw_quotes then out[#out + 1] = ch end
  while true do
    ch = s:next()
    if ch == nil then
      return nil, "unexpected end of statement while looking for matching single-quote", "BADDOCKERFILE"
    end
    if ch == "'" then
      if self.lex.raw_quotes then out[#out + 1] = ch end
      return table.concat(out)
    end
    out[#out + 1] = ch
  end
end

function Word:double_quote()
  local s, out, esc = self.s, {}, self.lex.escape
  local ch = s:next()
  if self.lex.raw_quotes then out[#out + 1] = ch end
  while true do
    local p = s:peek()
    if p == nil then
      return nil, "unexpected end of statement while looking for matching double-quote", "BADDOCKERFILE"
    elseif p == '"' then
      ch = s:next()
      if self.lex.raw_quotes then out[#out + 1] = ch end
      return table.concat(out)
    elseif p == "$" then
      local v, err = self:dollar()
      if not v then return nil, err, "BADDOCKERFILE" end
      out[#out + 1] = v
    else
      ch = s:next()
      local skip = false
      if ch == esc then
        if self.raw_escapes then out[#out + 1] = ch end
        local q = s:peek()
        if q == nil then
          skip = true
        elseif q == '"' or q == "$" or q == esc then
          ch = s:next()
        end
      end
      if not skip then out[#out + 1] = ch end
    end
  end
end

function Word:heredoc()
  local s = self.s
  s:next()
  if s:peek() ~= "<" then return "<" end
  s:next()
  local out = { "<<" }
  while s:peek() == "\t" or s:peek() == "\r" or s:peek() == " " do out[#out + 1] = s:next() end
  return table.concat(out)
end

-- ---- ${...} ----

function Word:modifier(name, ch, chs, null_unset)
  local raw = ch == "#" or ch == "%"
  if null_unset and raw then return nil, ("unsupported modifier (%s) in substitution"):format(chs), "BADDOCKERFILE" end
  local word, _, err = self:stop_on("}", raw)
  if not word then
    if self.s:peek() == nil then return nil, "syntax error: missing '}'", "BADDOCKERFILE" end
    return nil, err, "BADDOCKERFILE"
  end
  local value, set = self:get(name)
  if self.lex.skip_unset and not set then return ("${%s%s%s}"):format(name, chs, word) end
  local empty = not set or (null_unset and value == "")
  if ch == "-" then
    return empty and word or value
  elseif ch == "+" then
    return empty and "" or word
  elseif ch == "?" then
    if not set then
      return nil, ("%s: %s"):format(name, word ~= "" and word or "is not allowed to be unset"), "BADDOCKERFILE"
    end
    if null_unset and value == "" then
      return nil, ("%s: %s"):format(name, word ~= "" and word or "is not allowed to be empty"), "BADDOCKERFILE"
    end
    return value
  elseif ch == "#" or ch == "%" then
    local greedy = false
    if word:sub(1, 1) == ch then greedy, word = true, word:sub(2) end
    if ch == "%" then return pattern.trim_suffix(word, value, greedy) end
    return pattern.trim_prefix(word, value, greedy)
  end
  return nil, ("unsupported modifier (%s) in substitution"):format(chs), "BADDOCKERFILE"
end

function Word:substitute(name)
  local s = self.s
  local all = s:peek() == "/"
  if all then s:next() end
  local pat, _, err = self:stop_on("/", true)
  if not pat then
    if s:peek() == nil then return nil, "syntax error: missing '/' in ${}", "BADDOCKERFILE" end
    return nil, err, "BADDOCKERFILE"
  end
  local repl
  repl, _, err = self:stop_on("}", true)
  if not repl then
    if s:peek() == nil then return nil, "syntax error: missing '}'", "BADDOCKERFILE" end
    return nil, err, "BADDOCKERFILE"
  end
  local value, set = self:get(name)
  if self.lex.skip_unset and not set then return ("${%s/%s/%s}"):format(name, pat, repl) end
  return pattern.replace(pat, value, repl, all, M.MAX)
end

function Word:dollar()
  local s = self.s
  s:next()
  if s:peek() ~= "{" then
    local name = self:name()
    if name == "" then return "$" end
    local value, set = self:get(name)
    if not set and self.lex.skip_unset then return "$" .. name end
    return value
  end
  s:next()
  local p = s:peek()
  if p == nil then return nil, "syntax error: missing '}'", "BADDOCKERFILE" end
  if p == "{" or p == "}" or p == ":" then return nil, "syntax error: bad substitution", "BADDOCKERFILE" end
  local name = self:name()
  local ch = s:next()
  if ch == "}" then
    local value, set = self:get(name)
    if not set and self.lex.skip_unset then return ("${%s}"):format(name) end
    return value
  elseif ch == ":" then
    local nx = s:next()
    return self:modifier(name, nx, ":" .. (nx or ""), true)
  elseif ch == "+" or ch == "-" or ch == "?" or ch == "#" or ch == "%" then
    return self:modifier(name, ch, ch, false)
  elseif ch == "/" then
    return self:substitute(name)
  end
  return nil, ("unsupported modifier (%s) in substitution"):format(ch or "\239\191\189"), "BADDOCKERFILE"
end

-- Expands up to stop (nil: the end). Returns the text and the words, or
-- nil, nil, msg.
function Word:stop_on(stop, raw)
  local saved = self.raw_escapes
  self.raw_escapes = raw
  local s, esc, result, w = self.s, self.lex.escape, {}, new_words()
  local function done(r, list, err)
    self.raw_escapes = saved
    return r, list, err
  end
  while s:peek() do
    local ch = s:peek()
    if stop and ch == stop then
      s:next()
      return done(table.concat(result), get_words(w))
    end
    local fn = ch == "$" and self.dollar or ch == "<" and self.heredoc
    if not fn and not self.lex.skip_quotes then
      fn = ch == "'" and self.single_quote or ch == '"' and self.double_quote
    end
    if fn then
      local tmp, err = fn(self)
      if not tmp then return done(nil, nil, err) end
      self.size = self.size + #tmp
      if self.size > M.MAX then return done(nil, nil, ("the expansion is longer than %d bytes"):format(M.MAX)) end
      result[#result + 1] = tmp
      if ch == "$" then add_string(w, tmp) else add_raw(w, tmp) end
    else
      ch = s:next()
      local eof = false
      if ch == esc then
        if self.raw_escapes then
          add_raw(w, ch)
          result[#result + 1] = ch
        end
        ch = s:next()
        if ch == nil then
          eof = true
        else
          add_raw(w, ch)
        end
      else
        add_char(w, ch)
      end
      if eof then break end
      result[#result + 1] = ch
    end
  end
  if stop then
    return done(nil, nil, ("unexpected end of statement while looking for matching %s"):format(stop))
  end
  return done(table.concat(result), get_words(w))
end

local function process(lex, word, env)
  if #word > M.MAX then return nil, nil, ("cannot expand a word longer than %d bytes"):format(M.MAX) end
  local w = setmetatable({ lex = lex, s = scan(word), env = env or {}, raw_escapes = lex.raw_escapes, size = 0 },
    Word)
  local r, list, err = w:stop_on(nil, lex.raw_escapes)
  if not r then return nil, nil, ("failed to process %s: %s"):format(text.quote(word), err) end
  return r, list
end

--- word with its variables expanded and quotes removed, as one string
-- (BuildKit's ProcessWord); env maps names to values. nil, msg on a
-- syntax error or a ${v?msg} of an unset variable.
function Lex:word(word, env)
  local r, _, err = process(self, word, env)
  if not r then return nil, err, "BADDOCKERFILE" end
  return r
end

--- word expanded and split into words (BuildKit's ProcessWords).
function Lex:words(word, env)
  local r, list, err = process(self, word, env)
  if not r then return nil, err, "BADDOCKERFILE" end
  return list
end

return M
