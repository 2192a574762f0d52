--- A reader of the TOML that containers' registries.conf files are written
-- in: comments, [tables] and [[arrays of tables]] with dotted and quoted
-- keys, key = value with basic and literal strings, booleans, integers,
-- arrays (over several lines) and inline tables. Everything else TOML has
-- (multi-line strings, floats, dates) is refused, as is anything TOML
-- itself forbids (a key or table defined twice). Not a general TOML
-- parser: what it reads, it reads strictly, and a mistake is one line
-- naming FILE:LINE.
local M = {}

local Reader = {}
Reader.__index = Reader

function Reader:fail(fmt, ...)
  error({ msg = ("%s:%d: " .. fmt):format(self.name, self.line, ...) }, 0)
end

function Reader:peek(n) return self.s:sub(self.i, self.i + (n or 1) - 1) end

function Reader:ws()
  self.i = self.s:find("[^ \t]", self.i) or #self.s + 1
end

-- Spaces, comments and line ends (inside arrays).
function Reader:blank()
  while true do
    self:ws()
    local c = self:peek()
    if c == "#" then
      self.i = self.s:find("\n", self.i, true) or #self.s + 1
    elseif c == "\n" then
      self.i, self.line = self.i + 1, self.line + 1
    elseif self:peek(2) == "\r\n" then
      self.i, self.line = self.i + 2, self.line + 1
    else
      return
    end
  end
end

-- The end of a line: an optional comment, then a line end or the end.
function Reader:eol(what)
  self:ws()
  local c = self:peek()
  if c == "#" then self.i = self.s:find("\n", self.i, true) or #self.s + 1 end
  c = self:peek()
  if c == "" then return end
  if c == "\n" then
    self.i, self.line = self.i + 1, self.line + 1
  elseif self:peek(2) == "\r\n" then
    self.i, self.line = self.i + 2, self.line + 1
  else
    self:fail("unexpected %q after %s", self.s:match("^%S*", self.i):sub(1, 20), what)
  end
end

local ESC = { b = "\b", t = "\t", n = "\n", f = "\f", r = "\r", ['"'] = '"', ["\\"] = "\\" }

function Reader:basic()
  if self:peek(3) == '"""' then self:fail("multi-line strings are not read here") end
  local out, i = {}, self.i + 1
  while true do
    local c = self.s:sub(i, i)
    if c == '"' then break end
    if c == "" or c == "\n" then self:fail("unterminated string") end
    if c:byte() < 32 and c ~= "\t" or c:byte() == 127 then self:fail("control character in a string") end
    if c == "\\" then
      local e = self.s:sub(i + 1, i + 1)
      if ESC[e] then
        out[#out + 1], i = ESC[e], i + 2
      elseif e == "u" or e == "U" then
        local n = e == "u" and 4 or 8
        local hex = self.s:sub(i + 2, i + 1 + n)
        local cp = #hex == n and hex:match("^%x+$") and tonumber(hex, 16)
        if not cp or cp > 0x10FFFF or (cp >= 0xD800 and cp <= 0xDFFF) then self:fail("bad escape \\%s%s", e, hex) end
        out[#out + 1], i = utf8.char(cp), i + 2 + n
      else
        self:fail("bad escape \\%s", e)
      end
    else
      out[#out + 1], i = c, i + 1
    end
  end
  self.i = i + 1
  return table.concat(out)
end

function Reader:literal()
  if self:peek(3) == "'''" then self:fail("multi-line strings are not read here") end
  local close = self.s:find("'", self.i + 1, true)
  local text = close and self.s:sub(self.i + 1, close - 1)
  if not text or text:find("\n", 1, true) then self:fail("unterminated string") end
  if text:find("[%z\1-\8\10-\31\127]") then self:fail("control character in a string") end
  self.i = close + 1
  return text
end

function Reader:simple_key()
  local c = self:peek()
  if c == '"' then return self:basic() end
  if c == "'" then return self:literal() end
  local k = self.s:match("^[%w_-]+", self.i)
  if not k then self:fail("a key expected, found %q", self.s:match("^%S*", self.i):sub(1, 20)) end
  self.i = self.i + #k
  return k
end

-- A dotted key: its parts.
function Reader:key()
  local parts = { self:simple_key() }
  while true do
    self:ws()
    if self:peek() ~= "." then return parts end
    self.i = self.i + 1
    self:ws()
    parts[#parts + 1] = self:simple_key()
  end
end

function Reader:array()
  local list = {}
  self.i = self.i + 1
  while true do
    self:blank()
    if self:peek() == "]" then break end
    if self:peek() == "" then self:fail("unterminated array") end
    list[#list + 1] = self:value()
    self:blank()
    local c = self:peek()
    if c == "," then
      self.i = self.i + 1
    elseif c ~= "]" then
      self:fail("',' or ']' expected in an array")
    end
  end
  self.i = self.i + 1
  return list
end

function Reader:inline()
  local t = {}
  self.kind[t] = "inline"
  self.where[t] = { [0] = self.line }
  self.i = self.i + 1
  self:ws()
  if self:peek() == "}" then
    self.i = self.i + 1
    return t
  end
  while true do
    self:keyval(t)
    self:ws()
    local c = self:peek()
    self.i = self.i + 1
    if c == "}" then return t end
    if c ~= "," then self:fail("',' or '}' expected in an inline table") end
    self:ws()
  end
end

function Reader:value()
  local c = self:peek()
  if c == '"' then return self:basic() end
  if c == "'" then return self:literal() end
  if c == "[" then return self:array() end
  if c == "{" then return self:inline() end
  for word, v in pairs { ["true"] = true, ["false"] = false } do
    if self.s:sub(self.i, self.i + #word - 1) == word and not self.s:sub(self.i + #word):match("^[%w_-]") then
      self.i = self.i + #word
      return v
    end
  end
  local num = self.s:match("^[+-]?%d[%d_]*", self.i)
  if num and not self.s:sub(self.i + #num):match("^[%w.:-]") and not num:find("__", 1, true) and num:sub(-1) ~= "_"
      and not num:match("^[+-]?0%d") then
    self.i = self.i + #num
    return math.tointeger(tonumber((num:gsub("_", ""))))
  end
  self:fail("a value expected (strings, booleans, integers, arrays and inline tables are read here), found %q",
    self.s:match("^[^\n]*", self.i):sub(1, 20))
end

-- The table of parts[1..n-1] under t, made as needed (dotted keys and
-- headers); an array of tables stands for its last element.
function Reader:walk(t, parts, n, how)
  for i = 1, n do
    local k = parts[i]
    local v = t[k]
    if v == nil then
      v = {}
      t[k] = v
      self.kind[v], self.where[v] = how, { [0] = self.line }
      self.where[t][k] = self.where[t][k] or self.line
    elseif type(v) ~= "table" or self.kind[v] == "inline" or (self.kind[v] == nil and not self.aot[v]) then
      self:fail("key %q is a value already, not a table", table.concat(parts, ".", 1, i))
    end
    if self.aot[v] then v = v[#v] end
    t = v
  end
  return t
end

function Reader:keyval(t)
  local parts = self:key()
  self:ws()
  if self:peek() ~= "=" then self:fail("'=' expected after key %q", table.concat(parts, ".")) end
  self.i = self.i + 1
  self:ws()
  local line = self.line
  local v = self:value()
  local parent = self:walk(t, parts, #parts - 1, "dotted")
  local k = parts[#parts]
  if parent[k] ~= nil then self:fail("key %q is defined twice", table.concat(parts, ".")) end
  parent[k] = v
  self.where[parent][k] = line
end

function Reader:header()
  local double = self:peek(2) == "[["
  self.i = self.i + (double and 2 or 1)
  self:ws()
  local parts = self:key()
  self:ws()
  local close = double and "]]" or "]"
  if self:peek(#close) ~= close then self:fail("%q expected to close the table header", close) end
  self.i = self.i + #close
  local name = table.concat(parts, ".")
  local parent = self:walk(self.root, parts, #parts - 1, "implicit")
  local k, v = parts[#parts], parent[parts[#parts]]
  local t = {}
  self.where[t] = { [0] = self.line }
  if double then
    if v == nil then
      v = {}
      self.aot[v] = true
      parent[k] = v
      self.where[parent][k] = self.line
    elseif not self.aot[v] then
      self:fail("[[%s]] follows a %s of that name", name, type(v) == "table" and "table" or "value")
    end
    v[#v + 1] = t
    self.kind[t] = "explicit"
  elseif v == nil then
    parent[k] = t
    self.kind[t] = "explicit"
    self.where[parent][k] = self.line
  elseif type(v) == "table" and self.kind[v] == "implicit" then
    self.kind[v], t = "explicit", v
  else
    self:fail("table [%s] is defined twice", name)
  end
  self:eol("a table header")
  return t
end

--- Reads text (name: the file, for messages). Returns the root table
-- (arrays of tables are plain lists) and where: where[t][key] is the line
-- of key in table t, where[t][0] that of t itself; or nil, "NAME:LINE: why".
function M.parse(text, name)
  local r = setmetatable({ s = text, i = 1, line = 1, name = name, root = {}, kind = {}, aot = {},
    where = setmetatable({}, { __mode = "k" }) }, Reader)
  r.where[r.root] = { [0] = 1 }
  r.kind[r.root] = "explicit"
  local ok, e = pcall(function()
    if text:find("^\239\187\191") then r.i = 4 end
    local current = r.root
    while true do
      r:blank()
      local c = r:peek()
      if c == "" then break end
      if c == "[" then
        current = r:header()
      else
        r:keyval(current)
        r:eol("a value")
      end
    end
  end)
  if not ok then
    if type(e) == "table" then return nil, e.msg, "BADCONF" end
    error(e, 0)
  end
  return r.root, r.where
end

return M
